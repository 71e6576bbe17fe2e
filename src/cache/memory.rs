//! [`MemoryStore`], the bounded in-process [`CacheStore`].

use std::{
    collections::HashMap,
    fmt,
    hash::{BuildHasher, Hash, Hasher},
    sync::{
        Arc, Mutex, MutexGuard, PoisonError, RwLock,
        atomic::{AtomicU64, Ordering},
    },
};

use hashbrown::HashTable;

use super::store::{CacheKey, CacheStore, CachedResponse, Lookup, StoreError, StoreFuture};

/// The default byte budget of a [`MemoryStore`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: u64 = 64 * 1024 * 1024;

/// Invalidation records kept before they are folded into one floor generation.
const MAX_RECORDS: usize = 4096;

/// One hit in this many (per thread) is reported to the eviction policy. A report is a moka
/// `get`, which also runs moka's maintenance now and then; at one in 32 it was a fifth of
/// the cost of a hit.
const TOUCH_EVERY: u32 = 1024;

const SHARDS: usize = 16;

/// A bounded in-memory [`CacheStore`]: entries up to a byte budget, least valuable evicted
/// first.
///
/// # How it is built
///
/// [moka](https://docs.rs/moka) decides what to keep: every entry is weighed (body, headers
/// and a fixed overhead; see [`CachedResponse::weight`]) and moka evicts by its TinyLFU
/// policy when the budget is exceeded. Lookups do not go through moka, whose `get`
/// measured about ten times a `HashMap` lookup: a sharded index of `RwLock`ed hash tables
/// holds the same entries, found with the key's precomputed hash, and one hit in
/// 1024 per thread is reported to moka so that its frequency estimates stay right.
/// Every write (put, remove, eviction) happens under one mutex, in an order that keeps the
/// index and moka holding the same entries.
///
/// The index is a [`hashbrown::HashTable`] (the table behind `std`'s `HashMap`, already in
/// the dependency tree), which finds entries by a hash computed elsewhere: the key's,
/// computed once per request, or once per route for its literal path.
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

type Index = HashTable<(CacheKey<'static>, Arc<CachedResponse>)>;

/// Entries moka evicted, waiting to leave the index.
type Evicted = Arc<Mutex<Vec<(Arc<PolicyKey>, Held)>>>;

struct Inner {
    shards: Box<[RwLock<Index>]>,
    policy: moka::sync::Cache<PolicyKey, Held, PassThrough>,
    generation: AtomicU64,
    writes: Mutex<Writes>,
    evicted: Evicted,
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
        let born = entry.generation();
        born < self.floor
            || self.paths.get(entry.path()).is_some_and(|&g| g > born)
            || entry
                .tags()
                .iter()
                .any(|t| self.tags.get(&**t).is_some_and(|&g| g > born))
    }
}

/// How moka knows an entry: by its key's hash alone. moka's table keeps the key of a
/// removed entry for a while (a tombstone), so a key of moka's own must be small: a store of
/// long keys would otherwise hold memory far past its budget. Two keys with one 64-bit hash
/// (keyed per process, so not to be forced by a client) are one moka entry, and the index
/// keeps only the newer of them.
#[derive(Clone, Copy, PartialEq, Eq)]
struct PolicyKey(u64);

impl PolicyKey {
    fn of(key: &CacheKey<'_>) -> Self {
        Self(key.precomputed_hash())
    }
}

impl Hash for PolicyKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.0);
    }
}

