//! The storage interface: [`CacheStore`], the key it is addressed by, and the entries it holds.

use std::{
    borrow::Cow,
    fmt,
    future::Future,
    hash::BuildHasher,
    pin::Pin,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use http::{
    HeaderMap, HeaderName, HeaderValue, StatusCode,
    header::{AGE, CACHE_CONTROL, CONTENT_LENGTH, ETAG},
};
use tokio::time::Instant;

use super::{CACHE_STATUS_HEADER, CacheStatus};
use crate::{body::BoxError, context::canonical_path};

/// The error a store reports; the cache logs it and answers from the handler instead.
pub type StoreError = BoxError;

/// What a [`CacheStore`] method returns: a value that is either ready now or still to come.
///
/// An in-memory store answers with [`StoreFuture::ready`] and allocates nothing, which keeps
/// a cache hit free of boxing; a store that talks to a network answers with
/// [`StoreFuture::boxed`].
///
/// ```
/// use route_handlers::cache::StoreFuture;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// assert_eq!(StoreFuture::ready(1).await, 1);
/// assert_eq!(StoreFuture::boxed(async { 2 }).await, 2);
/// # }
/// ```
#[must_use = "a store future does nothing unless awaited"]
pub struct StoreFuture<T> {
    kind: FutureKind<T>,
}

enum FutureKind<T> {
    Ready(Option<T>),
    Pending(Pin<Box<dyn Future<Output = T> + Send + 'static>>),
}

impl<T> StoreFuture<T> {
    /// A value that is ready now.
    pub fn ready(value: T) -> Self {
        Self {
            kind: FutureKind::Ready(Some(value)),
        }
    }

    /// A value still to come.
    pub fn boxed(future: impl Future<Output = T> + Send + 'static) -> Self {
        Self {
            kind: FutureKind::Pending(Box::pin(future)),
        }
    }

    /// The value when it is ready now, or `self` back.
    pub fn into_ready(self) -> Result<T, Self> {
        match self.kind {
            FutureKind::Ready(Some(value)) => Ok(value),
            kind => Err(Self { kind }),
        }
    }
}

// The value is never pinned: it is moved out when ready, and the pending future is boxed.
impl<T> Unpin for StoreFuture<T> {}

impl<T> Future for StoreFuture<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        match &mut self.get_mut().kind {
            FutureKind::Ready(value) => Poll::Ready(value.take().expect("polled after completion")),
            FutureKind::Pending(future) => future.as_mut().poll(cx),
        }
    }
}

impl<T> fmt::Debug for StoreFuture<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            FutureKind::Ready(_) => f.write_str("StoreFuture::Ready"),
            FutureKind::Pending(_) => f.write_str("StoreFuture::Pending"),
        }
    }
}

/// Where cached responses live.
///
/// The cache calls a store through `Arc<dyn CacheStore>`: routes of every type share one
/// [`Cache`](super::Cache), so the store is a trait object, and its methods return
/// [`StoreFuture`]s, which an in-memory store fills without allocating.
///
/// # The contract
///
/// - [`get`](Self::get) answers [`Lookup::Invalidated`] (or [`Lookup::Missing`]) for an entry
///   whose path or one of whose tags was invalidated after the entry's
///   [`generation`](CachedResponse::generation).
/// - [`generation`](Self::generation) is a counter that every invalidation raises; the cache
///   reads it before it runs a handler and stores it in the entry it makes.
/// - [`put`](Self::put) must not store an entry whose path or tags were invalidated after its
///   generation, nor replace an entry of a later generation, and answers `false` then. This
///   fence keeps a regeneration that started before a purge from writing the old value back.
///
/// [`MemoryStore`](super::MemoryStore) is the in-process implementation.
pub trait CacheStore: Send + Sync + 'static {
    /// The entry stored under `key`.
    fn get(&self, key: &CacheKey<'_>) -> StoreFuture<Result<Lookup, StoreError>>;

    /// The current invalidation generation.
    fn generation(&self) -> StoreFuture<Result<u64, StoreError>>;

    /// Stores `entry` under `key`, unless it was invalidated after its generation; answers
    /// whether it was stored.
    fn put(
        &self,
        key: &CacheKey<'_>,
        entry: Arc<CachedResponse>,
    ) -> StoreFuture<Result<bool, StoreError>>;

    /// Removes the entry stored under `key`, if any.
    fn remove(&self, key: &CacheKey<'_>) -> StoreFuture<Result<(), StoreError>>;

    /// Invalidates every entry for `path` (on every host), a path as
    /// [`CacheKey::normalize_path`] returns it. Answers how many stored entries it
    /// invalidated, when the store can tell (`None` when it cannot count them cheaply).
    fn invalidate_path(&self, path: &str) -> StoreFuture<Result<Option<usize>, StoreError>>;

    /// Invalidates every entry tagged `tag`. Answers how many stored entries it invalidated,
    /// when the store can tell.
    fn invalidate_tag(&self, tag: &str) -> StoreFuture<Result<Option<usize>, StoreError>>;

    /// Asked by a fill of `key` before it runs the handler: whether this process should run
    /// it. A store shared by several processes answers [`Turn::Filled`] when another one
    /// stored a fresh entry meanwhile, and [`Turn::Busy`] when another one is regenerating
    /// the `stale` entry this fill would replace; the lease a [`Turn::Run`] holds is given up
    /// when the fill ends.
    ///
    /// The default answers [`Turn::Run`] at once, without a lease: a store of one process
    /// has the cache's own coalescing of fills, which runs one per key.
    fn lease(&self, key: &CacheKey<'_>, stale: bool) -> StoreFuture<Result<Turn, StoreError>> {
        let _ = (key, stale);
        StoreFuture::ready(Ok(Turn::Run(FillLease::none())))
    }

    /// Counts of what the store did, when it keeps them (a store over a network does; the
    /// default, and [`MemoryStore`](super::MemoryStore), keep none, so that a hit touches no
    /// shared counter). [`Cache::stats`](super::Cache::stats) reads them.
    fn stats(&self) -> Option<StoreStats> {
        None
    }
}

/// What [`CacheStore::lease`] tells a fill.
#[derive(Debug)]
pub enum Turn {
    /// Run the handler. The lease, if the store took one, is held until this value is
    /// dropped, which the fill does once the entry is stored.
    Run(FillLease),
    /// Another process stored a fresh entry for the key: the fill answers from it.
    Filled(Arc<CachedResponse>),
    /// Another process is regenerating the key's stale entry: the stale entry stays in
    /// service, and this process tries again a moment later.
    Busy,
}

/// The right to fill a key, held by a running fill: whatever the store put in it is dropped
/// (and the lease given up) when the fill ends.
///
/// ```
/// use route_handlers::cache::FillLease;
///
/// struct Release;
/// impl Drop for Release {
///     fn drop(&mut self) { /* give the lease up */ }
/// }
/// let lease = FillLease::held(Release);
/// drop(lease);
/// let _none = FillLease::none();
/// ```
pub struct FillLease {
    _held: Option<Box<dyn Send + Sync>>,
}

impl FillLease {
    /// No lease: nothing to give up.
    pub fn none() -> Self {
        Self { _held: None }
    }

    /// A lease given up when `guard` is dropped.
    pub fn held(guard: impl Send + Sync + 'static) -> Self {
        Self {
            _held: Some(Box::new(guard)),
        }
    }
}

impl fmt::Debug for FillLease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FillLease")
            .field("held", &self._held.is_some())
            .finish()
    }
}

