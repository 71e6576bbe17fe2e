//! Tables put together (`merge`, `nest`), per-route layers, the rejection hook and the
//! matched-route extension, over a real hyper server (HTTP/1.1 and HTTP/2) and inside an
//! axum app.

// The token check answers with a whole response, as `ValidateRequestHeaderLayer` wants.
#![allow(clippy::result_large_err)]

mod support;

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use http::{HeaderValue, Response, StatusCode};
use route_handlers::{
    Body, RouteHandler, RouteTable, Routes,
    cache::Dynamic,
    request::{Query, RejectionInfo},
    response::json,
    routes::{ConflictKind, MatchedRoute, Path},
};
use support::{Proto, send};
use tower_http::validate_request::ValidateRequestHeaderLayer;

#[derive(serde::Deserialize)]
struct Page {
    page: u32,
}

/// A table of three parts: products (cached, behind an admin token for writes is not the
/// point here: the whole `/api/admin` part is behind a token), merged and nested.
fn table(runs: &Arc<AtomicUsize>) -> RouteTable {
    let counted = runs.clone();
    let admin = Routes::new()
        .route(
            "/report",
            RouteHandler::new()
                .get(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { "revenue: 1,234,567" }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .route_layer(ValidateRequestHeaderLayer::custom(
            |req: &mut http::Request<Body>| match req.headers().get("authorization") {
                Some(value) if value == "Bearer admin-token" => Ok(()),
                _ => Err(Response::builder().status(401).body(Body::empty()).unwrap()),
            },
        ));
    let products = Routes::new()
        .route(
            "/products/[id]",
            RouteHandler::new().get(|Path(id): Path<u32>| async move { format!("product {id}") }),
        )
        .route(
            "/products",
            RouteHandler::new()
                .get(|Query(p): Query<Page>| async move { format!("page {}", p.page) }),
        );
    let api = Routes::new()
        .nest("/admin", admin)
        .merge(products)
        .rejection(|info: &RejectionInfo| {
            let error = serde_json::json!({ "code": info.kind().as_str(), "field": info.path() });
            (info.status(), json(serde_json::json!({ "error": error })))
        });
    Routes::new()
        .nest("/api", api)
        .route("/", RouteHandler::new().get(|| async { "home" }))
        .matched_route(true)
        .build()
}

/// The matched route as a response header, as an outer layer (trace, metrics) reads it.
fn tell_route(mut res: Response<Body>) -> Response<Body> {
    let route = res
        .extensions()
        .get::<MatchedRoute>()
        .map(|m| format!("{} {}", m.pattern(), m.url()));
    if let Some(route) = route {
        res.headers_mut()
            .insert("x-route", HeaderValue::from_str(&route).unwrap());
    }
    res
}

async fn check(addr: std::net::SocketAddr, runs: &AtomicUsize) {
    for proto in Proto::BOTH {
        let at = format!("{proto:?}");
        let get = |path: &'static str, headers: &'static [(&'static str, &'static str)]| {
            send(proto, addr, "GET", path, headers, "")
        };
        let bearer = &[("authorization", "Bearer admin-token")];

        // Nested twice, behind the layer: no token, no answer, not even from the cache.
        let denied = get("/api/admin/report", &[]).await;
        assert_eq!(denied.status, StatusCode::UNAUTHORIZED, "{at}");
        let before = runs.load(Ordering::SeqCst);
        let first = get("/api/admin/report", bearer).await;
        assert_eq!(first.status, StatusCode::OK, "{at}");
        let hit = get("/api/admin/report", bearer).await;
        assert_eq!(hit.header("x-route-cache"), Some("HIT"), "{at}");
        assert!(runs.load(Ordering::SeqCst) <= before + 1, "{at}");
        let denied = get("/api/admin/report", &[]).await;
        assert_eq!(
            denied.status,
            StatusCode::UNAUTHORIZED,
            "{at}: a hit is guarded too"
        );
        assert!(denied.header("x-route-cache").is_none(), "{at}");
        assert_eq!(
            denied.header("x-route"),
            Some("/api/admin/report /api/admin/report"),
            "{at}"
        );

        // Merged, nested: params, and the rejection hook's JSON.
        let product = get("/api/products/7", &[]).await;
        assert_eq!(&product.body[..], b"product 7", "{at}");
        assert_eq!(
            product.header("x-route"),
            Some("/api/products/[id] /api/products/[id]")
        );
        let bad = get("/api/products/seven", &[]).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{at}");
        assert_eq!(bad.header("content-type"), Some("application/json"), "{at}");
        assert_eq!(
            &bad.body[..],
            br#"{"error":{"code":"invalid_path_params","field":"id"}}"#,
            "{at}"
        );
        let bad = get("/api/products?page=x", &[]).await;
        assert_eq!(
            &bad.body[..],
            br#"{"error":{"code":"invalid_query","field":"page"}}"#,
            "{at}"
        );
        let ok = get("/api/products?page=2", &[]).await;
        assert_eq!(&ok.body[..], b"page 2", "{at}");

        // Outside the nested parts: no hook, no matched route for a 404.
        let home = get("/", &[]).await;
        assert_eq!(home.header("x-route"), Some("/ /"), "{at}");
        let missing = get("/api/nothing", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND, "{at}");
        assert!(missing.header("x-route").is_none(), "{at}");
    }
}

#[tokio::test]
async fn composed_tables_over_hyper() {
    let runs = Arc::new(AtomicUsize::new(0));
    let service = tower::ServiceBuilder::new()
        .map_response(tell_route)
        .service(table(&runs));
    let server = support::serve(service).await;
    check(server.addr, &runs).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn composed_tables_inside_axum() {
    let runs = Arc::new(AtomicUsize::new(0));
    let app =
        axum::Router::new()
            .fallback_service(table(&runs))
            .layer(axum::middleware::map_response(
                |res: Response<axum::body::Body>| async move {
                    let (parts, body) = res.into_parts();
                    let res = tell_route(Response::from_parts(parts, Body::new(body)));
                    res.map(axum::body::Body::new)
                },
            ));
    let server = support::serve(app).await;
    check(server.addr, &runs).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

#[test]
fn disagreements_between_composed_tables_are_conflicts() {
    let with_not_found = || {
        Routes::new()
            .route("/x", RouteHandler::new().get(|| async { "x" }))
            .not_found(tower::service_fn(|_req: http::Request<Body>| async {
                Ok::<_, std::convert::Infallible>(Response::new(Body::from("gone")))
            }))
    };
    let err = Routes::new()
        .nest("/api", with_not_found())
        .try_build()
        .unwrap_err();
    assert_eq!(err.len(), 1, "{err}");
    assert_eq!(err.as_slice()[0].kind(), ConflictKind::Composition);
    assert_eq!(
        err.as_slice()[0].message(),
        "the table nested at /api has a not-found service, which would never answer"
    );

    let a = route_handlers::cache::Cache::new();
    let b = route_handlers::cache::Cache::new();
    let err = with_not_found()
        .cache(&a)
        .merge(with_not_found().cache(&b))
        .try_build()
        .unwrap_err();
    let messages: Vec<&str> = err.iter().map(|c| c.message()).collect();
    for want in [
        "Conflicting routes at /x",
        "the merged table has a cache of its own, and this table another",
        "both merged tables have a not-found service",
    ] {
        assert!(
            messages.iter().any(|m| m.starts_with(want)),
            "{want}: {err}"
        );
    }
    assert_eq!(err.len(), 3, "{err}");
}

#[tokio::test]
async fn the_matched_route_extension_is_on_when_asked_for() {
    use tower::ServiceExt;
    let routes = || Routes::new().route("/x/[id]", RouteHandler::new().get(|| async { "x" }));
    let get = || http::Request::get("/x/1").body(Body::empty()).unwrap();
    let on = routes()
        .matched_route(true)
        .build()
        .oneshot(get())
        .await
        .unwrap();
    let matched = on.extensions().get::<MatchedRoute>().expect("asked for");
    assert_eq!((matched.pattern(), matched.url()), ("/x/[id]", "/x/[id]"));
    let off = routes().build().oneshot(get()).await.unwrap();
    assert_eq!(off.status(), StatusCode::OK);
    assert!(
        off.extensions().get::<MatchedRoute>().is_none(),
        "off by default"
    );
}
