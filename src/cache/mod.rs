//! Caching of `GET` responses, the Next.js way: `dynamic`, `revalidate`, tags,
//! stale-while-revalidate and on-demand invalidation.
//!
//! A route opts in with its segment config, set on the [`RouteHandler`](crate::RouteHandler)
//! (or on a [`CacheLayer`] around any service):
//!
//! | Setting | `GET` responses |
//! | --- | --- |
//! | nothing, or `revalidate(0)` | not cached (Next.js 15+ default) |
//! | `dynamic(Dynamic::ForceStatic)` | cached; the handler that fills the cache sees the path only |
//! | `dynamic(Dynamic::Error)` | cached; a handler that reads request data is an error |
//! | `revalidate(n)` or `revalidate(Revalidate::Never)` | cached while the handler reads no request data |
//! | `dynamic(Dynamic::ForceDynamic)` | never cached |
//!
//! Only `GET` is cached. A `HEAD` becomes a `GET` before it reaches the cache, and the
//! answer loses its body by the same rule as any `HEAD` the crate answers (see
//! [`synth`](crate::synth)). Every other method on the same route runs its handler every
//! time and sees the full request.
//!
//! # One resource, one key
//!
//! An entry is keyed by the [canonical path](crate::context::canonical_path) (escapes of
//! unreserved characters decoded, hex uppercased, no trailing slash, no query), the one the
//! route table matched, so `/api/time`, `/api/%74ime` and `/api/time/` are one entry and one
//! handler run; [`Revalidator::revalidate_path`] makes its argument canonical the same way.
//! With [`CacheBuilder::key_by_host`] the key also holds the request's authority: the
//! request target's (absolute-form, or HTTP/2 `:authority`), which makes `Host` irrelevant
//! (RFC 9112 §3.2.2), else `Host`. A request that names no host shares no entry.
//!
//! Each route, and each [`CacheLayer`], keys in a space of its own
//! ([`CacheKey::space`]), so two routes never share an entry, also when a router strips the
//! prefixes they are mounted under and hands both the same path (axum's `nest`).
//! [`Revalidator::revalidate_path`] reaches a path in every space. A route table under
//! axum's `nest_service` keys the public path, prefix included, with the `axum` feature;
//! a lone route or [`CacheLayer`] under a router that strips a prefix keys the path it sees.
//!
//! # Fills see no client
//!
//! A fill is made from the key, never forwarded from a client: method `GET`, the canonical
//! path, no query, no headers (but `Host`, the key's authority, when keyed by host), no
//! extensions, an empty body, and the route's params. Whatever a client sends cannot reach
//! a shared entry, whichever accessor a handler uses.
//!
//! - `ForceStatic`: the handler always sees such a request, also when its response is not
//!   shared.
//! - `Auto` with `revalidate`: a handler whose arguments declare request-time reads
//!   ([`Handler::READS`](crate::handler::Handler::READS), such as one taking the whole
//!   `Request<Body>`) makes the route dynamic, with one warning naming the route and what it
//!   reads. A read recorded during a fill ([`NextRequest`](crate::request::NextRequest)'s
//!   accessors, [`RouteContext::record`](crate::RouteContext::record)) discards the
//!   response, makes the route dynamic and warns once; the clients that waited are answered
//!   by an ordinary run with their own requests.
//! - `Error`: the same reads are an error: when the route is built for declared reads
//!   (``Route /x with `dynamic = "error"` couldn't be rendered statically because it used
//!   `request.headers` ``), and at the fill for recorded ones (answered `500`, logged).
//! - A request with `Authorization` bypasses the cache unless the route is `ForceStatic`
//!   (RFC 9111 §3.5).
//!
//! # What is stored
//!
//! Status below 400 or 404, headers and the body bytes. Not stored: a response with
//! `Cache-Control: no-store`, `private` or `no-cache`; with `Vary: *` (with any `Vary` unless
//! `ForceStatic`); with `Set-Cookie`, unless [`CacheConfig::cache_set_cookie`]; a body over
//! [`CacheBuilder::max_body_size`]: it streams through to its client, and the key is passed
//! through for a while (its revalidate window, clamped to 30 s – 5 min; until an
//! invalidation of its path or tags), so later requests stream straight from the handler
//! without buffering or waiting on one another (they carry no cache status). Hop-by-hop
//! headers and trailers are dropped.
//!
//! A response that may not be stored or shared (one with `Set-Cookie`, say) goes only to the
//! client whose request produced it; clients that waited on the same fill then run the
//! handler for themselves.
//!
//! # Freshness and the status header
//!
//! Every response the cache answers carries [`CACHE_STATUS_HEADER`] (`x-route-cache`):
//!
//! | Value | Meaning |
//! | --- | --- |
//! | `HIT` | served from a fresh entry, the handler did not run |
//! | `MISS` | no entry: the handler ran for this request (or the one it waited on) |
//! | `STALE` | served from an entry past its `revalidate` window; one background regeneration runs |
//! | `REVALIDATED` | the entry was invalidated on demand; the handler ran to replace it |
//!
//! A regeneration whose response may not be stored (status 500 or above, any status but
//! one below 400 or 404, `Set-Cookie`, `private`, a body over the cap, an error or a panic)
//! keeps the stale entry in service and is retried after its `revalidate` window clamped to
//! 3–30 s, as Next.js does for failures. Concurrent misses of one key run the handler once; that run goes on if the
//! client that started it disconnects, and is dropped after [`CacheBuilder::fill_timeout`]
//! (60 s by default) so that a handler that never ends cannot hold its key. Responses served from an entry carry `Age`, a strong
//! `ETag` (a hash of the body, unless the handler set one; a matching `If-None-Match` is
//! answered `304`) and, unless the handler set its own, `Cache-Control` as Next.js 16 sends
//! it: `s-maxage=N, stale-while-revalidate=<31536000 − N>`, or
//! `s-maxage=31536000, stale-while-revalidate` for `Never`.
//!
//! # Invalidation
//!
//! [`Revalidator::revalidate_path`] and [`Revalidator::revalidate_tag`] (tags come from the
//! route config and from a [`CacheTags`] response extension, and both fence alike)
//! invalidate entries; the next request waits for a fresh response (`REVALIDATED`). A fill
//! that was running when the purge returned cannot write its old value back, and requests
//! that come after the purge never wait on it: they start a fill of their own.
//!
//! # Where entries live
//!
//! In a [`Cache`]: a [`CacheStore`] (by default a bounded [`MemoryStore`]) and the
//! bookkeeping of running fills. There is no hidden global cache: a route table keeps the
//! entries of its routes in the cache given with [`Routes::cache`](crate::Routes::cache),
//! or else in its own, and [`RouteTable::revalidator`](crate::RouteTable::revalidator)
//! reaches it; a route outside a table, or a [`CacheLayer`], given no cache has its own,
//! reached by its `revalidator()`. The cache spawns its fills on the Tokio runtime. With the
//! `redis` feature, a `RedisStore` shares one cache between the instances of an app, with a
//! memory tier in each (see its docs for the staleness bound).
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use route_handlers::{Body, RouteHandler, cache::{Cache, Dynamic}};
//! use std::sync::{Arc, atomic::{AtomicUsize, Ordering}};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let runs = Arc::new(AtomicUsize::new(0));
//! let counter = runs.clone();
//! let cache = Cache::new();
//! let svc = RouteHandler::new()
//!     .get(move || {
//!         let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
//!         async move { format!("generated {n} time(s)") }
//!     })
//!     .dynamic(Dynamic::ForceStatic)
//!     .revalidate(10)
//!     .cache(&cache)
//!     .into_service();
//!
//! let get = || Request::get("/api/time").body(Body::empty()).unwrap();
//! let res = svc.clone().oneshot(get()).await.unwrap();
//! assert_eq!(res.headers()["x-route-cache"], "MISS");
//! let res = svc.clone().oneshot(get()).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["x-route-cache"], "HIT");
//! assert_eq!(res.headers()["cache-control"], "s-maxage=10, stale-while-revalidate=31535990");
//! assert_eq!(runs.load(Ordering::SeqCst), 1);
//!
//! cache.revalidator().revalidate_path("/api/time").await.unwrap();
//! let res = svc.oneshot(get()).await.unwrap();
//! assert_eq!(res.headers()["x-route-cache"], "REVALIDATED");
//! assert_eq!(runs.load(Ordering::SeqCst), 2);
//! # }
//! ```

