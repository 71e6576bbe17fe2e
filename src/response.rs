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
//!
//! # Helpers
//!
//! The Rust forms of what a Next.js handler reaches for on `NextResponse` and in
//! `next/navigation`:
//!
//! - [`json`] (`NextResponse.json`), [`redirect`] (`307`), [`permanent_redirect`] (`308`)
//!   and [`redirect_with`], which refuses a status that is not a redirect;
//! - [`SetCookieExt`]: `Set-Cookie` headers on a response, one per cookie (`cookies.set`,
//!   `cookies.delete`);
//! - [`HttpError`] with [`not_found`], [`forbidden`] and [`unauthorized`]: early returns
//!   with `?` from anywhere in a handler that returns `Result<_, HttpError>`; any
//!   `std::error::Error` converts into it and answers `500` with an empty body, logged by the
//!   route with its pattern and method;
//! - [`sse`]: a `text/event-stream` response from a stream of [`Event`]s. Any other stream of
//!   bytes becomes a body with [`Body::from_stream`].
//!
//! ```
//! use http::StatusCode;
//! use route_handlers::response::{self, HttpError, IntoResponse, SetCookieExt};
//!
//! fn find(id: u32) -> Result<&'static str, HttpError> {
//!     match id {
//!         1 => Ok("ada"),
//!         _ => Err(response::not_found()),
//!     }
//! }
//!
//! fn handler(id: u32) -> Result<http::Response<route_handlers::Body>, HttpError> {
//!     let name = find(id)?;
//!     let number: u32 = "12".parse()?; // a std error: 500 if it failed
//!     let res = response::json(serde_json::json!({ "name": name, "n": number }))
//!         .with_cookie(("seen", "1"));
//!     Ok(res)
//! }
//!
//! let res = handler(1).into_response();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["set-cookie"], "seen=1; Path=/");
//! assert_eq!(handler(2).into_response().status(), StatusCode::NOT_FOUND);
//!
//! let res = response::redirect("/login");
//! assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
//! assert_eq!(res.headers()["location"], "/login");
//! ```

mod cookies;
mod error;
pub(crate) mod rejection;
mod sse;

use std::convert::Infallible;

use bytes::{BufMut, Bytes, BytesMut};
use http::{
    HeaderMap, HeaderValue, Response, StatusCode,
    header::{CONTENT_TYPE, LOCATION},
};
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::body::{Body, BoxError};

pub(crate) use self::error::HandlerError;
#[doc(inline)]
pub use self::{
    cookies::{InvalidCookie, SetCookieExt},
    error::{HttpError, forbidden, not_found, unauthorized},
    sse::{Event, InvalidEventField, Sse, SseItem, sse},
};

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

/// A JSON response, as `NextResponse.json(value)`: `200` with `content-type:
/// application/json` (no charset, as Next.js sends it).
///
/// Pair it with a status as `(StatusCode::CREATED, Json(value))`. A value that fails to
/// serialize answers `500` with an empty body and is logged (see [`Json`]).
///
/// ```
/// let res = route_handlers::response::json(serde_json::json!({ "ok": true }));
/// assert_eq!(res.status(), 200);
/// assert_eq!(res.headers()["content-type"], "application/json");
/// ```
pub fn json<T: serde::Serialize>(value: T) -> Response<Body> {
    Json(value).into_response()
}

/// What [`redirect`] percent-encodes in a URL so that it is a valid `Location` value: the
/// controls, space, `"`, `<`, `>` and `` ` `` (and every non-ASCII byte). Other characters,
/// `%` included, are kept, so an encoded URL is not encoded twice.
const LOCATION_ENCODE: &AsciiSet = &CONTROLS.add(b' ').add(b'"').add(b'<').add(b'>').add(b'`');

fn location(url: &str) -> HeaderValue {
    let encoded = utf8_percent_encode(url, LOCATION_ENCODE).to_string();
    HeaderValue::try_from(encoded).expect("percent-encoding leaves only visible ASCII")
}

fn redirect_response(url: &str, status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res.headers_mut().insert(LOCATION, location(url));
    res
}

/// A temporary redirect, as `NextResponse.redirect(url)` and `redirect(url)` from
/// `next/navigation`: `307 Temporary Redirect` with `Location` and an empty body. `307`
/// keeps the method and body, unlike `302`.
///
/// The URL may be absolute or relative. Characters a header cannot hold (controls, space,
/// non-ASCII) are percent-encoded, as a browser would; nothing else is changed.
///
/// ```
/// use route_handlers::response::redirect;
///
/// let res = redirect("/search?q=caf\u{e9} au lait");
/// assert_eq!(res.status(), 307);
/// assert_eq!(res.headers()["location"], "/search?q=caf%C3%A9%20au%20lait");
/// ```
pub fn redirect(url: impl AsRef<str>) -> Response<Body> {
    redirect_response(url.as_ref(), StatusCode::TEMPORARY_REDIRECT)
}

