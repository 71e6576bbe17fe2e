//! The cache variants both `benches/cache.rs` (time) and `benches/cache_icount.rs`
//! (instructions) run, so that the two measure the very same code.
//!
//! Every variant answers `GET /api/time` (or the path of [`Variant::path`]) with the same
//! 200 response: the hits from the crate's cache, the floors from a `HashMap`, the handler
//! by running it. [`Fixture::check`] asserts what a variant answered, before anything is
//! counted.

use std::{collections::HashMap, convert::Infallible, future::Ready, hint::black_box, sync::Arc};

use bytes::Bytes;
use futures::FutureExt;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteHandlerService, RouteTable, Routes,
    cache::{CACHE_STATUS_HEADER, Cache, CacheConfig, CacheLayer, CacheService, Dynamic},
    response::Json,
};
use tower::{Layer, Service, ServiceExt, service_fn};

/// One measured variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    /// Builds the request and drops it: subtracted from every other count.
    Setup,
    /// `HashMap<String, Bytes>` lookup by path, the body's `Bytes` cloned into a response
    /// without headers.
    FloorBare,
    /// A `HashMap` lookup by method and path, then a clone of the stored status, headers
    /// (those a hit sends) and body into the response: the floor of a hit, called directly.
    FloorHeaders,
    /// [`FloorHeaders`](Self::FloorHeaders) inside a `service_fn`, called as
    /// `Service::call(&mut floor, req)` on a long-lived service.
    FloorCall,
    /// The same `service_fn`, called as `floor.clone().oneshot(req)`.
    FloorOneshot,
    /// [`FloorCall`](Self::FloorCall) with only the `Content-Type` of the hit stored (the
    /// perf anchors' floor, which clones a one-field header map).
    FloorTypeCall,
    /// [`FloorOneshot`](Self::FloorOneshot) with only the `Content-Type` stored.
    FloorTypeOneshot,
    /// A hit through `RouteHandlerService::call_with_context` (below the route table).
    HitRoute,
    /// The same for `/api/time/`: the key is made canonical and hashed per request.
    HitRouteUnlisted,
    /// A hit through the whole `RouteTable`: `Service::call(&mut table, req)`.
    HitTableCall,
    /// A hit through the whole `RouteTable`: `table.clone().oneshot(req)`.
    HitTableOneshot,
    /// A hit through `CacheLayer` around a `service_fn` (`ready()` + `call`).
    HitLayer,
    /// The same route without caching: its handler runs (a small `Json`).
    Handler,
}

impl Variant {
    /// Every variant, in the order of the tables.
    pub const ALL: [Variant; 13] = [
        Variant::Setup,
        Variant::FloorBare,
        Variant::FloorHeaders,
        Variant::FloorCall,
        Variant::FloorOneshot,
        Variant::FloorTypeCall,
        Variant::FloorTypeOneshot,
        Variant::HitRoute,
        Variant::HitRouteUnlisted,
        Variant::HitTableCall,
        Variant::HitTableOneshot,
        Variant::HitLayer,
        Variant::Handler,
    ];

    /// The name in criterion's ids (`cache/<name>`) and on `cache_icount`'s command line.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Setup => "setup",
            Variant::FloorBare => "floor/bare",
            Variant::FloorHeaders => "floor/headers",
            Variant::FloorCall => "floor/call",
            Variant::FloorOneshot => "floor/oneshot",
            Variant::FloorTypeCall => "floor/type_only_call",
            Variant::FloorTypeOneshot => "floor/type_only_oneshot",
            Variant::HitRoute => "hit/route",
            Variant::HitRouteUnlisted => "hit/route_unlisted_path",
            Variant::HitTableCall => "hit/table_call",
            Variant::HitTableOneshot => "hit/table_oneshot",
            Variant::HitLayer => "hit/layer",
            Variant::Handler => "handler/uncached_route",
        }
    }

    /// The variant of a name.
    pub fn from_name(name: &str) -> Option<Variant> {
        Variant::ALL.into_iter().find(|v| v.name() == name)
    }

    /// The path its request asks for.
    pub fn path(self) -> &'static str {
        match self {
            Variant::HitRouteUnlisted => "/api/time/",
            Variant::HitLayer => "/api/layer",
            _ => "/api/time",
        }
    }

    /// Whether the answer must be a cache hit (`x-route-cache: HIT`).
    pub fn is_hit(self) -> bool {
        matches!(
            self,
            Variant::HitRoute
                | Variant::HitRouteUnlisted
                | Variant::HitTableCall
                | Variant::HitTableOneshot
                | Variant::HitLayer
        )
    }
}

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

