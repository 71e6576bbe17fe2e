//! Adversarial tests of `RedisStore`: hostile bytes in Redis, odd names, races between
//! instances, outages, flushes and refusals of Redis, and settings a user may pass. Every
//! test runs against a real `redis-server` (see `redis_support`).
//! Each guards a way the store once failed, or a claim that held under attack.

mod redis_support;
mod support;

/// The fields of a hash written at an entry key.
type Fields = Vec<(&'static str, Vec<u8>)>;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use http::{HeaderMap, HeaderValue, StatusCode};
use redis_support::{Mode, Proxy, RedisServer};
use route_handlers::{
    IntoResponse, RouteHandler, Routes,
    cache::{Cache, CacheTags, Dynamic, RedisStore, RedisStoreBuilder, StoreStats},
};
use support::{Proto, TestServer, send};
use tokio::time::Instant;

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
// Hostile bytes in Redis
// ---------------------------------------------------------------------------------------

/// An entry of this format whose generation `g` is not a number: the fill's write must
/// replace it, and the next instance must read the new entry, with no Redis error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_numeric_generation_in_redis_is_a_miss_and_is_replaced() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    redis.command(&[
        "HSET",
        "rh:{d1}:e:/item",
        "v",
        "1",
        "g",
        "not-a-number",
        "n",
        "p:/item",
        "d",
        "x",
    ]);
    let first = get(&a, "/item").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.header(STATUS), Some("MISS"));
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    let shared = get(&b, "/item").await;
    assert_eq!(shared.status, 200);
    assert_eq!(
        (shared.header(STATUS), a.stats().errors, b.stats().errors),
        (Some("HIT"), 0, 0),
        "the fill on A replaced the garbage; {:?} {:?}",
        a.stats(),
        b.stats()
    );
}

/// The same garbage, with an invalidation record of the entry's path present (as there is
/// in any deployment that revalidates): the lookup itself fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_numeric_generation_with_a_record_is_a_miss_not_an_error() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    a.cache.revalidator().revalidate_path("/h/1").await.unwrap();
    a.cache.revalidator().revalidate_tag("h").await.unwrap();
    for i in 1..=3 {
        let key = format!("rh:{{d1}}:e:/h/{i}");
        let names = format!("p:/h/{i}\nt:h");
        // `NaN` would do no harm (Lua's tonumber reads it, and NaN compares false).
        redis.command(&["HSET", &key, "v", "1", "g", "x", "n", &names, "d", "x"]);
    }
    // Three cold misses at once, each on its own garbage key.
    let mut misses = tokio::task::JoinSet::new();
    for i in 1..=3 {
        let addr = a.server.addr;
        misses
            .spawn(async move { send(Proto::H1, addr, "GET", &format!("/h/{i}"), &[], "").await });
    }
    while let Some(reply) = misses.join_next().await {
        assert_eq!(reply.unwrap().status, 200);
    }
    let stats = a.stats();
    assert_eq!((stats.errors, stats.breaker_open), (0, false), "{stats:?}");
}

/// A key of another type (a string, a list) where an entry belongs: a miss, replaced by
/// the fill, never an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_of_another_type_at_the_entry_key_is_a_miss_and_is_replaced() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    redis.command(&["SET", "rh:{d1}:e:/item", "a string"]);
    redis.command(&["RPUSH", "rh:{d1}:e:/h/1", "a", "list"]);
    for path in ["/item", "/h/1"] {
        let reply = get(&a, path).await;
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header(STATUS), Some("MISS"));
    }
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    for path in ["/item", "/h/1"] {
        let reply = get(&b, path).await;
        assert_eq!(reply.status, 200);
        assert_eq!(
            reply.header(STATUS),
            Some("HIT"),
            "{path}: A's fill replaced it; {:?} {:?}",
            a.stats(),
            b.stats()
        );
    }
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}

