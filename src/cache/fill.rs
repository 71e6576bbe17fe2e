//! One fill: the origin runs once with a request made from the key, and its response becomes
//! an entry, a response shared with the requests that waited, or nothing they may share.

use std::{future::Future, marker::PhantomData, panic::AssertUnwindSafe, sync::Arc};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderMap, Request, Response, StatusCode, response::Parts};
use tokio::{sync::oneshot, time::Instant};

use super::{
    CacheStatus,
    body::{Collected, PrefixedBody, collect_capped},
    config::Mode,
    flight::{FlightGuard, Mark},
    policy::Policy,
    respond::{marked, set_length, strip_unstored},
    store::{CacheKey, CachedResponse, FillLease, Lookup, Turn},
};
use crate::{
    body::Body,
    context::{ReadTracker, RequestData, RouteContext},
};

/// How long a stale entry that another instance regenerates is served before this one looks
/// again (for the new entry, or to regenerate it itself).
const BUSY_BACKOFF: std::time::Duration = std::time::Duration::from_secs(1);

/// What the cache fills entries from: the route's `GET` handler, or the service a
/// [`CacheLayer`](super::CacheLayer) wraps. The one way the cache reaches what it wraps.
pub(crate) trait Origin<B>: Clone + Send + 'static {
    /// The error the origin may fail with.
    type Error: Send + 'static;

    /// Answers `req`, whose route parameters are in `ctx`.
    fn call(
        &self,
        req: Request<B>,
        ctx: RouteContext,
    ) -> impl Future<Output = Result<Response<Body>, Self::Error>> + Send + 'static;
}

/// What a fill produced, for the requests that waited on it.
pub(crate) enum Outcome {
    /// An entry (stored, or fenced by an invalidation while it was made).
    Entry(Arc<CachedResponse>),
    /// A response that may be shared but not stored (an error status).
    Shared(Arc<SharedResponse>),
    /// Nothing the waiters may share: each is answered by an ordinary run of its own.
    PerClient,
    /// The fill failed (a panic, a body error, a timeout, request data read under
    /// `Error`): `500`.
    Failed,
}

/// A buffered response that is shared with the requests that waited but not stored.
pub(crate) struct SharedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl SharedResponse {
    fn new(parts: Parts, body: Bytes) -> Self {
        let mut headers = parts.headers;
        strip_unstored(&mut headers);
        set_length(&mut headers, parts.status, body.len());
        Self {
            status: parts.status,
            headers,
            body,
        }
    }

    pub(crate) fn respond(&self, status: CacheStatus) -> Response<Body> {
        let mut res = Response::new(Body::from(self.body.clone()));
        *res.status_mut() = self.status;
        *res.headers_mut() = self.headers.clone();
        marked(res, status)
    }
}

/// What a fill replaces in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Replacing {
    /// No entry: the first fill of the key (or one past its expiry).
    Nothing,
    /// A stale entry that stays in service unless the new response is stored.
    Stale,
    /// An entry invalidated on demand, which is dead already.
    Invalidated,
}

/// The request that started a fill: it may receive a response no one else may (one with
/// `Set-Cookie`, a body too large to store, an error of the origin).
pub(crate) struct Requester<E> {
    pub(crate) tx: oneshot::Sender<Result<Response<Body>, E>>,
    pub(crate) status: CacheStatus,
}

/// A fill, ready to run in a task of its own.
pub(crate) struct Fill<B, O: Origin<B>> {
    pub(crate) policy: Arc<Policy>,
    pub(crate) key: CacheKey<'static>,
    /// The route's context: its parameters and canonical path, nothing of a client.
    pub(crate) ctx: RouteContext,
    pub(crate) origin: O,
    pub(crate) requester: Option<Requester<O::Error>>,
    pub(crate) waiters: oneshot::Sender<Arc<Outcome>>,
    pub(crate) flight: FlightGuard,
    pub(crate) replacing: Replacing,
    pub(crate) body: PhantomData<fn() -> B>,
}

impl<B, O> Fill<B, O>
where
    B: Default + Send + 'static,
    O: Origin<B>,
{
    /// Runs the fill to its end and tells the requests that waited.
    pub(crate) async fn run(self) {
        let Self {
            policy,
            key,
            ctx,
            origin,
            requester,
            waiters,
            flight,
            replacing,
            body: _,
        } = self;
        let mut filling = Filling {
            policy: &policy,
            key: &key,
            flight,
            replacing,
            requester,
            deadline: deadline(policy.cache.shared.fill_timeout),
            lease: None,
        };
        let outcome = filling.fill(origin, ctx).await;
        // The entry (if any) is stored: end the flight, then answer those who waited on it.
        drop(filling);
        let _ = waiters.send(Arc::new(outcome));
    }
}

