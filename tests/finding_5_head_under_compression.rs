//! Finding 5: `HEAD` of a cached route under tower-http's `CompressionLayer`.
//!
//! With `CompressionLayer` outside the route, `GET` with `accept-encoding: gzip` goes out
//! gzip without a `Content-Length`, and the uncached route's `HEAD` leaves `Content-Length`
//! out to match. The cached route answered that `HEAD` with the identity length (its empty
//! body has an exact size of 0, so the layer did not compress it). Expected: the cached
//! route's `HEAD` with `accept-encoding: gzip` has no `Content-Length`, like the uncached
//! route, cold and warm, over HTTP/1.1 and HTTP/2; without `accept-encoding` it keeps the
//! exact length.

mod support;

use std::io::Read;

use http::{Response, header};
use route_handlers::{
    Body, RouteHandler, RouteHandlerService,
    cache::{Cache, Dynamic},
};
use support::{Proto, raw, send, serve};
use tower::Layer;
use tower_http::compression::{Compression, CompressionLayer};

const STATUS: &str = "x-route-cache";
const GZIP: [(&str, &str); 1] = [("accept-encoding", "gzip")];

/// Long and repetitive enough for `CompressionLayer` to compress it.
fn page() -> String {
    "route handlers for tower. ".repeat(40)
}

fn page_len() -> String {
    page().len().to_string()
}

/// `GET /` answers [`page`] as text, cached (`ForceStatic`) or not, under
/// `CompressionLayer`.
fn service(cached: bool) -> Compression<RouteHandlerService> {
    let route = RouteHandler::new().get(|| async {
        Response::builder()
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from(page()))
            .unwrap()
    });
    let route = if cached {
        route.dynamic(Dynamic::ForceStatic).cache(&Cache::new())
    } else {
        route
    };
    CompressionLayer::new().layer(route.into_service())
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

/// What a client sees of a `HEAD`: status, `Content-Length`, `x-route-cache`.
async fn head(
    proto: Proto,
    addr: std::net::SocketAddr,
    gzip: bool,
) -> (u16, Option<String>, Option<String>) {
    let headers: &[(&str, &str)] = if gzip { &GZIP } else { &[] };
    match proto {
        Proto::H1 => {
            let res = raw(addr, "HEAD", "/", headers, "").await;
            assert!(
                res.body.is_empty(),
                "HEAD sent a body: {:?}",
                String::from_utf8_lossy(&res.bytes)
            );
            (
                res.status,
                res.header("content-length").map(str::to_owned),
                res.header(STATUS).map(str::to_owned),
            )
        }
        Proto::H2 => {
            let res = send(Proto::H2, addr, "HEAD", "/", headers, "").await;
            assert!(res.body.is_empty(), "HEAD sent a body: {res:?}");
            (
                res.status.as_u16(),
                res.header("content-length").map(str::to_owned),
                res.header(STATUS).map(str::to_owned),
            )
        }
    }
}

/// `GET` with gzip goes out compressed, of unknown length.
async fn assert_gzip_get(proto: Proto, addr: std::net::SocketAddr) {
    let reply = send(proto, addr, "GET", "/", &GZIP, "").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-encoding"), Some("gzip"), "{proto:?}");
    assert_eq!(reply.header("content-length"), None, "{proto:?}");
    assert_eq!(gunzip(&reply.body), page());
}

fn assert_no_length(what: &str, got: &(u16, Option<String>, Option<String>)) {
    assert_eq!(got.0, 200, "{what}");
    assert_eq!(
        got.1, None,
        "{what}: HEAD with accept-encoding: gzip sent content-length {:?} (x-route-cache \
         {:?}), but GET sends gzip without one",
        got.1, got.2
    );
}

fn assert_exact_length(what: &str, got: &(u16, Option<String>, Option<String>)) {
    assert_eq!(got.0, 200, "{what}");
    assert_eq!(got.1.as_deref(), Some(page_len().as_str()), "{what}");
}

/// Cold entry: the first request is the `HEAD` with gzip.
async fn cold(proto: Proto) {
    let server = serve(service(true)).await;
    let got = head(proto, server.addr, true).await;
    assert_no_length(&format!("{proto:?} cold"), &got);
    assert_gzip_get(proto, server.addr).await;
    let got = head(proto, server.addr, true).await;
    assert_no_length(&format!("{proto:?} after the fill"), &got);
}

/// Warm entry: `GET` first, then the `HEAD` with gzip is a `HIT`.
async fn warm(proto: Proto) {
    let server = serve(service(true)).await;
    assert_gzip_get(proto, server.addr).await;
    let got = head(proto, server.addr, true).await;
    assert_eq!(got.2.as_deref(), Some("HIT"), "{proto:?}");
    assert_no_length(&format!("{proto:?} warm"), &got);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_head_with_gzip_has_no_content_length_cold_h1() {
    cold(Proto::H1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_head_with_gzip_has_no_content_length_cold_h2() {
    cold(Proto::H2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_head_with_gzip_has_no_content_length_warm_h1() {
    warm(Proto::H1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_head_with_gzip_has_no_content_length_warm_h2() {
    warm(Proto::H2).await;
}

/// Without `accept-encoding`, the cached `HEAD` has `GET`'s exact length, cold and warm.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cached_head_without_accept_encoding_keeps_the_exact_length() {
    for proto in Proto::BOTH {
        let server = serve(service(true)).await;
        let cold = head(proto, server.addr, false).await;
        assert_exact_length(&format!("{proto:?} cold"), &cold);
        let warm = head(proto, server.addr, false).await;
        assert_eq!(warm.2.as_deref(), Some("HIT"), "{proto:?}");
        assert_exact_length(&format!("{proto:?} warm"), &warm);
        let get = send(proto, server.addr, "GET", "/", &[], "").await;
        assert_eq!(get.header("content-length"), Some(page_len().as_str()));
        assert_eq!(get.body, page());
    }
}
/// Guard: the uncached route, the behaviour the cached one must match.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uncached_head_is_the_reference() {
    for proto in Proto::BOTH {
        let server = serve(service(false)).await;
        assert_no_length(
            &format!("{proto:?} uncached"),
            &head(proto, server.addr, true).await,
        );
        assert_exact_length(
            &format!("{proto:?} uncached"),
            &head(proto, server.addr, false).await,
        );
        assert_gzip_get(proto, server.addr).await;
    }
}
