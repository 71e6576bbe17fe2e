//! The services and requests both benchmarks use, so that the time (criterion) and
//! instruction (valgrind) measurements run the very same code.
#![allow(dead_code, unreachable_pub)]

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

/// Checks that a case answers as the benchmark assumes, so a broken route cannot look fast.
pub fn expected_status(case: Case, axum: bool) -> u16 {
    match (case, axum) {
        (Case::Get | Case::Head, _) => 200,
        (Case::Options, false) => 204,
        (Case::Options, true) | (Case::NotAllowed, _) => 405,
    }
}
