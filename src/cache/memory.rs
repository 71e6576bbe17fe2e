//! [`MemoryStore`], the bounded in-process [`CacheStore`].

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasher, Hash, Hasher},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
};

use quick_cache::{Equivalent, Weighter, sync::DefaultLifecycle};

use super::store::{
    CacheKey, CacheStore, CachedResponse, Lookup, StoreError, StoreFuture, heap_block,
};

/// The default byte budget of a [`MemoryStore`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Invalidation records kept before they are folded into one floor generation.
const MAX_RECORDS: usize = 4096;

/// The most shards; a budget is split evenly between them.
const MAX_SHARDS: u64 = 16;

/// The least budget of one shard: four bodies of the default
/// [`max_body_size`](super::CacheBuilder::max_body_size), so that the largest entry a cache
/// makes by default fits in a shard.
const MIN_SHARD_BYTES: u64 = 4 * super::DEFAULT_MAX_BODY_SIZE as u64;

/// The entry weight the table is sized for, and the number of evicted keys it remembers
/// (half as many as entries of this weight would fill the budget) is derived from.
const TYPICAL_WEIGHT: u64 = 2048;

/// What the table spends on one entry or one remembered evicted key: a slot of its slab (the
/// key, the `Arc`, the eviction state and two list links, counted as 80 bytes, more than the
/// 32-byte [`StoredKey`] takes) and of its hash table
/// (a 4-byte index and a control byte at 7/8 load), counted twice, as both grow by doubling.
const SLOT_BYTES: u64 = 2 * (80 + 6);

/// The allocator's free lists between live blocks, as a fraction of them (`1/8`): what
/// `cache_memory` measures resident beyond the blocks entries hold (about 1/10 of them while a
/// store fills with 1 KiB bodies, up to 1/8 while it evicts).
const FRAGMENTATION: u64 = 8;

/// A bounded in-memory [`CacheStore`]: entries up to a byte budget, least valuable evicted
/// first.
///
/// # How it is built
///
/// A [quick_cache](https://docs.rs/quick_cache) table holds the entries and decides what to
/// keep: every entry is weighed (see [`CachedResponse::weight`], plus the key and the table's
/// slot) and the table evicts by its CLOCK-Pro policy when the budget would be exceeded. A
/// lookup takes a shard's read lock, finds the entry with the key's precomputed hash, and marks
/// it referenced with one atomic add while it is not yet marked; the table keeps the slot of an
/// entry inline (no allocation per entry), which is what lets an entry cost little more than
/// its body. A budget is split between up to 16 shards of at least 8 MiB each (a
/// smaller budget has fewer), and an entry larger than its shard's share is not kept. The
/// table also remembers the hashes of a number of evicted keys (so that a key that comes back
/// is kept in preference); their slots are set aside from the budget.
///
/// Every write (put, remove) happens under one mutex, with the invalidation records it is
/// checked against.
///
/// Invalidation is lazy: [`invalidate_path`](CacheStore::invalidate_path) and
/// [`invalidate_tag`](CacheStore::invalidate_tag) raise the store's generation and record
/// the path or tag with it, and an entry made before that generation is reported
/// [`Lookup::Invalidated`] when next read. A hit checks this with two atomic loads while no
/// invalidation happened since its entry was last checked. The records are bounded: past
/// 4096 of them they are replaced by one floor generation, which invalidates every older
/// entry.
///
/// ```
/// use route_handlers::cache::{Cache, MemoryStore};
///
/// let cache = Cache::builder().store(MemoryStore::new(16 * 1024 * 1024)).build();
/// # let _ = cache;
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    inner: Arc<Inner>,
}

type Table = quick_cache::sync::Cache<
    StoredKey,
    Arc<CachedResponse>,
    Weigh,
    PassThrough,
    DefaultLifecycle<StoredKey, Arc<CachedResponse>>,
>;

/// A key as the table holds it: its precomputed hash, its space and its text, shared with the
/// key the fill made (and, for a key without a host, with the entry's path). The table keeps
/// a key in each slot, and this is two words smaller than a [`CacheKey`], which also carries
/// where its path starts and whether its text is borrowed.
#[derive(Clone)]
struct StoredKey {
    hash: u64,
    space: u64,
    text: Arc<str>,
}

