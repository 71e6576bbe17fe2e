//! [`HttpError`]: early returns from a handler, and errors that become a `500`.

use std::{error::Error, fmt, sync::Arc};

use http::{Response, StatusCode};

use super::{IntoResponse, permanent_redirect, redirect};
use crate::{
    body::{Body, BoxError, try_downcast},
    response::rejection::Rejection,
};

/// The error half of a handler's `Result`: a response to send instead of the happy path.
///
/// Return `Result<T, HttpError>` from a handler (or from any function it calls) and use `?`:
///
/// - [`not_found`], [`forbidden`] and [`unauthorized`] answer `404`, `403` and `401` with an
///   empty body, as Next.js's `notFound()`, `forbidden()` and `unauthorized()` do;
///   [`HttpError::redirect`] answers `307` as `redirect()` does;
/// - the [`Rejection`] of a request body reader keeps its own status and message (`400`,
///   `413`, `415`);
/// - any other error answers `500` with an empty body, and the route logs it with `tracing`
///   at the error level, naming the route's pattern and the method; the client learns
///   nothing of it;
/// - [`HttpError::from_response`] sends any response you built.
///
/// **What converts with `?`**: everything that converts into a boxed error,
/// `Box<dyn Error + Send + Sync>` (the crate's [`BoxError`]): every
/// `std::error::Error + Send + Sync + 'static`, a `BoxError` itself, and error types that
/// are not `std::error::Error` but convert into a box, as `anyhow::Error` and
/// `eyre::Report` do (`?` on an `anyhow::Result` works as is). A `String` or `&'static str`
/// converts too, as it does into a `BoxError`, and answers `500` like any other error. A
/// [`Rejection`] keeps its response, boxed or not.
///
/// (Why one impl, `impl<E: Into<BoxError>> From<E>`, rather than the usual
/// `impl<E: Error> From<E>` with a second impl for `BoxError`: the two would overlap, because
/// the standard library may one day implement `Error` for `Box<dyn Error + Send + Sync>`, so
/// the compiler refuses the pair (E0119). The bound `Into<BoxError>` covers both.)
///
/// `HttpError` does not implement `std::error::Error` itself, nor convert into a
/// `BoxError`: that is what lets every error convert into it with `?`. For an error type of
/// your own that should answer with its own status, implement [`IntoResponse`] for it and
/// return `Result<T, YourError>`, or convert it with [`HttpError::from_response`].
///
/// ```
/// use http::StatusCode;
/// use route_handlers::response::{HttpError, IntoResponse, forbidden};
///
/// fn check(token: &str) -> Result<String, HttpError> {
///     if token != "s3cret" {
///         return Err(forbidden());
///     }
///     let id: u64 = "not a number".parse()?; // ParseIntError: a 500
///     Ok(id.to_string())
/// }
///
/// assert_eq!(check("guess").into_response().status(), StatusCode::FORBIDDEN);
/// let res = check("s3cret").into_response();
/// assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
/// ```
#[must_use]
pub struct HttpError {
    repr: Repr,
}

enum Repr {
    Status(StatusCode),
    Response(Box<Response<Body>>),
    Internal(BoxError),
}

impl HttpError {
    /// An error that answers `status` with an empty body.
    pub fn new(status: StatusCode) -> Self {
        Self {
            repr: Repr::Status(status),
        }
    }

    /// An error that answers with `response`.
    ///
    /// ```
    /// use http::StatusCode;
    /// use route_handlers::response::{HttpError, IntoResponse};
    ///
    /// let err = HttpError::from_response((StatusCode::CONFLICT, "already taken"));
    /// assert_eq!(err.status(), StatusCode::CONFLICT);
    /// assert_eq!(err.into_response().headers()["content-type"], "text/plain; charset=utf-8");
    /// ```
    pub fn from_response(response: impl IntoResponse) -> Self {
        Self {
            repr: Repr::Response(Box::new(response.into_response())),
        }
    }

    /// An internal error: `500` with an empty body, logged by the route.
    pub fn internal(error: impl Into<BoxError>) -> Self {
        Self {
            repr: Repr::Internal(error.into()),
        }
    }

    /// `307 Temporary Redirect` to `url`, as `redirect(url)` from `next/navigation` (see
    /// [`redirect`](super::redirect)).
    pub fn redirect(url: impl AsRef<str>) -> Self {
        Self::from_response(redirect(url))
    }

    /// `308 Permanent Redirect` to `url`, as `permanentRedirect(url)` (see
    /// [`permanent_redirect`](super::permanent_redirect)).
    pub fn permanent_redirect(url: impl AsRef<str>) -> Self {
        Self::from_response(permanent_redirect(url))
    }

