//! Finding 7: the byte budget counts the key once while more copies of it are held.
//!
//! An entry's weight counts its key once, but the store's index, moka's policy (and the
//! entry's path) each hold a copy: with ids of 60 KB, the heap grew far past the budget.
//! Expected: the budget bounds the bytes held, key copies included.
//!
//! One test in this binary, so no other test allocates while it measures.

use std::{alloc::System, convert::Infallible};

use http::{Request, Response};
use http_body_util::BodyExt;
use route_handlers::{
    Body, RouteHandler, RouteTable, Routes,
    cache::{Cache, Dynamic, MemoryStore},
};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Service, ServiceExt};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const MIB: u64 = 1024 * 1024;
const BUDGET: u64 = 8 * MIB;
const ID_LEN: usize = 60 * 1024;
/// Enough ids to insert more than three times the budget in key bytes alone.
const REQUESTS: usize = (3 * BUDGET as usize) / ID_LEN + 80;

async fn get<S>(svc: &S, path: &str) -> Response<Body>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let req = Request::get(path).body(Body::empty()).unwrap();
    svc.clone().oneshot(req).await.unwrap()
}

/// `/items/<id>` with an id of [`ID_LEN`] bytes, distinct for each `i`.
fn path(i: usize) -> String {
    let mut id = format!("{i:06}-");
    id.push_str(&"a".repeat(ID_LEN - id.len()));
    format!("/items/{id}")
}

/// Bytes allocated and not freed. `stats_alloc` already counts the growth of a `realloc`
/// in `bytes_allocated` (and its shrinking in `bytes_deallocated`).
fn live(stats: &stats_alloc::Stats) -> i64 {
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

#[test]
fn long_keys_stay_within_the_byte_budget() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The cache of `Cache::builder().max_bytes(BUDGET)`, built from its store so that the
    // test can settle the store's pending evictions (`weighted_size` does).
    let store = MemoryStore::new(BUDGET);
    let cache = Cache::builder().store(store.clone()).build();
    let table: RouteTable = Routes::new()
        .cache(&cache)
        .route(
            "/items/[id]",
            RouteHandler::new()
                .get(|| async { "ok" })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();

    rt.block_on(async {
        // Warm up lazily initialised state with a short id.
        let res = get(&table, "/items/warm-up").await;
        assert_eq!(res.status(), 200);
        drop(res.into_body().collect().await.unwrap());

        let region = Region::new(GLOBAL);
        for i in 0..REQUESTS {
            let res = get(&table, &path(i)).await;
            assert_eq!(res.status(), 200);
            let body = res.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, "ok");
        }
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
        let weighted = store.weighted_size();
        let entries = store.entry_count();
        let growth = live(&region.change());
        let limit = (BUDGET + BUDGET / 2 + 2 * MIB) as i64;
        println!(
            "heap growth {:.1} MiB for a budget of {} MiB ({entries} entries, {:.1} MiB weighted)",
            growth as f64 / MIB as f64,
            BUDGET / MIB,
            weighted as f64 / MIB as f64
        );
        assert!(
            growth <= limit,
            "{REQUESTS} ids of {} KiB against a budget of {} MiB: the heap grew by {:.1} MiB \
             (limit {:.1} MiB); the store reports {:.1} MiB weighted in {entries} entries",
            ID_LEN / 1024,
            BUDGET / MIB,
            growth as f64 / MIB as f64,
            limit as f64 / MIB as f64,
            weighted as f64 / MIB as f64,
        );
    });
}
