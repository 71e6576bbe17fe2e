//! The services and requests both benchmarks use, so that the time (criterion) and
//! instruction (valgrind) measurements run the very same code.
#![allow(dead_code, unreachable_pub)]

pub mod cache;

use std::{convert::Infallible, future::Future};

use axum::routing::{MethodRouter, get};
use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use route_handlers::{RouteHandler, RouteHandlerService};
use tower::Service;

/// The request type of every case: what axum's own benchmarks and an axum app use.
pub type Req = Request<axum::body::Body>;

/// The one handler of every case: a 13-byte body.
pub async fn hello() -> &'static str {
    "Hello, World!"
}

/// The second method of the route, so that the method dispatch has a choice to make.
pub async fn create() -> &'static str {
    "created"
}

/// A case: the method of its request.
#[derive(Clone, Copy, Debug)]
pub enum Case {
    /// `GET`: the handler runs.
    Get,
    /// `HEAD`: derived from the `GET` handler, body stripped.
    Head,
    /// `OPTIONS`: ours answers `204` + `Allow`; axum has no automatic `OPTIONS`, so it
    /// answers `405` + `Allow`.
    Options,
    /// `DELETE` on a `GET`+`POST` route: `405` + `Allow`.
    NotAllowed,
}

impl Case {
    pub const ALL: [Case; 4] = [Case::Get, Case::Head, Case::Options, Case::NotAllowed];

    pub fn name(self) -> &'static str {
        match self {
            Case::Get => "GET",
            Case::Head => "HEAD",
            Case::Options => "OPTIONS",
            Case::NotAllowed => "405",
        }
    }

    pub fn method(self) -> Method {
        match self {
            Case::Get => Method::GET,
            Case::Head => Method::HEAD,
            Case::Options => Method::OPTIONS,
            Case::NotAllowed => Method::DELETE,
        }
    }

    /// A fresh request of this case (built outside the timed part).
    pub fn request(self) -> Req {
        Request::builder()
            .method(self.method())
            .uri("/")
            .body(axum::body::Body::empty())
            .expect("valid request")
    }
}

/// Ours: a `RouteHandlerService` with `GET` and `POST`.
pub fn ours() -> RouteHandlerService {
    RouteHandler::new().get(hello).post(create).into_service()
}

/// axum's `MethodRouter` with the same handlers, finalized with `with_state(())` as
/// `axum::serve` does.
pub fn axum() -> MethodRouter {
    get(hello).post(create).with_state(())
}

/// The floor: a `service_fn` that answers every request with the same 13 bytes and no
/// headers, called as hyper-util's `TowerToHyperService` calls a service (clone + oneshot).
pub fn bare() -> impl Service<
    Req,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>>,
> + Clone {
    tower::service_fn(|_req: Req| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            b"Hello, World!",
        ))))
    })
}

/// An implementation of the dispatch benches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Impl {
    /// This crate's `RouteHandlerService`.
    Ours,
    /// axum's `MethodRouter`.
    Axum,
    /// The `service_fn` floor: `200` and the body for every method.
    Bare,
}

impl Impl {
    pub const ALL: [Impl; 3] = [Impl::Ours, Impl::Axum, Impl::Bare];

    /// The name in criterion's ids and on `icount`'s command line.
    pub fn name(self) -> &'static str {
        match self {
            Impl::Ours => "route_handlers",
            Impl::Axum => "axum_method_router",
            Impl::Bare => "bare_service_fn",
        }
    }
}

/// The status `imp` answers `case` with, so that a broken route cannot look fast.
pub fn expected_status(case: Case, imp: Impl) -> u16 {
    match (case, imp) {
        (_, Impl::Bare) | (Case::Get | Case::Head, _) => 200,
        (Case::Options, Impl::Ours) => 204,
        (Case::Options, Impl::Axum) | (Case::NotAllowed, _) => 405,
    }
}

/// Asserts the answer of `imp` to `case`: its status, the body's presence (none for `HEAD`)
/// and `Allow` on `OPTIONS` and `405`.
pub fn check<B: http_body::Body>(case: Case, imp: Impl, res: &Response<B>) {
    let what = format!("{} {}", imp.name(), case.name());
    assert_eq!(res.status(), expected_status(case, imp), "{what}: status");
    if imp == Impl::Bare {
        return;
    }
    match case {
        Case::Get => assert_eq!(res.body().size_hint().exact(), Some(13), "{what}: body"),
        Case::Head => assert!(res.body().is_end_stream(), "{what}: a HEAD has no body"),
        Case::Options | Case::NotAllowed => {
            assert!(
                res.headers().contains_key(http::header::ALLOW),
                "{what}: Allow"
            )
        }
    }
}
