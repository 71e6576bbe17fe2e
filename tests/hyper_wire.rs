//! `RouteHandlerService` served by a real hyper 1 server (hyper-util `auto::Builder`), checked
//! over HTTP/1.1 and HTTP/2 with a real client, and over raw TCP where the exact bytes matter
//! (`HEAD`).

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use route_handlers::{Body, RouteContext, RouteHandler, RouteHandlerService};
use support::{Proto, raw, raw_bytes, send, serve};

/// Counts the calls of one handler.
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

const HELLO: &str = "Hello, World!";

/// `GET` answers `HELLO`; `POST` echoes the request body; `DELETE` answers `204`.
fn hello_route(get: &Calls, post: &Calls) -> RouteHandlerService {
    let (get, post) = (get.clone(), post.clone());
    RouteHandler::new()
        .get(move || {
            get.hit();
            async { HELLO }
        })
        .post(move |req: Request<Body>, _ctx: RouteContext| {
            post.hit();
            async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                format!(
                    "posted {} bytes: {}",
                    body.len(),
                    String::from_utf8_lossy(&body)
                )
            }
        })
        .delete(|| async { StatusCode::NO_CONTENT })
        .into_service()
}

const HELLO_ALLOW: &str = "DELETE, GET, HEAD, OPTIONS, POST";

#[tokio::test]
async fn get_and_post_bodies_over_both_versions() {
    let (get, post) = (Calls::default(), Calls::default());
    let server = serve(hello_route(&get, &post)).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert_eq!(
            reply.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(reply.header("content-length"), Some("13"), "{proto:?}");
        assert_eq!(reply.body, HELLO);

        let reply = send(proto, server.addr, "POST", "/", &[], "abc").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.body, "posted 3 bytes: abc");

        let reply = send(proto, server.addr, "DELETE", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert!(reply.body.is_empty());
    }
    assert_eq!((get.get(), post.get()), (2, 2));
}

#[tokio::test]
async fn a_large_streamed_post_body_reaches_the_handler() {
    let (get, post) = (Calls::default(), Calls::default());
    let server = serve(hello_route(&get, &post)).await;
    let big = "x".repeat(300_000);
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "POST", "/", &[], big.clone()).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(
            reply.body.starts_with(b"posted 300000 bytes: xxx"),
            "{proto:?}"
        );
        assert_eq!(reply.body.len(), "posted 300000 bytes: ".len() + 300_000);
    }
}

/// Methods the route lacks: standard, WebDAV, unknown, lowercase (methods are
/// case-sensitive), and `TRACE`.
const NOT_ALLOWED: [&str; 8] = [
    "PUT", "PATCH", "PROPFIND", "FOO", "get", "TRACE", "X-Y", "M-SEARCH",
];

#[tokio::test]
async fn methods_the_route_lacks_get_405_with_allow_and_never_reach_a_handler() {
    let (get, post) = (Calls::default(), Calls::default());
    let server = serve(hello_route(&get, &post)).await;
    for proto in Proto::BOTH {
        for method in NOT_ALLOWED {
            let reply = send(proto, server.addr, method, "/", &[], "a body").await;
            assert_eq!(
                reply.status,
                StatusCode::METHOD_NOT_ALLOWED,
                "{proto:?} {method}"
            );
            assert_eq!(
                reply.header("allow"),
                Some(HELLO_ALLOW),
                "{proto:?} {method}"
            );
            assert!(reply.body.is_empty(), "{proto:?} {method}");
        }
    }
    // CONNECT over HTTP/2 (`:authority` only, no `:path`).
    let reply = send(Proto::H2, server.addr, "CONNECT", "/", &[], "").await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(reply.header("allow"), Some(HELLO_ALLOW));
    assert!(reply.body.is_empty());
    // At the wire over HTTP/1.1, including CONNECT (authority-form target).
    for (method, target) in [
        ("PROPFIND", "/"),
        ("get", "/"),
        ("CONNECT", "example.com:443"),
    ] {
        let res = raw(server.addr, method, target, &[], "").await;
        assert_eq!(res.status, 405, "{method}");
        assert_eq!(res.header("allow"), Some(HELLO_ALLOW), "{method}");
        assert_eq!(res.header("content-length"), Some("0"), "{method}");
        assert!(res.body.is_empty(), "{method}");
    }
    assert_eq!((get.get(), post.get()), (0, 0));
}

