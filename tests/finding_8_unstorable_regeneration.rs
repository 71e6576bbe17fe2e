//! Finding 8: a stale regeneration whose result may not be stored.
//!
//! A regeneration that failed with a 5xx kept the stale entry in service and backed off;
//! one that answered `429` or `403`, or added `Set-Cookie`, deleted the good stale entry,
//! and every later request ran the handler. Expected: such a regeneration keeps the stale
//! entry in service and backs off like a 5xx (retried after the revalidate window clamped
//! to 3–30 s).
//!
//! In-process with `oneshot` and paused time (the logic under test is the cache's, and
//! paused time does not work with real sockets).

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use route_handlers::{
    Body, RouteHandler, RouteHandlerService,
    cache::{Cache, Dynamic},
};
use tower::ServiceExt;

const STATUS: &str = "x-route-cache";
const WINDOW: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug)]
enum Failure {
    TooManyRequests,
    Forbidden,
    SetCookie,
    ServerError,
}

impl Failure {
    fn response(self) -> Response<Body> {
        let (status, body) = match self {
            Self::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "slow down"),
            Self::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Self::SetCookie => (StatusCode::OK, "with a cookie"),
            Self::ServerError => (StatusCode::SERVICE_UNAVAILABLE, "down"),
        };
        let mut res = Response::builder().status(status);
        if let Self::SetCookie = self {
            res = res.header("set-cookie", "session=abc; Path=/");
        }
        res.body(Body::from(body)).unwrap()
    }
}

/// Answers `good` on its first run and `failure` on every later one.
fn route(runs: &Arc<AtomicUsize>, failure: Failure) -> RouteHandlerService {
    let runs = runs.clone();
    RouteHandler::new()
        .get(move || {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n == 1 {
                    Response::new(Body::from("good"))
                } else {
                    failure.response()
                }
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(WINDOW)
        .cache(&Cache::new())
        .into_service()
}

async fn get(svc: &RouteHandlerService) -> (StatusCode, Option<String>, String) {
    let req = Request::get("/prices").body(Body::empty()).unwrap();
    let res: Response<Body> = svc
        .clone()
        .oneshot(req)
        .await
        .unwrap_or_else(|never: Infallible| match never {});
    let (parts, body) = res.into_parts();
    let status = parts
        .headers
        .get(STATUS)
        .map(|v| v.to_str().unwrap().to_owned());
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        status,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

/// Lets the spawned regeneration run to its end (time is paused: this does not wait).
async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

fn assert_stale_good(failure: Failure, when: &str, got: &(StatusCode, Option<String>, String)) {
    assert_eq!(
        (got.0, got.1.as_deref(), got.2.as_str()),
        (StatusCode::OK, Some("STALE"), "good"),
        "{failure:?}, {when}: the stale entry must stay in service"
    );
}

async fn keeps_the_stale_entry_and_backs_off(failure: Failure) {
    let runs = Arc::new(AtomicUsize::new(0));
    let svc = route(&runs, failure);
    let first = get(&svc).await;
    assert_eq!(
        (first.1.as_deref(), first.2.as_str()),
        (Some("MISS"), "good")
    );

    // Past the window: served stale, one regeneration runs (and fails).
    tokio::time::advance(WINDOW + Duration::from_secs(1)).await;
    assert_stale_good(failure, "first request past the window", &get(&svc).await);
    settle().await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "{failure:?}: one regeneration"
    );

    // The next request still gets the good entry, and does not run the handler.
    assert_stale_good(failure, "right after the regeneration", &get(&svc).await);
    settle().await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "{failure:?}: the handler ran again right after the regeneration"
    );

    // Within the retry window (5 s, within 3..=30) no regeneration starts.
    for _ in 0..4 {
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_stale_good(failure, "within the retry window", &get(&svc).await);
        settle().await;
    }
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "{failure:?}: the handler ran within the retry window"
    );

    // Past it, one more regeneration, and the entry is still served meanwhile.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_stale_good(failure, "past the retry window", &get(&svc).await);
    settle().await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        3,
        "{failure:?}: one retry after the window"
    );
    assert_stale_good(failure, "after the retry", &get(&svc).await);
}

#[tokio::test(start_paused = true)]
async fn a_429_regeneration_keeps_the_stale_entry_and_backs_off() {
    keeps_the_stale_entry_and_backs_off(Failure::TooManyRequests).await;
}

#[tokio::test(start_paused = true)]
async fn a_403_regeneration_keeps_the_stale_entry_and_backs_off() {
    keeps_the_stale_entry_and_backs_off(Failure::Forbidden).await;
}

#[tokio::test(start_paused = true)]
async fn a_set_cookie_regeneration_keeps_the_stale_entry_and_backs_off() {
    keeps_the_stale_entry_and_backs_off(Failure::SetCookie).await;
}

/// Guard: what a 5xx regeneration already does.
#[tokio::test(start_paused = true)]
async fn a_5xx_regeneration_keeps_the_stale_entry_and_backs_off() {
    keeps_the_stale_entry_and_backs_off(Failure::ServerError).await;
}
