//! [`Rejection`]: why a request could not be read as asked, and [`RejectionInfo`], what
//! every rejection response carries so that an app can reshape it.
//!
//! A rejection answers with its status and its message as `text/plain`, naming the field
//! that did not deserialize. An API that answers its errors in a JSON shape of its own does
//! not need to wrap every extractor: each rejection response that tells the client what is
//! wrong carries a [`RejectionInfo`] in its extensions (the status, a stable
//! [`RejectionKind`], the message and the field path), so one layer or hook around the
//! routes rewrites them all (see its example). Only rejection responses carry it; every
//! other response pays nothing.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header::CONTENT_TYPE};

use crate::{
    body::{Body, BoxError},
    response::IntoResponse,
};

/// Why the request body, query or form could not be read as the handler asked.
///
/// Each kind answers with its own status and a `text/plain` message (its `Display` text),
/// except reading the body a second time, a bug in the handler, which answers `500` with an
/// empty body and is logged by the route:
///
/// | status | [`kind`](Self::kind) | when |
/// | --- | --- | --- |
/// | `413 Payload Too Large` | [`PayloadTooLarge`](RejectionKind::PayloadTooLarge) | the body is larger than the route's limit (by `Content-Length`, or counted while reading) |
/// | `415 Unsupported Media Type` | [`UnsupportedMediaType`](RejectionKind::UnsupportedMediaType) | `json()` or `form()` on a body with another `Content-Type` |
/// | `400 Bad Request` | [`MalformedJson`](RejectionKind::MalformedJson), [`InvalidJson`](RejectionKind::InvalidJson) | malformed JSON, or JSON of another shape |
/// | `400 Bad Request` | [`InvalidForm`](RejectionKind::InvalidForm), [`InvalidQuery`](RejectionKind::InvalidQuery) | a form or query that does not deserialize |
/// | `400 Bad Request` | [`InvalidUtf8`](RejectionKind::InvalidUtf8), [`BodyReadFailed`](RejectionKind::BodyReadFailed) | a body that is not UTF-8 for `text()`, a body that failed to arrive |
/// | `500 Internal Server Error` | [`BodyAlreadyRead`](RejectionKind::BodyAlreadyRead) | the body was read before |
///
/// **The field is named.** When a value of the JSON body, the form or the query does not
/// fit its type, the message names where it is (`serde_path_to_error`'s path: fields
/// joined with `.`, list indices in brackets), and [`path`](Self::path) returns it:
///
/// | reader | message |
/// | --- | --- |
/// | query | `invalid query string: page: invalid digit found in string` |
/// | form | `invalid form in the request body: qty: invalid digit found in string` |
/// | JSON | `the JSON request body does not match the expected shape: items[2].price: invalid type: string "x", expected f64 at line 1 column 30` |
///
/// A missing field is reported at the level of the struct that lacks it: ``missing field
/// `page` `` without a path at the top level, ``items[0]: missing field `sku` `` inside a
/// list. Malformed JSON is located by line and column, without a path.
///
/// It converts into an [`HttpError`](crate::response::HttpError) with `?`, keeping its
/// response. As a response it carries a [`RejectionInfo`] extension (except the `500`, which
/// is an internal error like any other).
///
/// ```
/// use http::StatusCode;
/// use route_handlers::{Body, request::{NextRequest, RejectionKind}};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let req = http::Request::post("/")
///     .header("content-type", "text/plain")
///     .body(Body::from("{}"))
///     .unwrap();
/// let err = NextRequest::new(req).json::<serde_json::Value>().await.unwrap_err();
/// assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
/// assert_eq!(err.kind(), RejectionKind::UnsupportedMediaType);
/// assert_eq!(
///     err.to_string(),
///     "expected a request body with `content-type: application/json`, got `text/plain`"
/// );
/// # }
/// ```
#[derive(Debug)]
pub struct Rejection {
    repr: Repr,
}

#[derive(Debug)]
enum Repr {
    TooLarge {
        limit: usize,
    },
    ContentType {
        expected: &'static str,
        got: Option<String>,
    },
    JsonSyntax(serde_json::Error),
    JsonData {
        path: Option<String>,
        error: serde_json::Error,
    },
    Form {
        path: Option<String>,
        error: serde_urlencoded::de::Error,
    },
    Query {
        path: Option<String>,
        error: serde_urlencoded::de::Error,
    },
    Utf8(std::str::Utf8Error),
    Read(BoxError),
    AlreadyRead,
}

