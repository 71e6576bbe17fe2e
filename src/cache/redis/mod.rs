//! [`RedisStore`]: a [`CacheStore`] that many instances share, a bounded memory tier in
//! front of Redis.

mod codec;
mod scripts;
mod sync;

use std::{
    collections::HashMap,
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering},
    },
    time::Duration,
};

use redis::{Value, aio::ConnectionManager};
use tokio::time::Instant;

use self::{
    codec::{Decoding, VERSION},
    scripts::Scripts,
};
use super::{
    MemoryStore,
    memory::Name,
    store::{
        CacheKey, CacheStore, CachedResponse, FillLease, Lookup, StoreError, StoreFuture,
        StoreStats, Turn,
    },
};

/// The defaults of [`RedisStoreBuilder`].
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(100);
const DEFAULT_RESYNC: Duration = Duration::from_secs(1);
const DEFAULT_BOUND: Duration = Duration::from_secs(5);
const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(10);
const DEFAULT_LEASE_WAIT: Duration = Duration::from_secs(3);
const DEFAULT_ENTRY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
const DEFAULT_MAX_ENTRY_SIZE: usize = super::DEFAULT_MAX_BODY_SIZE + 64 * 1024;

/// The longest [`RedisStoreBuilder::entry_ttl`].
const MAX_ENTRY_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// Consecutive failed calls that open the breaker.
const TRIP_AFTER: u32 = 3;

/// The most records a resync reads; past it, every entry of the memory tier is treated as
/// invalidated (fail closed).
const RESYNC_MAX: usize = 10_000;

/// The most invalidation records kept in Redis; past it, the oldest are folded into one
/// record that invalidates every entry generated before them (fail closed).
const MAX_SHARED_RECORDS: usize = 100_000;

/// The most invalidations kept to replay while Redis is unreachable; past it, one
/// invalidation of everything is replayed instead.
const REPLAY_MAX: usize = 4096;

