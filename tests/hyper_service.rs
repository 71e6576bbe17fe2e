//! With the `hyper` feature, hyper serves a `RouteTable` and a `RouteHandlerService` by
//! reference (`hyper::service::Service`), over HTTP/1.1 and HTTP/2: the same answers as
//! through tower, hits included.
#![cfg(feature = "hyper")]

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use route_handlers::{
    RouteHandler, RouteHandlerService, RouteTable, Routes,
    cache::{Cache, Dynamic},
};
use support::{Proto, send, serve_hyper};

fn counted(runs: &Arc<AtomicUsize>) -> RouteHandler {
    let runs = runs.clone();
    RouteHandler::new()
        .get(move || {
            let runs = runs.clone();
            async move {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                format!("render {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
}

fn table(runs: &Arc<AtomicUsize>) -> RouteTable {
    Routes::new()
        .route("/api/hello", counted(runs))
        .route(
            "/api/users/[id]",
            RouteHandler::new().get(|| async { "user" }),
        )
        .cache(&Cache::new())
        .build()
}

#[tokio::test]
async fn a_table_served_by_reference_answers_hits_misses_and_405() {
    for proto in Proto::BOTH {
        let runs = Arc::new(AtomicUsize::new(0));
        let server = serve_hyper(table(&runs)).await;
        let addr = server.addr;

        let first = send(proto, addr, "GET", "/api/hello", &[], "").await;
        assert_eq!(first.status, 200, "{proto:?}");
        assert_eq!(first.header("x-route-cache"), Some("MISS"));
        assert_eq!(first.body, "render 1");

        // The same resource under another spelling is the same entry.
        for path in ["/api/hello", "/api/%68ello", "/api/hello/"] {
            let hit = send(proto, addr, "GET", path, &[], "").await;
            assert_eq!(hit.status, 200, "{proto:?} {path}");
            assert_eq!(hit.header("x-route-cache"), Some("HIT"), "{path}");
            assert_eq!(hit.body, "render 1", "{path}");
            assert_eq!(hit.header("etag"), first.header("etag"), "{path}");
        }

        let head = send(proto, addr, "HEAD", "/api/hello", &[], "").await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("x-route-cache"), Some("HIT"));
        assert!(head.body.is_empty());

        let etag = first.header("etag").unwrap().to_owned();
        let not_modified = send(
            proto,
            addr,
            "GET",
            "/api/hello",
            &[("if-none-match", &etag)],
            "",
        )
        .await;
        assert_eq!(not_modified.status, 304);
        assert!(not_modified.body.is_empty());

        let refused = send(proto, addr, "DELETE", "/api/hello", &[], "").await;
        assert_eq!(refused.status, 405);
        assert_eq!(refused.header("allow"), Some("GET, HEAD, OPTIONS"));

        let user = send(proto, addr, "GET", "/api/users/7", &[], "").await;
        assert_eq!((user.status.as_u16(), &user.body[..]), (200, &b"user"[..]));
        let missing = send(proto, addr, "GET", "/nowhere", &[], "").await;
        assert_eq!(missing.status, 404);

        assert_eq!(runs.load(Ordering::SeqCst), 1, "{proto:?}: one render");
        drop(server);
    }
}

#[tokio::test]
async fn a_route_served_by_reference_answers_like_through_tower() {
    for proto in Proto::BOTH {
        let runs = Arc::new(AtomicUsize::new(0));
        let route: RouteHandlerService = counted(&runs)
            .path("/api/hello")
            .cache(&Cache::new())
            .into_service();
        let server = serve_hyper(route).await;
        let addr = server.addr;

        let first = send(proto, addr, "GET", "/api/hello", &[], "").await;
        assert_eq!(first.header("x-route-cache"), Some("MISS"), "{proto:?}");
        let hit = send(proto, addr, "GET", "/api/hello", &[], "").await;
        assert_eq!(hit.status, 200);
        assert_eq!(hit.header("x-route-cache"), Some("HIT"));
        assert_eq!(hit.body, "render 1");
        let options = send(proto, addr, "OPTIONS", "/api/hello", &[], "").await;
        assert_eq!(options.status, 204);
        assert_eq!(options.header("allow"), Some("GET, HEAD, OPTIONS"));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        drop(server);
    }
}
