//! The cache engine behind [`CacheService`](super::CacheService) and the cached `GET` of a
//! [`RouteHandlerService`](crate::RouteHandlerService): lookup, freshness, coalesced fills,
//! background regeneration and the responses built from entries.
//!
//! A hit is answered synchronously, inside `call`: one index lookup, two atomic loads for
//! the invalidation check, a clock read and a clone of the entry's prepared headers. Every
//! other path is a future; fills run in spawned tasks so that a client that goes away does
//! not cancel the run others wait on.

use std::{
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use futures_util::{FutureExt, future::Shared as SharedFuture};
use hashbrown::HashTable;
use http::{
    HeaderMap, HeaderValue, Request, Response, StatusCode, Uri,
    header::{
        AGE, AUTHORIZATION, CACHE_CONTROL, CONTENT_LENGTH, ETAG, HOST, IF_NONE_MATCH, SET_COOKIE,
        VARY,
    },
    response::Parts,
};
use tokio::{sync::oneshot, time::Instant};

use super::{
    CACHE_STATUS_HEADER, Cache, CacheStatus, CacheTags,
    body::{Collected, PrefixedBody, collect_capped},
    config::{Mode, Settings},
    store::{
        CacheKey, CacheStore, CachedResponse, EntryMeta, Lookup, StoreError, StoreFuture,
        UNSTORED_HEADERS, has_directive,
    },
};
use crate::{body::Body, context::RouteContext, extract::ReadTracker, synth::Head};

/// How long a response may be served stale at most (Next.js' default `expireTime`).
const EXPIRE: Duration = Duration::from_secs(31_536_000);

/// The bounds of the wait before a failed regeneration is retried.
const RETRY_MIN: Duration = Duration::from_secs(3);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// Past this many flights and backoff marks, expired marks are dropped when a fill starts.
const PRUNE_AT: usize = 1024;

/// What the cache calls to generate a response: the route's `GET` handler or the inner
/// service of a [`CacheService`](super::CacheService).
pub(crate) trait Upstream<B>: Clone + Send + 'static {
    /// The error the upstream may fail with.
    type Error: Send + 'static;

    fn run(
        &self,
        req: Request<B>,
        ctx: RouteContext,
    ) -> impl Future<Output = Result<Response<Body>, Self::Error>> + Send + 'static;
}

/// The state shared by everything that uses one [`Cache`].
pub(crate) struct Shared {
    pub(crate) store: Arc<dyn CacheStore>,
    pub(crate) flights: Mutex<Flights>,
    pub(crate) max_body_size: usize,
    pub(crate) key_by_host: bool,
    pub(crate) fill_timeout: Option<Duration>,
    pub(crate) next_id: AtomicU64,
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

type SharedOutcome = SharedFuture<oneshot::Receiver<Arc<Outcome>>>;

/// The fills running, and the keys whose last regeneration failed, by key.
#[derive(Default)]
pub(crate) struct Flights {
    table: HashTable<(CacheKey<'static>, Flight)>,
}

enum Flight {
    Running {
        id: u64,
        outcome: SharedOutcome,
        status: CacheStatus,
        tags: Arc<[Arc<str>]>,
    },
    Backoff {
        until: Instant,
        tags: Arc<[Arc<str>]>,
    },
}

impl Flight {
    fn tags(&self) -> &[Arc<str>] {
        match self {
            Self::Running { tags, .. } | Self::Backoff { tags, .. } => tags,
        }
    }
}

impl Flights {
    fn find(&self, key: &CacheKey<'_>) -> Option<&Flight> {
        self.table
            .find(key.precomputed_hash(), |(k, _)| k == key)
            .map(|(_, f)| f)
    }

    fn set(&mut self, key: &CacheKey<'static>, flight: Flight) {
        let hash = key.precomputed_hash();
        match self.table.find_entry(hash, |(k, _)| k == key) {
            Ok(mut found) => found.get_mut().1 = flight,
            Err(absent) => {
                absent
                    .into_table()
                    .insert_unique(hash, (key.clone(), flight), |(k, _)| k.precomputed_hash());
            }
        }
    }

    /// Ends the flight `id` of `key`, leaving a backoff mark when given one.
    fn finish(&mut self, key: &CacheKey<'_>, id: u64, backoff: Option<Flight>) {
        let Ok(mut found) = self
            .table
            .find_entry(key.precomputed_hash(), |(k, _)| k == key)
        else {
            return;
        };
        if !matches!(found.get().1, Flight::Running { id: running, .. } if running == id) {
            return;
        }
        match backoff {
            Some(flight) => found.get_mut().1 = flight,
            None => {
                found.remove();
            }
        }
    }

