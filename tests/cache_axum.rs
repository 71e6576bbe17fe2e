//! The cache's guarantees inside an axum 0.8 app: a route table mounted with
//! `Router::fallback_service`, behind axum middleware, served by a real hyper server over
//! HTTP/1.1 and HTTP/2 (and raw TCP where a client would normalise the request).

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use axum::{Router, middleware::Next};
use http::{Request, StatusCode};
use route_handlers::{
    Body, RouteHandler, Routes,
    cache::{Cache, Dynamic},
    request::NextRequest,
};
use support::{Proto, raw, send, serve};
use tower_http::compression::CompressionLayer;

const STATUS: &str = "x-route-cache";

#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// The signed-in user, as an axum middleware puts it into the request extensions.
#[derive(Clone)]
struct User(String);

async fn sign_in(mut req: axum::extract::Request, next: Next) -> axum::response::Response {
    let user = req
        .headers()
        .get("x-user")
        .map_or("anonymous", |v| v.to_str().unwrap())
        .to_owned();
    req.extensions_mut().insert(User(user));
    next.run(req).await
}

#[tokio::test]
async fn a_user_that_middleware_put_in_the_extensions_never_reaches_another_client() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .cache(&Cache::new())
        .route(
            "/account",
            RouteHandler::new()
                .get(move |req: NextRequest| {
                    r.bump();
                    let user = req.extensions().get::<User>().map(|u| u.0.clone());
                    async move { format!("account page of {}", user.as_deref().unwrap_or("nobody")) }
                })
                .revalidate(60),
        )
        .build();
    let app = Router::new()
        .fallback_service(table)
        .layer(axum::middleware::from_fn(sign_in));
    let server = serve(app).await;
    for proto in Proto::BOTH {
        for user in ["alice", "bob", "alice", "carol"] {
            let reply = send(
                proto,
                server.addr,
                "GET",
                "/account",
                &[("x-user", user)],
                "",
            )
            .await;
            assert_eq!(reply.status, StatusCode::OK);
            assert_eq!(reply.body, format!("account page of {user}"), "{proto:?}");
            assert_ne!(reply.header(STATUS), Some("HIT"), "{proto:?} {user}");
        }
    }
    // One discarded fill (it saw no user), then every request ran with its own.
    assert_eq!(runs.get(), 9);
}

#[tokio::test]
async fn every_spelling_of_a_path_is_one_entry_and_one_invalidation() {
    let runs = Runs::default();
    let r = runs.clone();
    let cache = Cache::new();
    let table = Routes::new()
        .cache(&cache)
        .route(
            "/api/time",
            RouteHandler::new()
                .get(move || {
                    let n = r.bump();
                    async move { format!("generation {n}") }
                })
                .dynamic(Dynamic::ForceStatic)
                .revalidate(3600),
        )
        .build();
    let server = serve(Router::new().fallback_service(table)).await;
    let spellings = [
        "/api/time",
        "/api/%74ime",
        "/api/tim%65",
        "/api/time/",
        "/api/%74%69%6d%65",
    ];
    for (i, path) in spellings.iter().enumerate() {
        let proto = Proto::BOTH[i % 2];
        let reply = send(proto, server.addr, "GET", path, &[], "").await;
        assert_eq!(reply.body, "generation 1", "{path}");
        let want = if i == 0 { "MISS" } else { "HIT" };
        assert_eq!(reply.header(STATUS), Some(want), "{path}");
    }
    assert_eq!(runs.get(), 1);
    // Invalidating one spelling invalidates them all.
    cache
        .revalidator()
        .revalidate_path("/api/%74ime/")
        .await
        .unwrap();
    let reply = send(Proto::H2, server.addr, "GET", "/api/tim%65", &[], "").await;
    assert_eq!(
        (reply.header(STATUS), &reply.body[..]),
        (Some("REVALIDATED"), &b"generation 2"[..])
    );
    let reply = send(Proto::H1, server.addr, "GET", "/api/time", &[], "").await;
    assert_eq!(
        (reply.header(STATUS), &reply.body[..]),
        (Some("HIT"), &b"generation 2"[..])
    );
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn the_request_target_authority_keys_and_fills_an_entry_not_the_host_header() {
    let table = Routes::new()
        .cache(&Cache::builder().key_by_host(true).build())
        .route(
            "/page",
            RouteHandler::new()
                .get(|req: Request<Body>| async move {
                    let host = req
                        .headers()
                        .get("host")
                        .map(|h| h.to_str().unwrap().to_owned());
                    format!("links for {}", host.as_deref().unwrap_or("no host"))
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let server = serve(Router::new().fallback_service(table)).await;
    // Absolute-form target with a conflicting `Host`: RFC 9112 §3.2.2 says the target wins.
    let poisoned = raw(
        server.addr,
        "GET",
        "http://victim.test/page",
        &[("host", "evil.test")],
        "",
    )
    .await;
    let body = String::from_utf8_lossy(&poisoned.body).into_owned();
    assert!(body.ends_with("links for victim.test"), "{body}");
    // The victim's own clients see the victim's entry.
    for proto in Proto::BOTH {
        let addr = server.addr;
        let client = support::client(proto);
        let req = Request::get(format!("http://{addr}/page"))
            .header("host", "victim.test")
            .body(http_body_util::Full::default())
            .unwrap();
        let res = client.request(req).await.unwrap();
        let cached = res.headers().get(STATUS).cloned();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        // Over HTTP/2 the client sends the URI's authority (the address), so it is another
        // key; over HTTP/1.1 the `Host` header names the victim.
        if proto == Proto::H1 {
            assert_eq!(body, "links for victim.test");
            assert_eq!(cached.as_ref().map(|v| v.to_str().unwrap()), Some("HIT"));
        } else {
            assert_eq!(body, format!("links for {addr}"));
        }
    }
}

#[tokio::test]
async fn a_cached_head_under_compression_has_no_identity_length_like_an_uncached_one() {
    let table = Routes::new()
        .cache(&Cache::new())
        .route(
            "/cached",
            RouteHandler::new()
                .get(|| async { "x".repeat(2048) })
                .dynamic(Dynamic::ForceStatic),
        )
        .route(
            "/uncached",
            RouteHandler::new().get(|| async { "x".repeat(2048) }),
        )
        .build();
    let app = Router::new()
        .fallback_service(table)
        .layer(CompressionLayer::new());
    let server = serve(app).await;
    for path in ["/cached", "/uncached"] {
        // Cold and warm alike: the first HEAD fills the entry of the cached route.
        for round in 0..2 {
            let head = raw(
                server.addr,
                "HEAD",
                path,
                &[("accept-encoding", "gzip")],
                "",
            )
            .await;
            assert_eq!(head.status, 200);
            assert_eq!(head.header("content-length"), None, "{path} round {round}");
            assert!(head.body.is_empty());
            for proto in Proto::BOTH {
                let reply = send(proto, server.addr, "HEAD", path, &[], "").await;
                assert_eq!(
                    reply.header("content-length"),
                    Some("2048"),
                    "{path} {proto:?}"
                );
            }
        }
        let get = raw(server.addr, "GET", path, &[("accept-encoding", "gzip")], "").await;
        assert_eq!(get.header("content-encoding"), Some("gzip"), "{path}");
        assert_eq!(get.header("content-length"), None, "{path}");
    }
}