/// Counts a store keeps ([`CacheStore::stats`]), since it was made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreStats {
    /// Lookups answered from this process's memory.
    pub l1_hits: u64,
    /// Lookups answered from the shared store.
    pub l2_hits: u64,
    /// Lookups that found nothing to serve (missing, invalidated, or the shared store
    /// unreachable).
    pub misses: u64,
    /// Fills that waited for another process to fill the same key.
    pub lease_waits: u64,
    /// Calls to the shared store that failed or timed out.
    pub errors: u64,
    /// Whether the circuit breaker is open: the shared store is not called until it answers
    /// a probe again.
    pub breaker_open: bool,
    /// How many times the breaker opened.
    pub breaker_trips: u64,
}

/// What [`CacheStore::get`] found.
#[derive(Clone, Debug)]
pub enum Lookup {
    /// A valid entry, fresh or stale.
    Found(Arc<CachedResponse>),
    /// An entry that was invalidated on demand; the next response is regenerated and
    /// reported as [`CacheStatus::Revalidated`].
    Invalidated,
    /// Nothing.
    Missing,
}

fn key_hasher() -> &'static std::hash::RandomState {
    static HASHER: OnceLock<std::hash::RandomState> = OnceLock::new();
    HASHER.get_or_init(std::hash::RandomState::new)
}

/// The key of a cached response: the [canonical path](crate::context::canonical_path)
/// without the query, preceded by the host when the cache is keyed by host
/// (`example.com/api/x`). The request method is implicitly `GET`: only `GET` responses are
/// stored.
///
/// The key's hash is computed once, with a per-process random key, so a store can use it
/// without hashing again. An owned key shares its text: its clones (in a store's index, its
/// eviction policy, the entry's path) hold one allocation.
///
/// ```
/// use route_handlers::cache::CacheKey;
///
/// let key = CacheKey::new(None, "/api/%74ime/?tz=utc");
/// assert_eq!(key.as_str(), "/api/time");
/// assert_eq!(key.path(), "/api/time");
///
/// let key = CacheKey::new(Some("Example.COM"), "/");
/// assert_eq!(key.as_str(), "example.com/");
/// assert_eq!(key.host(), Some("example.com"));
/// assert_eq!(key.path(), "/");
/// ```
#[derive(Clone)]
pub struct CacheKey<'a> {
    hash: u64,
    text: Text<'a>,
    path_start: usize,
    space: u64,
}

#[derive(Clone)]
enum Text<'a> {
    Borrowed(&'a str),
    /// The text of an owned key, borrowed: owned again, it is the same allocation.
    Lent(&'a Arc<str>),
    Shared(Arc<str>),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Self::Borrowed(text) => text,
            Self::Lent(text) => text,
            Self::Shared(text) => text,
        }
    }
}

impl<'a> CacheKey<'a> {
    /// The key of `path` (made [canonical](crate::context::canonical_path)) on `host`, or on
    /// any host. The host is lowercased.
    pub fn new(host: Option<&str>, path: &'a str) -> Self {
        Self::new_in(0, host, path)
    }

