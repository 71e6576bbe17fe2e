//! Finding 6: a client that stalls mid-body under `max_duration`.
//!
//! A handler waiting for the request body when `max_duration` runs out was answered `408`
//! when it read through `NextRequest`, but `504` when it collected `req.into_body()` (or a
//! `Body` argument) with `http_body_util::BodyExt::collect`. Expected: `408` both ways: the
//! client is the slow one.

mod support;

use std::time::Duration;

use http::Request;
use http_body_util::BodyExt;
use route_handlers::{Body, RouteHandler, Routes, request::NextRequest};
use support::serve;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const MAX: Duration = Duration::from_millis(300);

fn table() -> route_handlers::RouteTable {
    let next = RouteHandler::new()
        .post(|mut req: NextRequest| async move {
            let text = req.text().await?;
            Ok::<_, route_handlers::request::Rejection>(format!("read {}", text.len()))
        })
        .max_duration(MAX);
    let request = RouteHandler::new()
        .post(|req: Request<Body>| async move {
            match req.into_body().collect().await {
                Ok(body) => format!("read {}", body.to_bytes().len()),
                Err(err) => format!("error {err}"),
            }
        })
        .max_duration(MAX);
    let body = RouteHandler::new()
        .post(|body: Body| async move {
            match body.collect().await {
                Ok(body) => format!("read {}", body.to_bytes().len()),
                Err(err) => format!("error {err}"),
            }
        })
        .max_duration(MAX);
    Routes::new()
        .route("/next-request", next)
        .route("/request", request)
        .route("/body", body)
        .build()
}

/// Sends a `POST` announcing 100 body bytes, sends 10, stalls, and returns the status of
/// the response the server sends meanwhile (the connection stays open on our side).
async fn stalled_post(addr: std::net::SocketAddr, path: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: test\r\ncontent-type: text/plain\r\n\
         content-length: 100\r\n\r\n0123456789"
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let read_head = async {
        let mut buf = [0u8; 1024];
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buf).await.expect("read");
            assert!(
                n > 0,
                "closed without a response: {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read_head)
        .await
        .expect("a response within 10 s");
    let head = String::from_utf8_lossy(&got);
    head.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_text_is_answered_408() {
    let server = serve(table()).await;
    assert_eq!(stalled_post(server.addr, "/next-request").await, 408);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_into_body_collect_is_answered_408() {
    let server = serve(table()).await;
    assert_eq!(
        stalled_post(server.addr, "/request").await,
        408,
        "Request<Body> + into_body().collect() with a stalled client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_argument_collect_is_answered_408() {
    let server = serve(table()).await;
    assert_eq!(
        stalled_post(server.addr, "/body").await,
        408,
        "Body argument + collect() with a stalled client"
    );
}