/// What moka holds of an entry: the entry, and the length of the key the index holds it
/// under (its text is counted with the entry).
#[derive(Clone)]
struct Held {
    entry: Arc<CachedResponse>,
    key_len: u32,
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

thread_local! {
    static HITS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

impl MemoryStore {
    /// A store holding up to `max_bytes` of entries.
    pub fn new(max_bytes: u64) -> Self {
        let evicted: Evicted = Arc::default();
        let sink = evicted.clone();
        let policy = moka::sync::Cache::builder()
            .max_capacity(max_bytes)
            // The index's key is counted with the entry (moka's key is its hash).
            .weigher(|_: &PolicyKey, held: &Held| held.entry.weight().saturating_add(held.key_len))
            .eviction_listener(move |key, held, cause| {
                if cause != moka::notification::RemovalCause::Replaced {
                    lock(&sink).push((key, held));
                }
            })
            .build_with_hasher(PassThrough);
        Self {
            inner: Arc::new(Inner {
                shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
                policy,
                generation: AtomicU64::new(0),
                writes: Mutex::new(Writes {
                    paths: HashMap::new(),
                    tags: HashMap::new(),
                    floor: 0,
                }),
                evicted,
                max_bytes,
            }),
        }
    }

    /// The byte budget.
    pub fn max_bytes(&self) -> u64 {
        self.inner.max_bytes
    }

    /// The bytes held, by [`CachedResponse::weight`].
    pub fn weighted_size(&self) -> u64 {
        let _writes = lock(&self.inner.writes);
        self.inner.policy.run_pending_tasks();
        self.inner.drain_evicted();
        self.inner.policy.weighted_size()
    }

    /// The number of entries held.
    pub fn entry_count(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// The entry under `key` without the validity check, for tests.
    #[cfg(test)]
    fn raw(&self, key: &CacheKey<'_>) -> Option<Arc<CachedResponse>> {
        self.inner.find(key)
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
    fn shard(&self, hash: u64) -> &RwLock<Index> {
        // The low bits pick the bucket inside a table; use high bits for the shard.
        &self.shards[(hash >> 60) as usize % SHARDS]
    }

    #[inline(always)]
    fn find(&self, key: &CacheKey<'_>) -> Option<Arc<CachedResponse>> {
        let hash = key.precomputed_hash();
        let shard = self
            .shard(hash)
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        shard.find(hash, |(k, _)| k == key).map(|(_, e)| e.clone())
    }

    /// Applies moka's evictions to the index. Runs under the `writes` lock, after every
    /// moka call that may evict and after every index insert, so an entry evicted while it
    /// was being inserted leaves the index too.
    fn drain_evicted(&self) {
        let evicted = std::mem::take(&mut *lock(&self.evicted));
        for (key, held) in evicted {
            let hash = key.0;
            let mut shard = self
                .shard(hash)
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if let Ok(found) = shard.find_entry(hash, |(_, e)| Arc::ptr_eq(e, &held.entry)) {
                found.remove();
            }
        }
    }

    fn index_insert(&self, key: CacheKey<'static>, entry: Arc<CachedResponse>) {
        let hash = key.precomputed_hash();
        let mut shard = self
            .shard(hash)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        // Another key of the same hash is one moka entry with this one: it leaves.
        if let Ok(other) =
            shard.find_entry(hash, |(k, _)| k.precomputed_hash() == hash && k != &key)
        {
            other.remove();
        }
        match shard.find_entry(hash, |(k, _)| k == &key) {
            Ok(mut found) => found.get_mut().1 = entry,
            Err(absent) => {
                absent
                    .into_table()
                    .insert_unique(hash, (key, entry), |(k, _)| k.precomputed_hash());
            }
        }
    }

    fn index_remove(&self, key: &CacheKey<'_>) {
        let hash = key.precomputed_hash();
        let mut shard = self
            .shard(hash)
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if let Ok(found) = shard.find_entry(hash, |(k, _)| k == key) {
            found.remove();
        }
    }

    /// Reports a hit to moka, now and then, so its frequency sketch sees reads.
    fn touch(&self, key: &CacheKey<'_>) {
        let due = HITS.with(|hits| {
            let n = hits.get().wrapping_add(1);
            hits.set(n);
            n % TOUCH_EVERY == 0
        });
        if due {
            if let Ok(_writes) = self.writes.try_lock() {
                self.policy.get(&PolicyKey::of(key));
                self.drain_evicted();
            }
        }
    }

    fn get(&self, key: &CacheKey<'_>) -> Lookup {
        let Some(entry) = self.find(key) else {
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
        self.touch(key);
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
            .find(key)
            .is_some_and(|stored| stored.generation() > entry.generation())
        {
            return false;
        }
        entry
            .checked
            .fetch_max(self.generation.load(Ordering::Acquire), Ordering::AcqRel);
        let key = key.clone().into_owned();
        let held = Held {
            entry: entry.clone(),
            key_len: u32::try_from(key.as_str().len()).unwrap_or(u32::MAX),
        };
        self.policy.insert(PolicyKey::of(&key), held);
        self.index_insert(key, entry);
        self.policy.run_pending_tasks();
        self.drain_evicted();
        drop(writes);
        true
    }

    fn remove(&self, key: &CacheKey<'_>) {
        let _writes = lock(&self.writes);
        self.policy.invalidate(&PolicyKey::of(key));
        self.index_remove(key);
        self.drain_evicted();
    }

    fn invalidate(&self, record: impl FnOnce(&mut Writes, u64)) {
        let mut writes = lock(&self.writes);
        let generation = self.generation.load(Ordering::Acquire) + 1;
        record(&mut writes, generation);
        if writes.paths.len() + writes.tags.len() > MAX_RECORDS {
            writes.paths.clear();
            writes.tags.clear();
            writes.floor = generation;
        }
        self.generation.store(generation, Ordering::Release);
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

    fn invalidate_path(&self, path: &str) -> StoreFuture<Result<(), StoreError>> {
        let path = CacheKey::normalize_path(path);
        self.inner.invalidate(|writes, generation| {
            writes.paths.insert(path.into(), generation);
        });
        StoreFuture::ready(Ok(()))
    }

    fn invalidate_tag(&self, tag: &str) -> StoreFuture<Result<(), StoreError>> {
        self.inner.invalidate(|writes, generation| {
            writes.tags.insert(tag.into(), generation);
        });
        StoreFuture::ready(Ok(()))
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
    fn put_then_get_returns_the_same_entry() {
        let store = MemoryStore::default();
        let e = entry("/a", 10, &[], 0);
        assert!(put(&store, "/a", e.clone()));
        assert!(matches!(get(&store, "/a"), Lookup::Found(f) if Arc::ptr_eq(&f, &e)));
        assert!(matches!(get(&store, "/b"), Lookup::Missing));
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
        // The index holds exactly what the policy holds.
        assert_eq!(held as u64, store.inner.policy.entry_count());
    }

    #[test]
    fn an_entry_larger_than_the_budget_is_not_kept() {
        let store = MemoryStore::new(1024);
        put(&store, "/big", entry("/big", 4096, &[], 0));
        store.weighted_size();
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
