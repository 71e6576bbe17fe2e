//! Second adversarial round against `RedisStore`: the local clock estimate against Redis'
//! `TIME`, records lost without an epoch change, folding into `*`, and settings. Every test
//! runs against a real `redis-server` (see `redis_support`). Each guards a fault
//! found and fixed, or a claim that held.
#![allow(dead_code)]

mod redis_support;
mod support;

/// The fields of a hash written at an entry key.
type Fields = Vec<(&'static str, Vec<u8>)>;

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use http::{HeaderMap, HeaderValue, StatusCode};
use redis_support::RedisServer;
use route_handlers::{
    IntoResponse, RouteHandler, Routes,
    cache::{Cache, CacheTags, Dynamic, RedisStore, RedisStoreBuilder, StoreStats},
};
use support::{Proto, TestServer, send};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    time::Instant,
};

const STATUS: &str = "x-route-cache";

/// What every instance's handlers read and count.
#[derive(Clone, Default)]
struct Origin {
    runs: Arc<Mutex<HashMap<&'static str, u64>>>,
    version: Arc<AtomicU64>,
    /// `/item`'s handler sleeps this long (ms) after it read the version.
    item_delay_ms: Arc<AtomicU64>,
    /// What `/script` does on its next run: 0 answers, 1 panics, 2 answers 500 (then 0).
    script: Arc<AtomicU64>,
}

impl Origin {
    fn run(&self, route: &'static str) -> u64 {
        let mut runs = self.runs.lock().unwrap();
        let n = runs.entry(route).or_default();
        *n += 1;
        *n
    }

    fn runs(&self, route: &'static str) -> u64 {
        self.runs.lock().unwrap().get(route).copied().unwrap_or(0)
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
    }

    fn bump(&self) -> u64 {
        self.version.fetch_add(1, Ordering::SeqCst) + 1
    }
}

/// The body of the large route: over a small `max_entry_size`, under the body cap.
const BIG: usize = 8 * 1024;