/// Garbage of every shape in an entry of this format: each a miss (the handler answers),
/// never an error or a panic, and the fill replaces it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_entry_bytes_are_misses_and_are_replaced() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let mut conn = raw_redis(&redis).await;
    let now = redis_time(&mut conn).await;
    let g = now.to_string();
    let ok_body = encode(
        200,
        now,
        u64::MAX,
        &[(b"content-type", b"text/plain")],
        b"evil",
    );
    let mut lying_count = encode(200, now, u64::MAX, &[], b"");
    lying_count[18..20].copy_from_slice(&u16::MAX.to_be_bytes());
    let mut cases: Vec<(&str, Fields)> = vec![
        ("only a format", vec![("v", b"1".to_vec())]),
        (
            "no data",
            vec![
                ("v", b"1".to_vec()),
                ("g", g.clone().into_bytes()),
                ("n", b"p:/h/x".to_vec()),
            ],
        ),
        ("empty data", vec![("d", vec![])]),
        (
            "65535 fields announced, none there",
            vec![("d", lying_count)],
        ),
        (
            "a field of 4 GiB announced",
            vec![("d", {
                let mut d = encode(200, now, u64::MAX, &[], b"");
                d[18..20].copy_from_slice(&1u16.to_be_bytes());
                d.extend_from_slice(&1u16.to_be_bytes());
                d.push(b'x');
                d.extend_from_slice(&u32::MAX.to_be_bytes());
                d.extend_from_slice(b"short");
                d
            })],
        ),
        ("status 0", vec![("d", encode(0, now, u64::MAX, &[], b"x"))]),
        (
            "status 65535",
            vec![("d", encode(65535, now, u64::MAX, &[], b"x"))],
        ),
        (
            "a header name with a space",
            vec![(
                "d",
                encode(200, now, u64::MAX, &[(b"bad name", b"v")], b"x"),
            )],
        ),
        (
            "a header value with a newline",
            vec![(
                "d",
                encode(200, now, u64::MAX, &[(b"x-a", b"a\r\nb")], b"x"),
            )],
        ),
        ("a generation of -5", vec![("g", b"-5".to_vec())]),
        ("names of another kind", vec![("n", b"x:/h/x".to_vec())]),
        ("empty names", vec![("n", b"".to_vec())]),
        (
            "names with empty lines",
            vec![("n", b"p:/h/x\n\n\nt:".to_vec())],
        ),
        ("names not UTF-8", vec![("n", b"p:/h/\xff\xfe".to_vec())]),
        ("another format", vec![("v", b"2".to_vec())]),
        // Made before the epoch of this host's monotonic clock, and long ago: past
        // `EXPIRE`, so a miss, not an entry made now.
        (
            "made at the Unix epoch, revalidate 60 s",
            vec![("d", encode(200, 0, 60_000, &[], b"ancient"))],
        ),
        (
            "made in the far future",
            vec![("d", encode(200, u64::MAX, 60_000, &[], b"future-evil"))],
        ),
    ];
    for (i, (what, overrides)) in cases.iter_mut().enumerate() {
        let path = format!("/h/{i}");
        let mut fields: Vec<(&str, Vec<u8>)> = vec![
            ("v", b"1".to_vec()),
            ("g", g.clone().into_bytes()),
            ("n", format!("p:{path}\nt:h").into_bytes()),
            ("d", ok_body.clone()),
        ];
        for (name, value) in overrides.drain(..) {
            if let Some(f) = fields.iter_mut().find(|(n, _)| *n == name) {
                f.1 = value;
            }
        }
        if *what == "only a format" {
            fields.truncate(1);
        } else if *what == "no data" {
            fields.truncate(3);
        }
        let fields: Vec<(&str, &[u8])> = fields.iter().map(|(n, v)| (*n, v.as_slice())).collect();
        hset(&mut conn, &format!("rh:{{d1}}:e:{path}"), &fields).await;
        let reply = get(&a, &path).await;
        assert_eq!(reply.status, 200, "{what}");
        let body = String::from_utf8_lossy(&reply.body).into_owned();
        // "future-evil" is a valid entry of the future: served as fresh, which is the
        // writer's business; everything else is refused.
        if *what != "made in the far future" {
            assert_eq!(body, format!("h v0"), "{what}: {:?}", reply.header(STATUS));
            // A miss, or (for what reads as an entry made before the records began)
            // invalidated: either way a fill.
            assert!(
                matches!(reply.header(STATUS), Some("MISS" | "REVALIDATED")),
                "{what}: {:?}",
                reply.header(STATUS)
            );
        }
    }
    assert_eq!(a.stats().errors, 0, "{:?}", a.stats());
    // Every fill replaced its garbage: another instance reads the entries.
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    for (i, (name, _)) in cases.iter().enumerate() {
        if *name == "made in the far future" {
            continue;
        }
        let reply = get(&b, &format!("/h/{i}")).await;
        assert_eq!(reply.header(STATUS), Some("HIT"), "{name}");
    }
    assert_eq!(b.stats().errors, 0, "{:?}", b.stats());
}

