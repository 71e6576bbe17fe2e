//! A small app served with hyper: `cargo run --example demo`.
//!
//! Listens on `127.0.0.1:3000` (set `PORT` to change it) and serves:
//!
//! - `/`                       GET: an index of the routes
//! - `/api/hello`              GET, POST
//! - `/api/items`              GET, POST, DELETE (an in-memory list, as JSON)
//! - `/api/users/[id]`         GET: JSON with the id
//! - `/api/docs/[[...slug]]`   GET: JSON with the slug list
//! - `/api/time`               GET: force-static, revalidated every 10 s
//! - `/api/static`             GET: force-static, kept until `POST /api/static` invalidates it
//! - `/api/echo`               POST: reads JSON and a cookie, sets a cookie
//! - `/api/old`                GET: a permanent redirect to `/api/hello`
//! - `/api/events`             GET: server-sent events
//! - `/sitemap.xml`, `/robots.txt`
//!
//! The routes are served through a route table, which prints its summary at startup. Every
//! route also answers HEAD and OPTIONS, and any other method with `405` and `Allow`.
//! Set `RUST_LOG` (for example `RUST_LOG=debug`) to see more of the log.

use std::{
    net::SocketAddr,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    Body, IntoResponse, RouteContext, RouteHandler, Routes,
    cache::{Cache, Dynamic, Revalidate},
    cookie::Cookie,
    metadata::{ChangeFrequency, Robots, RobotsRule, Sitemap, SitemapUrl},
    request::NextRequest,
    response::{self, Event, HttpError, Json, SetCookieExt},
};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_http::trace::{DefaultMakeSpan, DefaultOnResponse, TraceLayer};
use tracing::Level;

#[derive(Clone, Serialize)]
struct Item {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct NewItem {
    name: String,
}

#[derive(Default)]
struct Items {
    next_id: u64,
    items: Vec<Item>,
}

type Store = Arc<Mutex<Items>>;

const ROUTES: &str = "route-handlers demo

GET                   /                       this index
GET, POST             /api/hello              a greeting; POST a name as the body
GET, POST, DELETE     /api/items              a list of items as JSON; POST {\"name\": \"...\"}
GET                   /api/users/[id]         JSON with the id
GET                   /api/docs/[[...slug]]   JSON with the slug list
GET                   /api/time               JSON generation time; cached, regenerated after 10 s
GET, POST             /api/static             cached until invalidated; POST invalidates it
POST                  /api/echo               echoes {\"message\": ...} and counts visits in a cookie
GET                   /api/old                308 to /api/hello
GET                   /api/events             server-sent events
GET                   /sitemap.xml            a sitemap
GET                   /robots.txt             robots rules

Every route also answers HEAD and OPTIONS; any other method gets 405 with Allow.
";

async fn index() -> &'static str {
    ROUTES
}

async fn hello(_req: Request<Body>, _ctx: RouteContext) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "message": "Hello, World!" }))
}

async fn hello_to(body: Body) -> Result<String, (StatusCode, String)> {
    let bytes = body
        .collect()
        .await
        .map_err(|err| (StatusCode::BAD_REQUEST, format!("unreadable body: {err}\n")))?
        .to_bytes();
    let name = std::str::from_utf8(&bytes)
        .map_err(|_| {
            (
                StatusCode::BAD_REQUEST,
                "the name must be UTF-8\n".to_owned(),
            )
        })?
        .trim();
    let name = if name.is_empty() { "stranger" } else { name };
    Ok(format!("Hello, {name}!\n"))
}

fn list_items(store: &Store) -> Json<Vec<Item>> {
    Json(store.lock().expect("store lock").items.clone())
}

async fn add_item(store: Store, body: Body) -> Response<Body> {
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) => return bad_request(format!("unreadable body: {err}")),
    };
    let new: NewItem = match serde_json::from_slice(&bytes) {
        Ok(new) => new,
        Err(err) => return bad_request(format!("expected {{\"name\": \"...\"}}: {err}")),
    };
    let item = {
        let mut store = store.lock().expect("store lock");
        store.next_id += 1;
        let item = Item {
            id: store.next_id,
            name: new.name,
        };
        store.items.push(item.clone());
        item
    };
    tracing::info!(id = item.id, name = %item.name, "item added");
    (StatusCode::CREATED, Json(item)).into_response()
}

