//! wifi