/// The request of every variant: a `GET` with three headers, as a client sends it.
pub fn request(path: &str) -> Request<Body> {
    Request::get(path)
        .header(header::HOST, "localhost:3000")
        .header(header::ACCEPT, "application/json")
        .header(header::USER_AGENT, "bench/1.0")
        .body(Body::empty())
        .unwrap()
}

/// What the floors store for a path: the hit's own status, headers and body.
struct Stored {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// The floors' store: a lookup by method, then by path.
type FloorMap = HashMap<Method, HashMap<String, Stored>>;

#[inline]
fn floor_answer(map: &FloorMap, req: &Request<Body>) -> Response<Body> {
    let stored = map
        .get(req.method())
        .and_then(|paths| paths.get(req.uri().path()))
        .expect("the floor holds the path");
    let mut res = Response::new(Body::from(stored.body.clone()));
    *res.status_mut() = stored.status;
    *res.headers_mut() = stored.headers.clone();
    res
}

type Answer = Ready<Result<Response<Body>, Infallible>>;

/// The floor as a service: `service_fn` over the shared map (its clone is an `Arc` clone,
/// as the table's is).
fn floor_service(
    map: Arc<FloorMap>,
) -> impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = Answer> + Clone
{
    service_fn(move |req: Request<Body>| {
        let res = floor_answer(&map, &req);
        drop(req);
        std::future::ready(Ok(res))
    })
}

fn layer_origin(_req: Request<Body>) -> Answer {
    std::future::ready(Ok(Response::new(Body::from(
        "{\"generated_at\":\"2025-01-01T00:00:00.000Z\"}",
    ))))
}

type Origin = tower::util::ServiceFn<fn(Request<Body>) -> Answer>;

/// Everything the variants call, filled and checked.
pub struct Fixture<F> {
    /// Runs the fills; kept for the tasks a cache may leave.
    pub rt: tokio::runtime::Runtime,
    cached: RouteHandlerService,
    uncached: RouteHandlerService,
    table: RouteTable,
    layered: CacheService<Origin>,
    bare: HashMap<String, Bytes>,
    map: Arc<FloorMap>,
    floor: F,
    type_only: F,
}

/// Answers a request that must not wait.
#[inline]
fn now<Fut: Future<Output = Result<Response<Body>, Infallible>>>(f: Fut) -> Response<Body> {
    match f.now_or_never() {
        Some(Ok(res)) => res,
        _ => panic!("answered at once"),
    }
}

/// Builds every service, fills the entries the hits are served from, and checks that each
/// variant answers as it must.
pub fn fixture() -> Fixture<
    impl Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = Answer> + Clone,
> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let route = || RouteHandler::new().get(time).path("/api/time");
    let cached = route()
        .dynamic(Dynamic::ForceStatic)
        .revalidate(3600)
        .cache(&Cache::new())
        .into_service();
    let uncached = route().into_service();
    let table = Routes::new()
        .route(
            "/api/time",
            RouteHandler::new()
                .get(time)
                .dynamic(Dynamic::ForceStatic)
                .revalidate(3600),
        )
        .cache(&Cache::new())
        .build();
    let layered = CacheLayer::new(
        CacheConfig::new()
            .dynamic(Dynamic::ForceStatic)
            .revalidate(3600),
    )
    .cache(&Cache::new())
    .layer(service_fn(layer_origin as fn(Request<Body>) -> Answer));

    // The misses that fill the entries.
    rt.block_on(async {
        let res = cached.clone().oneshot(request("/api/time")).await.unwrap();
        assert_cache_status(&res, "MISS");
        let res = table.clone().oneshot(request("/api/time")).await.unwrap();
        assert_cache_status(&res, "MISS");
        let res = layered
            .clone()
            .oneshot(request("/api/layer"))
            .await
            .unwrap();
        assert_cache_status(&res, "MISS");
    });

