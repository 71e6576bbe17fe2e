//! A products API as an axum 0.8 user writes it: application state, axum's extractors and
//! responses inside route handlers, a route table mounted under `/api` behind tower-http's
//! CORS, compression, timeout and trace layers, served by a real hyper server over HTTP/1.1
//! and HTTP/2. The cache keys and invalidates the public paths.

mod support;

use std::{
    collections::BTreeMap,
    io::Read,
    sync::{Arc, Mutex},
    time::Duration,
};

use axum::{
    Json, Router,
    extract::{FromRef, Path, Query, State},
    http::{HeaderMap, StatusCode, header::LOCATION},
    response::IntoResponse,
};
use axum_extra::{TypedHeader, headers::UserAgent};
use route_handlers::{
    RouteHandler, Routes,
    axum::Axum,
    cache::{Cache, Dynamic, Revalidator},
    request::Cookies,
    routes::MatchedRoute,
};
use serde::{Deserialize, Serialize};
use support::{Proto, Reply, send};
use tower_http::{
    compression::CompressionLayer, cors::CorsLayer, timeout::TimeoutLayer, trace::TraceLayer,
};

const STATUS: &str = "x-route-cache";

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
struct Product {
    id: u64,
    name: String,
}

#[derive(Deserialize)]
struct NewProduct {
    name: String,
}

/// The database-like state: products by id.
#[derive(Clone, Default)]
struct Db(Arc<Mutex<BTreeMap<u64, String>>>);

impl Db {
    fn list(&self) -> Vec<Product> {
        let rows = self.0.lock().unwrap();
        rows.iter()
            .map(|(&id, name)| Product {
                id,
                name: name.clone(),
            })
            .collect()
    }
}

#[derive(Clone)]
struct AppState {
    db: Db,
    revalidator: Revalidator,
}

impl FromRef<AppState> for Db {
    fn from_ref(app: &AppState) -> Db {
        app.db.clone()
    }
}

impl FromRef<AppState> for Revalidator {
    fn from_ref(app: &AppState) -> Revalidator {
        app.revalidator.clone()
    }
}

async fn list(State(db): State<Db>) -> Json<Vec<Product>> {
    Json(db.list())
}

async fn show(State(db): State<Db>, Path(id): Path<u64>) -> Result<Json<Product>, StatusCode> {
    let name = db.0.lock().unwrap().get(&id).cloned();
    name.map(|name| Json(Product { id, name }))
        .ok_or(StatusCode::NOT_FOUND)
}

async fn create(
    State(app): State<AppState>,
    Json(new): Json<NewProduct>,
) -> Axum<impl IntoResponse> {
    let id = {
        let mut rows = app.db.0.lock().unwrap();
        let id = rows.keys().last().map_or(1, |id| id + 1);
        rows.insert(id, new.name.clone());
        id
    };
    app.revalidator.revalidate_tag("products").await.unwrap();
    let location = format!("/api/products/{id}");
    Axum((
        StatusCode::CREATED,
        [(LOCATION, location)],
        Json(Product { id, name: new.name }),
    ))
}

async fn update(
    State(db): State<Db>,
    State(revalidator): State<Revalidator>,
    Path(id): Path<u64>,
    Json(new): Json<NewProduct>,
) -> Result<Json<Product>, StatusCode> {
    {
        let mut rows = db.0.lock().unwrap();
        let row = rows.get_mut(&id).ok_or(StatusCode::NOT_FOUND)?;
        row.clone_from(&new.name);
    }
    revalidator.revalidate_tag("products").await.unwrap();
    Ok(Json(Product { id, name: new.name }))
}