mod body;
mod config;
mod fill;
mod flight;
mod handle;
mod layer;
mod lookup;
mod memory;
mod policy;
#[cfg(feature = "redis")]
mod redis;
mod respond;
mod service;
mod store;

use std::{
    fmt,
    sync::{Arc, Mutex, OnceLock, atomic::AtomicU64},
    time::Duration,
};

use http::{HeaderName, HeaderValue};

#[doc(inline)]
pub use self::{
    config::{CacheConfig, ConfigError, ConfigProblem, Dynamic, Revalidate},
    handle::{Revalidated, Revalidator},
    layer::CacheLayer,
    memory::{DEFAULT_MAX_BYTES, MemoryStore},
    service::{CacheService, ResponseFuture},
    store::{
        CacheKey, CacheStore, CachedResponse, EntryMeta, FillLease, Lookup, StoreError,
        StoreFuture, StoreStats, Turn,
    },
};

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
#[doc(inline)]
pub use self::redis::{RedisStore, RedisStoreBuilder};

pub(crate) use self::{
    config::Resolved,
    fill::Origin,
    handle::Reach,
    lookup::{Miss, Served, serve},
    policy::Policy,
};

/// The response header that tells how the cache answered: `HIT`, `MISS`, `STALE` or
/// `REVALIDATED` (see [`CacheStatus`]). Like Next.js' `x-nextjs-cache`.
pub const CACHE_STATUS_HEADER: HeaderName = HeaderName::from_static("x-route-cache");

