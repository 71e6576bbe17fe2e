//! Cache stampedes and the memory bound over the wire: a real hyper server (tests/support)
//! serving a route table with a force-static route, and 1,000 concurrent HTTP/1.1 clients
//! (one hyper-util client, one connection each).
//!
//! Each handler run is counted, and a run that fills the cache is held until every client's
//! request has reached the server, so that all of them are in flight at once; what is
//! asserted are counts and statuses, never timings. The one real-time wait is the stale
//! test's freshness window (about a second); the rest runs in a few hundred milliseconds.

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures::future::join_all;
use http::{Request, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use route_handlers::{
    RouteContext, RouteHandler, RouteTable, Routes,
    cache::{Cache, Dynamic, MemoryStore},
};
use support::{Reply, TestServer, send_with, serve, serve_with_backlog};
use tokio::sync::watch;
use tower::ServiceExt;

const CLIENTS: usize = 1_000;

/// How many requests reached the server, and a way to wait for a number of them.
#[derive(Clone)]
struct Arrivals(watch::Sender<usize>);

impl Arrivals {
    fn new() -> Self {
        Self(watch::Sender::new(0))
    }

    fn count(&self) {
        self.0.send_modify(|n| *n += 1);
    }

    /// Waits until `n` requests have arrived; false after 10 s (the test then fails on
    /// the body it gets).
    async fn reach(&self, n: usize) -> bool {
        let mut rx = self.0.subscribe();
        tokio::time::timeout(Duration::from_secs(10), rx.wait_for(|&got| got >= n))
            .await
            .is_ok()
    }
}

/// Serves `table`, counting each request as it reaches the server, before the table sees it.
async fn serve_counted(table: RouteTable, arrivals: &Arrivals) -> TestServer {
    let arrivals = arrivals.clone();
    let service = tower::service_fn(move |req: Request<Incoming>| {
        arrivals.count();
        table.clone().oneshot(req)
    });
    serve_with_backlog(service, 4096).await
}

/// A client that keeps up to `CLIENTS` connections open to one host, so that a second
/// burst reuses the first burst's connections.
fn pooled_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(CLIENTS)
        .build_http()
}

/// Sends `CLIENTS` concurrent GETs of `path`, each on its own tokio task.
async fn burst(
    client: &Client<HttpConnector, Full<Bytes>>,
    server: &TestServer,
    path: &str,
) -> Vec<Reply> {
    let tasks = (0..CLIENTS).map(|_| {
        let (client, addr, path) = (client.clone(), server.addr, path.to_owned());
        tokio::spawn(async move { send_with(&client, addr, "GET", &path, &[], "").await })
    });
    join_all(tasks)
        .await
        .into_iter()
        .map(|r| r.expect("client task"))
        .collect()
}

/// Every reply is `200` with `body`; returns how many carried each cache status.
fn tally(replies: &[Reply], body: &str) -> Vec<(String, usize)> {
    let mut statuses: Vec<(String, usize)> = Vec::new();
    for reply in replies {
        assert_eq!(
            (reply.status, &reply.body[..]),
            (StatusCode::OK, body.as_bytes())
        );
        let status = reply.header("x-route-cache").unwrap_or("none").to_owned();
        match statuses.iter_mut().find(|(s, _)| *s == status) {
            Some((_, n)) => *n += 1,
            None => statuses.push((status, 1)),
        }
    }
    statuses
}

/// A force-static `/api/users/[id]` whose runs are counted; run `n` waits until
/// `gate(n)` requests have arrived (0: it does not wait), then answers
/// `user {id} v{n}`.
fn users_table(
    cache: &Cache,
    runs: &Arc<AtomicUsize>,
    arrivals: &Arrivals,
    gate: fn(usize) -> usize,
    revalidate: Option<Duration>,
) -> RouteTable {
    let (runs, arrivals) = (runs.clone(), arrivals.clone());
    let mut route = RouteHandler::new()
        .get(move |ctx: RouteContext| {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let arrivals = arrivals.clone();
            let id = ctx.param("id").unwrap_or_default().to_owned();
            async move {
                if !arrivals.reach(gate(n)).await {
                    return "the requests never all arrived".to_owned();
                }
                format!("user {id} v{n}")
            }
        })
        .dynamic(Dynamic::ForceStatic);
    if let Some(window) = revalidate {
        route = route.revalidate(window);
    }
    Routes::new()
        .route("/api/users/[id]", route)
        .cache(cache)
        .build()
}