    /// The key of `path` on `host` in key space `space` (see [`space`](Self::space)).
    pub(crate) fn new_in(space: u64, host: Option<&str>, path: &'a str) -> Self {
        let path = canonical_path(path);
        match (host, path) {
            (None, Cow::Borrowed(path)) => Self::from_text(Text::Borrowed(path), 0, space),
            (None, Cow::Owned(path)) => Self::from_text(Text::Shared(path.into()), 0, space),
            (Some(host), path) => {
                let mut text = String::with_capacity(host.len() + path.len());
                text.extend(host.chars().map(|c| c.to_ascii_lowercase()));
                text.push_str(&path);
                Self::from_text(Text::Shared(text.into()), host.len(), space)
            }
        }
    }

    /// The key of a path that is canonical already, borrowing it.
    pub(crate) fn of_canonical(space: u64, path: &'a str) -> Self {
        CacheKey::from_text(Text::Borrowed(path), 0, space)
    }

    fn from_text(text: Text<'a>, path_start: usize, space: u64) -> Self {
        Self {
            // The space is mixed in after hashing the text, one multiply instead of one
            // more round of the keyed hash.
            hash: key_hasher().hash_one(&*text) ^ space.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            text,
            path_start,
            space,
        }
    }

    /// The key space: that of the route or [`CacheLayer`](super::CacheLayer) that made the
    /// key, so that two routes (or one route mounted under two prefixes that a router strips)
    /// never share an entry by path. Keys made with [`new`](Self::new) are in space `0`. A
    /// store must keep keys of different spaces apart; the spaces of one process are not those
    /// of another.
    pub fn space(&self) -> u64 {
        self.space
    }

    /// `path` as keys use it: [`canonical_path`](crate::context::canonical_path).
    ///
    /// ```
    /// use route_handlers::cache::CacheKey;
    ///
    /// assert_eq!(CacheKey::normalize_path("/a/b/"), "/a/b");
    /// assert_eq!(CacheKey::normalize_path("/a?x=1"), "/a");
    /// assert_eq!(CacheKey::normalize_path("/%61"), "/a");
    /// assert_eq!(CacheKey::normalize_path(""), "/");
    /// assert_eq!(CacheKey::normalize_path("a"), "/a");
    /// ```
    pub fn normalize_path(path: &str) -> Cow<'_, str> {
        canonical_path(path)
    }

    /// The whole key.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The path part.
    pub fn path(&self) -> &str {
        &self.text[self.path_start..]
    }

    /// The host part, when the key has one.
    pub fn host(&self) -> Option<&str> {
        (self.path_start > 0).then(|| &self.text[..self.path_start])
    }

    /// The key's precomputed hash.
    pub fn precomputed_hash(&self) -> u64 {
        self.hash
    }

    /// The key with its text owned (shared by its clones).
    pub fn into_owned(self) -> CacheKey<'static> {
        CacheKey {
            hash: self.hash,
            space: self.space,
            text: match self.text {
                Text::Borrowed(text) => Text::Shared(text.into()),
                Text::Lent(text) => Text::Shared(text.clone()),
                Text::Shared(text) => Text::Shared(text),
            },
            path_start: self.path_start,
        }
    }

    /// The key, borrowing its text from this one.
    #[inline]
    pub(crate) fn borrowed(&self) -> CacheKey<'_> {
        CacheKey {
            hash: self.hash,
            space: self.space,
            text: match &self.text {
                Text::Borrowed(text) => Text::Borrowed(text),
                Text::Lent(text) => Text::Lent(text),
                Text::Shared(text) => Text::Lent(text),
            },
            path_start: self.path_start,
        }
    }

    /// The whole key as a shared string: the key's own text when it is owned.
    pub(crate) fn shared_text(&self) -> Arc<str> {
        match &self.text {
            Text::Shared(text) => text.clone(),
            Text::Lent(text) => Arc::clone(text),
            Text::Borrowed(text) => (*text).into(),
        }
    }

    /// The path part as a shared string: the key's own text when it has no host.
    pub(crate) fn shared_path(&self) -> Arc<str> {
        match &self.text {
            Text::Shared(text) if self.path_start == 0 => text.clone(),
            Text::Lent(text) if self.path_start == 0 => Arc::clone(text),
            _ => self.path().into(),
        }
    }
}

impl PartialEq for CacheKey<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.space == other.space && *self.text == *other.text
    }
}

impl Eq for CacheKey<'_> {}

impl std::hash::Hash for CacheKey<'_> {
    /// Writes the [precomputed hash](Self::precomputed_hash), which covers the text and the
    /// space.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

impl fmt::Debug for CacheKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CacheKey").field(&&*self.text).finish()
    }
}

impl fmt::Display for CacheKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What an entry records besides the response: see [`CachedResponse::new`].
#[derive(Clone, Debug)]
pub struct EntryMeta {
    path: Arc<str>,
    tags: Arc<[Arc<str>]>,
    created: Instant,
    revalidate: Option<Duration>,
    generation: u64,
}

impl EntryMeta {
    /// An entry for `path` made at `created`, never stale, without tags, at generation 0.
    pub fn new(path: impl Into<Arc<str>>, created: Instant) -> Self {
        Self {
            path: path.into(),
            tags: empty_tags(),
            created,
            revalidate: None,
            generation: 0,
        }
    }

