//! `RouteHandlerService` under tower-http's `TraceLayer`, `CompressionLayer`, `TimeoutLayer`
//! and `CorsLayer`, served by a real hyper server and checked over HTTP/1.1, HTTP/2 and raw
//! TCP.

mod support;

use std::{
    convert::Infallible,
    io::Read,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures::future::Either;
use http::{Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use route_handlers::{Body, RouteHandler, RouteHandlerService, synth::HeadOptionsLayer};
use support::{Proto, raw, send, serve};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};
use tower_http::{
    compression::CompressionLayer,
    cors::{Any, CorsLayer},
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

#[derive(Clone, Default)]
struct Calls(Arc<AtomicUsize>);

impl Calls {
    fn hit(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Long enough (and repetitive enough) that `CompressionLayer` compresses it.
fn long_text() -> String {
    "route handlers for tower. ".repeat(40)
}

/// `GET /...` answers [`long_text`], or streams it when the path ends in `/stream`;
/// `POST` answers `created`.
fn text_route(get: &Calls) -> RouteHandlerService {
    let get = get.clone();
    RouteHandler::new()
        .get(move |req: Request<Body>| {
            get.hit();
            async move {
                let text = long_text();
                let body = if req.uri().path().ends_with("/stream") {
                    let (a, b) = text.split_at(100);
                    let chunks =
                        [a.to_owned(), b.to_owned()].map(|s| Ok::<_, Infallible>(Bytes::from(s)));
                    Body::from_stream(futures::stream::iter(chunks))
                } else {
                    Body::from(text)
                };
                Response::builder()
                    .header(header::CONTENT_TYPE, "text/plain")
                    .body(body)
                    .unwrap()
            }
        })
        .post(|| async { (StatusCode::CREATED, "created") })
        .into_service()
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("a gzip body");
    out
}

#[tokio::test]
async fn trace_layer_sees_every_response_and_changes_none() {
    let (requests, responses) = (Calls::default(), Calls::default());
    let (rq, rs) = (requests.clone(), responses.clone());
    let get = Calls::default();
    let svc = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .on_request(move |_: &Request<Incoming>, _: &tracing::Span| rq.hit())
                .on_response(move |_: &Response<Body>, _: Duration, _: &tracing::Span| rs.hit()),
        )
        .service(text_route(&get));
    let server = serve(svc).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/", &[], "").await;
        assert_eq!(reply.body, long_text());
        let reply = send(proto, server.addr, "PROPFIND", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
        let reply = send(proto, server.addr, "OPTIONS", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
    }
    let head = raw(server.addr, "HEAD", "/", &[], "").await;
    assert_eq!(head.header("content-length"), Some("1040"));
    assert!(head.body.is_empty());
    assert_eq!((requests.get(), responses.get(), get.get()), (7, 7, 3));
}

/// With `CompressionLayer` directly around the route (the usual `Router::layer` place), GET
/// is compressed; HEAD is never compressed, sends no body, and leaves out `Content-Length`
/// when the request accepts gzip (the GET response would be gzip of unknown length).
#[tokio::test]
async fn compression_outside_the_route() {
    let get = Calls::default();
    let svc = CompressionLayer::new().layer(text_route(&get));
    let server = serve(svc).await;
    let gzip = [("accept-encoding", "gzip")];

    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/", &gzip, "").await;
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{proto:?}");
        assert_eq!(reply.header("content-length"), None);
        assert_eq!(gunzip(&reply.body), long_text());

        let reply = send(proto, server.addr, "HEAD", "/", &gzip, "").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert_eq!(reply.header("content-length"), None, "{proto:?}");
        assert!(reply.body.is_empty(), "{proto:?}");

        // Without Accept-Encoding nothing is compressed, and HEAD has GET's exact length.
        let reply = send(proto, server.addr, "GET", "/", &[], "").await;
        assert_eq!(reply.header("content-encoding"), None);
        assert_eq!(reply.header("content-length"), Some("1040"));
        let reply = send(proto, server.addr, "HEAD", "/", &[], "").await;
        assert_eq!(reply.header("content-length"), Some("1040"), "{proto:?}");
        assert!(reply.body.is_empty());
    }
    for path in ["/", "/stream"] {
        let head = raw(server.addr, "HEAD", path, &gzip, "").await;
        assert_eq!(head.status, 200);
        assert_eq!(head.header("content-length"), None, "{path}");
        assert!(
            head.body.is_empty(),
            "{path}: {:?}",
            String::from_utf8_lossy(&head.bytes)
        );
        let head = raw(server.addr, "HEAD", path, &[], "").await;
        let expected = (path == "/").then_some("1040");
        assert_eq!(head.header("content-length"), expected, "{path}");
        assert!(head.body.is_empty());
    }
}

/// With `HeadOptionsLayer` outside `CompressionLayer`, HEAD runs through the compression as
/// GET does, so its headers match GET's exactly: `content-encoding: gzip`, `vary`, and no
/// `Content-Length`.
#[tokio::test]
async fn compression_inside_head_synthesis_gives_head_the_headers_of_get() {
    let get = Calls::default();
    let route = text_route(&get);
    let svc = ServiceBuilder::new()
        .layer(HeadOptionsLayer::new(route.methods()))
        .layer(CompressionLayer::new())
        .service(route);
    let server = serve(svc).await;
    let gzip = [("accept-encoding", "gzip")];
    for proto in Proto::BOTH {
        let get = send(proto, server.addr, "GET", "/", &gzip, "").await;
        let head = send(proto, server.addr, "HEAD", "/", &gzip, "").await;
        assert_eq!(gunzip(&get.body), long_text());
        for name in ["content-encoding", "vary", "content-type", "content-length"] {
            assert_eq!(head.header(name), get.header(name), "{proto:?} {name}");
        }
        assert_eq!(head.header("content-encoding"), Some("gzip"));
        assert_eq!(head.header("content-length"), None);
        assert!(head.body.is_empty(), "{proto:?}");
    }
    let head = raw(server.addr, "HEAD", "/", &gzip, "").await;
    assert_eq!(head.header("content-encoding"), Some("gzip"));
    assert!(head.body.is_empty());
}

#[tokio::test(start_paused = true)]
async fn timeout_layer_answers_a_slow_handler_and_calls_it_once() {
    let slow = Calls::default();
    let s = slow.clone();
    let route = RouteHandler::new()
        .get(move || {
            s.hit();
            std::future::pending::<&'static str>()
        })
        .post(|| async { "fast" })
        .into_service();
    let svc = TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(5))
        .layer(route);
    let server = serve(svc).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "POST", "/", &[], "").await;
        assert_eq!(
            (reply.status, &reply.body[..]),
            (StatusCode::OK, &b"fast"[..])
        );

        let started = tokio::time::Instant::now();
        let reply = send(proto, server.addr, "GET", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{proto:?}");
        assert!(reply.body.is_empty());
        assert!(started.elapsed() >= Duration::from_secs(5));

        // HEAD runs the GET handler, so it times out the same way; a 405 never waits.
        let reply = send(proto, server.addr, "HEAD", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::REQUEST_TIMEOUT, "{proto:?}");
        let reply = send(proto, server.addr, "PUT", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    }
    assert_eq!(slow.get(), 4);
}

const ORIGIN: (&str, &str) = ("origin", "https://app.example");
const PREFLIGHT: [(&str, &str); 2] = [ORIGIN, ("access-control-request-method", "POST")];

fn cors() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
}

/// A route with its own OPTIONS handler, which counts its calls.
fn route_with_options(options: &Calls) -> RouteHandlerService {
    let options = options.clone();
    RouteHandler::new()
        .get(|| async { "got" })
        .post(|| async { "posted" })
        .options(move || {
            options.hit();
            async { (StatusCode::OK, "the route's own OPTIONS") }
        })
        .into_service()
}

/// Order 1: `CorsLayer` outside the route. It answers every OPTIONS itself, a plain one
/// too: neither the route's own OPTIONS handler nor the synthesized `204` with `Allow` runs.
#[tokio::test]
async fn cors_outside_the_route_answers_every_options() {
    let options = Calls::default();
    let server = serve(cors().layer(route_with_options(&options))).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "OPTIONS", "/", &PREFLIGHT, "").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(
            reply.header("access-control-allow-methods"),
            Some("GET,POST")
        );
        assert!(reply.body.is_empty());

        let reply = send(proto, server.addr, "OPTIONS", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert_eq!(reply.header("allow"), None, "{proto:?}");
        assert!(reply.body.is_empty(), "the route's handler did not run");

        let reply = send(proto, server.addr, "GET", "/", &[ORIGIN], "").await;
        assert_eq!(reply.body, "got");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));

        let reply = send(proto, server.addr, "PROPFIND", "/", &[ORIGIN], "").await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    }
    assert_eq!(options.get(), 0);
}