    /// Forgets the flights and backoff marks `matches` selects, so that requests after an
    /// invalidation start a fill of their own.
    pub(crate) fn detach(&mut self, mut matches: impl FnMut(&CacheKey<'_>, &[Arc<str>]) -> bool) {
        self.table.retain(|(k, f)| !matches(k, f.tags()));
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }
}

/// Ends a flight when dropped, whether its fill finished, failed or panicked.
struct FlightGuard {
    shared: Arc<Shared>,
    key: CacheKey<'static>,
    id: u64,
    backoff: Option<Flight>,
}

impl FlightGuard {
    /// Marks the key so that the next regeneration waits out `policy`'s retry window.
    fn back_off(&mut self, policy: &Policy) {
        let window = policy
            .settings
            .revalidate
            .unwrap_or(RETRY_MAX)
            .clamp(RETRY_MIN, RETRY_MAX);
        self.backoff = Some(Flight::Backoff {
            until: Instant::now() + window,
            tags: policy.settings.tags.clone(),
        });
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        lock(&self.shared.flights).finish(&self.key, self.id, self.backoff.take());
    }
}

/// What a fill produced, for the requests that waited on it.
pub(crate) enum Outcome {
    /// A response from an entry (stored, or fenced by an invalidation).
    Entry(Arc<CachedResponse>),
    /// A response that may be shared but not stored (an error status).
    Shared(Arc<Frozen>),
    /// A response only the request that produced it may have: each waiter runs the
    /// upstream for itself.
    Rerun,
    /// The fill failed (a panic, a body error, request data read under `Error`): `500`.
    Failed,
}

/// A buffered response that is shared with waiters but not stored.
pub(crate) struct Frozen {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Frozen {
    fn new(parts: Parts, body: Bytes) -> Self {
        let mut headers = parts.headers;
        strip_unstored(&mut headers);
        if may_have_body(parts.status) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        Self {
            status: parts.status,
            headers,
            body,
        }
    }

    fn respond(&self, status: CacheStatus, head: bool) -> Response<Body> {
        let mut res = Response::new(if head {
            Body::empty()
        } else {
            Body::from(self.body.clone())
        });
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers.clone();
        res.headers_mut()
            .insert(CACHE_STATUS_HEADER, status.header_value());
        res
    }
}

fn strip_unstored(headers: &mut HeaderMap) {
    for name in UNSTORED_HEADERS {
        headers.remove(name);
    }
    headers.remove(CACHE_STATUS_HEADER);
}

fn may_have_body(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// One cached route's or layer's checked settings, bound to its [`Cache`].
pub(crate) struct Policy {
    pub(crate) settings: Settings,
    pub(crate) cache: Cache,
    cache_control: HeaderValue,
    bailed: AtomicBool,
    /// The key of the route's literal path, so a request for exactly that path skips
    /// hashing.
    literal: Option<CacheKey<'static>>,
}

impl Policy {
    pub(crate) fn new(settings: Settings, cache: Cache, literal_path: Option<&str>) -> Self {
        let literal = literal_path
            .filter(|p| !cache.shared.key_by_host && p.starts_with('/') && !p.contains('['))
            .map(|p| CacheKey::new(None, p).into_owned());
        Self {
            cache_control: cache_control(settings.revalidate),
            settings,
            cache,
            bailed: AtomicBool::new(false),
            literal,
        }
    }

    /// Whether `Auto` found request data read at run time and made the route dynamic.
    pub(crate) fn bailed(&self) -> bool {
        self.bailed.load(Ordering::Relaxed)
    }

    fn name_for<'a>(&'a self, key: &'a CacheKey<'_>) -> &'a str {
        self.settings.name.as_deref().unwrap_or(key.path())
    }

    fn key_of<'r, B>(&self, req: &'r Request<B>) -> CacheKey<'r> {
        let host = if self.cache.shared.key_by_host {
            req.uri()
                .authority()
                .map(|a| a.as_str().rsplit('@').next().unwrap_or(""))
                .or_else(|| req.headers().get(HOST).and_then(|h| h.to_str().ok()))
        } else {
            None
        };
        CacheKey::new(host, req.uri().path())
    }

    /// The request the upstream fills the cache with, and the tracker of what it reads.
    fn fill_request<B: Default>(
        &self,
        key: &CacheKey<'_>,
        req: &mut Request<B>,
    ) -> (Request<B>, Option<ReadTracker>) {
        match self.settings.mode {
            Mode::Static => {
                let mut fresh = Request::new(B::default());
                *fresh.uri_mut() = Uri::try_from(key.path()).unwrap_or_default();
                if self.cache.shared.key_by_host {
                    if let Some(host) = req.headers().get(HOST) {
                        fresh.headers_mut().insert(HOST, host.clone());
                    }
                }
                if let Some(ctx) = req.extensions().get::<RouteContext>() {
                    fresh.extensions_mut().insert(ctx.clone());
                }
                (fresh, None)
            }
            Mode::Tracked { .. } => {
                let mut req = take(req);
                *req.method_mut() = http::Method::GET;
                let tracker = ReadTracker::default();
                req.extensions_mut().insert(tracker.clone());
                (req, Some(tracker))
            }
        }
    }

    /// Why a response may be neither stored nor shared, if it may not.
    fn unshareable(&self, headers: &HeaderMap) -> Option<&'static str> {
        for value in headers.get_all(CACHE_CONTROL) {
            for directive in ["no-store", "private", "no-cache"] {
                if has_directive(value, directive) {
                    return Some(directive);
                }
            }
        }
        if !self.settings.cache_set_cookie && headers.contains_key(SET_COOKIE) {
            return Some("set-cookie");
        }
        for value in headers.get_all(VARY) {
            let star = value
                .to_str()
                .map_or(true, |v| v.split(',').any(|f| f.trim() == "*"));
            if star || self.settings.mode != Mode::Static {
                return Some("vary");
            }
        }
        None
    }