/// An entry whose generation reads as a number larger than any time (`1e400`, or 10^23):
/// a miss, which the fill replaces, and at least kept in the filling instance's memory.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_with_a_generation_past_any_time_does_not_block_the_key() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    for (path, g) in [("/h/inf", "1e400"), ("/h/huge", "99999999999999999999999")] {
        let key = format!("rh:{{d1}}:e:{path}");
        let names = format!("p:{path}\nt:h");
        redis.command(&["HSET", &key, "v", "1", "g", g, "n", &names, "d", "x"]);
        assert_eq!(get(&a, path).await.header(STATUS), Some("MISS"));
        let again = get(&a, path).await;
        assert_eq!(
            again.header(STATUS),
            Some("HIT"),
            "{path}: A kept its fill, at least in memory; runs {}",
            origin.runs("/h")
        );
    }
}

/// A member of the records that is not UTF-8 (anything can write one): the resync must go
/// on, so that an invalidation missed by pub/sub still arrives within one interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_is_not_utf8_does_not_stop_the_resync() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1").pubsub(false), &origin).await;
    let b = instance(store(&redis.url(), "d1").pubsub(false), &origin).await;
    let mut conn = raw_redis(&redis).await;
    // A second ahead, so that the next resync reads it whenever it runs.
    let at = redis_time(&mut conn).await + 1_000_000;
    let _: () = redis::cmd("ZADD")
        .arg("rh:{d1}:inv")
        .arg(at)
        .arg(b"t:\xff\xfe".as_slice())
        .query_async(&mut conn)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    get(&a, "/item").await;
    get(&b, "/item").await;
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let took = within(Duration::from_secs(3), async || {
        get(&b, "/item").await.body == "item v1"
    })
    .await
    .expect("B serves the new entry");
    assert!(
        took < Duration::from_millis(500) && b.stats().errors == 0,
        "one resync interval (200 ms), no errors: took {took:?}, {:?}",
        b.stats()
    );
}

// ---------------------------------------------------------------------------------------
// Names: tags with line breaks, `*`, spaces; paths spelt oddly
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_tags_and_odd_path_spellings_reach_the_other_instance() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;

    // A tag with a line break: kept out of Redis, each instance fills its own copy...
    assert_eq!(get(&a, "/weird").await.header(STATUS), Some("MISS"));
    assert_eq!(redis.command(&["EXISTS", "rh:{d1}:e:/weird"]), ":0");
    assert_eq!(get(&b, "/weird").await.header(STATUS), Some("MISS"));
    assert_eq!(get(&b, "/weird").await.header(STATUS), Some("HIT"));
    // ...and its invalidation reaches the other's copy (pub/sub carries the line break).
    origin.bump();
    a.cache.revalidator().revalidate_tag("a\nb").await.unwrap();
    within(Duration::from_secs(2), async || {
        get(&b, "/weird").await.body == "weird v1"
    })
    .await
    .expect("B's copy of a tag with a line break is invalidated");
    // A tag with a space (the message is `<time> <name>`).
    origin.bump();
    a.cache.revalidator().revalidate_tag("x y").await.unwrap();
    within(Duration::from_secs(2), async || {
        get(&b, "/weird").await.body == "weird v2"
    })
    .await
    .expect("B's copy of a tag with a space is invalidated");

    // A tag `*` is a tag, not everything.
    assert_eq!(get(&a, "/star").await.header(STATUS), Some("MISS"));
    assert_eq!(get(&b, "/star").await.header(STATUS), Some("HIT"));
    assert_eq!(get(&b, "/item").await.status, 200);
    let item = get(&b, "/item").await.body;
    origin.bump();
    a.cache.revalidator().revalidate_tag("*").await.unwrap();
    let v = origin.version();
    within(Duration::from_secs(2), async || {
        get(&b, "/star").await.body == format!("star v{v}")
    })
    .await
    .expect("the tag `*` invalidates what carries it");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let still = get(&b, "/item").await;
    assert_eq!(
        (still.body.clone(), still.header(STATUS)),
        (item.clone(), Some("HIT"))
    );
    // Recorded as the tag `t:*`, not as `*` (which invalidates everything).
    assert_ne!(redis.command(&["ZSCORE", "rh:{d1}:inv", "t:*"]), "$-1");

    // A path spelt with a percent-escape and a trailing slash on A; B's copy is dropped,
    // and B's spelling with an escape is the same key.
    let runs = origin.runs("/item");
    let old = get(&b, "/it%65m").await;
    assert_eq!((old.header(STATUS), old.body.clone()), (Some("HIT"), item));
    assert_eq!(origin.runs("/item"), runs);
    origin.bump();
    a.cache
        .revalidator()
        .revalidate_path("/it%65m//")
        .await
        .unwrap();
    let v = origin.version();
    within(Duration::from_secs(2), async || {
        get(&b, "/item/").await.body == format!("item v{v}")
    })
    .await
    .expect("a path revalidated under another spelling reaches the other instance");
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}