    /// The entry's tags.
    pub fn tags(mut self, tags: impl Into<Arc<[Arc<str>]>>) -> Self {
        let tags = tags.into();
        // Entries without tags share one empty list.
        self.tags = if tags.is_empty() { empty_tags() } else { tags };
        self
    }

    /// How long the entry is fresh; `None` keeps it fresh until it is invalidated.
    pub fn revalidate(mut self, revalidate: Option<Duration>) -> Self {
        self.revalidate = revalidate;
        self
    }

    /// The store generation read before the response was generated.
    pub fn generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }
}

/// The heap block glibc's allocator takes for a request of `n` bytes: `n` and an 8-byte
/// header rounded up to 16, at least 32 (nothing for `0`, which allocates nothing).
pub(crate) const fn heap_block(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        let block = (n + 8 + 15) & !15;
        if block < 32 { 32 } else { block }
    }
}

/// The block a `Bytes` allocates for its reference count when a buffer it owns alone is first
/// shared (its `Shared` record: pointer, capacity, count).
const BYTES_SHARED: usize = heap_block(3 * size_of::<usize>());

/// Whether `name` is one `http` knows and holds without a heap block: parsing its text again
/// gives the very same static string. A custom name (or a known one spelled by
/// `from_static`) answers `false`, and is weighed as a block of its own.
fn is_standard(name: &HeaderName) -> bool {
    HeaderName::from_bytes(name.as_str().as_bytes())
        .is_ok_and(|fresh| std::ptr::eq(fresh.as_str().as_ptr(), name.as_str().as_ptr()))
}

/// Whether a stored response keeps `name`: `Content-Length` is left to the server, which
/// takes it from the body's exact size (and a `HEAD` answer from the body it drops); `Age` and
/// the status header are set on every hit.
fn kept(name: &HeaderName) -> bool {
    name != CONTENT_LENGTH && name != AGE && name != CACHE_STATUS_HEADER
}

fn empty_tags() -> Arc<[Arc<str>]> {
    static EMPTY: OnceLock<Arc<[Arc<str>]>> = OnceLock::new();
    EMPTY.get_or_init(|| Arc::from([])).clone()
}

/// The size of one field in a `HeaderMap`'s entry table (`http` 1's `Bucket<HeaderValue>`:
/// the name, the value, a hash and the links to further values of the name).
const MAP_FIELD: usize = 104;

/// Field lists a thread built lately, shared by the next entries with the same fields.
const RECENT_TEMPLATES: usize = 8;

/// The longest field list an entry shares with others.
const SHARED_FIELDS_MAX: usize = 64;

thread_local! {
    static RECENT: std::cell::RefCell<Vec<std::sync::Weak<Template>>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// The header map a hit clones: an entry's fields, `Age` and the status header, with a
/// placeholder where `ETag`'s value goes. Entries whose fields differ only in `ETag`'s value
/// (a route's responses, typically) share one: a thread keeps the last few it built and reuses
/// an equal one.
///
/// What such entries have in common besides their fields is kept here too, so that an entry
/// holds only what is its own: the status, how long the entries are fresh, whether they may be
/// served stale, and the instant their creation times are counted from.
pub(crate) struct Template {
    map: HeaderMap,
    /// The positions, in the map's value order, of `ETag` (when the entries have one), `Age`
    /// and the status header.
    etag_at: Option<usize>,
    age_at: usize,
    status_at: usize,
    status: StatusCode,
    revalidate: Option<Duration>,
    /// No `Cache-Control: must-revalidate` (or `proxy-revalidate`) among the fields.
    serve_stale: bool,
    /// The creation of the entry that made the template; an entry's is stored as a signed
    /// offset from it.
    base: Instant,
    /// The heap the template holds (see [`CachedResponse::weight`]).
    weight: usize,
}

/// What a template is chosen by besides its fields.
#[derive(Clone, Copy)]
struct Head {
    status: StatusCode,
    revalidate: Option<Duration>,
    created: Instant,
}

/// `at` as whole seconds from `base` (rounded down, negative before it) and nanoseconds
/// after those, when the seconds fit an `i32` (±68 years).
///
/// Seconds and nanoseconds rather than nanoseconds alone: a hit turns them back into an
/// [`Instant`] without dividing.
fn offset(base: Instant, at: Instant) -> Option<Offset> {
    match at.checked_duration_since(base) {
        Some(after) => Some(Offset {
            secs: i32::try_from(after.as_secs()).ok()?,
            nanos: after.subsec_nanos(),
        }),
        None => {
            let before = base.duration_since(at);
            let secs = i32::try_from(before.as_secs()).ok()?;
            Some(match before.subsec_nanos() {
                0 => Offset {
                    secs: -secs,
                    nanos: 0,
                },
                nanos => Offset {
                    secs: (-secs).checked_sub(1)?,
                    nanos: 1_000_000_000 - nanos,
                },
            })
        }
    }
}

/// An instant as an offset from a template's base: `secs` seconds (of either sign) and
/// `nanos` (below one second) more.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Offset {
    secs: i32,
    nanos: u32,
}

