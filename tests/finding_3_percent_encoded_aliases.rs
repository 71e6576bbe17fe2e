//! Finding 3: percent-encoded aliases of a cached path.
//!
//! The table routes `/api/%74ime` and `/api/tim%65` to `/api/time`, but the cache keyed
//! them apart: one entry and one handler run per spelling, and `revalidate_path` reached
//! only the spelling it was given. Expected: every spelling of a path (and its
//! trailing-slash form) is one entry, filled by one run, and `revalidate_path` of any
//! spelling invalidates it.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use route_handlers::{
    RouteHandler, RouteTable, Routes,
    cache::{Cache, Dynamic},
};
use support::{Proto, Reply, send, serve};

const STATUS: &str = "x-route-cache";
const ALIASES: [&str; 4] = ["/api/time", "/api/%74ime", "/api/tim%65", "/api/time/"];

/// `/api/time`, `ForceStatic` for 60 s, answering `run N` on its N-th run.
fn table(cache: &Cache, runs: &Arc<AtomicUsize>) -> RouteTable {
    let runs = runs.clone();
    let route = RouteHandler::new()
        .get(move || {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            async move { format!("run {n}") }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(60);
    Routes::new().cache(cache).route("/api/time", route).build()
}

async fn get(addr: std::net::SocketAddr, path: &str) -> Reply {
    let reply = send(Proto::H1, addr, "GET", path, &[], "").await;
    assert_eq!(reply.status, 200, "GET {path}: {reply:?}");
    reply
}

fn body(reply: &Reply) -> &str {
    std::str::from_utf8(&reply.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_is_one_entry_filled_once() {
    let cache = Cache::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let server = serve(table(&cache, &runs)).await;

    let first = get(server.addr, ALIASES[0]).await;
    assert_eq!(
        (body(&first), first.header(STATUS)),
        ("run 1", Some("MISS"))
    );
    // Each spelling twice, in both orders.
    for path in ALIASES.iter().chain(ALIASES.iter().rev()) {
        let reply = get(server.addr, path).await;
        assert_eq!(
            (body(&reply), reply.header(STATUS)),
            ("run 1", Some("HIT")),
            "GET {path} must be a HIT of the /api/time entry"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "handler runs");
}

/// After `revalidate_path("/api/time")`, an alias is regenerated, not served the old body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revalidate_path_reaches_every_spelling() {
    let cache = Cache::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let server = serve(table(&cache, &runs)).await;
    for path in ALIASES {
        get(server.addr, path).await;
    }
    let before = runs.load(Ordering::SeqCst);

    cache
        .revalidator()
        .revalidate_path("/api/time")
        .await
        .unwrap();
    let alias = get(server.addr, "/api/%74ime").await;
    assert_ne!(
        alias.header(STATUS),
        Some("HIT"),
        "/api/%74ime was served {:?} from before the purge",
        body(&alias)
    );
    assert!(
        matches!(alias.header(STATUS), Some("REVALIDATED" | "MISS")),
        "status {:?}",
        alias.header(STATUS)
    );
    assert_eq!(runs.load(Ordering::SeqCst), before + 1, "one regeneration");
    let fresh = format!("run {}", before + 1);
    assert_eq!(body(&alias), fresh);
    for path in ALIASES {
        let reply = get(server.addr, path).await;
        assert_eq!(
            (body(&reply), reply.header(STATUS)),
            (fresh.as_str(), Some("HIT")),
            "GET {path} after the regeneration"
        );
    }
    assert_eq!(runs.load(Ordering::SeqCst), before + 1, "handler runs");
}

/// `revalidate_path` given an encoded spelling invalidates the same entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revalidate_path_of_an_encoded_spelling_invalidates_the_entry() {
    let cache = Cache::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let server = serve(table(&cache, &runs)).await;
    for path in ALIASES {
        get(server.addr, path).await;
    }
    let before = runs.load(Ordering::SeqCst);

    cache
        .revalidator()
        .revalidate_path("/api/%74ime")
        .await
        .unwrap();
    let first = get(server.addr, "/api/time").await;
    assert!(
        matches!(first.header(STATUS), Some("REVALIDATED" | "MISS")),
        "GET /api/time after revalidate_path(\"/api/%74ime\") was {:?} {:?}",
        first.header(STATUS),
        body(&first)
    );
    let fresh = format!("run {}", before + 1);
    assert_eq!(body(&first), fresh);
    for path in ALIASES {
        let reply = get(server.addr, path).await;
        assert_eq!(
            (body(&reply), reply.header(STATUS)),
            (fresh.as_str(), Some("HIT")),
            "GET {path} after the regeneration"
        );
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        before + 1,
        "one regeneration for the one entry"
    );
}
