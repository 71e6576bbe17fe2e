//! Cost of a cache hit, against its floors and against running the handler, in one run.
//!
//! The variants (see `benches/common/cache.rs`, shared with `benches/cache_icount.rs`):
//!
//! - `floor/bare`: a `HashMap<String, Bytes>` lookup by the request path and a `Bytes` clone
//!   into a response without headers.
//! - `floor/headers`: a `HashMap` lookup by method and path, then a clone of the stored
//!   status, headers (those the hit sends) and body into the response.
//! - `floor/call`, `floor/oneshot`: `floor/headers` inside a `service_fn`, called as
//!   `Service::call(&mut floor, req)` on a long-lived service and as
//!   `floor.clone().oneshot(req)`: the floors of the two `hit/table_*` variants.
//! - `hit/route`: a `GET` answered from the cache by a `RouteHandlerService`
//!   (`ForceStatic`, `revalidate = 3600`) through `call_with_context`, below the table;
//!   `hit/route_unlisted_path` asks for `/api/time/`, so its key is made canonical and
//!   hashed per request.
//! - `hit/table_call`, `hit/table_oneshot`: the same hit through the whole `RouteTable`, in
//!   the two call styles of the floors.
//! - `hit/layer`: a hit through `CacheLayer` around a `service_fn` (`ready()` + `call`).
//! - `handler/uncached_route`: the route without caching, running its handler (a small
//!   `Json`).
//!
//! Every variant builds its request outside the timed part (`iter_batched`), drops it inside
//! and returns its response. Each is checked (status, `x-route-cache: HIT` for hits) before
//! and after it is timed, and its status in every iteration.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

mod common;

use std::time::Duration;

use common::cache::{Variant, fixture, request};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::StatusCode;

fn benches(c: &mut Criterion) {
    let mut fx = fixture();
    let mut group = c.benchmark_group("cache");
    for v in Variant::ALL {
        if v == Variant::Setup {
            continue;
        }
        let res = fx.run(v, request(v.path()));
        fx.check(v, res.as_ref());
        group.bench_function(v.name(), |b| {
            b.iter_batched(
                || request(v.path()),
                |req| {
                    let res = fx.run(v, req);
                    assert!(res.as_ref().is_some_and(|r| r.status() == StatusCode::OK));
                    res
                },
                BatchSize::SmallInput,
            )
        });
        let res = fx.run(v, request(v.path()));
        fx.check(v, res.as_ref());
    }
    group.finish();
}

criterion_group! {
    name = cache;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(cache);