    // The floors store what a hit through the table sends.
    let hit = now(table.clone().oneshot(request("/api/time")));
    assert_cache_status(&hit, "HIT");
    let (parts, body) = hit.into_parts();
    let body = rt.block_on(body.collect()).unwrap().to_bytes();
    let mut bare = HashMap::new();
    bare.insert("/api/time".to_owned(), body.clone());
    let floor_map = |headers: HeaderMap| {
        let mut paths = HashMap::new();
        paths.insert(
            "/api/time".to_owned(),
            Stored {
                status: parts.status,
                headers,
                body: body.clone(),
            },
        );
        let mut map = HashMap::new();
        map.insert(Method::GET, paths);
        Arc::new(map)
    };
    let mut type_only = HeaderMap::new();
    type_only.insert(
        header::CONTENT_TYPE,
        parts.headers[header::CONTENT_TYPE].clone(),
    );
    let type_only = floor_map(type_only);
    let map = floor_map(parts.headers.clone());

    let mut fixture = Fixture {
        rt,
        cached,
        uncached,
        table,
        layered,
        bare,
        floor: floor_service(map.clone()),
        type_only: floor_service(type_only),
        map,
    };
    for v in Variant::ALL {
        let res = fixture.run(v, request(v.path()));
        fixture.check(v, res.as_ref());
    }
    fixture
}

fn assert_cache_status(res: &Response<Body>, want: &str) {
    assert_eq!(res.status(), StatusCode::OK, "status");
    assert_eq!(
        res.headers().get(CACHE_STATUS_HEADER).map(|v| v.as_bytes()),
        Some(want.as_bytes()),
        "{CACHE_STATUS_HEADER}"
    );
}

impl<F> Fixture<F>
where
    F: Service<Request<Body>, Response = Response<Body>, Error = Infallible, Future = Answer>
        + Clone,
{
    /// One iteration of `v`: answers `req` (built outside, by the caller). `Setup` drops it.
    #[inline(always)]
    pub fn run(&mut self, v: Variant, req: Request<Body>) -> Option<Response<Body>> {
        Some(match v {
            Variant::Setup => {
                drop(black_box(req));
                return None;
            }
            Variant::FloorBare => {
                let body = black_box(&self.bare).get(req.uri().path()).unwrap();
                Response::new(Body::from(body.clone()))
            }
            Variant::FloorHeaders => {
                let res = floor_answer(black_box(&self.map), &req);
                drop(req);
                res
            }
            Variant::FloorCall => now(Service::call(&mut self.floor, req)),
            Variant::FloorOneshot => now(self.floor.clone().oneshot(req)),
            Variant::FloorTypeCall => now(Service::call(&mut self.type_only, req)),
            Variant::FloorTypeOneshot => now(self.type_only.clone().oneshot(req)),
            Variant::HitRoute | Variant::HitRouteUnlisted => {
                now(self.cached.call_with_context(req, RouteContext::default()))
            }
            Variant::HitTableCall => now(Service::call(&mut self.table, req)),
            Variant::HitTableOneshot => now(self.table.clone().oneshot(req)),
            Variant::HitLayer => {
                let svc = now_ready(&mut self.layered);
                now(svc.call(req))
            }
            Variant::Handler => now(self
                .uncached
                .call_with_context(req, RouteContext::default())),
        })
    }

    /// Asserts what `v` answered: `200`, and `x-route-cache: HIT` for a hit (the floors with
    /// headers send the hit's, so theirs say `HIT` too; the type-only floors send
    /// `Content-Type` alone); the handler's answer carries no cache header. `Setup` answers
    /// nothing.
    pub fn check(&self, v: Variant, res: Option<&Response<Body>>) {
        let Some(res) = res else {
            assert_eq!(v, Variant::Setup, "{} answered nothing", v.name());
            return;
        };
        assert_eq!(res.status(), StatusCode::OK, "{}: status", v.name());
        let cache_status = res.headers().get(CACHE_STATUS_HEADER);
        match v {
            Variant::FloorBare => assert!(res.headers().is_empty()),
            Variant::FloorTypeCall | Variant::FloorTypeOneshot => {
                assert_eq!(res.headers().len(), 1);
                assert!(res.headers().contains_key(header::CONTENT_TYPE));
            }
            Variant::Handler => assert!(cache_status.is_none(), "the handler ran"),
            _ => assert_eq!(
                cache_status.map(|s| s.as_bytes()),
                Some(&b"HIT"[..]),
                "{}: {CACHE_STATUS_HEADER}",
                v.name()
            ),
        }
    }
}

fn now_ready<S: Service<Request<Body>>>(svc: &mut S) -> &mut S {
    match svc.ready().now_or_never() {
        Some(Ok(svc)) => svc,
        _ => panic!("always ready"),
    }
}