    /// The status the error answers with.
    pub fn status(&self) -> StatusCode {
        match &self.repr {
            Repr::Status(status) => *status,
            Repr::Response(res) => res.status(),
            Repr::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The error behind an internal error, if this is one.
    pub fn internal_error(&self) -> Option<&(dyn Error + Send + Sync + 'static)> {
        match &self.repr {
            Repr::Internal(err) => Some(&**err),
            _ => None,
        }
    }
}

/// `404 Not Found` with an empty body, as `notFound()`.
///
/// ```
/// use route_handlers::response::{HttpError, not_found};
///
/// fn user(id: u32) -> Result<&'static str, HttpError> {
///     [(1, "ada")].iter().find(|(i, _)| *i == id).map(|(_, n)| *n).ok_or_else(not_found)
/// }
/// assert_eq!(user(2).unwrap_err().status(), 404);
/// ```
pub fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND)
}

/// `403 Forbidden` with an empty body, as `forbidden()`.
///
/// ```
/// assert_eq!(route_handlers::response::forbidden().status(), 403);
/// ```
pub fn forbidden() -> HttpError {
    HttpError::new(StatusCode::FORBIDDEN)
}

/// `401 Unauthorized` with an empty body, as `unauthorized()`. Like Next.js it sends no
/// `WWW-Authenticate`; add one with [`HttpError::from_response`] when the client needs the
/// challenge.
///
/// ```
/// assert_eq!(route_handlers::response::unauthorized().status(), 401);
/// ```
pub fn unauthorized() -> HttpError {
    HttpError::new(StatusCode::UNAUTHORIZED)
}

/// `?` on any error: see [`HttpError`] for why the bound is `Into<BoxError>`.
///
/// ```
/// use std::{error::Error, fmt};
/// use http::StatusCode;
/// use route_handlers::{body::BoxError, response::{HttpError, IntoResponse}};
///
/// // Any `std::error::Error + Send + Sync + 'static`.
/// #[derive(Debug)]
/// struct NoSuchTable;
/// impl fmt::Display for NoSuchTable {
///     fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
///         f.write_str("no such table: users")
///     }
/// }
/// impl Error for NoSuchTable {}
///
/// // A boxed error, as a library returns it.
/// fn load() -> Result<(), BoxError> {
///     Err(NoSuchTable.into())
/// }
///
/// // An error that is not `std::error::Error` but converts into a box, the shape of
/// // `anyhow::Error` (which implements `From<anyhow::Error> for Box<dyn Error + Send + Sync>`).
/// #[derive(Debug)]
/// struct Report(String);
/// impl From<Report> for BoxError {
///     fn from(report: Report) -> Self {
///         report.0.into()
///     }
/// }
///
/// fn handler(step: u8) -> Result<&'static str, HttpError> {
///     match step {
///         0 => Err(NoSuchTable)?,
///         1 => load()?,
///         2 => Err(Report("context: it broke".into()))?,
///         _ => {}
///     }
///     Ok("done")
/// }
///
/// for step in 0..3 {
///     let err = handler(step).unwrap_err();
///     assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
///     assert!(err.internal_error().is_some());
/// }
/// assert_eq!(handler(1).unwrap_err().to_string(), "internal error: no such table: users");
/// assert_eq!(handler(2).unwrap_err().to_string(), "internal error: context: it broke");
/// assert_eq!(handler(3).into_response().status(), StatusCode::OK);
/// ```
impl<E> From<E> for HttpError
where
    E: Into<BoxError> + 'static,
{
    /// A request [`Rejection`], boxed or not, keeps its own response; any other error is
    /// internal.
    fn from(error: E) -> Self {
        let error = match try_downcast::<Rejection, E>(error) {
            Ok(rejection) => return Self::from_response(rejection),
            Err(error) => error.into(),
        };
        match error.downcast::<Rejection>() {
            Ok(rejection) => Self::from_response(*rejection),
            Err(error) => Self::internal(error),
        }
    }
}

impl fmt::Debug for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Status(status) => f.debug_tuple("HttpError").field(status).finish(),
            Repr::Response(res) => f.debug_tuple("HttpError").field(res).finish(),
            Repr::Internal(err) => f.debug_tuple("HttpError::Internal").field(err).finish(),
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Internal(err) => write!(f, "internal error: {}", Chain(&**err)),
            _ => write!(f, "{}", self.status()),
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response<Body> {
        match self.repr {
            Repr::Status(status) => status.into_response(),
            Repr::Response(res) => *res,
            Repr::Internal(err) => {
                let mut res = StatusCode::INTERNAL_SERVER_ERROR.into_response();
                res.extensions_mut().insert(HandlerError(Arc::from(err)));
                res
            }
        }
    }
}

