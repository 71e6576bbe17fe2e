//! Two instances of one app sharing one Redis: `cargo run --example multi_instance --features redis`.
//!
//! Needs a Redis server: `REDIS_URL` (by default `redis://127.0.0.1:6379/`); start one with
//! `redis-server --port 6379 --save ''`. The two instances listen on `PORT` and `PORT + 1`
//! (3001 and 3002 by default; `PORT=0` picks two free ports) and each has its own memory
//! tier. The example prints `curl` lines that show:
//!
//! - an entry filled on one instance and served by the other (`x-route-cache: HIT`, the same
//!   body and `ETag`);
//! - a tag revalidated on one instance reaching the other at once.
//!
//! Routes on both:
//!
//! - `/api/time`        GET: force-static, fresh for an hour, tagged `time`; says which
//!   instance made it
//! - `/api/revalidate`  POST `?tag=time`: revalidates a tag (unguarded: this is a demo; a
//!   real app checks a secret first)

use std::{net::SocketAddr, time::Duration};

use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto,
    service::TowerToHyperService,
};
use route_handlers::{
    RouteHandler, Routes,
    cache::{Cache, Dynamic, RedisStore},
    request::NextRequest,
    response::{HttpError, Json},
};
use tokio::net::TcpListener;

fn app(name: &'static str, cache: &Cache) -> Routes {
    let revalidator = cache.revalidator();
    Routes::new()
        .cache(cache)
        .route(
            "/api/time",
            RouteHandler::new()
                .get(move || async move {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default()
                        .as_secs();
                    format!("made by instance {name} at {now}\n")
                })
                .dynamic(Dynamic::ForceStatic)
                .revalidate(3600)
                .tags(["time"]),
        )
        .route(
            "/api/revalidate",
            RouteHandler::new().post(move |req: NextRequest| {
                let revalidator = revalidator.clone();
                async move {
                    let Some(tag) = req.search_params().get("tag").map(|t| t.into_owned()) else {
                        return Err(HttpError::new(http::StatusCode::BAD_REQUEST));
                    };
                    let report = revalidator
                        .revalidate_tag(&tag)
                        .await
                        .map_err(HttpError::from)?;
                    Ok(Json(serde_json::json!({
                        "revalidated": tag,
                        "routes": report.routes().iter().map(|r| r.to_string()).collect::<Vec<_>>(),
                        "by": name,
                    })))
                }
            }),
        )
}

async fn serve(listener: TcpListener, table: route_handlers::RouteTable) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let service = TowerToHyperService::new(table.clone());
        tokio::spawn(async move {
            let _ = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "route_handlers=info".into()),
        )
        .init();
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3001);
    let mut addrs = Vec::new();
    let mut stores = Vec::new();
    for (i, name) in ["A", "B"].into_iter().enumerate() {
        // Each instance is its own process in production; here they share one, each with
        // its own store (memory tier) and cache.
        let store = RedisStore::builder(url.as_str())
            .deployment_id("multi-instance-example")
            .build()?;
        let cache = Cache::builder().store(store.clone()).build();
        let wanted = if port == 0 { 0 } else { port + i as u16 };
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], wanted))).await?;
        let addr = listener.local_addr()?;
        println!("instance {name} listening on http://{addr}/");
        tokio::spawn(serve(listener, app(name, &cache).build()));
        addrs.push(addr);
        stores.push(store);
    }
    let (a, b) = (addrs[0], addrs[1]);
    println!(
        "\nTry (Redis at {url}):\n\
         \x20 curl -si http://{a}/api/time | grep -E 'x-route-cache|etag|made'    # MISS: filled on A\n\
         \x20 curl -si http://{b}/api/time | grep -E 'x-route-cache|etag|made'    # HIT on B: A's body and ETag\n\
         \x20 curl -s -X POST 'http://{a}/api/revalidate?tag=time'                 # revalidated on A...\n\
         \x20 curl -si http://{b}/api/time | grep -E 'x-route-cache|made'         # ...REVALIDATED on B: made by B\n\
         \x20 curl -si http://{a}/api/time | grep -E 'x-route-cache|made'         # HIT on A: B's new entry\n"
    );
    let mut every = tokio::time::interval(Duration::from_secs(30));
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {
                for (name, store) in ["A", "B"].iter().zip(&stores) {
                    tracing::info!(instance = name, stats = ?store.stats(), "cache");
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
