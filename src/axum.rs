//! axum inside route handlers (the `axum` feature).
//!
//! A route handler's arguments are this crate's extractors, and its output this crate's
//! [`IntoResponse`]. With the `axum` feature, axum's own types join them:
//!
//! - as they are, the axum types a route handler reaches for:
//!   [`Path`](::axum::extract::Path) (from the route's params, as this crate's
//!   [`routes::Path`](crate::routes::Path)), [`Query`](::axum::extract::Query),
//!   [`State`](::axum::extract::State) (with axum's `FromRef`, so `#[derive(FromRef)]`
//!   works), [`Json`](::axum::Json) and [`Form`](::axum::Form) as arguments and as
//!   responses, and [`Redirect`](::axum::response::Redirect),
//!   [`Html`](::axum::response::Html), [`NoContent`](::axum::response::NoContent) and
//!   `axum::response::Response` as responses;
//! - through [`Axum`], any other axum extractor of the request head (axum-extra's
//!   `TypedHeader`, `OriginalUri`, a custom `FromRequestParts`) and any
//!   `impl axum::response::IntoResponse`; through [`AxumRequest`], any axum extractor that
//!   consumes the request (`Multipart`, a custom `FromRequest`).
//!
//! The cache fails closed with them as with any extractor: an axum extractor seen through
//! [`Axum`] or [`AxumRequest`] may read anything, so it declares
//! [`RequestData::ALL`](crate::extract::RequestData::ALL), and a cached route's fills run it
//! on a request made from the cache key alone, which holds nothing of any client.
//!
//! ```
//! use std::sync::Arc;
//! use axum::{Json, extract::{Path, Query, State}, http::StatusCode, response::IntoResponse};
//! use route_handlers::{RouteHandler, Routes, axum::Axum};
//!
//! #[derive(serde::Deserialize)]
//! struct Page { page: u32 }
//!
//! async fn product(
//!     State(db): State<Arc<Vec<String>>>,
//!     Path(id): Path<usize>,
//! ) -> Result<Json<String>, StatusCode> {
//!     db.get(id).cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
//! }
//!
//! async fn search(Query(p): Query<Page>) -> Axum<impl IntoResponse> {
//!     Axum((StatusCode::OK, [("x-page", p.page.to_string())], "results"))
//! }
//!
//! let table = Routes::new()
//!     .route("/api/products/[id]", RouteHandler::new().get(product))
//!     .route("/api/search", RouteHandler::new().get(search))
//!     .with_state(Arc::new(vec!["tea".to_string()]))
//!     .build();
//! let app: axum::Router = axum::Router::new().fallback_service(table);
//! # let _ = app;
//! ```
//!
//! # Mounting a table in an axum app
//!
//! Mount a table with `Router::nest_service("/api", table)` or
//! `Router::fallback_service(table)`. Under `nest_service` axum strips the prefix from the
//! request's URI; with this feature the table gives the handler back the URI axum received
//! (its `OriginalUri`) and matches its patterns against that public path first, then against
//! the stripped one. So patterns may be written as public paths (`/api/products`, or
//! relative ones nested with [`Routes::nest`](crate::Routes::nest)) or relative to the mount
//! point (`/products`), and either way the cache key, the handler's URL and
//! [`revalidate_path`](crate::cache::Revalidator::revalidate_path) all use the one public
//! path. A lone [`RouteHandlerService`](crate::RouteHandlerService) under
//! `Router::route_service("/p/{id}", route)` gets its params from axum's captures.

use std::{convert::Infallible, fmt};

use ::axum::response::IntoResponse as AxumIntoResponse;
use http::{Request, Response, request::Parts};

use crate::{
    body::Body,
    context::{RequestData, RouteContext},
    extract::{FromRequest, FromRequestParts},
    request::{Form, Query},
    response::{IntoResponse, Json},
    routes::Path,
};

/// Any axum extractor of the request head as a handler argument, and any axum response as a
/// handler's output.
///
/// As an argument, `T` is any `axum::extract::FromRequestParts<S>` (axum-extra's
/// `TypedHeader`, `OriginalUri`, `Extension`, a custom extractor); its rejection is answered
/// as axum would answer it. Such an extractor may read anything: it declares
/// [`RequestData::ALL`].
///
/// As a response, `T` is any `axum::response::IntoResponse`: header arrays, tuples with
/// axum's `AppendHeaders`, `Sse`, axum's error types.
///
/// ```
/// use axum::{extract::OriginalUri, http::StatusCode, response::IntoResponse};
/// use route_handlers::{RouteHandler, axum::Axum};
///
/// async fn whoami(Axum(OriginalUri(uri)): Axum<OriginalUri>) -> Axum<impl IntoResponse> {
///     Axum((StatusCode::OK, [("x-uri", uri.to_string())]))
/// }
/// let route = RouteHandler::new().get(whoami).into_service();
/// # let _ = route;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Axum<T>(pub T);

impl<S, T> FromRequestParts<S> for Axum<T>
where
    S: Send + Sync,
    T: ::axum::extract::FromRequestParts<S> + Send,
    T::Rejection: Send,
{
    type Rejection = Axum<T::Rejection>;

    const READS: RequestData = RequestData::ALL;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        T::from_request_parts(parts, state)
            .await
            .map(Axum)
            .map_err(Axum)
    }
}

impl<T: AxumIntoResponse> IntoResponse for Axum<T> {
    #[inline]
    fn into_response(self) -> Response<Body> {
        from_axum(self.0)
    }
}

