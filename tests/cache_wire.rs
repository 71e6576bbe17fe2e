//! The route cache through real sockets: a hyper 1 server (HTTP/1.1 and HTTP/2 on the same
//! listener) with hyper-util's client or raw TCP, and mounted in an axum 0.8 app.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    Body, RouteHandler, RouteHandlerService,
    cache::{Cache, CacheConfig, CacheLayer, Dynamic},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

const STATUS: &str = "x-route-cache";

/// Serves `svc` on 127.0.0.1, HTTP/1.1 and HTTP/2 (prior knowledge) alike.
async fn serve(svc: RouteHandlerService) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let svc = TowerToHyperService::new(svc.clone());
            tokio::spawn(async move {
                let _ = auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Version {
    H1,
    H2,
}

fn client(version: Version) -> Client<HttpConnector, Empty<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(version == Version::H2)
        .build_http()
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    version: http::Version,
}

impl Reply {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("-", |v| v.to_str().unwrap())
    }
}

async fn fetch(
    client: &Client<HttpConnector, Empty<Bytes>>,
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = Request::get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = client
        .request(req.body(Empty::new()).unwrap())
        .await
        .unwrap();
    let (parts, body) = res.into_parts();
    Reply {
        status: parts.status,
        headers: parts.headers,
        version: parts.version,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// Sends `request` over a fresh HTTP/1.1 connection and returns all the bytes the server
/// wrote until it closed the connection.
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.unwrap();
    String::from_utf8(out).unwrap()
}

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn time_route(runs: &Counter, cache: &Cache) -> RouteHandlerService {
    let runs = runs.clone();
    RouteHandler::new()
        .get(move || {
            let n = runs.bump();
            async move { format!("{{\"generation\":{n}}}") }
        })
        .path("/api/time")
        .dynamic(Dynamic::ForceStatic)
        .revalidate(10)
        .cache(cache)
        .into_service()
}

#[tokio::test(start_paused = true)]
async fn age_etag_304_and_the_status_header_over_h1_and_h2() {
    for version in [Version::H1, Version::H2] {
        let runs = Counter::default();
        let addr = serve(time_route(&runs, &Cache::new())).await;
        let client = client(version);

        let miss = fetch(&client, addr, "/api/time", &[]).await;
        assert_eq!(
            miss.version,
            match version {
                Version::H1 => http::Version::HTTP_11,
                Version::H2 => http::Version::HTTP_2,
            }
        );
        assert_eq!(miss.status, StatusCode::OK);
        assert_eq!(miss.header(STATUS), "MISS");
        assert_eq!(miss.header("age"), "0");
        assert_eq!(
            miss.header("cache-control"),
            "s-maxage=10, stale-while-revalidate=31535990"
        );
        assert_eq!(miss.header("content-length"), "16");
        assert_eq!(miss.body, "{\"generation\":1}");
        let etag = miss.header("etag").to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");

        tokio::time::advance(Duration::from_secs(7)).await;
        let hit = fetch(&client, addr, "/api/time", &[]).await;
        assert_eq!((hit.header(STATUS), hit.header("age")), ("HIT", "7"));
        assert_eq!(hit.header("etag"), etag);
        assert_eq!(hit.body, miss.body);

        let not_modified = fetch(&client, addr, "/api/time", &[("if-none-match", &etag)]).await;
        assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
        assert_eq!(not_modified.header(STATUS), "HIT");
        assert_eq!(not_modified.header("etag"), etag);
        assert!(not_modified.body.is_empty());

        tokio::time::advance(Duration::from_secs(4)).await;
        let stale = fetch(&client, addr, "/api/time", &[]).await;
        assert_eq!((stale.header(STATUS), stale.header("age")), ("STALE", "11"));
        assert_eq!(stale.body, miss.body);
        // The regeneration runs in the background; the next request sees it.
        let mut fresh = fetch(&client, addr, "/api/time", &[]).await;
        for _ in 0..50 {
            if fresh.header(STATUS) == "HIT" {
                break;
            }
            tokio::task::yield_now().await;
            fresh = fetch(&client, addr, "/api/time", &[]).await;
        }
        assert_eq!((fresh.header(STATUS), fresh.header("age")), ("HIT", "0"));
        assert_eq!(fresh.body, "{\"generation\":2}");
        assert_ne!(fresh.header("etag"), etag);
        assert_eq!(runs.get(), 2, "{version:?}");
    }
}

#[tokio::test]
async fn head_miss_then_get_at_the_wire() {
    let runs = Counter::default();
    let addr = serve(time_route(&runs, &Cache::new())).await;
    let head = raw(
        addr,
        "HEAD /api/time HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (head_lines, head_body) = head.split_once("\r\n\r\n").unwrap();
    assert!(head_lines.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head_lines.contains("\r\ncontent-length: 16"), "{head}");
    assert!(head_lines.contains("\r\nx-route-cache: MISS"), "{head}");
    assert_eq!(head_body, "", "a HEAD response has no body");

    let get = raw(
        addr,
        "GET /api/time HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    let (get_lines, get_body) = get.split_once("\r\n\r\n").unwrap();
    assert!(get_lines.contains("\r\nx-route-cache: HIT"), "{get}");
    assert!(get_lines.contains("\r\ncontent-length: 16"), "{get}");
    assert_eq!(get_body, "{\"generation\":1}");
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn concurrent_cold_gets_over_one_h2_connection_run_once() {
    let runs = Counter::default();
    let r = runs.clone();
    let gate = Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    let svc = RouteHandler::new()
        .get(move || {
            let n = r.bump();
            let gate = g.clone();
            async move {
                gate.notified().await;
                format!("run {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let addr = serve(svc).await;
    let client = client(Version::H2);
    let requests: Vec<_> = (0..50)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move { fetch(&client, addr, "/cold", &[]).await })
        })
        .collect();
    // Let every request reach the server before the one run finishes.
    while runs.get() == 0 {
        tokio::task::yield_now().await;
    }
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
    gate.notify_one();
    for request in requests {
        let reply = request.await.unwrap();
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "run 1");
    }
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn force_static_one_clients_headers_cookies_and_query_cannot_reach_another() {
    let svc = RouteHandler::new()
        .get(|req: Request<Body>| async move {
            format!(
                "path={} query={:?} headers={}",
                req.uri().path(),
                req.uri().query(),
                req.headers().len()
            )
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let addr = serve(svc).await;
    for version in [Version::H1, Version::H2] {
        let client = client(version);
        let path = match version {
            Version::H1 => "/who",
            Version::H2 => "/who2",
        };
        let attacker = fetch(
            &client,
            addr,
            &format!("{path}?as=admin"),
            &[
                ("cookie", "session=attacker"),
                ("x-forwarded-user", "admin"),
            ],
        )
        .await;
        assert_eq!(attacker.header(STATUS), "MISS");
        assert_eq!(attacker.body, format!("path={path} query=None headers=0"));
        let victim = fetch(&client, addr, path, &[("cookie", "session=victim")]).await;
        assert_eq!(victim.header(STATUS), "HIT");
        assert_eq!(victim.body, attacker.body);
        assert!(victim.headers.get(header::SET_COOKIE).is_none());
    }
}

#[tokio::test]
async fn mounted_in_axum() {
    let runs = Counter::default();
    let layer_runs = Counter::default();
    let lr = layer_runs.clone();
    let cache = Cache::new();
    let app = axum::Router::new()
        .route_service("/api/time", time_route(&runs, &cache))
        .route(
            "/api/layer",
            axum::routing::get(move || {
                let n = lr.bump();
                async move { format!("layer {n}") }
            })
            .post(|| async { "posted" })
            .layer(
                CacheLayer::new(
                    CacheConfig::new()
                        .dynamic(Dynamic::ForceStatic)
                        .revalidate(60),
                )
                .cache(&cache),
            ),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = client(Version::H1);

    let first = fetch(&client, addr, "/api/time", &[]).await;
    let second = fetch(&client, addr, "/api/time?x=1", &[]).await;
    assert_eq!(
        (first.header(STATUS), second.header(STATUS)),
        ("MISS", "HIT")
    );
    assert_eq!(second.body, "{\"generation\":1}");
    assert_eq!(runs.get(), 1);

    let head = raw(
        addr,
        "HEAD /api/layer HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
    )
    .await;
    assert!(head.contains("\r\nx-route-cache: MISS"), "{head}");
    assert!(head.contains("\r\ncontent-length: 7"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "{head}");
    let layered = fetch(&client, addr, "/api/layer", &[]).await;
    assert_eq!(
        (layered.header(STATUS), &layered.body[..]),
        ("HIT", &b"layer 1"[..])
    );
    let posted = client
        .request(
            Request::post(format!("http://{addr}/api/layer"))
                .body(Empty::new())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    assert!(posted.headers().get(STATUS).is_none());
    assert_eq!(layer_runs.get(), 1);

    cache
        .revalidator()
        .revalidate_path("/api/layer")
        .await
        .unwrap();
    let revalidated = fetch(&client, addr, "/api/layer", &[]).await;
    assert_eq!(
        (revalidated.header(STATUS), &revalidated.body[..]),
        ("REVALIDATED", &b"layer 2"[..])
    );
}

#[tokio::test]
async fn a_body_over_the_cap_streams_through_at_the_wire() {
    let svc = RouteHandler::new()
        .get(|| async {
            let chunks = (0..64)
                .map(|i| Ok::<_, Infallible>(Bytes::from(vec![b'a' + (i % 26) as u8; 1024])));
            Response::new(Body::from_stream(futures::stream::iter(chunks)))
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::builder().max_body_size(4096).build())
        .into_service();
    let addr = serve(svc).await;
    // The first request finds the response too large to store (`MISS`); the key is then
    // passed through, without a cache status.
    let mut first = true;
    for version in [Version::H1, Version::H2] {
        let client = client(version);
        for _ in 0..2 {
            let reply = fetch(&client, addr, "/big", &[]).await;
            assert_eq!(reply.status, StatusCode::OK);
            let want = if std::mem::take(&mut first) {
                "MISS"
            } else {
                "-"
            };
            assert_eq!(reply.header(STATUS), want);
            assert_eq!(reply.body.len(), 64 * 1024);
            assert!(reply.body[..1024].iter().all(|&b| b == b'a'));
            assert!(reply.body[63 * 1024..].iter().all(|&b| b == b'a' + 63 % 26));
        }
    }
}
