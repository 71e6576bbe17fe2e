//! The cost of the route guard and of the request helpers, each against its baseline in the
//! same run.
//!
//! - `guard/*`: a `GET` through a route (panic catching, error check, optional deadline)
//!   against the floor, the same handler boxed and awaited directly.
//! - `json/*`: `NextRequest::json` on a small body against collecting the body and
//!   `serde_json::from_slice`.
//! - `cookies/*`: `NextRequest::cookies` against splitting the header by hand.
//!
//! `cargo bench --bench helpers`

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

use std::{future::Future, pin::Pin, time::Duration};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::BodyExt;
use route_handlers::{
    Body, IntoResponse, RouteHandler,
    request::{Cookies, NextRequest},
};
use tower::Service;

async fn hello() -> &'static str {
    "hello"
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
            fut.await
        })
    });
    let unnamed = RouteHandler::new().get(hello).into_service();
    group.bench_function("route, unnamed", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = unnamed.clone();
            async move { svc.call(Request::new(Body::empty())).await.unwrap() }
        })
    });
    let plain = RouteHandler::new().get(hello).path("/hello").into_service();
    group.bench_function("route", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = plain.clone();
            async move { svc.call(Request::new(Body::empty())).await.unwrap() }
        })
    });
    let timed = RouteHandler::new()
        .get(hello)
        .path("/hello")
        .max_duration(Duration::from_secs(30))
        .into_service();
    group.bench_function("route with max_duration", |b| {
        b.to_async(&rt).iter(|| {
            let mut svc = timed.clone();
            async move { svc.call(Request::new(Body::empty())).await.unwrap() }
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
    group.bench_function("baseline: split by hand", |b| {
        b.iter(|| {
            let req = request();
            let cookie = req.headers()["cookie"].to_str().unwrap();
            cookie
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(n, _)| *n == "theme")
                .map(|(_, v)| v.len())
        })
    });
    group.bench_function("NextRequest::cookies", |b| {
        b.iter(|| {
            let req = NextRequest::new(request());
            req.cookies().value("theme").map(str::len)
        })
    });
    let headers = request().into_parts().0.headers;
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
