//! Many instances, one cache: `RedisStore` against a real `redis-server` that the tests
//! start (and kill), with each instance a route table behind a real hyper server (HTTP/1.1
//! and HTTP/2) or an axum app.

mod redis_support;
mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use redis_support::{Mode, Proxy, RedisServer};
use route_handlers::{
    RouteHandler, Routes,
    cache::{Cache, CacheTags, Dynamic, RedisStore, StoreStats},
};
use support::{Proto, TestServer, send};
use tokio::time::Instant;

const STATUS: &str = "x-route-cache";

/// What every instance's handler reads: how often it ran, and the version of the data.
#[derive(Clone, Default)]
struct Origin {
    runs: Arc<AtomicU64>,
    version: Arc<AtomicU64>,
}

impl Origin {
    fn runs(&self) -> u64 {
        self.runs.load(Ordering::SeqCst)
    }
}

/// One instance: its own cache (memory tier) over the shared Redis, and a server.
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

/// A store resyncing every 200 ms, with a staleness bound of 1 s.
fn store(url: &str, deployment: &str) -> route_handlers::cache::RedisStoreBuilder {
    RedisStore::builder(url)
        .deployment_id(deployment)
        .resync(Duration::from_millis(200))
        .staleness_bound(Duration::from_secs(1))
        .timeout(Duration::from_millis(100))
}

/// A store whose resync is too slow (5 s) to explain anything that happens in a second.
fn slow_resync(url: &str, deployment: &str) -> route_handlers::cache::RedisStoreBuilder {
    store(url, deployment)
        .resync(Duration::from_secs(5))
        .staleness_bound(Duration::from_secs(10))
}