/// Any axum extractor that consumes the request, as a handler's last argument: `Multipart`,
/// `RawForm`, a custom `axum::extract::FromRequest<S>`. The request's body reaches it under
/// the route's [body limit](crate::RouteHandler::body_limit). It declares
/// [`RequestData::ALL`].
pub struct AxumRequest<T>(pub T);

impl<T: fmt::Debug> fmt::Debug for AxumRequest<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AxumRequest").field(&self.0).finish()
    }
}

/// The marker of [`AxumRequest`]'s [`FromRequest`] implementation, which carries axum's own.
#[derive(Debug, Clone, Copy)]
pub enum ViaAxum<M> {
    #[doc(hidden)]
    _Marker(Infallible, std::marker::PhantomData<fn() -> M>),
}

impl<M: 'static> crate::extract::private::Marker for ViaAxum<M> {}

impl<S, T, M> FromRequest<S, ViaAxum<M>> for AxumRequest<T>
where
    S: Send + Sync,
    T: ::axum::extract::FromRequest<S, M> + Send,
    T::Rejection: Send,
    M: 'static,
{
    type Rejection = Axum<T::Rejection>;

    const READS: RequestData = RequestData::ALL;

    async fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let limit = ctx.body_limit().get().unwrap_or(usize::MAX);
        let req =
            req.map(|body| ::axum::body::Body::new(http_body_util::Limited::new(body, limit)));
        // The route's limit is the one limit: axum's own default (2 MiB) is turned off.
        let req = without_axum_limit(req).await;
        T::from_request(req, state)
            .await
            .map(AxumRequest)
            .map_err(Axum)
    }
}

/// `req` marked for axum's extractors as having no default body limit (the route's wraps
/// its body already), as axum's `DefaultBodyLimit::disable()` layer marks it.
async fn without_axum_limit(req: Request<::axum::body::Body>) -> Request<::axum::body::Body> {
    use tower::ServiceExt;
    use tower_layer::Layer;

    let marked = ::axum::extract::DefaultBodyLimit::disable().layer(tower::service_fn(|req| {
        std::future::ready(Ok::<_, Infallible>(req))
    }));
    match marked.oneshot(req).await {
        Ok(req) => req,
        Err(never) => match never {},
    }
}

/// axum's response, as this crate's.
#[inline]
fn from_axum(res: impl AxumIntoResponse) -> Response<Body> {
    res.into_response().map(Body::new)
}

/// axum's extractors that are this crate's under another name: the same reads, limits and
/// rejections, one implementation.
macro_rules! same_as {
    ($(#[$doc:meta])* $trait:ident::$method:ident($input:ty), $axum:path => $ours:ident) => {
        $(#[$doc])*
        impl<S, T> $trait<S> for $axum
        where
            S: Send + Sync,
            T: serde::de::DeserializeOwned + Send,
        {
            type Rejection = <$ours<T> as $trait<S>>::Rejection;

            const READS: RequestData = <$ours<T> as $trait<S>>::READS;

            async fn $method(
                input: $input,
                ctx: &RouteContext,
                state: &S,
            ) -> Result<Self, Self::Rejection> {
                let $ours(value) = $ours::$method(input, ctx, state).await?;
                Ok(Self(value))
            }
        }
    };
}

same_as! {
    /// axum's `Path`, from the route's params: the same as [`crate::routes::Path`].
    FromRequestParts::from_request_parts(&mut Parts), ::axum::extract::Path<T> => Path
}
same_as! {
    /// axum's `Query`: the same as [`crate::request::Query`].
    FromRequestParts::from_request_parts(&mut Parts), ::axum::extract::Query<T> => Query
}
same_as! {
    /// axum's `Json` body: the same as [`crate::response::Json`] as an argument (content
    /// type checked, the route's body limit).
    FromRequest::from_request(Request<Body>), ::axum::Json<T> => Json
}
same_as! {
    /// axum's `Form` body: the same as [`crate::request::Form`].
    FromRequest::from_request(Request<Body>), ::axum::Form<T> => Form
}

/// axum's `State`, made from the route's state with axum's `FromRef`. State is not request
/// data: it declares [`RequestData::NONE`].
impl<Outer, T> FromRequestParts<Outer> for ::axum::extract::State<T>
where
    Outer: Send + Sync,
    T: ::axum::extract::FromRef<Outer> + Send,
{
    type Rejection = Infallible;

    const READS: RequestData = RequestData::NONE;

    async fn from_request_parts(
        _: &mut Parts,
        _: &RouteContext,
        state: &Outer,
    ) -> Result<Self, Infallible> {
        Ok(::axum::extract::State(T::from_ref(state)))
    }
}

/// As [`crate::response::Json`].
impl<T: serde::Serialize> IntoResponse for ::axum::Json<T> {
    #[inline]
    fn into_response(self) -> Response<Body> {
        Json(self.0).into_response()
    }
}

/// As axum answers it.
impl<T: serde::Serialize> IntoResponse for ::axum::Form<T> {
    fn into_response(self) -> Response<Body> {
        from_axum(self)
    }
}

/// As axum answers it.
impl IntoResponse for ::axum::response::Redirect {
    fn into_response(self) -> Response<Body> {
        from_axum(self)
    }
}

/// As axum answers it.
impl<T> IntoResponse for ::axum::response::Html<T>
where
    T: AxumIntoResponse,
{
    fn into_response(self) -> Response<Body> {
        from_axum(self)
    }
}

/// As axum answers it.
impl IntoResponse for ::axum::response::NoContent {
    fn into_response(self) -> Response<Body> {
        from_axum(self)
    }
}
