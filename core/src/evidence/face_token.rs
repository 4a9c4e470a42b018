//! Face-match token verification.
