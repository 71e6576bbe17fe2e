//! Handlers: the async functions a route runs for each method.
//!
//! Any `async fn` or closure whose arguments are extractors (see [`extract`](crate::extract))
//! and whose output implements [`IntoResponse`] is a [`Handler`]. The common shapes are
//! `async fn(Request<Body>, RouteContext)` (the Next.js shape), `async fn(Request<Body>)`
//! and `async fn()`. A tower `Service` can be used instead with
//! [`RouteHandler::on_service`](crate::RouteHandler::on_service).

use std::{future::Future, marker::PhantomData};

use http::{Request, Response};
use tower::ServiceExt;
use tower_service::Service;

use crate::{
    body::{Body, BodyLimit, BoxResponseFuture},
    context::RouteContext,
    extract::{FromRequest, FromRequestParts, RequestData},
    guard::Guard,
    request::NextRequest,
    response::IntoResponse,
};

/// An async function that answers a request.
///
/// `T` only tells apart the shapes of argument lists; it is inferred.
pub trait Handler<T>: Clone + Send + Sync + Sized + 'static {
    /// The request-time data the handler's arguments expose (the union of their
    /// [`READS`](FromRequestParts::READS)); a cache uses it to tell, when a route is built,
    /// whether the handler's response may be shared between requests.
    const READS: RequestData;

    /// Runs the handler.
    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static;
}

/// Marker for `async fn(Request<Body>, A)` handlers (the Next.js order).
#[derive(Debug, Clone, Copy)]
pub enum RequestFirst {}

impl<F, Fut, R> Handler<()> for F
where
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    const READS: RequestData = RequestData::NONE;

    fn call(
        &self,
        _req: Request<Body>,
        _ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let fut = self();
        async move { fut.await.into_response() }
    }
}

impl<F, Fut, R> Handler<(RequestFirst, Request<Body>, RouteContext)> for F
where
    F: Fn(Request<Body>, RouteContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    const READS: RequestData = RequestData::ALL;

    #[inline]
    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let fut = self(req, ctx);
        async move { fut.await.into_response() }
    }
}

impl<F, Fut, R, M, A> Handler<(M, A)> for F
where
    F: Fn(A) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
    A: FromRequest<M> + 'static,
    M: 'static,
{
    const READS: RequestData = A::READS;

    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let f = self.clone();
        async move {
            match A::from_request(req, &ctx).await {
                Ok(a) => f(a).await.into_response(),
                Err(rejection) => rejection.into_response(),
            }
        }
    }
}

/// `async fn(NextRequest, RouteContext)`, the Next.js order.
impl<F, Fut, R> Handler<(RequestFirst, NextRequest, RouteContext)> for F
where
    F: Fn(NextRequest, RouteContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    /// Reads are recorded at run time, through the [`RouteContext`].
    const READS: RequestData = RequestData::NONE;

    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let req = NextRequest::with_context(req, &ctx);
        let fut = self(req, ctx);
        async move { fut.await.into_response() }
    }
}

macro_rules! handler_with_parts {
    ($($p:ident),+) => {
        impl<F, Fut, R, M, $($p,)+ Last> Handler<(M, $($p,)+ Last)> for F
        where
            F: Fn($($p,)+ Last) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResponse,
            $($p: FromRequestParts + 'static,)+
            Last: FromRequest<M> + 'static,
            M: 'static,
        {
            const READS: RequestData = RequestData::NONE$(.union($p::READS))+.union(Last::READS);

            #[allow(non_snake_case)]
            fn call(
                &self,
                req: Request<Body>,
                ctx: RouteContext,
            ) -> impl Future<Output = Response<Body>> + Send + 'static {
                let f = self.clone();
                async move {
                    let (mut parts, body) = req.into_parts();
                    $(
                        let $p = match $p::from_request_parts(&mut parts, &ctx) {
                            Ok(v) => v,
                            Err(rejection) => return rejection.into_response(),
                        };
                    )+
                    let req = Request::from_parts(parts, body);
                    match Last::from_request(req, &ctx).await {
                        Ok(last) => f($($p,)+ last).await.into_response(),
                        Err(rejection) => rejection.into_response(),
                    }
                }
            }
        }
    };
}

handler_with_parts!(A);
handler_with_parts!(A, B);
handler_with_parts!(A, B, C);
handler_with_parts!(A, B, C, D);

/// A handler with its types erased, as a route stores it.
pub(crate) trait ErasedHandler: Send + Sync + 'static {
    /// Calls the handler inside the route's guard (panics, errors, deadline, body limit),
    /// all in the one allocation of the returned future.
    fn call_guarded(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        guard: Guard,
    ) -> BoxResponseFuture;

    /// See [`Handler::READS`].
    fn reads(&self) -> RequestData;
}

pub(crate) struct HandlerFn<H, T> {
    handler: H,
    _marker: PhantomData<fn() -> T>,
}

impl<H, T> HandlerFn<H, T> {
    pub(crate) fn new(handler: H) -> Self {
        Self {
            handler,
            _marker: PhantomData,
        }
    }
}

impl<H, T> ErasedHandler for HandlerFn<H, T>
where
    H: Handler<T>,
    T: 'static,
{
    #[inline]
    fn call_guarded(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        guard: Guard,
    ) -> BoxResponseFuture {
        guard.run(req, ctx, |req, ctx| self.handler.call(req, ctx))
    }

    fn reads(&self) -> RequestData {
        H::READS
    }
}

/// A tower service used as a method handler. The route's path parameters reach it as a
/// [`RouteContext`] request extension.
pub(crate) struct ServiceHandler<S> {
    service: S,
}

impl<S> ServiceHandler<S> {
    pub(crate) fn new(service: S) -> Self {
        Self { service }
    }

    fn oneshot<ResBody>(
        &self,
        mut req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static
    where
        S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Future: Send + 'static,
        S::Error: IntoResponse,
        Response<ResBody>: IntoResponse,
    {
        if !ctx.params_raw().is_empty() || ctx.body_limit() != BodyLimit::default() {
            req.extensions_mut().insert(ctx);
        }
        let service = self.service.clone();
        async move {
            match service.oneshot(req).await {
                Ok(res) => res.into_response(),
                Err(err) => err.into_response(),
            }
        }
    }
}

impl<S, ResBody> ErasedHandler for ServiceHandler<S>
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: IntoResponse,
    Response<ResBody>: IntoResponse,
{
    fn call_guarded(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        guard: Guard,
    ) -> BoxResponseFuture {
        guard.run(req, ctx, |req, ctx| self.oneshot(req, ctx))
    }

    /// A service sees the whole request.
    fn reads(&self) -> RequestData {
        RequestData::ALL
    }
}
