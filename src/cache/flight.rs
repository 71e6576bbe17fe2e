//! The fills running, by key, and the marks a finished fill leaves: one fill per key at a
//! time (the others wait on it), a back-off after a failed regeneration, and a key whose
//! response is too large to store.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_util::future::Shared as SharedFuture;
use hashbrown::HashTable;
use tokio::{sync::oneshot, time::Instant};

use super::{CacheStatus, Shared, fill::Outcome, store::CacheKey};

/// Past this many entries, expired marks are dropped when a fill starts.
const PRUNE_AT: usize = 1024;

/// At most this many marks are kept, and only for keys up to this long: marks are a
/// hint, and a flood of distinct keys must not grow them without bound.
const MAX_MARKS: usize = 4096;
const MAX_MARKED_KEY: usize = 2048;

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the requests waiting on a fill receive when it ends.
pub(crate) type SharedOutcome = SharedFuture<oneshot::Receiver<Arc<Outcome>>>;

/// The state of one key.
pub(crate) enum Flight {
    /// A fill is running; requests for the key wait on its outcome.
    Running {
        id: u64,
        outcome: SharedOutcome,
        /// How the requests that wait are answered: `MISS` or `REVALIDATED`.
        status: CacheStatus,
    },
    /// A mark left by a finished fill.
    Mark(Mark),
}

/// What a finished fill leaves behind for its key.
#[derive(Clone)]
pub(crate) enum Mark {
    /// The regeneration of a stale entry failed: the stale entry stays in service, and the
    /// next regeneration waits until then.
    BackOff { until: Instant },
    /// The response was over the body size cap: until then, requests for the key stream
    /// straight from the handler, without buffering or waiting on one another. The tags are
    /// the response's, so that invalidating one of them clears the mark.
    TooLarge {
        until: Instant,
        tags: Arc<[Arc<str>]>,
    },
}

impl Mark {
    fn until(&self) -> Instant {
        match self {
            Self::BackOff { until } | Self::TooLarge { until, .. } => *until,
        }
    }
}

/// The flights and marks, by key.
#[derive(Default)]
pub(crate) struct Flights {
    table: HashTable<(CacheKey<'static>, Flight)>,
    marks: usize,
}

impl Flights {
    pub(crate) fn find(&self, key: &CacheKey<'_>) -> Option<&Flight> {
        self.table
            .find(key.precomputed_hash(), |(k, _)| k == key)
            .map(|(_, f)| f)
    }

    /// The mark of `key` that is still in force.
    pub(crate) fn mark(&self, key: &CacheKey<'_>, now: Instant) -> Option<&Mark> {
        match self.find(key)? {
            Flight::Mark(mark) if now < mark.until() => Some(mark),
            _ => None,
        }
    }

    /// Registers a running fill of `key`, replacing a mark.
    pub(crate) fn start(
        &mut self,
        shared: &Arc<Shared>,
        key: &CacheKey<'static>,
        status: CacheStatus,
    ) -> (oneshot::Sender<Arc<Outcome>>, SharedOutcome, FlightGuard) {
        use futures_util::FutureExt;
        use std::sync::atomic::Ordering;

        if self.table.len() >= PRUNE_AT {
            let now = Instant::now();
            self.retain(|_, flight| !matches!(flight, Flight::Mark(mark) if mark.until() <= now));
        }
        let (tx, rx) = oneshot::channel();
        let outcome = rx.shared();
        let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
        self.set(
            key,
            Flight::Running {
                id,
                outcome: outcome.clone(),
                status,
            },
        );
        let guard = FlightGuard {
            shared: shared.clone(),
            key: key.clone(),
            id,
            mark: None,
        };
        (tx, outcome, guard)
    }

    fn set(&mut self, key: &CacheKey<'static>, flight: Flight) {
        let hash = key.precomputed_hash();
        let is_mark = matches!(flight, Flight::Mark(_));
        match self.table.find_entry(hash, |(k, _)| k == key) {
            Ok(mut found) => {
                let was_mark = matches!(found.get().1, Flight::Mark(_));
                found.get_mut().1 = flight;
                self.marks = self.marks - usize::from(was_mark) + usize::from(is_mark);
            }
            Err(absent) => {
                absent
                    .into_table()
                    .insert_unique(hash, (key.clone(), flight), |(k, _)| k.precomputed_hash());
                self.marks += usize::from(is_mark);
            }
        }
    }

    /// Ends the flight `id` of `key`, leaving `mark` when given one (and there is room).
    fn finish(&mut self, key: &CacheKey<'_>, id: u64, mark: Option<Mark>) {
        let Ok(mut found) = self
            .table
            .find_entry(key.precomputed_hash(), |(k, _)| k == key)
        else {
            return;
        };
        if !matches!(found.get().1, Flight::Running { id: running, .. } if running == id) {
            return;
        }
        let room = self.marks < MAX_MARKS && key.as_str().len() <= MAX_MARKED_KEY;
        match mark {
            Some(mark) if room => {
                found.get_mut().1 = Flight::Mark(mark);
                self.marks += 1;
            }
            _ => {
                found.remove();
            }
        }
    }

    /// Keeps only the flights and marks `keep` selects, so that requests after an
    /// invalidation start a fill of their own.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&CacheKey<'_>, &Flight) -> bool) {
        let mut marks = 0;
        self.table.retain(|(k, f)| {
            let kept = keep(k, f);
            marks += usize::from(kept && matches!(f, Flight::Mark(_)));
            kept
        });
        self.marks = marks;
    }

    /// Detaches what an invalidation of `path` (on any host) makes obsolete: its fills and
    /// its marks.
    pub(crate) fn detach_path(&mut self, path: &str) {
        self.retain(|key, _| key.path() != path);
    }

    /// Detaches what an invalidation of `tag` makes obsolete: every running fill, since
    /// the tags a response will carry ([`CacheTags`](super::CacheTags)) are known only when
    /// it ends, and the too-large marks of responses that carried the tag.
    pub(crate) fn detach_tag(&mut self, tag: &str) {
        self.retain(|_, flight| match flight {
            Flight::Running { .. } => false,
            Flight::Mark(Mark::TooLarge { tags, .. }) => !tags.iter().any(|t| &**t == tag),
            Flight::Mark(Mark::BackOff { .. }) => true,
        });
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.table.len()
    }

    #[cfg(test)]
    pub(crate) fn marks(&self) -> impl Iterator<Item = &Mark> {
        self.table.iter().filter_map(|(_, f)| match f {
            Flight::Mark(mark) => Some(mark),
            Flight::Running { .. } => None,
        })
    }
}

/// Ends a flight when dropped, whether its fill finished, failed or panicked.
pub(crate) struct FlightGuard {
    shared: Arc<Shared>,
    key: CacheKey<'static>,
    id: u64,
    mark: Option<Mark>,
}

impl FlightGuard {
    /// Leaves `mark` for the key when the flight ends.
    pub(crate) fn leave(&mut self, mark: Mark) {
        self.mark = Some(mark);
    }
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        lock(&self.shared.flights).finish(&self.key, self.id, self.mark.take());
    }
}
