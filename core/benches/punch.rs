//! Punch benchmarks (placeholder).
fn main() {}
