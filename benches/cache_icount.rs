//! Drives one variant of `benches/cache.rs` N times, for counting instructions per
//! iteration with valgrind (see `scripts/benchmarks.sh`):
//!
//! ```text
//! cache_icount VARIANT N
//! ```
//!
//! VARIANT is a name of `benches/common/cache.rs` (`setup`, `floor/call`,
//! `hit/table_call`, ...). Each iteration builds the request and answers it as the
//! criterion bench does; `setup` only builds and drops the request, so that its count can be
//! subtracted. Every variant is checked (status, `x-route-cache: HIT` for hits) while the
//! fixture is built, before anything is counted, and the last response of the loop is
//! checked again after it. Run without arguments (as `cargo bench` does), it checks every
//! variant and exits.

mod common;

use std::hint::black_box;

use common::cache::{Variant, fixture, request};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (variant, n) = match args.as_slice() {
        [v, n] if !v.starts_with('-') => (
            Variant::from_name(v).unwrap_or_else(|| panic!("unknown variant {v:?}")),
            n.parse::<u64>().expect("N"),
        ),
        _ => {
            // `cargo bench` runs every bench target with `--bench`: the fixture checks
            // every variant as it is built.
            fixture();
            eprintln!("usage: cache_icount <variant> N   (see scripts/benchmarks.sh)");
            return;
        }
    };
    let mut fx = fixture();
    let mut last = None;
    for _ in 0..n {
        // The previous response is dropped here, so every iteration drops one.
        last = black_box(fx.run(variant, request(variant.path())));
    }
    if n > 0 {
        fx.check(variant, last.as_ref());
    }
}
