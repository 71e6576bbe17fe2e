//! Route table lookup and dispatch with 10, 1,000 and 10,000 routes, against axum's `Router`
//! (and its matcher, matchit) with the same routes, in the same run.
//!
//! The routes: for `i` in `0..n`, even `i` is the static `/r{i}/items`, odd `i` is the
//! dynamic `/r{i}/items/[id]` (`/r{i}/items/{id}` in axum); every route has a `GET` handler
//! that returns a short string. The requests go to the last static and the last dynamic
//! route.
//!
//! - `lookup/*`: finding the route and its parameters. `table` is `RouteTable::at`,
//!   `matchit` is `matchit::Router::at` on the same paths (what axum's `Router` uses).
//! - `dispatch/*`: `svc.clone().oneshot(req).await` and dropping the response, as
//!   hyper-util's `TowerToHyperService` does per request; request construction is excluded
//!   (`iter_batched`), on a current-thread runtime.
//!
//! Every dispatch is checked (status `200`, the 2-byte body) before it is timed or counted,
//! and its status in every timed iteration; every lookup must find its route.
//!
//! Instruction counts: run the bench binary with `ROUTES_ICOUNT=<case>:<n>:<iterations>`
//! under `valgrind --tool=cachegrind` (`scripts/benchmarks.sh` does); the last answer of the
//! loop is checked after it.

use std::{hint::black_box, time::Duration};

use criterion::{BatchSize, BenchmarkId, Criterion};
use futures::FutureExt;
use http::{Request, Response, StatusCode};
use route_handlers::{Body, RouteHandler, RouteTable, Routes};
use tower::ServiceExt;

const SIZES: [usize; 3] = [10, 1_000, 10_000];

fn table(n: usize) -> RouteTable {
    let mut routes = Routes::new();
    for i in 0..n {
        let pattern = if i % 2 == 0 {
            format!("/r{i}/items")
        } else {
            format!("/r{i}/items/[id]")
        };
        routes = routes.route(&pattern, RouteHandler::new().get(|| async { "ok" }));
    }
    routes.build()
}

fn axum_router(n: usize) -> axum::Router {
    let mut router = axum::Router::new();
    for i in 0..n {
        let path = if i % 2 == 0 {
            format!("/r{i}/items")
        } else {
            format!("/r{i}/items/{{id}}")
        };
        router = router.route(&path, axum::routing::get(|| async { "ok" }));
    }
    router.with_state(())
}

fn matchit_router(n: usize) -> matchit::Router<usize> {
    let mut router = matchit::Router::new();
    for i in 0..n {
        let path = if i % 2 == 0 {
            format!("/r{i}/items")
        } else {
            format!("/r{i}/items/{{id}}")
        };
        router.insert(path, i).unwrap();
    }
    router
}