/// The path `serde_path_to_error` tracked, or `None` at the top level (or where it knows
/// nothing of the position, as inside an untagged enum).
fn path_of(path: &serde_path_to_error::Path) -> Option<String> {
    path.iter()
        .any(|segment| !matches!(segment, serde_path_to_error::Segment::Unknown))
        .then(|| path.to_string())
}

impl Rejection {
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self {
            repr: Repr::TooLarge { limit },
        }
    }

    pub(crate) fn content_type(expected: &'static str, got: Option<&HeaderValue>) -> Self {
        let got = got.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Self {
            repr: Repr::ContentType { expected, got },
        }
    }

    /// A JSON body that failed to deserialize: malformed, or of another shape (then with
    /// the path of the value that did not fit).
    pub(crate) fn json(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        if err.inner().is_data() {
            let path = path_of(err.path());
            Self {
                repr: Repr::JsonData {
                    path,
                    error: err.into_inner(),
                },
            }
        } else {
            Self::json_syntax(err.into_inner())
        }
    }

    /// Malformed JSON (after the value: trailing characters).
    pub(crate) fn json_syntax(err: serde_json::Error) -> Self {
        Self {
            repr: Repr::JsonSyntax(err),
        }
    }

    pub(crate) fn form(err: serde_path_to_error::Error<serde_urlencoded::de::Error>) -> Self {
        Self {
            repr: Repr::Form {
                path: path_of(err.path()),
                error: err.into_inner(),
            },
        }
    }

    pub(crate) fn query(err: serde_path_to_error::Error<serde_urlencoded::de::Error>) -> Self {
        Self {
            repr: Repr::Query {
                path: path_of(err.path()),
                error: err.into_inner(),
            },
        }
    }

    pub(crate) fn utf8(err: std::str::Utf8Error) -> Self {
        Self {
            repr: Repr::Utf8(err),
        }
    }

    pub(crate) fn read(err: BoxError) -> Self {
        Self {
            repr: Repr::Read(err),
        }
    }

    pub(crate) fn already_read() -> Self {
        Self {
            repr: Repr::AlreadyRead,
        }
    }

    /// The status the rejection answers with.
    pub fn status(&self) -> StatusCode {
        self.kind().status()
    }

    /// What went wrong, as a stable, machine-readable kind.
    pub fn kind(&self) -> RejectionKind {
        match self.repr {
            Repr::TooLarge { .. } => RejectionKind::PayloadTooLarge,
            Repr::ContentType { .. } => RejectionKind::UnsupportedMediaType,
            Repr::JsonSyntax(_) => RejectionKind::MalformedJson,
            Repr::JsonData { .. } => RejectionKind::InvalidJson,
            Repr::Form { .. } => RejectionKind::InvalidForm,
            Repr::Query { .. } => RejectionKind::InvalidQuery,
            Repr::Utf8(_) => RejectionKind::InvalidUtf8,
            Repr::Read(_) => RejectionKind::BodyReadFailed,
            Repr::AlreadyRead => RejectionKind::BodyAlreadyRead,
        }
    }

    /// Where in the JSON body, form or query the value that did not fit is, as
    /// `serde_path_to_error` writes it (`page`, `items[2].price`); `None` at the top level
    /// and for the other kinds.
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Page { page: u32 }
    ///
    /// let req = NextRequest::new(http::Request::get("/?page=two").body(Body::empty()).unwrap());
    /// assert_eq!(req.query::<Page>().unwrap_err().path(), Some("page"));
    /// let req = NextRequest::new(http::Request::get("/").body(Body::empty()).unwrap());
    /// assert_eq!(req.query::<Page>().unwrap_err().path(), None); // missing field `page`
    /// ```
    pub fn path(&self) -> Option<&str> {
        match &self.repr {
            Repr::JsonData { path, .. } | Repr::Form { path, .. } | Repr::Query { path, .. } => {
                path.as_deref()
            }
            _ => None,
        }
    }

    /// The text of the response body: the [`Display`](fmt::Display) message, or nothing for
    /// the `500` of reading the body twice (an internal error, logged rather than told).
    pub fn body_text(&self) -> String {
        match self.repr {
            Repr::AlreadyRead => String::new(),
            _ => self.to_string(),
        }
    }

    /// Whether the body was larger than the limit.
    pub fn is_too_large(&self) -> bool {
        matches!(self.repr, Repr::TooLarge { .. })
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// `path: ` before the error, when there is a path.
        struct At<'a>(&'a Option<String>);
        impl fmt::Display for At<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(path) => write!(f, "{path}: "),
                    None => Ok(()),
                }
            }
        }
        match &self.repr {
            Repr::TooLarge { limit } => {
                write!(f, "request body is larger than the limit of {limit} bytes")
            }
            Repr::ContentType { expected, got } => {
                write!(
                    f,
                    "expected a request body with `content-type: {expected}`, "
                )?;
                match got {
                    Some(got) => write!(f, "got `{got}`"),
                    None => f.write_str("got none"),
                }
            }
            Repr::JsonSyntax(err) => write!(f, "malformed JSON in the request body: {err}"),
            Repr::JsonData { path, error } => write!(
                f,
                "the JSON request body does not match the expected shape: {}{error}",
                At(path)
            ),
            Repr::Form { path, error } => {
                write!(f, "invalid form in the request body: {}{error}", At(path))
            }
            Repr::Query { path, error } => {
                write!(f, "invalid query string: {}{error}", At(path))
            }
            Repr::Utf8(err) => write!(f, "request body is not valid UTF-8: {err}"),
            Repr::Read(err) => write!(f, "failed to read the request body: {err}"),
            Repr::AlreadyRead => f.write_str("the request body has already been read"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::JsonSyntax(err) | Repr::JsonData { error: err, .. } => Some(err),
            Repr::Form { error, .. } | Repr::Query { error, .. } => Some(error),
            Repr::Utf8(err) => Some(err),
            Repr::Read(err) => Some(&**err),
            Repr::TooLarge { .. } | Repr::ContentType { .. } | Repr::AlreadyRead => None,
        }
    }
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response<Body> {
        tracing::debug!(status = %self.status(), reason = %self, "rejected a request");
        if matches!(self.repr, Repr::AlreadyRead) {
            return crate::response::HttpError::internal(self).into_response();
        }
        let mut info = RejectionInfo::new(self.kind(), self.to_string());
        if let Some(path) = self.path() {
            info = info.with_path(path);
        }
        rejection_response(info)
    }
}