fn routes(origin: &Origin, cache: &Cache) -> Routes {
    let o = origin.clone();
    let item = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.run("/item");
                let v = o.version();
                let delay = o.item_delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                format!("item v{v}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(3600)
        .tags(["items"]);
    let o = origin.clone();
    let swr = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                let n = o.run("/swr");
                tokio::time::sleep(Duration::from_millis(300)).await;
                format!("swr run {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(2)
        .tags(["swr"]);
    let o = origin.clone();
    let weird = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.run("/weird");
                let mut res = format!("weird v{}", o.version()).into_response();
                res.extensions_mut().insert(CacheTags::new(["a\nb", "x y"]));
                res
            }
        })
        .dynamic(Dynamic::ForceStatic);
    let o = origin.clone();
    let star = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.run("/star");
                let mut res = format!("star v{}", o.version()).into_response();
                res.extensions_mut().insert(CacheTags::new(["*"]));
                res
            }
        })
        .dynamic(Dynamic::ForceStatic);
    let o = origin.clone();
    let big = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.run("/big");
                "b".repeat(BIG)
            }
        })
        .dynamic(Dynamic::ForceStatic);
    let o = origin.clone();
    let cookie = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                let n = o.run("/cookie");
                let mut res = format!("cookie run {n}").into_response();
                res.headers_mut().insert(
                    "set-cookie",
                    HeaderValue::from_str(&format!("session=secret-{n}")).unwrap(),
                );
                res
            }
        })
        .dynamic(Dynamic::ForceStatic);
    let o = origin.clone();
    let script = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                let n = o.run("/script");
                let what = o.script.swap(0, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(300)).await;
                match what {
                    1 => panic!("scripted panic under a lease"),
                    2 => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed {n}")).into_response(),
                    _ => format!("script run {n}").into_response(),
                }
            }
        })
        .dynamic(Dynamic::ForceStatic);
    let o = origin.clone();
    let h = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.run("/h");
                let v = o.version();
                let delay = o.item_delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                format!("h v{v}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .tags(["h"]);
    let o = origin.clone();
    let host = RouteHandler::new()
        .get(move |headers: HeaderMap| {
            let o = o.clone();
            async move {
                o.run("/host");
                let host = headers
                    .get(http::header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .unwrap_or("none")
                    .to_owned();
                format!("host {host} v{}", o.version())
            }
        })
        .dynamic(Dynamic::ForceStatic);
    Routes::new()
        .cache(cache)
        .route("/item", item)
        .route("/swr", swr)
        .route("/weird", weird)
        .route("/star", star)
        .route("/big", big)
        .route("/cookie", cookie)
        .route("/script", script)
        .route("/h/[id]", h)
        .route("/host", host)
}

struct Instance {
    store: RedisStore,
    cache: Cache,
    server: TestServer,
}

impl Instance {
    fn stats(&self) -> StoreStats {
        self.store.stats()
    }
}

fn store(url: &str, deployment: &str) -> RedisStoreBuilder {
    RedisStore::builder(url)
        .deployment_id(deployment)
        .resync(Duration::from_millis(200))
        .staleness_bound(Duration::from_secs(1))
        .timeout(Duration::from_millis(100))
}

async fn instance(builder: RedisStoreBuilder, origin: &Origin) -> Instance {
    instance_with(builder, origin, |c| c).await
}

async fn instance_with(
    builder: RedisStoreBuilder,
    origin: &Origin,
    cache: impl FnOnce(route_handlers::cache::CacheBuilder) -> route_handlers::cache::CacheBuilder,
) -> Instance {
    let store = builder.build().expect("store");
    let cache = cache(Cache::builder().store(store.clone())).build();
    let table = routes(origin, &cache).build();
    let server = support::serve(table).await;
    Instance {
        store,
        cache,
        server,
    }
}

async fn get(at: &Instance, path: &str) -> support::Reply {
    send(Proto::H1, at.server.addr, "GET", path, &[], "").await
}

/// Polls until `done` holds, up to `limit`; answers how long it took.
async fn within(limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if done().await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

/// A connection of the test's own, for binary writes.
async fn raw_redis(redis: &RedisServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// Redis' `TIME`, in µs.
async fn redis_time(conn: &mut redis::aio::MultiplexedConnection) -> u64 {
    let (s, us): (u64, u64) = redis::cmd("TIME").query_async(conn).await.unwrap();
    s * 1_000_000 + us
}

/// Whether `name` is recorded in `d1`'s invalidations (a nil is `$-1`, which also starts
/// with `$`).
fn recorded(redis: &RedisServer, name: &str) -> bool {
    let reply = redis.command(&["ZSCORE", "rh:{d1}:inv", name]);
    reply.starts_with('$') && reply != "$-1"
}

/// The bytes of an entry in the store's format (see `codec.rs`).
fn encode(
    status: u16,
    created: u64,
    revalidate_ms: u64,
    fields: &[(&[u8], &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&status.to_be_bytes());
    out.extend_from_slice(&created.to_be_bytes());
    out.extend_from_slice(&revalidate_ms.to_be_bytes());
    out.extend_from_slice(&u16::try_from(fields.len()).unwrap().to_be_bytes());
    for (name, value) in fields {
        out.extend_from_slice(&u16::try_from(name.len()).unwrap().to_be_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(&u32::try_from(value.len()).unwrap().to_be_bytes());
        out.extend_from_slice(value);
    }
    out.extend_from_slice(body);
    out
}

async fn hset(conn: &mut redis::aio::MultiplexedConnection, key: &str, fields: &[(&str, &[u8])]) {
    let _: () = redis::cmd("DEL").arg(key).query_async(conn).await.unwrap();
    let mut cmd = redis::cmd("HSET");
    cmd.arg(key);
    for (f, v) in fields {
        cmd.arg(*f).arg(*v);
    }
    let _: () = cmd.query_async(conn).await.unwrap();
}

// ---------------------------------------------------------------------------------------
// A proxy that delays each direction on its own (one-way latency), or blackholes
// ---------------------------------------------------------------------------------------

/// A TCP proxy in front of Redis that delays the bytes of each direction by its own amount
/// (each chunk by that amount from when it was read, so pipelined calls are not serialized),
/// and can hold every byte (blackhole).
struct SkewProxy {
    addr: SocketAddr,
    /// Client to Redis, ms.
    up_ms: Arc<AtomicU64>,
    /// Redis to client, ms.
    down_ms: Arc<AtomicU64>,
    hole: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl SkewProxy {
    async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up_ms = Arc::new(AtomicU64::new(0));
        let down_ms = Arc::new(AtomicU64::new(0));
        let hole = Arc::new(AtomicBool::new(false));
        let (up, down, h) = (up_ms.clone(), down_ms.clone(), hole.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let (up, down, h) = (up.clone(), down.clone(), h.clone());
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::join!(
                        skew_relay(cr, sw, up, h.clone()),
                        skew_relay(sr, cw, down, h)
                    );
                });
            }
        });
        Self {
            addr,
            up_ms,
            down_ms,
            hole,
            task,
        }
    }

    fn url(&self) -> String {
        format!("redis://{}/", self.addr)
    }

    fn delays(&self, up_ms: u64, down_ms: u64) {
        self.up_ms.store(up_ms, Ordering::SeqCst);
        self.down_ms.store(down_ms, Ordering::SeqCst);
    }

    fn blackhole(&self, on: bool) {
        self.hole.store(on, Ordering::SeqCst);
    }
}

impl Drop for SkewProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn skew_relay(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay_ms: Arc<AtomicU64>,
    hole: Arc<AtomicBool>,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let due = Instant::now() + Duration::from_millis(delay_ms.load(Ordering::SeqCst));
            if tx.send((due, buf[..n].to_vec())).is_err() {
                return;
            }
        }
    };
    let writer = async move {
        while let Some((due, bytes)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            while hole.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if to.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    tokio::join!(reader, writer);
}

/// An entry's field in Redis (`g` for its generation), as text.
async fn entry_field(
    conn: &mut redis::aio::MultiplexedConnection,
    key: &str,
    field: &str,
) -> Option<String> {
    redis::cmd("HGET")
        .arg(key)
        .arg(field)
        .query_async(conn)
        .await
        .unwrap()
}

async fn score(conn: &mut redis::aio::MultiplexedConnection, name: &str) -> Option<u64> {
    let s: Option<String> = redis::cmd("ZSCORE")
        .arg("rh:{d1}:inv")
        .arg(name)
        .query_async(conn)
        .await
        .unwrap();
    s.map(|s| s.parse::<f64>().unwrap() as u64)
}

// ---------------------------------------------------------------------------------------
// The clock: the local estimate of Redis' TIME against the times Redis answers
// ---------------------------------------------------------------------------------------

/// Settings for the instance behind the skewing proxy: calls that take a second each still
/// answer, and no resync comes during the test to learn the offset again.
fn slow_store(url: &str) -> RedisStoreBuilder {
    RedisStore::builder(url)
        .deployment_id("d1")
        .timeout(Duration::from_millis(1500))
        .resync(Duration::from_secs(60))
        .staleness_bound(Duration::from_secs(120))
}

/// A's last call that carried a time (a fill's `TIME`) had its reply delayed on the way
/// back: A's estimate of Redis' clock lags (it takes Redis' time to be the midpoint of the
/// call). A then reads `/item` from Redis (the memory copy is stamped with Redis' time of
/// the read), Redis stops answering, and A revalidates `items`: the invalidation is to be in
/// force on A at once. It is recorded at A's lagging estimate, before the copy's stamp, so
/// A goes on serving the old entry from memory until Redis answers again.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_invalidation_at_a_lagging_estimate_still_covers_an_entry_read_from_redis() {
    own_invalidation_during_an_outage(1000).await;
}