/// A [`CacheStore`] shared by every instance of an app: a bounded [`MemoryStore`] in each
/// process (L1) in front of Redis (L2), with invalidation that reaches every instance.
///
/// ```no_run
/// use route_handlers::cache::{Cache, RedisStore};
///
/// # #[tokio::main] async fn main() -> Result<(), route_handlers::cache::StoreError> {
/// let store = RedisStore::builder("redis://127.0.0.1:6379/")
///     .deployment_id(env!("CARGO_PKG_VERSION"))
///     .build()?;
/// let cache = Cache::builder().store(store.clone()).build();
/// // .. routes with `.cache(&cache)` ..
/// println!("{:?}", store.stats());
/// # Ok(()) }
/// ```
///
/// # What is shared
///
/// An entry filled on one instance is written to Redis (status, header fields, body, tags,
/// generation time and its own time to live, [`entry_ttl`](RedisStoreBuilder::entry_ttl)),
/// and another instance that misses in its memory reads it from there. Keys are the cache's
/// (host and [canonical path](crate::context::canonical_path)) under
/// `rh:{<deployment id>}:`, so that instances of another build never read these entries; the
/// braces are a Redis Cluster hash tag, which keeps a deployment's keys in one slot, as the
/// scripts that fence writes need. An entry is the path's: two routes that a
/// prefix-stripping router hands one path would share it, so mount routes that share a
/// store by their full paths (a route table, or `nest_service` with the `axum` feature).
///
/// # Invalidation and the staleness bound
///
/// [`revalidate_tag`](super::Revalidator::revalidate_tag) and
/// [`revalidate_path`](super::Revalidator::revalidate_path) record the time of the
/// invalidation in Redis (a sorted set, kept for [`entry_ttl`](RedisStoreBuilder::entry_ttl),
/// so it stays bounded); an entry whose path or tag was recorded after it was generated is
/// never served from Redis, and is never written back by a fill that started before the
/// purge. Other instances drop their memory copies when Redis tells them (pub/sub, at once),
/// and every [`resync`](RedisStoreBuilder::resync) interval they read the records they may
/// have missed. An instance serves a memory copy only while it was checked against Redis'
/// records within the [`staleness bound`](RedisStoreBuilder::staleness_bound). So after
/// `revalidate_tag` returns on one instance:
///
/// - normally, another serves the old entry until the message reaches it (milliseconds),
///   and at most one resync interval (1 s by default) when the message is lost;
/// - when another cannot reach Redis, at most the staleness bound (5 s by default): past it,
///   its memory copies are not served and its handler runs.
///
/// An invalidation made while its own instance cannot reach Redis takes effect there at once
/// and is replayed to Redis when it answers again; the others see it then (until then, the
/// routes it reached run their handler on every request there: no time of Redis' can tell a
/// later response from an older one). A Redis that lost
/// its data (restarted empty, flushed, failed over to a replica that missed writes) may have
/// lost records too: Redis' records always hold one that invalidates every entry generated
/// before them, made again when they are gone, so nothing from before the loss is served,
/// and each instance, reading it at its next resync, stops serving every memory copy it had.
///
/// # One regeneration per key
///
/// Before a fill runs its handler, it takes a lease on the key in Redis (`SET NX PX`): the
/// instance that gets it runs the handler, the others serve their stale entry, or on a cold
/// miss wait up to [`lease_wait`](RedisStoreBuilder::lease_wait) for the entry to appear and
/// run the handler themselves after that. A lease whose holder died expires after
/// [`lease_ttl`](RedisStoreBuilder::lease_ttl).
///
/// # Faults
///
/// Every Redis call is bounded by [`timeout`](RedisStoreBuilder::timeout) (100 ms by
/// default). A call that fails or times out is answered from memory or by the handler, never
/// with an error status; three in a row open a circuit breaker, and until a probe (one each
/// resync interval) succeeds no request calls Redis. The connection reconnects by itself.
/// [`stats`](Self::stats) (or [`Cache::stats`](super::Cache::stats)) counts hits of each
/// tier, misses, lease waits, errors and the breaker's state; the breaker's changes are
/// logged.
///
/// `ETag`s are a hash of the body that is the same in every build, so a client revalidating
/// against another instance gets its `304`.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

/// Builds a [`RedisStore`]; see [`RedisStore::builder`].
#[must_use]
pub struct RedisStoreBuilder {
    url: String,
    deployment_id: Option<String>,
    l1_bytes: u64,
    config: Config,
}

#[derive(Clone, Debug)]
struct Config {
    timeout: Duration,
    resync: Duration,
    bound: Duration,
    lease_ttl: Duration,
    lease_wait: Duration,
    entry_ttl: Duration,
    max_entry_size: usize,
    pubsub: bool,
}

impl RedisStore {
    /// A builder for a store on the Redis server at `url` (`redis://host:port/db`).
    pub fn builder(url: impl Into<String>) -> RedisStoreBuilder {
        RedisStoreBuilder {
            url: url.into(),
            deployment_id: None,
            l1_bytes: super::DEFAULT_MAX_BYTES,
            config: Config {
                timeout: DEFAULT_TIMEOUT,
                resync: DEFAULT_RESYNC,
                bound: DEFAULT_BOUND,
                lease_ttl: DEFAULT_LEASE_TTL,
                lease_wait: DEFAULT_LEASE_WAIT,
                entry_ttl: DEFAULT_ENTRY_TTL,
                max_entry_size: DEFAULT_MAX_ENTRY_SIZE,
                pubsub: true,
            },
        }
    }

    /// What the store counted since it was made.
    pub fn stats(&self) -> StoreStats {
        self.inner.stats()
    }

    /// The memory tier.
    pub fn memory(&self) -> &MemoryStore {
        &self.inner.l1
    }
}

impl RedisStoreBuilder {
    /// The deployment this process belongs to, such as the build's git hash: entries and
    /// invalidations are shared only between instances with the same id, so a new build
    /// never serves the previous one's entries. Required.
    pub fn deployment_id(mut self, id: impl Into<String>) -> Self {
        self.deployment_id = Some(id.into());
        self
    }

