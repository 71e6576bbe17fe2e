//! [`CacheService`], made by [`CacheLayer`](super::CacheLayer).

use std::{
    fmt,
    future::Future,
    sync::Arc,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Method, Request, Response};
use tower::ServiceExt;
use tower_service::Service;

use super::{
    ResponseFuture,
    engine::{self, Policy, Start, Upstream},
};
use crate::{
    body::{Body, BoxError},
    context::RouteContext,
};

/// The service made by [`CacheLayer`](super::CacheLayer): answers cached `GET` and `HEAD`
/// requests from the cache, and passes every other request to the inner service.
///
/// Request bodies must implement `Default` (the cache builds the `ForceStatic` fill request
/// with an empty one): this crate's [`Body`], axum's body and `http_body_util`'s `Full` and
/// `Empty` do; map a hyper `Incoming` body with [`Body::new`] first.
///
/// `poll_ready` delegates to the inner service. A hit does not call it, and a fill calls a
/// clone of it (with `oneshot`) in a spawned task, so that a client that goes away does not
/// cancel the run others wait on.
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

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        if let Some(policy) = &self.policy {
            let head = match *req.method() {
                Method::GET => Some(false),
                Method::HEAD => Some(true),
                _ => None,
            };
            if let Some(head) = head {
                let inner = &self.inner;
                let ctx = RouteContext::default();
                let up = || ServiceUpstream(inner.clone());
                match engine::begin(policy, &mut req, &ctx, head, up, |res| res) {
                    Some(Start::Ready(res)) => return ResponseFuture::ready(res),
                    Some(Start::Pending(future)) => return ResponseFuture::cache(future),
                    None => {}
                }
            }
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}

/// The inner service as the cache's upstream: each run calls a clone.
#[derive(Clone)]
struct ServiceUpstream<S>(S);

impl<S, B, ResBody> Upstream<B> for ServiceUpstream<S>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    ResBody: http_body::Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Error = S::Error;

    fn run(
        &self,
        req: Request<B>,
        _ctx: RouteContext,
    ) -> impl Future<Output = Result<Response<Body>, S::Error>> + Send + 'static {
        let svc = self.0.clone();
        async move { svc.oneshot(req).await.map(|res| res.map(Body::new)) }
    }
}