/// The control of the test above: with replies on time, A's own invalidation holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_invalidation_during_an_outage_covers_an_entry_read_from_redis() {
    own_invalidation_during_an_outage(0).await;
}

async fn own_invalidation_during_an_outage(reply_delay_ms: u64) {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let proxy = SkewProxy::start(redis.addr()).await;
    let a = instance(slow_store(&proxy.url()), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    // B makes the entry; Redis has it.
    assert_eq!(get(&b, "/item").await.body, "item v0");
    // A's first resync is done (its estimate is right).
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A learns Redis' time from calls whose replies come back late.
    proxy.delays(0, reply_delay_ms);
    assert_eq!(get(&a, "/h/1").await.status, 200);
    proxy.delays(0, 0);
    // A reads the entry from Redis; Redis then stops answering.
    let read = get(&a, "/item").await;
    assert_eq!(read.body, "item v0");
    proxy.blackhole(true);
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let after = get(&a, "/item").await;
    proxy.blackhole(false);
    assert_ne!(
        after.body,
        "item v0",
        "A served the entry it invalidated itself ({:?})",
        after.header(STATUS)
    );
}

/// A's calls reach Redis a second late, so its estimate of Redis' clock runs ahead (by half
/// the round trip). Redis stops answering as A's fill of `/item` starts: the fill's
/// generation is the estimate, ahead of Redis. Its handler reads the data; then B changes it
/// and revalidates `items`, before A's estimated generation. Redis answers again and A's
/// fill writes its entry: the records do not fence it (they are before its generation), so
/// the entry made before the purge is in Redis as valid, and a new instance serves it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_generation_estimated_while_redis_is_away_is_still_fenced_by_a_later_purge() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let proxy = SkewProxy::start(redis.addr()).await;
    proxy.delays(1000, 0);
    let a = instance(
        RedisStore::builder(proxy.url())
            .deployment_id("d1")
            .timeout(Duration::from_millis(1500))
            .resync(Duration::from_secs(2))
            .staleness_bound(Duration::from_secs(30)),
        &origin,
    )
    .await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    // B's fill loads the scripts in Redis: A's calls then take one round trip each.
    assert_eq!(get(&b, "/h/0").await.status, 200);
    b.cache.revalidator().revalidate_tag("h").await.unwrap();
    // Resyncs through the delay: A's estimate runs about 500 ms ahead.
    tokio::time::sleep(Duration::from_secs(5)).await;
    origin.item_delay_ms.store(10_000, Ordering::SeqCst);
    proxy.blackhole(true);
    let a_addr = a.server.addr;
    let fill = tokio::spawn(async move { send(Proto::H1, a_addr, "GET", "/item", &[], "").await });
    within(Duration::from_secs(30), async || origin.runs("/item") == 1)
        .await
        .expect("A's handler runs");
    // The handler read v0. B changes the data and purges, at once.
    origin.bump();
    b.cache.revalidator().revalidate_tag("items").await.unwrap();
    origin.item_delay_ms.store(0, Ordering::SeqCst);
    proxy.blackhole(false);
    // The client may give up on the slow fill (10 s); the fill goes on and stores.
    let _ = fill.await;

    let mut conn = raw_redis(&redis).await;
    let purge = score(&mut conn, "t:items")
        .await
        .expect("B's purge is recorded");
    let mut generation = None;
    within(Duration::from_secs(20), async || {
        generation = entry_field(&mut conn, "rh:{d1}:e:/item", "g")
            .await
            .map(|g| g.parse::<u64>().unwrap());
        generation.is_some()
    })
    .await;
    // Once Redis' clock is past that generation, a new instance reads what Redis holds.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let c = instance(store(&redis.url(), "d1"), &origin).await;
    let served = get(&c, "/item").await;
    let on_a = get(&a, "/item").await;
    assert!(
        served.body == "item v1" && on_a.body == "item v1",
        "an entry made before the purge (at {purge}) is valid, generation {generation:?}: \
         C served {:?} ({:?}), A served {:?} ({:?}); A {:?}",
        served.body,
        served.header(STATUS),
        on_a.body,
        on_a.header(STATUS),
        a.stats()
    );
}

