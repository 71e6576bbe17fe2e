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
//! let route = RouteHandler::new().get(next_style).post(method_only).delete(nothing);
//! # let _ = route;
//! ```

use std::{convert::Infallible, future::Future};

use http::{HeaderMap, Method, Request, Uri, Version, request::Parts};

#[doc(inline)]
pub use crate::context::RequestData;
use crate::{body::Body, context::RouteContext, response::IntoResponse};

/// An argument a handler can ask for, taken from the request head.
pub trait FromRequestParts: Sized + Send {
    /// The response sent when extraction fails.
    type Rejection: IntoResponse + Send;

    /// The request-time data this argument exposes to the handler. The default is
    /// [`RequestData::ALL`], the safe answer; an extractor that exposes only the path or the
    /// route params declares [`RequestData::NONE`].
    const READS: RequestData = RequestData::ALL;

    /// Extracts the value.
    fn from_request_parts(parts: &mut Parts, ctx: &RouteContext) -> Result<Self, Self::Rejection>;
}

/// An argument a handler can ask for in last position, taken from the whole request.
///
/// The `M` parameter only tells apart the blanket implementation for [`FromRequestParts`]
/// types; leave it at its default when implementing this trait.
pub trait FromRequest<M = private::ViaRequest>: Sized + Send {
    /// The response sent when extraction fails.
    type Rejection: IntoResponse + Send;

    /// The request-time data this argument exposes to the handler; see
    /// [`FromRequestParts::READS`].
    const READS: RequestData = RequestData::ALL;

    /// Extracts the value.
    fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
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
}

impl<T: FromRequestParts> FromRequest<private::ViaParts> for T {
    type Rejection = T::Rejection;
    const READS: RequestData = T::READS;

    async fn from_request(req: Request<Body>, ctx: &RouteContext) -> Result<Self, Self::Rejection> {
        let (mut parts, _) = req.into_parts();
        T::from_request_parts(&mut parts, ctx)
    }
}

impl FromRequest for Request<Body> {
    type Rejection = Infallible;

    async fn from_request(req: Request<Body>, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(req)
    }
}

impl FromRequest for Body {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::BODY;

    async fn from_request(req: Request<Body>, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(req.into_body())
    }
}

impl FromRequestParts for RouteContext {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::NONE;

    fn from_request_parts(_: &mut Parts, ctx: &RouteContext) -> Result<Self, Infallible> {
        Ok(ctx.clone())
    }
}

impl FromRequestParts for Method {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::NONE;

    fn from_request_parts(parts: &mut Parts, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(parts.method.clone())
    }
}

impl FromRequestParts for Uri {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::QUERY;

    fn from_request_parts(parts: &mut Parts, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(parts.uri.clone())
    }
}

impl FromRequestParts for Version {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::VERSION;

    fn from_request_parts(parts: &mut Parts, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(parts.version)
    }
}

impl FromRequestParts for HeaderMap {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::HEADERS.union(RequestData::COOKIES);

    fn from_request_parts(parts: &mut Parts, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(parts.headers.clone())
    }
}