// ---------------------------------------------------------------------------------------
// Leases
// ---------------------------------------------------------------------------------------

/// A handler that panics (or answers 500) while its instance holds the lease: the other
/// instance's cold miss runs the handler itself as soon as the lease is given up, without
/// waiting out `lease_wait`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fill_that_panics_or_fails_under_a_lease_frees_the_other_instance_at_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    for (round, mode) in [1, 2].into_iter().enumerate() {
        let path = "/script";
        let origin = Origin::default();
        let deployment = format!("lease-{round}");
        let lease = |b: RedisStoreBuilder| b.lease_wait(Duration::from_secs(8));
        let a = instance(lease(store(&redis.url(), &deployment)), &origin).await;
        let b = instance(lease(store(&redis.url(), &deployment)), &origin).await;
        origin.script.store(mode, Ordering::SeqCst);
        let a_addr = a.server.addr;
        let first =
            tokio::spawn(async move { send(Proto::H1, a_addr, "GET", path, &[], "").await });
        // A holds the lease (its handler sleeps 300 ms, then fails).
        within(Duration::from_secs(2), async || origin.runs("/script") == 1)
            .await
            .unwrap();
        let start = Instant::now();
        let second = get(&b, path).await;
        let took = start.elapsed();
        let first = first.await.unwrap();
        assert_eq!(
            first.status, 500,
            "mode {mode}: A's own client sees the failure"
        );
        assert_eq!(second.status, 200, "mode {mode}");
        assert_eq!(second.body, "script run 2");
        assert!(
            took < Duration::from_secs(2),
            "mode {mode}: B waited {took:?}"
        );
        assert_eq!(origin.runs("/script"), 2);
        // Nothing of the failure is left in Redis: the lease is given up.
        within(Duration::from_secs(2), async || {
            redis.command(&["EXISTS", &format!("rh:{{{deployment}}}:l:/script")]) == ":0"
        })
        .await
        .expect("the lease is given up");
    }
}

/// Redis dies while a lease is held: the waiting instance runs at once, both answer, and
/// once Redis is back (empty) nothing waits on the lost lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_while_a_lease_is_held_fails_nothing_and_waits_on_nothing() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    origin.item_delay_ms.store(800, Ordering::SeqCst);
    let lease = |b: RedisStoreBuilder| b.lease_wait(Duration::from_secs(8));
    let a = instance(lease(store(&redis.url(), "d1")), &origin).await;
    let b = instance(lease(store(&redis.url(), "d1")), &origin).await;
    let a_addr = a.server.addr;
    let first = tokio::spawn(async move { send(Proto::H1, a_addr, "GET", "/item", &[], "").await });
    within(Duration::from_secs(2), async || origin.runs("/item") == 1)
        .await
        .unwrap();
    let b_addr = b.server.addr;
    let start = Instant::now();
    let second =
        tokio::spawn(async move { send(Proto::H1, b_addr, "GET", "/item", &[], "").await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    redis.kill();
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(
        (first.status, second.status),
        (StatusCode::OK, StatusCode::OK)
    );
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    redis.restart();
    within(Duration::from_secs(5), async || {
        !a.stats().breaker_open && !b.stats().breaker_open
    })
    .await
    .expect("the breakers close");
    origin.item_delay_ms.store(0, Ordering::SeqCst);
    let start = Instant::now();
    assert_eq!(get(&b, "/h/after").await.status, 200);
    assert_eq!(get(&a, "/h/after").await.header(STATUS), Some("HIT"));
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
}

// ---------------------------------------------------------------------------------------
// Stale while revalidate across instances
// ---------------------------------------------------------------------------------------

/// One instance regenerates a stale entry and stores it in Redis; the other, which still
/// holds the stale copy in memory, must take the new entry from Redis rather than run the
/// handler again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_entry_is_regenerated_once_across_instances() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    assert_eq!(get(&a, "/swr").await.header(STATUS), Some("MISS"));
    assert_eq!(get(&b, "/swr").await.header(STATUS), Some("HIT"));
    // Stale (revalidate 2 s).
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let stale = get(&a, "/swr").await;
    assert_eq!(stale.header(STATUS), Some("STALE"));
    // A regenerates it, and stores it in Redis.
    within(Duration::from_secs(3), async || {
        get(&a, "/swr").await.body == "swr run 2"
    })
    .await
    .expect("A regenerated it");
    within(Duration::from_secs(2), async || {
        redis.command(&["EXISTS", "rh:{d1}:l:/swr"]) == ":0"
    })
    .await
    .unwrap();
    // B still holds the stale copy: it answers it, and looks for the new one.
    let b_stale = get(&b, "/swr").await;
    assert_eq!(b_stale.header(STATUS), Some("STALE"));
    within(Duration::from_secs(3), async || {
        get(&b, "/swr").await.header(STATUS) == Some("HIT")
    })
    .await
    .expect("B serves a fresh entry again");
    assert_eq!(
        (origin.runs("/swr"), get(&b, "/swr").await.body),
        (2, "swr run 2".into()),
        "one regeneration across both instances"
    );
}