    /// The byte budget of the memory tier ([`DEFAULT_MAX_BYTES`](super::DEFAULT_MAX_BYTES)
    /// by default).
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.l1_bytes = bytes;
        self
    }

    /// The bound of every Redis call (100 ms by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.config.timeout = timeout;
        self
    }

    /// How often an instance reads the invalidations it may have missed, and probes a Redis
    /// that the breaker cut off (1 s by default).
    pub fn resync(mut self, every: Duration) -> Self {
        self.config.resync = every;
        self
    }

    /// How long after its last check against Redis a memory copy is served (5 s by
    /// default; at least two resync intervals).
    pub fn staleness_bound(mut self, bound: Duration) -> Self {
        self.config.bound = bound;
        self
    }

    /// How long a fill's lease on its key lasts when its holder does not give it up (it
    /// died): 10 s by default.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.config.lease_ttl = ttl;
        self
    }

    /// How long a cold miss waits for another instance's fill of the key before it runs the
    /// handler itself (3 s by default).
    pub fn lease_wait(mut self, wait: Duration) -> Self {
        self.config.lease_wait = wait;
        self
    }

    /// How long an entry lives in Redis, stale or not (7 days by default, at most ten years),
    /// and so how long invalidation records are kept. Not the revalidate window: a stale entry stays to be
    /// served while it regenerates.
    pub fn entry_ttl(mut self, ttl: Duration) -> Self {
        self.config.entry_ttl = ttl;
        self
    }

    /// The largest entry written to Redis, encoded (the default body cap and 64 KiB of
    /// header fields); a larger one is served and kept in memory only.
    pub fn max_entry_size(mut self, bytes: usize) -> Self {
        self.config.max_entry_size = bytes;
        self
    }

    /// Whether instances tell each other of invalidations at once by pub/sub (the default);
    /// without, they learn of them at the next resync.
    pub fn pubsub(mut self, enabled: bool) -> Self {
        self.config.pubsub = enabled;
        self
    }

    /// The store, or why these settings cannot make one: no deployment id, a URL Redis does
    /// not take, a staleness bound under two resync intervals, a timeout not under the
    /// resync interval, or no Tokio runtime to run its background tasks on. It connects in
    /// the background; until it does, it answers from memory.
    pub fn build(self) -> Result<RedisStore, StoreError> {
        let Some(deployment) = self.deployment_id.filter(|id| !id.is_empty()) else {
            return Err(
                "a RedisStore needs a deployment id (RedisStoreBuilder::deployment_id)".into(),
            );
        };
        if deployment.contains(['{', '}']) {
            return Err("a deployment id may not hold `{` or `}` (it is a Redis hash tag)".into());
        }
        let config = self.config;
        if config.bound < config.resync.saturating_mul(2) {
            return Err(format!(
                "the staleness bound ({:?}) must be at least two resync intervals ({:?})",
                config.bound, config.resync
            )
            .into());
        }
        if config.entry_ttl > MAX_ENTRY_TTL {
            return Err(format!(
                "an entry time to live ({:?}) over ten years is not one Redis keeps",
                config.entry_ttl
            )
            .into());
        }
        if config.timeout >= config.resync || config.timeout.is_zero() {
            return Err(format!(
                "the Redis timeout ({:?}) must be above zero and under the resync interval ({:?})",
                config.timeout, config.resync
            )
            .into());
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "a RedisStore is built on a Tokio runtime")?;
        let client = redis::Client::open(self.url.as_str())?;
        let manager = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(config.resync);
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), manager)?;
        let prefix = format!("rh:{{{deployment}}}:");
        let (stop, stopped) = tokio::sync::watch::channel(());
        let inner = Arc::new(Inner {
            l1: MemoryStore::new(self.l1_bytes),
            conn,
            records: format!("{prefix}inv"),
            channel: format!("{prefix}inv"),
            prefix,
            clock: Clock::new(),
            breaker: Breaker::default(),
            counters: Counters::default(),
            replay: Mutex::new(Replay::default()),
            scripts: Scripts::new(),
            instance: format!("{:016x}", rand_u64()),
            leases: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            config,
            _stop: stop,
        });
        runtime.spawn(sync::resync(Arc::downgrade(&inner), stopped.clone()));
        if inner.config.pubsub {
            runtime.spawn(sync::subscribe(Arc::downgrade(&inner), client, stopped));
        }
        Ok(RedisStore { inner })
    }
}

