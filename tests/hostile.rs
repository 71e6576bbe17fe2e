//! The hostile-input matrix: requests a well-behaved client never sends, through a real
//! hyper 1 server (hyper-util's auto builder) serving a route table, mostly over raw TCP
//! (HTTP/1.1), since a client library refuses to send most of these bytes.
//!
//! Every case has one exact status, and after each the server still answers a normal
//! request. A case is answered either by hyper, before the table sees the request (the
//! `by` column says `hyper`), or by the crate. What hyper 1 answers itself:
//!
//! - `400` for request-line and header syntax it cannot parse (a target that is not
//!   ASCII, a header name with a non-token byte, a control byte in a header value, obs-fold,
//!   a negative or huge or conflicting `Content-Length`, a `Transfer-Encoding` other than
//!   `chunked`, an unknown HTTP version, a target without a leading `/`);
//! - `414` for a request target longer than 65,534 bytes (the `http` crate's `Uri` limit);
//! - `431` for more than 100 header fields, or a request head over its read buffer
//!   (about 400 KiB);
//! - nothing for a missing or repeated `Host`: RFC 9112 §3.2 asks for `400`, but hyper
//!   passes such requests on and the table routes them by path like any other (recorded
//!   below as `200`; a server that needs the check adds it in front of the table);
//! - nothing for a client that stalls mid-head: without a timer configured, hyper 1 has no
//!   header read timeout (`http1::Builder::header_read_timeout` needs `.timer(..)`).
//!
//! Everything else reaches the table: a method a route lacks is `405` with `Allow`, a path
//! with a malformed escape, a dot segment or `%00` is `400`, a body over the route's limit
//! is `413`, a body that stalls past the route's `max_duration` is `408`, and a body that
//! breaks off is a `400` for the handler.

mod support;

use std::{net::SocketAddr, time::Duration};

use http::{Request, StatusCode};
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteTable, Routes, request::NextRequest, response::HttpError,
};
use support::{Proto, raw_exchange, send, serve_with};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::mpsc,
};

/// What the upload handler saw, in order.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    /// It started reading the body.
    Reading,
    /// The body read failed with this status.
    Rejected(StatusCode),
}

const LIMIT: usize = 16;
const MAX_DURATION: Duration = Duration::from_millis(300);

/// The table under attack: a static route, `[id]`, `[...slug]`, a POST with a small body
/// limit and a `max_duration`, and a GET that reads headers, cookies and the query.
fn table(seen: mpsc::UnboundedSender<Seen>) -> RouteTable {
    Routes::new()
        .route("/api/health", RouteHandler::new().get(|| async { "ok" }))
        .route(
            "/api/users/[id]",
            RouteHandler::new().get(|_req: Request<Body>, ctx: RouteContext| async move {
                format!("id={}", ctx.param("id").unwrap_or_default())
            }),
        )
        .route(
            "/docs/[...slug]",
            RouteHandler::new().get(|_req: Request<Body>, ctx: RouteContext| async move {
                let slug = ctx.catch_all("slug").unwrap_or_default();
                format!("n={} first={}", slug.len(), slug[0])
            }),
        )
        .route(
            "/api/echo",
            RouteHandler::new()
                .post(move |mut req: NextRequest| {
                    let seen = seen.clone();
                    async move {
                        let _ = seen.send(Seen::Reading);
                        let text = req.text().await.inspect_err(|rejection| {
                            let _ = seen.send(Seen::Rejected(rejection.status()));
                        })?;
                        Ok::<_, HttpError>(text)
                    }
                })
                .body_limit(LIMIT)
                .max_duration(MAX_DURATION),
        )
        .route(
            "/api/inspect",
            RouteHandler::new().get(|req: NextRequest| async move {
                let h = req
                    .header("x-h")
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
                format!(
                    "cookies={} q={:?} h={:?}",
                    req.cookies().len(),
                    req.search_params().get("q"),
                    h.map(|h| if h.len() > 16 { h.len().to_string() } else { h }),
                )
            }),
        )
        .build()
}

