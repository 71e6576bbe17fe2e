//! Arguments a handler can ask for.
//!
//! A handler's arguments are extractors: [`FromRequestParts`] types read the request head
//! (method, URI, headers, the [`RouteContext`]) and may come in any position but the last;
//! the last argument may also be a [`FromRequest`] type, which consumes the request (such as
//! `Request<Body>` itself). The Next.js order, `(request, context)`, is accepted as well.
//!
//! ```
//! use http::{Method, Request};
//! use route_handlers::{Body, RouteContext, RouteHandler};
//!
//! async fn next_style(_req: Request<Body>, ctx: RouteContext) -> String {
//!     format!("{:?}", ctx.param("id"))
//! }
//! async fn method_only(method: Method) -> String {
//!     method.to_string()
//! }
//! async fn nothing() -> &'static str {
//!     "hi"
//! }
//!
//! let route: RouteHandler = RouteHandler::new().get(next_style).post(method_only).delete(nothing);
//! # let _ = route;
//! ```

use std::{convert::Infallible, future::Future};

use http::{HeaderMap, Method, Request, Uri, Version, request::Parts};

#[doc(inline)]
pub use crate::context::RequestData;
use crate::{body::Body, context::RouteContext, response::IntoResponse};

/// An argument a handler can ask for, taken from the request head.
///
/// `S` is the state of the route (see [`State`]); an extractor that does not use it
/// implements the trait for every `S`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler argument here: it is not a `FromRequestParts<{S}>`",
    label = "not an extractor of the request head",
    note = "only the last argument may consume the request (`Request<Body>`, `Body`, `Json<T>`, `Form<T>`, `NextRequest`); move it to the end",
    note = "with the `axum` feature, any axum extractor works wrapped in `route_handlers::axum::Axum`, and `axum::extract::{{Path, Query, State}}` work as they are"
)]
pub trait FromRequestParts<S = ()>: Sized + Send {
    /// The response sent when extraction fails.
    type Rejection: IntoResponse + Send;

    /// The request-time data this argument exposes to the handler. The default is
    /// [`RequestData::ALL`], the safe answer; an extractor that exposes only the path or the
    /// route params declares [`RequestData::NONE`].
    const READS: RequestData = RequestData::ALL;

    /// Extracts the value.
    fn from_request_parts(
        parts: &mut Parts,
        ctx: &RouteContext,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

/// An argument a handler can ask for in last position, taken from the whole request.
///
/// The `M` parameter only tells apart the blanket implementation for [`FromRequestParts`]
/// types; leave it at its default when implementing this trait.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be a handler argument: it is not a `FromRequest<{S}>`",
    label = "not an extractor",
    note = "a handler's arguments are extractors: `Request<Body>`, `RouteContext`, `NextRequest`, `Method`, `HeaderMap`, `Path<T>`, `Query<T>`, `Json<T>`, `State<T>`, ..., with the one that consumes the request last",
    note = "with the `axum` feature, any axum extractor works wrapped in `route_handlers::axum::Axum`"
)]
pub trait FromRequest<S = (), M = private::ViaRequest>: Sized + Send {
    /// The response sent when extraction fails.
    type Rejection: IntoResponse + Send;

    /// The request-time data this argument exposes to the handler; see
    /// [`FromRequestParts::READS`].
    const READS: RequestData = RequestData::ALL;

    /// Extracts the value.
    fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
        state: &S,
    ) -> impl Future<Output = Result<Self, Self::Rejection>> + Send;
}

/// Marker types for [`FromRequest`] and [`Handler`](crate::handler::Handler).
pub mod private {
    /// The marker of [`FromRequest`](super::FromRequest) implementations that consume the request.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaRequest {}
    /// The marker of the blanket implementation for
    /// [`FromRequestParts`](super::FromRequestParts) types.
    #[derive(Debug, Clone, Copy)]
    pub enum ViaParts {}

    /// The two markers above, the only ones a handler's last argument may have: so the
    /// compiler knows handler shapes with other markers apart.
    pub trait Marker: 'static {}
    impl Marker for ViaRequest {}
    impl Marker for ViaParts {}
}