// ---------------------------------------------------------------------------------------
// Records lost without the epoch
// ---------------------------------------------------------------------------------------

/// Redis drops the records' sorted set but keeps the rest, as `maxmemory-policy
/// allkeys-lru`/`allkeys-random` (the usual policy of a cache) may evict any key, or an
/// operator's `DEL`/`UNLINK` does. The epoch is still there, so no instance notices, and an
/// entry invalidated before is valid again in Redis: a new instance serves it.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_evicted_apart_from_the_epoch_do_not_revive_invalidated_entries() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    assert_eq!(get(&a, "/item").await.body, "item v0");
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    // The records hold `*` (which they always do once a script ran).
    within(Duration::from_secs(3), async || {
        redis.command(&["ZSCORE", "rh:{d1}:inv", "*"]) != "$-1"
    })
    .await
    .expect("the records hold `*`");
    // The old entry is still in Redis (invalidated by its record); the record goes.
    assert_eq!(redis.command(&["EXISTS", "rh:{d1}:e:/item"]), ":1");
    assert_eq!(redis.command(&["DEL", "rh:{d1}:inv"]), ":1");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c = instance(store(&redis.url(), "d1"), &origin).await;
    let served = get(&c, "/item").await;
    assert_eq!(
        served.body,
        "item v1",
        "an invalidated entry came back ({:?})",
        served.header(STATUS)
    );
}

// ---------------------------------------------------------------------------------------
// Folding records into `*`
// ---------------------------------------------------------------------------------------

