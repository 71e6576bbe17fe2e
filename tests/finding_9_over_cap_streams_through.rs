//! Finding 9: responses over `max_body_size` are buffered up to the cap on every request.
//!
//! A response whose body turns out to be over the cache's `max_body_size` streams through
//! uncached, but only after the cache has buffered a cap's worth of it, on every request
//! for that key. Expected: a key whose response was over the cap is remembered as
//! uncacheable for a while, so later requests stream straight through, neither buffered
//! nor waiting on one another.

mod support;

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use route_handlers::{
    Body, RouteHandler,
    cache::{Cache, Dynamic},
};
use support::{Proto, client, serve};
use tokio::sync::Notify;

const STATUS: &str = "x-route-cache";
const CAP: usize = 1024;
const HALF: usize = 1000;
const GUARD: Duration = Duration::from_secs(5);

/// A `ForceStatic` route whose body is `HALF` bytes of `a`, then (on every run after the
/// first) a wait for `release`, then `HALF` bytes of `b`: 2000 bytes, over the cap.
fn route(runs: &Arc<AtomicUsize>, release: &Arc<Notify>) -> route_handlers::RouteHandlerService {
    let (runs, release) = (runs.clone(), release.clone());
    RouteHandler::new()
        .get(move || {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let release = release.clone();
            async move {
                let first = futures::stream::once(async { Ok(Bytes::from(vec![b'a'; HALF])) });
                let second = futures::stream::once(async move {
                    if n > 1 {
                        release.notified().await;
                    }
                    Ok::<_, Infallible>(Bytes::from(vec![b'b'; HALF]))
                });
                Body::from_stream(futures::StreamExt::chain(first, second))
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(60)
        .cache(&Cache::builder().max_body_size(CAP).build())
        .into_service()
}

fn expected_body() -> Vec<u8> {
    let mut body = vec![b'a'; HALF];
    body.extend(vec![b'b'; HALF]);
    body
}

async fn over_the_cap_streams_through(proto: Proto) {
    let runs = Arc::new(AtomicUsize::new(0));
    let release = Arc::new(Notify::new());
    let server = serve(route(&runs, &release)).await;
    let client = client(proto);
    let get = || {
        Request::get(server.url("/feed"))
            .body(Full::new(Bytes::new()))
            .unwrap()
    };

    // First request: not gated; over the cap, it streams to its client uncached.
    let res = tokio::time::timeout(GUARD, client.request(get()))
        .await
        .expect("first response")
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_ne!(
        res.headers().get(STATUS).map(|v| v.to_str().unwrap()),
        Some("HIT")
    );
    let body = tokio::time::timeout(GUARD, res.into_body().collect())
        .await
        .expect("first body")
        .unwrap()
        .to_bytes();
    assert_eq!(body, expected_body());

    // Later requests: the first half must reach the client before the handler is let go
    // on to the second half.
    for round in 2..=3 {
        let res = tokio::time::timeout(GUARD, client.request(get()))
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "{proto:?} request {round}: no response head within {GUARD:?} while the \
                     handler waits after its first {HALF} bytes: the cache holds the \
                     response back, buffering up to max_body_size ({CAP})"
                )
            })
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_ne!(
            res.headers().get(STATUS).map(|v| v.to_str().unwrap()),
            Some("HIT")
        );
        let mut body = res.into_body();
        let mut got = Vec::new();
        while got.len() < HALF {
            let frame = tokio::time::timeout(GUARD, body.frame())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "{proto:?} request {round}: only {} of the first {HALF} bytes \
                         arrived within {GUARD:?}",
                        got.len()
                    )
                })
                .expect("more frames")
                .unwrap();
            if let Ok(data) = frame.into_data() {
                got.extend_from_slice(&data);
            }
        }
        assert_eq!(got, vec![b'a'; HALF], "{proto:?} request {round}");
        release.notify_one();
        let rest = tokio::time::timeout(GUARD, body.collect())
            .await
            .expect("the rest of the body")
            .unwrap()
            .to_bytes();
        got.extend_from_slice(&rest);
        assert_eq!(got, expected_body(), "{proto:?} request {round}");
        assert_eq!(
            runs.load(Ordering::SeqCst),
            round,
            "{proto:?}: one handler run per request"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_streams_through_h1() {
    over_the_cap_streams_through(Proto::H1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_streams_through_h2() {
    over_the_cap_streams_through(Proto::H2).await;
}
