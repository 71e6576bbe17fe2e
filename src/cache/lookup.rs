//! Answering a `GET` from the cache: the hit (synchronous, inside `call`), the stale answer
//! that starts one background regeneration, and the miss that waits on the key's one fill.

use std::{
    future::Future, marker::PhantomData, panic::AssertUnwindSafe, pin::Pin, sync::Arc,
    time::Duration,
};

use futures_util::FutureExt;
use http::{
    HeaderValue, Request, Response,
    header::{AUTHORIZATION, IF_NONE_MATCH},
};
use tokio::{sync::oneshot, time::Instant};

use super::{
    CacheStatus,
    fill::{Fill, Origin, Outcome, Replacing, Requester},
    flight::{Flight, Mark, SharedOutcome, lock},
    policy::Policy,
    respond::{EXPIRE, internal_error, marked, respond},
    store::{CacheKey, CachedResponse, Lookup, StoreError, StoreFuture},
};
use crate::{body::Body, context::RouteContext, method};

/// The future of a request the cache does not answer at once. Boxed: those paths allocate
/// anyway (a task, channels), and an unboxed future would make every hit move a value of
/// its size.
pub(crate) type CacheFuture<E> = Pin<Box<dyn Future<Output = Result<Response<Body>, E>> + Send>>;

/// How the cache takes a `GET`: a hit is answered at once, from the request by reference;
/// only a miss takes the request (see [`Miss::wait`]).
pub(crate) enum Served {
    /// At once, from an entry: see [`Hit::response`].
    Ready(Hit),
    /// Later: a fill, a wait on one, a store lookup, or a run that shares nothing.
    Miss(Miss),
    /// Not at all: the request is answered as if the route were not cached (a route made
    /// dynamic by what it read, or a request with `Authorization`).
    Bypass,
}

/// An entry that answers a request at once.
pub(crate) struct Hit {
    entry: Arc<CachedResponse>,
    status: CacheStatus,
    age: Duration,
}

impl Hit {
    /// The response, `304` when the request's `If-None-Match` matches the entry.
    #[inline]
    pub(crate) fn response<B>(&self, req: &Request<B>) -> Response<Body> {
        respond(&self.entry, self.status, self.age, if_none_match_of(req))
    }
}

/// A request the cache answers later.
pub(crate) struct Miss {
    key: CacheKey<'static>,
    pending: Pending,
}

/// Answers a `GET` of a cached route or layer from an entry, or says how it is answered
/// otherwise. `canonical` is the request's canonical path when the caller knows it (the
/// route table matched it); `origin` is called only for a stale entry, for what regenerates
/// it and the route context of that fill.
///
/// The cache never sees `HEAD`: the caller turns a `HEAD` into this `GET` and strips the
/// body of the answer, by the same rule as for an uncached `GET`.
#[inline]
pub(crate) fn serve<R, B, O>(
    policy: &Arc<Policy>,
    req: &Request<R>,
    canonical: Option<&str>,
    origin: impl FnOnce() -> (O, RouteContext),
) -> Served
where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    let own = policy.runs_with_own_request();
    if own && (policy.bailed() || method::field(req.headers(), &AUTHORIZATION).is_some()) {
        return Served::Bypass;
    }
    let Some(key) = policy.key_of(req, canonical) else {
        // Keyed by host, and the request names none: nothing it gets may be shared.
        if own {
            return Served::Bypass;
        }
        let key = policy.key_without_host(req);
        return Served::Miss(Miss {
            key,
            pending: Pending::Alone,
        });
    };
    let pending = match policy.cache.shared.store.get(&key).into_ready() {
        Ok(result) => match found(&key, result, Instant::now()) {
            Found::Fresh(entry, age) => {
                let status = CacheStatus::Hit;
                return Served::Ready(Hit { entry, status, age });
            }
            Found::Stale(entry, age) => {
                regenerate(policy, &key, origin);
                let status = CacheStatus::Stale;
                return Served::Ready(Hit { entry, status, age });
            }
            Found::Miss(status) => Pending::Known(status),
        },
        Err(later) => Pending::Lookup(later),
    };
    Served::Miss(Miss {
        key: key.into_owned(),
        pending,
    })
}

