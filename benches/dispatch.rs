//! Benchmarks of method dispatch.

fn main() {}
