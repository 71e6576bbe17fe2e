//! Cost of a cache hit, against its floor and against running the handler, in one run.
//!
//! - `floor/bare`: a `HashMap<String, Bytes>` lookup by the request path and a `Bytes` clone
//!   into a response: the least any in-memory cache does.
//! - `floor/with_headers`: the same, plus a clone of the stored headers into the response
//!   (the headers a hit sends: content type and length, `ETag`, `Cache-Control`, `Age`, the
//!   status header).
//! - `hit/route`: a `GET` answered from the cache by a `RouteHandlerService`
//!   (`ForceStatic`, `revalidate = 3600`), through `call_with_context`, the route table's entry
//!   point; `hit/route_unlisted_path` asks for `/api/time/`, which is not the route's
//!   literal path, so its key is normalised and hashed per request; `hit/layer` goes through `CacheLayer` around a `service_fn`.
//! - `handler/uncached_route`: the same route without caching, running its handler (a small
//!   JSON body, like `/api/time`).
//!
//! Every variant builds its request outside the timed part (`iter_batched`) and returns the
//! response, so all pay the same drop.

// `criterion_group!` generates an undocumented public function.
#![allow(missing_docs)]

use std::{collections::HashMap, convert::Infallible, hint::black_box, time::Duration};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::FutureExt;
use http::{HeaderMap, Request, Response, header};
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteHandlerService,
    cache::{Cache, CacheConfig, CacheLayer, Dynamic},
    response::Json,
};
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

fn route(cached: bool) -> RouteHandlerService {
    let route = RouteHandler::new().get(time).path("/api/time");
    let route = if cached {
        route
            .dynamic(Dynamic::ForceStatic)
            .revalidate(3600)
            .cache(&Cache::new())
    } else {
        route
    };
    route.into_service()
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
    match svc
        .call_with_context(req, RouteContext::default())
        .now_or_never()
    {
        Some(Ok(res)) => res,
        _ => panic!("a hit answers at once"),
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let cached = route(true);
    let uncached = route(false);
    // Fill the entries the hits are served from.
    rt.block_on(async {
        let res = cached.clone().oneshot(request("/api/time")).await.unwrap();
        assert_eq!(res.headers()["x-route-cache"], "MISS");
    });
    let hit = call(&cached, request("/api/time"));
    assert_eq!(hit.headers()["x-route-cache"], "HIT");
    let stored_headers = hit.headers().clone();
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
    with_headers.insert("/api/time".into(), (stored_headers, body));

    let mut group = c.benchmark_group("cache");
    group.bench_function("floor/bare", |b| {
        b.iter_batched(
            || request("/api/time"),
            |req| {
                let body = black_box(&bare).get(req.uri().path()).unwrap();
                Response::new(Body::from(body.clone()))
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("floor/with_headers", |b| {
        b.iter_batched(
            || request("/api/time"),
            |req| {
                let (headers, body) = black_box(&with_headers).get(req.uri().path()).unwrap();
                let mut res = Response::new(Body::from(body.clone()));
                *res.headers_mut() = headers.clone();
                res
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hit/route", |b| {
        b.iter_batched(
            || request("/api/time"),
            |req| call(&cached, req),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hit/route_unlisted_path", |b| {
        b.iter_batched(
            || request("/api/time/"),
            |req| call(&cached, req),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("hit/layer", |b| {
        b.iter_batched(
            || request("/api/layer"),
            |req| match layered
                .ready()
                .now_or_never()
                .expect("a service_fn is always ready")
                .unwrap()
                .call(req)
                .now_or_never()
            {
                Some(Ok(res)) => res,
                _ => panic!("a hit answers at once"),
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("handler/uncached_route", |b| {
        b.iter_batched(
            || request("/api/time"),
            |req| call(&uncached, req),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group! {
    name = cache;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = benches
}
criterion_main!(cache);