impl Template {
    /// The template of `fields` (in order), `ETag`'s value at `etag_at` left out.
    fn of(fields: &[(&HeaderName, &HeaderValue)], etag_at: Option<usize>, head: Head) -> Arc<Self> {
        // Room for them all at once, when the map's table can hold them so (a map holds at
        // most 32,768 fields; the crate's caches store at most `MAX_STORED_FIELDS`).
        let mut map = HeaderMap::try_with_capacity(fields.len() + 2).unwrap_or_default();
        let mut weight = 0;
        for (at, &(name, value)) in fields.iter().enumerate() {
            let copy = if Some(at) == etag_at {
                HeaderValue::from_static("")
            } else {
                // An exact copy: the value may be a slice of a larger buffer (the head a
                // proxied response was parsed from).
                weight += heap_block(value.len()) + BYTES_SHARED;
                let mut copy = HeaderValue::from_bytes(value.as_bytes()).unwrap_or_else(|_| {
                    // Bytes a value was made of without checking (and that the check
                    // refuses) are kept as they came.
                    value.clone()
                });
                copy.set_sensitive(value.is_sensitive());
                copy
            };
            if !is_standard(name) {
                weight += heap_block(name.as_str().len()) + BYTES_SHARED;
            }
            map.append(name.clone(), copy);
        }
        map.append(AGE, HeaderValue::from_static("0"));
        map.append(CACHE_STATUS_HEADER, CacheStatus::Hit.header_value());
        // A clone's entry table holds exactly its fields; the map built above has room for
        // more.
        let map = map.clone();
        let position = |want: &HeaderName, nth: usize| {
            map.iter()
                .enumerate()
                .filter(|(_, (name, _))| *name == want)
                .nth(nth)
                .map(|(at, _)| at)
        };
        // `ETag`'s value is the first of its name (the map groups the values of a name).
        let etag = etag_at.and_then(|_| position(&ETAG, 0));
        let age_at = position(&AGE, 0).expect("appended above");
        let status_at = position(&CACHE_STATUS_HEADER, 0).expect("appended above");
        let slots = (map.len() + map.len() / 3).next_power_of_two();
        weight += heap_block(2 * size_of::<usize>() + size_of::<Self>())
            + heap_block(slots * size_of::<u32>())
            + heap_block(map.len() * MAP_FIELD);
        let serve_stale = !fields.iter().any(|(name, value)| {
            *name == CACHE_CONTROL
                && (has_directive(value, "must-revalidate")
                    || has_directive(value, "proxy-revalidate"))
        });
        Arc::new(Self {
            map,
            etag_at: etag,
            age_at,
            status_at,
            status: head.status,
            revalidate: head.revalidate,
            serve_stale,
            base: head.created,
            weight,
        })
    }

    /// Whether an entry with `fields`, `ETag` at `etag_at` and `head` can use this template.
    fn fits(
        &self,
        fields: &[(&HeaderName, &HeaderValue)],
        etag_at: Option<usize>,
        head: Head,
    ) -> bool {
        self.status == head.status
            && self.revalidate == head.revalidate
            && offset(self.base, head.created).is_some()
            && self.map.len() == fields.len() + 2
            && self.etag_at.is_some() == etag_at.is_some()
            && fields.iter().enumerate().all(|(at, &(name, value))| {
                let mut stored = self.map.get_all(name).iter();
                // The nth value of this name among `fields` is the nth stored one.
                let nth = fields[..at].iter().filter(|(n, _)| *n == name).count();
                let first_etag = Some(at) == etag_at;
                stored.nth(nth).is_some_and(|stored| {
                    if first_etag {
                        stored.is_empty()
                    } else {
                        stored == value && stored.is_sensitive() == value.is_sensitive()
                    }
                })
            })
            && fields.iter().all(|(name, _)| {
                self.map.get_all(*name).iter().count()
                    == fields.iter().filter(|(n, _)| n == name).count()
            })
    }

    /// A template of `fields` and `head`: a recent equal one, or a new one.
    /// With it, the offset of `head`'s creation from its base.
    fn shared(
        fields: &[(&HeaderName, &HeaderValue)],
        etag_at: Option<usize>,
        head: Head,
    ) -> (Arc<Self>, Offset) {
        // Comparing a long field list against a template costs its square: such lists get
        // a template of their own.
        if fields.len() > SHARED_FIELDS_MAX {
            return (
                Self::of(fields, etag_at, head),
                Offset { secs: 0, nanos: 0 },
            );
        }
        RECENT.with(|recent| {
            let mut recent = recent.borrow_mut();
            recent.retain(|weak| weak.strong_count() > 0);
            let found = recent
                .iter()
                .filter_map(std::sync::Weak::upgrade)
                .find(|t| t.fits(fields, etag_at, head));
            if let Some(found) = found {
                if let Some(created) = offset(found.base, head.created) {
                    return (found, created);
                }
            }
            let template = Self::of(fields, etag_at, head);
            if recent.len() == RECENT_TEMPLATES {
                recent.remove(0);
            }
            recent.push(Arc::downgrade(&template));
            (template, Offset { secs: 0, nanos: 0 })
        })
    }

    #[inline]
    pub(crate) fn map(&self) -> &HeaderMap {
        &self.map
    }

    #[inline]
    pub(crate) fn etag_at(&self) -> Option<usize> {
        self.etag_at
    }

    #[inline]
    pub(crate) fn age_at(&self) -> usize {
        self.age_at
    }

