//! Errors that say what is wrong, through the public API: rejections that name the field,
//! the `RejectionInfo` extension a layer reshapes them with, `?` on boxed errors, and the
//! warning for a force-static route whose handler reads request data. Real handlers are
//! served by a `RouteHandler` and called with `oneshot`.

mod support;

use std::{convert::Infallible, error::Error, fmt};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header::CONTENT_TYPE};
use http_body_util::BodyExt;
use route_handlers::{
    Body, RouteHandler, RouteHandlerService, Routes,
    body::BoxError,
    cache::Dynamic,
    request::{Cookies, Form, NextRequest, Query, RejectionInfo, RejectionKind},
    response::{HttpError, IntoResponse, Json, json},
};
use support::Logs;
use tower::{Service, ServiceBuilder, ServiceExt};

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Line {
    sku: String,
    price: f64,
}

#[derive(Debug, serde::Deserialize, serde::Serialize)]
struct Order {
    id: u32,
    items: Vec<Line>,
}

#[derive(Debug, serde::Deserialize)]
struct Page {
    page: u32,
    #[serde(default)]
    per: Option<u8>,
}

/// One route with a handler per reader: `GET` takes a `Query`, `POST` a `Json`, `PUT` a
/// `Form`, `PATCH` reads JSON through `NextRequest` and `?`.
fn orders() -> RouteHandlerService {
    RouteHandler::new()
        .get(|Query(p): Query<Page>| async move { format!("page {} per {:?}", p.page, p.per) })
        .post(|Json(order): Json<Order>| async move { Json(order) })
        .put(|Form(p): Form<Page>| async move { format!("page {}", p.page) })
        .patch(|mut req: NextRequest| async move {
            let order: Order = req.json().await?;
            Ok::<_, HttpError>(format!("{} items", order.items.len()))
        })
        .path("/api/orders")
        .body_limit(256)
        .into_service()
}

fn request(
    method: Method,
    uri: &str,
    content_type: Option<&str>,
    body: &'static str,
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(ct) = content_type {
        req = req.header(CONTENT_TYPE, ct);
    }
    req.body(Body::from(body)).unwrap()
}

struct Reply {
    status: StatusCode,
    content_type: Option<String>,
    info: Option<RejectionInfo>,
    body: String,
}

async fn send<S>(svc: &S, req: Request<Body>) -> Reply
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        content_type: parts
            .headers
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned()),
        info: parts.extensions.get::<RejectionInfo>().cloned(),
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

const JSON: Option<&str> = Some("application/json");
const FORM: Option<&str> = Some("application/x-www-form-urlencoded");