/// A boxed error as a handler's error type answers as [`HttpError::internal`] does.
impl IntoResponse for BoxError {
    fn into_response(self) -> Response<Body> {
        HttpError::internal(self).into_response()
    }
}

/// The error behind a `500` answer, carried in the response's extensions from
/// [`HttpError::into_response`] to the route, which logs it with the route and method and
/// removes it.
#[derive(Clone)]
pub(crate) struct HandlerError(Arc<dyn Error + Send + Sync>);

impl fmt::Display for HandlerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Chain(&*self.0).fmt(f)
    }
}

/// An error and its sources, joined with `": "`.
struct Chain<'a>(&'a (dyn Error + 'static));

impl fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(err) = source {
            write!(f, ": {err}")?;
            source = err.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[derive(Debug)]
    struct Outer(std::io::Error);
    impl fmt::Display for Outer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("loading the user failed")
        }
    }
    impl Error for Outer {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&self.0)
        }
    }

    async fn parts(err: HttpError) -> (StatusCode, usize, bool, String) {
        let res = err.into_response();
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let logged = parts.extensions.get::<HandlerError>().is_some();
        (
            parts.status,
            parts.headers.len(),
            logged,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    #[tokio::test]
    async fn control_flow_errors_are_bare_statuses() {
        let cases = [
            (not_found(), 404),
            (forbidden(), 403),
            (unauthorized(), 401),
            (HttpError::new(StatusCode::GONE), 410),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status);
            assert_eq!(
                parts(err).await,
                (
                    StatusCode::from_u16(status).unwrap(),
                    0,
                    false,
                    String::new()
                )
            );
        }
    }

    #[tokio::test]
    async fn std_errors_are_internal_and_carry_the_error_for_the_log() {
        fn parse() -> Result<u8, HttpError> {
            Ok("300".parse::<u8>()?)
        }
        let err = parse().unwrap_err();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            err.to_string(),
            "internal error: number too large to fit in target type"
        );
        assert!(err.internal_error().is_some());
        assert_eq!(
            parts(err).await,
            (StatusCode::INTERNAL_SERVER_ERROR, 0, true, String::new())
        );

        let err = HttpError::from(Outer(std::io::Error::other("disk on fire")));
        assert_eq!(
            err.to_string(),
            "internal error: loading the user failed: disk on fire"
        );
        let res = err.into_response();
        let logged = res.extensions().get::<HandlerError>().unwrap();
        assert_eq!(logged.to_string(), "loading the user failed: disk on fire");
    }

    #[tokio::test]
    async fn a_body_rejection_keeps_its_status_and_message() {
        let err = HttpError::from(Rejection::payload_too_large(10));
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let (status, _, logged, body) = parts(err).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!logged);
        assert_eq!(body, "request body is larger than the limit of 10 bytes");
    }

    #[tokio::test]
    async fn redirects_and_responses() {
        let res = HttpError::redirect("/login").into_response();
        assert_eq!(res.status(), StatusCode::TEMPORARY_REDIRECT);
        assert_eq!(res.headers()["location"], "/login");
        let res = HttpError::permanent_redirect("/new").into_response();
        assert_eq!(res.status(), StatusCode::PERMANENT_REDIRECT);
        let err = HttpError::from_response((StatusCode::CONFLICT, "taken"));
        assert_eq!(err.to_string(), "409 Conflict");
        assert_eq!(parts(err).await.3, "taken");
    }

    #[tokio::test]
    async fn boxed_errors_convert_with_the_question_mark() {
        fn boxed() -> Result<(), BoxError> {
            Err(Box::new(Outer(std::io::Error::other("disk on fire"))))
        }
        fn handler() -> Result<(), HttpError> {
            boxed()?;
            Ok(())
        }
        let err = handler().unwrap_err();
        assert_eq!(
            err.to_string(),
            "internal error: loading the user failed: disk on fire"
        );
        assert!(err.internal_error().unwrap().is::<Outer>());
        assert_eq!(
            parts(err).await,
            (StatusCode::INTERNAL_SERVER_ERROR, 0, true, String::new())
        );

        // A rejection keeps its response, boxed or not.
        let boxed: BoxError = Box::new(Rejection::payload_too_large(10));
        let (status, _, logged, body) = parts(HttpError::from(boxed)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!logged);
        assert_eq!(body, "request body is larger than the limit of 10 bytes");

        // Strings convert as they do into a boxed error.
        let err = HttpError::from("no route to the database");
        assert_eq!(err.to_string(), "internal error: no route to the database");
    }

    #[tokio::test]
    async fn a_boxed_error_is_internal() {
        let err: BoxError = "boom".into();
        let res = err.into_response();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            res.extensions().get::<HandlerError>().unwrap().to_string(),
            "boom"
        );
    }
}
