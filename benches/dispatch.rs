//! Method dispatch: GET, HEAD, OPTIONS and 405 through a `RouteHandlerService`, against
//! axum's `MethodRouter` with the same handler and a bare `service_fn`, in the same run.
//!
//! Request construction is excluded (`iter_batched`); dropping the response is included.
//! Everything runs on a current-thread tokio runtime. See BENCHMARKS.md for the commands
//! and results.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use common::{Case, Req, axum, bare, expected_status, ours};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use tower::{Service, ServiceExt};

fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut ours = ours();
    let mut axum = axum();
    let bare = bare();

    for case in Case::ALL {
        // The answers the numbers stand for.
        rt.block_on(async {
            let res = Service::call(&mut ours, case.request()).await.unwrap();
            assert_eq!(res.status(), expected_status(case, false), "ours {case:?}");
            let res = Service::call(&mut axum, case.request()).await.unwrap();
            assert_eq!(res.status(), expected_status(case, true), "axum {case:?}");
        });

        let mut group = c.benchmark_group(format!("dispatch/{}", case.name()));
        group.bench_function("route_handlers", |b| {
            b.to_async(&rt).iter_batched(
                || case.request(),
                |req: Req| {
                    let future = Service::call(&mut ours, req);
                    async move { drop(black_box(future.await)) }
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("axum_method_router", |b| {
            b.to_async(&rt).iter_batched(
                || case.request(),
                |req: Req| {
                    let future = Service::call(&mut axum, req);
                    async move { drop(black_box(future.await)) }
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function("bare_service_fn", |b| {
            b.to_async(&rt).iter_batched(
                || case.request(),
                |req: Req| {
                    let future = bare.clone().oneshot(req);
                    async move { drop(black_box(future.await)) }
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
