//! A body under the cache's `max_body_size` is stored, however large the size cap is set,
//! through a real server over HTTP/1.1 and HTTP/2.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use route_handlers::{
    RouteHandler, Routes,
    cache::{Cache, Dynamic},
};
use support::{Proto, send};

#[tokio::test]
async fn a_body_under_a_raised_size_cap_is_stored_and_served() {
    const BODY: usize = 10 * 1024 * 1024;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let cache = Cache::builder().max_body_size(32 * 1024 * 1024).build();
    let table = Routes::new()
        .route(
            "/big",
            RouteHandler::new()
                .get(move || {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        vec![b'x'; BODY]
                    }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .cache(&cache)
        .build();
    let server = support::serve(table).await;
    let first = send(Proto::H1, server.addr, "GET", "/big", &[], "").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-route-cache"), Some("MISS"));
    assert_eq!(first.body.len(), BODY);
    for proto in Proto::BOTH {
        let hit = send(proto, server.addr, "GET", "/big", &[], "").await;
        assert_eq!(hit.status, 200, "{proto:?}");
        assert_eq!(hit.header("x-route-cache"), Some("HIT"), "{proto:?}");
        assert_eq!(hit.body.len(), BODY, "{proto:?}");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1, "rendered once");
}
