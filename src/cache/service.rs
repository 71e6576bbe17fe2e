//! [`CacheService`], made by [`CacheLayer`](super::CacheLayer), and its future.

use std::{
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::future::Either;
use http::{Method, Request, Response};
use pin_project_lite::pin_project;
use tower::ServiceExt;
use tower_service::Service;

use super::{
    fill::Origin,
    lookup::{CacheFuture, Served, serve},
    policy::Policy,
};
use crate::{
    body::{Body, BoxError},
    context::RouteContext,
    method::{self, Action, GET, Head},
};

/// The service made by [`CacheLayer`](super::CacheLayer): answers cached `GET` and `HEAD`
/// requests from the cache, and passes every other request to the inner service.
///
/// A `HEAD` is answered from the `GET` entry, its body stripped by the same rule as the
/// route's (see [`synth`](crate::synth)). A fill calls the inner service with a request
/// made from the cache key (`GET`, the canonical path, no query, no headers but `Host` when
/// keyed by host, no extensions but the [`RouteContext`] a route table put there), so
/// request bodies must implement `Default`: this crate's [`Body`], axum's body and
/// `http_body_util`'s `Full` and `Empty` do; map a hyper `Incoming` body with
/// [`Body::new`] first.
///
/// `poll_ready` delegates to the inner service. A hit does not call it, and a fill calls a
/// clone of it (with `oneshot`) in a spawned task, so that a client that goes away does not
/// cancel the run others wait on; the capacity the ready service reserved is then given back
/// (the service is replaced by a fresh clone), so that a fill never waits on its own caller.
pub struct CacheService<S> {
    inner: S,
    policy: Option<Arc<Policy>>,
}

impl<S> CacheService<S> {
    pub(crate) fn from_parts(inner: S, policy: Option<Arc<Policy>>) -> Self {
        Self { inner, policy }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, consuming `self`.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone> Clone for CacheService<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            policy: self.policy.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for CacheService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheService")
            .field("inner", &self.inner)
            .field("caching", &self.policy.is_some())
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CacheService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    ReqBody: Default + Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if let Some(policy) = &self.policy {
            if matches!(*req.method(), Method::GET | Method::HEAD) {
                // `HEAD` becomes `GET` here, above the cache.
                let head = Head::of(req.method(), Action::Call(GET), req.headers());
                let ctx = req
                    .extensions()
                    .get::<RouteContext>()
                    .cloned()
                    .unwrap_or_default();
                let inner = &self.inner;
                let canonical = ctx.path().map(|path| &**path);
                let origin = || (ServiceOrigin(inner.clone()), ctx.clone());
                match serve(policy, &req, canonical, origin) {
                    Served::Ready(hit) => {
                        let res = hit.response(&req);
                        return ResponseFuture::new(method::ResponseFuture::ready(res, head));
                    }
                    Served::Miss(miss) => {
                        // The fill calls clones of the service, which wait for capacity of
                        // their own: the capacity this one reserved in `poll_ready` is freed.
                        let origin = ServiceOrigin(inner.clone());
                        drop(std::mem::replace(&mut self.inner, origin.0.clone()));
                        let future = miss.wait(policy, req, ctx, origin);
                        return ResponseFuture::new(method::ResponseFuture::inner(
                            Either::Right(future),
                            head,
                        ));
                    }
                    Served::Bypass => {}
                }
            }
        }
        let future = IntoBody {
            future: self.inner.call(req),
        };
        ResponseFuture::new(method::ResponseFuture::inner(Either::Left(future), None))
    }
}

/// The inner service as the cache's origin: each call goes to a clone, with the route
/// context (parameters, and the read recording of a fill) as a request extension.
#[derive(Clone)]
struct ServiceOrigin<S>(S);

impl<S, B, ResBody> Origin<B> for ServiceOrigin<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Error = S::Error;

    fn call(
        &self,
        mut req: Request<B>,
        ctx: RouteContext,
    ) -> impl Future<Output = Result<Response<Body>, S::Error>> + Send + 'static {
        req.extensions_mut().insert(ctx);
        let svc = self.0.clone();
        async move { svc.oneshot(req).await.map(|res| res.map(Body::new)) }
    }
}

pin_project! {
    /// The response future of [`CacheService`].
    pub struct ResponseFuture<F, E> {
        #[pin]
        inner: method::ResponseFuture<Either<IntoBody<F>, CacheFuture<E>>, Body>,
    }
}

impl<F, E> ResponseFuture<F, E> {
    fn new(inner: method::ResponseFuture<Either<IntoBody<F>, CacheFuture<E>>, Body>) -> Self {
        Self { inner }
    }
}

impl<F, E, ResBody> Future for ResponseFuture<F, E>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

impl<F, E> fmt::Debug for ResponseFuture<F, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

pin_project! {
    /// The inner service's future, its response body made a [`Body`].
    struct IntoBody<F> {
        #[pin]
        future: F,
    }
}

impl<F, E, ResBody> Future for IntoBody<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Output = Result<Response<Body>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .future
            .poll(cx)
            .map_ok(|res| res.map(Body::new))
    }
}
