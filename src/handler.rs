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
/// `T` only tells apart the shapes of argument lists; it is inferred. `S` is the state the
/// route is given (see [`State`](crate::extract::State)). A handler is called by value,
/// like axum's: any `FnOnce` closure that is `Clone` works, and it is cloned for each
/// request.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a route handler",
    label = "not an `async fn` whose arguments are extractors and whose output is a response",
    note = "a handler is an `async fn` (or a closure returning a future) with up to 8 arguments, each an extractor (`FromRequestParts<S>`; the last may be a `FromRequest<S>` such as `Json<T>`), returning a type that implements `IntoResponse`",
    note = "the argument that consumes the request body must come last; a `State<T>` argument needs the route's state (`.with_state(..)`) to provide `T` through `FromRef`",
    note = "the future must be `Send`: do not hold a `!Send` value (an `Rc`, a `MutexGuard`) across an `.await`"
)]
pub trait Handler<T, S = ()>: Clone + Send + Sync + Sized + 'static {
    /// The request-time data the handler's arguments expose (the union of their
    /// [`READS`](FromRequestParts::READS)); a cache uses it to tell, when a route is built,
    /// whether the handler's response may be shared between requests.
    const READS: RequestData;

    /// Runs the handler.
    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        state: S,
    ) -> impl Future<Output = Response<Body>> + Send + 'static;
}

/// Marker for `async fn(Request<Body>, A)` handlers (the Next.js order).
#[derive(Debug, Clone, Copy)]
pub enum RequestFirst {}

impl<F, Fut, R, S> Handler<(), S> for F
where
    F: FnOnce() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    const READS: RequestData = RequestData::NONE;

    fn call(
        &self,
        _req: Request<Body>,
        _ctx: RouteContext,
        _state: S,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let fut = self.clone()();
        async move { fut.await.into_response() }
    }
}

impl<F, Fut, R, S> Handler<(RequestFirst, Request<Body>, RouteContext), S> for F
where
    F: FnOnce(Request<Body>, RouteContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    const READS: RequestData = RequestData::ALL;

    #[inline]
    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        _state: S,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let fut = self.clone()(req, ctx);
        async move { fut.await.into_response() }
    }
}

impl<F, Fut, R, S, M, A> Handler<(M, A), S> for F
where
    F: FnOnce(A) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
    S: Send + Sync + 'static,
    A: FromRequest<S, M> + 'static,
    M: crate::extract::private::Marker,
{
    const READS: RequestData = A::READS;

    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        state: S,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let f = self.clone();
        async move {
            match A::from_request(req, &ctx, &state).await {
                Ok(a) => f(a).await.into_response(),
                Err(rejection) => rejection.into_response(),
            }
        }
    }
}

/// `async fn(NextRequest, RouteContext)`, the Next.js order.
impl<F, Fut, R, S> Handler<(RequestFirst, NextRequest, RouteContext), S> for F
where
    F: FnOnce(NextRequest, RouteContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    /// Reads are recorded at run time, through the [`RouteContext`].
    const READS: RequestData = RequestData::NONE;

    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        _state: S,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let req = NextRequest::with_context(req, &ctx);
        let fut = self.clone()(req, ctx);
        async move { fut.await.into_response() }
    }
}

macro_rules! handler_with_parts {
    ($($p:ident),+) => {
        impl<F, Fut, R, S, M, $($p,)+ Last> Handler<(M, $($p,)+ Last), S> for F
        where
            F: FnOnce($($p,)+ Last) -> Fut + Clone + Send + Sync + 'static,
            Fut: Future<Output = R> + Send + 'static,
            R: IntoResponse,
            S: Send + Sync + 'static,
            $($p: FromRequestParts<S> + 'static,)+
            Last: FromRequest<S, M> + 'static,
            M: crate::extract::private::Marker,
        {
            const READS: RequestData = RequestData::NONE$(.union($p::READS))+.union(Last::READS);

            #[allow(non_snake_case)]
            fn call(
                &self,
                req: Request<Body>,
                ctx: RouteContext,
                state: S,
            ) -> impl Future<Output = Response<Body>> + Send + 'static {
                let f = self.clone();
                async move {
                    let (mut parts, body) = req.into_parts();
                    $(
                        let $p = match $p::from_request_parts(&mut parts, &ctx, &state).await {
                            Ok(v) => v,
                            Err(rejection) => return rejection.into_response(),
                        };
                    )+
                    let req = Request::from_parts(parts, body);
                    match Last::from_request(req, &ctx, &state).await {
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
handler_with_parts!(A, B, C, D, E);
handler_with_parts!(A, B, C, D, E, G);
handler_with_parts!(A, B, C, D, E, G, I);

/// A handler with its types erased and its state bound, as a route stores it.
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

/// A handler before the route is given its state `S`.
pub(crate) trait Unbound<S>: Send + Sync + 'static {
    /// The handler with `state` bound.
    fn bind(self: Box<Self>, state: S) -> Box<dyn ErasedHandler>;

    /// See [`Handler::READS`].
    fn reads(&self) -> RequestData;
}

/// A handler waiting for its state.
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

impl<H, T, S> Unbound<S> for HandlerFn<H, T>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    fn bind(self: Box<Self>, state: S) -> Box<dyn ErasedHandler> {
        Box::new(WithState {
            handler: self.handler,
            state,
            _marker: PhantomData,
        })
    }

    fn reads(&self) -> RequestData {
        H::READS
    }
}

/// A handler with its state. For the stateless `()`, the clone per request is free.
struct WithState<H, T, S> {
    handler: H,
    state: S,
    _marker: PhantomData<fn() -> T>,
}

impl<H, T, S> ErasedHandler for WithState<H, T, S>
where
    H: Handler<T, S>,
    T: 'static,
    S: Clone + Send + Sync + 'static,
{
    #[inline]
    fn call_guarded(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
        guard: Guard,
    ) -> BoxResponseFuture {
        let state = self.state.clone();
        guard.run(req, ctx, |req, ctx| self.handler.call(req, ctx, state))
    }

    fn reads(&self) -> RequestData {
        H::READS
    }
}

/// A handler that needs no state, or has it already: any state binds to it.
pub(crate) struct Bound(pub(crate) Box<dyn ErasedHandler>);

impl<S> Unbound<S> for Bound {
    fn bind(self: Box<Self>, _: S) -> Box<dyn ErasedHandler> {
        self.0
    }

    fn reads(&self) -> RequestData {
        self.0.reads()
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