/// A permanent redirect, as `permanentRedirect(url)`: `308 Permanent Redirect` with
/// `Location` and an empty body.
///
/// ```
/// let res = route_handlers::response::permanent_redirect("https://example.com/new");
/// assert_eq!(res.status(), 308);
/// assert_eq!(res.headers()["location"], "https://example.com/new");
/// ```
pub fn permanent_redirect(url: impl AsRef<str>) -> Response<Body> {
    redirect_response(url.as_ref(), StatusCode::PERMANENT_REDIRECT)
}

/// A redirect with an explicit status, as `NextResponse.redirect(url, status)`: only `301`,
/// `302`, `303`, `307` and `308` are redirects; any other status is refused here, at the
/// call, rather than sent (Next.js throws a `RangeError`).
///
/// ```
/// use http::StatusCode;
/// use route_handlers::response::redirect_with;
///
/// let res = redirect_with("/done", StatusCode::SEE_OTHER).unwrap();
/// assert_eq!(res.status(), 303);
///
/// let err = redirect_with("/done", StatusCode::OK).unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid redirect status 200: a redirect is 301, 302, 303, 307 or 308"
/// );
/// ```
pub fn redirect_with(
    url: impl AsRef<str>,
    status: StatusCode,
) -> Result<Response<Body>, InvalidRedirectStatus> {
    match status.as_u16() {
        301 | 302 | 303 | 307 | 308 => Ok(redirect_response(url.as_ref(), status)),
        _ => Err(InvalidRedirectStatus(status)),
    }
}

/// The error of [`redirect_with`] for a status that is not a redirect.
///
/// It answers `500` (a redirect with a wrong status is a bug in the handler, not the
/// client's fault), as a response of its own or converted into an [`HttpError`] with `?`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidRedirectStatus(StatusCode);

impl InvalidRedirectStatus {
    /// The status that was refused.
    pub fn status(&self) -> StatusCode {
        self.0
    }
}

impl std::fmt::Display for InvalidRedirectStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "invalid redirect status {}: a redirect is 301, 302, 303, 307 or 308",
            self.0.as_u16()
        )
    }
}

impl std::error::Error for InvalidRedirectStatus {}

/// `500` with an empty body, logged by the route: a handler may return the result of
/// [`redirect_with`] as it is.
impl IntoResponse for InvalidRedirectStatus {
    fn into_response(self) -> Response<Body> {
        HttpError::internal(self).into_response()
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
    async fn redirects() {
        let cases = [
            (redirect("/a"), 307, "/a"),
            (permanent_redirect("/b"), 308, "/b"),
            (
                redirect("https://x.test/p?q=1#f"),
                307,
                "https://x.test/p?q=1#f",
            ),
            (
                redirect("/a b\u{7f}\n<\"`>"),
                307,
                "/a%20b%7F%0A%3C%22%60%3E",
            ),
            (redirect("/already%20encoded"), 307, "/already%20encoded"),
            (redirect("/\u{1F600}"), 307, "/%F0%9F%98%80"),
        ];
        for (res, status, location) in cases {
            assert_eq!(res.status(), status);
            assert_eq!(res.headers()[LOCATION], location);
            assert_eq!(res.headers().len(), 1);
            assert!(body(res).await.is_empty());
        }
        for code in [301, 302, 303, 307, 308] {
            let status = StatusCode::from_u16(code).unwrap();
            let res = redirect_with("/x", status).unwrap();
            assert_eq!(res.status(), status);
            assert_eq!(res.headers()[LOCATION], "/x");
        }
        for code in [200, 300, 304, 305, 306, 309, 404, 500] {
            let status = StatusCode::from_u16(code).unwrap();
            let err = redirect_with("/x", status).unwrap_err();
            assert_eq!(err.status(), status);
            assert_eq!(
                err.to_string(),
                format!("invalid redirect status {code}: a redirect is 301, 302, 303, 307 or 308")
            );
        }
    }

    #[tokio::test]
    async fn json_helper() {
        let res = json(serde_json::json!({"a": [1, 2]}));
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(body(res).await, r#"{"a":[1,2]}"#);
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
