//! `RouteHandlerService` inside an axum 0.8 app, mounted with `Router::route_service`,
//! `nest_service`, `fallback_service` and as a `MethodRouter` (`any_service`), served by a
//! real hyper server and checked over HTTP/1.1, HTTP/2 and raw TCP.

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{
    Router,
    routing::{any_service, get},
};
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use route_handlers::{Body, RouteHandler, RouteHandlerService};
use support::{Proto, TestServer, raw, send, serve};
use tower::ServiceExt;

const HELLO: &str = "Hello, World!";
const ALLOW: &str = "DELETE, GET, HEAD, OPTIONS, POST";

/// Calls of each handler of one mounted route: `[GET, POST, DELETE]`.
#[derive(Clone, Default)]
struct Calls(Arc<[AtomicUsize; 3]>);

impl Calls {
    fn hit(&self, i: usize) {
        self.0[i].fetch_add(1, Ordering::SeqCst);
    }
    fn get(&self) -> [usize; 3] {
        [0, 1, 2].map(|i| self.0[i].load(Ordering::SeqCst))
    }
}

/// `GET` answers `HELLO`, or streams it (no known length) when the path ends in `/stream`;
/// `POST` echoes the body; `DELETE` answers `204`.
fn route(calls: &Calls) -> RouteHandlerService {
    let (g, p, d) = (calls.clone(), calls.clone(), calls.clone());
    RouteHandler::new()
        .get(move |req: Request<Body>| {
            g.hit(0);
            async move {
                if req.uri().path().ends_with("/stream") {
                    let chunks =
                        ["Hello, ", "World!"].map(|s| Ok::<_, std::io::Error>(Bytes::from(s)));
                    Body::from_stream(futures::stream::iter(chunks))
                } else {
                    Body::from(HELLO)
                }
            }
        })
        .post(move |body: Body| {
            p.hit(1);
            async move {
                let body = body.collect().await.unwrap().to_bytes();
                format!("posted {}", String::from_utf8_lossy(&body))
            }
        })
        .delete(move || {
            d.hit(2);
            async { StatusCode::NO_CONTENT }
        })
        .into_service()
}

