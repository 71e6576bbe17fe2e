//! Drives one dispatch case N times, for counting instructions per request with valgrind
//! (see `scripts/icount.sh` and BENCHMARKS.md):
//!
//! ```text
//! icount CASE N
//! ```
//!
//! CASE is `<impl>/<case>`, with impl one of `route_handlers`, `axum_method_router`,
//! `bare_service_fn`, `request_only` and case one of `GET`, `HEAD`, `OPTIONS`, `405`. Each
//! iteration builds the request, calls the service as `benches/dispatch.rs` does, awaits the
//! response and drops it; `request_only` only builds and drops the request, so that its
//! count can be subtracted. Run without arguments (as `cargo bench` does), it checks that
//! every case runs and exits.

mod common;

use std::hint::black_box;

use common::{Case, axum, bare, expected_status, ours};
use tower::{Service, ServiceExt};

fn run(which: &str, case: Case, n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut ours = ours();
    let mut axum = axum();
    let bare = bare();
    rt.block_on(async {
        match which {
            "route_handlers" => {
                for _ in 0..n {
                    let res = Service::call(&mut ours, black_box(case.request())).await;
                    drop(black_box(res));
                }
            }
            "axum_method_router" => {
                for _ in 0..n {
                    let res = Service::call(&mut axum, black_box(case.request())).await;
                    drop(black_box(res));
                }
            }
            "bare_service_fn" => {
                for _ in 0..n {
                    let res = bare.clone().oneshot(black_box(case.request())).await;
                    drop(black_box(res));
                }
            }
            "request_only" => {
                for _ in 0..n {
                    drop(black_box(case.request()));
                }
            }
            other => panic!("unknown implementation {other:?}"),
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (case, n) = match args.as_slice() {
        [case, n] if !case.starts_with('-') => (case.clone(), n.parse::<u64>().expect("N")),
        _ => {
            // `cargo bench` runs every bench target with `--bench`: check the cases answer.
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .expect("runtime");
            for case in Case::ALL {
                rt.block_on(async {
                    let res = Service::call(&mut ours(), case.request()).await.unwrap();
                    assert_eq!(res.status(), expected_status(case, false));
                    let res = Service::call(&mut axum(), case.request()).await.unwrap();
                    assert_eq!(res.status(), expected_status(case, true));
                });
            }
            eprintln!("usage: icount <impl>/<case> N   (see scripts/icount.sh)");
            return;
        }
    };
    let (which, case_name) = case.split_once('/').expect("CASE is <impl>/<case>");
    let case = Case::ALL
        .into_iter()
        .find(|c| c.name() == case_name)
        .unwrap_or_else(|| panic!("unknown case {case_name:?}"));
    run(which, case, n);
}
