//! Turning what a handler returns into a response.
//!
//! A handler may return anything that implements [`IntoResponse`]: an `http::Response` with
//! any body of [`Bytes`], a `String` or `&'static str` (`text/plain; charset=utf-8`), [`Bytes`]
//! or `Vec<u8>` (`application/octet-stream`), [`Json`] (`application/json`), a
//! [`StatusCode`], `()` (an empty `200`), a `(StatusCode, T)` pair, and `Result<T, E>` where
//! both sides convert, so `?` works inside handlers.
//!
//! # Example
//!
//! ```
//! use http::StatusCode;
//! use route_handlers::response::{IntoResponse, Json};
//!
//! let res = (StatusCode::CREATED, Json(serde_json::json!({ "id": 7 }))).into_response();
//! assert_eq!(res.status(), StatusCode::CREATED);
//! assert_eq!(res.headers()["content-type"], "application/json");
//! ```

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue, Response, StatusCode, header::CONTENT_TYPE};

use crate::body::{Body, BoxError};

/// Converts a value into a response.
///
/// ```
/// use route_handlers::response::IntoResponse;
///
/// struct Teapot;
///
/// impl IntoResponse for Teapot {
///     fn into_response(self) -> http::Response<route_handlers::Body> {
///         (http::StatusCode::IM_A_TEAPOT, "short and stout").into_response()
///     }
/// }
///
/// assert_eq!(Teapot.into_response().status(), 418);
/// ```
pub trait IntoResponse {
    /// Makes the response.
    fn into_response(self) -> Response<Body>;
}

impl<B> IntoResponse for Response<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    #[inline]
    fn into_response(self) -> Response<Body> {
        self.map(Body::new)
    }
}

impl IntoResponse for Body {
    fn into_response(self) -> Response<Body> {
        Response::new(self)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> Response<Body> {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = self;
        res
    }
}

impl IntoResponse for () {
    fn into_response(self) -> Response<Body> {
        Response::new(Body::empty())
    }
}

impl IntoResponse for Infallible {
    fn into_response(self) -> Response<Body> {
        match self {}
    }
}

const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const OCTET_STREAM: HeaderValue = HeaderValue::from_static("application/octet-stream");
const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");

fn with_content_type(body: Body, content_type: HeaderValue) -> Response<Body> {
    let mut res = Response::new(body);
    res.headers_mut().insert(CONTENT_TYPE, content_type);
    res
}

impl IntoResponse for &'static str {
    #[inline]
    fn into_response(self) -> Response<Body> {
        with_content_type(Body::from(self), TEXT_PLAIN)
    }
}

impl IntoResponse for String {
    #[inline]
    fn into_response(self) -> Response<Body> {
        with_content_type(Body::from(self), TEXT_PLAIN)
    }
}

impl IntoResponse for Bytes {
    fn into_response(self) -> Response<Body> {
        with_content_type(Body::from(self), OCTET_STREAM)
    }
}

impl IntoResponse for Vec<u8> {
    fn into_response(self) -> Response<Body> {
        with_content_type(Body::from(self), OCTET_STREAM)
    }
}

impl IntoResponse for &'static [u8] {
    fn into_response(self) -> Response<Body> {
        with_content_type(Body::from(self), OCTET_STREAM)
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> Response<Body> {
        let mut res = self.1.into_response();
        *res.status_mut() = self.0;
        res
    }
}

impl<T: IntoResponse> IntoResponse for (HeaderMap, T) {
    fn into_response(self) -> Response<Body> {
        let mut res = self.1.into_response();
        res.headers_mut().extend(self.0);
        res
    }
}

impl<T: IntoResponse> IntoResponse for (StatusCode, HeaderMap, T) {
    fn into_response(self) -> Response<Body> {
        let mut res = (self.1, self.2).into_response();
        *res.status_mut() = self.0;
        res
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    #[inline]
    fn into_response(self) -> Response<Body> {
        match self {
            Ok(ok) => ok.into_response(),
            Err(err) => err.into_response(),
        }
    }
}

/// A JSON response: the value serialized with `serde_json`, sent as `application/json`.
///
/// A value that fails to serialize answers `500` with an empty body, and the error is logged.
///
/// ```
/// use route_handlers::response::{IntoResponse, Json};
///
/// let res = Json(vec![1, 2, 3]).into_response();
/// assert_eq!(res.headers()["content-type"], "application/json");
/// ```
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response<Body> {
        let mut buf = BytesMut::with_capacity(128).writer();
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => with_content_type(Body::from(buf.into_inner().freeze()), APPLICATION_JSON),
            Err(err) => {
                tracing::error!(error = %err, "failed to serialize a JSON response");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    async fn body(res: Response<Body>) -> Bytes {
        res.into_body().collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn conversions() {
        let res = "hi".into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
        assert_eq!(body(res).await, "hi");

        let res = Bytes::from_static(b"\x00\x01").into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "application/octet-stream");

        let res = (StatusCode::ACCEPTED, String::from("later")).into_response();
        assert_eq!(res.status(), StatusCode::ACCEPTED);
        assert_eq!(body(res).await, "later");

        let res = Err::<&str, _>(StatusCode::BAD_REQUEST).into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);

        let res = Json(serde_json::json!({"a": 1})).into_response();
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(body(res).await, r#"{"a":1}"#);

        let res = ().into_response();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(body(res).await.is_empty());
    }

    #[tokio::test]
    async fn json_that_fails_to_serialize_is_500() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 1); // non-string keys cannot be JSON object keys
        let res = Json(map).into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body(res).await.is_empty());
    }
}
