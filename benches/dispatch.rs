//! Method dispatch: GET, HEAD, OPTIONS and 405 through a `RouteHandlerService`, against
//! axum's `MethodRouter` with the same handler and a bare `service_fn`, in the same run.
//!
//! Request construction is excluded (`iter_batched`); dropping the response is included.
//! Everything runs on a current-thread tokio runtime. Every answer is checked (status, body,
//! `Allow`) before it is timed, and its status in every iteration. `scripts/benchmarks.sh`
//! runs it and writes the tables of BENCHMARKS.md.

// `criterion_group!` defines an undocumented public function.
#![allow(missing_docs)]

mod common;

use std::hint::black_box;

use common::{Case, Impl, Req, axum, bare, check, expected_status, ours};
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
            check(case, Impl::Ours, &res);
            let res = Service::call(&mut axum, case.request()).await.unwrap();
            check(case, Impl::Axum, &res);
            let res = bare.clone().oneshot(case.request()).await.unwrap();
            check(case, Impl::Bare, &res);
        });
        let want = |imp| expected_status(case, imp);

        let mut group = c.benchmark_group(format!("dispatch/{}", case.name()));
        group.bench_function(Impl::Ours.name(), |b| {
            b.to_async(&rt).iter_batched(
                || case.request(),
                |req: Req| {
                    let future = Service::call(&mut ours, req);
                    async move {
                        let res = future.await.unwrap();
                        assert_eq!(res.status(), want(Impl::Ours));
                        drop(black_box(res))
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(Impl::Axum.name(), |b| {
            b.to_async(&rt).iter_batched(
                || case.request(),
                |req: Req| {
                    let future = Service::call(&mut axum, req);
                    async move {
                        let res = future.await.unwrap();
                        assert_eq!(res.status(), want(Impl::Axum));
                        drop(black_box(res))
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.bench_function(Impl::Bare.name(), |b| {
            b.to_async(&rt).iter_batched(
                || case.request(),
                |req: Req| {
                    let future = bare.clone().oneshot(req);
                    async move {
                        let res = future.await.unwrap();
                        assert_eq!(res.status(), want(Impl::Bare));
                        drop(black_box(res))
                    }
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

criterion_group!(benches, dispatch);
criterion_main!(benches);