impl<S, T> FromRequest<S, private::ViaParts> for T
where
    S: Send + Sync,
    T: FromRequestParts<S>,
{
    type Rejection = T::Rejection;
    const READS: RequestData = T::READS;

    async fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let (mut parts, _) = req.into_parts();
        T::from_request_parts(&mut parts, ctx, state).await
    }
}

/// The route's state, or a part of it (see [`FromRef`]), as a handler argument.
///
/// A route or table is given its state with
/// [`RouteHandler::with_state`](crate::RouteHandler::with_state) or
/// [`Routes::with_state`](crate::Routes::with_state). State is not request data: a cached
/// route's fills get it too, and reading it does not make a route dynamic.
///
/// ```
/// use std::sync::Arc;
/// use http::Request;
/// use route_handlers::{Body, RouteHandler, extract::{FromRef, State}};
/// use tower::ServiceExt;
///
/// #[derive(Clone)]
/// struct App { db: Arc<Vec<&'static str>>, name: &'static str }
///
/// impl FromRef<App> for Arc<Vec<&'static str>> {
///     fn from_ref(app: &App) -> Self { app.db.clone() }
/// }
///
/// async fn count(State(db): State<Arc<Vec<&'static str>>>) -> String {
///     db.len().to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App { db: Arc::new(vec!["a", "b"]), name: "shop" };
/// let svc = RouteHandler::new()
///     .get(count)
///     .post(|State(app): State<App>| async move { app.name })
///     .with_state(app)
///     .into_service();
/// let res = svc.oneshot(Request::new(Body::empty())).await.unwrap();
/// # use http_body_util::BodyExt;
/// assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), "2");
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct State<S>(pub S);

/// Makes a part of the state from the whole, for [`State`] (axum's `FromRef`). Every
/// `Clone` type is its own part.
#[diagnostic::on_unimplemented(
    message = "a `State<{Self}>` argument cannot be made from the route's state `{T}`",
    label = "not a part of the state `{T}`",
    note = "implement `FromRef<{T}> for {Self}`, or give the route a state of type `{Self}` with `.with_state(..)`"
)]
pub trait FromRef<T> {
    /// The part of `input`.
    fn from_ref(input: &T) -> Self;
}

impl<T: Clone> FromRef<T> for T {
    fn from_ref(input: &T) -> Self {
        input.clone()
    }
}

impl<Outer, S> FromRequestParts<Outer> for State<S>
where
    Outer: Send + Sync,
    S: FromRef<Outer> + Send,
{
    type Rejection = Infallible;
    const READS: RequestData = RequestData::NONE;

    async fn from_request_parts(
        _: &mut Parts,
        _: &RouteContext,
        state: &Outer,
    ) -> Result<Self, Infallible> {
        Ok(State(S::from_ref(state)))
    }
}

impl<S: Sync> FromRequest<S> for Request<Body> {
    type Rejection = Infallible;

    async fn from_request(req: Request<Body>, _: &RouteContext, _: &S) -> Result<Self, Infallible> {
        Ok(req)
    }
}

impl<S: Sync> FromRequest<S> for Body {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::BODY;

    async fn from_request(req: Request<Body>, _: &RouteContext, _: &S) -> Result<Self, Infallible> {
        Ok(req.into_body())
    }
}

impl<S: Sync> FromRequestParts<S> for RouteContext {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::NONE;

    async fn from_request_parts(
        _: &mut Parts,
        ctx: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(ctx.clone())
    }
}

impl<S: Sync> FromRequestParts<S> for Method {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::NONE;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(parts.method.clone())
    }
}

impl<S: Sync> FromRequestParts<S> for Uri {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::QUERY;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(parts.uri.clone())
    }
}

impl<S: Sync> FromRequestParts<S> for Version {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::VERSION;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(parts.version)
    }
}

impl<S: Sync> FromRequestParts<S> for HeaderMap {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::HEADERS.union(RequestData::COOKIES);

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(parts.headers.clone())
    }
}