/// A fill under way.
struct Filling<'a, E> {
    policy: &'a Policy,
    key: &'a CacheKey<'static>,
    flight: FlightGuard,
    replacing: Replacing,
    requester: Option<Requester<E>>,
    deadline: Option<Instant>,
    /// The store's lease on the key, given up when the fill ends (the entry stored).
    lease: Option<FillLease>,
}

impl<E: Send + 'static> Filling<'_, E> {
    async fn fill<B, O>(&mut self, origin: O, ctx: RouteContext) -> Outcome
    where
        B: Default + Send + 'static,
        O: Origin<B, Error = E>,
    {
        let store = &self.policy.cache.shared.store;
        if self.replacing == Replacing::Nothing {
            // A fill that ended just before this one was registered may have stored the entry.
            if let Ok(Lookup::Found(entry)) = store.get(self.key).await {
                if super::lookup::is_fresh(&entry, Instant::now()) {
                    return Outcome::Entry(entry);
                }
            }
        }
        match store
            .lease(self.key, self.replacing == Replacing::Stale)
            .await
        {
            Ok(Turn::Run(lease)) => self.lease = Some(lease),
            Ok(Turn::Filled(entry)) => return Outcome::Entry(entry),
            Ok(Turn::Busy) if self.replacing == Replacing::Stale => {
                tracing::debug!(key = %self.key, "another instance regenerates this entry");
                self.flight.leave(Mark::BackOff {
                    until: Instant::now() + BUSY_BACKOFF,
                });
                return Outcome::PerClient;
            }
            // A request waits on this fill: it runs.
            Ok(Turn::Busy) => {}
            Err(error) => {
                tracing::debug!(key = %self.key, %error, "cache store lease failed; filling");
            }
        }
        let generation = match store.generation().await {
            Ok(generation) => Some(generation),
            Err(error) => {
                tracing::warn!(key = %self.key, %error, "cache store generation failed; not storing");
                None
            }
        };
        let (ctx, tracker) = match self.policy.settings.mode {
            Mode::Static => (ctx, None),
            Mode::Tracked { .. } => {
                let (ctx, tracker) = ctx.tracking();
                (ctx, Some(tracker))
            }
        };
        let Some(req) = self.policy.fill_request(self.key) else {
            tracing::warn!(
                route = self.name(),
                "the cache key is not a URI; nothing shared"
            );
            return self.not_shared("the cache key is not a URI");
        };
        let call = AssertUnwindSafe(origin.call(req, ctx)).catch_unwind();
        let res = match bounded(self.deadline, call).await {
            None => return self.failed("cache fill timed out; dropped"),
            Some(Err(_)) => return self.failed("handler panicked while filling the cache"),
            Some(Ok(Err(error))) => {
                self.give_requester(Err(error));
                return self.not_shared("the service failed");
            }
            Some(Ok(Ok(res))) => res,
        };
        if let Some(reads) = read(tracker.as_ref()) {
            return self.read_request_data(reads);
        }
        self.keep(res, generation, tracker).await
    }

    /// Stores the response, or shares it, or gives it to the requester alone.
    async fn keep(
        &mut self,
        res: Response<Body>,
        generation: Option<u64>,
        tracker: Option<ReadTracker>,
    ) -> Outcome {
        let (parts, body) = res.into_parts();
        if let Some(reason) = self.policy.unshareable(&parts.headers) {
            tracing::debug!(key = %self.key, reason = reason.as_str(), "response neither stored nor shared");
            self.remove_invalidated().await;
            self.give_requester(Ok(Response::from_parts(parts, body)));
            return self.not_shared(reason.as_str());
        }
        let max = self.policy.cache.shared.max_body_size;
        let collected = AssertUnwindSafe(collect_capped(body, max)).catch_unwind();
        let body = match bounded(self.deadline, collected).await {
            None => return self.failed("cache fill timed out; dropped"),
            Some(Err(_)) => return self.failed("response body panicked while filling the cache"),
            Some(Ok(Err(error))) => {
                tracing::warn!(key = %self.key, %error, "response body failed while filling the cache");
                return self.failed("response body failed");
            }
            Some(Ok(Ok(Collected::Over { chunks, rest }))) => {
                if let Some(reads) = read(tracker.as_ref()) {
                    return self.read_request_data(reads);
                }
                self.remove_invalidated().await;
                return self.too_large(parts, Body::new(PrefixedBody::new(chunks, rest)));
            }
            Some(Ok(Ok(Collected::Full(bytes)))) => bytes,
        };
        // A body that streams may read request data as it is made.
        if let Some(reads) = read(tracker.as_ref()) {
            return self.read_request_data(reads);
        }
        let status = parts.status;
        if !Policy::storable(status)
            || (self.replacing == Replacing::Stale && status.is_server_error())
        {
            if self.replacing == Replacing::Stale {
                tracing::warn!(route = self.name(), %status, "regeneration failed; the stale entry stays in service");
                self.flight.leave(Mark::BackOff {
                    until: self.policy.retry_at(),
                });
            } else {
                self.remove_invalidated().await;
            }
            return Outcome::Shared(Arc::new(SharedResponse::new(parts, body)));
        }
        let entry = Arc::new(
            self.policy
                .entry(self.key, parts, body, generation.unwrap_or(0)),
        );
        if generation.is_some() {
            match self
                .policy
                .cache
                .shared
                .store
                .put(self.key, entry.clone())
                .await
            {
                Ok(true) => {}
                Ok(false) => tracing::debug!(
                    key = %self.key,
                    weight = entry.weight(),
                    "not stored: invalidated while it was generated, or heavier than the store keeps"
                ),
                Err(error) => tracing::warn!(key = %self.key, %error, "cache store put failed"),
            }
        }
        Outcome::Entry(entry)
    }