/// The default [`CacheBuilder::max_body_size`]: 2 MiB, Next.js' limit for one cache item.
pub const DEFAULT_MAX_BODY_SIZE: usize = 2 * 1024 * 1024;

/// The default [`CacheBuilder::fill_timeout`]: 60 s.
pub const DEFAULT_FILL_TIMEOUT: Duration = Duration::from_secs(60);

/// How the cache answered a request, sent in [`CACHE_STATUS_HEADER`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CacheStatus {
    /// Served from a fresh entry.
    Hit,
    /// Generated: there was no entry.
    Miss,
    /// Served from a stale entry while it regenerates.
    Stale,
    /// Generated: the entry was invalidated on demand.
    Revalidated,
}

impl CacheStatus {
    /// The header value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "HIT",
            Self::Miss => "MISS",
            Self::Stale => "STALE",
            Self::Revalidated => "REVALIDATED",
        }
    }

    pub(crate) const fn header_value(self) -> HeaderValue {
        HeaderValue::from_static(self.as_str())
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Tags for the cached response, set by a handler as a response extension; they add to the
/// route's tags.
///
/// ```
/// use route_handlers::{IntoResponse, cache::CacheTags};
///
/// let mut res = "post 1".into_response();
/// res.extensions_mut().insert(CacheTags::new(["post-1"]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CacheTags(Vec<Arc<str>>);

impl CacheTags {
    /// These tags.
    pub fn new<I>(tags: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Arc<str>>,
    {
        Self(tags.into_iter().map(Into::into).collect())
    }

    /// The tags.
    pub fn as_slice(&self) -> &[Arc<str>] {
        &self.0
    }
}

/// A cache: a [`CacheStore`] plus the bookkeeping of running fills. Cloning shares it.
///
/// Routes and layers given the same `Cache` share entries and invalidation; hand out
/// [`revalidator`](Self::revalidator) to code that invalidates.
///
/// ```
/// use route_handlers::cache::{Cache, MemoryStore};
///
/// let cache = Cache::builder()
///     .max_bytes(32 * 1024 * 1024)
///     .max_body_size(1024 * 1024)
///     .build();
/// let revalidator = cache.revalidator();
/// # let _ = revalidator;
/// ```
#[derive(Clone)]
pub struct Cache {
    pub(crate) shared: Arc<Shared>,
}

/// The state shared by everything that uses one [`Cache`].
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) flights: Mutex<flight::Flights>,
    pub(crate) max_body_size: usize,
    pub(crate) key_by_host: bool,
    pub(crate) fill_timeout: Option<Duration>,
    pub(crate) next_id: AtomicU64,
    /// The tables and routes that serve from this cache, for the revalidator's answers.
    pub(crate) users: Mutex<Vec<std::sync::Weak<dyn handle::Reach>>>,
}