/// The paths requested: the last static and the last dynamic route.
fn paths(n: usize) -> [(&'static str, String); 2] {
    let last_static = (n - 1) & !1;
    let last_dynamic = if (n - 1) % 2 == 1 { n - 1 } else { n - 2 };
    [
        ("static", format!("/r{last_static}/items")),
        ("dynamic", format!("/r{last_dynamic}/items/42")),
    ]
}

/// Asserts a dispatch's answer: `200` and the handler's 2-byte `ok`.
fn check<B: http_body::Body>(what: &str, res: &Response<B>) {
    assert_eq!(res.status(), StatusCode::OK, "{what}: status");
    assert_eq!(res.body().size_hint().exact(), Some(2), "{what}: body");
}

/// One answer of the table and one of axum's router for `uri`, checked.
fn check_both(t: &RouteTable, a: &axum::Router, uri: &http::Uri) {
    let req = Request::get(uri.clone()).body(Body::empty()).unwrap();
    let res = t.clone().oneshot(req).now_or_never().unwrap().unwrap();
    check(&format!("table {uri}"), &res);
    let req = Request::get(uri.clone())
        .body(axum::body::Body::empty())
        .unwrap();
    let res = a.clone().oneshot(req).now_or_never().unwrap().unwrap();
    check(&format!("axum {uri}"), &res);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn lookup(c: &mut Criterion) {
    let mut group = c.benchmark_group("lookup");
    for n in SIZES {
        let t = table(n);
        let m = matchit_router(n);
        for (kind, path) in paths(n) {
            assert!(t.at(&path).unwrap().is_some());
            assert!(m.at(&path).is_ok());
            group.bench_with_input(
                BenchmarkId::new(format!("table/{kind}"), n),
                &path,
                |b, p| b.iter(|| black_box(t.at(black_box(p)).unwrap().is_some())),
            );
            group.bench_with_input(
                BenchmarkId::new(format!("matchit/{kind}"), n),
                &path,
                |b, p| b.iter(|| black_box(m.at(black_box(p)).is_ok())),
            );
        }
    }
    group.finish();
}

fn dispatch(c: &mut Criterion) {
    let rt = runtime();
    let mut group = c.benchmark_group("dispatch");
    for n in SIZES {
        let t = table(n);
        let a = axum_router(n);
        for (kind, path) in paths(n) {
            let uri: http::Uri = path.parse().unwrap();
            check_both(&t, &a, &uri);
            group.bench_with_input(
                BenchmarkId::new(format!("table/{kind}"), n),
                &uri,
                |b, u| {
                    b.to_async(&rt).iter_batched(
                        || Request::get(u.clone()).body(Body::empty()).unwrap(),
                        |req| {
                            let t = t.clone();
                            async move {
                                let res = t.oneshot(req).await.unwrap();
                                assert_eq!(res.status(), StatusCode::OK);
                                black_box(res)
                            }
                        },
                        BatchSize::SmallInput,
                    )
                },
            );
            group.bench_with_input(BenchmarkId::new(format!("axum/{kind}"), n), &uri, |b, u| {
                b.to_async(&rt).iter_batched(
                    || {
                        Request::get(u.clone())
                            .body(axum::body::Body::empty())
                            .unwrap()
                    },
                    |req| {
                        let a = a.clone();
                        async move {
                            let res = a.oneshot(req).await.unwrap();
                            assert_eq!(res.status(), StatusCode::OK);
                            black_box(res)
                        }
                    },
                    BatchSize::SmallInput,
                )
            });
        }
    }
    group.finish();
}

/// One case for instruction counting: `case` is `table-lookup`, `matchit-lookup`,
/// `table-dispatch`, `axum-dispatch`, `table-req-only` or `axum-req-only`, with `-static` or
/// `-dynamic` appended.
fn icount(spec: &str) {
    let mut parts = spec.split(':');
    let (case, n, iterations) = (
        parts.next().unwrap(),
        parts.next().unwrap().parse::<usize>().unwrap(),
        parts.next().unwrap().parse::<usize>().unwrap(),
    );
    let (case, kind) = case.rsplit_once('-').unwrap();
    let path = paths(n).into_iter().find(|(k, _)| *k == kind).unwrap().1;
    let uri: http::Uri = path.parse().unwrap();
    let rt = runtime();
    match case {
        "table-lookup" => {
            let t = table(n);
            for _ in 0..iterations {
                assert!(black_box(t.at(black_box(&path)).unwrap().is_some()));
            }
        }
        "matchit-lookup" => {
            let m = matchit_router(n);
            for _ in 0..iterations {
                assert!(black_box(m.at(black_box(&path)).is_ok()));
            }
        }
        "table-dispatch" => {
            let t = table(n);
            let req = Request::get(uri.clone()).body(Body::empty()).unwrap();
            check(
                "table",
                &t.clone().oneshot(req).now_or_never().unwrap().unwrap(),
            );
            let last = rt.block_on(async {
                let mut last = None;
                for _ in 0..iterations {
                    let req = Request::get(uri.clone()).body(Body::empty()).unwrap();
                    last = black_box(Some(t.clone().oneshot(req).await.unwrap()));
                }
                last
            });
            if let Some(res) = last {
                check("table", &res);
            }
        }
        "axum-dispatch" => {
            let a = axum_router(n);
            let req = Request::get(uri.clone())
                .body(axum::body::Body::empty())
                .unwrap();
            check(
                "axum",
                &a.clone().oneshot(req).now_or_never().unwrap().unwrap(),
            );
            let last = rt.block_on(async {
                let mut last = None;
                for _ in 0..iterations {
                    let req = Request::get(uri.clone())
                        .body(axum::body::Body::empty())
                        .unwrap();
                    last = black_box(Some(a.clone().oneshot(req).await.unwrap()));
                }
                last
            });
            if let Some(res) = last {
                check("axum", &res);
            }
        }
        "table-req-only" => rt.block_on(async {
            for _ in 0..iterations {
                black_box(Request::get(uri.clone()).body(Body::empty()).unwrap());
            }
        }),
        "axum-req-only" => rt.block_on(async {
            for _ in 0..iterations {
                black_box(
                    Request::get(uri.clone())
                        .body(axum::body::Body::empty())
                        .unwrap(),
                );
            }
        }),
        other => panic!("unknown case {other}"),
    }
}

fn main() {
    if let Ok(spec) = std::env::var("ROUTES_ICOUNT") {
        icount(&spec);
        return;
    }
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
        .configure_from_args();
    lookup(&mut c);
    dispatch(&mut c);
    c.final_summary();
}