#[tokio::test]
async fn allow_lists_match_the_routes_methods() {
    let post_only = RouteHandler::new().post(|| async { "p" }).into_service();
    let get_only = RouteHandler::new().get(|| async { "g" }).into_service();
    let head_only = RouteHandler::new().head(|| async { "" }).into_service();
    let cases: [(&RouteHandlerService, &str, StatusCode, &str); 6] = [
        (
            &post_only,
            "GET",
            StatusCode::METHOD_NOT_ALLOWED,
            "OPTIONS, POST",
        ),
        (
            &post_only,
            "HEAD",
            StatusCode::METHOD_NOT_ALLOWED,
            "OPTIONS, POST",
        ),
        (
            &post_only,
            "OPTIONS",
            StatusCode::NO_CONTENT,
            "OPTIONS, POST",
        ),
        (
            &get_only,
            "OPTIONS",
            StatusCode::NO_CONTENT,
            "GET, HEAD, OPTIONS",
        ),
        (
            &get_only,
            "DELETE",
            StatusCode::METHOD_NOT_ALLOWED,
            "GET, HEAD, OPTIONS",
        ),
        (
            &head_only,
            "GET",
            StatusCode::METHOD_NOT_ALLOWED,
            "HEAD, OPTIONS",
        ),
    ];
    for (svc, method, status, allow) in cases {
        let server = serve(svc.clone()).await;
        for proto in Proto::BOTH {
            let reply = send(proto, server.addr, method, "/", &[], "").await;
            assert_eq!(reply.status, status, "{proto:?} {method} on {allow}");
            assert_eq!(reply.header("allow"), Some(allow), "{proto:?} {method}");
            assert!(reply.body.is_empty());
        }
        // A HEAD 405 at the wire: no body bytes either.
        let res = raw(server.addr, method, "/", &[], "").await;
        assert_eq!(res.status, status.as_u16());
        assert!(res.body.is_empty(), "{method} on {allow}");
    }
}

#[tokio::test]
async fn options_without_handler_is_204_with_allow() {
    let (get, post) = (Calls::default(), Calls::default());
    let server = serve(hello_route(&get, &post)).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "OPTIONS", "/", &[], "ignored").await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT);
        assert_eq!(reply.header("allow"), Some(HELLO_ALLOW));
        assert!(reply.header("content-length").is_none(), "{proto:?}");
        assert!(reply.body.is_empty());
    }
    let res = raw(server.addr, "OPTIONS", "/", &[], "").await;
    assert_eq!(res.status, 204);
    assert_eq!(res.header("allow"), Some(HELLO_ALLOW));
    assert!(res.header("content-length").is_none());
    assert!(res.body.is_empty());
    assert_eq!((get.get(), post.get()), (0, 0));
}

#[tokio::test]
async fn head_sends_no_body_bytes_and_the_content_length_get_sends() {
    let (get, post) = (Calls::default(), Calls::default());
    let server = serve(hello_route(&get, &post)).await;

    let get_res = raw(server.addr, "GET", "/", &[], "").await;
    assert_eq!(get_res.status, 200);
    assert_eq!(get_res.header("content-length"), Some("13"));
    assert_eq!(get_res.body, HELLO.as_bytes());

    let head_res = raw(server.addr, "HEAD", "/", &[], "").await;
    assert_eq!(head_res.status, 200);
    assert_eq!(head_res.header("content-length"), Some("13"));
    assert_eq!(
        head_res.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert!(head_res.header("transfer-encoding").is_none());
    assert!(
        head_res.body.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&head_res.bytes)
    );

    // HTTP/2's framing does not know HEAD: a body sent here would reach the client.
    let reply = send(Proto::H2, server.addr, "HEAD", "/", &[], "").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("content-length"), Some("13"));
    assert!(reply.body.is_empty());

    // HEAD ran the GET handler, as GET.
    assert_eq!(get.get(), 3);
}