impl Cache {
    /// A cache over a [`MemoryStore`] of [`DEFAULT_MAX_BYTES`].
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for a cache with other settings.
    pub fn builder() -> CacheBuilder {
        CacheBuilder {
            store: None,
            max_bytes: DEFAULT_MAX_BYTES,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
            key_by_host: false,
            fill_timeout: Some(DEFAULT_FILL_TIMEOUT),
        }
    }

    /// A process-wide cache, created on first use with the defaults of [`Cache::new`], for
    /// an app that wants one cache everywhere without passing it around. Nothing uses it
    /// unless told to (`.cache(Cache::global())`).
    pub fn global() -> &'static Cache {
        static GLOBAL: OnceLock<Cache> = OnceLock::new();
        GLOBAL.get_or_init(Cache::new)
    }

    /// A handle that invalidates entries of this cache.
    pub fn revalidator(&self) -> Revalidator {
        Revalidator::new(self.shared.clone())
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn CacheStore> {
        &self.shared.store
    }

    /// The counts its store keeps ([`CacheStore::stats`]): `None` for a [`MemoryStore`].
    pub fn stats(&self) -> Option<StoreStats> {
        self.shared.store.stats()
    }

    /// Whether both are the same cache.
    pub fn ptr_eq(&self, other: &Cache) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

impl Default for Cache {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Cache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("max_body_size", &self.shared.max_body_size)
            .field("key_by_host", &self.shared.key_by_host)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Cache`]; see [`Cache::builder`].
#[must_use]
pub struct CacheBuilder {
    store: Option<Arc<dyn CacheStore>>,
    max_bytes: u64,
    max_body_size: usize,
    key_by_host: bool,
    fill_timeout: Option<Duration>,
}

impl CacheBuilder {
    /// Stores entries in `store` instead of a [`MemoryStore`].
    pub fn store(mut self, store: impl CacheStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// The byte budget of the default [`MemoryStore`] (ignored with [`store`](Self::store)).
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }

    /// The largest body stored, in bytes ([`DEFAULT_MAX_BODY_SIZE`] by default). A larger
    /// body streams through to its client and is not stored; it is never an error.
    pub fn max_body_size(mut self, max_body_size: usize) -> Self {
        self.max_body_size = max_body_size;
        self
    }

    /// Keys entries by host as well as path, for a server that answers several hosts. The
    /// host is the request target's authority (absolute-form, or HTTP/2's `:authority`), or
    /// else its `Host` header (RFC 9112 §3.2.2), lowercased; a fill gets that host, and only
    /// it, as its `Host` header. A request that names no host (or one that is not a plain
    /// authority) shares no entry: its handler runs for it alone.
    pub fn key_by_host(mut self, enabled: bool) -> Self {
        self.key_by_host = enabled;
        self
    }

    /// How long a fill may take, handler and body together ([`DEFAULT_FILL_TIMEOUT`] by
    /// default; `None` for no limit). A fill that takes longer is dropped: the requests
    /// waiting on it are answered `500`, a stale entry stays in service, and the next request
    /// starts a new fill. Without it, a handler that never ends would hold its key forever.
    /// The limit uses Tokio's timer, so the runtime needs its time driver
    /// (`enable_time`/`enable_all`, as `#[tokio::main]` sets up).
    pub fn fill_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.fill_timeout = timeout.into();
        self
    }

    /// The cache.
    pub fn build(self) -> Cache {
        if self.store.is_none() && self.max_body_size as u64 > self.max_bytes {
            tracing::warn!(
                max_body_size = self.max_body_size,
                max_bytes = self.max_bytes,
                "the cache's max_body_size is over its byte budget: bodies above the budget \
                 are never stored",
            );
        }
        let store = self.store.unwrap_or_else(|| {
            Arc::new(MemoryStore::for_bodies(self.max_bytes, self.max_body_size))
        });
        Cache {
            shared: Arc::new(Shared {
                store,
                flights: Mutex::default(),
                max_body_size: self.max_body_size,
                key_by_host: self.key_by_host,
                fill_timeout: self.fill_timeout,
                next_id: AtomicU64::new(1),
                users: Mutex::new(Vec::new()),
            }),
        }
    }
}

impl fmt::Debug for CacheBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CacheBuilder")
            .field("custom_store", &self.store.is_some())
            .field("max_bytes", &self.max_bytes)
            .field("max_body_size", &self.max_body_size)
            .field("key_by_host", &self.key_by_host)
            .field("fill_timeout", &self.fill_timeout)
            .finish()
    }
}
