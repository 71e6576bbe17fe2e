//! What the cache keeps of large responses: a body under a raised `max_body_size` is stored
//! (through a real server over HTTP/1.1 and HTTP/2); a response with too many fields is not.

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

/// A response with more header fields than an entry holds is sent to its client whole and
/// not stored: each request renders it.
#[tokio::test]
async fn a_response_with_too_many_fields_is_not_stored() {
    use tower::ServiceExt;
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let table = Routes::new()
        .route(
            "/many",
            RouteHandler::new()
                .get(move || {
                    let counter = counter.clone();
                    async move {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let mut res = http::Response::new(route_handlers::Body::from("ok"));
                        for i in 0..1100 {
                            res.headers_mut()
                                .append("x-field", http::HeaderValue::from(i));
                        }
                        res
                    }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .cache(&Cache::new())
        .build();
    for _ in 0..2 {
        let req = http::Request::get("/many")
            .body(route_handlers::Body::empty())
            .unwrap();
        let res = table.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get_all("x-field").iter().count(), 1100);
        assert_ne!(res.headers()["x-route-cache"], "HIT");
    }
    assert_eq!(runs.load(Ordering::SeqCst), 2, "rendered for each request");
}
