//! The cost of the route guard and of the request helpers, each against its baseline in the
//! same run.
//!
//! - `guard/*`: a `GET` through a route (panic catching, error check, optional deadline)
//!   against the floor, the same handler boxed and awaited directly.
//! - `json/*`: `NextRequest::json` on a small body against collecting the body and
//!   `serde_json::from_slice`.
//! - `cookies/*`: `NextRequest::cookies` against splitting the header by hand.
//!
//! Every answer is checked before it is timed (a route's status, the parsed order, the
//! cookie's value), and a route's status in every iteration.
//!
//! `cargo bench --bench helpers`; `scripts/benchmarks.sh` runs it for BENCHMARKS.md.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::{future::Future, pin::Pin, time::Duration};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use route_handlers::{
    Body, IntoResponse, RouteHandler,
    request::{Cookies, NextRequest},
};
use tower::Service;

async fn hello() -> &'static str {
    "hello"
}

/// Calls `svc` once, outside the timing, and asserts a `200`.
fn check_route(svc: &route_handlers::RouteHandlerService) {
    let res = svc
        .clone()
        .call(Request::new(Body::empty()))
        .now_or_never()
        .expect("answered at once")
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

fn guard(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("guard");
    group.bench_function("floor: boxed handler", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::new(Body::empty());
            let fut: Pin<Box<dyn Future<Output = Response<Body>> + Send>> = Box::pin(async move {
                drop(req);
                hello().await.into_response()
            });
            let res = fut.await;
            assert_eq!(res.status(), StatusCode::OK);
            res
        })
    });
    let unnamed = RouteHandler::new().get(hello).into_service();
    check_route(&unnamed);
    group.bench_function("route, unnamed", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = unnamed.clone();
            async move {
                let res = svc.call(Request::new(Body::empty())).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                res
            }
        })
    });
    let plain = RouteHandler::new().get(hello).path("/hello").into_service();
    check_route(&plain);
    group.bench_function("route", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = plain.clone();
            async move {
                let res = svc.call(Request::new(Body::empty())).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                res
            }
        })
    });
    let timed = RouteHandler::new()
        .get(hello)
        .path("/hello")
        .max_duration(Duration::from_secs(30))
        .into_service();
    rt.block_on(async { check_route(&timed) });
    group.bench_function("route with max_duration", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = timed.clone();
            async move {
                let res = svc.call(Request::new(Body::empty())).await.unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                res
            }
        })
    });
    group.finish();
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct Order {
    id: u64,
    item: String,
    qty: u32,
    note: Option<String>,
}

const ORDER: &[u8] =
    br#"{"id":12345,"item":"a rather long item name","qty":3,"note":"leave at the door"}"#;

fn json(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("json");
    let request = || {
        Request::post("/")
            .header("content-type", "application/json")
            .body(Body::from(Bytes::from_static(ORDER)))
            .unwrap()
    };
    rt.block_on(async {
        let body = request().into_body().collect().await.unwrap().to_bytes();
        let order = serde_json::from_slice::<Order>(&body).unwrap();
        assert_eq!((order.id, order.qty), (12345, 3));
        let order = NextRequest::new(request()).json::<Order>().await.unwrap();
        assert_eq!((order.id, order.qty), (12345, 3));
    });
    group.bench_function("baseline: collect and serde_json::from_slice", |b| {
        b.to_async(&rt).iter(|| async {
            let body = request().into_body().collect().await.unwrap().to_bytes();
            serde_json::from_slice::<Order>(&body).unwrap()
        })
    });
    group.bench_function("NextRequest::json", |b| {
        b.to_async(&rt)
            .iter(|| async { NextRequest::new(request()).json::<Order>().await.unwrap() })
    });
    group.finish();
}

const COOKIE: &str = "session=abc123; theme=dark; consent=yes; cart=4; tz=Europe%2FParis";

fn cookies(c: &mut Criterion) {
    let mut group = c.benchmark_group("cookies");
    let request = || {
        Request::get("/")
            .header("cookie", std::hint::black_box(COOKIE))
            .body(Body::empty())
            .unwrap()
    };
    let by_hand = |req: &Request<Body>| {
        let cookie = req.headers()["cookie"].to_str().unwrap();
        cookie
            .split(';')
            .filter_map(|p| p.trim().split_once('='))
            .find(|(n, _)| *n == "theme")
            .map(|(_, v)| v.len())
    };
    assert_eq!(by_hand(&request()), Some(4));
    assert_eq!(
        NextRequest::new(request())
            .cookies()
            .value("theme")
            .map(str::len),
        Some(4)
    );
    group.bench_function("baseline: split by hand", |b| {
        b.iter(|| by_hand(&request()))
    });
    group.bench_function("NextRequest::cookies", |b| {
        b.iter(|| {
            let req = NextRequest::new(request());
            req.cookies().value("theme").map(str::len)
        })
    });
    let headers = request().into_parts().0.headers;
    assert_eq!(Cookies::from_headers(&headers).len(), 5);
    group.bench_function("Cookies::from_headers", |b| {
        b.iter(|| Cookies::from_headers(std::hint::black_box(&headers)).len())
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = guard, json, cookies
}
criterion_main!(benches);