/// What went wrong with a request, as a stable, machine-readable kind: the
/// [`kind`](RejectionInfo::kind) of a [`RejectionInfo`] and of a [`Rejection`].
///
/// [`as_str`](Self::as_str) (also its `Display`) is a `snake_case` code for an API's error
/// bodies; the codes do not change. New kinds may be added.
///
/// ```
/// use route_handlers::request::RejectionKind;
///
/// assert_eq!(RejectionKind::InvalidQuery.as_str(), "invalid_query");
/// assert_eq!(RejectionKind::PayloadTooLarge.status(), 413);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// `413`: the body is larger than the route's limit.
    PayloadTooLarge,
    /// `415`: the body's `Content-Type` is not the one the reader expects.
    UnsupportedMediaType,
    /// `400`: the body is not well-formed JSON.
    MalformedJson,
    /// `400`: the JSON body is well-formed but does not deserialize into the handler's type.
    InvalidJson,
    /// `400`: the `application/x-www-form-urlencoded` body does not deserialize.
    InvalidForm,
    /// `400`: the query string does not deserialize.
    InvalidQuery,
    /// `400`: the body read as text is not UTF-8.
    InvalidUtf8,
    /// `400`: the body failed to arrive (the connection broke, a body error).
    BodyReadFailed,
    /// `500`: the handler read the body a second time.
    BodyAlreadyRead,
    /// `400`: a path parameter does not deserialize (a
    /// [`ParamsError`](crate::routes::ParamsError) from the URL).
    InvalidPathParams,
    /// `500`: the handler's type asks for a number of path parameters the route does not
    /// have (a [`ParamsError`](crate::routes::ParamsError) that is a server bug).
    PathParamsMismatch,
}