impl fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("deployment_id", &self.deployment_id)
            .field("memory_bytes", &self.l1_bytes)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.inner.prefix)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// A random word, for lease tokens: the std hasher's random keys.
fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::hash::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

pub(crate) struct Inner {
    l1: MemoryStore,
    conn: ConnectionManager,
    prefix: String,
    records: String,
    channel: String,
    clock: Clock,
    breaker: Breaker,
    counters: Counters,
    replay: Mutex<Replay>,
    scripts: Scripts,
    instance: String,
    leases: AtomicU64,
    /// The Redis time of the last resync that succeeded: every invalidation recorded before
    /// it is known here.
    synced: AtomicU64,
    config: Config,
    /// Dropped with the store: the background tasks end.
    _stop: tokio::sync::watch::Sender<()>,
}

/// Invalidations made while Redis was unreachable, to replay: each name with the time it was
/// recorded at here.
#[derive(Default)]
struct Replay {
    names: HashMap<String, u64>,
    /// More than [`REPLAY_MAX`]: everything is replayed as invalidated.
    overflow: Option<u64>,
}

/// Redis' clock as this process reads it: the offset of Redis' `TIME` from this process's
/// monotonic clock, learnt from every answer that carries a time.
struct Clock {
    anchor: Instant,
    /// Redis' time (µs) minus the µs since `anchor`.
    offset: AtomicI64,
    /// The latest time Redis answered.
    seen: AtomicU64,
}

impl Clock {
    fn new() -> Self {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        Self {
            anchor: Instant::now(),
            offset: AtomicI64::new(i64::try_from(wall).unwrap_or(i64::MAX)),
            seen: AtomicU64::new(0),
        }
    }

    /// The latest time Redis answered: never ahead of Redis' clock.
    fn seen(&self) -> u64 {
        self.seen.load(Ordering::Relaxed)
    }

    /// Redis answered `time`.
    fn saw(&self, time: u64) {
        self.seen.fetch_max(time, Ordering::Relaxed);
    }

    /// A time for a record made here: after every time Redis answered (so after every entry
    /// this process holds, also one read a moment ago) and after the estimate of now.
    fn record_time(&self) -> u64 {
        self.now().max(self.seen()) + 1
    }

    fn local(&self, at: Instant) -> i64 {
        i64::try_from(at.saturating_duration_since(self.anchor).as_micros()).unwrap_or(i64::MAX)
    }

    /// Now on Redis' clock, as estimated.
    fn now(&self) -> u64 {
        self.at(Instant::now())
    }

    /// `at` on Redis' clock, as estimated.
    fn at(&self, at: Instant) -> u64 {
        let offset = self.offset.load(Ordering::Relaxed);
        u64::try_from(self.local(at).saturating_add(offset)).unwrap_or(0)
    }

    /// Redis answered `time` to a call sent at `sent`: its time then was about halfway.
    fn learn(&self, time: u64, sent: Instant) {
        let now = Instant::now();
        let mid = sent + now.saturating_duration_since(sent) / 2;
        let offset = i64::try_from(time).unwrap_or(i64::MAX) - self.local(mid);
        self.offset.store(offset, Ordering::Relaxed);
        self.saw(time);
    }
}

/// The circuit breaker: open after [`TRIP_AFTER`] failed calls in a row, closed by a probe
/// that succeeds.
#[derive(Default)]
struct Breaker {
    open: AtomicBool,
    failures: AtomicU32,
    trips: AtomicU64,
}

impl Breaker {
    #[inline]
    fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }
}