/// One app with the route mounted four ways; returns the server and the calls per mount,
/// with the path prefix each mount answers under.
async fn app() -> (TestServer, [(&'static str, Calls); 4]) {
    let mounts = [
        ("/direct", Calls::default()),
        ("/api", Calls::default()),
        ("/anything/else", Calls::default()),
        ("/method-router", Calls::default()),
    ];
    let direct = route(&mounts[0].1);
    let in_method_router = route(&mounts[3].1);
    let app = Router::new()
        .route_service("/direct/hello", direct.clone())
        .route_service("/direct/stream", direct)
        // axum's MethodRouter fills in `Content-Length` from an exact size hint and strips
        // HEAD bodies itself: the route must still come through with the same answers.
        .route(
            "/method-router/hello",
            any_service(in_method_router.clone()),
        )
        .route("/method-router/stream", any_service(in_method_router))
        .route("/axum", get(|| async { "axum's own route" }))
        .nest_service("/api", route(&mounts[1].1))
        .fallback_service(route(&mounts[2].1));
    (serve(app).await, mounts)
}

#[tokio::test]
async fn get_post_delete_through_every_mount() {
    let (server, mounts) = app().await;
    for proto in Proto::BOTH {
        for (prefix, _) in &mounts {
            let reply = send(
                proto,
                server.addr,
                "GET",
                &format!("{prefix}/hello"),
                &[],
                "",
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK, "{proto:?} {prefix}");
            assert_eq!(reply.header("content-length"), Some("13"));
            assert_eq!(reply.body, HELLO);

            let reply = send(
                proto,
                server.addr,
                "GET",
                &format!("{prefix}/stream"),
                &[],
                "",
            )
            .await;
            assert_eq!(reply.body, HELLO, "{proto:?} {prefix}");

            let reply = send(
                proto,
                server.addr,
                "POST",
                &format!("{prefix}/hello"),
                &[],
                "abc",
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, "posted abc");

            let reply = send(
                proto,
                server.addr,
                "DELETE",
                &format!("{prefix}/hello"),
                &[],
                "",
            )
            .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT);
            assert!(reply.body.is_empty());
        }
        let reply = send(proto, server.addr, "GET", "/axum", &[], "").await;
        assert_eq!(reply.body, "axum's own route");
    }
    for (prefix, calls) in &mounts {
        assert_eq!(calls.get(), [4, 2, 2], "{prefix}");
    }
}

#[tokio::test]
async fn methods_the_route_lacks_get_405_with_the_exact_allow_through_every_mount() {
    let (server, mounts) = app().await;
    for proto in Proto::BOTH {
        for (prefix, _) in &mounts {
            for method in ["PUT", "PATCH", "PROPFIND", "FOO", "get", "TRACE"] {
                let path = format!("{prefix}/hello");
                let reply = send(proto, server.addr, method, &path, &[], "body").await;
                assert_eq!(
                    reply.status,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{proto:?} {method} {path}"
                );
                assert_eq!(
                    reply.header("allow"),
                    Some(ALLOW),
                    "{proto:?} {method} {path}"
                );
                assert!(reply.body.is_empty());
            }
        }
    }
    // CONNECT with an authority-form target has no path: axum sends it to the fallback.
    let res = raw(server.addr, "CONNECT", "example.com:443", &[], "").await;
    assert_eq!(res.status, 405);
    assert_eq!(res.header("allow"), Some(ALLOW));
    assert!(res.body.is_empty());
    for (prefix, calls) in &mounts {
        assert_eq!(calls.get(), [0, 0, 0], "{prefix}");
    }
}

#[tokio::test]
async fn options_is_204_with_allow_through_every_mount() {
    let (server, mounts) = app().await;
    for (prefix, _) in &mounts {
        let path = format!("{prefix}/hello");
        for proto in Proto::BOTH {
            let reply = send(proto, server.addr, "OPTIONS", &path, &[], "").await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{proto:?} {path}");
            assert_eq!(reply.header("allow"), Some(ALLOW));
            assert!(reply.body.is_empty());
        }
        let res = raw(server.addr, "OPTIONS", &path, &[], "").await;
        assert_eq!(res.status, 204);
        assert_eq!(res.header("allow"), Some(ALLOW));
        assert!(res.body.is_empty(), "{path}");
    }
    for (prefix, calls) in &mounts {
        assert_eq!(calls.get(), [0, 0, 0], "{prefix}");
    }
}

#[tokio::test]
async fn head_through_every_mount_sends_no_body_and_an_honest_length() {
    let (server, mounts) = app().await;
    for (prefix, _) in &mounts {
        let path = format!("{prefix}/hello");
        let get = raw(server.addr, "GET", &path, &[], "").await;
        let head = raw(server.addr, "HEAD", &path, &[], "").await;
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(
            head.header("content-length"),
            get.header("content-length"),
            "{path}"
        );
        assert_eq!(head.header("content-length"), Some("13"));
        assert!(head.body.is_empty(), "{path}");

        // A streamed GET body has no known length: HEAD says nothing rather than `0` (axum's
        // MethodRouter fills in a length from an exact size hint, so the empty HEAD body
        // must not state one).
        let path = format!("{prefix}/stream");
        let get = raw(server.addr, "GET", &path, &[], "").await;
        assert_eq!(get.header("transfer-encoding"), Some("chunked"), "{path}");
        let head = raw(server.addr, "HEAD", &path, &[], "").await;
        assert_eq!(head.status, 200, "{path}");
        assert_eq!(
            head.header("content-length"),
            None,
            "{path}: {}",
            String::from_utf8_lossy(&head.bytes)
        );
        assert!(head.body.is_empty(), "{path}");

        for proto in Proto::BOTH {
            let reply = send(
                proto,
                server.addr,
                "HEAD",
                &format!("{prefix}/hello"),
                &[],
                "",
            )
            .await;
            assert_eq!(
                reply.header("content-length"),
                Some("13"),
                "{proto:?} {prefix}"
            );
            assert!(reply.body.is_empty());
            let reply = send(proto, server.addr, "HEAD", &path, &[], "").await;
            assert_eq!(reply.header("content-length"), None, "{proto:?} {path}");
            assert!(reply.body.is_empty());
        }
    }
    for (prefix, calls) in &mounts {
        // Each HEAD ran the GET handler: 2 GETs + 2 raw HEADs + 4 client HEADs.
        assert_eq!(calls.get(), [8, 0, 0], "{prefix}");
    }
}

#[tokio::test]
async fn mounted_with_oneshot_in_process() {
    let calls = Calls::default();
    let app = Router::new().route_service("/r", route(&calls));
    let req = Request::builder()
        .method("PROPFIND")
        .uri("/r")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], ALLOW);
    let req = Request::builder()
        .method("HEAD")
        .uri("/r")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = app.oneshot(req).await.unwrap();
    assert_eq!(res.headers()["content-length"], "13");
    assert!(
        res.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
    assert_eq!(calls.get(), [1, 0, 0]);
}

/// Documents an interaction the `synth` docs describe: for a `HEAD` that accepts gzip, the
/// route leaves `Content-Length` out and keeps the empty body's exact size (so that a
/// compression layer outside does not encode it), and axum's `MethodRouter` fills in
/// `content-length: 0` from that size. `route_service` passes the answer through. When axum
/// stops doing this, this test fails and the docs need updating.
#[tokio::test]
async fn method_router_fills_in_a_zero_length_for_a_head_that_accepts_gzip() {
    let calls = Calls::default();
    let app = Router::new()
        .route("/method-router", any_service(route(&calls)))
        .route_service("/route-service", route(&calls));
    let server = serve(app).await;
    let gzip = [("accept-encoding", "gzip")];
    let res = raw(server.addr, "HEAD", "/method-router", &gzip, "").await;
    assert_eq!(res.header("content-length"), Some("0"));
    let res = raw(server.addr, "HEAD", "/route-service", &gzip, "").await;
    assert_eq!(res.header("content-length"), None);
    assert!(res.body.is_empty());
    // Without Accept-Encoding both send the exact length.
    for path in ["/method-router", "/route-service"] {
        let res = raw(server.addr, "HEAD", path, &[], "").await;
        assert_eq!(res.header("content-length"), Some("13"), "{path}");
    }
}