fn bad_request(message: String) -> Response<Body> {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": message })),
    )
        .into_response()
}

fn clear_items(store: &Store) -> Json<serde_json::Value> {
    let deleted = std::mem::take(&mut store.lock().expect("store lock").items).len();
    Json(serde_json::json!({ "deleted": deleted }))
}

/// `GET /api/users/[id]` → `{"id":"42"}` (params are strings, as in Next.js).
async fn user(_req: Request<Body>, ctx: RouteContext) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "id": ctx.param("id") }))
}

/// `GET /api/docs/[[...slug]]` → `{"slug":["a","b"]}`; `{"slug":[]}` for `/api/docs`.
async fn docs(_req: Request<Body>, ctx: RouteContext) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "slug": ctx.catch_all("slug").unwrap_or_default() }))
}

/// Milliseconds since the Unix epoch, for the cached routes' bodies.
fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// `/api/time`: cached (`force-static`) and regenerated in the background when a request
/// comes more than 10 s after the last generation.
fn time_route() -> RouteHandler {
    let runs = Arc::new(AtomicU64::new(0));
    RouteHandler::new()
        .get(move || {
            let runs = runs.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                Json(serde_json::json!({
                    "generated_at_unix_ms": unix_ms(),
                    "handler_runs": runs,
                    "revalidate_seconds": 10,
                }))
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(10)
}

/// `/api/static`: generated once and served from the cache until it is invalidated;
/// `POST /api/static` invalidates it (and runs every time: only GET is cached).
fn static_route(cache: &Cache) -> RouteHandler {
    let runs = Arc::new(AtomicU64::new(0));
    let revalidator = cache.revalidator();
    RouteHandler::new()
        .get(move || {
            let runs = runs.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                Json(serde_json::json!({
                    "generated_at_unix_ms": unix_ms(),
                    "handler_runs": runs,
                    "revalidate": false,
                }))
            }
        })
        .post(move || async move {
            match revalidator.revalidate_path("/api/static").await {
                Ok(report) => (
                    StatusCode::OK,
                    format!(
                        "invalidated /api/static: {} entries of {:?}\n",
                        report.entries().unwrap_or(0),
                        report.routes()
                    ),
                )
                    .into_response(),
                Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("{err}\n")).into_response(),
            }
        })
        .dynamic(Dynamic::ForceStatic)
        .revalidate(Revalidate::Never)
}

#[derive(Deserialize)]
struct EchoIn {
    message: String,
}

/// `POST /api/echo`: reads a JSON body and the `visits` cookie; answers JSON and sets the
/// cookie to one more. A body that is not JSON is answered 400 or 415 with a message, one
/// over 16 KiB 413; an empty message is a bare 404 (`?` early return).
async fn echo(mut req: NextRequest, _ctx: RouteContext) -> Result<Response<Body>, HttpError> {
    let visits: u32 = req
        .cookies()
        .value("visits")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let input: EchoIn = req.json().await?;
    if input.message.is_empty() {
        return Err(response::not_found());
    }
    let res = response::json(serde_json::json!({
        "message": input.message,
        "visits": visits + 1,
    }))
    .with_cookie(Cookie::build(("visits", (visits + 1).to_string())).http_only(true));
    Ok(res)
}