/// The request's `If-None-Match`.
#[inline]
fn if_none_match_of<B>(req: &Request<B>) -> Option<&HeaderValue> {
    method::field(req.headers(), &IF_NONE_MATCH)
}

impl Miss {
    /// The answer to the request, which the cache takes now.
    pub(crate) fn wait<B, O>(
        self,
        policy: &Arc<Policy>,
        req: Request<B>,
        ctx: RouteContext,
        origin: O,
    ) -> CacheFuture<O::Error>
    where
        B: Default + Send + 'static,
        O: Origin<B>,
    {
        let policy = policy.clone();
        match self.pending {
            Pending::Alone => Box::pin(ordinary(policy, self.key, req, ctx, origin, None)),
            pending => Box::pin(resolve(policy, self.key, req, ctx, origin, pending)),
        }
    }
}

/// A store lookup, read.
enum Found {
    Fresh(Arc<CachedResponse>, Duration),
    Stale(Arc<CachedResponse>, Duration),
    /// No entry to answer from; the request waits on a fill, reported with this status.
    Miss(CacheStatus),
}

#[inline(always)]
fn found(key: &CacheKey<'_>, lookup: Result<Lookup, StoreError>, now: Instant) -> Found {
    match lookup {
        Ok(Lookup::Found(entry)) => {
            let age = now.saturating_duration_since(entry.created());
            match entry.revalidate() {
                None => Found::Fresh(entry, age),
                Some(window) if age < window => Found::Fresh(entry, age),
                Some(_) if age < EXPIRE && entry.serve_stale() => Found::Stale(entry, age),
                Some(_) => Found::Miss(CacheStatus::Miss),
            }
        }
        Ok(Lookup::Invalidated) => Found::Miss(CacheStatus::Revalidated),
        Ok(Lookup::Missing) => Found::Miss(CacheStatus::Miss),
        Err(error) => lookup_failed(key, &error),
    }
}

#[cold]
fn lookup_failed(key: &CacheKey<'_>, error: &StoreError) -> Found {
    tracing::warn!(key = %key, %error, "cache store lookup failed; running the handler");
    Found::Miss(CacheStatus::Miss)
}

/// Whether `entry` may be served at `now` without regenerating it.
pub(crate) fn is_fresh(entry: &CachedResponse, now: Instant) -> bool {
    let age = now.saturating_duration_since(entry.created());
    entry.revalidate().is_none_or(|window| age < window)
}

enum Pending {
    /// The lookup found no entry to answer from.
    Known(CacheStatus),
    /// The store answers later.
    Lookup(StoreFuture<Result<Lookup, StoreError>>),
    /// The request may share nothing: it runs alone.
    Alone,
}

async fn resolve<B, O>(
    policy: Arc<Policy>,
    key: CacheKey<'static>,
    req: Request<B>,
    ctx: RouteContext,
    origin: O,
    pending: Pending,
) -> Result<Response<Body>, O::Error>
where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    let status = match pending {
        Pending::Known(status) => status,
        Pending::Alone => return ordinary(policy, key, req, ctx, origin, None).await,
        Pending::Lookup(lookup) => match found(&key, lookup.await, Instant::now()) {
            Found::Fresh(entry, age) => {
                return Ok(respond(
                    &entry,
                    CacheStatus::Hit,
                    age,
                    if_none_match_of(&req),
                ));
            }
            Found::Stale(entry, age) => {
                let res = respond(&entry, CacheStatus::Stale, age, if_none_match_of(&req));
                regenerate(&policy, &key, || (origin, ctx));
                return Ok(res);
            }
            Found::Miss(status) => status,
        },
    };
    wait_or_fill(policy, key, req, ctx, origin, status).await
}

