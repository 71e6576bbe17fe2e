//! The server of the loopback load benchmark (`scripts/load.sh`): one route that answers
//! `Hello, World!` as `text/plain; charset=utf-8`, served by hyper 1 with hyper-util's auto
//! builder (one task per connection, `TCP_NODELAY`), in one of these modes:
//!
//! | mode | what answers `GET /api/hello` |
//! |---|---|
//! | `bare` | a hyper `service_fn` (the floor; it answers every path) |
//! | `axum` | an axum 0.8 `Router` with the one route |
//! | `dynamic` | a route-handlers `RouteTable` with the one route, rendered per request |
//! | `cached` | the same table with the route `force-static`: answered from the in-memory cache |
//! | `cached_tower` | `cached` served through hyper-util's `TowerToHyperService` (a clone and a `oneshot` per request) |
//! | `floor` | the floor of a hit: a hyper `service_fn` that looks the path up in a `HashMap` and clones the status, headers and body of the `cached` mode's hit |
//! | `table1000` | a `RouteTable` of 1,000 routes; the request hits a late one, `/r999/items/42` |
//! | `axum1000` | the same 1,000 routes in an axum `Router`, for comparison |
//!
//! Every mode sends the same status, `Content-Type` and body; a `cached` answer also carries
//! the cache's own headers (`Age`, `ETag`, `Cache-Control`, `x-route-cache`): 244 bytes on
//! the wire against 130. The runtime has `WORKERS` worker threads
//! (default 1), so that pinning the process to one CPU measures one core's work.
//!
//! ```sh
//! cargo run --release --example load_server -- dynamic 3000
//! curl -i http://127.0.0.1:3000/api/hello
//! ```
//!
//! The route-handlers modes are served as a user serves a table with the `hyper` feature
//! (which this example needs): by reference, `serve_connection(io, table.clone())`.
//! `scripts/benchmarks.sh` drives every mode (`scripts/load.sh`, `scripts/load_icount.sh`).

use std::{convert::Infallible, net::SocketAddr};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, header::CONTENT_TYPE};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    RouteHandler, RouteTable, Routes,
    cache::{Cache, Dynamic},
};
use tokio::net::TcpListener;

const HELLO: &str = "Hello, World!";

fn usage() -> ! {
    eprintln!(
        "usage: load_server <bare|floor|axum|dynamic|cached|cached_tower|table1000|axum1000> <port>"
    );
    std::process::exit(2);
}

async fn hello() -> &'static str {
    HELLO
}

fn table1000() -> RouteTable {
    (0..1000)
        .fold(Routes::new(), |routes, i| {
            // Even i: a static route; odd i: a parameter route (as the perf anchors' axum
            // table), all with a GET handler.
            let pattern = match i % 2 {
                0 => format!("/r{i}/items"),
                _ => format!("/r{i}/items/[id]"),
            };
            routes.route(&pattern, RouteHandler::new().get(hello))
        })
        .build()
}

fn axum1000() -> axum::Router {
    (0..1000)
        .fold(axum::Router::new(), |router, i| {
            let path = match i % 2 {
                0 => format!("/r{i}/items"),
                _ => format!("/r{i}/items/{{id}}"),
            };
            router.route(&path, axum::routing::get(hello))
        })
        .with_state(())
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How every route-handlers mode is served: by reference, as hyper's own `Service`.
fn table_service(table: RouteTable) -> RouteTable {
    table
}

fn cached_table() -> RouteTable {
    Routes::new()
        .route(
            "/api/hello",
            RouteHandler::new().get(hello).dynamic(Dynamic::ForceStatic),
        )
        .cache(&Cache::new())
        .build()
}

/// The `cached` mode's hit (status, headers, body), taken from a table that answered twice.
async fn a_hit() -> (http::StatusCode, http::HeaderMap, Bytes) {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let table = cached_table();
    let request = || Request::get("/api/hello").body(Full::new(Bytes::new())).unwrap();
    table.clone().oneshot(request()).await.unwrap();
    let hit = table.oneshot(request()).await.unwrap();
    assert_eq!(hit.headers()["x-route-cache"], "HIT");
    let (parts, body) = hit.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (parts.status, parts.headers, body)
}

/// Accepts connections forever, serving each with `service` on its own task.
async fn serve<S, B>(listener: TcpListener, service: S) -> !
where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = args.next().unwrap_or_else(|| usage());
    let port: u16 = args
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| usage());
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port)))
            .await
            .expect("bind");
        println!(
            "{mode} listening on http://{}/",
            listener.local_addr().unwrap()
        );
        match mode.as_str() {
            "bare" => {
                let content_type = HeaderValue::from_static("text/plain; charset=utf-8");
                let service = hyper::service::service_fn(move |_req: Request<Incoming>| {
                    let mut res = Response::new(Full::new(Bytes::from_static(HELLO.as_bytes())));
                    res.headers_mut().insert(CONTENT_TYPE, content_type.clone());
                    std::future::ready(Ok::<_, Infallible>(res))
                });
                serve(listener, service).await
            }
            "axum" => {
                let router = axum::Router::new()
                    .route("/api/hello", axum::routing::get(hello))
                    .with_state(());
                serve(listener, TowerToHyperService::new(router)).await
            }
            "axum1000" => serve(listener, TowerToHyperService::new(axum1000())).await,
            "dynamic" => {
                let table = Routes::new()
                    .route("/api/hello", RouteHandler::new().get(hello))
                    .build();
                serve(listener, table_service(table)).await
            }
            "cached" => serve(listener, table_service(cached_table())).await,
            "cached_tower" => serve(listener, TowerToHyperService::new(cached_table())).await,
            "floor" => {
                let mut hits = std::collections::HashMap::new();
                hits.insert("/api/hello".to_owned(), a_hit().await);
                let hits = std::sync::Arc::new(hits);
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let res = match hits.get(req.uri().path()) {
                        Some((status, headers, body)) => {
                            let mut res = Response::new(Full::new(body.clone()));
                            *res.status_mut() = *status;
                            *res.headers_mut() = headers.clone();
                            res
                        }
                        None => Response::new(Full::new(Bytes::new())),
                    };
                    std::future::ready(Ok::<_, Infallible>(res))
                });
                serve(listener, service).await
            }
            "table1000" => serve(listener, table_service(table1000())).await,
            _ => usage(),
        }
    })
}
