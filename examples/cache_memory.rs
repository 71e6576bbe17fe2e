//! Resident memory of the in-memory cache, filled through real requests.
//!
//! A force-static `/api/users/[id]` route answers a 1 KiB body per id; a hyper server on
//! 127.0.0.1 serves it, and a hyper-util client in the same process requests distinct ids
//! over 32 keep-alive connections. The process's resident memory (`VmRSS`) is read before
//! and after, and compared with the payload (ids × 1 KiB) and with the store's own weighed
//! size.
//!
//! ```sh
//! # 100,000 distinct entries in a store large enough to keep them all
//! cargo run --release --example cache_memory -- fill 100000
//! # 200,000 distinct ids through a 16 MiB budget: memory stays near the budget
//! cargo run --release --example cache_memory -- flood 200000 16
//! ```
//!
//! A line `summary: ...` repeats the figures in bytes for a script: `ratio` is the
//! resident growth over the payload (`fill`) or over the budget (`flood`), and `within_budget`
//! says that the store's weight and (for `flood`) the resident growth stayed within the budget.
//!
//! The runtime is single-threaded, so that one malloc arena holds everything and the
//! figures are not spread over per-thread arenas.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Instant,
};

use bytes::Bytes;
use futures::future::join_all;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    RouteContext, RouteHandler, Routes,
    cache::{Cache, Dynamic, MemoryStore},
};
use tokio::net::TcpListener;

const BODY: usize = 1024;
const CONNECTIONS: usize = 32;
const MIB: f64 = 1024.0 * 1024.0;

/// This process's resident set size in bytes, from `/proc/self/status`.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn usage() -> ! {
    eprintln!("usage: cache_memory fill <ids> | cache_memory flood <ids> <budget MiB>");
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| usage());
    let ids: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| usage());
    let budget: u64 = match mode.as_str() {
        // Room for every entry: nothing is evicted.
        "fill" => 4 * 1024 * 1024 * 1024,
        "flood" => {
            args.next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| usage())
                * 1024
                * 1024
        }
        _ => usage(),
    };
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(run(&mode, ids, budget));
}

async fn run(mode: &str, ids: usize, budget: u64) {
    let store = MemoryStore::new(budget);
    let cache = Cache::builder().store(store.clone()).build();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let table = Routes::new()
        .route(
            "/api/users/[id]",
            RouteHandler::new()
                .get(move |ctx: RouteContext| {
                    counter.fetch_add(1, Ordering::Relaxed);
                    let id = ctx.param("id").unwrap_or_default().to_owned();
                    async move { format!("{id:>BODY$}") }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .cache(&cache)
        .build();

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
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
    });
    let client = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CONNECTIONS)
        .build_http::<Empty<Bytes>>();

    let get = |id: usize| {
        let client = client.clone();
        async move {
            let req = Request::get(format!("http://{addr}/api/users/{id}"))
                .body(Empty::new())
                .expect("request");
            let res = client.request(req).await.expect("response");
            assert_eq!(res.status(), StatusCode::OK);
            let cache_status = res.headers()["x-route-cache"].clone();
            let body = res.into_body().collect().await.expect("body").to_bytes();
            assert_eq!(body.len(), BODY);
            cache_status
        }
    };

    // Warm up the connections, the runtime and the allocator on ids outside the range,
    // then measure from there.
    join_all((0..CONNECTIONS).map(|c| get(usize::MAX - c))).await;
    let warm_entries = store.entry_count();
    let warm_weight = store.weighted_size();
    let before = rss();
    let started = Instant::now();

    // Four phases of distinct ids, with the resident size after each: it levels off once
    // the store is at its budget.
    let mut samples = Vec::new();
    for phase in 0..4 {
        let (from, to) = (ids * phase / 4, ids * (phase + 1) / 4);
        let tasks = (0..CONNECTIONS).map(|c| async move {
            for id in (from + c..to).step_by(CONNECTIONS) {
                assert_eq!(get(id).await, "MISS");
            }
        });
        join_all(tasks).await;
        samples.push((to, rss(), store.entry_count()));
    }
    let elapsed = started.elapsed();
    let after = rss();

    let entries = store.entry_count() - warm_entries;
    let weight = store.weighted_size().saturating_sub(warm_weight);
    let payload = (ids * BODY) as u64;
    let grown = after.saturating_sub(before);
    println!(
        "mode {mode}: {ids} distinct ids of {BODY} B, budget {:.0} MiB",
        budget as f64 / MIB
    );
    println!(
        "requests {ids} in {:.2} s ({:.0}/s), handler runs {}",
        elapsed.as_secs_f64(),
        ids as f64 / elapsed.as_secs_f64(),
        runs.load(Ordering::Relaxed) - CONNECTIONS,
    );
    println!(
        "entries held {entries}, weighed {:.1} MiB",
        weight as f64 / MIB
    );
    println!(
        "VmRSS {:.1} MiB -> {:.1} MiB (+{:.1} MiB)",
        before as f64 / MIB,
        after as f64 / MIB,
        grown as f64 / MIB
    );
    for (done, rss, entries) in &samples {
        println!(
            "  after {done:>7} ids: VmRSS {:.1} MiB, {entries} entries",
            *rss as f64 / MIB
        );
    }
    // One line for scripts: every figure in bytes, the ratio against the payload (fill) or
    // the budget (flood).
    let base = if mode == "fill" { payload } else { budget };
    println!(
        "summary: mode={mode} ids={ids} entries={entries} rss_delta={grown} payload={payload} \
         weight={weight} budget={budget} ratio={:.3} per_entry={:.0} within_budget={}",
        grown as f64 / base as f64,
        grown as f64 / entries.max(1) as f64,
        store.weighted_size() <= budget && (mode == "fill" || grown <= budget),
    );
    match mode {
        "fill" => {
            println!("payload {:.1} MiB", payload as f64 / MIB);
            println!(
                "resident growth / payload {:.2}x, weighed / payload {:.2}x, resident per entry {:.0} B",
                grown as f64 / payload as f64,
                weight as f64 / payload as f64,
                grown as f64 / entries.max(1) as f64
            );
        }
        _ => {
            let held = store.weighted_size();
            println!(
                "requested {:.1} MiB of bodies; store holds {:.1} MiB by weight (budget {:.1} MiB, {})",
                payload as f64 / MIB,
                held as f64 / MIB,
                budget as f64 / MIB,
                if held <= budget { "within" } else { "OVER" }
            );
            println!(
                "resident growth / budget {:.2}x",
                grown as f64 / budget as f64
            );
        }
    }
}
