//! [`Rejection`]: why a request could not be read as asked.

use std::fmt;

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
/// | status | when |
/// | --- | --- |
/// | `413 Payload Too Large` | the body is larger than the route's limit (by `Content-Length`, or counted while reading) |
/// | `415 Unsupported Media Type` | `json()` or `form()` on a body with another `Content-Type` |
/// | `400 Bad Request` | malformed or mistyped JSON, a malformed form or query, a body that is not UTF-8 for `text()`, a body that failed to arrive |
///
/// It converts into an [`HttpError`](crate::response::HttpError) with `?`, keeping its
/// response.
///
/// ```
/// use http::StatusCode;
/// use route_handlers::{Body, request::NextRequest};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let req = http::Request::post("/")
///     .header("content-type", "text/plain")
///     .body(Body::from("{}"))
///     .unwrap();
/// let err = NextRequest::new(req).json::<serde_json::Value>().await.unwrap_err();
/// assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
/// assert_eq!(
///     err.to_string(),
///     "expected a request body with `content-type: application/json`, got `text/plain`"
/// );
/// # }
/// ```
#[derive(Debug)]
pub struct Rejection {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    TooLarge {
        limit: usize,
    },
    ContentType {
        expected: &'static str,
        got: Option<String>,
    },
    JsonSyntax(serde_json::Error),
    JsonData(serde_json::Error),
    Form(serde_urlencoded::de::Error),
    Query(serde_urlencoded::de::Error),
    Utf8(std::str::Utf8Error),
    Read(BoxError),
    AlreadyRead,
}

impl Rejection {
    pub(crate) fn payload_too_large(limit: usize) -> Self {
        Self {
            kind: Kind::TooLarge { limit },
        }
    }

    pub(crate) fn content_type(expected: &'static str, got: Option<&HeaderValue>) -> Self {
        let got = got.map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
        Self {
            kind: Kind::ContentType { expected, got },
        }
    }

    pub(crate) fn json(err: serde_json::Error) -> Self {
        let kind = if err.is_data() {
            Kind::JsonData(err)
        } else {
            Kind::JsonSyntax(err)
        };
        Self { kind }
    }

    pub(crate) fn form(err: serde_urlencoded::de::Error) -> Self {
        Self {
            kind: Kind::Form(err),
        }
    }

    pub(crate) fn query(err: serde_urlencoded::de::Error) -> Self {
        Self {
            kind: Kind::Query(err),
        }
    }

    pub(crate) fn utf8(err: std::str::Utf8Error) -> Self {
        Self {
            kind: Kind::Utf8(err),
        }
    }

    pub(crate) fn read(err: BoxError) -> Self {
        Self {
            kind: Kind::Read(err),
        }
    }

    pub(crate) fn already_read() -> Self {
        Self {
            kind: Kind::AlreadyRead,
        }
    }

    /// The status the rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self.kind {
            Kind::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Kind::ContentType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Kind::JsonSyntax(_)
            | Kind::JsonData(_)
            | Kind::Form(_)
            | Kind::Query(_)
            | Kind::Utf8(_)
            | Kind::Read(_) => StatusCode::BAD_REQUEST,
            Kind::AlreadyRead => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Whether the body was larger than the limit.
    pub fn is_too_large(&self) -> bool {
        matches!(self.kind, Kind::TooLarge { .. })
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::TooLarge { limit } => {
                write!(f, "request body is larger than the limit of {limit} bytes")
            }
            Kind::ContentType { expected, got } => {
                write!(
                    f,
                    "expected a request body with `content-type: {expected}`, "
                )?;
                match got {
                    Some(got) => write!(f, "got `{got}`"),
                    None => f.write_str("got none"),
                }
            }
            Kind::JsonSyntax(err) => write!(f, "malformed JSON in the request body: {err}"),
            Kind::JsonData(err) => {
                write!(
                    f,
                    "the JSON request body does not match the expected shape: {err}"
                )
            }
            Kind::Form(err) => write!(f, "malformed form in the request body: {err}"),
            Kind::Query(err) => write!(f, "malformed query string: {err}"),
            Kind::Utf8(err) => write!(f, "request body is not valid UTF-8: {err}"),
            Kind::Read(err) => write!(f, "failed to read the request body: {err}"),
            Kind::AlreadyRead => f.write_str("the request body has already been read"),
        }
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::JsonSyntax(err) | Kind::JsonData(err) => Some(err),
            Kind::Form(err) | Kind::Query(err) => Some(err),
            Kind::Utf8(err) => Some(err),
            Kind::Read(err) => Some(&**err),
            Kind::TooLarge { .. } | Kind::ContentType { .. } | Kind::AlreadyRead => None,
        }
    }
}

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

impl IntoResponse for Rejection {
    fn into_response(self) -> Response<Body> {
        tracing::debug!(status = %self.status(), reason = %self, "rejected a request");
        if matches!(self.kind, Kind::AlreadyRead) {
            return crate::response::HttpError::internal(self).into_response();
        }
        let status = self.status();
        let mut res = Response::new(Body::from(self.to_string()));
        *res.status_mut() = status;
        res.headers_mut().insert(CONTENT_TYPE, TEXT_PLAIN);
        res
    }
}