/// Under concurrent load on two instances, a stale entry's regeneration runs once while the
/// lease is held, and every answer is 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_stale_load_on_two_instances_fails_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    get(&a, "/swr").await;
    get(&b, "/swr").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let clients = [support::client(Proto::H2), support::client(Proto::H2)];
    let mut load = tokio::task::JoinSet::new();
    for i in 0..200 {
        let at = [a.server.addr, b.server.addr][i % 2];
        let client = clients[i % 2].clone();
        load.spawn(async move { support::send_with(&client, at, "GET", "/swr", &[], "").await });
    }
    while let Some(reply) = load.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200);
        assert!(
            matches!(reply.header(STATUS), Some("STALE" | "HIT")),
            "{:?}",
            reply.header(STATUS)
        );
    }
    // The burst started one regeneration (it runs in the background, so wait for it); the
    // other instance found the lease taken, and none runs after it.
    within(Duration::from_secs(5), async || origin.runs("/swr") >= 2)
        .await
        .expect("the regeneration runs");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(origin.runs("/swr"), 2, "{:?} {:?}", a.stats(), b.stats());
}

/// The same under sustained load: once the instance that lost the lease race is out of its
/// back-off, it must find the new entry in Redis, not regenerate again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_stale_load_on_two_instances_regenerates_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    get(&a, "/swr").await;
    get(&b, "/swr").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let start = Instant::now();
    let mut load = tokio::task::JoinSet::new();
    for at in [a.server.addr, b.server.addr] {
        load.spawn(async move {
            let client = support::client(Proto::H2);
            let mut statuses = Vec::new();
            while start.elapsed() < Duration::from_millis(1600) {
                let reply = support::send_with(&client, at, "GET", "/swr", &[], "").await;
                statuses.push(reply.status);
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            statuses
        });
    }
    while let Some(statuses) = load.join_next().await {
        assert!(statuses.unwrap().iter().all(|s| *s == 200));
    }
    // Let a regeneration started at the end finish.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        origin.runs("/swr"),
        2,
        "the first fill and one regeneration; {:?} {:?}",
        a.stats(),
        b.stats()
    );
}

// ---------------------------------------------------------------------------------------
// Outages, flushes, refusals
// ---------------------------------------------------------------------------------------