async fn remove(
    State(app): State<AppState>,
    Path(id): Path<u64>,
) -> Result<StatusCode, StatusCode> {
    app.db
        .0
        .lock()
        .unwrap()
        .remove(&id)
        .ok_or(StatusCode::NOT_FOUND)?;
    app.revalidator.revalidate_tag("products").await.unwrap();
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct Search {
    q: String,
}

async fn search(State(db): State<Db>, Query(search): Query<Search>) -> Json<Vec<Product>> {
    let mut found = db.list();
    found.retain(|p| p.name.contains(&search.q));
    Json(found)
}

async fn whoami(Axum(TypedHeader(agent)): Axum<TypedHeader<UserAgent>>) -> String {
    agent.as_str().to_owned()
}

async fn cart(cookies: Cookies) -> String {
    format!("cart: {}", cookies.value("cart").unwrap_or("empty"))
}

/// How the table is written and mounted.
#[derive(Clone, Copy, Debug)]
enum Mount {
    /// Patterns relative to the mount point, under `nest_service("/api", table)`.
    Relative,
    /// Patterns nested at `/api` by `Routes::nest`, under `nest_service("/api", table)`.
    Nested,
    /// The same table as a fallback of the app.
    Fallback,
}

struct App {
    router: Router,
    db: Db,
    cache: Cache,
    /// The routes the trace layer saw matched, in order.
    traced: Arc<Mutex<Vec<String>>>,
}

fn app(mount: Mount) -> App {
    let db = Db::default();
    db.0.lock()
        .unwrap()
        .extend([(1, "tea".to_owned()), (2, "coffee".to_owned())]);
    let cache = Cache::new();
    let state = AppState {
        db: db.clone(),
        revalidator: cache.revalidator(),
    };
    let products = || {
        RouteHandler::new()
            .get(list)
            .post(create)
            .dynamic(Dynamic::ForceStatic)
            .tags(["products"])
    };
    let product = || {
        RouteHandler::new()
            .get(show)
            .put(update)
            .delete(remove)
            .dynamic(Dynamic::ForceStatic)
            .tags(["products"])
    };
    let api = Routes::new()
        .cache(&cache)
        .route("/products", products())
        .route("/products/[id]", product())
        .route("/search", RouteHandler::new().get(search))
        .route("/whoami", RouteHandler::new().get(whoami))
        .route("/cart", RouteHandler::new().get(cart));
    let table = match mount {
        Mount::Relative => api,
        Mount::Nested | Mount::Fallback => Routes::new().nest("/api", api),
    }
    .with_state(state)
    .matched_route(true)
    .build();
    let traced = Arc::new(Mutex::new(Vec::new()));
    let seen = traced.clone();
    let trace = TraceLayer::new_for_http().on_response(
        move |res: &http::Response<_>, _: Duration, _: &tracing::Span| {
            if let Some(matched) = res.extensions().get::<MatchedRoute>() {
                seen.lock().unwrap().push(matched.url().to_owned());
            }
        },
    );
    let router = match mount {
        Mount::Relative | Mount::Nested => Router::new().nest_service("/api", table),
        Mount::Fallback => Router::new().fallback_service(table),
    }
    .route("/", axum::routing::get(|| async { "home" }))
    .layer(CompressionLayer::new())
    .layer(TimeoutLayer::with_status_code(
        StatusCode::SERVICE_UNAVAILABLE,
        Duration::from_secs(5),
    ))
    .layer(CorsLayer::permissive())
    .layer(trace);
    App {
        router,
        db,
        cache,
        traced,
    }
}

fn json<T: serde::de::DeserializeOwned>(reply: &Reply) -> T {
    serde_json::from_slice(&reply.body)
        .unwrap_or_else(|err| panic!("{err}: {:?}", String::from_utf8_lossy(&reply.body)))
}

fn names(reply: &Reply) -> Vec<String> {
    json::<Vec<Product>>(reply)
        .into_iter()
        .map(|p| p.name)
        .collect()
}

async fn products_api(proto: Proto, mount: Mount) {
    let app = app(mount);
    let server = support::serve(app.router.clone()).await;
    let addr = server.addr;
    let get = |path: &'static str| send(proto, addr, "GET", path, &[], "");
    let json_body = [("content-type", "application/json")];
    let at = format!("{proto:?} {mount:?}");

    // The force-static list: generated once, then a hit.
    let first = get("/api/products").await;
    assert_eq!(first.status, StatusCode::OK, "{at}");
    assert_eq!(first.header(STATUS), Some("MISS"), "{at}");
    assert_eq!(names(&first), ["tea", "coffee"], "{at}");
    let again = get("/api/products").await;
    assert_eq!(again.header(STATUS), Some("HIT"), "{at}");
    assert_eq!(again.body, first.body, "{at}");

    // POST invalidates by tag: the next GET is regenerated with the new row.
    let created = send(
        proto,
        addr,
        "POST",
        "/api/products",
        &json_body,
        r#"{"name":"kettle"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{at}");
    assert_eq!(created.header("location"), Some("/api/products/3"), "{at}");
    assert_eq!(
        json::<Product>(&created),
        Product {
            id: 3,
            name: "kettle".into()
        }
    );
    let after = get("/api/products").await;
    assert_eq!(after.header(STATUS), Some("REVALIDATED"), "{at}");
    assert_eq!(names(&after), ["tea", "coffee", "kettle"], "{at}");
    assert_eq!(get("/api/products").await.header(STATUS), Some("HIT"));

    // PUT: the item and the list both come back fresh.
    let one = get("/api/products/1").await;
    assert_eq!(one.header(STATUS), Some("MISS"), "{at}");
    assert_eq!(json::<Product>(&one).name, "tea");
    assert_eq!(get("/api/products/1").await.header(STATUS), Some("HIT"));
    let updated = send(
        proto,
        addr,
        "PUT",
        "/api/products/1",
        &json_body,
        r#"{"name":"green tea"}"#,
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{at}");
    let one = get("/api/products/1").await;
    assert_eq!(one.header(STATUS), Some("REVALIDATED"), "{at}");
    assert_eq!(json::<Product>(&one).name, "green tea", "{at}");
    let after = get("/api/products").await;
    assert_eq!(after.header(STATUS), Some("REVALIDATED"), "{at}");
    assert_eq!(names(&after), ["green tea", "coffee", "kettle"], "{at}");

    // DELETE: gone from the list, and its page is a 404.
    let deleted = send(proto, addr, "DELETE", "/api/products/2", &[], "").await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{at}");
    let after = get("/api/products").await;
    assert_eq!(after.header(STATUS), Some("REVALIDATED"), "{at}");
    assert_eq!(names(&after), ["green tea", "kettle"], "{at}");
    assert_eq!(get("/api/products/2").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get("/api/products/999").await.status, StatusCode::NOT_FOUND);
    // A param that is not an id is the client's mistake, not a 500.
    assert_eq!(
        get("/api/products/tea").await.status,
        StatusCode::BAD_REQUEST
    );

    // revalidate_path with the public path reaches the entry.
    app.db.0.lock().unwrap().insert(9, "teapot".into());
    assert_eq!(get("/api/products").await.header(STATUS), Some("HIT"));
    let report = app
        .cache
        .revalidator()
        .revalidate_path("/api/products")
        .await
        .unwrap();
    assert_eq!(report.entries(), Some(1), "{at}: {report:?}");
    assert!(!report.routes().is_empty(), "{at}: {report:?}");
    let after = get("/api/products/").await;
    assert_eq!(after.header(STATUS), Some("REVALIDATED"), "{at}");
    assert_eq!(names(&after), ["green tea", "kettle", "teapot"], "{at}");
    // The path under another prefix is not this table's entry.
    let report = app
        .cache
        .revalidator()
        .revalidate_path("/products")
        .await
        .unwrap();
    assert_eq!(report.entries(), Some(0), "{at}: {report:?}");

    // Dynamic routes with axum's extractors: query, a typed header, cookies.
    let found = get("/api/search?q=tea").await;
    assert_eq!(found.header(STATUS), None, "{at}");
    assert_eq!(names(&found), ["green tea", "teapot"], "{at}");
    let bad = get("/api/search").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{at}");
    let agent = send(
        proto,
        addr,
        "GET",
        "/api/whoami",
        &[("user-agent", "curl/8")],
        "",
    )
    .await;
    assert_eq!(
        (agent.status, &agent.body[..]),
        (StatusCode::OK, &b"curl/8"[..])
    );
    let cart = send(proto, addr, "GET", "/api/cart", &[("cookie", "cart=3")], "").await;
    assert_eq!(&cart.body[..], b"cart: 3", "{at}");

    // Compression and CORS from the app's layers, on cached answers too.
    let gz = send(
        proto,
        addr,
        "GET",
        "/api/products",
        &[
            ("accept-encoding", "gzip"),
            ("origin", "https://shop.example"),
        ],
        "",
    )
    .await;
    assert_eq!(gz.header(STATUS), Some("HIT"), "{at}");
    assert_eq!(gz.header("content-encoding"), Some("gzip"), "{at}");
    assert_eq!(gz.header("access-control-allow-origin"), Some("*"), "{at}");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&gz.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert!(text.contains("teapot"), "{at}: {text}");
    let preflight = send(
        proto,
        addr,
        "OPTIONS",
        "/api/products",
        &[
            ("origin", "https://shop.example"),
            ("access-control-request-method", "PUT"),
        ],
        "",
    )
    .await;
    assert_eq!(preflight.status, StatusCode::OK, "{at}");
    assert!(preflight.header("access-control-allow-methods").is_some());

    // Paths nothing matches, inside and outside the mount.
    assert_eq!(get("/api/nothing").await.status, StatusCode::NOT_FOUND);
    assert_eq!(get("/").await.body, "home");

    // The trace layer outside the app saw the matched routes, not raw URIs.
    let traced = app.traced.lock().unwrap().clone();
    let want = match mount {
        Mount::Relative => "/products/[id]",
        Mount::Nested | Mount::Fallback => "/api/products/[id]",
    };
    assert!(traced.iter().any(|r| r == want), "{at}: {traced:?}");
    assert!(
        !traced.iter().any(|r| r.contains("999")),
        "{at}: {traced:?}"
    );
}

#[tokio::test]
async fn products_api_relative_patterns_under_nest_service() {
    for proto in Proto::BOTH {
        products_api(proto, Mount::Relative).await;
    }
}

#[tokio::test]
async fn products_api_nested_patterns_under_nest_service() {
    for proto in Proto::BOTH {
        products_api(proto, Mount::Nested).await;
    }
}

#[tokio::test]
async fn products_api_as_the_apps_fallback() {
    for proto in Proto::BOTH {
        products_api(proto, Mount::Fallback).await;
    }
}

/// A lone route under `route_service` gets its params from axum's captures, on a cached
/// route too: no 500 at request time.
#[tokio::test]
async fn a_lone_route_under_route_service_gets_axums_captures() {
    let db = Db::default();
    db.0.lock().unwrap().insert(7, "tea".into());
    let route = RouteHandler::new()
        .get(show)
        .dynamic(Dynamic::ForceStatic)
        .with_state(db)
        .into_service();
    let app = Router::new().route_service("/p/{id}", route.clone());
    let server = support::serve(app).await;
    for proto in Proto::BOTH {
        let reply = send(proto, server.addr, "GET", "/p/7", &[], "").await;
        assert_eq!(reply.status, StatusCode::OK, "{proto:?}");
        assert_eq!(json::<Product>(&reply).name, "tea");
        let reply = send(proto, server.addr, "GET", "/p/8", &[], "").await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{proto:?}");
    }
    let reply = send(Proto::H1, server.addr, "GET", "/p/7", &[], "").await;
    assert_eq!(reply.header(STATUS), Some("HIT"));
    let report = route
        .revalidator()
        .unwrap()
        .revalidate_path("/p/7")
        .await
        .unwrap();
    assert_eq!(report.entries(), Some(1));
}

/// axum's own response types are responses of a route handler.
#[tokio::test]
async fn axum_responses_from_route_handlers() {
    use axum::response::{Html, NoContent, Redirect};
    let table = Routes::new()
        .route(
            "/html",
            RouteHandler::new().get(|| async { Html("<h1>hi</h1>") }),
        )
        .route(
            "/moved",
            RouteHandler::new().get(|| async { Redirect::permanent("/html") }),
        )
        .route("/none", RouteHandler::new().get(|| async { NoContent }))
        .route(
            "/headers",
            RouteHandler::new().get(|headers: HeaderMap| async move {
                Axum(([("x-seen", headers.len().to_string())], "ok"))
            }),
        )
        .build();
    let server = support::serve(Router::new().fallback_service(table)).await;
    for proto in Proto::BOTH {
        let html = send(proto, server.addr, "GET", "/html", &[], "").await;
        assert_eq!(
            html.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        let moved = send(proto, server.addr, "GET", "/moved", &[], "").await;
        assert_eq!(moved.status, StatusCode::PERMANENT_REDIRECT);
        assert_eq!(moved.header("location"), Some("/html"));
        let none = send(proto, server.addr, "GET", "/none", &[], "").await;
        assert_eq!(none.status, StatusCode::NO_CONTENT);
        let headers = send(proto, server.addr, "GET", "/headers", &[("a", "1")], "").await;
        assert_eq!(headers.status, StatusCode::OK);
        assert!(headers.header("x-seen").is_some());
    }
}
