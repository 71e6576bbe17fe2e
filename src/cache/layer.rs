//! [`CacheLayer`], the cache around any service.

use std::{fmt, sync::Arc};

use tower_layer::Layer;

use super::{
    Cache, CacheService,
    config::{CacheConfig, ConfigError, Resolved, Settings},
    policy::Policy,
};
use crate::extract::RequestData;

/// Caches the `GET` responses of the service it wraps, by the rules of the
/// [module docs](super).
///
/// A fill calls the service with a request made from the cache key alone (the canonical
/// path, no query, no headers but `Host` when keyed by host), so nothing a client sent can
/// reach a shared entry. The layer cannot see what a plain service reads, so with
/// `Dynamic::Auto` or `Dynamic::Error` it relies on the service reading the request through
/// [`NextRequest`](crate::request::NextRequest), which records its reads in the
/// [`RouteContext`](crate::RouteContext) the fill puts in the request extensions; a read
/// keeps the response out of the cache. Around a service that reads headers, cookies or the
/// query directly, use `Dynamic::ForceStatic`. `HEAD` is answered from the `GET` entry, and a
/// `HEAD` miss fills it with a `GET`.
///
/// Entries go to the layer's own cache (see [`revalidator`](Self::revalidator)) unless
/// [`cache`](Self::cache) names another.
///
/// ```
/// use http::{Request, Response};
/// use route_handlers::{Body, cache::{Cache, CacheConfig, CacheLayer, Dynamic}};
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let svc = ServiceBuilder::new()
///     .layer(
///         CacheLayer::new(CacheConfig::new().dynamic(Dynamic::ForceStatic).revalidate(60))
///             .cache(&Cache::new()),
///     )
///     .service(service_fn(|req: Request<Body>| async move {
///         assert!(req.uri().query().is_none());
///         Ok::<_, std::convert::Infallible>(Response::new(Body::from("hello")))
///     }));
///
/// let req = Request::get("/greeting?name=x").body(Body::empty()).unwrap();
/// let res = svc.clone().oneshot(req).await.unwrap();
/// assert_eq!(res.headers()["x-route-cache"], "MISS");
/// let req = Request::get("/greeting").body(Body::empty()).unwrap();
/// let res = svc.oneshot(req).await.unwrap();
/// assert_eq!(res.headers()["x-route-cache"], "HIT");
/// assert_eq!(res.headers()["age"], "0");
/// # }
/// ```
#[derive(Clone)]
pub struct CacheLayer {
    settings: Option<Settings>,
    cache: Option<Cache>,
    /// The key space of the services this layer wraps.
    space: u64,
}

impl CacheLayer {
    /// A layer with `config`.
    ///
    /// # Panics
    ///
    /// When `config` contradicts itself; [`try_new`](Self::try_new) returns the error.
    #[track_caller]
    pub fn new(config: CacheConfig) -> Self {
        match Self::try_new(config) {
            Ok(layer) => layer,
            Err(err) => panic!("{err}"),
        }
    }

    /// A layer with `config`, or why `config` contradicts itself.
    pub fn try_new(config: CacheConfig) -> Result<Self, ConfigError> {
        let settings = match config.resolve(None, RequestData::NONE)? {
            Resolved::Cached(settings) => Some(settings),
            Resolved::Uncached | Resolved::ReadsRequestData { .. } => None,
        };
        // A layer given no cache has one of its own.
        let cache = settings.as_ref().map(|_| Cache::new());
        Ok(Self {
            settings,
            cache,
            space: Policy::new_space(),
        })
    }

    /// Stores entries in `cache`.
    pub fn cache(mut self, cache: &Cache) -> Self {
        self.cache = Some(cache.clone());
        self
    }

    /// A revalidator of the layer's cache, when it caches: the one given with
    /// [`cache`](Self::cache), or the layer's own.
    pub fn revalidator(&self) -> Option<super::Revalidator> {
        self.cache
            .as_ref()
            .filter(|_| self.is_caching())
            .map(Cache::revalidator)
    }

    /// Whether the layer caches anything (`false` for `ForceDynamic`, or `Auto` without a
    /// revalidate window).
    pub fn is_caching(&self) -> bool {
        self.settings.is_some()
    }
}

impl<S> Layer<S> for CacheLayer {
    type Service = CacheService<S>;

    /// The services one layer wraps share its key space (see
    /// [`CacheKey::space`](super::CacheKey::space)): axum applies a layer to each method of a
    /// route, and a `HEAD` must find the `GET` entry. Services under two layers never share
    /// an entry, even for one path (under two prefixes that a router strips, say); wrap two
    /// different services with two layers.
    fn layer(&self, inner: S) -> CacheService<S> {
        let policy = self.settings.clone().zip(self.cache.clone());
        let policy =
            policy.map(|(s, cache)| Arc::new(Policy::in_space(self.space, s, cache, None)));
        CacheService::from_parts(inner, policy)
    }
}

impl fmt::Debug for CacheLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheLayer")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}
