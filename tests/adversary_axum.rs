//! Attacks on the axum integration, per-route layers, `merge`/`nest` and the revalidation
//! reports: a client's data must never reach a shared entry, two public paths must never
//! share one, layers must guard cache hits, and request-time mistakes of a client must be
//! answered `4xx`, never `500` or a panic.
//!

#![allow(deprecated)] // tower-http's `ValidateRequestHeaderLayer::bearer`: enough for a test.

mod support;

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{
    Extension, Router,
    extract::{OriginalUri, Query},
    middleware::{self, Next},
};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::BodyExt;
use route_handlers::{
    Body, RouteContext, RouteHandler, Routes,
    axum::{Axum, AxumRequest},
    cache::{Cache, CacheTags, Dynamic, MemoryStore},
    routes::MatchedRoute,
};
use support::{Proto, raw, raw_exchange, send, serve};
use tower::{Service, ServiceExt};
use tower_http::validate_request::ValidateRequestHeaderLayer;

const STATUS: &str = "x-route-cache";

#[derive(Clone, Default)]
struct Runs(Arc<AtomicUsize>);

impl Runs {
    fn bump(&self) -> usize {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a caller of a service saw.
#[derive(Debug)]
struct Got {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Got {
    fn cache(&self) -> Option<&str> {
        self.headers.get(STATUS).map(|v| v.to_str().unwrap())
    }
}

/// Calls `svc` once with `method uri`, `headers` and `body`, and reads the whole answer.
async fn call<S, B>(
    svc: &S,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Got
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let mut req = Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let req = req.body(Body::from(body.into())).unwrap();
    let res = svc.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Got {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get<S, B>(svc: &S, uri: &str) -> Got
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    call(svc, "GET", uri, &[], Bytes::new()).await
}

/// The signed-in user, as an axum middleware puts it into the request extensions.
#[derive(Clone, Debug)]
struct User(String);

async fn sign_in(mut req: axum::extract::Request, next: Next) -> axum::response::Response {
    if let Some(user) = req.headers().get("x-user") {
        let user = User(user.to_str().unwrap().to_owned());
        req.extensions_mut().insert(user);
    }
    next.run(req).await
}

// ------------------------------------------------------------------------------------------
// 1. A client's data and shared entries
// ------------------------------------------------------------------------------------------

/// A force-static handler that reads everything a client could send through axum's
/// extractors; it echoes what it saw, so that a leak is visible in the body.
fn echo_everything(runs: &Runs) -> RouteHandler {
    let runs = runs.clone();
    RouteHandler::new()
        .get(
            move |Axum(headers): Axum<HeaderMap>,
                  Axum(OriginalUri(original)): Axum<OriginalUri>,
                  Axum(user): Axum<Option<Extension<User>>>,
                  Query(query): Query<HashMap<String, String>>| {
                runs.bump();
                async move {
                    format!(
                        "uri={original} cookie={:?} secret={:?} user={:?} query={query:?}",
                        headers.get("cookie"),
                        headers.get("x-secret"),
                        user.map(|Extension(u)| u.0),
                    )
                }
            },
        )
        .dynamic(Dynamic::ForceStatic)
}

#[tokio::test]
async fn force_static_fills_through_axum_extractors_see_nothing_of_any_client() {
    let runs = Runs::default();
    let table = Routes::new()
        .route("/api/me", echo_everything(&runs))
        .build();
    let app = Router::new()
        .nest_service("/api", table)
        .layer(middleware::from_fn(sign_in));
    let server = serve(app).await;
    for proto in Proto::BOTH {
        let alice = send(
            proto,
            server.addr,
            "GET",
            "/api/me?token=alice-token",
            &[
                ("cookie", "sid=alice-cookie"),
                ("x-secret", "alice-secret"),
                ("x-user", "alice-user"),
            ],
            "",
        )
        .await;
        let bob = send(proto, server.addr, "GET", "/api/me", &[], "").await;
        for reply in [&alice, &bob] {
            assert_eq!(reply.status, StatusCode::OK);
            let body = String::from_utf8_lossy(&reply.body);
            assert!(!body.contains("alice"), "{proto:?}: {body}");
            assert_eq!(
                body,
                "uri=/api/me cookie=None secret=None user=None query={}"
            );
        }
        assert_eq!(bob.header(STATUS), Some("HIT"));
    }
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn a_revalidated_route_that_reads_through_axum_is_never_shared() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/api/me",
            RouteHandler::new()
                .get(move |Axum(headers): Axum<HeaderMap>| {
                    r.bump();
                    async move { format!("{:?}", headers.get("x-secret")) }
                })
                .revalidate(60),
        )
        .build();
    let app = Router::new().nest_service("/api", table);
    let alice = call(&app, "GET", "/api/me", &[("x-secret", "alice")], "").await;
    let bob = call(&app, "GET", "/api/me", &[("x-secret", "bob")], "").await;
    assert_eq!(alice.body, "Some(\"alice\")");
    assert_eq!(bob.body, "Some(\"bob\")");
    assert_eq!(bob.cache(), None);
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn a_revalidated_route_that_reads_axum_query_is_never_shared() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/api/search",
            RouteHandler::new()
                .get(move |Query(q): Query<HashMap<String, String>>| {
                    r.bump();
                    async move { format!("{:?}", q.get("q")) }
                })
                .revalidate(60),
        )
        .build();
    let app = Router::new().nest_service("/api", table);
    let a = get(&app, "/api/search?q=alice").await;
    let b = get(&app, "/api/search?q=bob").await;
    assert_eq!(a.body, "Some(\"alice\")");
    assert_eq!(b.body, "Some(\"bob\")");
    assert_eq!(runs.get(), 2);
}

#[tokio::test]
async fn an_axum_path_on_a_force_static_route_is_keyed_per_param() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/items/[id]",
            RouteHandler::new()
                .get(
                    move |axum::extract::Path(id): axum::extract::Path<String>| {
                        r.bump();
                        async move { format!("item {id}") }
                    },
                )
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let app = Router::new().nest_service("/api", table);
    assert_eq!(get(&app, "/api/items/1").await.body, "item 1");
    assert_eq!(get(&app, "/api/items/2").await.body, "item 2");
    // Spellings of one path are one entry.
    let again = get(&app, "/api/items/%31").await;
    assert_eq!(
        (again.body.as_str(), again.cache()),
        ("item 1", Some("HIT"))
    );
    let again = get(&app, "/api/items/1/").await;
    assert_eq!(
        (again.body.as_str(), again.cache()),
        ("item 1", Some("HIT"))
    );
    assert_eq!(runs.get(), 2);
}

/// One table, its patterns relative to the mount point, mounted under two prefixes: the
/// public paths differ, so the entries do.
#[tokio::test]
async fn one_table_under_two_prefixes_keys_two_public_paths() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/x",
            RouteHandler::new()
                .get(move |Axum(OriginalUri(uri)): Axum<OriginalUri>| {
                    r.bump();
                    async move { uri.path().to_owned() }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let app = Router::new()
        .nest_service("/a", table.clone())
        .nest_service("/b", table.clone())
        .fallback_service(table);
    let a = get(&app, "/a/x").await;
    let b = get(&app, "/b/x").await;
    let root = get(&app, "/x").await;
    assert_eq!((a.body.as_str(), a.cache()), ("/a/x", Some("MISS")));
    assert_eq!((b.body.as_str(), b.cache()), ("/b/x", Some("MISS")));
    assert_eq!((root.body.as_str(), root.cache()), ("/x", Some("MISS")));
    assert_eq!(get(&app, "/a/x").await.body, "/a/x");
    assert_eq!(get(&app, "/b/x").await.body, "/b/x");
    assert_eq!(runs.get(), 3);
}

/// Two tables sharing one cache, each with a route at `/x`, nested under different
/// prefixes: two routes, two key spaces.
#[tokio::test]
async fn two_tables_sharing_a_cache_under_two_prefixes_keep_apart() {
    let cache = Cache::new();
    let table = |name: &'static str| {
        Routes::new()
            .cache(&cache)
            .route(
                "/x",
                RouteHandler::new()
                    .get(move || async move { name })
                    .dynamic(Dynamic::ForceStatic),
            )
            .build()
    };
    let app = Router::new()
        .nest_service("/a", table("table a"))
        .nest_service("/b", table("table b"));
    assert_eq!(get(&app, "/a/x").await.body, "table a");
    assert_eq!(get(&app, "/b/x").await.body, "table b");
    assert_eq!(get(&app, "/a/x").await.body, "table a");
    assert_eq!(get(&app, "/b/x").await.body, "table b");
}

/// A dot segment in the public path is refused, also when the path axum stripped looks
/// harmless.
#[tokio::test]
async fn dot_segments_in_the_public_path_are_refused_over_the_wire() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/[...path]",
            RouteHandler::new()
                .get(move |ctx: RouteContext| {
                    r.bump();
                    async move { format!("{:?}", ctx.params_raw().get("path")) }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let app = Router::new().nest_service("/files", table);
    let server = serve(app).await;
    for path in [
        "/files/../secret",
        "/files/%2e%2e/secret",
        "/files/a/./b",
        "/files/a/%2E/b",
    ] {
        let reply = raw(server.addr, "GET", path, &[], "").await;
        assert_eq!(reply.status, 400, "{path}");
    }
    assert_eq!(runs.get(), 0);
}

/// A catch-all relative to the mount point gets the segments after the prefix, as axum's
/// own `nest_service` would hand them over, not the prefix too.
#[tokio::test]
async fn a_relative_catch_all_under_nest_service_does_not_capture_the_prefix() {
    let table = Routes::new()
        .route(
            "/[...path]",
            RouteHandler::new().get(|ctx: RouteContext| async move {
                format!("{:?}", ctx.params_raw().get("path"))
            }),
        )
        .build();
    let app = Router::new().nest_service("/files", table);
    assert_eq!(
        get(&app, "/files/a.txt").await.body,
        "Some(Many([\"a.txt\"]))"
    );
}

/// Relative patterns with dynamic segments: the public path must not match a route the
/// stripped one would not.
#[tokio::test]
async fn relative_dynamic_patterns_under_nest_service_match_the_stripped_path() {
    let table = Routes::new()
        .route(
            "/[org]",
            RouteHandler::new()
                .get(|ctx: RouteContext| async move { format!("org {:?}", ctx.param("org")) }),
        )
        .route(
            "/[org]/[repo]",
            RouteHandler::new().get(|ctx: RouteContext| async move {
                format!("repo {:?}/{:?}", ctx.param("org"), ctx.param("repo"))
            }),
        )
        .build();
    let app = Router::new().nest_service("/api", table);
    assert_eq!(get(&app, "/api/acme").await.body, "org Some(\"acme\")");
}

/// A middleware inside axum's router that rewrites the URI (Next.js middleware's
/// `NextResponse.rewrite`, here: anonymous users are shown the login page) is obeyed: the
/// table must not go back to the URI axum received.
#[tokio::test]
async fn a_rewrite_by_axum_middleware_is_not_undone_by_the_table() {
    async fn login_or_pass(
        mut req: axum::extract::Request,
        next: Next,
    ) -> axum::response::Response {
        if !req.headers().contains_key("x-user") {
            *req.uri_mut() = "/login".parse().unwrap();
        }
        next.run(req).await
    }
    let table = Routes::new()
        .route(
            "/dashboard",
            RouteHandler::new().get(|| async { "secret dashboard" }),
        )
        .route(
            "/login",
            RouteHandler::new().get(|| async { "please log in" }),
        )
        .build();
    let app = Router::new()
        .fallback_service(table)
        .layer(middleware::from_fn(login_or_pass));
    let signed_in = call(&app, "GET", "/dashboard", &[("x-user", "alice")], "").await;
    assert_eq!(signed_in.body, "secret dashboard");
    let anonymous = get(&app, "/dashboard").await;
    assert_eq!(anonymous.body, "please log in");
}

/// Empty segments are not matched, so no second spelling of a catch-all can fill the
/// entry of `/files/a` with other params: `/files/a//` would be `["a", ""]` but is keyed
/// `/files/a`.
#[tokio::test]
async fn extra_slashes_do_not_fill_another_params_entry() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/files/[...path]",
            RouteHandler::new()
                .get(move |ctx: RouteContext| {
                    r.bump();
                    async move { format!("{:?}", ctx.params_raw().get("path")) }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let server = serve(table).await;
    for path in ["/files/a//", "/files//a", "/files/a///", "/files/a/b//"] {
        let reply = raw(server.addr, "GET", path, &[], "").await;
        assert_eq!(reply.status, 404, "{path}");
    }
    assert_eq!(runs.get(), 0);
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/files/a/", &[], "").await;
        assert_eq!(&reply.body[..], b"Some(Many([\"a\"]))");
    }
    assert_eq!(runs.get(), 1);
}

/// A table nested under a prefix with an axum capture (`/t/{tenant}`) keys each tenant's
/// public path apart, though its route is static.
#[tokio::test]
async fn tenants_under_a_captured_prefix_keep_apart() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/",
            RouteHandler::new()
                .get(move |Axum(OriginalUri(uri)): Axum<OriginalUri>| {
                    r.bump();
                    async move { format!("home of {}", uri.path()) }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .route(
            "/settings",
            RouteHandler::new()
                .get(|Axum(OriginalUri(uri)): Axum<OriginalUri>| async move {
                    format!("settings of {}", uri.path())
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let app = Router::new().nest_service("/t/{tenant}", table);
    assert_eq!(
        get(&app, "/t/acme/settings").await.body,
        "settings of /t/acme/settings"
    );
    assert_eq!(
        get(&app, "/t/globex/settings").await.body,
        "settings of /t/globex/settings"
    );
    assert_eq!(get(&app, "/t/acme").await.body, "home of /t/acme");
    let slash = get(&app, "/t/acme/").await;
    assert_eq!(
        (slash.body.as_str(), slash.cache()),
        ("home of /t/acme", Some("HIT"))
    );
    assert_eq!(get(&app, "/t/globex").await.body, "home of /t/globex");
    assert_eq!(runs.get(), 2);
}

/// The same for a lone route under `route_service` with axum's wildcard: `{*path}` captures
/// `a/` for `/files/a/`, which is keyed as `/files/a`; the route sees the capture of the
/// path it is keyed by (`a`, as a table does), so no client is served another's params.
#[tokio::test]
async fn a_lone_wildcard_route_does_not_share_an_entry_across_captures() {
    let runs = Runs::default();
    let counted = runs.clone();
    let route = RouteHandler::new()
        .get(move |ctx: RouteContext| {
            counted.bump();
            async move { format!("{:?}", ctx.param("path")) }
        })
        .dynamic(Dynamic::ForceStatic)
        .into_service();
    let app = Router::new().route_service("/files/{*path}", route);
    let first = get(&app, "/files/a/").await;
    let second = get(&app, "/files/a").await;
    assert_eq!(first.body, "Some(\"a\")");
    assert_eq!(
        (second.body.as_str(), second.cache()),
        ("Some(\"a\")", Some("HIT"))
    );
    let other = get(&app, "/files/a/b/").await;
    assert_eq!(other.body, "Some(\"a/b\")");
    assert_eq!(runs.get(), 2);
}

// ------------------------------------------------------------------------------------------
// 2. Layered routes
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_auth_layer_guards_the_cache_hits_of_a_route_in_a_table() {
    let runs = Runs::default();
    let r = runs.clone();
    let table = Routes::new()
        .route(
            "/api/report/[id]",
            RouteHandler::new()
                .get(move |ctx: RouteContext| {
                    r.bump();
                    let id = ctx.param("id").unwrap_or_default().to_owned();
                    async move { format!("secret report {id}") }
                })
                .dynamic(Dynamic::ForceStatic)
                .layer(ValidateRequestHeaderLayer::bearer("let-me-in")),
        )
        .route("/api/open", RouteHandler::new().get(|| async { "open" }))
        .build();
    let app = Router::new().nest_service("/api", table);
    let server = serve(app).await;
    for proto in Proto::BOTH {
        let auth = [("authorization", "Bearer let-me-in")];
        let ok = send(proto, server.addr, "GET", "/api/report/7", &auth, "").await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(&ok.body[..], b"secret report 7");
        let ok = send(proto, server.addr, "GET", "/api/report/%37", &auth, "").await;
        assert_eq!(ok.header(STATUS), Some("HIT"));
        for path in ["/api/report/7", "/api/report/%37", "/api/report/7/"] {
            let denied = send(proto, server.addr, "GET", path, &[], "").await;
            assert_eq!(denied.status, StatusCode::UNAUTHORIZED, "{path}");
            assert!(denied.body.is_empty(), "{path}");
            assert_eq!(denied.header(STATUS), None);
            let head = raw(server.addr, "HEAD", path, &[], "").await;
            assert_eq!(head.status, 401, "HEAD {path}");
            assert!(head.body.is_empty());
        }
        let open = send(proto, server.addr, "GET", "/api/open", &[], "").await;
        assert_eq!(open.status, StatusCode::OK);
    }
    assert_eq!(runs.get(), 1);
}

#[tokio::test]
async fn an_auth_layer_guards_the_cache_hits_of_a_lone_route_under_route_service() {
    let runs = Runs::default();
    let r = runs.clone();
    let route = RouteHandler::new()
        .get(move |axum::extract::Path(id): axum::extract::Path<u32>| {
            r.bump();
            async move { format!("secret {id}") }
        })
        .dynamic(Dynamic::ForceStatic)
        .layer(ValidateRequestHeaderLayer::bearer("let-me-in"))
        .into_service();
    let app = Router::new().route_service("/p/{id}", route);
    let auth = [("authorization", "Bearer let-me-in")];
    assert_eq!(call(&app, "GET", "/p/3", &auth, "").await.body, "secret 3");
    let denied = get(&app, "/p/3").await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert!(!denied.body.contains("secret"));
    let hit = call(&app, "GET", "/p/3", &auth, "").await;
    assert_eq!((hit.body.as_str(), hit.cache()), ("secret 3", Some("HIT")));
    assert_eq!(runs.get(), 1);
}

/// What a layer saw: method, path, the route's params and the matched route.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<String>>>);

impl Seen {
    fn layer(
        &self,
    ) -> impl tower::Layer<route_handlers::Route, Service = SeenService> + Clone + use<> {
        let seen = self.clone();
        tower::layer::layer_fn(move |inner| SeenService {
            inner,
            seen: seen.clone(),
        })
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

#[derive(Clone)]
struct SeenService {
    inner: route_handlers::Route,
    seen: Seen,
}

impl Service<Request<Body>> for SeenService {
    type Response = Response<Body>;
    type Error = std::convert::Infallible;
    type Future = <route_handlers::Route as Service<Request<Body>>>::Future;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let params = req
            .extensions()
            .get::<RouteContext>()
            .and_then(|ctx| ctx.param("id").map(str::to_owned));
        let matched = req
            .extensions()
            .get::<MatchedRoute>()
            .map(|m| m.pattern().to_owned());
        self.seen.0.lock().unwrap().push(format!(
            "{} {} {params:?} {matched:?}",
            req.method(),
            req.uri().path()
        ));
        self.inner.call(req)
    }
}

#[tokio::test]
async fn a_layered_route_in_a_table_gets_its_params_its_key_and_head_options_405() {
    let runs = Runs::default();
    let r = runs.clone();
    let seen = Seen::default();
    let layer = seen.layer();
    let table = Routes::new()
        .route(
            "/(shop)/items/[id]",
            RouteHandler::new()
                .get(move |axum::extract::Path(id): axum::extract::Path<u32>| {
                    r.bump();
                    async move { format!("item {id}") }
                })
                .post(|| async { "posted" })
                .revalidate(60)
                .layer(layer),
        )
        .matched_route(true)
        .build();
    let first = get(&table, "/items/7").await;
    assert_eq!(
        (first.body.as_str(), first.cache()),
        ("item 7", Some("MISS"))
    );
    // Another spelling of the same path is the same entry.
    let hit = get(&table, "/items/%37/").await;
    assert_eq!((hit.body.as_str(), hit.cache()), ("item 7", Some("HIT")));
    assert_eq!(runs.get(), 1);

    let head = call(&table, "HEAD", "/items/7", &[], "").await;
    assert_eq!(head.status, StatusCode::OK);
    assert_eq!(head.body, "");
    assert_eq!(head.cache(), Some("HIT"));
    let options = call(&table, "OPTIONS", "/items/7", &[], "").await;
    assert_eq!(options.status, StatusCode::NO_CONTENT);
    assert_eq!(options.headers["allow"], "GET, HEAD, OPTIONS, POST");
    let delete = call(&table, "DELETE", "/items/7", &[], "").await;
    assert_eq!(delete.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(delete.headers["allow"], "GET, HEAD, OPTIONS, POST");
    assert_eq!(
        matched_pattern(&table, "DELETE", "/items/7").await,
        Some("/(shop)/items/[id]".to_owned())
    );
    assert_eq!(runs.get(), 1);

    let pattern = Some("/(shop)/items/[id]");
    let seen = seen.take();
    let expect = |m: &str, p: &str| format!("{m} {p} Some(\"7\") {:?}", pattern);
    assert_eq!(
        seen,
        [
            expect("GET", "/items/7"),
            expect("GET", "/items/%37/"),
            expect("HEAD", "/items/7"),
            expect("OPTIONS", "/items/7"),
            expect("DELETE", "/items/7"),
            expect("DELETE", "/items/7"),
        ]
    );
}

/// The pattern of the `MatchedRoute` a table's answer to `method uri` carries.
async fn matched_pattern(
    table: &route_handlers::RouteTable,
    method: &str,
    uri: &str,
) -> Option<String> {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let res = table.clone().oneshot(req).await.unwrap();
    res.extensions()
        .get::<MatchedRoute>()
        .map(|m| m.pattern().to_owned())
}

#[tokio::test]
async fn route_layer_guards_only_the_routes_before_it_and_not_the_not_found() {
    let table = Routes::new()
        .route(
            "/admin/stats",
            RouteHandler::new()
                .get(|| async { "42" })
                .dynamic(Dynamic::ForceStatic),
        )
        .route_layer(ValidateRequestHeaderLayer::bearer("admin"))
        .route("/health", RouteHandler::new().get(|| async { "ok" }))
        .build();
    let ok = call(
        &table,
        "GET",
        "/admin/stats",
        &[("authorization", "Bearer admin")],
        "",
    )
    .await;
    assert_eq!(ok.body, "42");
    let denied = get(&table, "/admin/stats").await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    let denied = call(&table, "HEAD", "/admin/stats", &[], "").await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&table, "/health").await.status, StatusCode::OK);
    assert_eq!(get(&table, "/nowhere").await.status, StatusCode::NOT_FOUND);
}

// ------------------------------------------------------------------------------------------
// 3. merge and nest
// ------------------------------------------------------------------------------------------

#[test]
fn conflicts_across_merged_tables_name_both_registrations() {
    let a = Routes::new().route("/api/x", RouteHandler::new().get(|| async { "a" }));
    let b = Routes::new().route("/(g)/api/x", RouteHandler::new().get(|| async { "b" }));
    let err = a.merge(b).try_build().unwrap_err().to_string();
    assert!(err.contains("/api/x"), "{err}");
    assert!(err.contains("/(g)/api/x"), "{err}");
    assert!(err.contains("adversary_axum.rs"), "{err}");
}

#[test]
fn merged_tables_with_two_caches_or_two_not_founds_are_conflicts() {
    let one = Routes::new()
        .cache(&Cache::new())
        .not_found(tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        }));
    let two = Routes::new()
        .cache(&Cache::new())
        .not_found(tower::service_fn(|_: Request<Body>| async {
            Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
        }));
    let err = one.merge(two).try_build().unwrap_err();
    assert_eq!(err.len(), 2, "{err}");
}

#[tokio::test]
async fn nest_at_the_root_serves_the_nested_root() {
    let inner = || {
        Routes::new()
            .route("/", RouteHandler::new().get(|| async { "root" }))
            .route("/x", RouteHandler::new().get(|| async { "x" }))
    };
    for prefix in ["/", ""] {
        let table = Routes::new().nest(prefix, inner()).try_build();
        let table = table.unwrap_or_else(|err| panic!("{prefix:?}: {err}"));
        assert_eq!(get(&table, "/").await.body, "root");
        assert_eq!(get(&table, "/x").await.body, "x");
    }
}

#[tokio::test]
async fn nest_with_a_trailing_slash_a_group_and_a_param_prefix() {
    let inner = || {
        Routes::new()
            .route(
                "/",
                RouteHandler::new().get(|ctx: RouteContext| async move {
                    format!("index {:?}", ctx.param("tenant"))
                }),
            )
            .route(
                "/items/[id]",
                RouteHandler::new().get(|ctx: RouteContext| async move {
                    format!("{:?} {:?}", ctx.param("tenant"), ctx.param("id"))
                }),
            )
    };
    let table = Routes::new()
        .nest("/api/", inner())
        .nest("/(shop)/[tenant]", inner())
        .build();
    assert_eq!(get(&table, "/api").await.body, "index None");
    assert_eq!(get(&table, "/api/").await.body, "index None");
    assert_eq!(get(&table, "/api/items/3").await.body, "None Some(\"3\")");
    assert_eq!(get(&table, "/acme").await.body, "index Some(\"acme\")");
    assert_eq!(
        get(&table, "/acme/items/3").await.body,
        "Some(\"acme\") Some(\"3\")"
    );
}

#[test]
fn nest_problems_are_reported() {
    // The prefix's param name again inside.
    let inner = Routes::new().route("/[tenant]", RouteHandler::new().get(|| async { "" }));
    let err = Routes::new()
        .nest("/[tenant]", inner)
        .try_build()
        .unwrap_err();
    assert!(err.to_string().contains("tenant"), "{err}");
    // A group prefix that collides with a route of the outer table.
    let inner = Routes::new().route("/login", RouteHandler::new().get(|| async { "" }));
    let err = Routes::new()
        .route("/login", RouteHandler::new().get(|| async { "" }))
        .nest("/(auth)", inner)
        .try_build()
        .unwrap_err();
    assert!(
        err.to_string().contains("Conflicting routes at /login"),
        "{err}"
    );
    // A nested not-found service would never answer.
    let inner = Routes::new().not_found(tower::service_fn(|_: Request<Body>| async {
        Ok::<_, std::convert::Infallible>(Response::new(Body::empty()))
    }));
    let err = Routes::new().nest("/api", inner).try_build().unwrap_err();
    assert!(err.to_string().contains("not-found"), "{err}");
}

#[tokio::test]
async fn a_nested_tables_cache_is_the_one_its_routes_use_and_its_revalidator_reaches() {
    let runs = Runs::default();
    let r = runs.clone();
    let cache = Cache::new();
    let inner = Routes::new().cache(&cache).route(
        "/products",
        RouteHandler::new()
            .get(move || {
                let n = r.bump();
                async move { format!("v{n}") }
            })
            .dynamic(Dynamic::ForceStatic),
    );
    let table = Routes::new().nest("/api", inner).build();
    assert!(table.cache().ptr_eq(&cache));
    assert_eq!(get(&table, "/api/products").await.body, "v1");
    assert_eq!(get(&table, "/api/products").await.cache(), Some("HIT"));
    let report = cache
        .revalidator()
        .revalidate_path("/api/products")
        .await
        .unwrap();
    assert_eq!(
        report.routes(),
        [std::sync::Arc::<str>::from("/api/products")]
    );
    assert_eq!(report.entries(), Some(1));
    let again = get(&table, "/api/products").await;
    assert_eq!(
        (again.body.as_str(), again.cache()),
        ("v2", Some("REVALIDATED"))
    );
}

// ------------------------------------------------------------------------------------------
// 4. Revalidation reports
// ------------------------------------------------------------------------------------------

fn counted(runs: &Runs) -> RouteHandler {
    let r = runs.clone();
    RouteHandler::new()
        .get(move || {
            let n = r.bump();
            async move { format!("v{n}") }
        })
        .dynamic(Dynamic::ForceStatic)
        .tags(["products"])
}

#[tokio::test]
async fn revalidate_path_reaches_every_spelling_of_a_path() {
    let runs = Runs::default();
    let table = Routes::new().route("/api/products", counted(&runs)).build();
    let revalidator = table.revalidator();
    for spelling in [
        "/api/products?page=2",
        "/api/products/",
        "/api/%70roducts",
        "/api/products//",
        "/api/products#frag",
    ] {
        get(&table, "/api/products").await;
        let report = revalidator.revalidate_path(spelling).await.unwrap();
        assert_eq!(
            report.routes(),
            [std::sync::Arc::<str>::from("/api/products")],
            "{spelling}"
        );
        assert_eq!(report.entries(), Some(1), "{spelling}");
        assert_eq!(
            get(&table, "/api/products").await.cache(),
            Some("REVALIDATED"),
            "{spelling}"
        );
    }
}

#[tokio::test]
async fn revalidate_path_of_the_public_path_under_nest_service() {
    let runs = Runs::default();
    let table = Routes::new().route("/products", counted(&runs)).build();
    let revalidator = table.revalidator();
    let app = Router::new().nest_service("/api", table);
    get(&app, "/api/products").await;
    let report = revalidator.revalidate_path("/api/products").await.unwrap();
    assert_eq!(report.entries(), Some(1));
    assert_eq!(report.routes(), [std::sync::Arc::<str>::from("/products")]);
    assert_eq!(
        get(&app, "/api/products").await.cache(),
        Some("REVALIDATED")
    );
}

/// A report that names a route must have invalidated what that route serves for the path;
/// here the table is mounted under `/api` and the entry is keyed `/api/products`, yet
/// `revalidate_path("/products")` names the route.
#[tokio::test]
async fn a_report_that_names_a_route_has_invalidated_its_entry() {
    let runs = Runs::default();
    let table = Routes::new().route("/products", counted(&runs)).build();
    let revalidator = table.revalidator();
    let app = Router::new().nest_service("/api", table);
    get(&app, "/api/products").await;
    let report = revalidator.revalidate_path("/products").await.unwrap();
    let next = get(&app, "/api/products").await;
    assert!(
        report.routes().is_empty() || next.cache() == Some("REVALIDATED"),
        "report {report:?}, then {:?}",
        next.cache()
    );
}

#[tokio::test]
async fn a_report_does_not_name_routes_for_an_unrelated_path() {
    let runs = Runs::default();
    let table = Routes::new()
        .route("/api/products/[id]", counted(&runs))
        .build();
    let report = table
        .revalidator()
        .revalidate_path("/elsewhere/7")
        .await
        .unwrap();
    assert!(report.reached_nothing(), "{report:?}");
}

#[tokio::test]
async fn revalidate_tag_no_route_declares_reports_nothing_unless_a_response_carries_it() {
    let table = Routes::new()
        .route(
            "/api/a",
            RouteHandler::new()
                .get(|| async {
                    let mut res = Response::new(Body::from("a"));
                    res.extensions_mut()
                        .insert(CacheTags::new(["from-response"]));
                    res
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let revalidator = table.revalidator();
    let report = revalidator.revalidate_tag("nobody").await.unwrap();
    assert!(report.reached_nothing());
    assert_eq!(report.entries(), Some(0));
    get(&table, "/api/a").await;
    let report = revalidator.revalidate_tag("from-response").await.unwrap();
    assert!(report.routes().is_empty());
    assert_eq!(report.entries(), Some(1));
    assert_eq!(get(&table, "/api/a").await.cache(), Some("REVALIDATED"));
    // Invalidated once: a second call reaches no entry.
    let report = revalidator.revalidate_tag("from-response").await.unwrap();
    assert_eq!(
        report.entries(),
        Some(1),
        "the refilled entry carries the tag again"
    );
}

#[tokio::test]
async fn counts_do_not_include_an_entry_already_invalidated() {
    let runs = Runs::default();
    let table = Routes::new().route("/api/products", counted(&runs)).build();
    let revalidator = table.revalidator();
    get(&table, "/api/products").await;
    let first = revalidator.revalidate_path("/api/products").await.unwrap();
    let second = revalidator.revalidate_path("/api/products").await.unwrap();
    let by_tag = revalidator.revalidate_tag("products").await.unwrap();
    assert_eq!(first.entries(), Some(1));
    assert_eq!(second.entries(), Some(0));
    assert_eq!(by_tag.entries(), Some(0));
}

#[tokio::test]
async fn counts_after_eviction_are_of_entries_still_held() {
    let store = MemoryStore::new(64 * 1024);
    let cache = Cache::builder().store(store.clone()).build();
    let table = Routes::new()
        .cache(&cache)
        .route(
            "/big/[id]",
            RouteHandler::new()
                .get(|| async { "x".repeat(20 * 1024) })
                .dynamic(Dynamic::ForceStatic)
                .tags(["big"]),
        )
        .build();
    for id in 0..32 {
        get(&table, &format!("/big/{id}")).await;
    }
    let held = store.entry_count();
    assert!(held < 32, "nothing was evicted: {held}");
    // Path by path: an evicted path counts 0, its route is still named; the counts add up
    // to the entries held.
    let mut counted = 0;
    for id in 0..32 {
        let report = cache
            .revalidator()
            .revalidate_path(&format!("/big/{id}"))
            .await
            .unwrap();
        assert_eq!(report.routes(), [std::sync::Arc::<str>::from("/big/[id]")]);
        let n = report.entries().unwrap();
        assert!(n <= 1, "/big/{id}: {n}");
        counted += n;
    }
    assert_eq!(counted, held);
    // Nothing is left valid for the tag.
    let report = cache.revalidator().revalidate_tag("big").await.unwrap();
    assert_eq!(report.entries(), Some(0));
    assert_eq!(report.routes(), [std::sync::Arc::<str>::from("/big/[id]")]);
}

// ------------------------------------------------------------------------------------------
// 5. Client mistakes are 4xx, never 500 or a panic
// ------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_axum_path_u64_with_a_bad_value_is_400() {
    let table = Routes::new()
        .route(
            "/items/[id]",
            RouteHandler::new().get(|axum::extract::Path(id): axum::extract::Path<u64>| async move {
                id.to_string()
            }),
        )
        .route(
            "/cached/[id]",
            RouteHandler::new()
                .get(|axum::extract::Path(id): axum::extract::Path<u64>| async move {
                    id.to_string()
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let app = Router::new().nest_service("/api", table);
    for path in [
        "/api/items/abc",
        "/api/items/-1",
        "/api/items/99999999999999999999999",
        "/api/items/%F0%9F%92%A9",
        "/api/cached/abc",
    ] {
        let got = get(&app, path).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{path}: {}", got.body);
    }
    // A bad percent-escape is the table's own 400.
    assert_eq!(
        get(&app, "/api/items/%zz").await.status,
        StatusCode::BAD_REQUEST
    );
    // A rejected fill is not stored.
    let again = get(&app, "/api/cached/abc").await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_ne!(again.cache(), Some("HIT"));
}

#[tokio::test]
async fn an_axum_query_with_a_bad_value_is_400() {
    #[derive(serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        page: u32,
    }
    let table = Routes::new()
        .route(
            "/search",
            RouteHandler::new().get(|Query(_): Query<Page>| async { "ok" }),
        )
        .build();
    for uri in ["/search?page=x", "/search", "/search?page=%FF"] {
        let got = get(&table, uri).await;
        assert_eq!(got.status, StatusCode::BAD_REQUEST, "{uri}: {}", got.body);
    }
}

/// axum routes `/p/%FF` to `/p/{id}` and records that the capture is not UTF-8: the
/// client's mistake, a `400`.
#[tokio::test]
async fn a_lone_route_with_a_capture_that_is_not_utf8_is_400() {
    let route = RouteHandler::new()
        .get(|axum::extract::Path(id): axum::extract::Path<String>| async move { id })
        .into_service();
    let app = Router::new().route_service("/p/{id}", route);
    let server = serve(app).await;
    let reply = raw(server.addr, "GET", "/p/%FF", &[], "").await;
    assert_eq!(
        reply.status,
        400,
        "{:?}",
        String::from_utf8_lossy(&reply.body)
    );
    let reply = raw(server.addr, "GET", "/p/ok", &[], "").await;
    assert_eq!(reply.status, 200);
}

/// A lone route served without any params (not under a table or axum's router): a
/// server mistake, answered `500`, without a panic reaching the server.
#[tokio::test]
async fn a_lone_route_served_without_params_answers_and_keeps_serving() {
    let route = RouteHandler::new()
        .get(|axum::extract::Path(id): axum::extract::Path<u64>| async move { id.to_string() })
        .into_service();
    let server = serve(route).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/p/1", &[], "").await;
        assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR);
    }
}

#[tokio::test]
async fn an_axum_request_body_over_the_route_limit_is_413() {
    let table = Routes::new()
        .route(
            "/upload",
            RouteHandler::new()
                .post(|AxumRequest(body): AxumRequest<Bytes>| async move { body.len().to_string() })
                .body_limit(16),
        )
        .build();
    let server = serve(Router::new().nest_service("/api", table)).await;
    for proto in Proto::BOTH {
        let ok = send(proto, server.addr, "POST", "/api/upload", &[], "0123456789").await;
        assert_eq!((ok.status, &ok.body[..]), (StatusCode::OK, &b"10"[..]));
        let big = send(
            proto,
            server.addr,
            "POST",
            "/api/upload",
            &[],
            "x".repeat(64),
        )
        .await;
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE, "{proto:?}");
    }
    // Chunked, no length: cut off at the limit, not buffered.
    let mut req = String::from(
        "POST /api/upload HTTP/1.1\r\nhost: x\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n",
    );
    for _ in 0..8 {
        req.push_str("10\r\nxxxxxxxxxxxxxxxx\r\n");
    }
    req.push_str("0\r\n\r\n");
    let reply = raw_exchange(server.addr, req).await;
    assert_eq!(reply.status, 413);
}

/// The route's body limit is the one limit: a route that allows 4 MiB takes a 3 MiB body
/// through `AxumRequest` as through this crate's own readers.
#[tokio::test]
async fn an_axum_request_body_under_a_raised_route_limit_is_read() {
    let table = Routes::new()
        .route(
            "/upload",
            RouteHandler::new()
                .post(|AxumRequest(body): AxumRequest<Bytes>| async move { body.len().to_string() })
                .body_limit(4 * 1024 * 1024),
        )
        .build();
    let big = "x".repeat(3 * 1024 * 1024);
    let got = call(&table, "POST", "/upload", &[], big).await;
    assert_eq!((got.status, got.body.as_str()), (StatusCode::OK, "3145728"));
}

#[tokio::test]
async fn axum_json_and_form_mistakes_are_4xx() {
    #[derive(serde::Deserialize)]
    struct In {
        #[allow(dead_code)]
        n: u32,
    }
    let table = Routes::new()
        .route(
            "/json",
            RouteHandler::new()
                .post(|axum::Json(_): axum::Json<In>| async { "ok" })
                .body_limit(64),
        )
        .route(
            "/form",
            RouteHandler::new().post(|axum::Form(_): axum::Form<In>| async { "ok" }),
        )
        .build();
    let json = [("content-type", "application/json")];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], String);
    let cases: [Case<'_>; 6] = [
        ("/json", &json, "{\"n\":".into()),
        ("/json", &json, "{\"n\":\"x\"}".into()),
        ("/json", &[], "{\"n\":1}".into()),
        (
            "/json",
            &json,
            format!("{{\"n\":1,\"pad\":\"{}\"}}", "x".repeat(100)),
        ),
        ("/form", &form, "n=x".into()),
        ("/form", &[], "n=1".into()),
    ];
    for (path, headers, body) in cases {
        let got = call(&table, "POST", path, headers, body.clone()).await;
        assert!(
            got.status.is_client_error(),
            "{path} {headers:?} {body:?}: {} {}",
            got.status,
            got.body
        );
    }
}
