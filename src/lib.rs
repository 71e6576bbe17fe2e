//! Next.js App Router *Route Handlers* for the tower ecosystem.
//!
//! A [`RouteHandler`] is the Rust form of one `route.ts` file: async handlers for
//! `GET POST PUT PATCH DELETE HEAD OPTIONS` on plain `http` requests and responses. It
//! becomes a [`RouteHandlerService`], a tower `Service` that any hyper server, axum app or
//! tower-http stack can run, and that follows RFC 9110 where Next.js does not:
//!
//! - a method the route lacks, including extension and unknown methods, gets
//!   `405 Method Not Allowed` with an `Allow` header;
//! - `HEAD` runs the `GET` handler and sends no body, with an honest `Content-Length`;
//! - `OPTIONS` without a handler is answered `204` with `Allow`.
//!
//! Each of those behaviours is also a layer of its own, for use around any service:
//! [`method::MethodFilterLayer`] and [`synth::HeadOptionsLayer`].
//!
//! Inside a handler, [`request::NextRequest`] reads cookies, the query and the body (under
//! a per-route size limit), and [`response`] has what a Next.js handler reaches for:
//! `json`, `redirect`, `Set-Cookie`, `not_found()` and friends as `?` early returns
//! ([`response::HttpError`]), and server-sent events. A handler that panics, fails or runs
//! past its route's `max_duration` is answered `500` or `504` (`408` when it was still
//! waiting for the request body) and logged. [`metadata`]
//! serves `sitemap.xml` and `robots.txt` from typed builders.
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use route_handlers::{Body, RouteContext, RouteHandler, response::Json};
//! use tower::ServiceExt;
//!
//! async fn hello(_req: Request<Body>, _ctx: RouteContext) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "hello": "world" }))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = RouteHandler::new().get(hello).into_service();
//!
//! let req = Request::builder().method("HEAD").body(Body::empty()).unwrap();
//! let res = svc.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.headers()["content-length"], "17");
//!
//! let req = Request::builder().method("PROPFIND").body(Body::empty()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
//! # }
//! ```
//!
//! # Cargo features
//!
//! - `hyper` (off by default): [`RouteTable`] and
//!   [`RouteHandlerService`] implement `hyper::service::Service`, so hyper serves them by
//!   reference, without the clone and `oneshot` per request of hyper-util's
//!   `TowerToHyperService`.
//!
//! # Minimum supported Rust version
//!
//! 1.85 (edition 2024).

#![cfg_attr(docsrs, feature(doc_cfg))]

// The module order. Data flows one way: request -> table match -> dispatch -> cache ->
// guard -> handler -> response. Each module depends only on the modules declared above
// it; `tests/module_order.rs` reads the `use crate::` paths of `src/` and fails on an
// import against this order (rustfmt.toml keeps rustfmt from sorting it).
pub mod body;
pub mod method;
pub mod synth;
pub mod response;
pub mod context;
pub mod extract;
pub mod request;
pub mod cache;
mod guard;
pub mod handler;
mod route;
pub mod routes;
#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
pub mod metadata;

/// The `cookie` crate, whose [`Cookie`](cookie::Cookie) type the request and response
/// cookie helpers use (with its `time` re-export, for `Max-Age` and `Expires`).
pub use cookie;

#[doc(inline)]
pub use crate::routes::{RouteTable, Routes};
#[doc(inline)]
pub use crate::{
    body::Body,
    context::RouteContext,
    response::IntoResponse,
    route::{ResponseFuture, Route, RouteHandler, RouteHandlerService},
};

#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