impl RejectionKind {
    /// The `snake_case` code, as `"invalid_json"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::MalformedJson => "malformed_json",
            Self::InvalidJson => "invalid_json",
            Self::InvalidForm => "invalid_form",
            Self::InvalidQuery => "invalid_query",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::BodyReadFailed => "body_read_failed",
            Self::BodyAlreadyRead => "body_already_read",
            Self::InvalidPathParams => "invalid_path_params",
            Self::PathParamsMismatch => "path_params_mismatch",
        }
    }

    /// The status a rejection of this kind answers with.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::MalformedJson
            | Self::InvalidJson
            | Self::InvalidForm
            | Self::InvalidQuery
            | Self::InvalidUtf8
            | Self::BodyReadFailed
            | Self::InvalidPathParams => StatusCode::BAD_REQUEST,
            Self::BodyAlreadyRead | Self::PathParamsMismatch => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for RejectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rejection as a response extension: what a layer or hook outside the handler needs to
/// answer it in an API's own shape.
///
/// Every response of a [`Rejection`] or a [`ParamsError`](crate::routes::ParamsError) that
/// tells the client what is wrong carries one: its status, [`kind`](Self::kind),
/// [`message`](Self::message) (the `text/plain` body) and [`path`](Self::path). An internal
/// `500` from [`HttpError`](crate::response::HttpError) carries none. A route table answers
/// them in an API's own shape with [`Routes::rejection`](crate::Routes::rejection); around
/// a lone route, a layer does it as below. Cloning it is cheap.
///
/// ```
/// use http::{Request, StatusCode};
/// use route_handlers::{
///     Body, RouteHandler,
///     request::{Query, RejectionInfo},
///     response::{IntoResponse, json},
/// };
/// use tower::ServiceExt;
///
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32 }
///
/// /// Answers rejections as `{"error": {"code", "message", "field"}}`.
/// fn reshape(res: http::Response<Body>) -> http::Response<Body> {
///     let Some(info) = res.extensions().get::<RejectionInfo>() else {
///         return res;
///     };
///     let body = serde_json::json!({ "error": {
///         "code": info.kind().as_str(),
///         "message": info.message(),
///         "field": info.path(),
///     }});
///     (info.status(), json(body)).into_response()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let svc = tower::ServiceBuilder::new()
///     .map_response(reshape)
///     .service(RouteHandler::new().get(|Query(p): Query<Page>| async move { p.page.to_string() }).into_service());
///
/// let req = Request::get("/?page=x").body(Body::empty()).unwrap();
/// let res = svc.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// # use http_body_util::BodyExt;
/// let body = res.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(
///     body,
///     r#"{"error":{"code":"invalid_query","field":"page","message":"invalid query string: page: invalid digit found in string"}}"#
/// );
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectionInfo {
    status: StatusCode,
    kind: RejectionKind,
    message: Arc<str>,
    path: Option<Arc<str>>,
}

impl RejectionInfo {
    /// A rejection of `kind` (answering with its status) with `message`.
    pub(crate) fn new(kind: RejectionKind, message: impl Into<Arc<str>>) -> Self {
        Self {
            status: kind.status(),
            kind,
            message: message.into(),
            path: None,
        }
    }

    /// Names the field, parameter or path the rejection is about.
    pub(crate) fn with_path(mut self, path: impl Into<Arc<str>>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// What went wrong.
    pub fn kind(&self) -> RejectionKind {
        self.kind
    }

    /// The message, as the `text/plain` body says it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The field (`items[2].price`) or path parameter (`id`) the rejection is about, when
    /// it is about one.
    pub fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }
}