async fn start() -> (support::TestServer, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    // hyper's read buffer may grow past its limit in one read, so whether a head a little
    // over the default limit (about 400 KB) is refused depends on how the bytes arrive. A
    // 128 KiB limit refuses every head over twice that, however it is chunked.
    let server = serve_with(table(tx), |builder| {
        builder.http1().max_buf_size(128 * 1024);
    })
    .await;
    (server, rx)
}

/// The server still answers a normal request, on a new connection.
async fn still_serving(addr: SocketAddr, after: &str) {
    let reply = send(Proto::H1, addr, "GET", "/api/health", &[], "").await;
    assert_eq!(
        (reply.status, &reply.body[..]),
        (StatusCode::OK, &b"ok"[..]),
        "after {after}"
    );
}

/// A request head `METHOD target` with `connection: close`, extra header lines, and a blank
/// line.
fn head(method: &str, target: &str, headers: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nhost: t\r\n{headers}connection: close\r\n\r\n")
        .into_bytes()
}

fn get(target: &str) -> Vec<u8> {
    head("GET", target, "")
}

fn concat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

const DOTS: &str = "the request path has a `.` or `..` segment";
const NUL: &str = "the request path has an encoded NUL byte (%00)";
const ESCAPE: &str = "invalid percent-encoding in the request path";
const TOO_LARGE: &str = "request body is larger than the limit of 16 bytes";

/// Who answers a case.
#[derive(Debug, Clone, Copy)]
enum By {
    Hyper,
    Crate,
}

struct Case {
    name: &'static str,
    request: Vec<u8>,
    by: By,
    status: u16,
    /// The exact body, when it says something.
    body: Option<String>,
}

fn case(name: &'static str, request: Vec<u8>, by: By, status: u16, body: &str) -> Case {
    Case {
        name,
        request,
        by,
        status,
        body: (!body.is_empty()).then(|| body.to_owned()),
    }
}

