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
    /// [`CacheKey::normalize_path`] returns it.
    fn invalidate_path(&self, path: &str) -> StoreFuture<Result<(), StoreError>>;

    /// Invalidates every entry tagged `tag`.
    fn invalidate_tag(&self, tag: &str) -> StoreFuture<Result<(), StoreError>>;
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
    Shared(Arc<str>),
}

impl std::ops::Deref for Text<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        match self {
            Self::Borrowed(text) => text,
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
            text: Text::Borrowed(&self.text),
            path_start: self.path_start,
        }
    }

    /// The path part as a shared string: the key's own text when it has no host.
    pub(crate) fn shared_path(&self) -> Arc<str> {
        match &self.text {
            Text::Shared(text) if self.path_start == 0 => text.clone(),
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
            tags: Arc::from([]),
            created,
            revalidate: None,
            generation: 0,
        }
    }

    /// The entry's tags.
    pub fn tags(mut self, tags: impl Into<Arc<[Arc<str>]>>) -> Self {
        self.tags = tags.into();
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

/// What one entry occupies besides its body, header maps, path and tags, measured with a
/// heap profiler on 1 KiB entries: the `Arc<CachedResponse>`, the store's and its index's
/// records of the key, the shared `Bytes` header, and the allocator's per-block overhead
/// (about 20 blocks).
const ENTRY_OVERHEAD: usize = 1_200;

/// The heap a `HeaderMap` holds: its index and entry tables (allocated in powers of two)
/// and each field's name and value.
fn header_map_bytes(headers: &HeaderMap) -> usize {
    let slots = headers.capacity().max(headers.len()).next_power_of_two();
    let fields: usize = headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 16)
        .sum();
    slots * (104 + 4) + fields
}

/// A stored `GET` response: status, headers and body bytes, with what the cache needs to
/// serve it (when it was made, how long it is fresh, its tags).
///
/// Its headers are the ones sent on every hit: the handler's, plus `ETag`,
/// `Cache-Control` and an exact `Content-Length` as the cache added them. Each hit clones
/// a prepared copy that also holds `Age` and the [status header](super::CACHE_STATUS_HEADER)
/// and leaves `Content-Length` to the server, which takes it from the body (and a `HEAD`
/// answer from the body it drops).
pub struct CachedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    meta: EntryMeta,
    template: HeaderMap,
    etag: Option<HeaderValue>,
    serve_stale: bool,
    weight: u32,
    /// The store generation up to which this entry is known to be valid; see
    /// [`MemoryStore`](super::MemoryStore).
    pub(crate) checked: AtomicU64,
}

impl CachedResponse {
    /// An entry serving `status`, `headers` and `body`.
    ///
    /// `headers` are sent as they are on every hit, with `Age` and the status header
    /// added; a response that carries `Cache-Control: must-revalidate` (or
    /// `proxy-revalidate`) is never served stale.
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes, meta: EntryMeta) -> Self {
        // `Content-Length` is left to the server, which takes it from the body's exact size:
        // one header fewer to clone on every hit.
        // `Age` and the status header come first, where a hit finds them without hashing.
        let mut template = HeaderMap::with_capacity(headers.len() + 2);
        template.insert(AGE, HeaderValue::from_static("0"));
        template.insert(CACHE_STATUS_HEADER, CacheStatus::Hit.header_value());
        for (name, value) in &headers {
            if name != CONTENT_LENGTH && name != AGE && name != CACHE_STATUS_HEADER {
                template.append(name.clone(), value.clone());
            }
        }
        let etag = if status.is_success() {
            headers.get(ETAG).cloned()
        } else {
            None
        };
        let serve_stale = !headers
            .get_all(CACHE_CONTROL)
            .iter()
            .any(|v| has_directive(v, "must-revalidate") || has_directive(v, "proxy-revalidate"));
        let weight = (body.len()
            + 2 * header_map_bytes(&headers)
            + meta.path.len()
            + meta.tags.iter().map(|t| t.len() + 16).sum::<usize>()
            + ENTRY_OVERHEAD)
            .try_into()
            .unwrap_or(u32::MAX);
        Self {
            status,
            checked: AtomicU64::new(meta.generation),
            headers,
            body,
            meta,
            template,
            etag,
            serve_stale,
            weight,
        }
    }

    /// The status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers sent on every hit (without `Age` and the status header).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The normalised path the response was made for.
    pub fn path(&self) -> &str {
        &self.meta.path
    }

    /// The tags the entry is invalidated by.
    pub fn tags(&self) -> &[Arc<str>] {
        &self.meta.tags
    }

    /// When the response was made.
    pub fn created(&self) -> Instant {
        self.meta.created
    }

    /// How long the entry is fresh; `None` when it stays fresh until invalidated.
    pub fn revalidate(&self) -> Option<Duration> {
        self.meta.revalidate
    }

    /// The store generation read before the response was generated.
    pub fn generation(&self) -> u64 {
        self.meta.generation
    }

    /// The entry's size in bytes, as a store's budget counts it: the body, both header maps
    /// it keeps (the stored one and the one a hit clones), the path, the tags and what an
    /// entry occupies around them, so that a byte budget bounds resident memory. A store
    /// adds the length of the key it holds the entry under.
    pub fn weight(&self) -> u32 {
        self.weight
    }

    /// Whether the entry may be served stale while it regenerates.
    pub(crate) fn serve_stale(&self) -> bool {
        self.serve_stale
    }

    pub(crate) fn template(&self) -> &HeaderMap {
        &self.template
    }

    /// The `ETag` a matching `If-None-Match` is answered `304` for (2xx entries only).
    pub(crate) fn etag(&self) -> Option<&HeaderValue> {
        self.etag.as_ref()
    }

    pub(crate) fn checked(&self) -> u64 {
        self.checked.load(Ordering::Acquire)
    }
}

impl fmt::Debug for CachedResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedResponse")
            .field("status", &self.status)
            .field("path", &self.meta.path)
            .field("body_len", &self.body.len())
            .field("tags", &self.meta.tags)
            .field("revalidate", &self.meta.revalidate)
            .field("generation", &self.meta.generation)
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