/// B is cut off from Redis; A revalidates a tag B cannot hear of. B goes on making local
/// invalidations of other tags (a webhook, an admin): its old copy must still not be served
/// past the staleness bound.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_invalidations_during_an_outage_do_not_extend_the_staleness_bound() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(redis.addr()).await;
    let origin = Origin::default();
    let bound = Duration::from_secs(1);
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&proxy.url(), "d1"), &origin).await;
    assert_eq!(get(&a, "/item").await.header(STATUS), Some("MISS"));
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    proxy.set(Mode::Blackhole);
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let revalidated = Instant::now();
    let revalidator = b.cache.revalidator();
    let churn = tokio::spawn(async move {
        for i in 0..25 {
            revalidator
                .revalidate_tag(&format!("unrelated-{i}"))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut seen = Vec::new();
    while revalidated.elapsed() < bound * 3 {
        let reply = get(&b, "/item").await;
        assert_eq!(reply.status, 200);
        seen.push((revalidated.elapsed(), reply.body));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    churn.abort();
    let late: Vec<_> = seen
        .iter()
        .filter(|(at, body)| *at > bound + Duration::from_millis(300) && body == "item v0")
        .map(|(at, _)| *at)
        .collect();
    assert!(
        late.is_empty(),
        "B served the invalidated copy past the bound at {late:?}; {:?}",
        b.stats()
    );
}

/// The control of the test above: without local invalidations the bound holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_off_instance_serves_nothing_past_the_bound() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(redis.addr()).await;
    let origin = Origin::default();
    let bound = Duration::from_secs(1);
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&proxy.url(), "d1"), &origin).await;
    get(&a, "/item").await;
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    proxy.set(Mode::Blackhole);
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let revalidated = Instant::now();
    let mut slowest = Duration::ZERO;
    while revalidated.elapsed() < bound * 3 {
        let start = Instant::now();
        let reply = get(&b, "/item").await;
        slowest = slowest.max(start.elapsed());
        assert_eq!(reply.status, 200);
        if revalidated.elapsed() > bound + Duration::from_millis(300) {
            assert_eq!(reply.body, "item v1");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(slowest < Duration::from_millis(800), "{slowest:?}");
}

/// An invalidation recorded in Redis, then Redis loses its data (restarted empty,
/// `FLUSHALL`, a failover to an empty replica) before an instance that missed the message
/// read it. That instance must not go on serving the invalidated copy once it talks to the
/// new Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_lost_with_redis_data_does_not_revive_the_old_copy() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(redis.addr()).await;
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    // B learns of invalidations at its resync only (a message lost, as the design allows).
    let b = instance(store(&proxy.url(), "d1").pubsub(false), &origin).await;
    get(&a, "/item").await;
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    proxy.set(Mode::Blackhole);
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    assert!(recorded(&redis, "t:items"));
    // Redis loses everything.
    assert_eq!(redis.command(&["FLUSHALL"]), "+OK");
    proxy.set(Mode::Pass);
    within(Duration::from_secs(5), async || !b.stats().breaker_open)
        .await
        .unwrap();
    // A few resyncs of B against the new, empty Redis.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let reply = get(&b, "/item").await;
    assert_eq!(
        reply.body,
        "item v1",
        "B served its copy from before the invalidation as {:?}",
        reply.header(STATUS)
    );
}

/// Redis restarted empty while both instances hold entries in memory: a later
/// invalidation still reaches the other instance (pub/sub resubscribes, the resync goes
/// on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_redis_restarts_empty_a_later_invalidation_is_honoured() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    get(&a, "/item").await;
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    redis.restart();
    // Whatever the breaker does meanwhile, after a second both talk to the new server.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    within(Duration::from_secs(5), async || {
        !a.stats().breaker_open && !b.stats().breaker_open
    })
    .await
    .unwrap();
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let took = within(Duration::from_secs(3), async || {
        get(&b, "/item").await.body == "item v1"
    })
    .await
    .expect("B drops its copy");
    assert!(took < Duration::from_millis(500), "{took:?}");
    assert_eq!(get(&a, "/item").await.body, "item v1");
}

/// Redis refuses writes (at `maxmemory` with `noeviction`) but still answers reads. The
/// instance that revalidates cannot record the invalidation; it must at least not serve
/// the invalidated entry itself, from Redis.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_redis_refuses_still_holds_on_its_own_instance() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("MISS"));
    assert_eq!(get(&a, "/item").await.header(STATUS), Some("HIT"));
    assert_eq!(
        redis.command(&["CONFIG", "SET", "maxmemory-policy", "noeviction"]),
        "+OK"
    );
    assert_eq!(redis.command(&["CONFIG", "SET", "maxmemory", "1"]), "+OK");
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let reply = get(&a, "/item").await;
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.body,
        "item v1",
        "A served the entry it just invalidated, as {:?}; {:?}",
        reply.header(STATUS),
        a.stats()
    );
}

