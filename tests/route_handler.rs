//! In-process behaviour of `RouteHandlerService` (called with `oneshot`).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use bytes::Bytes;
use http::{Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use route_handlers::{Body, RouteContext, RouteHandler, RouteHandlerService};
use tower::ServiceExt;

async fn send(
    svc: &RouteHandlerService,
    method: &str,
    body: &'static str,
) -> (StatusCode, http::HeaderMap, Bytes) {
    let req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri("/x")
        .body(Body::from(body))
        .unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

#[tokio::test]
async fn allow_header_cases() {
    let post = RouteHandler::new().post(|| async { "p" }).into_service();
    let (s, h, b) = send(&post, "GET", "").await;
    assert_eq!(
        (s, &h[header::ALLOW], b.len()),
        (
            StatusCode::METHOD_NOT_ALLOWED,
            &"OPTIONS, POST".parse::<http::HeaderValue>().unwrap(),
            0
        )
    );
    let (s, _, _) = send(&post, "HEAD", "").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);

    let head_only = RouteHandler::new().head(|| async { "" }).into_service();
    let (s, h, _) = send(&head_only, "GET", "").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[header::ALLOW], "HEAD, OPTIONS");

    let three = RouteHandler::new()
        .get(|| async { "g" })
        .post(|| async { "p" })
        .delete(|| async { "d" })
        .into_service();
    let (s, h, b) = send(&three, "OPTIONS", "").await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(h[header::ALLOW], "DELETE, GET, HEAD, OPTIONS, POST");
    assert!(b.is_empty());
    for m in ["PROPFIND", "FOO", "PUT", "get", "CONNECT", "TRACE"] {
        let (s, h, b) = send(&three, m, "").await;
        assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{m}");
        assert_eq!(h[header::ALLOW], "DELETE, GET, HEAD, OPTIONS, POST", "{m}");
        assert!(b.is_empty());
    }
}

#[tokio::test]
async fn a_method_the_route_lacks_never_reaches_a_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let svc = RouteHandler::new()
        .get(move || {
            c.fetch_add(1, Ordering::SeqCst);
            async { "g" }
        })
        .into_service();
    for m in ["POST", "PUT", "PATCH", "DELETE", "PROPFIND", "X-Y"] {
        send(&svc, m, "body").await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    send(&svc, "HEAD", "").await;
    send(&svc, "GET", "").await;
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn head_runs_the_get_handler_which_sees_head_and_sends_no_body() {
    // As in Next.js and axum, the `GET` handler answering a `HEAD` sees the method `HEAD`
    // (so it may skip work on the body); the body it returns is dropped.
    let svc = RouteHandler::new()
        .get(|req: Request<Body>| async move { format!("method={}", req.method()) })
        .into_service();
    let (s, h, b) = send(&svc, "HEAD", "").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_LENGTH], "11");
    assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(b.is_empty());
    let (_, _, b) = send(&svc, "GET", "").await;
    assert_eq!(b, "method=GET");
}

#[tokio::test]
async fn own_head_and_options_handlers_win_and_read_the_body() {
    let svc = RouteHandler::new()
        .get(|| async { "get" })
        .head(|req: Request<Body>| async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            (StatusCode::ACCEPTED, format!("head saw {}", body.len()))
        })
        .options(|req: Request<Body>| async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            format!("options saw {body:?}")
        })
        .into_service();
    let (s, _, _) = send(&svc, "HEAD", "abc").await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, h, b) = send(&svc, "OPTIONS", "xyz").await;
    assert_eq!(s, StatusCode::OK);
    assert!(h.get(header::ALLOW).is_none());
    assert_eq!(b, "options saw b\"xyz\"");
}

#[tokio::test]
async fn handler_shapes_and_result() {
    #[derive(Debug)]
    struct Oops;
    impl route_handlers::IntoResponse for Oops {
        fn into_response(self) -> http::Response<Body> {
            (StatusCode::IM_A_TEAPOT, "oops").into_response()
        }
    }
    let svc = RouteHandler::new()
        .get(|_req: Request<Body>, ctx: RouteContext| async move {
            format!("{}", ctx.params_raw().len())
        })
        .post(|method: Method, body: Body| async move {
            let b = body.collect().await.unwrap().to_bytes();
            format!("{method} {}", b.len())
        })
        .put(|| async { Err::<&str, _>(Oops) })
        .into_service();
    assert_eq!(send(&svc, "GET", "").await.2, "0");
    assert_eq!(send(&svc, "POST", "12345").await.2, "POST 5");
    let (s, _, b) = send(&svc, "PUT", "").await;
    assert_eq!((s, b), (StatusCode::IM_A_TEAPOT, Bytes::from("oops")));
}

#[test]
#[should_panic(expected = "a GET handler is already registered on this route")]
fn registering_a_method_twice_panics() {
    let _: RouteHandler = RouteHandler::new()
        .get(|| async { "a" })
        .get(|| async { "b" });
}

#[test]
fn service_is_clone_send_sync() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<RouteHandlerService>();
}

#[test]
fn handlers_declare_what_request_data_they_read() {
    use route_handlers::extract::RequestData;
    let route: RouteHandler = RouteHandler::new()
        .get(|_ctx: RouteContext| async { "static" })
        .post(|_req: Request<Body>, _ctx: RouteContext| async { "all" })
        .put(|_m: Method, _h: http::HeaderMap| async { "headers" })
        .delete(|| async { "none" });
    assert_eq!(route.reads(&Method::GET), Some(RequestData::NONE));
    assert_eq!(route.reads(&Method::POST), Some(RequestData::ALL));
    assert_eq!(
        route.reads(&Method::PUT),
        Some(RequestData::HEADERS | RequestData::COOKIES)
    );
    assert_eq!(route.reads(&Method::DELETE), Some(RequestData::NONE));
    assert_eq!(route.reads(&Method::PATCH), None);
}

#[tokio::test]
async fn every_head_response_is_bodiless_with_an_honest_length() {
    let svc = RouteHandler::new()
        .get(|| async { "a long enough body to be worth compressing" })
        .into_service();
    let head = |accept: Option<&'static str>| {
        let mut req = Request::builder().method("HEAD");
        if let Some(accept) = accept {
            req = req.header(header::ACCEPT_ENCODING, accept);
        }
        svc.clone().oneshot(req.body(Body::empty()).unwrap())
    };
    let res = head(None).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_LENGTH], "42");
    // A compression layer outside could still encode the GET response: no length is
    // better than the unencoded one.
    let res = head(Some("gzip, br")).await.unwrap();
    assert!(res.headers().get(header::CONTENT_LENGTH).is_none());
    assert!(
        res.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
    let res = head(Some("identity")).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_LENGTH], "42");

    let own = RouteHandler::new()
        .head(|| async { "a body a HEAD must not send" })
        .into_service();
    let req = Request::builder()
        .method("HEAD")
        .body(Body::empty())
        .unwrap();
    let res = own.oneshot(req).await.unwrap();
    assert_eq!(res.headers()[header::CONTENT_LENGTH], "27");
    assert!(
        res.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .is_empty()
    );
}