/// Redis holds as many records as it keeps (100,000, written here directly, all after B's
/// copy of `/item` was made); the next invalidation folds the oldest into `*`. B, which
/// hears of it only by pub/sub (its resync is a minute away), must drop its copy; entries
/// made after the fold must be cached again (`*` is not in the future); and the records
/// stay bounded under more distinct invalidations.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_folded_into_star_reach_other_instances_and_expire_nothing_later() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let slow = |url: &str| {
        RedisStore::builder(url)
            .deployment_id("d1")
            .timeout(Duration::from_millis(500))
            .resync(Duration::from_secs(60))
            .staleness_bound(Duration::from_secs(120))
    };
    let a = instance(slow(&redis.url()), &origin).await;
    let b = instance(slow(&redis.url()), &origin).await;
    assert_eq!(get(&b, "/item").await.body, "item v0");
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    let mut conn = raw_redis(&redis).await;
    let base = redis_time(&mut conn).await + 1000;
    for chunk in 0..10u64 {
        let mut cmd = redis::cmd("ZADD");
        cmd.arg("rh:{d1}:inv");
        for i in 0..10_000u64 {
            let n = chunk * 10_000 + i;
            cmd.arg(base + n).arg(format!("t:junk-{n}"));
        }
        let _: () = cmd.query_async(&mut conn).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    origin.bump();
    a.cache.revalidator().revalidate_tag("other").await.unwrap();
    assert!(recorded(&redis, "*"), "the oldest are folded into `*`");
    let star = score(&mut conn, "*").await.unwrap();
    assert!(
        star <= redis_time(&mut conn).await,
        "`*` is not in the future"
    );
    // B drops its copy (made before the folded records) on the `*` message.
    within(Duration::from_secs(5), async || {
        get(&b, "/item").await.body == "item v1"
    })
    .await
    .expect("B drops the copy the fold invalidates");
    // Made after the fold: cached again, on both.
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    assert_eq!(get(&a, "/item").await.body, "item v1");
    assert_eq!(get(&a, "/item").await.header(STATUS), Some("HIT"));
    // More distinct invalidations: the records stay bounded, fills stay cached.
    for i in 0..200 {
        a.cache
            .revalidator()
            .revalidate_tag(&format!("more-{i}"))
            .await
            .unwrap();
    }
    let card: u64 = redis.command(&["ZCARD", "rh:{d1}:inv"])[1..]
        .parse()
        .unwrap();
    assert!(card <= 100_001, "{card} records");
    assert_eq!(get(&a, "/h/after").await.header(STATUS), Some("MISS"));
    assert_eq!(get(&a, "/h/after").await.header(STATUS), Some("HIT"));
    assert_eq!(get(&b, "/h/after").await.header(STATUS), Some("HIT"));
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

/// A lease time to live under a millisecond (`Duration::ZERO`, or 500 µs) is a setting a
/// user may pass: `SET PX 0` is an error in Redis, so every fill's lease fails: no fill is
/// ever shared across instances, and each counts a Redis error towards the breaker (three
/// in a row, as concurrent cold misses make, open it).

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_ttl_under_a_millisecond_still_takes_leases() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(
        store(&redis.url(), "d1").lease_ttl(Duration::from_micros(500)),
        &origin,
    )
    .await;
    for i in 0..5 {
        assert_eq!(get(&a, &format!("/h/{i}")).await.status, 200);
    }
    let stats = a.stats();
    assert_eq!(
        (stats.errors, stats.breaker_trips),
        (0, 0),
        "refuse or round the setting at build: {stats:?}"
    );
}

/// An entry time to live too long for Redis (`Duration::MAX`, or anything past `i64` ms):
/// refused at build, or a working store; not writes that fail (or leave entries without
/// expiry) and a breaker that opens.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_entry_ttl_is_refused_or_works() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let Ok(store) = store(&redis.url(), "d1").entry_ttl(Duration::MAX).build() else {
        return;
    };
    let cache = Cache::builder().store(store.clone()).build();
    let server = support::serve(routes(&origin, &cache).build()).await;
    let a = Instance {
        store,
        cache,
        server,
    };
    for i in 0..5 {
        assert_eq!(get(&a, &format!("/h/{i}")).await.status, 200);
    }
    a.cache.revalidator().revalidate_tag("h").await.unwrap();
    let stats = a.stats();
    assert_eq!(
        (stats.errors, stats.breaker_trips),
        (0, 0),
        "{stats:?}; ttl of an entry: {}",
        redis.command(&["PTTL", "rh:{d1}:e:/h/0"])
    );
}

/// Settings at the edges that are taken: zero lease wait, zero entry time to live, a
/// `max_entry_size` of zero: every request answers 200 and nothing counts an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edge_settings_answer_and_count_no_error() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(
        store(&redis.url(), "d1")
            .lease_wait(Duration::ZERO)
            .entry_ttl(Duration::ZERO)
            .max_entry_size(0),
        &origin,
    )
    .await;
    let b = instance(
        store(&redis.url(), "d1").entry_ttl(Duration::from_millis(1)),
        &origin,
    )
    .await;
    for i in 0..5 {
        assert_eq!(get(&a, &format!("/h/{i}")).await.status, 200);
        assert_eq!(get(&b, &format!("/h/{i}")).await.status, 200);
    }
    a.cache.revalidator().revalidate_tag("h").await.unwrap();
    b.cache.revalidator().revalidate_path("/h/1").await.unwrap();
    for i in 0..5 {
        assert_eq!(get(&a, &format!("/h/{i}")).await.status, 200);
        assert_eq!(get(&b, &format!("/h/{i}")).await.status, 200);
    }
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}