fn matrix() -> Vec<Case> {
    use By::{Crate, Hyper};
    let x65000 = "x".repeat(65_000);
    vec![
        // Methods.
        case(
            "unknown method",
            head("PROPFIND", "/api/health", ""),
            Crate,
            405,
            "",
        ),
        case(
            "lowercase method",
            head("get", "/api/health", ""),
            Crate,
            405,
            "",
        ),
        case("TRACE", head("TRACE", "/api/health", ""), Crate, 405, ""),
        // CONNECT's authority-form target has no path: nothing matches it.
        case(
            "CONNECT authority-form",
            head("CONNECT", "example.com:443", ""),
            Crate,
            404,
            "",
        ),
        case(
            "CONNECT with a path",
            head("CONNECT", "/api/health", ""),
            Crate,
            405,
            "",
        ),
        // Request targets. Absolute-form must be accepted (RFC 9112 §3.2.2); the path routes.
        case(
            "absolute-form",
            get("http://example.com/api/health"),
            Crate,
            200,
            "ok",
        ),
        // `*` is not a path: it matches no route, for OPTIONS as for anything else.
        case("OPTIONS *", head("OPTIONS", "*", ""), Crate, 404, ""),
        case("GET *", get("*"), Crate, 404, ""),
        case("no leading slash", get("api/health"), Hyper, 400, ""),
        case("fragment", get("/api/health#top"), Crate, 200, "ok"),
        case("empty segments", get("//api//health"), Crate, 404, ""),
        // Escapes.
        case("bad escape %zz", get("/api/users/%zz"), Crate, 400, ESCAPE),
        case("truncated escape", get("/api/users/%4"), Crate, 400, ESCAPE),
        case(
            "escape of no UTF-8",
            get("/api/users/%FF"),
            Crate,
            400,
            ESCAPE,
        ),
        case("%00", get("/api/users/%00"), Crate, 400, NUL),
        case(
            "%00 in a catch-all",
            get("/docs/a/b%00.txt"),
            Crate,
            400,
            NUL,
        ),
        case(
            "%00 in the query is data",
            get("/api/inspect?q=a%00"),
            Crate,
            200,
            r#"cookies=0 q=Some("a\0") h=None"#,
        ),
        // Dot segments.
        case("..", get("/api/users/.."), Crate, 400, DOTS),
        case(".", get("/api/./health"), Crate, 400, DOTS),
        case(
            "traversal into a catch-all",
            get("/docs/../../etc/passwd"),
            Crate,
            400,
            DOTS,
        ),
        case("encoded ..", get("/docs/%2e%2E/x"), Crate, 400, DOTS),
        case("trailing ..", get("/docs/a/../"), Crate, 400, DOTS),
        case(
            "encoded slash is data",
            get("/docs/a%2F..%2Fb"),
            Crate,
            200,
            "n=1 first=a/../b",
        ),
        case(
            "three dots are a name",
            get("/api/users/..."),
            Crate,
            200,
            "id=...",
        ),
        // Size.
        case(
            "64 KiB path",
            get(&format!("/api/users/{}", "x".repeat(64 * 1024))),
            Hyper,
            414,
            "",
        ),
        case(
            "65,000-byte path",
            get(&format!("/api/users/{x65000}")),
            Crate,
            200,
            &format!("id={x65000}"),
        ),
        case(
            "10,000 segments",
            get(&format!("/docs{}", "/s".repeat(10_000))),
            Crate,
            200,
            "n=10000 first=s",
        ),
        case(
            "10,000 empty segments",
            get(&format!("/docs{}", "/".repeat(10_000))),
            Crate,
            404,
            "",
        ),
        case(
            "10,000 .. segments",
            get(&format!("/docs{}", "/..".repeat(10_000))),
            Crate,
            400,
            DOTS,
        ),
        // Non-UTF-8 and control bytes.
        case(
            "raw 0xFF in the path",
            b"GET /api/users/\xff HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n".to_vec(),
            Hyper,
            400,
            "",
        ),
        case(
            "raw NUL in the path",
            get("/api/users/\u{0}"),
            Hyper,
            400,
            "",
        ),
        case(
            "NUL in the method",
            head("G\u{0}T", "/api/health", ""),
            Hyper,
            400,
            "",
        ),
        case(
            "0xFF in a header name",
            b"GET /api/health HTTP/1.1\r\nhost: t\r\nx\xff: v\r\nconnection: close\r\n\r\n"
                .to_vec(),
            Hyper,
            400,
            "",
        ),
        case(
            "control byte in a header value",
            head("GET", "/api/health", "x-h: a\u{1}b\r\n"),
            Hyper,
            400,
            "",
        ),
        case(
            "0xFF in a header value",
            b"GET /api/inspect HTTP/1.1\r\nhost: t\r\nx-h: a\xffb\r\nconnection: close\r\n\r\n"
                .to_vec(),
            Crate,
            200,
            "cookies=0 q=None h=Some(\"a\u{FFFD}b\")",
        ),
        case(
            "0xFF in a cookie",
            b"GET /api/inspect HTTP/1.1\r\nhost: t\r\ncookie: a=\xff\r\nconnection: close\r\n\r\n"
                .to_vec(),
            Crate,
            200,
            "cookies=0 q=None h=None",
        ),
        case(
            "escape of no UTF-8 in the query",
            get("/api/inspect?q=%FF"),
            Crate,
            200,
            "cookies=0 q=Some(\"\u{FFFD}\") h=None",
        ),
        // Headers.
        case(
            "two Content-Lengths that differ",
            concat(&[
                &head(
                    "POST",
                    "/api/echo",
                    "content-length: 3\r\ncontent-length: 4\r\n",
                ),
                b"abcd",
            ]),
            Hyper,
            400,
            "",
        ),
        case(
            "the same Content-Length twice",
            concat(&[
                &head(
                    "POST",
                    "/api/echo",
                    "content-length: 3\r\ncontent-length: 3\r\n",
                ),
                b"abc",
            ]),
            Crate,
            200,
            "abc",
        ),
        case(
            "negative Content-Length",
            head("POST", "/api/echo", "content-length: -1\r\n"),
            Hyper,
            400,
            "",
        ),
        case(
            "huge Content-Length",
            head(
                "POST",
                "/api/echo",
                "content-length: 99999999999999999999999\r\n",
            ),
            Hyper,
            400,
            "",
        ),
        case(
            "Transfer-Encoding gzip",
            head("POST", "/api/echo", "transfer-encoding: gzip\r\n"),
            Hyper,
            400,
            "",
        ),
        case(
            "obs-fold",
            head("GET", "/api/health", "x-h: a\r\n b\r\n"),
            Hyper,
            400,
            "",
        ),
        case(
            "unknown HTTP version",
            b"GET /api/health HTTP/9.9\r\nhost: t\r\n\r\n".to_vec(),
            Hyper,
            400,
            "",
        ),
        case(
            "two Host fields",
            head("GET", "/api/health", "host: u\r\n"),
            Crate,
            200,
            "ok",
        ),
        case(
            "no Host",
            b"GET /api/health HTTP/1.1\r\nconnection: close\r\n\r\n".to_vec(),
            Crate,
            200,
            "ok",
        ),
        case(
            "two Cookie fields",
            head("GET", "/api/inspect", "cookie: a=1\r\ncookie: b=2\r\n"),
            Crate,
            200,
            "cookies=2 q=None h=None",
        ),
        case(
            "101 header fields",
            head(
                "GET",
                "/api/health",
                &(0..101)
                    .map(|i| format!("x-{i}: v\r\n"))
                    .collect::<String>(),
            ),
            Hyper,
            431,
            "",
        ),
        case(
            "a 500 KB header",
            head(
                "GET",
                "/api/health",
                &format!("x-h: {}\r\n", "v".repeat(500_000)),
            ),
            Hyper,
            431,
            "",
        ),
        case(
            "a 64 KiB header reaches the route",
            head(
                "GET",
                "/api/inspect",
                &format!("x-h: {}\r\n", "v".repeat(64 * 1024)),
            ),
            Crate,
            200,
            "cookies=0 q=None h=Some(\"65536\")",
        ),
        // Bodies.
        case(
            "Content-Length over the limit",
            concat(&[
                &head("POST", "/api/echo", "content-length: 17\r\n"),
                b"12345678901234567",
            ]),
            Crate,
            413,
            TOO_LARGE,
        ),
        case(
            "chunked body over the limit",
            concat(&[
                &head("POST", "/api/echo", "transfer-encoding: chunked\r\n"),
                b"9\r\n123456789\r\n9\r\n123456789\r\n0\r\n\r\n",
            ]),
            Crate,
            413,
            TOO_LARGE,
        ),
        case(
            "malformed chunk size",
            concat(&[
                &head("POST", "/api/echo", "transfer-encoding: chunked\r\n"),
                b"zz\r\nabc\r\n0\r\n\r\n",
            ]),
            Crate,
            400,
            "failed to read the request body: error reading a body from connection",
        ),
        case(
            "a body at the limit",
            concat(&[
                &head("POST", "/api/echo", "content-length: 16\r\n"),
                b"1234567890123456",
            ]),
            Crate,
            200,
            "1234567890123456",
        ),
    ]
}