    /// The entry for a response the upstream produced.
    fn entry(
        &self,
        key: &CacheKey<'_>,
        parts: Parts,
        body: Bytes,
        generation: u64,
    ) -> CachedResponse {
        let Parts {
            status,
            mut headers,
            extensions,
            ..
        } = parts;
        strip_unstored(&mut headers);
        if may_have_body(status) {
            headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        }
        if status.is_success() && !headers.contains_key(ETAG) {
            headers.insert(ETAG, etag_of(&body));
        }
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, self.cache_control.clone());
        }
        let mut tags = self.settings.tags.to_vec();
        if let Some(extra) = extensions.get::<CacheTags>() {
            for tag in extra.as_slice() {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
        }
        let meta = EntryMeta::new(key.path(), Instant::now())
            .tags(tags)
            .revalidate(self.settings.revalidate)
            .generation(generation);
        CachedResponse::new(status, headers, body, meta)
    }

    /// Starts one background regeneration of `key`, unless one is running or the last one
    /// failed less than a retry window ago.
    fn regenerate<B, U>(
        self: &Arc<Self>,
        key: &CacheKey<'_>,
        req: &mut Request<B>,
        ctx: &RouteContext,
        up: impl FnOnce() -> U,
    ) where
        B: Default + Send + 'static,
        U: Upstream<B>,
    {
        let shared = &self.cache.shared;
        let mut flights = lock(&shared.flights);
        match flights.find(key) {
            Some(Flight::Running { .. }) => return,
            Some(Flight::Backoff { until, .. }) if Instant::now() < *until => return,
            _ => {}
        }
        let key = key.clone().into_owned();
        let (outcome_tx, _, guard) = self.register(&mut flights, &key, CacheStatus::Miss);
        drop(flights);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::error!("no Tokio runtime: a stale entry cannot be regenerated");
            return;
        };
        let (req, tracker) = self.fill_request(&key, req);
        runtime.spawn(fill(Job {
            policy: self.clone(),
            key,
            req,
            tracker,
            ctx: ctx.clone(),
            up: up(),
            trigger: None,
            outcome: outcome_tx,
            guard,
            regenerating: true,
            replaces: true,
        }));
    }

    fn register(
        &self,
        flights: &mut Flights,
        key: &CacheKey<'static>,
        status: CacheStatus,
    ) -> (oneshot::Sender<Arc<Outcome>>, SharedOutcome, FlightGuard) {
        let shared = &self.cache.shared;
        if flights.table.len() >= PRUNE_AT {
            let now = Instant::now();
            flights
                .table
                .retain(|(_, f)| !matches!(f, Flight::Backoff { until, .. } if *until <= now));
        }
        let (tx, rx) = oneshot::channel();
        let outcome = rx.shared();
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        flights.set(
            key,
            Flight::Running {
                id,
                outcome: outcome.clone(),
                status,
                tags: self.settings.tags.clone(),
            },
        );
        let guard = FlightGuard {
            shared: shared.clone(),
            key: key.clone(),
            id,
            backoff: None,
        };
        (tx, outcome, guard)
    }
}

/// The `Cache-Control` sent with cached responses, in the Next.js 16 form.
fn cache_control(revalidate: Option<Duration>) -> HeaderValue {
    let expire = EXPIRE.as_secs();
    let value = match revalidate {
        None => format!("s-maxage={expire}, stale-while-revalidate"),
        Some(window) => {
            let secs = window
                .as_secs()
                .saturating_add(u64::from(window.subsec_nanos() > 0));
            if secs >= expire {
                format!("s-maxage={secs}")
            } else {
                format!("s-maxage={secs}, stale-while-revalidate={}", expire - secs)
            }
        }
    };
    HeaderValue::try_from(value).expect("digits and ascii are a valid header value")
}

/// A strong entity tag: the body's length and a 64-bit SipHash of it, stable for a given
/// build.
fn etag_of(body: &[u8]) -> HeaderValue {
    use std::hash::Hasher;
    let mut hasher = std::hash::DefaultHasher::new();
    hasher.write(body);
    let tag = format!("\"{:x}-{:016x}\"", body.len(), hasher.finish());
    HeaderValue::try_from(tag).expect("hex digits are a valid header value")
}

