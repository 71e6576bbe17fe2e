//! Shared support for integration tests: a real hyper 1 server, real HTTP/1.1 and HTTP/2
//! clients, and a raw TCP client that returns the exact bytes a server sent.
//!
//! ```ignore
//! mod support;
//! use support::{Proto, serve, send};
//!
//! let server = serve(my_tower_service).await;
//! let reply = send(Proto::H2, server.addr, "GET", "/", &[], "").await;
//! assert_eq!(reply.status, 200);
//! let raw = support::raw(server.addr, "HEAD / HTTP/1.1\r\nhost: x\r\n\r\n").await;
//! assert!(raw.body.is_empty());
//! ```
//!
//! Every test file includes this module with `mod support;` and uses only part of it.
#![allow(dead_code, unreachable_pub)]

use std::{error::Error as StdError, net::SocketAddr, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinSet,
};

type BoxError = Box<dyn StdError + Send + Sync>;

/// A server running on `127.0.0.1` on a free port. Dropping it stops the server and every
/// connection it has open.
pub struct TestServer {
    /// The address the server listens on.
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `service` with hyper-util's `auto::Builder`, which speaks HTTP/1.1 and HTTP/2 with
/// prior knowledge on the same port, one task per connection.
pub async fn serve<S, B>(service: S) -> TestServer
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_with(service, |_| {}).await
}

/// Like [`serve`], with the connection builder set up by `configure` (limits, timers).
pub async fn serve_with<S, B>(
    service: S,
    configure: fn(&mut auto::Builder<TokioExecutor>),
) -> TestServer
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_hyper_with(TowerToHyperService::new(service), configure).await
}

/// Serves a hyper `Service` as it is, by reference (the crate's `hyper` feature), like
/// [`serve`].
pub async fn serve_hyper<S, B>(service: S) -> TestServer
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    serve_hyper_with(service, |_| {}).await
}

async fn serve_hyper_with<S, B>(
    service: S,
    configure: fn(&mut auto::Builder<TokioExecutor>),
) -> TestServer
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        // Dropping the set (when this task is aborted) aborts every connection task.
        let mut connections = JoinSet::new();
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let service = service.clone();
            connections.spawn(async move {
                let mut builder = auto::Builder::new(TokioExecutor::new());
                configure(&mut builder);
                // A connection error (a client hanging up, a malformed request) ends only
                // that connection.
                let _ = builder
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer { addr, task }
}

/// The HTTP version a [`send`] uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proto {
    /// HTTP/1.1.
    H1,
    /// HTTP/2 with prior knowledge (no upgrade, no TLS).
    H2,
}

impl Proto {
    /// Both versions, for tests that must hold on each.
    pub const BOTH: [Proto; 2] = [Proto::H1, Proto::H2];
}

/// What a client received: status, headers, and the body bytes as the client decoded them.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    /// The value of header `name` as a string, or `None` when absent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|v| v.to_str().expect("ascii header"))
    }
}

/// A hyper-util legacy client for `proto`. Use one client for several requests to test
/// connection reuse; [`send`] makes a fresh one each time.
pub fn client(proto: Proto) -> Client<HttpConnector, Full<Bytes>> {
    let mut builder = Client::builder(TokioExecutor::new());
    if proto == Proto::H2 {
        builder.http2_only(true);
    }
    builder.build_http()
}

/// Sends one request with a fresh client and reads the whole response.
///
/// `method` may be any token (`PROPFIND`, `get`); `headers` are added as given.
pub async fn send(
    proto: Proto,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    send_with(&client(proto), addr, method, path, headers, body).await
}

/// Like [`send`], with a given client.
pub async fn send_with(
    client: &Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Reply {
    let mut req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("method token"))
        .uri(format!("http://{addr}{path}"));
    for (name, value) in headers {
        req = req.header(
            HeaderName::from_bytes(name.as_bytes()).expect("header name"),
            HeaderValue::from_str(value).expect("header value"),
        );
    }
    let req = req.body(Full::new(body.into())).expect("request");
    let res = tokio::time::timeout(Duration::from_secs(10), client.request(req))
        .await
        .expect("response within 10 s")
        .unwrap_or_else(|err| panic!("{method} {path}: {err:?}"));
    let (parts, body) = res.into_parts();
    let body = body.collect().await.expect("response body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body,
    }
}