#[derive(Default)]
struct Counters {
    l1_hits: AtomicU64,
    l2_hits: AtomicU64,
    misses: AtomicU64,
    lease_waits: AtomicU64,
    errors: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Inner {
    fn stats(&self) -> StoreStats {
        let c = &self.counters;
        StoreStats {
            l1_hits: c.l1_hits.load(Ordering::Relaxed),
            l2_hits: c.l2_hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            lease_waits: c.lease_waits.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            breaker_open: self.breaker.is_open(),
            breaker_trips: self.breaker.trips.load(Ordering::Relaxed),
        }
    }

    fn entry_key(&self, key: &CacheKey<'_>) -> String {
        format!("{}e:{}", self.prefix, key.as_str())
    }

    fn lease_key(&self, key: &CacheKey<'_>) -> String {
        format!("{}l:{}", self.prefix, key.as_str())
    }

    fn bound_us(&self) -> u64 {
        u64::try_from(self.config.bound.as_micros()).unwrap_or(u64::MAX)
    }

    /// Runs one Redis call, bounded by the timeout and gated by the breaker.
    async fn call<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        if self.breaker.is_open() {
            return Err("Redis is cut off by the circuit breaker".into());
        }
        self.probe(what, call).await
    }

    /// Runs one Redis call, bounded by the timeout, whatever the breaker's state.
    async fn probe<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.config.timeout, call).await {
            Ok(Ok(value)) => {
                self.breaker.failures.store(0, Ordering::Relaxed);
                if self.breaker.open.swap(false, Ordering::Relaxed) {
                    tracing::info!(prefix = %self.prefix, "Redis answers again: circuit breaker closed");
                }
                Ok(value)
            }
            Ok(Err(error)) => Err(self.failed(what, error.to_string())),
            Err(_) => Err(self.failed(what, format!("no answer within {:?}", self.config.timeout))),
        }
    }

    fn failed(&self, what: &'static str, error: String) -> StoreError {
        bump(&self.counters.errors);
        let failures = self.breaker.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= TRIP_AFTER && !self.breaker.open.swap(true, Ordering::Relaxed) {
            self.breaker.trips.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                prefix = %self.prefix,
                %error,
                "Redis failed {failures} calls in a row: circuit breaker open; serving from \
                 memory and handlers until a probe succeeds"
            );
        } else {
            tracing::debug!(prefix = %self.prefix, what, %error, "Redis call failed");
        }
        format!("Redis {what}: {error}").into()
    }

    fn conn(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The entry under `key` in Redis, checked there against the records; `fallback` when
    /// Redis does not answer.
    async fn fetch(&self, key: &CacheKey<'_>, fallback: Lookup) -> Lookup {
        let mut conn = self.conn();
        let reply: Result<Value, _> = self
            .call(
                "lookup",
                self.scripts
                    .get
                    .key(self.entry_key(key))
                    .key(&self.records)
                    .arg(VERSION)
                    .invoke_async(&mut conn),
            )
            .await;
        let Ok(Value::Array(reply)) = reply else {
            bump(&self.counters.misses);
            return fallback;
        };
        let now = Instant::now();
        let found = match reply.as_slice() {
            [Value::Int(2), Value::Int(time), generation, names, data] => {
                let time = u64::try_from(*time).unwrap_or(0);
                self.clock.saw(time);
                let generation = text(generation).and_then(|g| g.parse::<u64>().ok());
                let names = text(names);
                match (generation, names, bytes(data)) {
                    (Some(generation), Some(names), Some(data)) => {
                        // Invalidated here since, by a record Redis does not have yet (one
                        // waiting to be replayed, or on its way there).
                        let (path, tags) = codec::split_names(names);
                        if self.l1.invalidates(path.unwrap_or(""), tags, generation) {
                            bump(&self.counters.misses);
                            return Lookup::Invalidated;
                        }
                        // Redis found no invalidation of it up to `time`: as of here, the
                        // entry is as good as one generated then, and is served from memory
                        // within the staleness bound of that.
                        codec::decode(
                            data,
                            &Decoding {
                                names,
                                generation: time,
                                now_shared: time,
                                now,
                            },
                        )
                        .map(|entry| (Arc::new(entry), time))
                    }
                    _ => None,
                }
            }
            [Value::Int(1), ..] => {
                bump(&self.counters.misses);
                return Lookup::Invalidated;
            }
            _ => None,
        };
        match found {
            Some((entry, time)) => {
                bump(&self.counters.l2_hits);
                self.l1.put_checked(key, entry.clone(), time);
                Lookup::Found(entry)
            }
            None => {
                bump(&self.counters.misses);
                match fallback {
                    Lookup::Invalidated => Lookup::Invalidated,
                    _ => Lookup::Missing,
                }
            }
        }
    }

    async fn put(&self, key: &CacheKey<'_>, entry: Arc<CachedResponse>) -> bool {
        let kept = self.l1.put_checked(key, entry.clone(), entry.generation());
        if self.breaker.is_open() {
            return kept;
        }
        // Fenced here by an invalidation Redis may not have yet (one waiting to be
        // replayed): not written there either.
        let tags = entry.tags().iter().map(|t| &**t);
        if !kept && self.l1.invalidates(entry.path(), tags, entry.generation()) {
            return false;
        }
        let (Some(names), Some(data)) = (
            codec::names(&entry),
            codec::encode(
                &entry,
                self.clock.at(entry.created()),
                self.config.max_entry_size,
            ),
        ) else {
            tracing::debug!(key = %key, "entry kept in memory only (over the size cap, or a tag with a line break)");
            return kept;
        };
        let ttl = match entry.revalidate() {
            // Never served stale: gone from Redis when its window ends.
            Some(window) if !entry.serve_stale() => window.min(self.config.entry_ttl),
            _ => self.config.entry_ttl,
        };
        let mut conn = self.conn();
        let written: Result<i64, _> = self
            .call(
                "write",
                self.scripts
                    .put
                    .key(self.entry_key(key))
                    .key(&self.records)
                    .arg(VERSION)
                    .arg(entry.generation())
                    .arg(names)
                    .arg(data)
                    .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1))
                    .invoke_async(&mut conn),
            )
            .await;
        match written {
            Ok(0) => {
                // Redis' records fence it: an invalidation this process has not heard of yet.
                self.l1.remove(key).into_ready().ok();
                false
            }
            _ => kept,
        }
    }

    /// Now on Redis' clock when Redis answers; else the latest time it answered.
    async fn time(&self) -> u64 {
        let sent = Instant::now();
        let mut conn = self.conn();
        let time: Result<(u64, u64), _> = self
            .call("time", redis::cmd("TIME").query_async(&mut conn))
            .await;
        match time {
            Ok((secs, micros)) => {
                let time = secs.saturating_mul(1_000_000).saturating_add(micros);
                self.clock.learn(time, sent);
                time
            }
            // No time of Redis' now: the latest it answered, which is not ahead of it, so
            // that a purge recorded later still fences this fill (an estimate may run
            // ahead, and escape it).
            Err(_) => self.clock.seen(),
        }
    }

    /// Records an invalidation of `name` here at once, then in Redis; replayed later when
    /// Redis does not answer.
    async fn invalidate(&self, name: Name<'_>) {
        let at = self.clock.record_time();
        self.l1.invalidate_at(name, at);
        let shared = match name {
            Name::Path(path) => codec::path_name(path),
            Name::Tag(tag) => codec::tag_name(tag),
        };
        match self.record(&shared).await {
            Ok(time) => self.l1.correct(name, at, time),
            Err(error) => {
                tracing::warn!(
                    name = %shared,
                    %error,
                    "invalidation not recorded in Redis: in force here, replayed to the other \
                     instances when Redis answers"
                );
                self.queue(shared, at);
            }
        }
    }

    /// Records an invalidation of `name` (a shared name) in Redis and answers its time.
    async fn record(&self, name: &str) -> Result<u64, StoreError> {
        let mut conn = self.conn();
        let retention = u64::try_from(self.config.entry_ttl.as_micros()).unwrap_or(u64::MAX);
        self.call(
            "invalidation",
            self.scripts
                .invalidate
                .key(&self.records)
                .arg(name)
                .arg(retention)
                .arg(&self.channel)
                .arg(MAX_SHARED_RECORDS)
                .invoke_async(&mut conn),
        )
        .await
    }

    fn queue(&self, name: String, at: u64) {
        let mut replay = lock(&self.replay);
        if replay.overflow.is_some() {
            return;
        }
        if replay.names.len() >= REPLAY_MAX && !replay.names.contains_key(&name) {
            replay.names.clear();
            replay.overflow = Some(at);
            return;
        }
        replay.names.insert(name, at);
    }

    /// Applies an invalidation of a shared `name` recorded at `at` elsewhere.
    fn heard(&self, name: &str, at: u64) {
        if name == codec::ALL {
            self.l1.floor(at);
        } else if let Some(name) = memory_name(name) {
            self.l1.record(name, at);
        }
    }

    async fn lease(self: Arc<Self>, key: CacheKey<'static>, stale: bool) -> Turn {
        let lease_key = self.lease_key(&key);
        let token = format!(
            "{}-{}",
            self.instance,
            self.leases.fetch_add(1, Ordering::Relaxed)
        );
        // Redis takes whole milliseconds, at least one.
        let ttl = u64::try_from(self.config.lease_ttl.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        let mut waited = false;
        // A stale entry here may have been regenerated elsewhere already.
        if stale {
            if let Some(entry) = self.fresh(&key).await {
                return Turn::Filled(entry);
            }
        }
        loop {
            let mut conn = self.conn();
            let taken: Result<Option<String>, _> = self
                .call(
                    "lease",
                    redis::cmd("SET")
                        .arg(&lease_key)
                        .arg(&token)
                        .arg("NX")
                        .arg("PX")
                        .arg(ttl)
                        .query_async(&mut conn),
                )
                .await;
            match taken {
                Ok(Some(_)) => {
                    let lease = Release {
                        store: Arc::downgrade(&self),
                        key: lease_key,
                        token,
                    };
                    // Taken after a wait, or for a stale entry: the holder before (if any)
                    // gave it up once it stored its entry, so the entry is there now unless
                    // that fill stored nothing.
                    if waited || stale {
                        if let Some(entry) = self.fresh(&key).await {
                            return Turn::Filled(entry);
                        }
                    }
                    return Turn::Run(FillLease::held(lease));
                }
                Ok(None) => {}
                Err(_) => return Turn::Run(FillLease::none()),
            }
            // Another instance fills the key: its entry, when it is there.
            if let Some(entry) = self.fresh(&key).await {
                return Turn::Filled(entry);
            }
            if stale {
                return Turn::Busy;
            }
            if !waited {
                waited = true;
                bump(&self.counters.lease_waits);
                tracing::debug!(key = %key, "waiting for another instance's fill");
            }
            if started.elapsed() >= self.config.lease_wait {
                tracing::debug!(key = %key, "another instance's fill took too long; filling here");
                return Turn::Run(FillLease::none());
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }
}

impl Inner {
    /// A fresh entry for `key` in Redis.
    async fn fresh(&self, key: &CacheKey<'_>) -> Option<Arc<CachedResponse>> {
        match self.fetch(key, Lookup::Missing).await {
            Lookup::Found(entry) if super::lookup::is_fresh(&entry, Instant::now()) => Some(entry),
            _ => None,
        }
    }
}

/// Gives a lease up when the fill that held it ends.
struct Release {
    store: std::sync::Weak<Inner>,
    key: String,
    token: String,
}

impl Drop for Release {
    fn drop(&mut self) {
        let (Some(store), Ok(runtime)) =
            (self.store.upgrade(), tokio::runtime::Handle::try_current())
        else {
            return;
        };
        let key = std::mem::take(&mut self.key);
        let token = std::mem::take(&mut self.token);
        runtime.spawn(async move {
            let mut conn = store.conn();
            let _: Result<i64, _> = store
                .call(
                    "lease release",
                    store
                        .scripts
                        .release
                        .key(key)
                        .arg(token)
                        .invoke_async(&mut conn),
                )
                .await;
        });
    }
}

/// The memory tier's name of a shared one (`p:<path>` or `t:<tag>`).
fn memory_name(shared: &str) -> Option<Name<'_>> {
    if let Some(path) = shared.strip_prefix("p:") {
        Some(Name::Path(path))
    } else {
        shared.strip_prefix("t:").map(Name::Tag)
    }
}

fn text(value: &Value) -> Option<&str> {
    match value {
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
        Value::SimpleString(text) => Some(text),
        _ => None,
    }
}

fn bytes(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        _ => None,
    }
}