fn take<B: Default>(req: &mut Request<B>) -> Request<B> {
    std::mem::replace(req, Request::new(B::default()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Freshness {
    Fresh,
    Stale,
    Expired,
}

/// An entry's age at `now`.
#[inline]
fn age(entry: &CachedResponse, now: Instant) -> Duration {
    now.saturating_duration_since(entry.created())
}

#[inline]
fn freshness(entry: &CachedResponse, age: Duration) -> Freshness {
    match entry.revalidate() {
        None => Freshness::Fresh,
        Some(window) if age < window => Freshness::Fresh,
        Some(_) if age < EXPIRE && entry.serve_stale() => Freshness::Stale,
        Some(_) => Freshness::Expired,
    }
}

/// How a request is answered when the cache takes it.
pub(crate) enum Start<F> {
    /// At once, from an entry.
    Ready(Response<Body>),
    /// Later: a fill, a wait on one, or a store lookup.
    Pending(F),
}

enum LookupState {
    Known(Result<Lookup, StoreError>),
    Later(StoreFuture<Result<Lookup, StoreError>>),
}

/// The future of a request the cache does not answer at once. Boxed: those paths allocate
/// anyway (a task, channels), and an unboxed `slow` future would make every hit move a
/// value of its size.
pub(crate) type PendingFuture<O> = Pin<Box<dyn Future<Output = O> + Send>>;

/// Answers a `GET` (or, with `head`, a `HEAD`) for a cached route, or `None` when the
/// cache does not take the request; `req` is then untouched. `finish` maps the result of a
/// pending answer to the caller's output type.
#[inline]
pub(crate) fn begin<B, U, O>(
    policy: &Arc<Policy>,
    req: &mut Request<B>,
    ctx: &RouteContext,
    head: bool,
    up: impl FnOnce() -> U,
    finish: fn(Result<Response<Body>, U::Error>) -> O,
) -> Option<Start<PendingFuture<O>>>
where
    B: Default + Send + 'static,
    U: Upstream<B>,
    O: 'static,
{
    if let Mode::Tracked { .. } = policy.settings.mode {
        if policy.bailed() || req.headers().contains_key(AUTHORIZATION) {
            return None;
        }
    }
    let computed;
    let key = match &policy.literal {
        Some(literal) if literal.as_str() == req.uri().path() => literal,
        _ => {
            computed = policy.key_of(req);
            &computed
        }
    };
    let lookup = match policy.cache.shared.store.get(key).into_ready() {
        Ok(Ok(Lookup::Found(entry))) => {
            let age = age(&entry, Instant::now());
            match freshness(&entry, age) {
                Freshness::Fresh => {
                    let inm = req.headers().get(IF_NONE_MATCH);
                    return Some(Start::Ready(respond(
                        &entry,
                        CacheStatus::Hit,
                        age,
                        head,
                        inm,
                    )));
                }
                Freshness::Stale => {
                    let inm = req.headers().get(IF_NONE_MATCH);
                    let res = respond(&entry, CacheStatus::Stale, age, head, inm);
                    let key = key.clone().into_owned();
                    policy.regenerate(&key, req, ctx, up);
                    return Some(Start::Ready(res));
                }
                Freshness::Expired => LookupState::Known(Ok(Lookup::Missing)),
            }
        }
        Ok(result) => LookupState::Known(result),
        Err(pending) => LookupState::Later(pending),
    };
    let key = key.clone().into_owned();
    let req = take(req);
    let future = slow(policy.clone(), key, req, ctx.clone(), head, up(), lookup);
    Some(Start::Pending(Box::pin(
        async move { finish(future.await) },
    )))
}

async fn slow<B, U>(
    policy: Arc<Policy>,
    key: CacheKey<'static>,
    mut req: Request<B>,
    ctx: RouteContext,
    head: bool,
    up: U,
    lookup: LookupState,
) -> Result<Response<Body>, U::Error>
where
    B: Default + Send + 'static,
    U: Upstream<B>,
{
    let lookup = match lookup {
        LookupState::Known(result) => result,
        LookupState::Later(future) => future.await,
    };
    let status = match lookup {
        Ok(Lookup::Found(entry)) => {
            let age = age(&entry, Instant::now());
            match freshness(&entry, age) {
                Freshness::Fresh => {
                    let inm = req.headers().get(IF_NONE_MATCH);
                    return Ok(respond(&entry, CacheStatus::Hit, age, head, inm));
                }
                Freshness::Stale => {
                    let inm = req.headers().get(IF_NONE_MATCH);
                    let res = respond(&entry, CacheStatus::Stale, age, head, inm);
                    policy.regenerate(&key, &mut req, &ctx, || up);
                    return Ok(res);
                }
                Freshness::Expired => CacheStatus::Miss,
            }
        }
        Ok(Lookup::Invalidated) => CacheStatus::Revalidated,
        Ok(Lookup::Missing) => CacheStatus::Miss,
        Err(error) => {
            tracing::warn!(key = %key, %error, "cache store lookup failed; running the handler");
            CacheStatus::Miss
        }
    };
    join_or_fill(policy, key, req, ctx, head, up, status).await
}

/// Waits on the running fill of `key`, or starts one.
async fn join_or_fill<B, U>(
    policy: Arc<Policy>,
    key: CacheKey<'static>,
    mut req: Request<B>,
    ctx: RouteContext,
    head: bool,
    up: U,
    status: CacheStatus,
) -> Result<Response<Body>, U::Error>
where
    B: Default + Send + 'static,
    U: Upstream<B>,
{
    let inm = req.headers().get(IF_NONE_MATCH).cloned();
    let Joined {
        outcome,
        own,
        status,
        inline,
    } = join_or_start(&policy, &key, &mut req, &ctx, head, &up, status);
    if let Some(fill) = inline {
        fill.await;
    }
    let request_used = own.is_some() && policy.settings.mode != Mode::Static;
    if let Some(own) = own {
        if let Ok(res) = own.await {
            return res;
        }
    }
    let outcome = outcome.await;
    match outcome.as_deref() {
        Ok(Outcome::Entry(entry)) => {
            let age = age(entry, Instant::now());
            Ok(respond(entry, status, age, head, inm.as_ref()))
        }
        Ok(Outcome::Shared(frozen)) => Ok(frozen.respond(status, head)),
        Ok(Outcome::Rerun) if !request_used => {
            rerun(&policy, &key, req, ctx, head, up, status).await
        }
        Ok(Outcome::Rerun | Outcome::Failed) | Err(_) => Ok(internal_error(status)),
    }
}

type Own<E> = oneshot::Receiver<Result<Response<Body>, E>>;

/// A request's place in a fill: what it waits on.
struct Joined<E, F> {
    outcome: SharedOutcome,
    /// The answer only this request may receive, when it started the fill.
    own: Option<Own<E>>,
    status: CacheStatus,
    /// The fill itself, when there is no runtime to spawn it on.
    inline: Option<F>,
}

/// Joins the running fill of `key`, or registers and spawns one (whose trigger is this
/// request: it gets the second value to wait on first).
fn join_or_start<B, U>(
    policy: &Arc<Policy>,
    key: &CacheKey<'static>,
    req: &mut Request<B>,
    ctx: &RouteContext,
    head: bool,
    up: &U,
    status: CacheStatus,
) -> Joined<U::Error, impl Future<Output = ()> + Send + 'static>
where
    B: Default + Send + 'static,
    U: Upstream<B>,
{
    let mut flights = lock(&policy.cache.shared.flights);
    if let Some(Flight::Running {
        outcome, status, ..
    }) = flights.find(key)
    {
        return Joined {
            outcome: outcome.clone(),
            own: None,
            status: *status,
            inline: None,
        };
    }
    let (outcome_tx, outcome, guard) = policy.register(&mut flights, key, status);
    drop(flights);
    let (own_tx, own) = oneshot::channel();
    let (fill_req, tracker) = policy.fill_request(key, req);
    let job = fill(Job {
        policy: policy.clone(),
        key: key.clone(),
        req: fill_req,
        tracker,
        ctx: ctx.clone(),
        up: up.clone(),
        trigger: Some(Trigger {
            tx: own_tx,
            head,
            status,
        }),
        outcome: outcome_tx,
        guard,
        regenerating: false,
        replaces: status == CacheStatus::Revalidated,
    });
    // On a Tokio runtime the fill runs in its own task, so it ends even if this request is
    // dropped; elsewhere this request drives it.
    let inline = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(job);
            None
        }
        Err(_) => Some(job),
    };
    Joined {
        outcome,
        own: Some(own),
        status,
        inline,
    }
}

/// Runs the upstream for one waiter whose fill produced a response it may not share.
async fn rerun<B, U>(
    policy: &Policy,
    key: &CacheKey<'_>,
    mut req: Request<B>,
    ctx: RouteContext,
    head: bool,
    up: U,
    status: CacheStatus,
) -> Result<Response<Body>, U::Error>
where
    B: Default + Send + 'static,
    U: Upstream<B>,
{
    let (req, _) = policy.fill_request(key, &mut req);
    match AssertUnwindSafe(async move { up.run(req, ctx).await })
        .catch_unwind()
        .await
    {
        Ok(res) => Ok(finish_private(res?, head, status)),
        Err(_) => {
            tracing::error!(route = policy.name_for(key), "handler panicked");
            Ok(internal_error(status))
        }
    }
}

struct Trigger<E> {
    tx: oneshot::Sender<Result<Response<Body>, E>>,
    head: bool,
    status: CacheStatus,
}

impl<E> Trigger<E> {
    fn send(self, res: Result<Response<Body>, E>) {
        let res = res.map(|res| finish_private(res, self.head, self.status));
        // The client may have gone away; the fill goes on regardless.
        let _ = self.tx.send(res);
    }
}

struct Job<B, U: Upstream<B>> {
    policy: Arc<Policy>,
    key: CacheKey<'static>,
    req: Request<B>,
    tracker: Option<ReadTracker>,
    ctx: RouteContext,
    up: U,
    /// The request that started the fill, which may receive a response no one else may.
    trigger: Option<Trigger<U::Error>>,
    outcome: oneshot::Sender<Arc<Outcome>>,
    guard: FlightGuard,
    /// A stale entry is being replaced: a failure keeps it and backs off.
    regenerating: bool,
    /// An entry exists (stale or invalidated): remove it if the new response may not be
    /// stored.
    replaces: bool,
}

/// Runs one fill to the end and tells the waiters.
async fn fill<B, U>(job: Job<B, U>)
where
    B: Send + 'static,
    U: Upstream<B>,
{
    let Job {
        policy,
        key,
        req,
        tracker,
        ctx,
        up,
        trigger,
        outcome,
        mut guard,
        regenerating,
        replaces,
    } = job;
    let result = run_fill(
        &policy,
        &key,
        Run {
            req,
            tracker,
            ctx,
            up,
        },
        trigger,
        regenerating,
        replaces,
        &mut guard,
    )
    .await;
    // The entry (if any) is stored: end the flight, then answer those who waited on it.
    drop(guard);
    let _ = outcome.send(Arc::new(result));
}

struct Run<B, U> {
    req: Request<B>,
    tracker: Option<ReadTracker>,
    ctx: RouteContext,
    up: U,
}

async fn run_fill<B, U>(
    policy: &Policy,
    key: &CacheKey<'static>,
    run: Run<B, U>,
    trigger: Option<Trigger<U::Error>>,
    regenerating: bool,
    replaces: bool,
    guard: &mut FlightGuard,
) -> Outcome
where
    B: Send + 'static,
    U: Upstream<B>,
{
    let store = &policy.cache.shared.store;
    if !regenerating && !replaces {
        // A fill that ended just before this one was registered may have stored the entry.
        if let Ok(Lookup::Found(entry)) = store.get(key).await {
            if freshness(&entry, age(&entry, Instant::now())) == Freshness::Fresh {
                return Outcome::Entry(entry);
            }
        }
    }
    let generation = match store.generation().await {
        Ok(generation) => Some(generation),
        Err(error) => {
            tracing::warn!(key = %key, %error, "cache store generation failed; not storing");
            None
        }
    };
    let Run {
        req,
        tracker,
        ctx,
        up,
    } = run;
    let deadline = deadline(policy.cache.shared.fill_timeout);
    let run = bounded(deadline, async move { up.run(req, ctx).await });
    let res = match AssertUnwindSafe(run).catch_unwind().await {
        Ok(None) => {
            timed_out(policy, key, regenerating, guard);
            return Outcome::Failed;
        }
        Ok(Some(Ok(res))) => res,
        Ok(Some(Err(error))) => {
            tracing::warn!(
                route = policy.name_for(key),
                "service failed while filling the cache"
            );
            if regenerating {
                guard.back_off(policy);
            }
            if let Some(trigger) = trigger {
                trigger.send(Err(error));
            }
            return Outcome::Rerun;
        }
        Err(_) => {
            tracing::error!(
                route = policy.name_for(key),
                "handler panicked while filling the cache"
            );
            if regenerating {
                guard.back_off(policy);
            }
            return Outcome::Failed;
        }
    };

    if let Some(tracker) = &tracker {
        let reads = tracker.reads();
        if !reads.is_empty() {
            let name = policy.name_for(key);
            if policy.settings.mode == (Mode::Tracked { error: true }) {
                tracing::error!(
                    "Route {name} with `dynamic = \"error\"` couldn't be rendered statically \
                     because it used {reads}"
                );
                if regenerating {
                    guard.back_off(policy);
                }
                return Outcome::Failed;
            }
            if !policy.bailed.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "Route {name} couldn't be rendered statically because it used {reads}; \
                     its GET responses are not cached"
                );
            }
            if let Some(trigger) = trigger {
                trigger.send(Ok(res));
            }
            return Outcome::Rerun;
        }
    }

    let (parts, body) = res.into_parts();
    if let Some(reason) = policy.unshareable(&parts.headers) {
        tracing::debug!(key = %key, reason, "response neither stored nor shared");
        if replaces {
            remove(store, key).await;
        }
        if let Some(trigger) = trigger {
            trigger.send(Ok(Response::from_parts(parts, body)));
        }
        return Outcome::Rerun;
    }

    let max = policy.cache.shared.max_body_size;
    let body = match AssertUnwindSafe(bounded(deadline, collect_capped(body, max)))
        .catch_unwind()
        .await
    {
        Ok(None) => {
            timed_out(policy, key, regenerating, guard);
            return Outcome::Failed;
        }
        Ok(Some(Ok(Collected::Full(bytes)))) => bytes,
        Ok(Some(Ok(Collected::Over { chunks, rest }))) => {
            tracing::debug!(key = %key, max, "body over the size cap; streamed, not stored");
            if replaces {
                remove(store, key).await;
            }
            if let Some(trigger) = trigger {
                let body = Body::new(PrefixedBody::new(chunks, rest));
                trigger.send(Ok(Response::from_parts(parts, body)));
            }
            return Outcome::Rerun;
        }
        Ok(Some(Err(error))) => {
            tracing::warn!(key = %key, %error, "response body failed while filling the cache");
            if regenerating {
                guard.back_off(policy);
            }
            return Outcome::Failed;
        }
        Err(_) => {
            tracing::error!(key = %key, "response body panicked while filling the cache");
            if regenerating {
                guard.back_off(policy);
            }
            return Outcome::Failed;
        }
    };

    let status = parts.status;
    if regenerating && status.is_server_error() {
        tracing::warn!(
            route = policy.name_for(key),
            %status,
            "regeneration failed; the stale entry stays in service"
        );
        guard.back_off(policy);
        return Outcome::Shared(Arc::new(Frozen::new(parts, body)));
    }
    let storable = (200..400).contains(&status.as_u16()) || status == StatusCode::NOT_FOUND;
    if !storable {
        if replaces {
            remove(store, key).await;
        }
        return Outcome::Shared(Arc::new(Frozen::new(parts, body)));
    }
    let entry = Arc::new(policy.entry(key, parts, body, generation.unwrap_or(0)));
    if generation.is_some() {
        match store.put(key, entry.clone()).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::debug!(key = %key, "invalidated while it was generated; not stored");
            }
            Err(error) => tracing::warn!(key = %key, %error, "cache store put failed"),
        }
    }
    Outcome::Entry(entry)
}