/// Starts one background regeneration of a stale entry, unless one is running or the last
/// one failed less than a retry window ago.
fn regenerate<B, O>(
    policy: &Arc<Policy>,
    key: &CacheKey<'_>,
    origin: impl FnOnce() -> (O, RouteContext),
) where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    let shared = &policy.cache.shared;
    let mut flights = lock(&shared.flights);
    match flights.find(key) {
        Some(Flight::Running { .. }) => return,
        Some(Flight::Mark(Mark::BackOff { until })) if Instant::now() < *until => return,
        _ => {}
    }
    let key = key.clone().into_owned();
    let (waiters, _, flight) = flights.start(shared, &key, CacheStatus::Miss);
    drop(flights);
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::error!("no Tokio runtime: a stale entry cannot be regenerated");
        return;
    };
    let (origin, ctx) = origin();
    runtime.spawn(
        Fill {
            policy: policy.clone(),
            key,
            ctx,
            origin,
            requester: None,
            waiters,
            flight,
            replacing: Replacing::Stale,
            body: PhantomData::<fn() -> B>,
        }
        .run(),
    );
}

/// A request's place in the fill of its key.
enum Place<E> {
    /// It waits on a fill; `own` is the answer only this request may receive, when it
    /// started the fill, and `inline` the fill itself when there is no runtime to spawn it on.
    Waiting {
        outcome: SharedOutcome,
        own: Option<oneshot::Receiver<Result<Response<Body>, E>>>,
        status: CacheStatus,
        inline: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
    },
    /// The key's response was too large to store, a moment ago: the request streams from
    /// the origin, waiting on nothing.
    TooLarge,
}

/// Waits on the running fill of `key`, or starts one.
async fn wait_or_fill<B, O>(
    policy: Arc<Policy>,
    key: CacheKey<'static>,
    req: Request<B>,
    ctx: RouteContext,
    origin: O,
    status: CacheStatus,
) -> Result<Response<Body>, O::Error>
where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    let Place::Waiting {
        outcome,
        own,
        status,
        inline,
    } = join_or_start(&policy, &key, &ctx, &origin, status)
    else {
        return ordinary(policy, key, req, ctx, origin, None).await;
    };
    if let Some(fill) = inline {
        fill.await;
    }
    if let Some(own) = own {
        if let Ok(res) = own.await {
            return res;
        }
    }
    match outcome.await.as_deref() {
        Ok(Outcome::Entry(entry)) => {
            let age = Instant::now().saturating_duration_since(entry.created());
            Ok(respond(entry, status, age, if_none_match_of(&req)))
        }
        Ok(Outcome::Shared(shared)) => Ok(shared.respond(status)),
        Ok(Outcome::PerClient) => ordinary(policy, key, req, ctx, origin, Some(status)).await,
        Ok(Outcome::Failed) | Err(_) => Ok(internal_error(Some(status))),
    }
}

/// Joins the running fill of `key`, or registers and spawns one, whose requester is this
/// request.
fn join_or_start<B, O>(
    policy: &Arc<Policy>,
    key: &CacheKey<'static>,
    ctx: &RouteContext,
    origin: &O,
    status: CacheStatus,
) -> Place<O::Error>
where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    let shared = &policy.cache.shared;
    let mut flights = lock(&shared.flights);
    if let Some(Flight::Running {
        outcome, status, ..
    }) = flights.find(key)
    {
        return Place::Waiting {
            outcome: outcome.clone(),
            own: None,
            status: *status,
            inline: None,
        };
    }
    if let Some(Mark::TooLarge { .. }) = flights.mark(key, Instant::now()) {
        return Place::TooLarge;
    }
    let (waiters, outcome, flight) = flights.start(shared, key, status);
    drop(flights);
    let (tx, own) = oneshot::channel();
    let fill = Fill {
        policy: policy.clone(),
        key: key.clone(),
        ctx: ctx.clone(),
        origin: origin.clone(),
        requester: Some(Requester { tx, status }),
        waiters,
        flight,
        replacing: match status {
            CacheStatus::Revalidated => Replacing::Invalidated,
            _ => Replacing::Nothing,
        },
        body: PhantomData::<fn() -> B>,
    }
    .run();
    // On a Tokio runtime the fill runs in its own task, so it ends even if this request is
    // dropped; elsewhere this request drives it.
    let inline = match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn(fill);
            None
        }
        Err(_) => Some(Box::pin(fill) as Pin<Box<dyn Future<Output = ()> + Send>>),
    };
    Place::Waiting {
        outcome,
        own: Some(own),
        status,
        inline,
    }
}