#[tokio::test]
async fn every_hostile_request_gets_its_status_and_the_server_keeps_serving() {
    let (server, _seen) = start().await;
    let mut failures = Vec::new();
    for case in matrix() {
        let res = raw_exchange(server.addr, &case.request).await;
        let body = String::from_utf8_lossy(&res.body).into_owned();
        let body_ok = case.body.as_ref().is_none_or(|want| *want == body);
        if res.status != case.status || !body_ok || (case.status >= 500) {
            failures.push(format!(
                "{} (by {:?}): got {} {:?}, want {} {:?}",
                case.name,
                case.by,
                res.status,
                &body[..body.len().min(120)],
                case.status,
                case.body.as_deref().map(|b| &b[..b.len().min(120)]),
            ));
        }
        if case.status == 405 {
            assert_eq!(
                res.header("allow"),
                Some("GET, HEAD, OPTIONS"),
                "{}",
                case.name
            );
        }
        still_serving(server.addr, case.name).await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The same refusals over HTTP/2 and HTTP/1.1 through a real client, for what a client
/// agrees to send.
#[tokio::test]
async fn refusals_through_a_client_on_both_protocols() {
    let (server, _seen) = start().await;
    for proto in Proto::BOTH {
        let cases: &[(&str, &str, &str, StatusCode, &str)] = &[
            (
                "PROPFIND",
                "/api/health",
                "",
                StatusCode::METHOD_NOT_ALLOWED,
                "",
            ),
            ("get", "/api/health", "", StatusCode::METHOD_NOT_ALLOWED, ""),
            (
                "TRACE",
                "/api/users/1",
                "",
                StatusCode::METHOD_NOT_ALLOWED,
                "",
            ),
            ("GET", "/api/users/%zz", "", StatusCode::BAD_REQUEST, ESCAPE),
            ("GET", "/api/users/%00", "", StatusCode::BAD_REQUEST, NUL),
            ("GET", "/docs/../x", "", StatusCode::BAD_REQUEST, DOTS),
            ("GET", "/docs/%2e/x", "", StatusCode::BAD_REQUEST, DOTS),
            (
                "POST",
                "/api/echo",
                "12345678901234567",
                StatusCode::PAYLOAD_TOO_LARGE,
                TOO_LARGE,
            ),
            (
                "POST",
                "/api/echo",
                "1234567890123456",
                StatusCode::OK,
                "1234567890123456",
            ),
        ];
        for (method, path, body, status, text) in cases {
            let reply = send(proto, server.addr, method, path, &[], *body).await;
            assert_eq!(
                (reply.status, &reply.body[..]),
                (*status, text.as_bytes()),
                "{proto:?} {method} {path}"
            );
        }
    }
    still_serving(server.addr, "the client cases").await;
}

/// Reads from `stream` until the server closes it (bounded: a hang fails the test).
async fn read_until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("the server closes the connection")
        .expect("read");
    out
}

fn status_of(bytes: &[u8]) -> u16 {
    std::str::from_utf8(&bytes[9..12]).unwrap().parse().unwrap()
}

/// A client that stops sending mid-body: the route's `max_duration` passes while the
/// handler waits for the body, so the answer is `408` (the client's fault, not the
/// server's `504`), and hyper closes the connection (the body was not read to the end).
#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408_and_the_connection_closes() {
    let (server, mut seen) = start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /api/echo HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let bytes = read_until_closed(&mut stream).await;
    assert_eq!(
        status_of(&bytes),
        408,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert!(started.elapsed() >= MAX_DURATION);
    // The handler was reading when it was cut off; it never saw a rejection.
    assert_eq!(seen.recv().await, Some(Seen::Reading));
    assert!(seen.try_recv().is_err());
    still_serving(server.addr, "a stalled body").await;
}

/// A client that sends part of the body and hangs up: the handler's read fails with `400`,
/// which nobody receives, and the server carries on.
#[tokio::test]
async fn a_client_that_disconnects_mid_body_fails_the_read_with_400() {
    let (server, mut seen) = start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"POST /api/echo HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .unwrap();
    assert_eq!(seen.recv().await, Some(Seen::Reading));
    drop(stream);
    assert_eq!(
        seen.recv().await,
        Some(Seen::Rejected(StatusCode::BAD_REQUEST))
    );
    still_serving(server.addr, "a disconnect mid-body").await;
}

/// A body over the limit is refused from its `Content-Length` before it is read. A client
/// that waits for `100 Continue` never gets one, and bytes sent after the `413` are never
/// read as a request of their own: hyper closes the connection.
#[tokio::test]
async fn an_early_413_is_final_and_late_body_bytes_are_not_a_request() {
    let (server, _seen) = start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let smuggled = b"GET /api/users/smuggled HTTP/1.1\r\nhost: t\r\n\r\n";
    stream
        .write_all(
            format!(
                "POST /api/echo HTTP/1.1\r\nhost: t\r\nexpect: 100-continue\r\n\
                 content-length: {}\r\n\r\n",
                smuggled.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut first = vec![0; 512];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&first[..n]).into_owned();
    assert!(first.starts_with("HTTP/1.1 413 "), "{first}");
    assert!(!first.contains("100 Continue"), "{first}");
    assert!(first.ends_with(TOO_LARGE), "{first}");
    // The late body: a write may fail once the server has closed; either way, nothing
    // more comes back.
    let _ = stream.write_all(smuggled).await;
    let mut rest = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest))
        .await
        .expect("the server closes the connection");
    assert!(read.is_ok() || rest.is_empty(), "{read:?}");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    still_serving(server.addr, "an early 413").await;
}