/// Order 2, the one documented in `synth`: preflights and every other method go through
/// `CorsLayer`; a plain OPTIONS goes straight to the route.
fn cors_except_plain_options(
    route: RouteHandlerService,
) -> impl Service<
    Request<Incoming>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Body>, Infallible>> + Send,
> + Clone
+ Send
+ 'static {
    let with_cors = cors().layer(route.clone());
    service_fn(move |req: Request<Incoming>| {
        let preflight = req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
        if req.method() == Method::OPTIONS && !preflight {
            Either::Left(route.clone().oneshot(req))
        } else {
            Either::Right(with_cors.clone().oneshot(req))
        }
    })
}

#[tokio::test]
async fn plain_options_reaches_the_route_when_only_preflights_go_through_cors() {
    let options = Calls::default();
    let own = serve(cors_except_plain_options(route_with_options(&options))).await;
    let get = Calls::default();
    let synthesized = serve(cors_except_plain_options(text_route(&get))).await;
    for proto in Proto::BOTH {
        // A preflight is still answered by CorsLayer, without calling the route.
        for server in [&own, &synthesized] {
            let reply = send(proto, server.addr, "OPTIONS", "/", &PREFLIGHT, "").await;
            assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
            assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
            assert_eq!(
                reply.header("access-control-allow-methods"),
                Some("GET,POST")
            );
            assert_eq!(reply.header("allow"), None);
        }
        // A plain OPTIONS reaches the route's own handler...
        let reply = send(proto, own.addr, "OPTIONS", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "the route's own OPTIONS", "{proto:?}");
        // ...or the synthesized answer.
        let reply = send(proto, synthesized.addr, "OPTIONS", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{proto:?}");
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));

        // Other methods still get CORS headers.
        let reply = send(proto, own.addr, "POST", "/", &[ORIGIN], "").await;
        assert_eq!(reply.body, "posted");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        let reply = send(proto, own.addr, "DELETE", "/", &[ORIGIN], "").await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
    }
    assert_eq!((options.get(), get.get()), (2, 0));
}