/// Every reader's rejection: status, `text/plain`, the message naming the field, and the
/// same facts in the `RejectionInfo` extension.
#[tokio::test]
async fn each_reader_names_the_field_that_did_not_fit() {
    let svc = orders();
    let bad_price =
        r#"{"id":1,"items":[{"sku":"a","price":1},{"sku":"b","price":2},{"sku":"c","price":"x"}]}"#;
    let cases = [
        (
            request(Method::GET, "/api/orders?page=two", None, ""),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidQuery,
            Some("page"),
            "invalid query string: page: invalid digit found in string",
        ),
        (
            request(Method::GET, "/api/orders?page=1&per=300", None, ""),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidQuery,
            Some("per"),
            "invalid query string: per: number too large to fit in target type",
        ),
        (
            request(Method::GET, "/api/orders?per=3", None, ""),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidQuery,
            None,
            "invalid query string: missing field `page`",
        ),
        (
            request(Method::POST, "/api/orders", JSON, bad_price),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidJson,
            Some("items[2].price"),
            "the JSON request body does not match the expected shape: items[2].price: invalid \
             type: string \"x\", expected f64 at line 1 column 83",
        ),
        (
            request(
                Method::POST,
                "/api/orders",
                JSON,
                r#"{"id":1,"items":[{"price":1}]}"#,
            ),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidJson,
            Some("items[0]"),
            "the JSON request body does not match the expected shape: items[0]: missing field \
             `sku` at line 1 column 28",
        ),
        (
            request(Method::POST, "/api/orders", JSON, r#"{"id":1,"items":["#),
            StatusCode::BAD_REQUEST,
            RejectionKind::MalformedJson,
            None,
            "malformed JSON in the request body: EOF while parsing a list at line 1 column 17",
        ),
        (
            request(
                Method::PATCH,
                "/api/orders",
                JSON,
                r#"{"id":-1,"items":[]}"#,
            ),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidJson,
            Some("id"),
            "the JSON request body does not match the expected shape: id: invalid value: \
             integer `-1`, expected u32 at line 1 column 8",
        ),
        (
            request(Method::PUT, "/api/orders", FORM, "page=1&per=x"),
            StatusCode::BAD_REQUEST,
            RejectionKind::InvalidForm,
            Some("per"),
            "invalid form in the request body: per: invalid digit found in string",
        ),
        (
            request(Method::PUT, "/api/orders", JSON, "page=1"),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RejectionKind::UnsupportedMediaType,
            None,
            "expected a request body with `content-type: application/x-www-form-urlencoded`, \
             got `application/json`",
        ),
        (
            request(
                Method::POST,
                "/api/orders",
                JSON,
                r#"{"id":1,"items":[{"sku":"a much longer stock keeping unit, to pass the limit of the route's body, which is two hundred and fifty-six bytes; it takes a while to get there, but this sentence will, with a little padding: ...........................","price":1}]}"#,
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            RejectionKind::PayloadTooLarge,
            None,
            "request body is larger than the limit of 256 bytes",
        ),
    ];
    for (req, status, kind, path, message) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let reply = send(&svc, req).await;
        assert_eq!(
            (reply.status, reply.body.as_str()),
            (status, message),
            "{what}"
        );
        assert_eq!(
            reply.content_type.as_deref(),
            Some("text/plain; charset=utf-8"),
            "{what}"
        );
        let info = reply.info.expect("a rejection carries its info");
        assert_eq!(
            (info.status(), info.kind(), info.path(), info.message()),
            (status, kind, path, message),
            "{what}"
        );
    }

    // The happy paths are untouched, and carry no info.
    let reply = send(
        &svc,
        request(Method::GET, "/api/orders?page=2&per=9", None, ""),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::OK, "page 2 per Some(9)")
    );
    assert!(reply.info.is_none());
    let reply = send(
        &svc,
        request(
            Method::POST,
            "/api/orders",
            JSON,
            r#"{"id":1,"items":[{"sku":"a","price":1.5}]}"#,
        ),
    )
    .await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::OK,
            r#"{"id":1,"items":[{"sku":"a","price":1.5}]}"#
        )
    );
    assert!(reply.info.is_none());
}

/// Answers every rejection as `{"error": {"code", "message", "field"}}`, keeping its status.
fn reshape(res: Response<Body>) -> Response<Body> {
    let Some(info) = res.extensions().get::<RejectionInfo>().cloned() else {
        return res;
    };
    let body = serde_json::json!({
        "error": { "code": info.kind().as_str(), "message": info.message(), "field": info.path() }
    });
    (info.status(), json(body)).into_response()
}

/// A layer outside the route rewrites rejections into the API's shape, from the extension
/// alone; other responses, internal errors included, pass as they are.
#[tokio::test]
async fn a_layer_reshapes_rejections_into_json() {
    let inner = RouteHandler::new()
        .get(|Query(p): Query<Page>| async move { p.page.to_string() })
        .delete(|| async { Err::<&str, HttpError>(std::io::Error::other("disk on fire").into()) })
        .into_service();
    let svc = ServiceBuilder::new().map_response(reshape).service(inner);

    let reply = send(&svc, request(Method::GET, "/?page=-3", None, "")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        reply.body,
        r#"{"error":{"code":"invalid_query","field":"page","message":"invalid query string: page: invalid digit found in string"}}"#
    );

    let reply = send(&svc, request(Method::GET, "/", None, "")).await;
    assert_eq!(
        reply.body,
        r#"{"error":{"code":"invalid_query","field":null,"message":"invalid query string: missing field `page`"}}"#
    );

    let reply = send(&svc, request(Method::GET, "/?page=4", None, "")).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "4"));
    assert_eq!(
        reply.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );

    // An internal error is not a rejection: a bare 500, the client learns nothing.
    let reply = send(&svc, request(Method::DELETE, "/", None, "")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "")
    );
    assert!(reply.info.is_none());
}

#[derive(Debug)]
struct Outage;

impl fmt::Display for Outage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the store is down")
    }
}

impl Error for Outage {}