/// `Transfer-Encoding: chunked` beside `Content-Length`: hyper reads the body as chunked
/// and closes the connection after the response (RFC 9112 §6.1), so a request smuggled in
/// the length mismatch is never answered.
#[tokio::test]
async fn chunked_beside_content_length_is_read_as_chunked_then_closed() {
    let (server, _seen) = start().await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"POST /api/echo HTTP/1.1\r\nhost: t\r\ncontent-length: 3\r\n\
              transfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n\
              GET /api/users/smuggled HTTP/1.1\r\nhost: t\r\n\r\n",
        )
        .await
        .unwrap();
    let bytes = read_until_closed(&mut stream).await;
    let text = String::from_utf8_lossy(&bytes);
    assert_eq!(status_of(&bytes), 200, "{text}");
    assert!(text.contains("\r\nconnection: close\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nabc"), "{text}");
    assert_eq!(text.matches("HTTP/1.1").count(), 1, "{text}");
    still_serving(server.addr, "TE and CL").await;
}

/// The table mounted in axum 0.8 as the fallback, served by `axum::serve`: axum passes the
/// hostile path and the stalled body through unchanged, and the table answers them.
#[tokio::test]
async fn through_axum_the_table_answers_the_same() {
    let (tx, mut seen) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/up", axum::routing::get(|| async { "up" }))
        .fallback_service(table(tx));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    for (request, status, body) in [
        (get("/docs/../x"), 400, DOTS),
        (get("/api/users/%00"), 400, NUL),
        (head("PROPFIND", "/api/health", ""), 405, ""),
        (
            concat(&[
                &head("POST", "/api/echo", "content-length: 17\r\n"),
                b"12345678901234567",
            ]),
            413,
            TOO_LARGE,
        ),
        (get("/up"), 200, "up"),
    ] {
        let res = raw_exchange(addr, &request).await;
        assert_eq!(
            (res.status, String::from_utf8_lossy(&res.body).as_ref()),
            (status, body),
            "{}",
            String::from_utf8_lossy(&request[..40.min(request.len())])
        );
    }

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /api/echo HTTP/1.1\r\nhost: t\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let bytes = read_until_closed(&mut stream).await;
    assert_eq!(
        status_of(&bytes),
        408,
        "{}",
        String::from_utf8_lossy(&bytes)
    );
    assert_eq!(seen.recv().await, Some(Seen::Reading));

    let res = raw_exchange(addr, get("/up")).await;
    assert_eq!(res.status, 200);
    server.abort();
}
