//! Finding 4: tags that come only from a `CacheTags` response extension do not fence a fill
//! that is in flight.
//!
//! A fill starts; `revalidate_tag("t")` returns; more requests come in; the fill's response
//! then turns out to carry the tag `t` (from a `CacheTags` response extension). Those later
//! requests were given the pre-purge body (marked `REVALIDATED`). Expected: every request
//! that started after `revalidate_tag` returned gets a body generated after the purge.

mod support;

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use http::{Request, Response};
use route_handlers::{
    Body, IntoResponse, RouteHandler, Routes,
    cache::{Cache, CacheTags, Dynamic},
};
use support::{Proto, Reply, send, serve};
use tokio::sync::{Notify, watch};
use tower::Service;

const STATUS: &str = "x-route-cache";
const LATER: usize = 20;

/// Counts the requests that have entered the table and been polled once, that is, that
/// have looked the key up and joined or started a fill.
#[derive(Clone)]
struct Arrivals<S> {
    inner: S,
    arrived: watch::Sender<usize>,
}

impl<S, B> Service<Request<B>> for Arrivals<S>
where
    S: Service<Request<B>, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let mut future = Box::pin(self.inner.call(req));
        let arrived = self.arrived.clone();
        Box::pin(async move {
            let first = futures::poll!(future.as_mut());
            arrived.send_modify(|n| *n += 1);
            match first {
                Poll::Ready(res) => res,
                Poll::Pending => future.await,
            }
        })
    }
}

fn text(reply: &Reply) -> &str {
    std::str::from_utf8(&reply.body).unwrap()
}

fn generation(reply: &Reply) -> usize {
    text(reply)
        .strip_prefix("gen ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected reply {reply:?}"))
}

async fn purge_during_a_fill(route: RouteHandler) {
    let runs = Arc::new(AtomicUsize::new(0));
    let started = Arc::new(Notify::new());
    let release = Arc::new(Notify::new());
    let route = {
        let (runs, started, release) = (runs.clone(), started.clone(), release.clone());
        route.get(move || {
            let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let (started, release) = (started.clone(), release.clone());
            async move {
                if n == 1 {
                    started.notify_one();
                    release.notified().await;
                }
                let mut res = format!("gen {n}").into_response();
                res.extensions_mut().insert(CacheTags::new(["t"]));
                res
            }
        })
    };
    let cache = Cache::new();
    let table = Routes::new().cache(&cache).route("/post", route).build();
    let (arrived, mut arrivals) = watch::channel(0);
    let server = serve(Arrivals {
        inner: table,
        arrived,
    })
    .await;
    let addr = server.addr;
    let guard = Duration::from_secs(10);

    // The fill starts and blocks in its first run.
    let first = tokio::spawn(async move { send(Proto::H1, addr, "GET", "/post", &[], "").await });
    tokio::time::timeout(guard, started.notified())
        .await
        .expect("the first run started");

    cache.revalidator().revalidate_tag("t").await.unwrap();

    // Requests that start after the purge returned; wait until each of them (and the
    // first) has joined or started a fill, then let the first run finish.
    let later: Vec<_> = (0..LATER)
        .map(|_| tokio::spawn(async move { send(Proto::H1, addr, "GET", "/post", &[], "").await }))
        .collect();
    tokio::time::timeout(guard, arrivals.wait_for(|n| *n > LATER))
        .await
        .expect("every request reached the table")
        .unwrap();
    release.notify_one();

    let first = first.await.unwrap();
    assert_eq!(first.status, 200, "{first:?}");
    let mut old = Vec::new();
    for (i, reply) in later.into_iter().enumerate() {
        let reply = reply.await.unwrap();
        assert_eq!(reply.status, 200, "{reply:?}");
        if generation(&reply) < 2 {
            old.push(format!(
                "#{i}: {:?} ({:?})",
                text(&reply),
                reply.header(STATUS)
            ));
        }
    }
    assert!(
        old.is_empty(),
        "{} of {LATER} requests started after revalidate_tag(\"t\") returned got the \
         pre-purge body, first ones: {:?}",
        old.len(),
        &old[..old.len().min(3)]
    );

    // And the pre-purge body was not stored either.
    let after = send(Proto::H1, addr, "GET", "/post", &[], "").await;
    assert!(generation(&after) >= 2, "afterwards: {after:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn force_static_response_tags_fence_a_fill_in_flight() {
    purge_during_a_fill(
        RouteHandler::new()
            .dynamic(Dynamic::ForceStatic)
            .revalidate(60),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_response_tags_fence_a_fill_in_flight() {
    purge_during_a_fill(RouteHandler::new().revalidate(60)).await;
}