/// 1,000 clients on a cold entry: the handler runs once, while every request is in flight,
/// and every client gets its response. Then an on-demand invalidation, and 1,000 clients
/// again: one regeneration, which all of them wait for.
#[tokio::test]
async fn a_thousand_clients_on_a_cold_then_invalidated_route_run_the_handler_once_each_time() {
    let (cache, runs, arrivals) = (Cache::new(), Arc::new(AtomicUsize::new(0)), Arrivals::new());
    // Run 1 waits for the first burst, run 2 for the second.
    let table = users_table(&cache, &runs, &arrivals, |n| n * CLIENTS, None);
    let server = serve_counted(table, &arrivals).await;
    let client = pooled_client();

    let replies = burst(&client, &server, "/api/users/7").await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(tally(&replies, "user 7 v1"), [("MISS".to_owned(), CLIENTS)]);

    cache
        .revalidator()
        .revalidate_path("/api/users/7")
        .await
        .unwrap();
    let replies = burst(&client, &server, "/api/users/7").await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    assert_eq!(
        tally(&replies, "user 7 v2"),
        [("REVALIDATED".to_owned(), CLIENTS)]
    );

    // And then it is a plain hit.
    let reply = send_with(&client, server.addr, "GET", "/api/users/7", &[], "").await;
    assert_eq!(reply.header("x-route-cache"), Some("HIT"));
    assert_eq!(&reply.body[..], b"user 7 v2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// 1,000 clients on an entry past its revalidate window: every one is answered from the
/// stale entry at once, and exactly one regeneration runs (held until they all arrived),
/// after which the entry is fresh again.
#[tokio::test]
async fn a_thousand_clients_on_a_stale_route_get_the_stale_entry_and_one_regeneration() {
    const WINDOW: Duration = Duration::from_secs(1);
    let (cache, runs, arrivals) = (Cache::new(), Arc::new(AtomicUsize::new(0)), Arrivals::new());
    // Run 1 (the fill) does not wait; run 2 (the regeneration) waits for the fill's request
    // and the whole burst.
    let table = users_table(
        &cache,
        &runs,
        &arrivals,
        |n| (n - 1) * (1 + CLIENTS),
        Some(WINDOW),
    );
    let server = serve_counted(table, &arrivals).await;
    let client = pooled_client();

    let reply = send_with(&client, server.addr, "GET", "/api/users/7", &[], "").await;
    assert_eq!(
        (reply.header("x-route-cache"), &reply.body[..]),
        (Some("MISS"), &b"user 7 v1"[..])
    );
    // Real time: the cache's clock is the server's.
    tokio::time::sleep(WINDOW + Duration::from_millis(50)).await;

    let replies = burst(&client, &server, "/api/users/7").await;
    assert_eq!(
        tally(&replies, "user 7 v1"),
        [("STALE".to_owned(), CLIENTS)]
    );
    assert_eq!(runs.load(Ordering::SeqCst), 2);

    // The regeneration was released by the last arrival; once it is stored the entry is
    // fresh, with the new body, and nothing else ran.
    let fresh = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let reply = send_with(&client, server.addr, "GET", "/api/users/7", &[], "").await;
            if reply.header("x-route-cache") == Some("HIT") {
                return reply;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the regenerated entry is served");
    assert_eq!(&fresh.body[..], b"user 7 v2");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

/// A flood of unique ids through real requests keeps the in-memory store within its byte
/// budget: the entries held weigh no more than the budget, and older ones were evicted.
#[tokio::test]
async fn a_flood_of_unique_ids_stays_within_the_byte_budget() {
    const BUDGET: u64 = 128 * 1024;
    const IDS: usize = 2_000;
    const CONNECTIONS: usize = 25;
    let store = MemoryStore::new(BUDGET);
    let cache = Cache::builder().store(store.clone()).build();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let table = Routes::new()
        .route(
            "/api/users/[id]",
            RouteHandler::new()
                .get(move |ctx: RouteContext| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let id = ctx.param("id").unwrap_or_default().to_owned();
                    // A 1 KiB body.
                    async move { format!("{id:>1024}") }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .cache(&cache)
        .build();
    let server = serve(table).await;
    let client = pooled_client();

    let tasks = (0..CONNECTIONS).map(|c| {
        let (client, addr) = (client.clone(), server.addr);
        tokio::spawn(async move {
            for id in (c..IDS).step_by(CONNECTIONS) {
                let reply =
                    send_with(&client, addr, "GET", &format!("/api/users/{id}"), &[], "").await;
                assert_eq!((reply.status, reply.body.len()), (StatusCode::OK, 1024));
                assert_eq!(reply.header("x-route-cache"), Some("MISS"));
            }
        })
    });
    for task in join_all(tasks).await {
        task.unwrap();
    }

    assert_eq!(runs.load(Ordering::SeqCst), IDS);
    let held = store.weighted_size();
    let entries = store.entry_count();
    assert!(held <= BUDGET, "{held} bytes held, budget {BUDGET}");
    // Each entry weighs more than its 1 KiB body, so fewer than budget / 1 KiB fit; far
    // fewer than the ids requested were kept.
    assert!(
        entries > 0 && entries < (BUDGET / 1024) as usize,
        "{entries} entries"
    );
    assert!(entries < IDS / 10, "{entries} entries");

    assert!(store.weighted_size() <= BUDGET);
}
