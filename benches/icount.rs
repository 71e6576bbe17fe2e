//! Drives one dispatch case N times, for counting instructions per request with valgrind
//! (see `scripts/benchmarks.sh`):
//!
//! ```text
//! icount CASE N
//! ```
//!
//! CASE is `<impl>/<case>`, with impl one of `route_handlers`, `axum_method_router`,
//! `bare_service_fn`, `request_only` and case one of `GET`, `HEAD`, `OPTIONS`, `405`. Each
//! iteration builds the request, calls the service as `benches/dispatch.rs` does, awaits the
//! response and drops it; `request_only` only builds and drops the request, so that its
//! count can be subtracted. The answer is checked (status, body, `Allow`) before the loop,
//! and the loop's last answer after it. Run without arguments (as `cargo bench` does), it
//! checks every case and exits.

mod common;

use std::hint::black_box;

use common::{Case, Impl, axum, bare, check, ours};
use tower::{Service, ServiceExt};

/// Runs `case` through `imp` `n` times (after one checked answer); checks the last answer.
fn run(imp: Option<Impl>, case: Case, n: u64) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    let mut ours = ours();
    let mut axum = axum();
    let bare = bare();
    rt.block_on(async {
        // One answer of each implementation, checked, in every run: it cancels out of
        // the count with the rest of the set-up.
        check(
            case,
            Impl::Ours,
            &Service::call(&mut ours, case.request()).await.unwrap(),
        );
        check(
            case,
            Impl::Axum,
            &Service::call(&mut axum, case.request()).await.unwrap(),
        );
        check(
            case,
            Impl::Bare,
            &bare.clone().oneshot(case.request()).await.unwrap(),
        );
        match imp {
            Some(Impl::Ours) => {
                let mut last = None;
                for _ in 0..n {
                    let res = Service::call(&mut ours, black_box(case.request())).await;
                    last = black_box(Some(res.unwrap()));
                }
                if let Some(res) = &last {
                    check(case, Impl::Ours, res);
                }
            }
            Some(Impl::Axum) => {
                let mut last = None;
                for _ in 0..n {
                    let res = Service::call(&mut axum, black_box(case.request())).await;
                    last = black_box(Some(res.unwrap()));
                }
                if let Some(res) = &last {
                    check(case, Impl::Axum, res);
                }
            }
            Some(Impl::Bare) => {
                let mut last = None;
                for _ in 0..n {
                    let res = bare.clone().oneshot(black_box(case.request())).await;
                    last = black_box(Some(res.unwrap()));
                }
                if let Some(res) = &last {
                    check(case, Impl::Bare, res);
                }
            }
            None => {
                for _ in 0..n {
                    drop(black_box(case.request()));
                }
            }
        }
    });
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (spec, n) = match args.as_slice() {
        [spec, n] if !spec.starts_with('-') => (spec.clone(), n.parse::<u64>().expect("N")),
        _ => {
            // `cargo bench` runs every bench target with `--bench`: check the cases answer.
            for case in Case::ALL {
                run(None, case, 0);
            }
            eprintln!("usage: icount <impl>/<case> N   (see scripts/benchmarks.sh)");
            return;
        }
    };
    let (which, case_name) = spec.split_once('/').expect("CASE is <impl>/<case>");
    let case = Case::ALL
        .into_iter()
        .find(|c| c.name() == case_name)
        .unwrap_or_else(|| panic!("unknown case {case_name:?}"));
    let imp = match which {
        "request_only" => None,
        name => Some(
            Impl::ALL
                .into_iter()
                .find(|i| i.name() == name)
                .unwrap_or_else(|| panic!("unknown implementation {name:?}")),
        ),
    };
    run(imp, case, n);
}