/// An invalidation made while Redis is down is replayed with a real record (the check in
/// `redis_store.rs` tests `starts_with('$')`, which a nil reply `$-1` passes too), and the
/// other instance drops its copy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_made_during_an_outage_is_replayed_and_reaches_the_other_instance() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    get(&a, "/item").await;
    assert_eq!(get(&b, "/item").await.header(STATUS), Some("HIT"));
    redis.kill();
    origin.bump();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    // In force on A at once.
    assert_eq!(get(&a, "/item").await.body, "item v1");
    redis.restart();
    within(Duration::from_secs(5), async || recorded(&redis, "t:items"))
        .await
        .expect("the invalidation is replayed");
    within(Duration::from_secs(3), async || {
        get(&b, "/item").await.body == "item v1"
    })
    .await
    .expect("B drops its copy");
}

/// More distinct invalidations while Redis is down than are kept to replay: one
/// invalidation of everything is replayed, and the other instance drops its copies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overflow_of_invalidations_during_an_outage_is_replayed_as_everything() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    get(&a, "/h/1").await;
    assert_eq!(get(&b, "/h/1").await.header(STATUS), Some("HIT"));
    redis.kill();
    origin.bump();
    let start = Instant::now();
    for i in 0..5000 {
        a.cache
            .revalidator()
            .revalidate_tag(&format!("flood-{i}"))
            .await
            .unwrap();
    }
    // The breaker opens after three: the rest cost no Redis call.
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    redis.restart();
    within(Duration::from_secs(5), async || recorded(&redis, "*"))
        .await
        .expect("everything is replayed as invalidated");
    // Nothing else is replayed: one record for the lot.
    assert_eq!(redis.command(&["ZCARD", "rh:{d1}:inv"]), ":1");
    within(Duration::from_secs(3), async || {
        get(&b, "/h/1").await.body == "h v1"
    })
    .await
    .expect("B drops its copy");
}

/// Purges racing fills on another instance, at every offset from before the fill reads
/// the time to after its handler answered: once both are done, neither instance serves
/// what was made before the purge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purges_racing_fills_at_every_offset_never_leave_the_old_value() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    origin.item_delay_ms.store(60, Ordering::SeqCst);
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    for round in 0..16u64 {
        let a_addr = a.server.addr;
        let path = format!("/h/race-{round}");
        let fill_path = path.clone();
        let fill =
            tokio::spawn(async move { send(Proto::H1, a_addr, "GET", &fill_path, &[], "").await });
        tokio::time::sleep(Duration::from_millis(round * 6)).await;
        origin.bump();
        b.cache.revalidator().revalidate_tag("h").await.unwrap();
        let v = origin.version();
        assert_eq!(fill.await.unwrap().status, 200);
        // A message in flight is a few ms; the claim is about Redis and the fill's write.
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (name, at) in [("B", &b), ("A", &a)] {
            let reply = get(at, &path).await;
            assert_eq!(
                reply.body,
                format!("h v{v}"),
                "round {round}: {name} served {:?}",
                reply.header(STATUS)
            );
        }
    }
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}

