//! Finding 2: `key_by_host` poisoning.
//!
//! With `Cache::builder().key_by_host(true)`, the key took the request target's authority
//! while a `ForceStatic` fill was given the `Host` header: `GET http://victim.test/page`
//! with `Host: evil.test` filled victim's entry with evil's page. Expected (RFC 9112
//! §3.2.2): one authority is used for key and fill, the request target's (absolute-form, or
//! HTTP/2 `:authority`) when present, else `Host`.
//!
//! The handler reports every host it can see (the `Host` header and the URI's authority),
//! so the tests hold however the fill is given its authority.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header::HOST};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use route_handlers::{
    Body, RouteHandler, RouteTable, Routes,
    cache::{Cache, Dynamic},
};
use support::{raw_exchange, serve};
use tokio::net::TcpStream;

const STATUS: &str = "x-route-cache";

/// A `ForceStatic` page whose links are built from the host the handler sees, on a cache
/// keyed by host.
fn table() -> RouteTable {
    let route = RouteHandler::new()
        .get(|req: Request<Body>| async move {
            let header = req
                .headers()
                .get(HOST)
                .map_or("-", |h| h.to_str().unwrap())
                .to_owned();
            let authority = req.uri().authority().map_or("-", |a| a.as_str()).to_owned();
            format!("links for host {header} (uri authority {authority})")
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(60);
    Routes::new()
        .cache(&Cache::builder().key_by_host(true).build())
        .route("/page", route)
        .build()
}

/// Sends one `GET` over a fresh HTTP/2 connection with hyper's low-level client, which
/// sends `:authority` from `uri` and every header as given (a `host` header included).
async fn h2_get(
    addr: std::net::SocketAddr,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Bytes) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let mut req = Request::get(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Empty::<Bytes>::new()).unwrap();
    let res = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .expect("response within 10 s")
        .expect("h2 response");
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    (parts.status, parts.headers, body)
}

fn assert_victim(what: &str, status: impl Into<u16>, body: &[u8]) {
    let body = String::from_utf8_lossy(body);
    assert_eq!(status.into(), 200, "{what}: {body}");
    assert!(
        body.contains("victim.test") && !body.contains("evil"),
        "{what}: got {body:?}; the page of victim.test must be built for victim.test"
    );
}

/// HTTP/1.1, absolute-form request target with a different `Host`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_absolute_form_target_wins_over_host_for_key_and_fill() {
    let server = serve(table()).await;
    let attack = raw_exchange(
        server.addr,
        "GET http://victim.test/page HTTP/1.1\r\nhost: evil.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_victim("absolute-form request", attack.status, &attack.body);

    let victim = raw_exchange(
        server.addr,
        "GET /page HTTP/1.1\r\nhost: victim.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_victim(
        &format!(
            "victim's own request (x-route-cache {:?})",
            victim.header(STATUS)
        ),
        victim.status,
        &victim.body,
    );
}

/// HTTP/2 with `:authority victim.test` and a `host: evil.test` header.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_authority_wins_over_a_host_header_for_key_and_fill() {
    let server = serve(table()).await;
    let (status, _, body) = h2_get(
        server.addr,
        "http://victim.test/page",
        &[("host", "evil.test")],
    )
    .await;
    assert_victim(":authority with a host header", status, &body);

    let (status, headers, body) = h2_get(server.addr, "http://victim.test/page", &[]).await;
    assert_victim(
        &format!(
            "victim's own request (x-route-cache {:?})",
            headers.get(STATUS)
        ),
        status,
        &body,
    );
}

/// HTTP/2 with `:authority` only: the fill must be given that authority (today it sees no
/// host at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h2_authority_alone_reaches_the_fill() {
    let server = serve(table()).await;
    let (status, _, body) = h2_get(server.addr, "http://victim.test/page", &[]).await;
    assert_victim(":authority only", status, &body);
}

/// Guard: over HTTP/1.1 in origin form, the `Host` header is the authority of key and fill,
/// and two hosts get two entries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn h1_origin_form_uses_host_and_keeps_hosts_apart() {
    let server = serve(table()).await;
    let victim = raw_exchange(
        server.addr,
        "GET /page HTTP/1.1\r\nhost: victim.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert_victim("victim over origin form", victim.status, &victim.body);
    let other = raw_exchange(
        server.addr,
        "GET /page HTTP/1.1\r\nhost: other.test\r\nconnection: close\r\n\r\n",
    )
    .await;
    let body = String::from_utf8_lossy(&other.body);
    assert!(
        body.contains("other.test") && !body.contains("victim"),
        "other.test got {body:?}"
    );
}