/// All four layers at once, in the order an app would stack them.
#[tokio::test]
async fn the_whole_stack() {
    let get = Calls::default();
    let route = text_route(&get);
    let svc = ServiceBuilder::new()
        .layer(TraceLayer::new_for_http())
        .layer(cors())
        .layer(HeadOptionsLayer::new(route.methods()))
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ))
        .service(route);
    let server = serve(svc).await;
    let headers = [ORIGIN, ("accept-encoding", "gzip")];
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/stream", &headers, "").await;
        assert_eq!(reply.header("content-encoding"), Some("gzip"), "{proto:?}");
        assert_eq!(reply.header("access-control-allow-origin"), Some("*"));
        assert_eq!(gunzip(&reply.body), long_text());

        let reply = send(proto, server.addr, "HEAD", "/", &headers, "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-encoding"), Some("gzip"));
        assert_eq!(reply.header("content-length"), None);
        assert!(reply.body.is_empty(), "{proto:?}");

        let reply = send(proto, server.addr, "PATCH", "/", &headers, "").await;
        assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(reply.header("allow"), Some("GET, HEAD, OPTIONS, POST"));
        assert!(reply.body.is_empty());

        let reply = send(proto, server.addr, "OPTIONS", "/", &PREFLIGHT, "").await;
        assert_eq!(
            reply.header("access-control-allow-methods"),
            Some("GET,POST")
        );
    }
    let head = raw(server.addr, "HEAD", "/stream", &headers, "").await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(get.get(), 5);
}