#[tokio::test]
async fn head_then_get_on_one_connection_stay_in_sync() {
    let (get, post) = (Calls::default(), Calls::default());
    let server = serve(hello_route(&get, &post)).await;
    let host = server.addr;
    let bytes = raw_bytes(
        server.addr,
        format!(
            "HEAD / HTTP/1.1\r\nhost: {host}\r\n\r\n\
             GET / HTTP/1.1\r\nhost: {host}\r\nconnection: close\r\n\r\n"
        ),
    )
    .await;
    let text = String::from_utf8(bytes).unwrap();
    // The second status line follows the first head's blank line directly: no body bytes
    // were sent for HEAD.
    let (first, second) = text.split_once("\r\n\r\n").unwrap();
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(second.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(second.ends_with("\r\n\r\nHello, World!"), "{text}");
}

/// A GET handler whose body has no known length.
fn streaming_route() -> RouteHandlerService {
    RouteHandler::new()
        .get(|| async {
            let chunks = futures::stream::iter(
                ["Hello, ", "World!"].map(|s| Ok::<_, std::io::Error>(Bytes::from(s))),
            );
            Body::from_stream(chunks)
        })
        .into_service()
}

#[tokio::test]
async fn head_of_a_streaming_get_has_no_content_length() {
    let server = serve(streaming_route()).await;

    let get_res = raw(server.addr, "GET", "/", &[], "").await;
    assert_eq!(get_res.header("transfer-encoding"), Some("chunked"));
    assert!(get_res.header("content-length").is_none());

    let head_res = raw(server.addr, "HEAD", "/", &[], "").await;
    assert_eq!(head_res.status, 200);
    assert!(
        head_res.header("content-length").is_none(),
        "never `content-length: 0` for a body of unknown length: {:?}",
        String::from_utf8_lossy(&head_res.bytes)
    );
    assert!(head_res.body.is_empty());

    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/", &[], "").await;
        assert_eq!(reply.body, HELLO, "{proto:?}");
        let reply = send(proto, server.addr, "HEAD", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.header("content-length").is_none(), "{proto:?}");
        assert!(reply.body.is_empty(), "{proto:?}");
    }
}

#[tokio::test]
async fn own_head_and_options_handlers_win_and_read_the_request_body() {
    let (head_calls, options_calls, get_calls) =
        (Calls::default(), Calls::default(), Calls::default());
    let (h, o, g) = (head_calls.clone(), options_calls.clone(), get_calls.clone());
    let svc = RouteHandler::new()
        .get(move || {
            g.hit();
            async { "from get" }
        })
        .head(move |req: Request<Body>| {
            h.hit();
            async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                let mut headers = http::HeaderMap::new();
                headers.insert("x-seen", body.len().into());
                (StatusCode::ACCEPTED, headers, ())
            }
        })
        .options(move |req: Request<Body>| {
            o.hit();
            async move {
                let body = req.into_body().collect().await.unwrap().to_bytes();
                format!("options saw {}", String::from_utf8_lossy(&body))
            }
        })
        .into_service();
    let server = serve(svc).await;

    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "HEAD", "/", &[], "12345").await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{proto:?}");
        assert_eq!(reply.header("x-seen"), Some("5"));
        assert!(reply.body.is_empty());

        let reply = send(proto, server.addr, "OPTIONS", "/", &[], "xyz").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert!(reply.header("allow").is_none());
        assert_eq!(reply.body, "options saw xyz");
    }
    let res = raw(server.addr, "HEAD", "/", &[], "abc").await;
    assert_eq!(res.status, 202);
    assert_eq!(res.header("x-seen"), Some("3"));
    assert!(res.body.is_empty());

    assert_eq!(
        (head_calls.get(), options_calls.get(), get_calls.get()),
        (3, 2, 0)
    );
}

#[tokio::test]
async fn a_head_handler_that_returns_a_body_sends_none() {
    let svc = RouteHandler::new()
        .head(|| async { "a body a HEAD must not send" })
        .into_service();
    let server = serve(svc).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "HEAD", "/", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert_eq!(reply.header("content-length"), Some("27"), "{proto:?}");
        assert!(reply.body.is_empty(), "{proto:?}: {:?}", reply.body);
    }
    let res = raw(server.addr, "HEAD", "/", &[], "").await;
    assert_eq!(res.header("content-length"), Some("27"));
    assert!(res.body.is_empty());
}

#[test]
fn any_method_token_gets_an_answer_over_the_wire() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let (get, post) = (Calls::default(), Calls::default());
    let server = rt.block_on(serve(hello_route(&get, &post)));

    // RFC 9110 `token` characters, minus the methods the route answers.
    let token = "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,20}".prop_filter("a method the route lacks", |m| {
        !matches!(m.as_str(), "GET" | "HEAD" | "POST" | "DELETE" | "OPTIONS")
    });
    let mut runner = TestRunner::new(Config {
        cases: 64,
        ..Config::default()
    });
    runner
        .run(&token, |method| {
            let res = rt.block_on(raw(server.addr, &method, "/", &[], ""));
            prop_assert_eq!(res.status, 405, "{}", method);
            prop_assert_eq!(res.header("allow"), Some(HELLO_ALLOW));
            prop_assert!(res.body.is_empty());
            Ok(())
        })
        .unwrap();
    assert_eq!((get.get(), post.get()), (0, 0));
}