/// A response read off a raw TCP connection.
#[derive(Debug)]
pub struct RawResponse {
    /// Every byte the server sent, as received.
    pub bytes: Vec<u8>,
    /// The status code of the status line.
    pub status: u16,
    /// The header fields, names lowercased, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The bytes after the blank line that ends the head, as received (chunk framing
    /// included).
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of the only header field named `name`; panics when it is sent more than once.
    pub fn header(&self, name: &str) -> Option<&str> {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let first = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} sent more than once");
        first
    }

    fn parse(bytes: Vec<u8>) -> Self {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .unwrap_or_else(|| panic!("no end of head in {:?}", String::from_utf8_lossy(&bytes)));
        let head = std::str::from_utf8(&bytes[..end]).expect("ascii head");
        let mut lines = head.split("\r\n");
        let status_line = lines.next().expect("status line");
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let headers = lines
            .map(|line| {
                let (name, value) = line.split_once(':').expect("header line");
                (name.to_ascii_lowercase(), value.trim().to_owned())
            })
            .collect();
        let body = bytes[end + 4..].to_vec();
        Self {
            bytes,
            status,
            headers,
            body,
        }
    }
}

/// Writes `request` (a complete HTTP/1.1 request, head and body) to a new TCP connection
/// and returns every byte the server sends until it closes the connection.
///
/// Ask the server to close by sending `connection: close`; the read stops at end of
/// stream, so no body byte a server wrongly sends after a `HEAD` head goes unseen.
pub async fn raw_bytes(addr: SocketAddr, request: impl AsRef<[u8]>) -> Vec<u8> {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request.as_ref()).await.expect("write");
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("server closed within 10 s")
        .expect("read");
    out
}

/// Sends `method path` over HTTP/1.1 on a raw TCP connection with `connection: close`
/// and the given extra header lines and body, and parses the single response.
pub async fn raw(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> RawResponse {
    let mut req = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    for (name, value) in headers {
        req.push_str(&format!("{name}: {value}\r\n"));
    }
    if !body.is_empty() {
        req.push_str(&format!("content-length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    RawResponse::parse(raw_bytes(addr, req).await)
}

/// Writes `request` (any bytes, also ones a client would refuse to send) to a new TCP
/// connection and parses the single response the server sends before it closes.
pub async fn raw_exchange(addr: SocketAddr, request: impl AsRef<[u8]>) -> RawResponse {
    RawResponse::parse(raw_bytes(addr, request).await)
}

/// Like [`serve`], on a listener with a backlog of `backlog` pending connections (the
/// kernel caps it at `net.core.somaxconn`), for tests that open many connections at once:
/// past the default backlog of 1,024 the kernel drops connection attempts, and clients
/// retry only after a second.
pub async fn serve_with_backlog<S, B>(service: S, backlog: u32) -> TestServer
where
    S: tower::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .expect("bind");
    let listener = socket.listen(backlog).expect("listen");
    let addr = listener.local_addr().expect("local addr");
    let task = tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            let (stream, _) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(_) => continue,
            };
            let _ = stream.set_nodelay(true);
            let service = TowerToHyperService::new(service.clone());
            connections.spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    TestServer { addr, task }
}

/// Log output captured on the test's thread while it lives (current-thread runtimes: the
/// server's tasks run there too).
pub struct Logs {
    buf: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl Logs {
    /// Captures events at `level` and above, without timestamps or colours.
    pub fn capture(level: tracing::Level) -> Self {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = LogSink(buf.clone());
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .without_time()
            .with_max_level(level)
            .finish();
        quiet_global_subscriber();
        Self {
            buf,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything captured so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.buf.lock().unwrap().clone()).unwrap()
    }

    /// The captured lines.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }
}

#[derive(Clone)]
struct LogSink(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs a global subscriber that records nothing, once per test binary.
///
/// tracing rebuilds callsite interest from the calling thread's default dispatcher while only
/// one dispatcher is registered, so a test thread without a subscriber can switch logging off
/// for a test that captures it. A registered global dispatcher keeps rebuilds looking at all.
fn quiet_global_subscriber() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ =
            tracing::subscriber::set_global_default(tracing::subscriber::NoSubscriber::default());
    });
}