/// How many clients subscribe to the invalidation channel of deployment `d1`.
fn pubsub_count(redis: &RedisServer) -> usize {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(redis.addr()).unwrap();
    stream.write_all(b"PUBSUB NUMSUB rh:{d1}:inv\r\n").unwrap();
    stream
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut reply = vec![0; 256];
    let n = stream.read(&mut reply).unwrap_or(0);
    // `*2 $10 rh:{d1}:inv :N`
    String::from_utf8_lossy(&reply[..n])
        .lines()
        .last()
        .and_then(|l| l.strip_prefix(':'))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// The routes every instance serves: `/item` (tag `items`, fresh for an hour) and
/// `/slow` (a handler that takes `delay`).
fn routes(origin: &Origin, cache: &Cache, delay: Duration) -> Routes {
    let o = origin.clone();
    let item = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.runs.fetch_add(1, Ordering::SeqCst);
                let v = o.version.load(Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                format!("item v{v}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(3600)
        .tags(["items"]);
    let o = origin.clone();
    let tagged = RouteHandler::new()
        .get(move || {
            let o = o.clone();
            async move {
                o.runs.fetch_add(1, Ordering::SeqCst);
                let v = o.version.load(Ordering::SeqCst);
                let mut res = route_handlers::IntoResponse::into_response(format!("tagged v{v}"));
                res.extensions_mut()
                    .insert(CacheTags::new(["from-response"]));
                res
            }
        })
        .dynamic(Dynamic::ForceStatic);
    Routes::new()
        .cache(cache)
        .route("/item", item)
        .route("/tagged", tagged)
}

async fn instance(builder: route_handlers::cache::RedisStoreBuilder, origin: &Origin) -> Instance {
    instance_with(builder, origin, Duration::ZERO).await
}

async fn instance_with(
    builder: route_handlers::cache::RedisStoreBuilder,
    origin: &Origin,
    delay: Duration,
) -> Instance {
    let store = builder.build().expect("store");
    let cache = Cache::builder().store(store.clone()).build();
    let table = routes(origin, &cache, delay).build();
    let server = support::serve(table).await;
    Instance {
        store,
        cache,
        server,
    }
}

async fn get(proto: Proto, at: &Instance, path: &str) -> support::Reply {
    send(proto, at.server.addr, "GET", path, &[], "").await
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_entries_and_etags_over_both_protocols() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    for proto in Proto::BOTH {
        let path = if proto == Proto::H1 {
            "/item"
        } else {
            "/tagged"
        };
        let before = origin.runs();
        let first = get(proto, &a, path).await;
        assert_eq!(first.status, 200);
        assert_eq!(first.header(STATUS), Some("MISS"));
        let shared = get(proto, &b, path).await;
        assert_eq!(shared.status, 200);
        assert_eq!(shared.header(STATUS), Some("HIT"), "{proto:?}");
        assert_eq!(shared.body, first.body);
        assert_eq!(origin.runs(), before + 1, "one run for both instances");
        // The same ETag on both, so a client revalidating against the other gets its 304.
        let etag = first.header("etag").unwrap().to_owned();
        assert_eq!(shared.header("etag"), Some(etag.as_str()));
        let not_modified = send(
            proto,
            a.server.addr,
            "GET",
            path,
            &[("if-none-match", &etag)],
            "",
        )
        .await;
        assert_eq!(not_modified.status, 304);
        let not_modified = send(
            proto,
            b.server.addr,
            "GET",
            path,
            &[("if-none-match", &etag)],
            "",
        )
        .await;
        assert_eq!(not_modified.status, 304);
    }
    let stats = b.stats();
    assert_eq!(stats.l2_hits, 2, "{stats:?}");
    assert!(stats.l1_hits >= 2, "{stats:?}");
    assert_eq!(stats.errors, 0, "{stats:?}");
    assert!(!stats.breaker_open);
    assert_eq!(b.cache.stats(), Some(b.stats()));
}

/// Revalidates `tag` on `a` and answers how long `b` served the old body after.
async fn revalidation_reaches(
    a: &Instance,
    b: &Instance,
    origin: &Origin,
    path: &str,
    tag: &str,
) -> Duration {
    let old = get(Proto::H1, b, path).await;
    assert_eq!(old.status, 200);
    origin.version.fetch_add(1, Ordering::SeqCst);
    let revalidated = a.cache.revalidator().revalidate_tag(tag).await.unwrap();
    assert!(!revalidated.reached_nothing());
    within(Duration::from_secs(5), async || {
        get(Proto::H1, b, path).await.body != old.body
    })
    .await
    .expect("the other instance serves the new entry")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_revalidated_on_one_instance_reaches_the_other_at_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(slow_resync(&redis.url(), "d1"), &origin).await;
    let b = instance(slow_resync(&redis.url(), "d1"), &origin).await;
    // Both subscribed (they subscribe in the background).
    within(Duration::from_secs(5), async || pubsub_count(&redis) == 2)
        .await
        .expect("both instances subscribe");
    get(Proto::H1, &a, "/item").await;
    get(Proto::H1, &a, "/tagged").await;
    // By pub/sub: the resync (every 5 s) cannot explain it.
    let took = revalidation_reaches(&a, &b, &origin, "/item", "items").await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // A tag a response carried fences alike.
    let took = revalidation_reaches(&a, &b, &origin, "/tagged", "from-response").await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // And a path.
    origin.version.fetch_add(1, Ordering::SeqCst);
    let old = get(Proto::H2, &b, "/item").await.body;
    a.cache
        .revalidator()
        .revalidate_path("/item/")
        .await
        .unwrap();
    let took = within(Duration::from_secs(5), async || {
        get(Proto::H2, &b, "/item").await.body != old
    })
    .await
    .unwrap();
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_pub_sub_the_resync_brings_the_revalidation_within_one_interval() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1").pubsub(false), &origin).await;
    let b = instance(store(&redis.url(), "d1").pubsub(false), &origin).await;
    get(Proto::H1, &a, "/item").await;
    let took = revalidation_reaches(&a, &b, &origin, "/item", "items").await;
    // One resync interval (200 ms), within the staleness bound (1 s).
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The instance that revalidated serves the new entry at once.
    origin.version.fetch_add(1, Ordering::SeqCst);
    let old = get(Proto::H1, &a, "/item").await.body;
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    let new = get(Proto::H1, &a, "/item").await;
    assert_ne!(new.body, old);
    assert_eq!(new.header(STATUS), Some("REVALIDATED"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_cold_gets_over_two_instances_run_the_handler_once() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let delay = Duration::from_millis(300);
    let a = instance_with(store(&redis.url(), "d1"), &origin, delay).await;
    let b = instance_with(store(&redis.url(), "d1"), &origin, delay).await;
    let clients = [support::client(Proto::H2), support::client(Proto::H2)];
    let mut requests = tokio::task::JoinSet::new();
    for i in 0..1000 {
        let at = if i % 2 == 0 {
            a.server.addr
        } else {
            b.server.addr
        };
        let client = clients[i % 2].clone();
        requests
            .spawn(async move { support::send_with(&client, at, "GET", "/item", &[], "").await });
    }
    let mut bodies = std::collections::HashSet::new();
    while let Some(reply) = requests.join_next().await {
        let reply = reply.unwrap();
        assert_eq!(reply.status, 200);
        bodies.insert(reply.body);
    }
    assert_eq!(
        origin.runs(),
        1,
        "exactly one handler run across both instances: {:?} {:?}",
        a.stats(),
        b.stats()
    );
    assert_eq!(bodies.len(), 1);
    assert_eq!(a.stats().lease_waits + b.stats().lease_waits, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_whose_holder_died_expires_and_is_taken_over() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(
        store(&redis.url(), "d1")
            .lease_ttl(Duration::from_millis(300))
            .lease_wait(Duration::from_secs(3)),
        &origin,
    )
    .await;
    // A dead instance's lease on the key.
    assert_eq!(
        redis.command(&["SET", "rh:{d1}:l:/item", "dead", "PX", "300"]),
        "+OK"
    );
    let start = Instant::now();
    let reply = get(Proto::H1, &a, "/item").await;
    assert_eq!(reply.status, 200);
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(250),
        "waited for the lease: {took:?}"
    );
    assert!(
        took < Duration::from_secs(2),
        "took it over when it expired: {took:?}"
    );
    assert_eq!(origin.runs(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deployment_ids_keep_instances_apart() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "build-1"), &origin).await;
    let b = instance(store(&redis.url(), "build-2"), &origin).await;
    assert_eq!(
        get(Proto::H1, &a, "/item").await.header(STATUS),
        Some("MISS")
    );
    assert_eq!(
        get(Proto::H1, &b, "/item").await.header(STATUS),
        Some("MISS")
    );
    assert_eq!(origin.runs(), 2);
    // An invalidation of one build does not reach the other's entries.
    origin.version.fetch_add(1, Ordering::SeqCst);
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b_reply = get(Proto::H1, &b, "/item").await;
    assert_eq!(b_reply.header(STATUS), Some("HIT"));
    assert_eq!(b_reply.body, "item v0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_racing_a_fill_on_another_instance_never_writes_the_old_value_back() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    // A's handler reads the data, then takes 500 ms to answer: the purge on B lands between.
    let a = instance_with(
        store(&redis.url(), "d1"),
        &origin,
        Duration::from_millis(500),
    )
    .await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    let a_addr = a.server.addr;
    let fill = tokio::spawn(async move { send(Proto::H1, a_addr, "GET", "/item", &[], "").await });
    tokio::time::sleep(Duration::from_millis(150)).await;
    origin.version.fetch_add(1, Ordering::SeqCst);
    b.cache.revalidator().revalidate_tag("items").await.unwrap();
    // A answers its own client with what it made (it started before the purge)...
    let old = fill.await.unwrap();
    assert_eq!(old.body, "item v0");
    // ...but stores it nowhere that another request reads.
    for at in [&b, &a] {
        let reply = get(Proto::H1, at, "/item").await;
        assert_eq!(reply.body, "item v1", "{:?}", reply.header(STATUS));
    }
    assert_eq!(origin.runs(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_killed_mid_load_fails_no_request_and_serves_nothing_past_the_bound() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let bound = Duration::from_secs(1);
    let a = Arc::new(instance(store(&redis.url(), "d1"), &origin).await);
    let b = Arc::new(instance(store(&redis.url(), "d1"), &origin).await);
    assert_eq!(get(Proto::H1, &a, "/item").await.status, 200);
    assert_eq!(
        get(Proto::H1, &b, "/item").await.header(STATUS),
        Some("HIT")
    );

    // Load from both instances; each answer is timed and its version read.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = tokio::task::JoinSet::new();
    for at in [a.clone(), b.clone()] {
        for proto in Proto::BOTH {
            let (stop, at) = (stop.clone(), at.clone());
            load.spawn(async move {
                let client = support::client(proto);
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let reply =
                        support::send_with(&client, at.server.addr, "GET", "/item", &[], "").await;
                    seen.push((Instant::now(), reply.status, reply.body));
                }
                seen
            });
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A new version, revalidated on A while Redis is down: A serves it at once, B (which
    // cannot hear of it) within the bound.
    origin.version.fetch_add(1, Ordering::SeqCst);
    let revalidated_at = Instant::now();
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    tokio::time::sleep(bound * 2).await;
    stop.store(true, Ordering::SeqCst);
    let mut answers = 0;
    while let Some(seen) = load.join_next().await {
        for (at, status, body) in seen.unwrap() {
            answers += 1;
            assert_eq!(status, 200, "no request fails while Redis is down");
            if at > revalidated_at + bound + Duration::from_millis(100) {
                assert_eq!(body, "item v1", "nothing older than the bound");
            }
        }
    }
    assert!(answers > 100, "{answers}");
    assert!(b.stats().breaker_open, "{:?}", b.stats());

    // Redis comes back, empty: sharing and invalidation resume without restarting anything.
    redis.restart();
    let resumed = within(Duration::from_secs(5), async || {
        !a.stats().breaker_open && !b.stats().breaker_open
    })
    .await;
    assert!(resumed.is_some(), "{:?} {:?}", a.stats(), b.stats());
    // The invalidation made while Redis was down was replayed.
    let replayed = within(Duration::from_secs(3), async || {
        // `$-1` is no score; `$16` a bulk string of one.
        let reply = redis.command(&["ZSCORE", "rh:{d1}:inv", "t:items"]);
        reply.starts_with('$') && reply != "$-1"
    })
    .await;
    assert!(
        replayed.is_some(),
        "the invalidation made while Redis was down is replayed"
    );
    let runs = origin.runs();
    let filled = get(Proto::H1, &a, "/tagged").await;
    assert_eq!(filled.header(STATUS), Some("MISS"));
    let shared = get(Proto::H1, &b, "/tagged").await;
    assert_eq!(shared.header(STATUS), Some("HIT"));
    assert_eq!(origin.runs(), runs + 1);
    let took = revalidation_reaches(&a, &b, &origin, "/tagged", "from-response").await;
    assert!(took < Duration::from_secs(1), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_redis_bounds_latency_by_the_timeout_and_trips_the_breaker() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let proxy = Proxy::start(redis.addr()).await;
    let origin = Origin::default();
    let a = instance(store(&proxy.url(), "d1"), &origin).await;
    assert_eq!(
        get(Proto::H1, &a, "/item").await.header(STATUS),
        Some("MISS")
    );
    proxy.set(Mode::Blackhole);
    // Misses on paths this instance has not seen: each would ask Redis.
    let mut slowest = Duration::ZERO;
    for i in 0..20 {
        let start = Instant::now();
        let reply = get(Proto::H1, &a, &format!("/tagged?{i}")).await;
        assert_eq!(reply.status, 200);
        slowest = slowest.max(start.elapsed());
        // The memory tier still answers what it holds.
        assert_eq!(get(Proto::H1, &a, "/item").await.status, 200);
    }
    let stats = a.stats();
    assert!(stats.breaker_open, "{stats:?}");
    assert_eq!(stats.breaker_trips, 1, "{stats:?}");
    // A cold miss makes a few Redis calls before the breaker opens, each bounded by 100 ms.
    assert!(slowest < Duration::from_millis(800), "{slowest:?}");
    // With the breaker open, a request makes no Redis call (each would wait 100 ms).
    let errors = stats.errors;
    let start = Instant::now();
    get(Proto::H1, &a, "/tagged?open").await;
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    proxy.set(Mode::Pass);
    let closed = within(Duration::from_secs(3), async || !a.stats().breaker_open).await;
    assert!(closed.is_some(), "a probe closes the breaker");
    assert!(a.stats().errors >= errors);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_of_another_format_or_garbage_is_a_miss() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    redis.command(&[
        "HSET",
        "rh:{d1}:e:/item",
        "v",
        "0",
        "g",
        "1",
        "n",
        "p:/item",
        "d",
        "x",
    ]);
    let reply = get(Proto::H1, &a, "/item").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header(STATUS), Some("MISS"));
    // The fill replaced it.
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    assert_eq!(
        get(Proto::H1, &b, "/item").await.header(STATUS),
        Some("HIT")
    );
    // Garbage of this format is a miss too.
    redis.command(&[
        "HSET",
        "rh:{d1}:e:/tagged",
        "v",
        "1",
        "g",
        "1",
        "n",
        "p:/tagged",
        "d",
        "garbage",
    ]);
    // A miss, or invalidated (what reads as an entry of generation 1 predates the records'
    // `*`): a fill either way.
    assert!(matches!(
        get(Proto::H1, &b, "/tagged").await.header(STATUS),
        Some("MISS" | "REVALIDATED")
    ));
    assert_eq!(b.stats().errors, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_in_redis_live_for_their_own_ttl_not_the_revalidate_window() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(
        store(&redis.url(), "d1").entry_ttl(Duration::from_secs(600)),
        &origin,
    )
    .await;
    get(Proto::H1, &a, "/item").await;
    let ttl: i64 = redis
        .command(&["PTTL", "rh:{d1}:e:/item"])
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((590_000..=600_000).contains(&ttl), "{ttl}");
    // Invalidation records are kept as long, no longer.
    a.cache.revalidator().revalidate_tag("items").await.unwrap();
    // The tag's record and `*`, which the records always hold.
    assert_eq!(redis.command(&["ZCARD", "rh:{d1}:inv"]), ":2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_mounts_in_an_axum_app() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let mut servers = Vec::new();
    for _ in 0..2 {
        let store = store(&redis.url(), "axum").build().unwrap();
        let cache = Cache::builder().store(store).build();
        let table = routes(&origin, &cache, Duration::ZERO).build();
        let app = axum::Router::new().fallback_service(table);
        servers.push(support::serve(app).await);
    }
    let first = send(Proto::H1, servers[0].addr, "GET", "/item", &[], "").await;
    assert_eq!(first.header(STATUS), Some("MISS"));
    let second = send(Proto::H2, servers[1].addr, "GET", "/item", &[], "").await;
    assert_eq!(second.header(STATUS), Some("HIT"));
    assert_eq!(second.body, first.body);
    assert_eq!(origin.runs(), 1);
}

#[test]
fn settings_that_cannot_work_are_refused() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let _guard = runtime.enter();
    let url = "redis://127.0.0.1:1/";
    let refused = |builder: route_handlers::cache::RedisStoreBuilder| {
        builder.build().unwrap_err().to_string()
    };
    assert!(refused(RedisStore::builder(url)).contains("deployment id"));
    assert!(refused(RedisStore::builder(url).deployment_id("a{b}")).contains("hash tag"));
    assert!(
        refused(
            RedisStore::builder(url)
                .deployment_id("d")
                .resync(Duration::from_secs(3))
        )
        .contains("two resync intervals")
    );
    assert!(
        refused(
            RedisStore::builder(url)
                .deployment_id("d")
                .timeout(Duration::from_secs(2))
        )
        .contains("under the resync interval")
    );
    assert!(refused(RedisStore::builder("nonsense").deployment_id("d")).len() > 3);
    drop(_guard);
    // Off a runtime: refused, not a panic.
    assert!(
        RedisStore::builder(url)
            .deployment_id("d")
            .build()
            .unwrap_err()
            .to_string()
            .contains("Tokio runtime")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_lost_its_records_makes_every_memory_copy_invalid() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    // A hears of invalidations only by its resync (every second here).
    let a = instance(
        store(&redis.url(), "d1")
            .pubsub(false)
            .resync(Duration::from_secs(1))
            .staleness_bound(Duration::from_secs(3)),
        &origin,
    )
    .await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    get(Proto::H1, &b, "/item").await;
    assert_eq!(
        get(Proto::H1, &a, "/item").await.header(STATUS),
        Some("HIT")
    );
    // Wait for a resync of A to pass, so the next one is the first after the loss.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    origin.version.fetch_add(1, Ordering::SeqCst);
    b.cache.revalidator().revalidate_tag("items").await.unwrap();
    // Redis loses its data before A read the record.
    assert_eq!(redis.command(&["FLUSHALL"]), "+OK");
    let took = within(Duration::from_secs(5), async || {
        get(Proto::H1, &a, "/item").await.body == "item v1"
    })
    .await
    .expect("A stops serving its memory copy once it sees Redis lost its data");
    // Within one resync interval, not the staleness bound.
    assert!(took < Duration::from_millis(1500), "{took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pub_sub_connection_killed_by_redis_is_covered_by_the_resync_and_comes_back() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let origin = Origin::default();
    let a = instance(store(&redis.url(), "d1"), &origin).await;
    let b = instance(store(&redis.url(), "d1"), &origin).await;
    within(Duration::from_secs(5), async || pubsub_count(&redis) == 2)
        .await
        .expect("both instances subscribe");
    get(Proto::H1, &a, "/item").await;
    // Redis drops every subscriber: the next message is lost.
    assert!(
        redis
            .command(&["CLIENT", "KILL", "TYPE", "pubsub"])
            .starts_with(':')
    );
    let took = revalidation_reaches(&a, &b, &origin, "/item", "items").await;
    assert!(took < Duration::from_secs(1), "{took:?}");
    // The subscribers come back by themselves.
    within(Duration::from_secs(5), async || pubsub_count(&redis) == 2)
        .await
        .expect("both instances subscribe again");
}
