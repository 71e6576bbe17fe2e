//! Allocations per request: the route's guard (panic catching, error logging, the
//! `max_duration` deadline, the body limit) adds none to the handler's own.
//!
//! One test in this binary, so no other test allocates while it counts.

use std::{alloc::System, future::Future, pin::Pin, time::Duration};

use http::{Request, Response};
use route_handlers::{Body, IntoResponse, RouteHandler, RouteHandlerService, request::NextRequest};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::Service;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 200;

async fn hello() -> &'static str {
    "hello"
}

/// Allocations per round of `round`, after a warm-up round: the least of five runs, since
/// the counter is global and the test harness's own threads may allocate now and then.
fn allocations<F: Future<Output = ()>>(
    rt: &tokio::runtime::Runtime,
    mut round: impl FnMut() -> F,
) -> f64 {
    rt.block_on(round());
    (0..5)
        .map(|_| {
            let region = Region::new(GLOBAL);
            for _ in 0..ROUNDS {
                rt.block_on(round());
            }
            region.change().allocations as f64 / ROUNDS as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn through(rt: &tokio::runtime::Runtime, svc: RouteHandlerService) -> f64 {
    allocations(rt, move || {
        let mut svc = svc.clone();
        async move {
            let req = Request::builder()
                .method("GET")
                .body(Body::empty())
                .unwrap();
            let res = svc.call(req).await.unwrap();
            assert_eq!(res.status(), 200);
        }
    })
}

#[test]
fn the_guard_adds_no_allocation_per_request() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();

    // The floor: the handler's future boxed once (as a route must, to hold handlers of
    // different types) and its output turned into a response.
    let floor = allocations(&rt, || async {
        let req = Request::builder()
            .method("GET")
            .body(Body::empty())
            .unwrap();
        let fut: Pin<Box<dyn Future<Output = Response<Body>> + Send>> = Box::pin(async move {
            drop(req);
            hello().await.into_response()
        });
        assert_eq!(fut.await.status(), 200);
    });

    let plain = RouteHandler::new().get(hello).into_service();
    let named = RouteHandler::new()
        .get(hello)
        .path("/api/hello")
        .into_service();
    let limited = RouteHandler::new()
        .get(hello)
        .path("/api/hello")
        .max_duration(Duration::from_secs(30))
        .body_limit(1024)
        .into_service();

    let next_request = RouteHandler::new()
        .get(|req: NextRequest| async move {
            assert_eq!(req.pathname(), "/");
            "hello"
        })
        .into_service();

    let cases = [
        ("plain route", through(&rt, plain)),
        ("named route", through(&rt, named)),
        ("max_duration and body_limit", through(&rt, limited)),
        ("a NextRequest argument", through(&rt, next_request)),
    ];
    println!("floor: {floor} allocations per request");
    for (what, n) in cases {
        println!("{what}: {n} allocations per request");
        assert_eq!(n, floor, "{what}");
    }
}