/// Answers a request whose response may not be shared, as if the route were not cached: an
/// `Auto` or `Error` route with the client's own request, a `ForceStatic` route with a
/// request made from the key (its handler never sees a client's). Marked with `status` when
/// the request waited on a fill.
async fn ordinary<B, O>(
    policy: Arc<Policy>,
    key: CacheKey<'static>,
    req: Request<B>,
    ctx: RouteContext,
    origin: O,
    status: Option<CacheStatus>,
) -> Result<Response<Body>, O::Error>
where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    let req = if policy.runs_with_own_request() {
        req
    } else {
        // A `ForceStatic` handler sees only the key's request; a path too long to make one of
        // is refused.
        let Some(req) = policy.fill_request(&key) else {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = http::StatusCode::URI_TOO_LONG;
            return Ok(res);
        };
        req
    };
    match AssertUnwindSafe(origin.call(req, ctx)).catch_unwind().await {
        Ok(res) => {
            let res = res?;
            Ok(match status {
                Some(status) => marked(res, status),
                None => res,
            })
        }
        Err(_) => {
            tracing::error!(route = policy.name_for(&key), "handler panicked");
            Ok(internal_error(status))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use http::StatusCode;
    use tower::ServiceExt;

    use super::*;
    use crate::{
        RouteHandler,
        cache::{Cache, Dynamic},
    };

    fn flights(cache: &Cache) -> usize {
        lock(&cache.shared.flights).len()
    }

    #[tokio::test(start_paused = true)]
    async fn no_flight_outlives_its_fill() {
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
        // A stale hit starts a regeneration, which fails and leaves a back-off mark.
        svc.clone().oneshot(get()).await.unwrap();
        assert_eq!(flights(&cache), 1);
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        assert!(matches!(
            lock(&cache.shared.flights).marks().next(),
            Some(Mark::BackOff { .. })
        ));
        // Invalidating the path clears it.
        cache.revalidator().revalidate_path("/f").await.unwrap();
        assert_eq!(flights(&cache), 0);
    }

    #[tokio::test]
    async fn a_too_large_mark_is_cleared_by_the_tags_of_its_response() {
        let cache = Cache::builder().max_body_size(2).build();
        let svc = RouteHandler::new()
            .get(|| async {
                let mut res = crate::IntoResponse::into_response("too large");
                res.extensions_mut()
                    .insert(crate::cache::CacheTags::new(["big"]));
                res
            })
            .dynamic(Dynamic::ForceStatic)
            .cache(&cache)
            .into_service();
        let get = || Request::get("/big").body(Body::empty()).unwrap();
        svc.clone().oneshot(get()).await.unwrap();
        assert!(matches!(
            lock(&cache.shared.flights).marks().next(),
            Some(Mark::TooLarge { .. })
        ));
        cache.revalidator().revalidate_tag("other").await.unwrap();
        assert_eq!(flights(&cache), 1);
        cache.revalidator().revalidate_tag("big").await.unwrap();
        assert_eq!(flights(&cache), 0);
    }
}