// ---------------------------------------------------------------------------------------
// What is kept out of Redis; keys by host; HEAD
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_and_set_cookie_never_reach_redis() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let small = |b: RedisStoreBuilder| b.max_entry_size(4 * 1024);
    let a = instance(small(store(&redis.url(), "d1")), &origin).await;
    let b = instance(small(store(&redis.url(), "d1")), &origin).await;
    let big = get(&a, "/big").await;
    assert_eq!((big.status, big.body.len()), (StatusCode::OK, BIG));
    assert_eq!(redis.command(&["EXISTS", "rh:{d1}:e:/big"]), ":0");
    // Kept in A's memory.
    assert_eq!(get(&a, "/big").await.header(STATUS), Some("HIT"));
    let other = get(&b, "/big").await;
    assert_eq!(
        (other.body.len(), other.header(STATUS)),
        (BIG, Some("MISS"))
    );
    assert_eq!(origin.runs("/big"), 2);

    let first = get(&a, "/cookie").await;
    assert_eq!(first.header("set-cookie"), Some("session=secret-1"));
    assert_eq!(redis.command(&["EXISTS", "rh:{d1}:e:/cookie"]), ":0");
    let second = get(&b, "/cookie").await;
    assert_ne!(second.header("set-cookie"), Some("session=secret-1"));
    assert_ne!(second.body, first.body);
    assert_eq!((a.stats().errors, b.stats().errors), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_by_host_are_shared_per_host_and_a_path_purge_reaches_every_host() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let by_host = |c: route_handlers::cache::CacheBuilder| c.key_by_host(true);
    let a = instance_with(store(&redis.url(), "d1"), &origin, by_host).await;
    let b = instance_with(store(&redis.url(), "d1"), &origin, by_host).await;
    let on = async |at: &Instance, host: &str| {
        send(
            Proto::H1,
            at.server.addr,
            "GET",
            "/host",
            &[("host", host)],
            "",
        )
        .await
    };
    let first = on(&a, "a.test").await;
    assert_eq!(first.body, "host a.test v0");
    let shared = on(&b, "A.TEST").await;
    assert_eq!(
        (shared.header(STATUS), shared.body.clone()),
        (Some("HIT"), first.body.clone())
    );
    let other = on(&b, "b.test").await;
    assert_eq!(
        (other.header(STATUS), other.body.clone()),
        (Some("MISS"), "host b.test v0".into())
    );
    assert_eq!(on(&a, "b.test").await.header(STATUS), Some("HIT"));
    origin.bump();
    a.cache
        .revalidator()
        .revalidate_path("/host")
        .await
        .unwrap();
    for host in ["a.test", "b.test"] {
        let want = format!("host {host} v1");
        within(Duration::from_secs(2), async || {
            on(&b, host).await.body == want
        })
        .await
        .unwrap_or_else(|| panic!("{host} is purged on B"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_and_if_none_match_are_answered_from_another_instances_entry() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    let c = instance(store(&redis.url(), "d1"), &origin).await;
    let full = get(&a, "/item").await;
    let etag = full.header("etag").unwrap().to_owned();
    for proto in Proto::BOTH {
        let head = send(proto, b.server.addr, "HEAD", "/item", &[], "").await;
        assert_eq!(head.status, 200);
        assert!(head.body.is_empty());
        assert_eq!(head.header("etag"), Some(etag.as_str()));
        assert_eq!(head.header(STATUS), Some("HIT"));
    }
    // A cold instance answers a conditional request from Redis with a 304.
    let conditional = send(
        Proto::H2,
        c.server.addr,
        "GET",
        "/item",
        &[("if-none-match", &etag)],
        "",
    )
    .await;
    assert_eq!(conditional.status, 304);
    assert!(conditional.body.is_empty());
    assert_eq!(origin.runs("/item"), 1);
}

// ---------------------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------------------

/// A long resync interval (say, "never", as `Duration::MAX`) is a setting a user may pass:
/// refused or taken, not a panic.
#[test]
fn a_huge_resync_interval_is_not_a_panic() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let built = std::panic::catch_unwind(|| {
        RedisStore::builder("redis://127.0.0.1:1/")
            .deployment_id("d")
            .resync(Duration::MAX)
            .staleness_bound(Duration::MAX)
            .build()
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    assert!(built.is_ok(), "build panicked");
}

/// Deployment ids with odd characters keep their namespaces apart and work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_deployment_ids_are_namespaces_of_their_own() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let ids = ["d", "d:e:", "d ", "*", "line\nbreak", "ünï"];
    let mut instances = Vec::new();
    for id in ids {
        instances.push(instance(store(&redis.url(), id), &origin).await);
    }
    for (i, at) in instances.iter().enumerate() {
        assert_eq!(
            get(at, "/item").await.header(STATUS),
            Some("MISS"),
            "{}",
            ids[i]
        );
    }
    assert_eq!(origin.runs("/item"), ids.len() as u64);
    // One id's invalidation touches no other's entries.
    instances[0]
        .cache
        .revalidator()
        .revalidate_tag("items")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    for (i, at) in instances.iter().enumerate().skip(1) {
        assert_eq!(
            get(at, "/item").await.header(STATUS),
            Some("HIT"),
            "{:?}",
            ids[i]
        );
    }
    // And each one's entries are shared by its own instances.
    for id in ids {
        let other = instance(store(&redis.url(), id), &origin).await;
        let want = if id == "d" { "REVALIDATED" } else { "HIT" };
        assert_eq!(
            get(&other, "/item").await.header(STATUS),
            Some(want),
            "{id:?}"
        );
    }
}
