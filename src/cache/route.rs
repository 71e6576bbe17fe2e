//! The cache settings of a [`RouteHandler`] and the cached `GET` of its service.

use std::{convert::Infallible, future::Future, sync::Arc};

use http::{Method, Request, Response};

use super::{
    Cache,
    config::{CacheConfig, ConfigError, Dynamic, Resolved, Revalidate},
    engine::{self, PendingFuture, Policy, Start, Upstream},
};
use crate::{
    RouteHandler, RouteHandlerService, body::Body, context::RouteContext, extract::RequestData,
};

/// What the [`RouteHandler`] builder collects for the cache.
#[derive(Clone, Debug, Default)]
pub(crate) struct RouteSettings {
    config: CacheConfig,
    cache: Option<Cache>,
}

/// Route segment config, as a Next.js `route.ts` exports it. See the
/// [`cache`](crate::cache) module for what each setting does.
impl RouteHandler {
    /// Sets `dynamic` (Next.js `export const dynamic`).
    ///
    /// ```
    /// use route_handlers::{RouteHandler, cache::Dynamic};
    ///
    /// let route = RouteHandler::new()
    ///     .get(|| async { "static" })
    ///     .dynamic(Dynamic::ForceStatic)
    ///     .into_service();
    /// # let _ = route;
    /// ```
    pub fn dynamic(mut self, dynamic: Dynamic) -> Self {
        self.cache.config = self.cache.config.dynamic(dynamic);
        self
    }

    /// Sets `revalidate` (Next.js `export const revalidate`): seconds, a `Duration`, or
    /// [`Revalidate::Never`].
    ///
    /// ```
    /// use route_handlers::{RouteHandler, cache::Dynamic};
    ///
    /// // Contradictory settings are rejected when the route is built.
    /// let err = RouteHandler::new()
    ///     .get(|| async { "x" })
    ///     .path("/x")
    ///     .dynamic(Dynamic::ForceDynamic)
    ///     .revalidate(60)
    ///     .try_into_service()
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with(
    ///     "route /x: `dynamic = \"force-dynamic\"` contradicts `revalidate = 60`"
    /// ));
    /// ```
    pub fn revalidate(mut self, revalidate: impl Into<Revalidate>) -> Self {
        self.cache.config = self.cache.config.revalidate(revalidate);
        self
    }

    /// Adds cache tags, for [`Revalidator::revalidate_tag`](super::Revalidator::revalidate_tag).
    pub fn tags<I>(mut self, tags: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Arc<str>>,
    {
        self.cache.config = self.cache.config.tags(tags);
        self
    }

    /// Stores `GET` responses that carry `Set-Cookie` (see
    /// [`CacheConfig::cache_set_cookie`]).
    pub fn cache_set_cookie(mut self, enabled: bool) -> Self {
        self.cache.config = self.cache.config.cache_set_cookie(enabled);
        self
    }

    /// Stores this route's entries in `cache` rather than in [`Cache::global`]. The route
    /// table sets it for all its routes.
    pub fn cache(mut self, cache: &Cache) -> Self {
        self.cache.cache = Some(cache.clone());
        self
    }

    /// The cache settings collected so far.
    pub fn cache_config(&self) -> &CacheConfig {
        &self.cache.config
    }
}

/// The cached `GET` (and `HEAD`) of one [`RouteHandlerService`].
pub(crate) struct RouteCache {
    policy: Arc<Policy>,
    head_from_get: bool,
}

impl RouteCache {
    /// Checks `route`'s settings; `None` when its `GET` responses are not cached.
    pub(crate) fn build(route: &RouteHandler) -> Result<Option<Self>, ConfigError> {
        let get_reads = route.reads(&Method::GET);
        let resolved = route
            .cache
            .config
            .resolve(route.path_name(), get_reads.unwrap_or(RequestData::NONE))?;
        if get_reads.is_none() {
            return Ok(None);
        }
        match resolved {
            Resolved::Uncached => Ok(None),
            Resolved::ReadsRequestData { reads } => {
                let name = route.path_name().unwrap_or("<unnamed>");
                tracing::warn!(
                    "Route {name} couldn't be rendered statically because it used {reads}; \
                     its GET responses are not cached"
                );
                Ok(None)
            }
            Resolved::Cached(settings) => {
                let cache = match &route.cache.cache {
                    Some(cache) => cache.clone(),
                    None => Cache::global().clone(),
                };
                Ok(Some(Self {
                    policy: Arc::new(Policy::new(settings, cache, route.path_name())),
                    head_from_get: !route.methods().contains(&Method::HEAD),
                }))
            }
        }
    }

    /// The revalidate window; `None` for an entry kept until it is invalidated.
    pub(crate) fn revalidate_window(&self) -> Option<std::time::Duration> {
        self.policy.settings.revalidate
    }

    /// Answers a cached `GET` or `HEAD`; `None` leaves `req` to the route.
    #[inline]
    pub(crate) fn intercept(
        &self,
        svc: &RouteHandlerService,
        req: &mut Request<Body>,
        ctx: &RouteContext,
    ) -> Option<Start<PendingFuture<Response<Body>>>> {
        let head = match *req.method() {
            Method::GET => false,
            Method::HEAD if self.head_from_get => true,
            _ => return None,
        };
        engine::begin(
            &self.policy,
            req,
            ctx,
            head,
            || svc.clone(),
            |res| match res {
                Ok(res) => res,
                Err(never) => match never {},
            },
        )
    }
}

impl Upstream<Body> for RouteHandlerService {
    type Error = Infallible;

    fn run(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Result<Response<Body>, Infallible>> + Send + 'static {
        let future = self.call_get(req, ctx);
        async move { Ok(future.await) }
    }
}