/// When a fill started now must end, if it is bounded: only on a Tokio runtime, whose timer
/// the bound uses.
fn deadline(timeout: Option<Duration>) -> Option<Instant> {
    let timeout = timeout?;
    tokio::runtime::Handle::try_current().ok()?;
    Instant::now().checked_add(timeout)
}

/// Runs `future` until `deadline`; `None` when it did not end in time.
async fn bounded<F: Future>(deadline: Option<Instant>, future: F) -> Option<F::Output> {
    match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, future).await.ok(),
        None => Some(future.await),
    }
}

fn timed_out(policy: &Policy, key: &CacheKey<'_>, regenerating: bool, guard: &mut FlightGuard) {
    tracing::warn!(
        route = policy.name_for(key),
        timeout = ?policy.cache.shared.fill_timeout,
        "cache fill timed out; dropped"
    );
    if regenerating {
        guard.back_off(policy);
    }
}

async fn remove(store: &Arc<dyn CacheStore>, key: &CacheKey<'_>) {
    if let Err(error) = store.remove(key).await {
        tracing::warn!(key = %key, %error, "cache store remove failed");
    }
}

/// A response built from an entry: its prepared headers with `Age` and the status header,
/// and the body unless `head`; `304` when `inm` matches the entry's `ETag`.
#[inline]
pub(crate) fn respond(
    entry: &CachedResponse,
    status: CacheStatus,
    age: Duration,
    head: bool,
    inm: Option<&HeaderValue>,
) -> Response<Body> {
    let mut headers = entry.template().clone();
    let age = age.as_secs();
    if age > 0 {
        if let Some(value) = headers.get_mut(AGE) {
            *value = age_value(age);
        }
    }
    if status != CacheStatus::Hit {
        if let Some(value) = headers.get_mut(CACHE_STATUS_HEADER) {
            *value = status.header_value();
        }
    }
    let not_modified = match (entry.etag(), inm) {
        (Some(etag), Some(inm)) => if_none_match(inm, etag),
        _ => false,
    };
    let mut res = if not_modified {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else if head {
        if let Some(len) = entry.content_length() {
            headers.insert(CONTENT_LENGTH, len.clone());
        }
        let mut res = Response::new(Body::empty());
        *res.status_mut() = entry.status();
        res
    } else {
        let mut res = Response::new(Body::from(entry.body().clone()));
        *res.status_mut() = entry.status();
        res
    };
    *res.headers_mut() = headers;
    res
}

/// A response only its own client receives, marked with the cache status.
fn finish_private(res: Response<Body>, head: bool, status: CacheStatus) -> Response<Body> {
    // The fill ran the GET handler; the response stands for what GET sends.
    let mut res = if head {
        Head::derived(&http::HeaderMap::new()).strip(res, Body::empty_of_unknown_size)
    } else {
        res
    };
    res.headers_mut()
        .insert(CACHE_STATUS_HEADER, status.header_value());
    res
}

fn internal_error(status: CacheStatus) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    res.headers_mut()
        .insert(CACHE_STATUS_HEADER, status.header_value());
    res
}