    fn name(&self) -> &str {
        self.policy.name_for(self.key)
    }

    /// The response is too large to store: the requester gets it as it streams, and the key
    /// is passed through for a while, so later requests neither buffer nor wait.
    fn too_large(&mut self, parts: Parts, body: Body) -> Outcome {
        let max = self.policy.cache.shared.max_body_size;
        tracing::debug!(key = %self.key, max, "body over the size cap; streamed, not stored");
        if self.replacing == Replacing::Stale {
            return self.not_shared("body over the size cap");
        }
        let tags = self.policy.tags_of(&parts).into();
        self.flight.leave(Mark::TooLarge {
            until: self.policy.too_large_until(),
            tags,
        });
        self.give_requester(Ok(Response::from_parts(parts, body)));
        Outcome::PerClient
    }

    /// The handler read request data while it filled an entry: the response depends on the
    /// request, so it is discarded, and every waiter runs with its own request.
    fn read_request_data(&mut self, reads: RequestData) -> Outcome {
        if self.policy.settings.mode == (Mode::Tracked { error: true }) {
            tracing::error!(
                "Route {} with `dynamic = \"error\"` couldn't be rendered statically because it \
                 used {reads}",
                self.name()
            );
            return self.failed_quietly();
        }
        self.policy.bail(self.key, reads);
        Outcome::PerClient
    }

    /// Nothing may be shared. A stale entry stays in service, and its next regeneration
    /// waits out the retry window.
    fn not_shared(&mut self, reason: &str) -> Outcome {
        if self.replacing == Replacing::Stale {
            tracing::warn!(
                route = self.name(),
                reason,
                "regeneration not stored; the stale entry stays in service"
            );
            self.flight.leave(Mark::BackOff {
                until: self.policy.retry_at(),
            });
        }
        Outcome::PerClient
    }

    fn failed(&mut self, what: &'static str) -> Outcome {
        tracing::error!(route = self.name(), "{what}");
        self.failed_quietly()
    }

    fn failed_quietly(&mut self) -> Outcome {
        if self.replacing == Replacing::Stale {
            self.flight.leave(Mark::BackOff {
                until: self.policy.retry_at(),
            });
        }
        Outcome::Failed
    }

    fn give_requester(&mut self, res: Result<Response<Body>, E>) {
        if let Some(requester) = self.requester.take() {
            // The client may have gone away; the fill goes on regardless.
            let _ = requester
                .tx
                .send(res.map(|res| marked(res, requester.status)));
        }
    }

    /// Drops an invalidated entry that the new response does not replace.
    async fn remove_invalidated(&self) {
        if self.replacing != Replacing::Invalidated {
            return;
        }
        if let Err(error) = self.policy.cache.shared.store.remove(self.key).await {
            tracing::warn!(key = %self.key, %error, "cache store remove failed");
        }
    }
}

/// What the handler read of the request so far, when a fill records reads and it read any.
fn read(tracker: Option<&ReadTracker>) -> Option<RequestData> {
    tracker.map(ReadTracker::reads).filter(|r| !r.is_empty())
}

/// When a fill started now must end, if it is bounded: only on a Tokio runtime, whose timer
/// the bound uses.
fn deadline(timeout: Option<std::time::Duration>) -> Option<Instant> {
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