/// A library's error type: a boxed error.
fn fetch_stock(sku: &str) -> Result<u32, BoxError> {
    match sku {
        "down" => Err(Box::new(Outage)),
        _ => Ok(3),
    }
}

/// The shape of `anyhow::Error`: not `std::error::Error`, but converts into a box.
#[derive(Debug)]
struct Report(BoxError);

impl From<Report> for BoxError {
    fn from(report: Report) -> Self {
        report.0
    }
}

/// `?` on a boxed error and on an anyhow-like error in a handler returning
/// `Result<_, HttpError>`: a `500` with an empty body, logged by the route with the error.
#[tokio::test]
async fn question_mark_on_boxed_and_anyhow_like_errors_answers_500() {
    let logs = Logs::capture(tracing::Level::ERROR);
    let svc = RouteHandler::new()
        .get(|req: NextRequest| async move {
            let sku = req
                .search_params()
                .get("sku")
                .unwrap_or_default()
                .into_owned();
            let stock = fetch_stock(&sku)?;
            Ok::<_, HttpError>(stock.to_string())
        })
        .post(|| async {
            let report: Result<u32, Report> = Err(Report("the ledger is locked".into()));
            let n = report?;
            Ok::<_, HttpError>(n.to_string())
        })
        .path("/api/stock")
        .into_service();

    let reply = send(&svc, request(Method::GET, "/api/stock?sku=a", None, "")).await;
    assert_eq!((reply.status, reply.body.as_str()), (StatusCode::OK, "3"));
    let reply = send(&svc, request(Method::GET, "/api/stock?sku=down", None, "")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "")
    );
    assert!(reply.info.is_none());
    let reply = send(&svc, request(Method::POST, "/api/stock", None, "")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "")
    );

    let text = logs.text();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(text.contains("the store is down"), "{text}");
    assert!(text.contains("the ledger is locked"), "{text}");
}

/// A boxed rejection is still a rejection: it keeps its status, message and info.
#[tokio::test]
async fn a_boxed_rejection_keeps_its_response() {
    let svc = RouteHandler::new()
        .post(|mut req: NextRequest| async move {
            let boxed: Result<Bytes, BoxError> = req.bytes().await.map_err(Into::into);
            Ok::<_, HttpError>(boxed?)
        })
        .body_limit(4)
        .into_service();
    let reply = send(&svc, request(Method::POST, "/", None, "too long")).await;
    assert_eq!(
        (reply.status, reply.body.as_str()),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "request body is larger than the limit of 4 bytes"
        )
    );
    assert_eq!(reply.info.unwrap().kind(), RejectionKind::PayloadTooLarge);
}

/// Building a force-static route whose `GET` handler declares cookie or header reads warns,
/// once, naming the route and what it reads; a route that reads nothing is quiet.
#[test]
fn a_force_static_route_whose_handler_reads_request_data_is_warned_about() {
    let logs = Logs::capture(tracing::Level::WARN);
    let svc = RouteHandler::new()
        .get(|cookies: Cookies| async move { format!("{:?}", cookies.value("cart")) })
        .path("/api/products")
        .dynamic(Dynamic::ForceStatic)
        .into_service();
    drop(svc);
    let table = Routes::new()
        .route(
            "/api/headers",
            RouteHandler::new()
                .get(|headers: HeaderMap| async move { headers.len().to_string() })
                .dynamic(Dynamic::ForceStatic),
        )
        // The Next.js signature hands over the whole request; ignoring it is expected.
        .route(
            "/api/next",
            RouteHandler::new()
                .get(|_req: Request<Body>, _ctx: route_handlers::RouteContext| async { "next" })
                .dynamic(Dynamic::ForceStatic),
        )
        .route(
            "/api/quiet",
            RouteHandler::new()
                .get(|| async { "static" })
                .post(|cookies: Cookies| async move { cookies.iter().count().to_string() })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    drop(table);
    let lines = logs.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines.iter().all(|l| l.starts_with(" WARN ")), "{lines:?}");
    assert!(
        lines[0].ends_with(
            "Route /api/products is force-static, but its GET handler reads `request.cookies`; \
             under force-static the handler is given the path only, so what it reads is empty"
        ),
        "{lines:?}"
    );
    assert!(
        lines[1].ends_with(
            "Route /api/headers is force-static, but its GET handler reads `request.headers`, \
             `request.cookies`; under force-static the handler is given the path only, so what \
             it reads is empty"
        ),
        "{lines:?}"
    );
}
