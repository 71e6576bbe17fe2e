//! A small app served with hyper: `cargo run --example demo`.
//!
//! Listens on `127.0.0.1:3000` (set `PORT` to change it) and serves:
//!
//! - `/`           GET: an index of the routes
//! - `/api/hello`  GET, POST
//! - `/api/items`  GET, POST, DELETE (an in-memory list, as JSON)
//!
//! Every route also answers HEAD and OPTIONS, and any other method with `405` and `Allow`.
//! Set `RUST_LOG` (for example `RUST_LOG=debug`) to see more of the log.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use futures::future::Either;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{Body, IntoResponse, RouteContext, RouteHandler, response::Json};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt, service_fn};
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

GET                   /            this index
GET, POST             /api/hello   a greeting; POST a name as the body
GET, POST, DELETE     /api/items   a list of items as JSON; POST {\"name\": \"...\"}

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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();

    let store = Store::default();
    let index = RouteHandler::new().get(index).into_service();
    let hello = RouteHandler::new().get(hello).post(hello_to).into_service();
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
        })
        .into_service();

    // Until the crate has a route table, a match on the path picks the route.
    let router = service_fn(move |req: Request<Incoming>| {
        let route = match req.uri().path() {
            "/" => &index,
            "/api/hello" => &hello,
            "/api/items" => &items,
            _ => {
                let res = (StatusCode::NOT_FOUND, "no such route; see /\n").into_response();
                return Either::Left(std::future::ready(Ok::<_, Infallible>(res)));
            }
        };
        Either::Right(route.clone().oneshot(req))
    });
    let app = ServiceBuilder::new()
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(DefaultMakeSpan::new().level(Level::INFO))
                .on_response(DefaultOnResponse::new().level(Level::INFO)),
        )
        .service(router);

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
    println!("route-handlers demo listening on http://{addr}/");
    println!();
    println!("  curl -i http://{addr}/api/hello");
    println!("  curl -i -X POST --data 'Ferris' http://{addr}/api/hello");
    println!("  curl -i -X POST --data '{{\"name\": \"pen\"}}' http://{addr}/api/items");
    println!("  curl -i http://{addr}/api/items");
    println!("  curl -I http://{addr}/api/items          # HEAD, derived from GET");
    println!("  curl -i -X OPTIONS http://{addr}/api/items");
    println!("  curl -i -X PUT http://{addr}/api/items   # 405 with Allow");
    println!();

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
