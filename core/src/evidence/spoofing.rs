//! spoofing