/// `GET /api/events`: ten server-sent events, one a second, with a keep-alive comment when
/// idle. A client that leaves early just stops the stream.
fn events_route() -> RouteHandler {
    RouteHandler::new().get(|| async {
        let ticks = futures::stream::unfold(0u32, |n| async move {
            if n > 0 {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            let event = Event::new()
                .event("tick")
                .id(n.to_string())
                .data(format!("{{\"n\":{n}}}"));
            Some((event, n + 1))
        })
        .take(10);
        response::sse(ticks).keep_alive(Duration::from_secs(15))
    })
}

/// `GET /sitemap.xml`, rendered once at startup; `base` is the server's own URL.
fn sitemap_route(base: &str) -> RouteHandler {
    Sitemap::new()
        .url(
            SitemapUrl::new(format!("{base}/"))
                .change_frequency(ChangeFrequency::Monthly)
                .priority(1.0),
        )
        .url(
            SitemapUrl::new(format!("{base}/api/items"))
                .lastmod(SystemTime::now())
                .change_frequency(ChangeFrequency::Daily)
                .priority(0.5),
        )
        .into_route()
}

/// `GET /robots.txt`, rendered once at startup.
fn robots_route(base: &str) -> RouteHandler {
    Robots::new()
        .rule(RobotsRule::new().allow("/").disallow("/api/"))
        .sitemap(format!("{base}/sitemap.xml"))
        .into_route()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let port = match std::env::var("PORT") {
        Ok(port) => port.parse::<u16>().map_err(|err| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("PORT={port:?} is not a port number: {err}"),
            )
        })?,
        Err(_) => 3000,
    };
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let addr = listener.local_addr()?;
    let base = format!("http://{addr}");

    let store = Store::default();
    let (s1, s2, s3) = (store.clone(), store.clone(), store);
    let items = RouteHandler::new()
        .get(move || {
            let res = list_items(&s1);
            async move { res }
        })
        .post(move |body: Body| add_item(s2.clone(), body))
        .delete(move || {
            let res = clear_items(&s3);
            async move { res }
        });
    let cache = Cache::new();
    let table = Routes::new()
        .cache(&cache)
        .route("/", RouteHandler::new().get(index))
        .route("/api/hello", RouteHandler::new().get(hello).post(hello_to))
        .route("/api/items", items)
        .route("/api/users/[id]", RouteHandler::new().get(user))
        .route("/api/docs/[[...slug]]", RouteHandler::new().get(docs))
        .route("/api/time", time_route())
        .route("/api/static", static_route(&cache))
        .route(
            "/api/echo",
            RouteHandler::new()
                .post(echo)
                .body_limit(16 * 1024)
                .max_duration(Duration::from_secs(5)),
        )
        .route(
            "/api/old",
            RouteHandler::new().get(|| async { response::permanent_redirect("/api/hello") }),
        )
        .route("/api/events", events_route())
        .route("/sitemap.xml", sitemap_route(&base))
        .route("/robots.txt", robots_route(&base))
        .build();
    let app = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .service(table.clone());

    println!("route-handlers demo listening on http://{addr}/");
    println!();
    println!("  curl -i http://{addr}/api/hello");
    println!("  curl -i -X POST --data 'Ferris' http://{addr}/api/hello");
    println!("  curl -i -X POST --data '{{\"name\": \"pen\"}}' http://{addr}/api/items");
    println!("  curl -i http://{addr}/api/items");
    println!("  curl -I http://{addr}/api/items          # HEAD, derived from GET");
    println!("  curl -i -X OPTIONS http://{addr}/api/items");
    println!("  curl -i -X PUT http://{addr}/api/items   # 405 with Allow");
    println!("  curl -i http://{addr}/api/users/42");
    println!("  curl -i http://{addr}/api/docs/a/b");
    println!(
        "  curl -i http://{addr}/api/time          # x-route-cache: MISS, then HIT, STALE after 10 s"
    );
    println!(
        "  curl -i -X POST http://{addr}/api/static # invalidates; the next GET is REVALIDATED"
    );
    println!(
        "  curl -i -X POST -H 'content-type: application/json' -b 'visits=2' --data '{{\"message\":\"hi\"}}' http://{addr}/api/echo"
    );
    println!("  curl -i http://{addr}/api/old            # 308 to /api/hello");
    println!("  curl -N http://{addr}/api/events         # server-sent events");
    println!("  curl http://{addr}/robots.txt");
    println!();
    println!("{table}");

    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(%err, "accept failed");
                    continue;
                }
            },
            _ = tokio::signal::ctrl_c() => {
                tracing::info!("shutting down");
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let builder = auto::Builder::new(TokioExecutor::new());
            if let Err(err) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, %err, "connection ended with an error");
            }
        });
    }
}
