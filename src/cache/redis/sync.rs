//! The store's background tasks: the resync (which also probes a Redis the breaker cut off,
//! and replays the invalidations it missed), and the pub/sub subscriber.

use std::sync::{Arc, Weak};

use futures_util::StreamExt;
use tokio::{sync::watch, time::Instant};

use super::{Inner, RESYNC_MAX, codec, lock, memory_name};

/// Every resync interval: probe Redis when the breaker is open, replay what was recorded
/// here while it was unreachable, and read the invalidations recorded since the last resync.
pub(super) async fn resync(store: Weak<Inner>, mut stopped: watch::Receiver<()>) {
    let mut cursor = Cursor::default();
    loop {
        let Some(strong) = store.upgrade() else {
            return;
        };
        strong.sync_once(&mut cursor).await;
        let every = strong.config.resync;
        drop(strong);
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Listens for the invalidations other instances publish, reconnecting each resync interval
/// while it cannot.
pub(super) async fn subscribe(
    store: Weak<Inner>,
    client: redis::Client,
    mut stopped: watch::Receiver<()>,
) {
    loop {
        let Some(strong) = store.upgrade() else {
            return;
        };
        let (every, channel, bound) = (
            strong.config.resync,
            strong.channel.clone(),
            strong.config.timeout.saturating_mul(10),
        );
        let open = !strong.breaker.is_open();
        drop(strong);
        if open {
            if let Ok(Ok(mut pubsub)) = tokio::time::timeout(bound, client.get_async_pubsub()).await
            {
                let subscribed = tokio::time::timeout(bound, pubsub.subscribe(&channel)).await;
                if matches!(subscribed, Ok(Ok(()))) {
                    let mut messages = pubsub.into_on_message();
                    loop {
                        tokio::select! {
                            message = messages.next() => {
                                let Some(message) = message else { break };
                                let Some(strong) = store.upgrade() else { return };
                                if let Ok(payload) = message.get_payload::<String>() {
                                    if let Some((at, name)) = payload.split_once(' ') {
                                        if let Ok(at) = at.parse::<u64>() {
                                            strong.heard(name, at);
                                        }
                                    }
                                }
                            }
                            _ = stopped.changed() => return,
                        }
                    }
                    tracing::debug!(%channel, "pub/sub connection lost; the resync covers the gap");
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// Where the last resync that succeeded left off.
#[derive(Default)]
pub(super) struct Cursor {
    /// Its Redis time.
    at: Option<u64>,
}

impl Inner {
    /// One resync.
    async fn sync_once(self: &Arc<Self>, cursor: &mut Cursor) {
        if self.breaker.is_open() {
            let mut conn = self.conn();
            let ping = redis::cmd("PING");
            if self
                .probe("probe", ping.query_async::<String>(&mut conn))
                .await
                .is_err()
            {
                return;
            }
        }
        self.replay().await;
        let from = cursor
            .at
            .map_or_else(|| "+inf".to_owned(), |at| at.to_string());
        let sent = Instant::now();
        let mut conn = self.conn();
        // Bytes, not text: a member that is not UTF-8 (none this store writes) is skipped,
        // not a failed resync.
        let reply: Result<Vec<Vec<u8>>, _> = self
            .call(
                "resync",
                self.scripts
                    .resync
                    .key(&self.records)
                    .arg(from)
                    .arg(RESYNC_MAX)
                    .invoke_async(&mut conn),
            )
            .await;
        let Ok(reply) = reply else {
            return;
        };
        let number = |bytes: &[u8]| std::str::from_utf8(bytes).ok()?.parse::<u64>().ok();
        let Some(now) = reply.first().and_then(|t| number(t)) else {
            return;
        };
        self.clock.learn(now, sent);
        let records = &reply[1..];
        let retention = u64::try_from(self.config.entry_ttl.as_micros()).unwrap_or(u64::MAX);
        let gap = cursor
            .at
            .is_some_and(|at| now.saturating_sub(at) > retention);
        if records.len() / 2 > RESYNC_MAX || gap {
            // Records this instance did not read may be gone: nothing in memory is trusted.
            tracing::warn!(
                prefix = %self.prefix,
                too_many = records.len() / 2 > RESYNC_MAX,
                out_of_touch = gap,
                "invalidations may have been missed: every entry in memory is invalidated"
            );
            self.l1.floor(now);
        } else {
            for pair in records.chunks_exact(2) {
                if let (Ok(name), Some(at)) = (std::str::from_utf8(&pair[0]), number(&pair[1])) {
                    self.heard(name, at);
                }
            }
        }
        self.synced
            .fetch_max(now, std::sync::atomic::Ordering::Relaxed);
        cursor.at = Some(now);
    }

    /// Records in Redis the invalidations made here while it was unreachable.
    async fn replay(&self) {
        let (names, overflow) = {
            let mut replay = lock(&self.replay);
            (std::mem::take(&mut replay.names), replay.overflow.take())
        };
        if overflow.is_some() && self.record(codec::ALL).await.is_err() {
            lock(&self.replay).overflow = overflow;
            return;
        }
        let count = names.len();
        let mut names = names.into_iter();
        while let Some((name, at)) = names.next() {
            match self.record(&name).await {
                Ok(time) => {
                    if let Some(local) = memory_name(&name) {
                        self.l1.correct(local, at, time);
                    }
                }
                Err(_) => {
                    for (name, at) in std::iter::once((name, at)).chain(names) {
                        self.queue(name, at);
                    }
                    return;
                }
            }
        }
        if count > 0 || overflow.is_some() {
            tracing::info!(prefix = %self.prefix, count, everything = overflow.is_some(), "invalidations replayed to Redis");
        }
    }
}
