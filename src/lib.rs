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
//! # Install
//!
//! ```sh
//! cargo add route-handlers --features axum   # without `axum`, on plain `http` types
//! cargo add tokio --features full
//! cargo add serde --features derive          # for JSON bodies and params
//! ```
//!
//! # A tour: an axum app with state, a mount, the cache and invalidation
//!
//! ```
//! # #[cfg(feature = "axum")] mod tour {
//! use std::sync::{Arc, Mutex};
//!
//! use axum::{Json, Router, extract::{Path, State}, http::StatusCode};
//! use route_handlers::{RouteHandler, Routes, cache::{Cache, Dynamic, Revalidator}};
//!
//! /// The app's state: a database-like list and the cache's revalidator.
//! #[derive(Clone)]
//! pub struct App {
//!     db: Arc<Mutex<Vec<String>>>,
//!     revalidator: Revalidator,
//! }
//!
//! async fn list(State(app): State<App>) -> Json<Vec<String>> {
//!     Json(app.db.lock().unwrap().clone())
//! }
//!
//! async fn show(State(app): State<App>, Path(id): Path<usize>) -> Result<Json<String>, StatusCode> {
//!     app.db.lock().unwrap().get(id).cloned().map(Json).ok_or(StatusCode::NOT_FOUND)
//! }
//!
//! async fn create(State(app): State<App>, Json(name): Json<String>) -> StatusCode {
//!     app.db.lock().unwrap().push(name);
//!     // Every route tagged `products` is generated again on its next request.
//!     app.revalidator.revalidate_tag("products").await.unwrap();
//!     StatusCode::CREATED
//! }
//!
//! pub fn router() -> Router {
//!     let cache = Cache::new();
//!     let app = App { db: Arc::new(Mutex::new(vec!["tea".into()])), revalidator: cache.revalidator() };
//!     let api = Routes::new()
//!         .cache(&cache)
//!         // Next.js folder names; `dynamic = "force-static"`: generated once, then served
//!         // from the cache until the tag is revalidated.
//!         .route(
//!             "/products",
//!             RouteHandler::new().get(list).post(create).dynamic(Dynamic::ForceStatic).tags(["products"]),
//!         )
//!         .route("/products/[id]", RouteHandler::new().get(show))
//!         .with_state(app)
//!         .build();
//!     // Keyed, and revalidated, by the public path: `/api/products`.
//!     Router::new().nest_service("/api", api)
//! }
//! # }
//! # #[cfg(feature = "axum")]
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! # use tower::ServiceExt;
//! # use http::{Request, StatusCode};
//! # let app = tour::router();
//! # let send = |req: Request<axum::body::Body>| app.clone().oneshot(req);
//! # let get = || Request::get("/api/products").body(axum::body::Body::empty()).unwrap();
//! # let cache_status = |res: &http::Response<_>| res.headers()["x-route-cache"].to_str().unwrap().to_owned();
//! # assert_eq!(cache_status(&send(get()).await.unwrap()), "MISS");
//! # assert_eq!(cache_status(&send(get()).await.unwrap()), "HIT");
//! # let post = Request::post("/api/products").header("content-type", "application/json");
//! # let res = send(post.body(axum::body::Body::from(r#""kettle""#)).unwrap()).await.unwrap();
//! # assert_eq!(res.status(), StatusCode::CREATED);
//! # assert_eq!(cache_status(&send(get()).await.unwrap()), "REVALIDATED");
//! # let res = send(Request::get("/api/products/7").body(axum::body::Body::empty()).unwrap()).await.unwrap();
//! # assert_eq!(res.status(), StatusCode::NOT_FOUND);
//! # }
//! # #[cfg(not(feature = "axum"))] fn main() {}
//! ```
//!
//! Inside a route handler, axum's `Path`, `Query`, `State`, `Json` and `Form` work as they
//! are, and so do its responses; any other axum extractor or response works through
//! `route_handlers::axum::Axum` (see the `axum` module). Without the `axum` feature the crate's own
//! extractors do the same: [`routes::Path`], [`request::Query`], [`extract::State`],
//! [`response::Json`], [`request::Form`], and [`request::NextRequest`], the Next.js way.
//!
//! # Mounting in axum
//!
//! - **A table:** `Router::nest_service("/api", table)` or `Router::fallback_service(table)`.
//!   Under `nest_service`, the table's patterns may be relative to the mount point
//!   (`/products`) or the public paths (`/api/products`, or relative ones nested with
//!   [`Routes::nest`]); either way the table matches, keys its cache, shows its handlers and
//!   is [revalidated](cache::Revalidator::revalidate_path) by the public path (with the
//!   `axum` feature, which reads axum's `OriginalUri`; without it the table sees only the
//!   stripped path, so write relative patterns, and know that the keys lack the prefix).
//! - **A lone route:** `Router::route_service("/p/{id}", route.into_service())`; with the
//!   `axum` feature its handlers get the params axum captured.
//! - The revalidator of a table is [`RouteTable::revalidator`], or that of the
//!   [`Cache`](cache::Cache) given with [`Routes::cache`]: there is no hidden global cache.
//!   Its answers say what they reached ([`cache::Revalidated`]).
//! - For trace spans and metrics by route, a table built with
//!   [`Routes::matched_route(true)`](Routes::matched_route) puts a
//!   [`routes::MatchedRoute`] extension on every answer of a registration; per-route
//!   middleware goes in
//!   [`RouteHandler::layer`] and [`Routes::route_layer`].
//!
//! # Under hyper
//!
//! A [`RouteTable`] or [`RouteHandlerService`] is a tower `Service` of any request body of
//! `Bytes` that never fails: serve it with hyper-util's `TowerToHyperService`, or, with the
//! `hyper` feature, hand it to hyper's `serve_connection` as it is.
//!
//! # A route without a router
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
//! - `axum` (off by default): axum's extractors and responses inside route handlers, and
//!   tables that key the public path under `nest_service` (see the `axum` module).
//! - `redis` (off by default): `cache::RedisStore`, one cache that many instances share on
//!   Redis, with a memory tier in each, invalidation that reaches every instance within a
//!   documented bound, one regeneration per key across instances and a circuit breaker.
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

/// The `http` crate, whose types the handlers take and return.
pub use http;

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