    #[inline]
    pub(crate) fn status_at(&self) -> usize {
        self.status_at
    }
}

/// A stored `GET` response: status, header fields and body bytes, with what the cache needs
/// to serve it (when it was made, how long it is fresh, its tags).
///
/// Its header fields are the ones sent on every hit: the handler's, plus `ETag` and
/// `Cache-Control` as the cache added them, in their order. A hit sends them followed by `Age`
/// and the [status header](super::CACHE_STATUS_HEADER); `Content-Length` is left to the server,
/// which takes it from the body (and a `HEAD` answer from the body it drops).
///
/// The entry is compact: one buffer of exact size holds the body and `ETag`'s value, and the
/// other fields are in a header map that the entries with the same fields (a route's, as a
/// rule) share, and that a hit clones. The status, the freshness window and the instant
/// creation times are counted from live with that map too, so an entry is one block of 160
/// bytes (on a 64-bit target) besides its buffer. Neither the body nor a value can keep a
/// larger buffer alive (such as the read buffer a proxied response was parsed from), so
/// [`weight`](Self::weight) bounds what the entry holds.
///
/// ```
/// use bytes::Bytes;
/// use http::{HeaderMap, StatusCode, header};
/// use route_handlers::cache::{CachedResponse, EntryMeta};
/// use tokio::time::Instant;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::CONTENT_TYPE, "text/plain".parse().unwrap());
/// headers.insert(header::CONTENT_LENGTH, "5".parse().unwrap());
/// headers.insert(header::ETAG, "\"5-x\"".parse().unwrap());
/// let entry = CachedResponse::new(
///     StatusCode::OK,
///     headers,
///     Bytes::from_static(b"hello"),
///     EntryMeta::new("/hello", Instant::now()),
/// );
/// let fields: Vec<_> = entry.headers().map(|(n, v)| (n.as_str(), v.to_str().unwrap())).collect();
/// assert_eq!(fields, [("content-type", "text/plain"), ("etag", "\"5-x\"")]);
/// assert_eq!(entry.body(), "hello");
/// ```
pub struct CachedResponse {
    /// The header map, and what the entries sharing it have in common.
    template: Arc<Template>,
    /// `ETag`'s value, a slice of the body's buffer.
    etag: Option<HeaderValue>,
    body: Bytes,
    path: Arc<str>,
    tags: Arc<[Arc<str>]>,
    /// When the response was made, from the template's base.
    created: Offset,
    generation: u64,
    /// The store generation up to which this entry is known to be valid; see
    /// [`MemoryStore`](super::MemoryStore).
    pub(crate) checked: AtomicU64,
}

