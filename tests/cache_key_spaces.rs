//! Each route and each `CacheLayer` has a key space of its own. Inside axum
//! nested routers the path a layer or table is handed has its prefix stripped, so an admin
//! and a public router with a route of one name see one path; with the global cache they
//! used to share an entry (the public route answered the admin's page). They never do now.

use http::Request;
use http_body_util::BodyExt;
use route_handlers::cache::{CacheConfig, CacheLayer, Dynamic};
use tower::ServiceExt;

async fn get(app: &axum::Router, path: &str) -> (String, String) {
    let res = app
        .clone()
        .oneshot(Request::get(path).body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    let cache = res
        .headers()
        .get("x-route-cache")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (String::from_utf8(body.to_vec()).unwrap(), cache)
}

#[tokio::test]
async fn two_nested_routers_never_share_an_entry() {
    let layer = || {
        CacheLayer::new(
            CacheConfig::new()
                .dynamic(Dynamic::ForceStatic)
                .revalidate(60),
        )
    };
    let admin = axum::Router::new().route(
        "/stats",
        axum::routing::get(|| async { "admin: revenue 1,234,567" }).layer(layer()),
    );
    let public = axum::Router::new().route(
        "/stats",
        axum::routing::get(|| async { "public: 42 visitors" }).layer(layer()),
    );
    let app = axum::Router::new()
        .nest("/review-nest-admin", admin)
        .nest("/review-nest-public", public);

    let a = get(&app, "/review-nest-admin/stats").await;
    let p = get(&app, "/review-nest-public/stats").await;
    assert_eq!(
        p.0, "public: 42 visitors",
        "the public route was answered {p:?} after the admin route answered {a:?}"
    );
}

/// The same with two route tables (their routes on `Cache::global()`, the default) mounted
/// under two prefixes: the table sees the stripped path, and the key has nothing of the
/// route it belongs to.
#[tokio::test]
async fn two_nested_route_tables_never_share_an_entry() {
    use route_handlers::{RouteHandler, Routes};
    let admin = Routes::new()
        .route(
            "/review-tables/stats",
            RouteHandler::new()
                .get(|| async { "admin: revenue 1,234,567" })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let public = Routes::new()
        .route(
            "/review-tables/stats",
            RouteHandler::new()
                .get(|| async { "public: 42 visitors" })
                .dynamic(Dynamic::ForceStatic),
        )
        .build();
    let app = axum::Router::new()
        .nest_service("/admin", admin)
        .nest_service("/public", public);
    let a = get(&app, "/admin/review-tables/stats").await;
    let p = get(&app, "/public/review-tables/stats").await;
    assert_eq!(
        p.0, "public: 42 visitors",
        "the public table was answered {p:?} after the admin table answered {a:?}"
    );
}