impl StoredKey {
    fn of(key: &CacheKey<'_>) -> Self {
        Self {
            hash: key.precomputed_hash(),
            space: key.space(),
            text: key.shared_text(),
        }
    }
}

impl PartialEq for StoredKey {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && self.space == other.space && self.text == other.text
    }
}

impl Eq for StoredKey {}

impl Hash for StoredKey {
    /// Writes the precomputed hash, as [`CacheKey`] does.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

struct Inner {
    table: Table,
    generation: AtomicU64,
    writes: Mutex<Writes>,
    max_bytes: u64,
}

struct Writes {
    paths: HashMap<Box<str>, u64>,
    tags: HashMap<Box<str>, u64>,
    floor: u64,
}

impl Writes {
    /// Whether `entry` was invalidated after it was made.
    fn invalidated(&self, entry: &CachedResponse) -> bool {
        self.invalidates(
            entry.path(),
            entry.tags().iter().map(|t| &**t),
            entry.generation(),
        )
    }

    /// Whether an entry of `path` and `tags` made at generation `born` was invalidated since.
    fn invalidates<'t>(
        &self,
        path: &str,
        mut tags: impl Iterator<Item = &'t str>,
        born: u64,
    ) -> bool {
        born < self.floor
            || self.paths.get(path).is_some_and(|&g| g > born)
            || tags.any(|t| self.tags.get(t).is_some_and(|&g| g > born))
    }
}

/// The weight of an entry in the table: the entry's own (see [`CachedResponse::weight`]),
/// its key's text and the table's slot, and the allocator's free space around them.
#[derive(Clone, Copy)]
struct Weigh;

impl Weighter<StoredKey, Arc<CachedResponse>> for Weigh {
    fn weight(&self, key: &StoredKey, entry: &Arc<CachedResponse>) -> u64 {
        let blocks = u64::from(entry.weight())
            + heap_block(2 * size_of::<usize>() + key.text.len()) as u64
            + SLOT_BYTES;
        blocks + blocks / FRAGMENTATION
    }
}

/// A key borrowed for a lookup, found as the stored key it equals.
struct Probe<'k, 'a>(&'k CacheKey<'a>);

impl Hash for Probe<'_, '_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state);
    }
}

impl Equivalent<StoredKey> for Probe<'_, '_> {
    fn equivalent(&self, key: &StoredKey) -> bool {
        let (probe, stored) = (self.0.as_str(), &*key.text);
        // A route's literal key and the key its entry was stored under are one text: equal
        // without comparing bytes.
        self.0.precomputed_hash() == key.hash
            && self.0.space() == key.space
            && probe.len() == stored.len()
            && (std::ptr::eq(probe.as_ptr(), stored.as_ptr())
                || same_bytes(probe.as_bytes(), stored.as_bytes()))
    }
}

/// Whether two byte strings of the same length are equal, compared eight bytes at a time.
///
/// Written out rather than `==` for a hit's lookup: a key is a short path, which `==` compares
/// by calling `memcmp`, and the call costs more instructions than the comparison
/// (`cache_icount`'s `hit/layer`).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    debug_assert_eq!(a.len(), b.len());
    let word =
        |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("eight bytes"));
    let len = a.len().min(b.len());
    if len < 8 {
        return a[..len].iter().zip(&b[..len]).all(|(x, y)| x == y);
    }
    // Whole words, then the last eight bytes (which may overlap the last whole word).
    (0..len / 8).all(|i| word(a, i * 8) == word(b, i * 8)) && word(a, len - 8) == word(b, len - 8)
}

/// A hasher that passes a key's precomputed hash through.
#[derive(Clone, Copy, Default)]
struct PassThrough;

struct PassThroughHasher(u64);

impl BuildHasher for PassThrough {
    type Hasher = PassThroughHasher;
    fn build_hasher(&self) -> PassThroughHasher {
        PassThroughHasher(0)
    }
}

