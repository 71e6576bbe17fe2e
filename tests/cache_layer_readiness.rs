//! A miss through a `CacheService` gives back the capacity its `poll_ready` reserved: the
//! fill calls a clone of the inner service, which reserves its own. Around a service with a
//! concurrency limit (tower's `ConcurrencyLimit` semantics: `poll_ready` takes a permit into
//! `self`, `call` moves it into the future, `clone` starts without one), a caller that keeps
//! its service between requests (a `tower::Buffer` worker, `ready().await` + `call`) used to
//! starve the fill until `fill_timeout` (or forever without one).

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response, StatusCode};
use route_handlers::{
    Body,
    cache::{Cache, CacheConfig, CacheLayer, Dynamic},
};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util_like::PollSemaphore;
use tower::{Layer, Service, ServiceExt};

mod tokio_util_like {
    //! A minimal `PollSemaphore`, as tower's `ConcurrencyLimit` uses.
    use super::*;
    pub(crate) struct PollSemaphore {
        sem: Arc<Semaphore>,
        fut: Option<Pin<Box<dyn Future<Output = OwnedSemaphorePermit> + Send>>>,
    }
    impl PollSemaphore {
        pub(crate) fn new(sem: Arc<Semaphore>) -> Self {
            Self { sem, fut: None }
        }
        pub(crate) fn poll_acquire(&mut self, cx: &mut Context<'_>) -> Poll<OwnedSemaphorePermit> {
            let sem = self.sem.clone();
            let fut = self
                .fut
                .get_or_insert_with(|| Box::pin(async move { sem.acquire_owned().await.unwrap() }));
            match fut.as_mut().poll(cx) {
                Poll::Ready(p) => {
                    self.fut = None;
                    Poll::Ready(p)
                }
                Poll::Pending => Poll::Pending,
            }
        }
    }
    impl Clone for PollSemaphore {
        fn clone(&self) -> Self {
            Self::new(self.sem.clone())
        }
    }
}

/// tower's `ConcurrencyLimit`, reduced.
struct Limited<S> {
    inner: S,
    sem: PollSemaphore,
    permit: Option<OwnedSemaphorePermit>,
}

impl<S: Clone> Clone for Limited<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            sem: self.sem.clone(),
            permit: None,
        }
    }
}

impl<S, R> Service<R> for Limited<S>
where
    S: Service<R>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if self.permit.is_none() {
            match self.sem.poll_acquire(cx) {
                Poll::Ready(p) => self.permit = Some(p),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: R) -> Self::Future {
        let permit = self.permit.take().expect("poll_ready first");
        let fut = self.inner.call(req);
        Box::pin(async move {
            let res = fut.await;
            drop(permit);
            res
        })
    }
}

#[tokio::test(start_paused = true)]
async fn a_miss_through_a_kept_service_waits_for_its_own_reservation() {
    let inner = Limited {
        inner: tower::service_fn(|_req: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::from("hello")))
        }),
        sem: PollSemaphore::new(Arc::new(Semaphore::new(1))),
        permit: None,
    };
    let mut svc = CacheLayer::new(CacheConfig::new().dynamic(Dynamic::ForceStatic))
        .cache(&Cache::new())
        .layer(inner);
    // One caller that keeps its service, as a Buffer worker does; capacity 1.
    let mut statuses = Vec::new();
    for path in ["/a"] {
        let res = svc
            .ready()
            .await
            .unwrap()
            .call(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        statuses.push(res.status());
    }
    assert_eq!(
        statuses,
        [StatusCode::OK],
        "with room for one call, one miss were answered {statuses:?}"
    );
}