impl fmt::Display for RejectionInfo {
    /// The message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// The message of a [`RejectionInfo`] as the bytes of a body, without a copy.
struct MessageBytes(Arc<str>);

impl AsRef<[u8]> for MessageBytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// The response of a rejection: `info`'s status, its message as a `text/plain` body, and
/// `info` itself as an extension for a layer that reshapes rejections. Every rejection
/// response of the crate is built here, so that they all carry the extension.
pub(crate) fn rejection_response(info: RejectionInfo) -> Response<Body> {
    let body = Bytes::from_owner(MessageBytes(info.message.clone()));
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = info.status;
    res.headers_mut().insert(CONTENT_TYPE, TEXT_PLAIN);
    res.extensions_mut().insert(info);
    res
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    fn query_error(query: &str) -> Rejection {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Q {
            page: u32,
        }
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        Rejection::query(serde_path_to_error::deserialize::<_, Q>(de).unwrap_err())
    }

    #[test]
    fn kinds_have_their_status_and_code() {
        let cases = [
            (RejectionKind::PayloadTooLarge, 413, "payload_too_large"),
            (
                RejectionKind::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (RejectionKind::MalformedJson, 400, "malformed_json"),
            (RejectionKind::InvalidJson, 400, "invalid_json"),
            (RejectionKind::InvalidForm, 400, "invalid_form"),
            (RejectionKind::InvalidQuery, 400, "invalid_query"),
            (RejectionKind::InvalidUtf8, 400, "invalid_utf8"),
            (RejectionKind::BodyReadFailed, 400, "body_read_failed"),
            (RejectionKind::BodyAlreadyRead, 500, "body_already_read"),
            (RejectionKind::InvalidPathParams, 400, "invalid_path_params"),
            (
                RejectionKind::PathParamsMismatch,
                500,
                "path_params_mismatch",
            ),
        ];
        for (kind, status, code) in cases {
            assert_eq!(
                (kind.status().as_u16(), kind.as_str()),
                (status, code),
                "{kind:?}"
            );
            assert_eq!(kind.to_string(), code);
        }
    }

    #[test]
    fn each_rejection_names_its_kind() {
        let cases = [
            (
                Rejection::payload_too_large(1),
                RejectionKind::PayloadTooLarge,
            ),
            (
                Rejection::content_type("application/json", None),
                RejectionKind::UnsupportedMediaType,
            ),
            (
                Rejection::json_syntax(serde_json::from_str::<u8>("{").unwrap_err()),
                RejectionKind::MalformedJson,
            ),
            (query_error("page=x"), RejectionKind::InvalidQuery),
            (
                Rejection::utf8(String::from_utf8(vec![0xff]).unwrap_err().utf8_error()),
                RejectionKind::InvalidUtf8,
            ),
            (
                Rejection::read("reset".into()),
                RejectionKind::BodyReadFailed,
            ),
            (Rejection::already_read(), RejectionKind::BodyAlreadyRead),
        ];
        for (rejection, kind) in cases {
            assert_eq!(rejection.kind(), kind, "{rejection}");
            assert_eq!(rejection.status(), kind.status(), "{rejection}");
        }
    }

    #[tokio::test]
    async fn a_rejection_response_carries_its_info() {
        let res = query_error("page=x").into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        let info = res.extensions().get::<RejectionInfo>().unwrap().clone();
        assert_eq!(info.status(), StatusCode::BAD_REQUEST);
        assert_eq!(info.kind(), RejectionKind::InvalidQuery);
        assert_eq!(info.path(), Some("page"));
        assert_eq!(
            info.message(),
            "invalid query string: page: invalid digit found in string"
        );
        assert_eq!(info.to_string(), info.message());
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, info.message().as_bytes());

        // At the top level there is no path.
        let res = query_error("").into_response();
        let info = res.extensions().get::<RejectionInfo>().unwrap();
        assert_eq!(
            (info.path(), info.message()),
            (None, "invalid query string: missing field `page`")
        );
    }

    #[test]
    fn the_internal_error_of_reading_twice_carries_no_info() {
        let rejection = Rejection::already_read();
        assert_eq!(rejection.body_text(), "");
        let res = rejection.into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(res.extensions().get::<RejectionInfo>().is_none());
        assert!(
            res.extensions()
                .get::<crate::response::HandlerError>()
                .is_some()
        );
    }

    #[test]
    fn the_helper_builds_what_params_errors_need() {
        let info = RejectionInfo::new(RejectionKind::InvalidPathParams, "bad id").with_path("id");
        let res = rejection_response(info.clone());
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(res.extensions().get::<RejectionInfo>(), Some(&info));
    }
}
