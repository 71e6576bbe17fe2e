//! The tiers of a `RedisStore`, per request and under load, against the in-memory store in
//! the same run. Needs a Redis server at `REDIS_URL` (`scripts/benchmarks.sh` starts one).
//!
//! `cargo bench --bench redis --features redis` times, through a `RouteTable` (`Service::call`
//! on a long-lived table, a 1 KiB body):
//!
//! - `memory/hit`: a hit of a table over the default `MemoryStore` (the reference);
//! - `redis/l1_hit`: a hit from a `RedisStore`'s memory tier;
//! - `redis/l2_hit`: a hit from Redis (the memory tier keeps nothing, so every request reads
//!   Redis, decodes the entry and answers from it);
//! - `handler`: the same route uncached: the handler runs.
//!
//! Each is checked (status, `x-route-cache: HIT` for hits, and the tier the store counted)
//! before it is timed, and its status in every iteration.
//!
//! `redis serve N PORT` serves the route from N instances on ports PORT.. over `REDIS_URL`
//! (each with a memory tier of `MEMORY_BYTES`, 2 MiB by default, and so mostly reading
//! Redis), or with `memory` as N one instance over a `MemoryStore` holding everything: the
//! servers `scripts/benchmarks.sh` loads with wrk.

// A bench binary: its items are not a public API.
#![allow(missing_docs)]

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use criterion::{BatchSize, Criterion};
use http::{Request, Response, StatusCode};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    Body, RouteHandler, RouteTable, Routes,
    cache::{CACHE_STATUS_HEADER, Cache, Dynamic, RedisStore, StoreStats},
};
use tower::Service;

const BODY: usize = 1024;

fn url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into())
}

/// `/item/[id]`, force-static, kept until invalidated: a 1 KiB body.
fn table(cache: Option<&Cache>) -> RouteTable {
    let handler = RouteHandler::new().get(|| async { "x".repeat(BODY) });
    let routes = Routes::new();
    match cache {
        Some(cache) => routes
            .cache(cache)
            .route("/item/[id]", handler.dynamic(Dynamic::ForceStatic))
            .build(),
        None => routes.route("/item/[id]", handler).build(),
    }
}

fn redis_store(memory_bytes: u64) -> RedisStore {
    RedisStore::builder(url())
        .deployment_id(format!("bench-{}", std::process::id()))
        .memory_bytes(memory_bytes)
        .timeout(Duration::from_millis(500))
        .build()
        .expect("a Redis store")
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

async fn call(table: &mut RouteTable, path: &str) -> Response<Body> {
    let res: Result<_, Infallible> = table.call(get(path)).await;
    res.unwrap()
}

fn check(res: &Response<Body>, hit: bool, what: &str) {
    assert_eq!(res.status(), StatusCode::OK, "{what}");
    if hit {
        assert_eq!(res.headers()[CACHE_STATUS_HEADER], "HIT", "{what}");
    }
}

fn benches(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let _guard = runtime.enter();
    let path = "/item/1";
    let memory = Cache::new();
    let l1_store = redis_store(route_handlers::cache::DEFAULT_MAX_BYTES);
    let l1 = Cache::builder().store(l1_store.clone()).build();
    // A memory tier too small for any entry: every lookup reads Redis.
    let l2_store = redis_store(1);
    let l2 = Cache::builder().store(l2_store.clone()).build();
    let mut cases: Vec<(&str, RouteTable, bool)> = vec![
        ("memory/hit", table(Some(&memory)), true),
        ("redis/l1_hit", table(Some(&l1)), true),
        ("redis/l2_hit", table(Some(&l2)), true),
        ("handler", table(None), false),
    ];
    // Fill, then check each answers as its name says.
    for (name, table, hit) in &mut cases {
        runtime.block_on(call(table, path));
        let res = runtime.block_on(call(table, path));
        check(&res, *hit, name);
    }
    let tier = |stats: StoreStats| (stats.l1_hits, stats.l2_hits);
    let before = (tier(l1_store.stats()), tier(l2_store.stats()));
    runtime.block_on(call(&mut cases[1].1, path));
    runtime.block_on(call(&mut cases[2].1, path));
    let after = (tier(l1_store.stats()), tier(l2_store.stats()));
    assert_eq!(after.0, (before.0.0 + 1, before.0.1), "an L1 hit");
    assert_eq!(after.1, (before.1.0, before.1.1 + 1), "an L2 hit");
    let mut group = c.benchmark_group("redis");
    for (name, table, hit) in &mut cases {
        let hit = *hit;
        group.bench_function(*name, |b| {
            b.iter_batched(
                || get(path),
                |req| {
                    let res: Response<Body> = runtime.block_on(table.call(req)).unwrap();
                    assert_eq!(res.status(), StatusCode::OK);
                    res
                },
                BatchSize::SmallInput,
            )
        });
        let res = runtime.block_on(call(table, path));
        check(&res, hit, name);
    }
    group.finish();
    assert_eq!(l1_store.stats().errors, 0, "{:?}", l1_store.stats());
    assert_eq!(l2_store.stats().errors, 0, "{:?}", l2_store.stats());
}

async fn serve_one(table: RouteTable, addr: SocketAddr) {
    let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(table.clone());
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn serve(instances: &str, port: u16) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let memory_bytes = std::env::var("MEMORY_BYTES")
            .ok()
            .and_then(|b| b.parse().ok())
            .unwrap_or(2 * 1024 * 1024);
        let mut stores = Vec::new();
        let tables: Vec<RouteTable> = if instances == "memory" {
            vec![table(Some(&Cache::new()))]
        } else {
            let n: u16 = instances.parse().expect("a number of instances");
            (0..n)
                .map(|_| {
                    let store = RedisStore::builder(url())
                        .deployment_id("bench-serve")
                        .memory_bytes(memory_bytes)
                        .build()
                        .expect("a Redis store");
                    stores.push(store.clone());
                    table(Some(&Cache::builder().store(store).build()))
                })
                .collect()
        };
        for (i, table) in tables.into_iter().enumerate() {
            let addr = SocketAddr::from(([127, 0, 0, 1], port + i as u16));
            tokio::spawn(serve_one(table, addr));
            println!("listening on http://{addr}/");
        }
        // Stats on SIGINT/SIGTERM-free exit: every 1 s to stderr, for the script's log.
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            for (i, store) in stores.iter().enumerate() {
                eprintln!("instance {i}: {:?}", store.stats());
            }
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("serve") {
        let instances = args.get(2).expect("serve N PORT");
        let port = args
            .get(3)
            .and_then(|p| p.parse().ok())
            .expect("serve N PORT");
        return serve(instances, port);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    benches(&mut c, &runtime);
    c.final_summary();
}
