//! In-process behaviour of the route cache (`RouteHandler` with cache settings, and
//! `CacheLayer`), called with `oneshot`. Time is paused where freshness matters.

use std::{
    convert::Infallible,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

mod support;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use route_handlers::{
    Body, IntoResponse, RouteContext, RouteHandler,
    cache::{Cache, CacheConfig, CacheLayer, CacheTags, Dynamic, MemoryStore, Revalidate},
    extract::{FromRequestParts, RequestData},
};
use support::Logs;
use tokio::sync::{Notify, Semaphore};
use tower::{Service, ServiceBuilder, ServiceExt, service_fn};

const STATUS: &str = "x-route-cache";

type Reply = (StatusCode, HeaderMap, Bytes);

async fn send<S>(svc: &S, req: Request<Body>) -> Reply
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible> + Clone,
{
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

fn req(method: &str, uri: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap()
}

fn status_of(headers: &HeaderMap) -> &str {
    headers.get(STATUS).map_or("-", |v| v.to_str().unwrap())
}

fn age(headers: &HeaderMap) -> &str {
    headers[header::AGE].to_str().unwrap()
}

#[derive(Clone, Default)]
struct Counter(Arc<AtomicUsize>);

impl Counter {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A `GET` route that counts its runs and answers `run N`.
fn counting_route(runs: &Counter) -> RouteHandler {
    let runs = runs.clone();
    RouteHandler::new().get(move || {
        let n = runs.bump();
        async move { format!("run {n}") }
    })
}

/// Fails a test that would hang: a fill that never ends.
async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("a fill never ended")
}

/// Lets spawned fills run (time is paused in these tests, so this does not wait).
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_hundred_concurrent_cold_gets_run_the_handler_once() {
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move || {
            let n = r.bump();
            async move {
                tokio::time::sleep(Duration::from_millis(50)).await;
                format!("run {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let replies = futures::future::join_all((0..100).map(|_| send(&svc, get("/cold")))).await;
    assert_eq!(runs.get(), 1);
    for (status, headers, body) in &replies {
        assert_eq!(*status, StatusCode::OK);
        assert_eq!(status_of(headers), "MISS");
        assert_eq!(body, "run 1");
    }
    let (_, headers, body) = send(&svc, get("/cold")).await;
    assert_eq!((status_of(&headers), &body[..]), ("HIT", &b"run 1"[..]));
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn other_methods_beside_a_cached_get_run_every_time_and_see_the_request() {
    let gets = Counter::default();
    let posts = Counter::default();
    let p = posts.clone();
    let svc = counting_route(&gets)
        .post(move |req: Request<Body>| {
            p.bump();
            async move {
                let q = req.uri().query().unwrap_or("").to_owned();
                let h = req.headers().get("x-who").cloned();
                format!("post q={q} h={h:?}")
            }
        })
        .delete(|| async { "deleted" })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    for _ in 0..3 {
        let (s, h, b) = send(&svc, get("/x")).await;
        assert_eq!((s, &b[..]), (StatusCode::OK, &b"run 1"[..]));
        assert_ne!(status_of(&h), "-");
    }
    for i in 1..=3 {
        let r = Request::post("/x?a=1")
            .header("x-who", "me")
            .body(Body::empty())
            .unwrap();
        let (s, h, b) = send(&svc, r).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b, "post q=a=1 h=Some(\"me\")");
        assert_eq!(status_of(&h), "-");
        assert_eq!(posts.get(), i);
    }
    let (s, h, _) = send(&svc, req("DELETE", "/x")).await;
    assert_eq!((s, status_of(&h)), (StatusCode::OK, "-"));
    let (s, h, _) = send(&svc, req("OPTIONS", "/x")).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(h[header::ALLOW], "DELETE, GET, HEAD, OPTIONS, POST");
    let (s, _, _) = send(&svc, req("PUT", "/x")).await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(gets.get(), 1);
}

#[tokio::test]
async fn head_then_get_keeps_the_get_body() {
    for dynamic in [Dynamic::ForceStatic, Dynamic::Auto] {
        let runs = Counter::default();
        let r = runs.clone();
        let svc = RouteHandler::new()
            .get(move |method: Method| {
                r.bump();
                async move { format!("seen by {method}") }
            })
            .dynamic(dynamic)
            .revalidate(60)
            .cache(&Cache::new())
            .into_service();
        let (s, h, b) = send(&svc, req("HEAD", "/h")).await;
        assert_eq!(s, StatusCode::OK, "{dynamic:?}");
        assert_eq!(status_of(&h), "MISS");
        assert!(b.is_empty());
        assert_eq!(h[header::CONTENT_LENGTH], "11");
        let (s, h, b) = send(&svc, get("/h")).await;
        assert_eq!((s, status_of(&h)), (StatusCode::OK, "HIT"));
        assert_eq!(b, "seen by GET", "{dynamic:?}");
        // The server takes a GET's Content-Length from the body; HEAD carries it.
        assert!(h.get(header::CONTENT_LENGTH).is_none());
        let (_, h, b) = send(&svc, req("HEAD", "/h")).await;
        assert_eq!((status_of(&h), b.len()), ("HIT", 0));
        assert_eq!(h[header::CONTENT_LENGTH], "11");
        assert_eq!(h[header::ETAG], send(&svc, get("/h")).await.1[header::ETAG]);
        assert_eq!(runs.get(), 1);
    }
}

#[tokio::test]
async fn a_route_with_its_own_head_uses_it_for_every_head_uncached() {
    let gets = Counter::default();
    let heads = Counter::default();
    let h2 = heads.clone();
    let svc = counting_route(&gets)
        .head(move || {
            h2.bump();
            async {
                (
                    StatusCode::OK,
                    HeaderMap::from_iter([(
                        header::CONTENT_LENGTH,
                        HeaderValue::from_static("99"),
                    )]),
                    (),
                )
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    for i in 1..=3 {
        let (s, h, _) = send(&svc, req("HEAD", "/h")).await;
        assert_eq!((s, status_of(&h)), (StatusCode::OK, "-"));
        assert_eq!(heads.get(), i);
    }
    send(&svc, get("/h")).await;
    send(&svc, get("/h")).await;
    assert_eq!(gets.get(), 1);
}

#[tokio::test(start_paused = true)]
async fn an_entry_is_fresh_then_stale_then_regenerated_once() {
    let runs = Counter::default();
    let svc = counting_route(&runs)
        .dynamic(Dynamic::ForceStatic)
        .revalidate(10)
        .cache(&Cache::new())
        .into_service();
    let (_, h, b) = send(&svc, get("/t")).await;
    assert_eq!(
        (status_of(&h), &b[..], age(&h)),
        ("MISS", &b"run 1"[..], "0")
    );
    tokio::time::advance(Duration::from_secs(4)).await;
    let (_, h, b) = send(&svc, get("/t")).await;
    assert_eq!(
        (status_of(&h), &b[..], age(&h)),
        ("HIT", &b"run 1"[..], "4")
    );
    tokio::time::advance(Duration::from_secs(7)).await;
    // Stale: served at once; one regeneration for any number of stale requests.
    for _ in 0..5 {
        let (_, h, b) = send(&svc, get("/t")).await;
        assert_eq!(
            (status_of(&h), &b[..], age(&h)),
            ("STALE", &b"run 1"[..], "11")
        );
    }
    settle().await;
    assert_eq!(runs.get(), 2);
    let (_, h, b) = send(&svc, get("/t")).await;
    assert_eq!(
        (status_of(&h), &b[..], age(&h)),
        ("HIT", &b"run 2"[..], "0")
    );
    assert_eq!(runs.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn never_revalidates_stays_fresh() {
    let runs = Counter::default();
    let svc = counting_route(&runs)
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    send(&svc, get("/s")).await;
    tokio::time::advance(Duration::from_secs(400 * 24 * 3600)).await;
    let (_, h, b) = send(&svc, get("/s")).await;
    assert_eq!((status_of(&h), &b[..]), ("HIT", &b"run 1"[..]));
    assert_eq!(h[header::AGE], (400u64 * 24 * 3600).to_string().as_str());
    assert_eq!(
        h[header::CACHE_CONTROL],
        "s-maxage=31536000, stale-while-revalidate"
    );
    assert_eq!(runs.get(), 1);
}

/// A route whose handler answers by the script: `Ok(body)`, a 500, or a panic.
fn scripted(runs: &Counter, script: &'static [&'static str]) -> RouteHandler {
    let runs = runs.clone();
    RouteHandler::new().get(move || {
        let n = runs.bump();
        async move {
            match script.get(n - 1).copied().unwrap_or("ok") {
                "panic" => panic!("scripted panic"),
                "500" => (StatusCode::INTERNAL_SERVER_ERROR, format!("failed {n}")).into_response(),
                _ => format!("run {n}").into_response(),
            }
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_failed_regeneration_keeps_the_stale_entry_and_backs_off() {
    for failure in ["500", "panic"] {
        let runs = Counter::default();
        let script: &'static [&'static str] = if failure == "500" {
            &["ok", "500", "500"]
        } else {
            &["ok", "panic", "panic"]
        };
        let svc = scripted(&runs, script)
            .dynamic(Dynamic::ForceStatic)
            .revalidate(10)
            .cache(&Cache::new())
            .into_service();
        send(&svc, get("/f")).await;
        tokio::time::advance(Duration::from_secs(10)).await;
        let (_, h, b) = send(&svc, get("/f")).await;
        assert_eq!((status_of(&h), &b[..]), ("STALE", &b"run 1"[..]));
        settle().await;
        assert_eq!(runs.get(), 2, "{failure}");
        // Within the retry window (10 s, clamped to 3..=30) no new run starts.
        for _ in 0..3 {
            tokio::time::advance(Duration::from_secs(3)).await;
            let (s, h, b) = send(&svc, get("/f")).await;
            assert_eq!(
                (s, status_of(&h), &b[..]),
                (StatusCode::OK, "STALE", &b"run 1"[..])
            );
            settle().await;
        }
        assert_eq!(runs.get(), 2, "{failure}");
        tokio::time::advance(Duration::from_secs(1)).await;
        send(&svc, get("/f")).await;
        settle().await;
        assert_eq!(runs.get(), 3, "{failure}");
        // The third run failed too; the fourth succeeds after the window.
        tokio::time::advance(Duration::from_secs(10)).await;
        let (_, h, _) = send(&svc, get("/f")).await;
        assert_eq!(status_of(&h), "STALE");
        settle().await;
        let (_, h, b) = send(&svc, get("/f")).await;
        assert_eq!((status_of(&h), &b[..]), ("HIT", &b"run 4"[..]), "{failure}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_retry_window_is_clamped_to_three_seconds() {
    let runs = Counter::default();
    let svc = scripted(&runs, &["ok", "500"])
        .dynamic(Dynamic::ForceStatic)
        .revalidate(1)
        .cache(&Cache::new())
        .into_service();
    send(&svc, get("/f")).await;
    tokio::time::advance(Duration::from_secs(1)).await;
    send(&svc, get("/f")).await;
    settle().await;
    tokio::time::advance(Duration::from_millis(2900)).await;
    send(&svc, get("/f")).await;
    settle().await;
    assert_eq!(runs.get(), 2);
    tokio::time::advance(Duration::from_millis(100)).await;
    send(&svc, get("/f")).await;
    settle().await;
    assert_eq!(runs.get(), 3);
}

#[tokio::test]
async fn a_panic_on_a_miss_answers_500_and_the_next_request_runs_again() {
    let runs = Counter::default();
    let svc = scripted(&runs, &["panic", "ok"])
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let (s, h, _) = send(&svc, get("/p")).await;
    assert_eq!(
        (s, status_of(&h)),
        (StatusCode::INTERNAL_SERVER_ERROR, "MISS")
    );
    let (s, h, b) = send(&svc, get("/p")).await;
    assert_eq!(
        (s, status_of(&h), &b[..]),
        (StatusCode::OK, "MISS", &b"run 2"[..])
    );
    let (_, h, _) = send(&svc, get("/p")).await;
    assert_eq!(status_of(&h), "HIT");
}

#[tokio::test]
async fn an_error_status_on_a_miss_is_shared_but_not_stored() {
    let runs = Counter::default();
    let svc = scripted(&runs, &["500", "ok"])
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let (s, _, b) = send(&svc, get("/e")).await;
    assert_eq!(
        (s, &b[..]),
        (StatusCode::INTERNAL_SERVER_ERROR, &b"failed 1"[..])
    );
    let (s, h, _) = send(&svc, get("/e")).await;
    assert_eq!((s, status_of(&h)), (StatusCode::OK, "MISS"));
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn revalidate_path_and_tag_regenerate_on_the_next_request() {
    let cache = Cache::new();
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move |ctx: RouteContext| {
            let n = r.bump();
            async move {
                let mut res = format!("run {n}").into_response();
                if let Some(id) = ctx.param("id") {
                    res.extensions_mut()
                        .insert(CacheTags::new([format!("post-{id}")]));
                }
                res
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .tags(["posts"])
        .cache(&cache)
        .into_service();
    let with_id = |id: &str| {
        let mut r = get(&format!("/posts/{id}"));
        let mut params = route_handlers::context::Params::new();
        params.push("id", route_handlers::context::ParamValue::One(id.into()));
        r.extensions_mut().insert(RouteContext::new(params));
        r
    };
    let revalidator = cache.revalidator();
    send(&svc, with_id("1")).await;
    send(&svc, with_id("2")).await;
    assert_eq!(runs.get(), 2);

    revalidator.revalidate_path("/posts/1/?x").await.unwrap();
    let (_, h, b) = send(&svc, with_id("1")).await;
    assert_eq!((status_of(&h), &b[..]), ("REVALIDATED", &b"run 3"[..]));
    let (_, h, _) = send(&svc, with_id("2")).await;
    assert_eq!(status_of(&h), "HIT");

    revalidator.revalidate_tag("post-2").await.unwrap();
    let (_, h, _) = send(&svc, with_id("1")).await;
    assert_eq!(status_of(&h), "HIT");
    let (_, h, b) = send(&svc, with_id("2")).await;
    assert_eq!((status_of(&h), &b[..]), ("REVALIDATED", &b"run 4"[..]));

    revalidator.revalidate_tag("posts").await.unwrap();
    for id in ["1", "2"] {
        let (_, h, _) = send(&svc, with_id(id)).await;
        assert_eq!(status_of(&h), "REVALIDATED");
    }
    revalidator.revalidate_tag("unknown").await.unwrap();
    let (_, h, _) = send(&svc, with_id("1")).await;
    assert_eq!(status_of(&h), "HIT");
    assert_eq!(runs.get(), 6);
}

/// A handler that reads the "database" when it starts and answers once released.
fn gated_route(db: Arc<Mutex<&'static str>>, gate: Arc<Semaphore>, runs: &Counter) -> RouteHandler {
    let runs = runs.clone();
    RouteHandler::new().get(move || {
        runs.bump();
        let value = *db.lock().unwrap();
        let gate = gate.clone();
        async move {
            gate.acquire().await.unwrap().forget();
            value
        }
    })
}

#[tokio::test]
async fn a_purge_racing_a_fill_does_not_let_the_old_value_be_stored() {
    let cache = Cache::new();
    let db = Arc::new(Mutex::new("old"));
    let gate = Arc::new(Semaphore::new(0));
    let runs = Counter::default();
    let svc = gated_route(db.clone(), gate.clone(), &runs)
        .dynamic(Dynamic::ForceStatic)
        .cache(&cache)
        .into_service();
    let first = tokio::spawn({
        let svc = svc.clone();
        async move { send(&svc, get("/r")).await }
    });
    settle().await;
    assert_eq!(runs.get(), 1);
    // The data changes and the path is purged while the fill still runs.
    *db.lock().unwrap() = "new";
    cache.revalidator().revalidate_path("/r").await.unwrap();
    gate.add_permits(1);
    let (_, _, b) = within(first).await.unwrap();
    assert_eq!(
        b, "old",
        "the request that came before the purge gets the old value"
    );
    gate.add_permits(1);
    let (_, h, b) = send(&svc, get("/r")).await;
    assert_eq!((status_of(&h), &b[..]), ("MISS", &b"new"[..]));
    let (_, h, b) = send(&svc, get("/r")).await;
    assert_eq!((status_of(&h), &b[..]), ("HIT", &b"new"[..]));
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn a_request_after_a_purge_does_not_join_the_fill_that_started_before_it() {
    let cache = Cache::new();
    let db = Arc::new(Mutex::new("old"));
    let gate = Arc::new(Semaphore::new(0));
    let runs = Counter::default();
    let svc = gated_route(db.clone(), gate.clone(), &runs)
        .dynamic(Dynamic::ForceStatic)
        .tags(["t"])
        .cache(&cache)
        .into_service();
    for purge in ["path", "tag"] {
        *db.lock().unwrap() = "old";
        let first = tokio::spawn({
            let svc = svc.clone();
            async move { send(&svc, get("/j")).await }
        });
        settle().await;
        *db.lock().unwrap() = "new";
        let report = match purge {
            "path" => cache.revalidator().revalidate_path("/j").await.unwrap(),
            _ => cache.revalidator().revalidate_tag("t").await.unwrap(),
        };
        // Nothing stored yet, the fill is in flight: it is detached, and the route reached.
        assert_eq!(report.entries(), Some(0), "{purge}: {report:?}");
        assert_eq!(
            report.routes(),
            [std::sync::Arc::<str>::from("(route)")],
            "{purge}"
        );
        let second = tokio::spawn({
            let svc = svc.clone();
            async move { send(&svc, get("/j")).await }
        });
        settle().await;
        gate.add_permits(2);
        assert_eq!(within(first).await.unwrap().2, "old", "{purge}");
        assert_eq!(within(second).await.unwrap().2, "new", "{purge}");
        let (_, h, b) = send(&svc, get("/j")).await;
        assert_eq!((status_of(&h), &b[..]), ("HIT", &b"new"[..]), "{purge}");
        cache.revalidator().revalidate_path("/j").await.unwrap();
    }
    assert_eq!(runs.get(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_purge_racing_a_regeneration_does_not_write_the_old_value_back() {
    let cache = Cache::new();
    let db = Arc::new(Mutex::new("v1"));
    let gate = Arc::new(Semaphore::new(1));
    let runs = Counter::default();
    let svc = gated_route(db.clone(), gate.clone(), &runs)
        .dynamic(Dynamic::ForceStatic)
        .revalidate(5)
        .tags(["t"])
        .cache(&cache)
        .into_service();
    send(&svc, get("/r")).await;
    *db.lock().unwrap() = "v2";
    tokio::time::advance(Duration::from_secs(5)).await;
    // Stale: the regeneration reads "v2" and waits at the gate.
    let (_, h, b) = send(&svc, get("/r")).await;
    assert_eq!((status_of(&h), &b[..]), ("STALE", &b"v1"[..]));
    settle().await;
    assert_eq!(runs.get(), 2);
    *db.lock().unwrap() = "v3";
    cache.revalidator().revalidate_tag("t").await.unwrap();
    gate.add_permits(1);
    settle().await;
    // The regeneration ended after the purge: "v2" is not stored; the next request waits
    // for a fresh run.
    gate.add_permits(1);
    let (_, h, b) = send(&svc, get("/r")).await;
    assert_eq!((status_of(&h), &b[..]), ("REVALIDATED", &b"v3"[..]));
    let (_, h, b) = send(&svc, get("/r")).await;
    assert_eq!((status_of(&h), &b[..]), ("HIT", &b"v3"[..]));
    assert_eq!(runs.get(), 3);
}

#[tokio::test]
async fn a_disconnected_client_does_not_cancel_the_fill_others_wait_on() {
    let gate = Arc::new(Semaphore::new(0));
    let runs = Counter::default();
    let svc = gated_route(Arc::new(Mutex::new("done")), gate.clone(), &runs)
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let first = tokio::spawn({
        let svc = svc.clone();
        async move { send(&svc, get("/d")).await }
    });
    settle().await;
    let second = tokio::spawn({
        let svc = svc.clone();
        async move { send(&svc, get("/d")).await }
    });
    settle().await;
    first.abort();
    assert!(first.await.unwrap_err().is_cancelled());
    gate.add_permits(1);
    let (s, h, b) = within(second).await.unwrap();
    assert_eq!(
        (s, status_of(&h), &b[..]),
        (StatusCode::OK, "MISS", &b"done"[..])
    );
    let (_, h, _) = send(&svc, get("/d")).await;
    assert_eq!(status_of(&h), "HIT");
    assert_eq!(runs.get(), 1);
}

/// Echoes every piece of request data it can see.
async fn echo(req: Request<Body>) -> String {
    format!(
        "uri={} method={} headers={:?} ext_ctx={}",
        req.uri(),
        req.method(),
        req.headers(),
        req.extensions().get::<RouteContext>().is_some(),
    )
}

#[tokio::test]
async fn force_static_request_data_cannot_reach_another_client() {
    let svc = RouteHandler::new()
        .get(echo)
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let hostile = Request::get("/page/?user=alice&token=1")
        .header(header::COOKIE, "session=alice")
        .header("x-user", "alice")
        .header(header::AUTHORIZATION, "Bearer alice")
        .header(header::HOST, "evil.test")
        .body(Body::from("body"))
        .unwrap();
    let (_, h, first) = send(&svc, hostile).await;
    assert_eq!(status_of(&h), "MISS");
    assert_eq!(first, "uri=/page method=GET headers={} ext_ctx=false");
    let (_, h, second) = send(&svc, get("/page")).await;
    assert_eq!(status_of(&h), "HIT");
    assert_eq!(second, first);
    // A query on a hit does not make a new entry either.
    let (_, h, third) = send(&svc, get("/page?user=bob")).await;
    assert_eq!((status_of(&h), third), ("HIT", first));
}

#[tokio::test]
async fn force_static_keeps_the_route_params() {
    let svc =
        RouteHandler::new()
            .get(|_req: Request<Body>, ctx: RouteContext| async move {
                format!("id={:?}", ctx.param("id"))
            })
            .dynamic(Dynamic::ForceStatic)
            .cache(&Cache::new())
            .into_service();
    let mut params = route_handlers::context::Params::new();
    params.push("id", route_handlers::context::ParamValue::One("7".into()));
    let res = svc
        .call_with_context(get("/items/7"), RouteContext::new(params))
        .await
        .unwrap();
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "id=Some(\"7\")"
    );
}

#[tokio::test]
async fn auto_with_declared_reads_is_dynamic_with_one_warning() {
    let logs = Logs::capture(tracing::Level::WARN);
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move |req: Request<Body>| {
            r.bump();
            async move { format!("{:?}", req.headers().get("x-user")) }
        })
        .path("/api/me")
        .revalidate(10)
        .cache(&Cache::new())
        .into_service();
    for user in ["a", "b", "c"] {
        let r = Request::get("/api/me")
            .header("x-user", user)
            .body(Body::empty())
            .unwrap();
        let (_, h, b) = send(&svc, r).await;
        assert_eq!(b, format!("Some({user:?})"));
        assert_eq!(status_of(&h), "-");
    }
    assert_eq!(runs.get(), 3);
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains(
            "Route /api/me couldn't be rendered statically because it used `request.headers`, \
             `request.cookies`, `request.nextUrl.searchParams`, `request.body`, \
             `request.version`, `request.extensions`; its GET responses are not cached"
        ),
        "{lines:?}"
    );
    assert!(lines[0].contains("WARN"));
}

#[test]
fn error_with_declared_reads_fails_when_the_route_is_built() {
    let build = || {
        RouteHandler::new()
            .get(|_headers: HeaderMap| async { "x" })
            .path("/x")
            .dynamic(Dynamic::Error)
    };
    let want = "Route /x with `dynamic = \"error\"` couldn't be rendered statically because it \
                used `request.headers`, `request.cookies`";
    let err = build().try_into_service().unwrap_err();
    assert_eq!(err.to_string(), want);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| build().into_service()))
        .unwrap_err();
    assert_eq!(panic.downcast_ref::<String>().unwrap(), want);
}

#[test]
fn contradictory_settings_are_rejected_when_the_route_is_built() {
    let cases: [(RouteHandler, &str); 3] = [
        (
            RouteHandler::new()
                .dynamic(Dynamic::ForceStatic)
                .revalidate(0),
            "route /c: `dynamic = \"force-static\"` contradicts `revalidate = 0`: force-static \
             caches the GET response and revalidate 0 never caches it; remove one of the two",
        ),
        (
            RouteHandler::new()
                .dynamic(Dynamic::ForceDynamic)
                .revalidate(30),
            "route /c: `dynamic = \"force-dynamic\"` contradicts `revalidate = 30`: \
             force-dynamic never caches the GET response and revalidate 30 caches it for 30 s; \
             remove one of the two",
        ),
        (
            RouteHandler::new()
                .dynamic(Dynamic::Error)
                .revalidate(Revalidate::Seconds(0))
                .get(|_uri: http::Uri| async { "" }),
            "route /c: `dynamic = \"error\"` contradicts `revalidate = 0`: error caches the GET \
             response and revalidate 0 never caches it; remove one of the two; and Route /c \
             with `dynamic = \"error\"` couldn't be rendered statically because it used \
             `request.nextUrl.searchParams`",
        ),
    ];
    for (route, want) in cases {
        let route = route.path("/c").post(|| async { "" });
        assert_eq!(route.try_into_service().unwrap_err().to_string(), want);
    }
}

/// Reads a header through a request view that records the read, as a tracking request
/// wrapper does, while declaring no reads.
struct TrackedUser(Option<String>);

impl FromRequestParts for TrackedUser {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::NONE;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        ctx: &RouteContext,
        _: &(),
    ) -> Result<Self, Infallible> {
        ctx.record(RequestData::HEADERS);
        Ok(Self(
            parts
                .headers
                .get("x-user")
                .map(|v| v.to_str().unwrap().to_owned()),
        ))
    }
}

fn user_req(user: &str) -> Request<Body> {
    Request::get("/u")
        .header("x-user", user)
        .body(Body::empty())
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn auto_bails_out_at_the_first_recorded_read_and_warns_once() {
    let logs = Logs::capture(tracing::Level::WARN);
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move |TrackedUser(user): TrackedUser| {
            r.bump();
            async move {
                tokio::time::sleep(Duration::from_millis(10)).await;
                format!("user {user:?}")
            }
        })
        .path("/u")
        .revalidate(60)
        .cache(&Cache::new())
        .into_service();
    // Three concurrent cold requests: each gets the answer for its own request.
    let replies = futures::future::join_all(["a", "b", "c"].map(|u| send(&svc, user_req(u)))).await;
    for ((_, h, b), user) in replies.iter().zip(["a", "b", "c"]) {
        assert_eq!(b, &format!("user Some({user:?})"));
        assert_eq!(status_of(h), "MISS");
    }
    // From now on the route is dynamic.
    let (_, h, b) = send(&svc, user_req("d")).await;
    assert_eq!((status_of(&h), &b[..]), ("-", &b"user Some(\"d\")"[..]));
    // The fill ran once with a request made from the key (it saw no user, and its response
    // was discarded), then each of the three clients ran with its own request, then "d".
    assert_eq!(runs.get(), 5);
    let lines = logs.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains(
        "Route /u couldn't be rendered statically because it used `request.headers`; its GET \
         responses are not cached"
    ));
}

#[tokio::test]
async fn error_mode_answers_500_for_a_recorded_read() {
    let logs = Logs::capture(tracing::Level::WARN);
    let svc = RouteHandler::new()
        .get(|TrackedUser(user): TrackedUser| async move { format!("{user:?}") })
        .path("/u")
        .dynamic(Dynamic::Error)
        .cache(&Cache::new())
        .into_service();
    for _ in 0..2 {
        let (s, _, b) = send(&svc, user_req("a")).await;
        assert_eq!(s, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(b.is_empty());
    }
    let lines = logs.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    for line in lines {
        assert!(line.contains("ERROR"));
        assert!(line.contains(
            "Route /u with `dynamic = \"error\"` couldn't be rendered statically because it \
             used `request.headers`"
        ));
    }
}

#[tokio::test]
async fn a_handler_reading_nothing_is_cached_under_auto_and_error() {
    for dynamic in [Dynamic::Auto, Dynamic::Error] {
        let runs = Counter::default();
        let svc = counting_route(&runs)
            .dynamic(dynamic)
            .revalidate(Revalidate::Never)
            .cache(&Cache::new())
            .into_service();
        send(&svc, get("/n")).await;
        let (_, h, _) = send(&svc, get("/n?q=1")).await;
        assert_eq!(status_of(&h), "HIT", "{dynamic:?}");
        assert_eq!(runs.get(), 1);
    }
}

#[tokio::test]
async fn nothing_is_cached_without_an_opt_in() {
    for route in [
        RouteHandler::new(),
        RouteHandler::new().revalidate(0),
        RouteHandler::new().dynamic(Dynamic::ForceDynamic),
        RouteHandler::new()
            .dynamic(Dynamic::ForceDynamic)
            .revalidate(0),
        RouteHandler::new().tags(["t"]),
    ] {
        let runs = Counter::default();
        let r = runs.clone();
        let svc = route
            .get(move || {
                r.bump();
                async { "x" }
            })
            .cache(&Cache::new())
            .into_service();
        send(&svc, get("/n")).await;
        let (_, h, _) = send(&svc, get("/n")).await;
        assert_eq!(status_of(&h), "-");
        assert_eq!(runs.get(), 2);
    }
}

#[tokio::test]
async fn authorization_bypasses_the_cache_unless_force_static() {
    for (dynamic, cached) in [(Dynamic::Auto, false), (Dynamic::ForceStatic, true)] {
        let runs = Counter::default();
        let svc = counting_route(&runs)
            .dynamic(dynamic)
            .revalidate(60)
            .cache(&Cache::new())
            .into_service();
        let authorized = || {
            Request::get("/a")
                .header(header::AUTHORIZATION, "Basic eDp5")
                .body(Body::empty())
                .unwrap()
        };
        send(&svc, get("/a")).await;
        let (_, h, _) = send(&svc, authorized()).await;
        assert_eq!(status_of(&h) == "HIT", cached, "{dynamic:?}");
        assert_eq!(runs.get(), if cached { 1 } else { 2 });
    }
}

fn response_with(headers: &[(&'static str, &'static str)], status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::from("content"));
    *res.status_mut() = status;
    for (name, value) in headers {
        res.headers_mut()
            .append(*name, HeaderValue::from_static(value));
    }
    res
}

#[tokio::test]
async fn what_is_stored_and_what_is_not() {
    type Case = (
        &'static str,
        Dynamic,
        bool,
        &'static [(&'static str, &'static str)],
        StatusCode,
        bool,
    );
    let cases: Vec<Case> = vec![
        (
            "plain",
            Dynamic::ForceStatic,
            false,
            &[],
            StatusCode::OK,
            true,
        ),
        (
            "no-store",
            Dynamic::ForceStatic,
            false,
            &[("cache-control", "no-store")],
            StatusCode::OK,
            false,
        ),
        (
            "private",
            Dynamic::ForceStatic,
            false,
            &[("cache-control", "private, max-age=60")],
            StatusCode::OK,
            false,
        ),
        (
            "no-cache",
            Dynamic::ForceStatic,
            false,
            &[("cache-control", "no-cache")],
            StatusCode::OK,
            false,
        ),
        (
            "public",
            Dynamic::ForceStatic,
            false,
            &[("cache-control", "public, max-age=5")],
            StatusCode::OK,
            true,
        ),
        (
            "vary star",
            Dynamic::ForceStatic,
            false,
            &[("vary", "Accept, *")],
            StatusCode::OK,
            false,
        ),
        (
            "vary static",
            Dynamic::ForceStatic,
            false,
            &[("vary", "Accept-Encoding")],
            StatusCode::OK,
            true,
        ),
        (
            "vary auto",
            Dynamic::Auto,
            false,
            &[("vary", "Accept-Encoding")],
            StatusCode::OK,
            false,
        ),
        (
            "set-cookie",
            Dynamic::ForceStatic,
            false,
            &[("set-cookie", "a=1")],
            StatusCode::OK,
            false,
        ),
        (
            "set-cookie opt-in",
            Dynamic::ForceStatic,
            true,
            &[("set-cookie", "a=1")],
            StatusCode::OK,
            true,
        ),
        (
            "404",
            Dynamic::ForceStatic,
            false,
            &[],
            StatusCode::NOT_FOUND,
            true,
        ),
        (
            "301",
            Dynamic::ForceStatic,
            false,
            &[("location", "/b")],
            StatusCode::MOVED_PERMANENTLY,
            true,
        ),
        (
            "204",
            Dynamic::ForceStatic,
            false,
            &[],
            StatusCode::NO_CONTENT,
            true,
        ),
        (
            "403",
            Dynamic::ForceStatic,
            false,
            &[],
            StatusCode::FORBIDDEN,
            false,
        ),
        (
            "410",
            Dynamic::ForceStatic,
            false,
            &[],
            StatusCode::GONE,
            false,
        ),
        (
            "503",
            Dynamic::ForceStatic,
            false,
            &[],
            StatusCode::SERVICE_UNAVAILABLE,
            false,
        ),
    ];
    for (name, dynamic, set_cookie, headers, status, stored) in cases {
        let runs = Counter::default();
        let r = runs.clone();
        let headers = headers.to_vec();
        let svc = RouteHandler::new()
            .get(move || {
                r.bump();
                let res = response_with(&headers, status);
                async move { res }
            })
            .dynamic(dynamic)
            .revalidate(60)
            .cache_set_cookie(set_cookie)
            .cache(&Cache::new())
            .into_service();
        let (s1, h1, _) = send(&svc, get("/w")).await;
        let (s2, h2, b2) = send(&svc, get("/w")).await;
        assert_eq!((s1, s2), (status, status), "{name}");
        assert_eq!(status_of(&h1), "MISS", "{name}");
        assert_eq!(
            status_of(&h2),
            if stored { "HIT" } else { "MISS" },
            "{name}"
        );
        assert_eq!(runs.get(), if stored { 1 } else { 2 }, "{name}");
        if status != StatusCode::NO_CONTENT {
            assert_eq!(b2, "content", "{name}");
        }
        if stored && status == StatusCode::OK {
            assert!(h2.contains_key(header::ETAG), "{name}");
        }
    }
}

#[tokio::test]
async fn a_set_cookie_response_goes_only_to_the_client_that_caused_it() {
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move || {
            let n = r.bump();
            async move {
                tokio::task::yield_now().await;
                let mut res = "hello".into_response();
                res.headers_mut().insert(
                    header::SET_COOKIE,
                    HeaderValue::from_str(&format!("session={n}")).unwrap(),
                );
                res
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let replies = futures::future::join_all((0..5).map(|_| send(&svc, get("/c")))).await;
    let mut cookies: Vec<_> = replies
        .iter()
        .map(|(_, h, _)| h[header::SET_COOKIE].to_str().unwrap().to_owned())
        .collect();
    cookies.sort();
    cookies.dedup();
    assert_eq!(
        cookies.len(),
        5,
        "every client got its own cookie: {cookies:?}"
    );
    assert_eq!(runs.get(), 5);
}

#[tokio::test]
async fn a_body_over_the_cap_streams_through_uncached() {
    let runs = Counter::default();
    let r = runs.clone();
    let cache = Cache::builder().max_body_size(8).build();
    let svc = RouteHandler::new()
        .get(move || {
            r.bump();
            async {
                Body::from_stream(futures::stream::iter(
                    ["0123456", "789abcd", "efghij"].map(|c| Ok::<_, Infallible>(Bytes::from(c))),
                ))
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&cache)
        .into_service();
    // The first request finds out that the response is too large to store; the key is then
    // passed through (no cache status), so later requests neither buffer nor wait.
    for (n, status) in [(1, "MISS"), (2, "-"), (3, "-")] {
        let (s, h, b) = send(&svc, get("/big")).await;
        assert_eq!((s, status_of(&h)), (StatusCode::OK, status));
        assert_eq!(b, "0123456789abcdefghij");
        assert_eq!(runs.get(), n);
    }
    let (s, h, b) = send(&svc, req("HEAD", "/big")).await;
    assert_eq!((s, status_of(&h), b.len()), (StatusCode::OK, "-", 0));
    assert_eq!(runs.get(), 4);
}

#[tokio::test]
async fn etag_and_if_none_match() {
    let svc = RouteHandler::new()
        .get(|| async { "tagged" })
        .dynamic(Dynamic::ForceStatic)
        .cache(&Cache::new())
        .into_service();
    let (_, h, _) = send(&svc, get("/e")).await;
    let etag = h[header::ETAG].clone();
    assert!(etag.to_str().unwrap().starts_with("\"6-"));
    for (inm, want) in [
        (etag.to_str().unwrap().to_owned(), StatusCode::NOT_MODIFIED),
        (
            format!("W/{}", etag.to_str().unwrap()),
            StatusCode::NOT_MODIFIED,
        ),
        (
            format!("\"other\", {}", etag.to_str().unwrap()),
            StatusCode::NOT_MODIFIED,
        ),
        ("*".to_owned(), StatusCode::NOT_MODIFIED),
        ("\"other\"".to_owned(), StatusCode::OK),
    ] {
        for method in ["GET", "HEAD"] {
            let r = Request::builder()
                .method(method)
                .uri("/e")
                .header(header::IF_NONE_MATCH, &inm)
                .body(Body::empty())
                .unwrap();
            let (s, h, b) = send(&svc, r).await;
            assert_eq!(s, want, "{method} {inm}");
            assert_eq!(h[header::ETAG], etag);
            assert_eq!(status_of(&h), "HIT");
            if want == StatusCode::NOT_MODIFIED {
                assert!(b.is_empty());
                assert!(h.get(header::CONTENT_LENGTH).is_none());
                assert!(h.contains_key(header::CACHE_CONTROL));
            }
        }
    }
}

#[tokio::test]
async fn a_handler_cache_control_and_etag_are_kept() {
    let svc = RouteHandler::new()
        .get(|| async {
            response_with(
                &[("cache-control", "public, max-age=3"), ("etag", "\"mine\"")],
                StatusCode::OK,
            )
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(60)
        .cache(&Cache::new())
        .into_service();
    send(&svc, get("/k")).await;
    let (_, h, _) = send(&svc, get("/k")).await;
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=3");
    assert_eq!(h[header::ETAG], "\"mine\"");
    let r = Request::get("/k")
        .header(header::IF_NONE_MATCH, "\"mine\"")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&svc, r).await.0, StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn hosts_share_an_entry_unless_keyed_by_host() {
    for (key_by_host, runs_after) in [(false, 1), (true, 2)] {
        let runs = Counter::default();
        let r = runs.clone();
        let svc = RouteHandler::new()
            .get(move |headers: HeaderMap| {
                r.bump();
                async move { format!("{:?}", headers.get(header::HOST)) }
            })
            .dynamic(Dynamic::ForceStatic)
            .cache(&Cache::builder().key_by_host(key_by_host).build())
            .into_service();
        let on = |host: &str| {
            Request::get("/h")
                .header(header::HOST, host)
                .body(Body::empty())
                .unwrap()
        };
        let (_, _, a) = send(&svc, on("a.test")).await;
        let (_, _, b) = send(&svc, on("b.test")).await;
        assert_eq!(runs.get(), runs_after);
        if key_by_host {
            assert_eq!(
                (&a[..], &b[..]),
                (&b"Some(\"a.test\")"[..], &b"Some(\"b.test\")"[..])
            );
        } else {
            assert_eq!((&a[..], &b[..]), (&b"None"[..], &b"None"[..]));
        }
        let (_, h, _) = send(&svc, on("A.TEST")).await;
        assert_eq!(status_of(&h), "HIT");
    }
}

#[tokio::test]
async fn a_route_given_no_cache_has_its_own_and_its_revalidator_reaches_it() {
    let runs = Counter::default();
    let svc = counting_route(&runs)
        .dynamic(Dynamic::ForceStatic)
        .tags(["things"])
        .into_service();
    let path = "/tests/cache/own-cache";
    send(&svc, get(path)).await;
    let (_, h, _) = send(&svc, get(path)).await;
    assert_eq!(status_of(&h), "HIT");
    // Not a hidden global: the process-wide cache holds nothing of it.
    let report = Cache::global()
        .revalidator()
        .revalidate_path(path)
        .await
        .unwrap();
    assert!(report.reached_nothing(), "{report:?}");
    let (_, h, _) = send(&svc, get(path)).await;
    assert_eq!(status_of(&h), "HIT");

    let revalidator = svc.revalidator().expect("a cached route has a cache");
    let report = revalidator.revalidate_path(path).await.unwrap();
    assert_eq!(report.entries(), Some(1));
    assert_eq!(report.routes(), [std::sync::Arc::<str>::from("(route)")]);
    let (_, h, _) = send(&svc, get(path)).await;
    assert_eq!(status_of(&h), "REVALIDATED");
    assert_eq!(runs.get(), 2);

    let report = revalidator.revalidate_tag("things").await.unwrap();
    assert_eq!((report.entries(), report.routes().len()), (Some(1), 1));
    let report = revalidator.revalidate_tag("other").await.unwrap();
    assert!(report.reached_nothing(), "{report:?}");
}

#[tokio::test]
async fn a_small_store_evicts_and_stays_correct() {
    let store = MemoryStore::new(8 * 1024);
    let cache = Cache::builder().store(store.clone()).build();
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move |uri: http::Uri| {
            r.bump();
            async move { format!("{}{}", uri.path(), "x".repeat(1000)) }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(&cache)
        .into_service();
    for i in 0..40 {
        let (_, _, b) = send(&svc, get(&format!("/p{i}"))).await;
        assert!(b.starts_with(format!("/p{i}x").as_bytes()));
    }
    assert!(store.weighted_size() <= 8 * 1024);
    assert!(store.entry_count() < 40);
    for i in 0..40 {
        let (_, _, b) = send(&svc, get(&format!("/p{i}"))).await;
        assert!(b.starts_with(format!("/p{i}x").as_bytes()));
    }
}

#[tokio::test]
async fn the_layer_caches_around_a_plain_service() {
    let runs = Counter::default();
    let r = runs.clone();
    let svc = ServiceBuilder::new()
        .layer(
            CacheLayer::new(
                CacheConfig::new()
                    .dynamic(Dynamic::ForceStatic)
                    .revalidate(60),
            )
            .cache(&Cache::new()),
        )
        .service(service_fn(move |req: Request<Body>| {
            let n = r.bump();
            async move {
                let text = format!("{} {} run {n}", req.method(), req.uri());
                Ok::<_, Infallible>(Response::new(Body::from(text)))
            }
        }));
    let (_, h, b) = send(&svc, req("HEAD", "/l?x=1")).await;
    assert_eq!((status_of(&h), b.len()), ("MISS", 0));
    assert_eq!(h[header::CONTENT_LENGTH], "12");
    let (_, h, b) = send(&svc, get("/l")).await;
    assert_eq!((status_of(&h), &b[..]), ("HIT", &b"GET /l run 1"[..]));
    let (_, h, b) = send(&svc, req("POST", "/l")).await;
    assert_eq!((status_of(&h), &b[..]), ("-", &b"POST /l run 2"[..]));
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn the_layer_passes_through_when_not_caching_and_rejects_contradictions() {
    let layer = CacheLayer::new(CacheConfig::new().dynamic(Dynamic::ForceDynamic));
    assert!(!layer.is_caching());
    let runs = Counter::default();
    let r = runs.clone();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |_req: Request<Body>| {
            r.bump();
            async { Ok::<_, Infallible>(Response::new(Body::from("x"))) }
        }));
    send(&svc, get("/")).await;
    let (_, h, _) = send(&svc, get("/")).await;
    assert_eq!((status_of(&h), runs.get()), ("-", 2));

    let err = CacheLayer::try_new(
        CacheConfig::new()
            .dynamic(Dynamic::ForceDynamic)
            .revalidate(Revalidate::Never),
    )
    .unwrap_err();
    assert_eq!(err.problems().len(), 1);
}

#[tokio::test]
async fn the_layer_answers_service_errors_to_their_own_request() {
    #[derive(Debug)]
    struct Boom;
    let runs = Counter::default();
    let r = runs.clone();
    let svc = ServiceBuilder::new()
        .layer(
            CacheLayer::new(CacheConfig::new().dynamic(Dynamic::ForceStatic)).cache(&Cache::new()),
        )
        .service(service_fn(move |_req: Request<Body>| {
            let n = r.bump();
            async move {
                if n == 1 {
                    Err(Boom)
                } else {
                    Ok(Response::new(Body::from("fine")))
                }
            }
        }));
    assert!(svc.clone().oneshot(get("/x")).await.is_err());
    let res = svc.clone().oneshot(get("/x")).await.unwrap();
    assert_eq!(res.headers()[STATUS], "MISS");
    let res = svc.oneshot(get("/x")).await.unwrap();
    assert_eq!(res.headers()[STATUS], "HIT");
}

#[tokio::test(start_paused = true)]
async fn a_stale_hit_does_not_wait_for_a_slow_regeneration() {
    let notify = Arc::new(Notify::new());
    let runs = Counter::default();
    let r = runs.clone();
    let n2 = notify.clone();
    let svc = RouteHandler::new()
        .get(move || {
            let n = r.bump();
            let notify = n2.clone();
            async move {
                if n > 1 {
                    notify.notified().await;
                }
                format!("run {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(Duration::from_millis(1))
        .cache(&Cache::new())
        .into_service();
    send(&svc, get("/slow")).await;
    tokio::time::advance(Duration::from_millis(2)).await;
    let (_, h, b) = send(&svc, get("/slow")).await;
    assert_eq!((status_of(&h), &b[..]), ("STALE", &b"run 1"[..]));
    settle().await;
    assert_eq!(runs.get(), 2);
    notify.notify_one();
    settle().await;
    let (_, h, b) = send(&svc, get("/slow")).await;
    assert_eq!(&b[..], b"run 2", "{h:?}");
}

#[test]
fn without_a_tokio_runtime_the_request_drives_its_fill() {
    let runs = Counter::default();
    let svc = counting_route(&runs)
        .dynamic(Dynamic::ForceStatic)
        .revalidate(1)
        .cache(&Cache::new())
        .into_service();
    futures::executor::block_on(async {
        let (s, h, b) = send(&svc, get("/n")).await;
        assert_eq!(
            (s, status_of(&h), &b[..]),
            (StatusCode::OK, "MISS", &b"run 1"[..])
        );
        let (_, h, _) = send(&svc, get("/n")).await;
        assert_eq!(status_of(&h), "HIT");
        // Let the entry go stale (no Tokio clock to advance here: the real one).
        std::thread::sleep(Duration::from_millis(1100));
        // Stale, and no runtime to regenerate on: the stale entry is served, nothing panics.
        let (s, h, b) = send(&svc, get("/n")).await;
        assert_eq!(
            (s, status_of(&h), &b[..]),
            (StatusCode::OK, "STALE", &b"run 1"[..])
        );
        assert_eq!(age(&h), "1");
        assert_eq!(runs.get(), 1);
    });
}

#[tokio::test(start_paused = true)]
async fn a_fill_that_never_ends_times_out_and_frees_its_key() {
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move || {
            let n = r.bump();
            async move {
                if n == 1 {
                    std::future::pending::<()>().await;
                }
                format!("run {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .cache(
            &Cache::builder()
                .fill_timeout(Duration::from_secs(5))
                .build(),
        )
        .into_service();
    let started = tokio::time::Instant::now();
    let (first, second) = tokio::join!(send(&svc, get("/stuck")), send(&svc, get("/stuck")));
    assert_eq!(started.elapsed(), Duration::from_secs(5));
    for (s, h, _) in [first, second] {
        assert_eq!(
            (s, status_of(&h)),
            (StatusCode::INTERNAL_SERVER_ERROR, "MISS")
        );
    }
    let (s, h, b) = send(&svc, get("/stuck")).await;
    assert_eq!(
        (s, status_of(&h), &b[..]),
        (StatusCode::OK, "MISS", &b"run 2"[..])
    );
    assert_eq!(runs.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_regeneration_that_never_ends_keeps_the_stale_entry() {
    let runs = Counter::default();
    let r = runs.clone();
    let svc = RouteHandler::new()
        .get(move || {
            let n = r.bump();
            async move {
                if n == 2 {
                    std::future::pending::<()>().await;
                }
                format!("run {n}")
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(10)
        .cache(
            &Cache::builder()
                .fill_timeout(Duration::from_secs(5))
                .build(),
        )
        .into_service();
    send(&svc, get("/s")).await;
    tokio::time::advance(Duration::from_secs(10)).await;
    let (_, h, _) = send(&svc, get("/s")).await;
    assert_eq!(status_of(&h), "STALE");
    tokio::time::sleep(Duration::from_secs(6)).await;
    // Timed out and backing off: still stale, no new run until the window (10 s) passes.
    let (_, h, b) = send(&svc, get("/s")).await;
    assert_eq!((status_of(&h), &b[..]), ("STALE", &b"run 1"[..]));
    settle().await;
    assert_eq!(runs.get(), 2);
    tokio::time::advance(Duration::from_secs(10)).await;
    send(&svc, get("/s")).await;
    settle().await;
    let (_, h, b) = send(&svc, get("/s")).await;
    assert_eq!((status_of(&h), &b[..]), ("HIT", &b"run 3"[..]));
}

#[tokio::test]
async fn a_key_too_long_to_be_a_uri_shares_nothing_and_never_fills_another_path() {
    // Every stray `%` is escaped in the canonical path, which makes it three times as long:
    // past what a URI may hold. The fill must not fall back to another path (such as `/`).
    let path = format!("/x{}", "%".repeat(25_000));
    for (dynamic, want) in [
        (Dynamic::ForceStatic, StatusCode::URI_TOO_LONG),
        (Dynamic::Auto, StatusCode::OK),
    ] {
        let runs = Counter::default();
        let r = runs.clone();
        let svc = ServiceBuilder::new()
            .layer(
                CacheLayer::new(CacheConfig::new().dynamic(dynamic).revalidate(60))
                    .cache(&Cache::new()),
            )
            .service(service_fn(move |req: Request<Body>| {
                r.bump();
                let path = req.uri().path().to_owned();
                async move { Ok::<_, Infallible>(Response::new(Body::from(path))) }
            }));
        let (status, _, body) = send(&svc, get(&path)).await;
        assert_eq!(status, want, "{dynamic:?}");
        if want == StatusCode::OK {
            // An ordinary run with the client's own request.
            assert_eq!(body, path.as_bytes());
        } else {
            assert_eq!(runs.get(), 0, "{dynamic:?}");
        }
        let (_, h, _) = send(&svc, get("/")).await;
        assert_eq!(
            status_of(&h),
            "MISS",
            "{dynamic:?}: `/` was not filled by the long key"
        );
    }
}