impl CacheStore for RedisStore {
    #[inline]
    fn get(&self, key: &CacheKey<'_>) -> StoreFuture<Result<Lookup, StoreError>> {
        let inner = &self.inner;
        let fallback = match inner.l1.lookup(key) {
            Lookup::Found(entry) => {
                // Served while it is known valid by Redis' records of the last bound: this
                // instance resynced since, or read the entry since, or made it since (by its
                // generation, or when that is no time of Redis', by when it was made).
                let known = inner
                    .synced
                    .load(Ordering::Relaxed)
                    .max(entry.generation())
                    .max(inner.clock.at(entry.created()));
                if known.saturating_add(inner.bound_us()) >= inner.clock.now() {
                    bump(&inner.counters.l1_hits);
                    return StoreFuture::ready(Ok(Lookup::Found(entry)));
                }
                Lookup::Missing
            }
            other => other,
        };
        if inner.breaker.is_open() {
            bump(&inner.counters.misses);
            return StoreFuture::ready(Ok(fallback));
        }
        let inner = self.inner.clone();
        let key = key.clone().into_owned();
        StoreFuture::boxed(async move { Ok(inner.fetch(&key, fallback).await) })
    }

    fn generation(&self) -> StoreFuture<Result<u64, StoreError>> {
        if self.inner.breaker.is_open() {
            return StoreFuture::ready(Ok(self.inner.clock.seen()));
        }
        let inner = self.inner.clone();
        StoreFuture::boxed(async move { Ok(inner.time().await) })
    }

