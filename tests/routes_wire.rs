//! The route table on a real socket: served by hyper (HTTP/1.1 and HTTP/2 through
//! hyper-util's auto builder) and mounted in axum 0.8.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Version, header};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteTable, Routes, response::Json, routes::Path,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

async fn user(Path(id): Path<u32>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": id }))
}

async fn docs(_req: Request<Body>, ctx: RouteContext) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "slug": ctx.catch_all("slug") }))
}

fn table() -> RouteTable {
    Routes::new()
        .route("/api/users/[id]", RouteHandler::new().get(user))
        .route("/api/docs/[[...slug]]", RouteHandler::new().get(docs))
        .route(
            "/api/items",
            RouteHandler::new()
                .get(|| async { "items" })
                .post(|| async { StatusCode::CREATED }),
        )
        .build()
}

/// Serves `table` with hyper-util's auto builder (HTTP/1.1 or HTTP/2 by preface).
async fn serve_hyper(table: RouteTable) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let svc = TowerToHyperService::new(table.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

async fn serve_axum(app: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    addr
}

struct Reply {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
}

async fn fetch(addr: SocketAddr, h2: bool, method: Method, path: &str) -> Reply {
    let client = Client::builder(TokioExecutor::new())
        .http2_only(h2)
        .build_http::<Full<Bytes>>();
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Full::default())
        .unwrap();
    let res = client.request(req).await.unwrap();
    let (parts, body) = res.into_parts();
    Reply {
        status: parts.status,
        version: parts.version,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// Sends one raw HTTP/1.1 request and returns the whole reply, as bytes on the wire.
async fn raw(addr: SocketAddr, request_line: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let req = format!("{request_line}\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

/// The behaviours every mount must show, with `prefix` before each path.
async fn check(addr: SocketAddr, h2: bool, prefix: &str) {
    let at = |p: &str| format!("{prefix}{p}");
    let r = fetch(addr, h2, Method::GET, &at("/api/users/42")).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.version,
        if h2 {
            Version::HTTP_2
        } else {
            Version::HTTP_11
        }
    );
    assert_eq!(r.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(r.body, r#"{"id":42}"#);

    let r = fetch(addr, h2, Method::GET, &at("/api/docs/a/b%2Fc/")).await;
    assert_eq!(r.body, r#"{"slug":["a","b/c"]}"#);
    let r = fetch(addr, h2, Method::GET, &at("/api/docs")).await;
    assert_eq!(
        (r.status, &r.body[..]),
        (StatusCode::OK, &br#"{"slug":null}"#[..])
    );

    let r = fetch(addr, h2, Method::GET, &at("/api/users/forty-two")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.body,
        "cannot parse path parameter \"id\" with value \"forty-two\" as u32"
    );

    let r = fetch(addr, h2, Method::GET, &at("/api/users/%zz")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(r.body, "invalid percent-encoding in the request path");

    let r = fetch(addr, h2, Method::GET, &at("/api/nothing")).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::NOT_FOUND, 0));

    let r = fetch(addr, h2, Method::DELETE, &at("/api/users/1")).await;
    assert_eq!(
        (r.status, r.body.len()),
        (StatusCode::METHOD_NOT_ALLOWED, 0)
    );
    assert_eq!(r.headers[header::ALLOW], "GET, HEAD, OPTIONS");
    let r = fetch(addr, h2, Method::PUT, &at("/api/items")).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.headers[header::ALLOW], "GET, HEAD, OPTIONS, POST");
    let r = fetch(addr, h2, Method::OPTIONS, &at("/api/items/")).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.headers[header::ALLOW], "GET, HEAD, OPTIONS, POST");
    let r = fetch(addr, h2, Method::POST, &at("/api/items")).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn hyper_http1_and_http2() {
    let addr = serve_hyper(table()).await;
    check(addr, false, "").await;
    check(addr, true, "").await;
}

#[tokio::test]
async fn hyper_head_and_bad_escapes_on_the_wire() {
    let addr = serve_hyper(table()).await;
    let reply = raw(addr, "HEAD /api/users/42 HTTP/1.1").await;
    let (head, body) = reply.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("\r\ncontent-length: 9"),
        "{head}"
    );
    assert_eq!(body, "");

    let reply = raw(addr, "GET /api/docs/%E2%82 HTTP/1.1").await;
    assert!(reply.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\ninvalid percent-encoding in the request path"));
}

#[tokio::test]
async fn axum_fallback_service() {
    let app = axum::Router::new()
        .route("/health", axum::routing::get(|| async { "up" }))
        .fallback_service(table());
    let addr = serve_axum(app).await;
    check(addr, false, "").await;
    check(addr, true, "").await;
    let r = fetch(addr, false, Method::GET, "/health").await;
    assert_eq!(r.body, "up");
}

#[tokio::test]
async fn axum_nest_service() {
    let app = axum::Router::new().nest_service("/v1", table());
    let addr = serve_axum(app).await;
    check(addr, false, "/v1").await;
    check(addr, true, "/v1").await;
    let r = fetch(addr, false, Method::GET, "/api/users/42").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}
