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

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    ops::{BitOr, BitOrAssign},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

use http::{HeaderMap, Method, Request, Uri, Version, request::Parts};

use crate::{body::Body, context::RouteContext, response::IntoResponse};

/// Request-time data: what a handler may read that differs between two requests for the
/// same path. A cached route must not store a response that depends on it (see the `cache`
/// docs); a handler declares what it reads through the types of its arguments
/// ([`FromRequestParts::READS`], [`FromRequest::READS`]), and a request view may also record
/// reads at run time in a [`ReadTracker`].
///
/// ```
/// use route_handlers::extract::RequestData;
///
/// let reads = RequestData::HEADERS | RequestData::QUERY;
/// assert!(reads.contains(RequestData::QUERY));
/// assert_eq!(reads.to_string(), "`request.headers`, `request.nextUrl.searchParams`");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RequestData(u8);

impl RequestData {
    /// Nothing request-specific: the path and the route's params only.
    pub const NONE: Self = Self(0);
    /// Request headers (other than cookies).
    pub const HEADERS: Self = Self(1);
    /// Request cookies.
    pub const COOKIES: Self = Self(2);
    /// The query string (search params).
    pub const QUERY: Self = Self(4);
    /// The request body.
    pub const BODY: Self = Self(8);
    /// Everything: the whole request.
    pub const ALL: Self = Self(15);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of both, usable in constants.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    const NAMES: [(Self, &'static str); 4] = [
        (Self::HEADERS, "`request.headers`"),
        (Self::COOKIES, "`request.cookies`"),
        (Self::QUERY, "`request.nextUrl.searchParams`"),
        (Self::BODY, "`request.body`"),
    ];
}

impl BitOr for RequestData {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for RequestData {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl fmt::Display for RequestData {
    /// The Next.js names of what was read, joined with `", "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RequestData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestData({self})")
    }
}

/// Records at run time which [`RequestData`] a handler read.
///
/// A cache inserts one into the request extensions of a request that fills a shared entry;
/// request views that hide the raw request (their accessors for headers, cookies or the
/// query) call [`ReadTracker::record_in`] so the cache can tell whether the response may be
/// stored. Cloning shares the record.
///
/// ```
/// use route_handlers::extract::{ReadTracker, RequestData};
///
/// let tracker = ReadTracker::default();
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(tracker.clone());
/// ReadTracker::record_in(req.extensions(), RequestData::COOKIES);
/// assert_eq!(tracker.reads(), RequestData::COOKIES);
/// ```
#[derive(Clone, Debug, Default)]
pub struct ReadTracker(Arc<AtomicU8>);

impl ReadTracker {
    /// Records `data` as read.
    pub fn record(&self, data: RequestData) {
        self.0.fetch_or(data.0, Ordering::Relaxed);
    }

    /// Records `data` in the tracker of `extensions`, if there is one.
    #[inline]
    pub fn record_in(extensions: &http::Extensions, data: RequestData) {
        if let Some(tracker) = extensions.get::<Self>() {
            tracker.record(data);
        }
    }

    /// What has been read so far.
    pub fn reads(&self) -> RequestData {
        RequestData(self.0.load(Ordering::Relaxed))
    }
}

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
    const READS: RequestData = RequestData::NONE;

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