/// Whether an `If-None-Match` value matches `etag` by the weak comparison of RFC 9110
/// §13.1.2: `*`, or a list holding the same opaque tag, with or without `W/`.
pub(crate) fn if_none_match(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let want = strip_weak(etag.as_bytes());
    let mut rest = value.as_bytes();
    loop {
        rest = trim_start(rest);
        match rest {
            [] => return false,
            [b',', tail @ ..] => rest = tail,
            [b'*', tail @ ..] if trim_start(tail).first().is_none_or(|&b| b == b',') => {
                return true;
            }
            _ => {
                let tag = strip_weak(rest);
                // An opaque tag is a quoted string without inner quotes.
                let Some((b'"', inner)) = tag.split_first() else {
                    return false;
                };
                let Some(end) = inner.iter().position(|&b| b == b'"') else {
                    return false;
                };
                if &tag[..end + 2] == want {
                    return true;
                }
                rest = &inner[end + 1..];
            }
        }
    }
}

fn strip_weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// The decimal text of every age below this is a static string, so a hit allocates no
/// `Age` value for the first 10 000 seconds of an entry.
const STATIC_AGES: u64 = 10_000;
const AGE_DIGITS_LEN: usize = 10 + 90 * 2 + 900 * 3 + 9000 * 4;
static AGE_DIGITS: [u8; AGE_DIGITS_LEN] = age_digits();