    fn put(
        &self,
        key: &CacheKey<'_>,
        entry: Arc<CachedResponse>,
    ) -> StoreFuture<Result<bool, StoreError>> {
        let inner = self.inner.clone();
        let key = key.clone().into_owned();
        StoreFuture::boxed(async move { Ok(inner.put(&key, entry).await) })
    }

    fn remove(&self, key: &CacheKey<'_>) -> StoreFuture<Result<(), StoreError>> {
        // Only here: the entry in Redis is fenced by the invalidation that made this fill,
        // and another instance may have replaced it since.
        self.inner.l1.remove(key)
    }

    fn invalidate_path(&self, path: &str) -> StoreFuture<Result<Option<usize>, StoreError>> {
        let inner = self.inner.clone();
        let path = CacheKey::normalize_path(path).into_owned();
        StoreFuture::boxed(async move {
            inner.invalidate(Name::Path(&path)).await;
            // Entries in Redis are not counted.
            Ok(None)
        })
    }

    fn invalidate_tag(&self, tag: &str) -> StoreFuture<Result<Option<usize>, StoreError>> {
        let inner = self.inner.clone();
        let tag = tag.to_owned();
        StoreFuture::boxed(async move {
            inner.invalidate(Name::Tag(&tag)).await;
            Ok(None)
        })
    }

    fn lease(&self, key: &CacheKey<'_>, stale: bool) -> StoreFuture<Result<Turn, StoreError>> {
        if self.inner.breaker.is_open() {
            return StoreFuture::ready(Ok(Turn::Run(FillLease::none())));
        }
        let inner = self.inner.clone();
        let key = key.clone().into_owned();
        StoreFuture::boxed(async move { Ok(inner.lease(key, stale).await) })
    }

    fn stats(&self) -> Option<StoreStats> {
        Some(self.inner.stats())
    }
}