impl CachedResponse {
    /// An entry serving `status`, `headers` and `body`.
    ///
    /// `headers` are sent in their order on every hit, without `Content-Length` (the server
    /// sets it from the body), with `Age` and the status header added (any of theirs are
    /// dropped); a response that carries `Cache-Control: must-revalidate` (or
    /// `proxy-revalidate`) is never served stale. The body and `ETag`'s value are copied into
    /// one buffer of their exact size, the other values into the shared header map.
    ///
    /// # Panics
    ///
    /// When `headers` holds more than 32,766 fields, which leaves no room in a `HeaderMap`
    /// for `Age` and the status header. The crate's caches never store a response with more
    /// than 1,024.
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes, meta: EntryMeta) -> Self {
        let EntryMeta {
            path,
            tags,
            created,
            revalidate,
            generation,
        } = meta;
        let fields: Vec<(&HeaderName, &HeaderValue)> =
            headers.iter().filter(|(name, _)| kept(name)).collect();
        let etag_at = fields.iter().position(|(name, _)| *name == ETAG);
        let etag_value = etag_at.map(|at| fields[at].1);
        // One exact-size buffer: a `Vec` whose length is its capacity becomes a `Bytes`
        // without reallocating, and each slice of it shares its one reference count.
        let etag_len = etag_value.map_or(0, HeaderValue::len);
        let mut buffer = Vec::with_capacity(body.len() + etag_len);
        buffer.extend_from_slice(&body);
        if let Some(value) = etag_value {
            buffer.extend_from_slice(value.as_bytes());
        }
        let buffer = Bytes::from(buffer);
        let etag = etag_value.map(|value| {
            match HeaderValue::from_maybe_shared(buffer.slice(body.len()..)) {
                Ok(mut copy) => {
                    copy.set_sensitive(value.is_sensitive());
                    copy
                }
                // Bytes a value was made of without checking: kept as they came, and weighed
                // as a block of their own.
                Err(_) => value.clone(),
            }
        });
        let body = buffer.slice(..body.len());
        let head = Head {
            status,
            revalidate,
            created,
        };
        let (template, created) = Template::shared(&fields, etag_at, head);
        Self {
            template,
            etag,
            body,
            path,
            tags,
            created,
            generation,
            checked: AtomicU64::new(generation),
        }
    }

    /// The status.
    #[inline]
    pub fn status(&self) -> StatusCode {
        self.template.status
    }

    /// The header fields sent on every hit, in order: all but `Content-Length`, `Age` and
    /// the status header, which a hit sets.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &HeaderValue)> {
        let template = &*self.template;
        template
            .map
            .iter()
            .enumerate()
            .filter_map(move |(at, (name, value))| {
                if at == template.age_at || at == template.status_at {
                    None
                } else if Some(at) == template.etag_at {
                    self.etag.as_ref().map(|etag| (name, etag))
                } else {
                    Some((name, value))
                }
            })
    }

    /// The body.
    #[inline]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The normalised path the response was made for.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The tags the entry is invalidated by.
    pub fn tags(&self) -> &[Arc<str>] {
        &self.tags
    }

    /// When the response was made.
    #[inline]
    pub fn created(&self) -> Instant {
        let base = self.template.base;
        let Offset { secs, nanos } = self.created;
        // The offset was taken from these very instants, so no step overflows.
        match u64::try_from(secs) {
            Ok(secs) => base + Duration::new(secs, nanos),
            Err(_) => {
                base - Duration::from_secs(u64::from(secs.unsigned_abs())) + Duration::new(0, nanos)
            }
        }
    }

    /// How long the entry is fresh; `None` when it stays fresh until invalidated.
    #[inline]
    pub fn revalidate(&self) -> Option<Duration> {
        self.template.revalidate
    }

    /// The store generation read before the response was generated.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The bytes the entry holds on the heap, as a store's budget counts them: its own block,
    /// the buffer of its body and `ETag`, the header map it shares (counted whole in each
    /// entry that shares it), its path and tags (counted whole, although a store's key and
    /// other entries may share them), each as the system allocator rounds it. A store adds
    /// what it spends on an entry itself (its key, its table's slot), so that a byte budget
    /// bounds resident memory.
    ///
    /// It is worked out from the entry's parts on each call (the entry keeps no field for it),
    /// and is the same on every call.
    pub fn weight(&self) -> u32 {
        let etag_len = self.etag.as_ref().map_or(0, HeaderValue::len);
        // The buffer holds the body and a copy of `ETag`'s value, whichever one is sent.
        let buffer = self.body.len() + etag_len;
        let mut weight = heap_block(2 * size_of::<usize>() + size_of::<Self>())
            + heap_block(buffer)
            + if buffer == 0 { 0 } else { BYTES_SHARED }
            + self.template.weight
            + heap_block(2 * size_of::<usize>() + self.path.len());
        if let Some(etag) = &self.etag {
            // A value that is not the slice after the body is a block of its own (an empty
            // body is an empty `Bytes` of its own: counted so too, an upper bound).
            let after_body = self.body.as_ptr().wrapping_add(self.body.len());
            if self.body.is_empty() || etag.as_bytes().as_ptr() != after_body {
                weight += heap_block(etag.len()) + BYTES_SHARED;
            }
        }
        if !self.tags.is_empty() {
            weight += heap_block(2 * size_of::<usize>() + self.tags.len() * size_of::<Arc<str>>())
                + self
                    .tags
                    .iter()
                    .map(|tag| heap_block(2 * size_of::<usize>() + tag.len()))
                    .sum::<usize>();
        }
        weight.try_into().unwrap_or(u32::MAX)
    }

    /// Whether the entry may be served stale while it regenerates.
    #[inline]
    pub(crate) fn serve_stale(&self) -> bool {
        self.template.serve_stale
    }

    /// The header map a hit clones.
    #[inline]
    pub(crate) fn template(&self) -> &Template {
        &self.template
    }

    /// `ETag`'s value, sent at the template's `ETag` position.
    #[inline]
    pub(crate) fn etag_value(&self) -> Option<&HeaderValue> {
        self.etag.as_ref()
    }

    /// The `ETag` a matching `If-None-Match` is answered `304` for (2xx entries only).
    #[inline]
    pub(crate) fn etag(&self) -> Option<&HeaderValue> {
        self.etag.as_ref().filter(|_| self.status().is_success())
    }

    #[inline]
    pub(crate) fn checked(&self) -> u64 {
        self.checked.load(Ordering::Acquire)
    }
}

impl fmt::Debug for CachedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedResponse")
            .field("status", &self.status())
            .field("path", &self.path)
            .field("body_len", &self.body.len())
            .field("tags", &self.tags)
            .field("revalidate", &self.revalidate())
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// Whether a `Cache-Control` value holds `directive` (case-insensitive, with or without an
/// argument).
pub(crate) fn has_directive(value: &HeaderValue, directive: &str) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    value.split(',').any(|part| {
        let name = part.split('=').next().unwrap_or("").trim();
        name.eq_ignore_ascii_case(directive)
    })
}