impl Hasher for PassThroughHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by the key types above; stay correct for anything else.
        for &b in bytes {
            self.0 = (self.0.rotate_left(5) ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl MemoryStore {
    /// A store holding up to `max_bytes` of entries.
    pub fn new(max_bytes: u64) -> Self {
        Self::for_bodies(max_bytes, super::DEFAULT_MAX_BODY_SIZE)
    }

    /// A store holding up to `max_bytes` of entries, with shards large enough for four
    /// bodies of `max_body` bytes each (or the whole budget in one shard).
    pub(crate) fn for_bodies(max_bytes: u64, max_body: usize) -> Self {
        let shard_bytes = MIN_SHARD_BYTES.max(4 * max_body as u64);
        let shards = (max_bytes / shard_bytes).clamp(1, MAX_SHARDS);
        // A power of two not above `shards`: the table rounds up otherwise.
        let shards = 1 << shards.ilog2();
        let items = (max_bytes / TYPICAL_WEIGHT).max(1);
        let ghosts = items / 2;
        // The remembered evicted keys are set aside from the budget, rounded up per shard.
        let reserved = (ghosts + shards) * SLOT_BYTES;
        let options = quick_cache::OptionsBuilder::new()
            .shards(shards as usize)
            .estimated_items_capacity(items as usize)
            .ghost_allocation(0.5)
            .weight_capacity(max_bytes.saturating_sub(reserved))
            .build()
            .expect("every option is set");
        Self {
            inner: Arc::new(Inner {
                table: Table::with_options(
                    options,
                    Weigh,
                    PassThrough,
                    DefaultLifecycle::default(),
                ),
                generation: AtomicU64::new(0),
                writes: Mutex::new(Writes {
                    paths: HashMap::new(),
                    tags: HashMap::new(),
                    floor: 0,
                }),
                max_bytes,
            }),
        }
    }

    /// The byte budget.
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// The bytes held, by [`CachedResponse::weight`] with the key and the table's slot.
    pub fn weighted_size(&self) -> u64 {
        self.inner.table.weight()
    }

    /// The number of entries held.
    pub fn entry_count(&self) -> usize {
        self.inner.table.len()
    }

    /// The entry under `key` without the validity check, for tests.
    #[cfg(test)]
    fn raw(&self, key: &CacheKey<'_>) -> Option<Arc<CachedResponse>> {
        self.inner.table.peek(&Probe(key))
    }
}

impl Default for MemoryStore {
    /// A store of [`DEFAULT_MAX_BYTES`].
    fn default() -> Self {
        Self::new(DEFAULT_MAX_BYTES)
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("max_bytes", &self.inner.max_bytes)
            .field("entries", &self.entry_count())
            .finish_non_exhaustive()
    }
}

impl Inner {
    #[inline]
    fn get(&self, key: &CacheKey<'_>) -> Lookup {
        let Some(entry) = self.table.get(&Probe(key)) else {
            return Lookup::Missing;
        };
        let generation = self.generation.load(Ordering::Acquire);
        if entry.checked() < generation {
            let writes = lock(&self.writes);
            let generation = self.generation.load(Ordering::Acquire);
            if writes.invalidated(&entry) {
                return Lookup::Invalidated;
            }
            entry.checked.fetch_max(generation, Ordering::AcqRel);
        }
        Lookup::Found(entry)
    }

    fn put(&self, key: &CacheKey<'_>, entry: Arc<CachedResponse>) -> bool {
        let writes = lock(&self.writes);
        if writes.invalidated(&entry) {
            return false;
        }
        // A fill that started before the stored entry's (one detached by an invalidation that
        // did not concern it) must not put an older response back.
        if self
            .table
            .peek(&Probe(key))
            .is_some_and(|stored| stored.generation() > entry.generation())
        {
            return false;
        }
        entry
            .checked
            .fetch_max(self.generation.load(Ordering::Acquire), Ordering::AcqRel);
        self.table.insert(StoredKey::of(key), entry.clone());
        // The table refuses an entry heavier than its shard's share without saying so: the
        // answer is whether it holds this one now.
        let kept = self
            .table
            .peek(&Probe(key))
            .is_some_and(|stored| Arc::ptr_eq(&stored, &entry));
        drop(writes);
        kept
    }

    fn remove(&self, key: &CacheKey<'_>) {
        let _writes = lock(&self.writes);
        self.table.remove(&Probe(key));
    }

    /// Records an invalidation, and answers how many stored entries `reaches` and were
    /// valid until now.
    fn invalidate(
        &self,
        reaches: impl Fn(&CachedResponse) -> bool,
        record: impl FnOnce(&mut Writes, u64),
    ) -> usize {
        // One pass over the table, each shard read-locked a step at a time and the writes
        // not locked at all, so that lookups and fills go on meanwhile: invalidation is rare,
        // and its caller is told what it did. The count is of the entries valid when the
        // invalidation is recorded.
        let reached: Vec<Arc<CachedResponse>> = self
            .table
            .iter()
            .filter_map(|(_, entry)| reaches(&entry).then_some(entry))
            .collect();
        let mut writes = lock(&self.writes);
        let count = reached.iter().filter(|e| !writes.invalidated(e)).count();
        let generation = self.generation.load(Ordering::Acquire) + 1;
        record(&mut writes, generation);
        if writes.paths.len() + writes.tags.len() > MAX_RECORDS {
            writes.paths.clear();
            writes.tags.clear();
            writes.floor = generation;
        }
        self.generation.store(generation, Ordering::Release);
        drop(writes);
        count
    }
}

/// What an invalidation names: a path or a tag.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Name<'a> {
    Path(&'a str),
    Tag(&'a str),
}

/// The store as the memory tier of a store shared by several processes, whose generations
/// are the shared store's timestamps rather than a count of this one's invalidations.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
impl MemoryStore {
    /// Records that `name` was invalidated at `at`, keeping a later record already there,
    /// and raises the generation to `at`. Entries are not counted: a remote invalidation
    /// does not scan the table.
    pub(crate) fn record(&self, name: Name<'_>, at: u64) {
        let mut writes = lock(&self.inner.writes);
        let records = match name {
            Name::Path(_) => &mut writes.paths,
            Name::Tag(_) => &mut writes.tags,
        };
        let (Name::Path(text) | Name::Tag(text)) = name;
        match records.get_mut(text) {
            Some(kept) => *kept = (*kept).max(at),
            None => {
                records.insert(text.into(), at);
            }
        }
        self.fold(&mut writes, at);
    }

    /// Records a local invalidation of `name` at `at` and answers how many stored entries it
    /// reached that were valid until now.
    pub(crate) fn invalidate_at(&self, name: Name<'_>, at: u64) -> usize {
        let count = match name {
            Name::Path(path) => self.inner.count(|entry| entry.path() == path),
            Name::Tag(tag) => self
                .inner
                .count(|entry| entry.tags().iter().any(|t| &**t == tag)),
        };
        self.record(name, at);
        count
    }

    /// Replaces the record `from` of `name` by `to`, unless another record raised it since:
    /// a local invalidation recorded at an estimate, corrected to the shared store's time.
    pub(crate) fn correct(&self, name: Name<'_>, from: u64, to: u64) {
        let mut writes = lock(&self.inner.writes);
        let records = match name {
            Name::Path(_) => &mut writes.paths,
            Name::Tag(_) => &mut writes.tags,
        };
        let (Name::Path(text) | Name::Tag(text)) = name;
        if let Some(kept) = records.get_mut(text) {
            if *kept == from {
                *kept = to;
            }
        }
        self.fold(&mut writes, to);
    }

    /// Invalidates every entry made before `at`.
    pub(crate) fn floor(&self, at: u64) {
        let mut writes = lock(&self.inner.writes);
        writes.floor = writes.floor.max(at);
        self.fold(&mut writes, at);
    }

    /// Whether this store recorded an invalidation of `path` or one of `tags` after
    /// generation `born`.
    pub(crate) fn invalidates<'t>(
        &self,
        path: &str,
        tags: impl Iterator<Item = &'t str>,
        born: u64,
    ) -> bool {
        lock(&self.inner.writes).invalidates(path, tags, born)
    }

    /// Stores an entry known valid up to `checked`.
    pub(crate) fn put_checked(
        &self,
        key: &CacheKey<'_>,
        entry: Arc<CachedResponse>,
        checked: u64,
    ) -> bool {
        entry.checked.fetch_max(checked, Ordering::AcqRel);
        self.inner.put(key, entry)
    }

    /// The entry under `key`, checked against the records.
    pub(crate) fn lookup(&self, key: &CacheKey<'_>) -> Lookup {
        self.inner.get(key)
    }

    /// Raises the generation past every entry's last check (and to `at`), so that each is
    /// checked against the new record when next read, and folds the records into a floor
    /// when there are too many.
    ///
    /// Past every last check, not only to `at`: a record may be older than the generation
    /// (another clock's, or a floor below a local estimate), and an entry checked since would
    /// not be checked again.
    fn fold(&self, writes: &mut Writes, at: u64) {
        let generation = (self.inner.generation.load(Ordering::Acquire) + 1).max(at);
        if writes.paths.len() + writes.tags.len() > MAX_RECORDS {
            writes.paths.clear();
            writes.tags.clear();
            writes.floor = generation;
        }
        self.inner.generation.store(generation, Ordering::Release);
    }
}

impl Inner {
    /// How many stored entries `reaches` that are valid now.
    fn count(&self, reaches: impl Fn(&CachedResponse) -> bool) -> usize {
        let reached: Vec<Arc<CachedResponse>> = self
            .table
            .iter()
            .filter_map(|(_, entry)| reaches(&entry).then_some(entry))
            .collect();
        let writes = lock(&self.writes);
        reached.iter().filter(|e| !writes.invalidated(e)).count()
    }
}

impl CacheStore for MemoryStore {
    #[inline]
    fn get(&self, key: &CacheKey<'_>) -> StoreFuture<Result<Lookup, StoreError>> {
        StoreFuture::ready(Ok(self.inner.get(key)))
    }

    fn generation(&self) -> StoreFuture<Result<u64, StoreError>> {
        StoreFuture::ready(Ok(self.inner.generation.load(Ordering::Acquire)))
    }

    fn put(
        &self,
        key: &CacheKey<'_>,
        entry: Arc<CachedResponse>,
    ) -> StoreFuture<Result<bool, StoreError>> {
        StoreFuture::ready(Ok(self.inner.put(key, entry)))
    }

    fn remove(&self, key: &CacheKey<'_>) -> StoreFuture<Result<(), StoreError>> {
        self.inner.remove(key);
        StoreFuture::ready(Ok(()))
    }

    fn invalidate_path(&self, path: &str) -> StoreFuture<Result<Option<usize>, StoreError>> {
        let path = CacheKey::normalize_path(path);
        let count = self.inner.invalidate(
            |entry| entry.path() == path,
            |writes, generation| {
                writes.paths.insert(Box::from(&*path), generation);
            },
        );
        StoreFuture::ready(Ok(Some(count)))
    }

    fn invalidate_tag(&self, tag: &str) -> StoreFuture<Result<Option<usize>, StoreError>> {
        let count = self.inner.invalidate(
            |entry| entry.tags().iter().any(|t| &**t == tag),
            |writes, generation| {
                writes.tags.insert(tag.into(), generation);
            },
        );
        StoreFuture::ready(Ok(Some(count)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::EntryMeta;
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};
    use tokio::time::Instant;

    fn entry(path: &str, body: usize, tags: &[&str], generation: u64) -> Arc<CachedResponse> {
        let tags: Vec<Arc<str>> = tags.iter().map(|&t| t.into()).collect();
        Arc::new(CachedResponse::new(
            StatusCode::OK,
            HeaderMap::new(),
            Bytes::from(vec![b'x'; body]),
            EntryMeta::new(path, Instant::now())
                .tags(tags)
                .generation(generation),
        ))
    }

    fn get(store: &MemoryStore, path: &str) -> Lookup {
        let key = CacheKey::new(None, path);
        store.get(&key).into_ready().unwrap().unwrap()
    }

    fn put(store: &MemoryStore, path: &str, e: Arc<CachedResponse>) -> bool {
        let key = CacheKey::new(None, path);
        store.put(&key, e).into_ready().unwrap().unwrap()
    }

    fn generation(store: &MemoryStore) -> u64 {
        store.generation().into_ready().unwrap().unwrap()
    }

    #[test]
    fn keys_differing_in_any_byte_are_different_entries() {
        let store = MemoryStore::default();
        for len in 1..=20 {
            let path: String = std::iter::once('/').chain((1..len).map(|_| 'a')).collect();
            assert!(put(&store, &path, entry(&path, 1, &[], 0)));
        }
        for len in 2..=20 {
            for at in 1..len {
                let mut path: Vec<u8> = std::iter::once(b'/')
                    .chain((1..len).map(|_| b'a'))
                    .collect();
                path[at] = b'b';
                let path = String::from_utf8(path).unwrap();
                assert!(matches!(get(&store, &path), Lookup::Missing), "{path}");
            }
            let path: String = std::iter::once('/').chain((1..len).map(|_| 'a')).collect();
            assert!(matches!(get(&store, &path), Lookup::Found(e) if e.path() == path));
        }
    }

    #[test]
    fn same_bytes_is_equality() {
        let text = b"/api/users/0123456789abcdef";
        for len in 0..=text.len() {
            let a = &text[..len];
            let copy = a.to_vec();
            assert!(same_bytes(a, &copy));
            for at in 0..len {
                let mut b = a.to_vec();
                b[at] ^= 1;
                assert!(!same_bytes(a, &b), "{len} {at}");
            }
        }
    }

    #[test]
    fn put_then_get_returns_the_same_entry() {
        let store = MemoryStore::default();
        let e = entry("/a", 10, &[], 0);
        assert!(put(&store, "/a", e.clone()));
        assert!(matches!(get(&store, "/a"), Lookup::Found(f) if Arc::ptr_eq(&f, &e)));
        assert!(matches!(get(&store, "/b"), Lookup::Missing));
        assert_eq!(store.entry_count(), 1);
    }

    #[test]
    fn an_entry_heavier_than_its_share_is_reported_not_kept() {
        let store = MemoryStore::new(1 << 20);
        assert!(!put(&store, "/big", entry("/big", 2 << 20, &[], 0)));
        assert!(matches!(get(&store, "/big"), Lookup::Missing));
        assert!(put(&store, "/small", entry("/small", 1024, &[], 0)));
        assert_eq!(store.entry_count(), 1);
    }

    #[test]
    fn invalidating_a_path_or_tag_invalidates_older_entries_only() {
        let store = MemoryStore::default();
        assert!(put(&store, "/a", entry("/a", 1, &["t"], 0)));
        assert!(put(&store, "/b", entry("/b", 1, &["u"], 0)));
        store.invalidate_path("/a/").into_ready().unwrap().unwrap();
        assert!(matches!(get(&store, "/a"), Lookup::Invalidated));
        assert!(matches!(get(&store, "/b"), Lookup::Found(_)));
        store.invalidate_tag("u").into_ready().unwrap().unwrap();
        assert!(matches!(get(&store, "/b"), Lookup::Invalidated));
        // An entry made after the invalidation is valid.
        let g = generation(&store);
        assert!(put(&store, "/a", entry("/a", 1, &["t"], g)));
        assert!(matches!(get(&store, "/a"), Lookup::Found(_)));
    }

    #[test]
    fn a_put_fenced_by_a_later_invalidation_is_refused() {
        let store = MemoryStore::default();
        let g = generation(&store);
        store.invalidate_path("/a").into_ready().unwrap().unwrap();
        assert!(!put(&store, "/a", entry("/a", 1, &[], g)));
        assert!(matches!(get(&store, "/a"), Lookup::Missing));
        store.invalidate_tag("t").into_ready().unwrap().unwrap();
        assert!(!put(&store, "/b", entry("/b", 1, &["t"], g)));
        // Unrelated paths and tags are not fenced.
        assert!(put(&store, "/c", entry("/c", 1, &["other"], g)));
    }

    #[test]
    fn too_many_records_become_a_floor() {
        let store = MemoryStore::default();
        assert!(put(&store, "/keep", entry("/keep", 1, &[], 0)));
        for i in 0..=MAX_RECORDS {
            store
                .invalidate_path(&format!("/p{i}"))
                .into_ready()
                .unwrap()
                .unwrap();
        }
        let inner = lock(&store.inner.writes);
        assert!(inner.paths.len() <= MAX_RECORDS);
        assert!(inner.floor > 0);
        drop(inner);
        assert!(matches!(get(&store, "/keep"), Lookup::Invalidated));
        let g = generation(&store);
        assert!(put(&store, "/keep", entry("/keep", 1, &[], g)));
        assert!(matches!(get(&store, "/keep"), Lookup::Found(_)));
    }

    #[test]
    fn the_byte_budget_is_kept_by_evicting() {
        let store = MemoryStore::new(64 * 1024);
        for i in 0..64 {
            let path = format!("/e{i}");
            put(&store, &path, entry(&path, 4096, &[], 0));
        }
        assert!(
            store.weighted_size() <= 64 * 1024,
            "{}",
            store.weighted_size()
        );
        let held = store.entry_count();
        assert!((1..64).contains(&held), "{held}");
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_kept() {
        let store = MemoryStore::new(1024);
        put(&store, "/big", entry("/big", 4096, &[], 0));
        assert!(store.raw(&CacheKey::new(None, "/big")).is_none());
        assert_eq!(store.entry_count(), 0);
    }

    #[test]
    fn remove_removes() {
        let store = MemoryStore::default();
        put(&store, "/a", entry("/a", 1, &[], 0));
        store
            .remove(&CacheKey::new(None, "/a"))
            .into_ready()
            .unwrap()
            .unwrap();
        assert!(matches!(get(&store, "/a"), Lookup::Missing));
        assert_eq!(store.weighted_size(), 0);
    }

    #[test]
    fn hosts_are_separate_keys_but_one_path() {
        let store = MemoryStore::default();
        let a = CacheKey::new(Some("a.test"), "/x");
        let b = CacheKey::new(Some("b.test"), "/x");
        store
            .put(&a, entry("/x", 1, &[], 0))
            .into_ready()
            .unwrap()
            .unwrap();
        assert!(matches!(
            store.get(&b).into_ready().unwrap().unwrap(),
            Lookup::Missing
        ));
        store
            .put(&b, entry("/x", 2, &[], 0))
            .into_ready()
            .unwrap()
            .unwrap();
        store.invalidate_path("/x").into_ready().unwrap().unwrap();
        for key in [&a, &b] {
            assert!(matches!(
                store.get(key).into_ready().unwrap().unwrap(),
                Lookup::Invalidated
            ));
        }
    }

    #[test]
    fn as_a_memory_tier_it_takes_generations_from_another_clock() {
        let store = MemoryStore::default();
        let at = 1_000_000;
        assert!(store.put_checked(&CacheKey::new(None, "/a"), entry("/a", 1, &["t"], at), at));
        assert!(put(&store, "/b", entry("/b", 1, &["u"], at)));
        // A remote record after the entries invalidates the one it names.
        store.record(Name::Tag("t"), at + 5);
        assert!(matches!(get(&store, "/a"), Lookup::Invalidated));
        assert!(matches!(get(&store, "/b"), Lookup::Found(_)));
        // A record keeps the later of two times.
        store.record(Name::Tag("t"), at + 1);
        assert!(store.invalidates("/x", ["t"].into_iter(), at + 4));
        // A local estimate corrected to the shared clock: lowered below the entry, which is
        // valid again; a record raised since is not lowered.
        let estimate = at + 10;
        assert_eq!(store.invalidate_at(Name::Path("/b"), estimate), 1);
        assert!(matches!(get(&store, "/b"), Lookup::Invalidated));
        store.correct(Name::Path("/b"), estimate, at - 1);
        assert!(matches!(get(&store, "/b"), Lookup::Found(_)));
        store.record(Name::Path("/b"), at + 20);
        store.correct(Name::Path("/b"), at + 10, at - 1);
        assert!(matches!(get(&store, "/b"), Lookup::Invalidated));
        // A floor invalidates everything made before it, also below the generation the
        // entry was last checked at.
        assert!(put(&store, "/c", entry("/c", 1, &[], at + 30)));
        store.record(Name::Tag("later"), at + 40);
        assert!(matches!(get(&store, "/c"), Lookup::Found(_)));
        store.floor(at + 31);
        assert!(matches!(get(&store, "/c"), Lookup::Invalidated));
        assert!(!store.invalidates("/c", std::iter::empty(), at + 31));
    }

    #[test]
    fn an_entry_of_an_older_generation_does_not_replace_a_newer_one() {
        let store = MemoryStore::default();
        assert!(put(&store, "/g", entry("/g", 4, &[], 5)));
        assert!(!put(&store, "/g", entry("/g", 4, &[], 3)));
        let Lookup::Found(found) = get(&store, "/g") else {
            panic!("the newer entry stays");
        };
        assert_eq!(found.generation(), 5);
        assert!(put(&store, "/g", entry("/g", 4, &[], 5)));
        assert!(put(&store, "/g", entry("/g", 4, &[], 6)));
    }
}
