//! The request and response helpers, guards and metadata routes through a real hyper server
//! on 127.0.0.1 (hyper-util's auto builder: HTTP/1.1 and HTTP/2) and a real client, and
//! through an axum app.

use std::{
    convert::Infallible,
    io,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

mod support;

use bytes::Bytes;
use futures::StreamExt;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteHandlerService,
    cookie::Cookie,
    metadata::{ChangeFrequency, Robots, RobotsRule, Sitemap, SitemapUrl},
    request::NextRequest,
    response::{self, Event, HttpError, IntoResponse, Json, SetCookieExt},
};
use support::Logs;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
};
use tower::service_fn;

// ---------------------------------------------------------------------------------------
// Test support: a server for a few routes by exact path, a client, log capture.
// ---------------------------------------------------------------------------------------

/// Serves `routes` (exact paths; anything else is 404) on a fresh port.
async fn serve(routes: Vec<(&'static str, RouteHandlerService)>) -> SocketAddr {
    let routes = Arc::new(routes);
    let app = service_fn(move |req: Request<Incoming>| {
        let routes = routes.clone();
        async move {
            let found = routes.iter().find(|(p, _)| *p == req.uri().path());
            Ok::<_, Infallible>(match found {
                Some((_, svc)) => {
                    let req = req.map(Body::new);
                    svc.call_with_context(req, RouteContext::default())
                        .await
                        .unwrap()
                }
                None => StatusCode::NOT_FOUND.into_response(),
            })
        }
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let svc = TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                // A client that goes away mid-response ends its connection with an error;
                // the server carries on with the others.
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

fn client(h2: bool) -> Client<HttpConnector, Body> {
    let mut builder = Client::builder(TokioExecutor::new());
    builder.http2_only(h2);
    builder.build_http()
}

fn version(h2: bool) -> http::Version {
    if h2 {
        http::Version::HTTP_2
    } else {
        http::Version::HTTP_11
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

async fn send(h2: bool, req: Request<Body>) -> Reply {
    let res = client(h2).request(req).await.unwrap();
    assert_eq!(res.version(), version(h2));
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(addr: SocketAddr, path: &str) -> Request<Body> {
    Request::get(format!("http://{addr}{path}"))
        .body(Body::empty())
        .unwrap()
}

fn post(addr: SocketAddr, path: &str, content_type: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(format!("http://{addr}{path}"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap()
}

/// Sets a flag when dropped.
struct DropFlag(Arc<AtomicBool>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

// ---------------------------------------------------------------------------------------
// Routes
// ---------------------------------------------------------------------------------------

#[derive(serde::Deserialize, serde::Serialize)]
struct Message {
    text: String,
}

/// Reads JSON and a cookie, answers JSON and sets a cookie.
fn echo_route() -> RouteHandlerService {
    RouteHandler::new()
        .post(|mut req: NextRequest, _ctx: RouteContext| async move {
            let session = req.cookies().value("session").map(str::to_owned);
            let theme = req.cookies().value("theme").map(str::to_owned);
            let message: Message = req.json().await?;
            let res = response::json(serde_json::json!({
                "text": message.text,
                "session": session,
                "theme": theme,
            }))
            .with_cookie(("seen", "1"))
            .with_cookie(Cookie::build(("greeting", "hi there")).http_only(true))
            .without_cookie("old");
            Ok::<_, HttpError>(res)
        })
        .put(|mut req: NextRequest| async move { req.text().await })
        .body_limit(64)
        .path("/api/echo")
        .into_service()
}

// ---------------------------------------------------------------------------------------
// Request helpers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn echo_reads_json_and_cookies_and_sets_cookies() {
    let addr = serve(vec![("/api/echo", echo_route())]).await;
    for h2 in [false, true] {
        let mut req = post(addr, "/api/echo", "application/json", r#"{"text":"hello"}"#);
        // Two `cookie` fields, as HTTP/2 clients send them.
        req.headers_mut()
            .append(header::COOKIE, "session=s%201".parse().unwrap());
        req.headers_mut()
            .append(header::COOKIE, "theme=dark".parse().unwrap());
        let reply = send(h2, req).await;
        assert_eq!(reply.status, StatusCode::OK, "h2={h2}");
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/json");
        assert_eq!(
            reply.body,
            r#"{"session":"s 1","text":"hello","theme":"dark"}"#
        );
        let set: Vec<_> = reply.headers.get_all(header::SET_COOKIE).iter().collect();
        assert_eq!(
            set,
            [
                "seen=1; Path=/",
                "greeting=hi%20there; HttpOnly; Path=/",
                "old=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
            ]
        );
    }
}

#[tokio::test]
async fn bad_bodies_get_their_status_and_message() {
    let addr = serve(vec![("/api/echo", echo_route())]).await;
    let json = "application/json";
    for h2 in [false, true] {
        let big = "x".repeat(100);
        let chunks = futures::stream::iter(
            ["{\"text\":\"", &"y".repeat(40), &"y".repeat(40), "\"}"]
                .map(|s| Ok::<_, Infallible>(Bytes::from(s.to_owned()))),
        );
        let put = |body: Body| {
            Request::put(format!("http://{addr}/api/echo"))
                .body(body)
                .unwrap()
        };
        let cases = [
            (
                "too large (content-length)",
                post(addr, "/api/echo", json, big.clone()),
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is larger than the limit of 64 bytes",
            ),
            (
                "too large (counted while streaming)",
                post(addr, "/api/echo", json, Body::from_stream(chunks)),
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is larger than the limit of 64 bytes",
            ),
            (
                "malformed JSON",
                post(addr, "/api/echo", json, "{\"text\":"),
                StatusCode::BAD_REQUEST,
                "malformed JSON in the request body: EOF while parsing a value at line 1 column 8",
            ),
            (
                "JSON of another shape",
                post(addr, "/api/echo", json, "{\"txt\":\"a\"}"),
                StatusCode::BAD_REQUEST,
                "the JSON request body does not match the expected shape: missing field `text` at line 1 column 11",
            ),
            (
                "wrong content type",
                post(
                    addr,
                    "/api/echo",
                    "text/plain;charset=UTF-8",
                    "{\"text\":\"a\"}",
                ),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request body with `content-type: application/json`, got `text/plain;charset=UTF-8`",
            ),
            (
                "invalid UTF-8 in text()",
                put(Body::from(&b"caf\xc3\x28"[..])),
                StatusCode::BAD_REQUEST,
                "request body is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 3",
            ),
        ];
        for (what, req, status, message) in cases {
            let reply = send(h2, req).await;
            assert_eq!(
                (reply.status, reply.body.as_str()),
                (status, message),
                "{what}, h2={h2}"
            );
            assert_eq!(
                reply.headers[header::CONTENT_TYPE],
                "text/plain; charset=utf-8"
            );
        }
    }
}

#[tokio::test]
async fn a_large_upload_is_refused_without_reading_it_and_the_server_keeps_serving() {
    let addr = serve(vec![("/api/echo", echo_route())]).await;
    // 1 MiB announced by Content-Length; the handler answers before reading it.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = "POST /api/echo HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 1048576\r\n\r\n";
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(
        text.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{text}"
    );
    assert!(
        text.ends_with("request body is larger than the limit of 64 bytes"),
        "{text}"
    );
    drop(stream);

    let reply = send(
        false,
        post(addr, "/api/echo", "application/json", r#"{"text":"ok"}"#),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_body_is_read_as_it_arrives() {
    let (seen_tx, mut seen_rx) = mpsc::channel::<usize>(8);
    let route = RouteHandler::new()
        .post(move |mut req: NextRequest| {
            let seen = seen_tx.clone();
            async move {
                let mut total = 0;
                while let Some(chunk) = req.chunk().await? {
                    total += chunk.len();
                    seen.send(total).await.unwrap();
                }
                Ok::<_, HttpError>(total.to_string())
            }
        })
        .into_service();
    let addr = serve(vec![("/upload", route)]).await;
    for h2 in [false, true] {
        let (chunk_tx, chunk_rx) = mpsc::channel::<Result<Bytes, Infallible>>(1);
        let body = Body::from_stream(futures::stream::unfold(chunk_rx, |mut rx| async move {
            rx.recv().await.map(|c| (c, rx))
        }));
        let req = Request::post(format!("http://{addr}/upload"))
            .body(body)
            .unwrap();
        let reply = tokio::spawn(send(h2, req));
        // Each chunk reaches the handler before the next one is sent.
        chunk_tx.send(Ok(Bytes::from("abc"))).await.unwrap();
        assert_eq!(seen_rx.recv().await, Some(3));
        chunk_tx.send(Ok(Bytes::from("defg"))).await.unwrap();
        assert_eq!(seen_rx.recv().await, Some(7));
        drop(chunk_tx);
        let reply = reply.await.unwrap();
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "7"));
    }
}

#[tokio::test]
async fn query_pathname_and_extractors() {
    #[derive(serde::Deserialize)]
    struct Page {
        page: u32,
    }
    let route = RouteHandler::new()
        .get(|req: NextRequest| async move {
            let page: Page = req.query()?;
            let tags: Vec<String> = req
                .search_params()
                .get_all("tag")
                .map(|t| t.into_owned())
                .collect();
            Ok::<_, HttpError>(format!("{} {} {tags:?}", req.pathname(), page.page))
        })
        .post(
            |route_handlers::request::Query(page): route_handlers::request::Query<Page>,
             Json(message): Json<Message>| async move {
                format!("{} {}", page.page, message.text)
            },
        )
        .into_service();
    let addr = serve(vec![("/items", route)]).await;
    for h2 in [false, true] {
        let reply = send(h2, get(addr, "/items?page=2&tag=a+b&tag=%C3%A9")).await;
        assert_eq!(reply.body, r#"/items 2 ["a b", "é"]"#);
        let reply = send(h2, get(addr, "/items?page=two")).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                StatusCode::BAD_REQUEST,
                "invalid query string: page: invalid digit found in string"
            )
        );
        let reply = send(
            h2,
            post(addr, "/items?page=4", "application/json", r#"{"text":"t"}"#),
        )
        .await;
        assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "4 t"));
    }
}

// ---------------------------------------------------------------------------------------
// Response helpers
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn redirects_and_control_flow_errors() {
    async fn lookup(id: &str) -> Result<&'static str, HttpError> {
        match id {
            "1" => Ok("ada"),
            "admin" => Err(response::forbidden()),
            "anon" => Err(response::unauthorized()),
            "moved" => Err(HttpError::permanent_redirect("/users/1")),
            _ => Err(response::not_found()),
        }
    }
    let users = RouteHandler::new()
        .get(|req: NextRequest| async move {
            let id = req.search_params().get("id").unwrap_or_default();
            let name = lookup(&id).await?;
            Ok::<_, HttpError>(name)
        })
        .into_service();
    let old = RouteHandler::new()
        .get(|| async { response::redirect("/api/new?from=old") })
        .post(|| async { response::redirect_with("/done", StatusCode::SEE_OTHER) })
        .put(|| async { response::redirect_with("/done", StatusCode::OK) })
        .into_service();
    let addr = serve(vec![("/users", users), ("/api/old", old)]).await;
    for h2 in [false, true] {
        let cases = [
            ("1", StatusCode::OK, "ada"),
            ("admin", StatusCode::FORBIDDEN, ""),
            ("anon", StatusCode::UNAUTHORIZED, ""),
            ("2", StatusCode::NOT_FOUND, ""),
            ("moved", StatusCode::PERMANENT_REDIRECT, ""),
        ];
        for (id, status, body) in cases {
            let reply = send(h2, get(addr, &format!("/users?id={id}"))).await;
            assert_eq!((reply.status, reply.body.as_str()), (status, body), "{id}");
        }

        let reply = send(h2, get(addr, "/api/old")).await;
        assert_eq!(reply.status, StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(reply.headers[header::LOCATION], "/api/new?from=old");
        let length = reply.headers.get(header::CONTENT_LENGTH);
        assert!(length.is_none_or(|l| l == "0"), "{length:?}");
        assert!(reply.body.is_empty());

        let req = Request::post(format!("http://{addr}/api/old"))
            .body(Body::empty())
            .unwrap();
        let reply = send(h2, req).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.headers[header::LOCATION], "/done");

        // A non-redirect status is a bug in the handler: 500, empty body.
        let req = Request::put(format!("http://{addr}/api/old"))
            .body(Body::empty())
            .unwrap();
        let reply = send(h2, req).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::INTERNAL_SERVER_ERROR, "")
        );
    }
}

// ---------------------------------------------------------------------------------------
// Errors, panics and max_duration while other requests succeed
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_panicking_handler_answers_500_and_the_server_keeps_serving() {
    let logs = Logs::capture(tracing::Level::INFO);
    let boom = RouteHandler::new()
        .get(|| async {
            if true {
                panic!("boom at the wire");
            }
            "never"
        })
        .post(|| async {
            let err = io::Error::other("the database is down");
            Err::<&str, HttpError>(err.into())
        })
        .path("/api/boom")
        .into_service();
    let ok = RouteHandler::new().get(|| async { "fine" }).into_service();
    let addr = serve(vec![("/api/boom", boom), ("/api/ok", ok)]).await;
    for h2 in [false, true] {
        // One client, so HTTP/1.1 reuses the connection and HTTP/2 multiplexes on one.
        let client = client(h2);
        let warm = client.request(get(addr, "/api/ok")).await.unwrap();
        assert_eq!(warm.status(), StatusCode::OK);
        let boom = client.request(get(addr, "/api/boom"));
        let ok = client.request(get(addr, "/api/ok"));
        let (boom, ok) = tokio::join!(boom, ok);
        let (boom, ok) = (boom.unwrap(), ok.unwrap());
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            boom.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.into_body().collect().await.unwrap().to_bytes(), "fine");

        let res = client
            .request(post(addr, "/api/boom", "text/plain", ""))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            res.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );

        let res = client.request(get(addr, "/api/ok")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    let text = logs.text();
    let panics = text
        .lines()
        .filter(|l| l.contains("route handler panicked; answered 500"))
        .collect::<Vec<_>>();
    assert_eq!(panics.len(), 2, "{text}");
    assert!(panics[0].contains("route=\"/api/boom\" method=\"GET\" panic=boom at the wire"));
    let failures = text
        .lines()
        .filter(|l| l.contains("route handler failed; answered 500"))
        .collect::<Vec<_>>();
    assert_eq!(failures.len(), 2, "{text}");
    assert!(failures[0].contains("route=\"/api/boom\" method=\"POST\" error=the database is down"));
}

#[tokio::test(start_paused = true)]
async fn a_slow_handler_is_cut_off_while_another_request_succeeds() {
    let logs = Logs::capture(tracing::Level::INFO);
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let slow = RouteHandler::new()
        .get(move || {
            let flag = DropFlag(flag.clone());
            async move {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                drop(flag);
                "too late"
            }
        })
        .max_duration(Duration::from_secs(10))
        .path("/api/slow")
        .into_service();
    let ok = RouteHandler::new()
        .get(|| async {
            tokio::time::sleep(Duration::from_secs(1)).await;
            "fine"
        })
        .max_duration(Duration::from_secs(10))
        .into_service();
    let addr = serve(vec![("/api/slow", slow), ("/api/ok", ok)]).await;
    for h2 in [false, true] {
        let client = client(h2);
        // Open the connection first, so that HTTP/2 multiplexes both requests on it.
        let warm = client.request(get(addr, "/api/ok")).await.unwrap();
        assert_eq!(warm.status(), StatusCode::OK);
        let start = tokio::time::Instant::now();
        let (slow, ok) = tokio::join!(
            client.request(get(addr, "/api/slow")),
            client.request(get(addr, "/api/ok"))
        );
        let (slow, ok) = (slow.unwrap(), ok.unwrap());
        assert_eq!(slow.status(), StatusCode::GATEWAY_TIMEOUT);
        assert!(
            slow.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.into_body().collect().await.unwrap().to_bytes(), "fine");
        let elapsed = start.elapsed();
        assert!(
            elapsed >= Duration::from_secs(10) && elapsed < Duration::from_secs(11),
            "{elapsed:?}"
        );
        assert!(
            dropped.swap(false, Ordering::SeqCst),
            "the slow handler was dropped"
        );
    }
    let text = logs.text();
    let lines: Vec<_> = text
        .lines()
        .filter(|l| l.contains("route handler ran past its max_duration; answered 504"))
        .collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].contains("route=\"/api/slow\" method=\"GET\" max_duration=10s"));
}

// ---------------------------------------------------------------------------------------
// Streaming responses
// ---------------------------------------------------------------------------------------

fn events_route(
    ticks: Arc<Mutex<Option<mpsc::Receiver<u32>>>>,
    dropped: Arc<AtomicBool>,
) -> RouteHandlerService {
    RouteHandler::new()
        .get(move || {
            let rx = ticks
                .lock()
                .unwrap()
                .take()
                .expect("one stream per test run");
            let flag = DropFlag(dropped.clone());
            let events = futures::stream::unfold((rx, flag), |(mut rx, flag)| async move {
                let n = rx.recv().await?;
                let event = Event::new()
                    .event("tick")
                    .id(n.to_string())
                    .data(format!("n={n}"));
                Some((event, (rx, flag)))
            });
            async move { response::sse(events) }
        })
        .into_service()
}

#[tokio::test]
async fn server_sent_events_arrive_one_by_one_and_a_disconnect_is_quiet() {
    let logs = Logs::capture(tracing::Level::TRACE);
    for h2 in [false, true] {
        let (tx, rx) = mpsc::channel::<u32>(4);
        let dropped = Arc::new(AtomicBool::new(false));
        let route = events_route(Arc::new(Mutex::new(Some(rx))), dropped.clone());
        let addr = serve(vec![("/api/events", route)]).await;

        let client = client(h2);
        let res = client.request(get(addr, "/api/events")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[header::CONTENT_TYPE], "text/event-stream");
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
        assert!(res.headers().get(header::CONTENT_LENGTH).is_none());
        let mut body = res.into_body();

        for n in 1..=2 {
            tx.send(n).await.unwrap();
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(
                frame.into_data().unwrap(),
                format!("event: tick\nid: {n}\ndata: n={n}\n\n")
            );
        }
        // The client goes away mid-stream.
        drop(body);
        drop(client);
        while !dropped.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        // The producer sees the stream gone.
        let closed = tx.closed();
        tokio::time::timeout(Duration::from_secs(5), closed)
            .await
            .expect("the event stream was dropped with its receiver");
    }
    // Everything is captured (hyper, h2 and ours, down to TRACE): nothing of ours, and no
    // warning or error from anyone.
    let text = logs.text();
    assert!(!text.is_empty(), "the capture works");
    for line in text.lines() {
        let level = line.split_whitespace().nth(1).unwrap_or("");
        assert!(
            level != "ERROR" && level != "WARN" && !line.contains("route_handlers"),
            "a disconnect must not log: {line}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// Metadata routes
// ---------------------------------------------------------------------------------------

fn metadata_routes() -> Vec<(&'static str, RouteHandlerService)> {
    let sitemap = Sitemap::new()
        .url(
            SitemapUrl::new("https://acme.test/")
                .lastmod("2024-05-01T12:00:00Z")
                .change_frequency(ChangeFrequency::Daily)
                .priority(0.5),
        )
        .url("https://acme.test/a?b=1&c=2")
        .into_route();
    let robots = Robots::new()
        .rule(RobotsRule::new().user_agent("Googlebot").allow("/"))
        .rule(RobotsRule::new().disallow("/private/"))
        .host("acme.test")
        .sitemap("https://acme.test/sitemap.xml")
        .into_route();
    vec![
        ("/sitemap.xml", sitemap.into_service()),
        ("/robots.txt", robots.into_service()),
    ]
}

const SITEMAP: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n\
<url>\n<loc>https://acme.test/</loc>\n<lastmod>2024-05-01T12:00:00Z</lastmod>\n\
<changefreq>daily</changefreq>\n<priority>0.5</priority>\n</url>\n\
<url>\n<loc>https://acme.test/a?b=1&amp;c=2</loc>\n</url>\n\
</urlset>\n";

const ROBOTS: &str = "User-Agent: Googlebot\nAllow: /\n\nUser-Agent: *\nDisallow: /private/\n\n\
Host: acme.test\nSitemap: https://acme.test/sitemap.xml\n";

#[tokio::test]
async fn sitemap_and_robots_are_served() {
    let addr = serve(metadata_routes()).await;
    for h2 in [false, true] {
        let reply = send(h2, get(addr, "/sitemap.xml")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.headers[header::CONTENT_TYPE], "application/xml");
        assert_eq!(
            reply.headers[header::CONTENT_LENGTH],
            SITEMAP.len().to_string()
        );
        assert_eq!(reply.body, SITEMAP);

        let reply = send(h2, get(addr, "/robots.txt")).await;
        assert_eq!(
            reply.headers[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_eq!(reply.body, ROBOTS);

        let req = Request::post(format!("http://{addr}/robots.txt"))
            .body(Body::empty())
            .unwrap();
        let reply = send(h2, req).await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.headers[header::ALLOW], "GET, HEAD, OPTIONS");
    }

    // HEAD at the wire: the headers of GET, no body.
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"HEAD /sitemap.xml HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8(raw).unwrap();
    assert!(raw.starts_with("HTTP/1.1 200 OK\r\n"), "{raw}");
    assert!(
        raw.contains(&format!("content-length: {}\r\n", SITEMAP.len())),
        "{raw}"
    );
    assert!(raw.ends_with("\r\n\r\n"), "no body after the head: {raw}");
}

// ---------------------------------------------------------------------------------------
// Through axum
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn the_helpers_work_inside_an_axum_app() {
    let [sitemap, _robots] = <[_; 2]>::try_from(metadata_routes()).ok().unwrap();
    let boom = RouteHandler::new()
        .get(|| async {
            if true {
                panic!("boom in axum");
            }
            "never"
        })
        .into_service();
    let app = axum::Router::new()
        .route_service("/api/echo", echo_route())
        .route_service("/api/boom", boom)
        .route_service("/sitemap.xml", sitemap.1);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut req = post(addr, "/api/echo", "application/json", r#"{"text":"axum"}"#);
    req.headers_mut()
        .insert(header::COOKIE, "session=x; theme=light".parse().unwrap());
    let reply = send(false, req).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        r#"{"session":"x","text":"axum","theme":"light"}"#
    );
    assert_eq!(reply.headers.get_all(header::SET_COOKIE).iter().count(), 3);

    let reply = send(false, post(addr, "/api/echo", "application/json", "{")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);

    let reply = send(false, get(addr, "/api/boom")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "")
    );
    let reply = send(false, get(addr, "/sitemap.xml")).await;
    assert_eq!(reply.body, SITEMAP);
}

/// A response body can be any stream of bytes.
#[tokio::test]
async fn a_streaming_body_of_bytes() {
    let route = RouteHandler::new()
        .get(|| async {
            let chunks = futures::stream::iter(0..3)
                .then(|i| async move { Ok::<_, Infallible>(Bytes::from(format!("chunk{i};"))) });
            Response::new(Body::from_stream(chunks))
        })
        .into_service();
    let addr = serve(vec![("/stream", route)]).await;
    for h2 in [false, true] {
        let reply = send(h2, get(addr, "/stream")).await;
        assert_eq!(reply.body, "chunk0;chunk1;chunk2;");
    }
}

#[tokio::test]
async fn forms_cookies_headers_and_body_streams() {
    use futures::TryStreamExt;
    use route_handlers::request::{Cookies, Form};

    #[derive(serde::Deserialize)]
    struct Signup {
        email: String,
    }
    let route = RouteHandler::new()
        .post(|mut req: NextRequest| async move {
            let signup: Signup = req.form().await?;
            let agent = req.header(header::USER_AGENT).cloned();
            Ok::<_, HttpError>(format!("{} {:?}", signup.email, agent))
        })
        .put(|cookies: Cookies, Form(signup): Form<Signup>| async move {
            format!("{} {:?}", signup.email, cookies.value("id"))
        })
        .patch(|req: NextRequest| async move {
            let sizes: Vec<usize> = req
                .into_body_stream()
                .map_ok(|chunk| chunk.len())
                .try_collect()
                .await?;
            Ok::<_, HttpError>(format!("{sizes:?}"))
        })
        .body_limit(16)
        .into_service();
    let addr = serve(vec![("/form", route)]).await;
    let form = "application/x-www-form-urlencoded";
    for h2 in [false, true] {
        let mut req = post(addr, "/form", form, "email=a%40b");
        req.headers_mut()
            .insert(header::USER_AGENT, "wire-test".parse().unwrap());
        let reply = send(h2, req).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "a@b Some(\"wire-test\")")
        );

        let reply = send(h2, post(addr, "/form", "application/json", "{}")).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request body with `content-type: application/x-www-form-urlencoded`, got `application/json`"
            )
        );

        let mut req = post(addr, "/form", form, "email=c");
        *req.method_mut() = http::Method::PUT;
        req.headers_mut()
            .insert(header::COOKIE, "id=7".parse().unwrap());
        let reply = send(h2, req).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (StatusCode::OK, "c Some(\"7\")")
        );

        let chunks = ["abc", "de"].map(|c| Ok::<_, Infallible>(Bytes::from_static(c.as_bytes())));
        let mut req = post(
            addr,
            "/form",
            "text/plain",
            Body::from_stream(futures::stream::iter(chunks)),
        );
        *req.method_mut() = http::Method::PATCH;
        let reply = send(h2, req).await;
        assert_eq!(reply.status, StatusCode::OK);
        let sizes: Vec<usize> = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(sizes.iter().sum::<usize>(), 5);

        let mut req = post(addr, "/form", "text/plain", "0123456789abcdefg");
        *req.method_mut() = http::Method::PATCH;
        let reply = send(h2, req).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is larger than the limit of 16 bytes"
            )
        );
    }
}

#[tokio::test(start_paused = true)]
async fn server_sent_events_keep_alive_over_the_wire() {
    let route = RouteHandler::new()
        .get(|| async {
            response::sse(futures::stream::pending::<Event>()).keep_alive(Duration::from_secs(15))
        })
        .into_service();
    let addr = serve(vec![("/api/events", route)]).await;
    for h2 in [false, true] {
        let res = client(h2).request(get(addr, "/api/events")).await.unwrap();
        let mut body = res.into_body();
        let start = tokio::time::Instant::now();
        for _ in 0..2 {
            let frame = body.frame().await.unwrap().unwrap();
            assert_eq!(frame.into_data().unwrap(), ":\n\n");
        }
        // The paused clock also jumps ahead while the runtime waits on the socket, so only
        // a lower bound holds here; the exact interval is tested in the unit tests.
        assert!(start.elapsed() >= Duration::from_secs(30));
    }
}