/// Headers a cache never stores: hop-by-hop fields and those it sets itself.
pub(crate) const UNSTORED_HEADERS: [HeaderName; 9] = [
    http::header::CONNECTION,
    http::header::TRANSFER_ENCODING,
    http::header::UPGRADE,
    http::header::TE,
    http::header::TRAILER,
    http::header::PROXY_AUTHENTICATE,
    HeaderName::from_static("keep-alive"),
    AGE,
    CONTENT_LENGTH,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_borrow_unless_they_must_not() {
        let key = CacheKey::new(None, "/api/x");
        assert!(matches!(key.text, Text::Borrowed(_)));
        let key = CacheKey::new(None, "/api/x?y");
        assert!(matches!(key.text, Text::Borrowed(_)));
        assert_eq!(key, CacheKey::new(None, "/api/x/").into_owned());
        assert_eq!(key, CacheKey::new(None, "/api/%78").into_owned());
        assert_eq!(key.precomputed_hash(), CacheKey::new(None, "/api/x").hash);
        assert_ne!(key, CacheKey::new(Some("a.test"), "/api/x"));
    }

    #[test]
    fn owned_keys_share_their_text() {
        let key = CacheKey::new(None, "/a").into_owned();
        let copy = key.clone();
        let (Text::Shared(a), Text::Shared(b)) = (&key.text, &copy.text) else {
            panic!("owned keys are shared");
        };
        assert!(Arc::ptr_eq(a, b));
        assert!(Arc::ptr_eq(a, &key.shared_path()));
        // A key borrowed from an owned one (a route's literal key) is owned again without
        // copying, so the store's key and the entry's path are that same text.
        let lent = key.borrowed();
        assert_eq!(lent, key);
        assert_eq!(lent.as_str(), "/a");
        assert!(Arc::ptr_eq(a, &lent.shared_path()));
        assert!(Arc::ptr_eq(a, &lent.shared_text()));
        let Text::Shared(again) = lent.into_owned().text else {
            panic!("owned keys are shared");
        };
        assert!(Arc::ptr_eq(a, &again));
    }

    proptest::proptest! {
        #[test]
        fn keys_of_a_host_split_back(path in "[ -~]{0,40}") {
            let key = CacheKey::new(Some("h.test"), &path);
            let canonical = canonical_path(&path);
            proptest::prop_assert_eq!(key.path(), canonical.as_ref());
            proptest::prop_assert_eq!(key.host(), Some("h.test"));
        }
    }

    fn entry_at(
        status: StatusCode,
        revalidate: Option<Duration>,
        created: Instant,
    ) -> CachedResponse {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain"),
        );
        headers.insert(ETAG, HeaderValue::from_static("\"1-a\""));
        CachedResponse::new(
            status,
            headers,
            Bytes::from_static(b"a"),
            EntryMeta::new("/e", created).revalidate(revalidate),
        )
    }

    #[test]
    fn entries_sharing_a_template_keep_their_own_times_status_and_window() {
        let now = Instant::now();
        let window = Some(Duration::from_secs(10));
        let first = entry_at(StatusCode::OK, window, now);
        // Made before the entry whose creation the template counts from, and long after it.
        let earlier = now - Duration::from_nanos(1_234_567_891);
        let before = entry_at(StatusCode::OK, window, earlier);
        let later = now + Duration::from_secs(86_400 * 365);
        let after = entry_at(StatusCode::OK, window, later);
        assert!(std::ptr::eq(first.template(), before.template()));
        assert!(std::ptr::eq(first.template(), after.template()));
        assert_eq!(first.created(), now);
        assert_eq!(before.created(), earlier);
        assert_eq!(after.created(), later);
        for before in [
            Duration::from_secs(3),
            Duration::from_nanos(1),
            Duration::from_millis(999),
        ] {
            let at = now - before;
            assert_eq!(
                entry_at(StatusCode::OK, window, at).created(),
                at,
                "{before:?}"
            );
        }
        assert_eq!(before.revalidate(), window);
        // Another status or window is another template, with its own.
        let missing = entry_at(StatusCode::NOT_FOUND, window, now);
        let forever = entry_at(StatusCode::OK, None, now);
        assert!(!std::ptr::eq(first.template(), missing.template()));
        assert!(!std::ptr::eq(first.template(), forever.template()));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(missing.revalidate(), window);
        assert_eq!(forever.status(), StatusCode::OK);
        assert_eq!(forever.revalidate(), None);
        assert!(first.serve_stale());
    }

    #[test]
    fn the_weight_is_the_same_on_every_call_and_counts_an_etag_of_its_own() {
        let entry = entry_at(StatusCode::OK, None, Instant::now());
        assert_eq!(entry.weight(), entry.weight());
        // An empty body: `ETag`'s value is weighed as a block of its own, a bound.
        let mut headers = HeaderMap::new();
        headers.insert(ETAG, HeaderValue::from_static("\"0-a\""));
        let empty = CachedResponse::new(
            StatusCode::OK,
            headers,
            Bytes::new(),
            EntryMeta::new("/e", Instant::now()),
        );
        let own = heap_block(16 + size_of::<CachedResponse>())
            + heap_block(5)
            + BYTES_SHARED
            + empty.template().weight
            + heap_block(16 + 2);
        assert!(empty.weight() as usize >= own + heap_block(5) + BYTES_SHARED);
    }

    /// The entry is one heap block of 160 bytes on a 64-bit target: its status, freshness
    /// window and the base of its creation time live in the template its route's entries
    /// share.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_entry_is_one_block_of_160_bytes() {
        assert_eq!(
            heap_block(2 * size_of::<usize>() + size_of::<CachedResponse>()),
            160
        );
    }

    #[test]
    fn has_directive_cases() {
        let v = HeaderValue::from_static("public, Max-Age=0, must-revalidate");
        assert!(has_directive(&v, "must-revalidate"));
        assert!(has_directive(&v, "max-age"));
        assert!(!has_directive(&v, "private"));
        let v = HeaderValue::from_static("private=\"set-cookie\"");
        assert!(has_directive(&v, "private"));
        assert!(!has_directive(&v, "no-store"));
    }
}