const fn age_digits() -> [u8; AGE_DIGITS_LEN] {
    let mut out = [0u8; AGE_DIGITS_LEN];
    let mut n = 0u64;
    let mut at = 0;
    while n < STATIC_AGES {
        let len = digit_count(n);
        let mut k = len;
        let mut m = n;
        while k > 0 {
            k -= 1;
            out[at + k] = b'0' + (m % 10) as u8;
            m /= 10;
        }
        at += len;
        n += 1;
    }
    out
}

const fn digit_count(n: u64) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        _ => 4,
    }
}

fn age_value(age: u64) -> HeaderValue {
    if age >= STATIC_AGES {
        return HeaderValue::from(age);
    }
    let start = match age {
        0..=9 => age,
        10..=99 => 10 + (age - 10) * 2,
        100..=999 => 190 + (age - 100) * 3,
        _ => 2890 + (age - 1000) * 4,
    } as usize;
    let digits = &AGE_DIGITS[start..start + digit_count(age)];
    match std::str::from_utf8(digits) {
        Ok(text) => HeaderValue::from_static(text),
        Err(_) => HeaderValue::from(age),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ages_are_their_decimal_text() {
        for age in (0..STATIC_AGES + 3).chain([123_456, u64::MAX]) {
            assert_eq!(age_value(age), age.to_string().as_str(), "{age}");
        }
    }

    #[test]
    fn cache_control_forms() {
        assert_eq!(
            cache_control(Some(Duration::from_secs(10))),
            "s-maxage=10, stale-while-revalidate=31535990"
        );
        assert_eq!(
            cache_control(Some(Duration::from_millis(1500))),
            "s-maxage=2, stale-while-revalidate=31535998"
        );
        assert_eq!(cache_control(Some(EXPIRE)), "s-maxage=31536000");
        assert_eq!(
            cache_control(Some(Duration::MAX)),
            format!("s-maxage={}", u64::MAX).as_str()
        );
        assert_eq!(
            cache_control(None),
            "s-maxage=31536000, stale-while-revalidate"
        );
    }

    #[test]
    fn if_none_match_table() {
        let etag = HeaderValue::from_static("\"5-abc\"");
        for (value, want) in [
            ("\"5-abc\"", true),
            ("W/\"5-abc\"", true),
            ("*", true),
            (" * ", true),
            ("\"x\", \"5-abc\"", true),
            ("\"x\",W/\"5-abc\" ", true),
            ("\"x\"", false),
            ("\"5-abc", false),
            ("5-abc", false),
            ("\"5-ab\"", false),
            ("", false),
            (",,,", false),
            ("\"a,b\", \"5-abc\"", true),
            ("*x", false),
        ] {
            let v = HeaderValue::from_str(value).unwrap();
            assert_eq!(if_none_match(&v, &etag), want, "{value:?}");
        }
        let weak = HeaderValue::from_static("W/\"1\"");
        assert!(if_none_match(&HeaderValue::from_static("\"1\""), &weak));
    }

    proptest! {
        #[test]
        fn if_none_match_never_panics(value in "[ -~]{0,64}") {
            let v = HeaderValue::from_str(&value).unwrap();
            let _ = if_none_match(&v, &HeaderValue::from_static("\"1-2\""));
        }

        #[test]
        fn a_listed_tag_matches_anywhere(
            before in proptest::collection::vec("[a-z0-9,]{0,8}", 0..4),
            after in proptest::collection::vec("[a-z0-9,]{0,8}", 0..4),
            weak in any::<bool>(),
        ) {
            let etag = "\"7-deadbeef\"";
            let mut items: Vec<String> = before.iter().map(|t| format!("\"{t}\"")).collect();
            items.push(if weak { format!("W/{etag}") } else { etag.to_owned() });
            items.extend(after.iter().map(|t| format!("\"{t}\"")));
            let v = HeaderValue::from_str(&items.join(" , ")).unwrap();
            prop_assert!(if_none_match(&v, &HeaderValue::from_static(etag)));
        }
    }

    fn flights(cache: &Cache) -> usize {
        lock(&cache.shared.flights).len()
    }

    #[tokio::test(start_paused = true)]
    async fn no_flight_outlives_its_fill() {
        use crate::{RouteHandler, cache::Dynamic};
        use tower::ServiceExt;

        let cache = Cache::new();
        let runs = Arc::new(AtomicU64::new(0));
        let r = runs.clone();
        let svc = RouteHandler::new()
            .get(move || {
                let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    match n {
                        1 | 3 => panic!("run {n} fails"),
                        _ => "ok",
                    }
                }
            })
            .dynamic(Dynamic::ForceStatic)
            .revalidate(5)
            .cache(&cache)
            .into_service();
        let get = || Request::get("/f").body(Body::empty()).unwrap();
        let res = svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(flights(&cache), 0);
        svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(flights(&cache), 0);
        tokio::time::advance(Duration::from_secs(5)).await;
        // A stale hit starts a regeneration, which panics and leaves a backoff mark.
        svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(flights(&cache), 1);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(matches!(
            lock(&cache.shared.flights).table.iter().next(),
            Some((_, Flight::Backoff { .. }))
        ));
        // Invalidation clears it.
        cache.revalidator().revalidate_path("/f").await.unwrap();
        assert_eq!(flights(&cache), 0);
    }

    #[test]
    fn etags_are_strong_and_differ_by_body() {
        let a = etag_of(b"hello");
        assert!(a.to_str().unwrap().starts_with("\"5-"));
        assert_eq!(a, etag_of(b"hello"));
        assert_ne!(a, etag_of(b"hellp"));
    }
}
