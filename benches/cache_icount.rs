#![allow(missing_docs)]
//! Instruction counts per iteration of each variant of `benches/cache.rs`, run under
//! callgrind: `cache_icount <variant> <iterations>` (see BENCHMARKS.md).
use bytes::Bytes;
use futures::FutureExt;
use http::{HeaderMap, Request, Response, header};
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteHandlerService,
    cache::{Cache, CacheConfig, CacheLayer, Dynamic},
    response::Json,
};
use std::{collections::HashMap, convert::Infallible, hint::black_box};
use tower::{Layer, Service, ServiceExt, service_fn};

#[derive(serde::Serialize)]
struct Time {
    generated_at: &'static str,
    generation: u64,
    region: &'static str,
}
async fn time() -> Json<Time> {
    Json(Time {
        generated_at: "2025-01-01T00:00:00.000Z",
        generation: 1,
        region: "local",
    })
}
fn request(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "localhost:3000")
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "bench/1.0")
        .body(Body::empty())
        .unwrap()
}
fn call(svc: &RouteHandlerService, req: Request<Body>) -> Response<Body> {
    svc.call_with_context(req, RouteContext::default())
        .now_or_never()
        .unwrap()
        .unwrap()
}
fn main() {
    let mut args = std::env::args().skip(1);
    let variant = args.next().unwrap();
    let n: usize = args.next().unwrap().parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let cached = RouteHandler::new()
        .get(time)
        .path("/api/time")
        .dynamic(Dynamic::ForceStatic)
        .revalidate(3600)
        .cache(&Cache::new())
        .into_service();
    let uncached = RouteHandler::new()
        .get(time)
        .path("/api/time")
        .into_service();
    rt.block_on(async {
        cached.clone().oneshot(request("/api/time")).await.unwrap();
    });
    let hit = call(&cached, request("/api/time"));
    let headers = hit.headers().clone();
    let body = rt.block_on(async {
        use http_body_util::BodyExt;
        hit.into_body().collect().await.unwrap().to_bytes()
    });
    let mut layered = CacheLayer::new(
        CacheConfig::new()
            .dynamic(Dynamic::ForceStatic)
            .revalidate(3600),
    )
    .cache(&Cache::new())
    .layer(service_fn(|_req: Request<Body>| async {
        Ok::<_, Infallible>(Response::new(Body::from(
            "{\"generated_at\":\"2025-01-01T00:00:00.000Z\"}",
        )))
    }));
    rt.block_on(async {
        layered
            .clone()
            .oneshot(request("/api/layer"))
            .await
            .unwrap();
    });
    let mut bare: HashMap<String, Bytes> = HashMap::new();
    bare.insert("/api/time".into(), body.clone());
    let mut with_headers: HashMap<String, (HeaderMap, Bytes)> = HashMap::new();
    with_headers.insert("/api/time".into(), (headers, body));
    for _ in 0..n {
        let res = match variant.as_str() {
            "setup" => {
                let req = request("/api/time");
                drop(black_box(req));
                None
            }
            "floor_bare" => {
                let req = request("/api/time");
                let b = black_box(&bare).get(req.uri().path()).unwrap();
                Some(Response::new(Body::from(b.clone())))
            }
            "floor_headers" => {
                let req = request("/api/time");
                let (h, b) = black_box(&with_headers).get(req.uri().path()).unwrap();
                let mut r = Response::new(Body::from(b.clone()));
                *r.headers_mut() = h.clone();
                Some(r)
            }
            "hit_route" => Some(call(&cached, request("/api/time"))),
            "hit_route_unlisted" => Some(call(&cached, request("/api/time/"))),
            "hit_layer" => {
                let req = request("/api/layer");
                Some(
                    layered
                        .ready()
                        .now_or_never()
                        .unwrap()
                        .unwrap()
                        .call(req)
                        .now_or_never()
                        .unwrap()
                        .unwrap(),
                )
            }
            "handler" => Some(call(&uncached, request("/api/time"))),
            _ => panic!("unknown variant"),
        };
        drop(black_box(res));
    }
}
