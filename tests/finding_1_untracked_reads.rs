//! Finding 1: reads the cache does not see.
//!
//! On an `Auto` route (`revalidate(60)`, no `dynamic`), a `GET` handler that reads request
//! data through an API the read tracker does not cover had its response stored under the
//! key every client shares. Expected: any read of request data, through any API, is seen by
//! the cache during a fill; the result is discarded, the route becomes dynamic, and each
//! client is answered with its own data.
//!
//! Each test: two clients, alice then bob, with different data, over a real hyper server;
//! alice gets alice's page, bob gets bob's and never alice's, and bob's answer is no `HIT`.

mod support;

use http::{HeaderMap, Request, Uri, Version};
use hyper::body::Incoming;
use route_handlers::{
    Body, RouteHandler, RouteTable, Routes,
    cache::Cache,
    request::{Cookies, NextRequest, Query},
    response::Json,
};
use support::{Proto, Reply, send, serve};
use tower::Layer;

const STATUS: &str = "x-route-cache";

/// The signed-in user, as an authentication middleware puts it in the request extensions.
#[derive(Clone, Debug)]
struct User(String);

/// A table with one `Auto` route at `/account`, cached for 60 s, on a cache of its own.
fn table(route: RouteHandler) -> RouteTable {
    Routes::new()
        .cache(&Cache::new())
        .route("/account", route.revalidate(60))
        .build()
}

/// One client's request.
struct Client<'a> {
    proto: Proto,
    path: &'a str,
    headers: &'a [(&'a str, &'a str)],
    body: &'a str,
}

impl<'a> Client<'a> {
    fn h1(path: &'a str, headers: &'a [(&'a str, &'a str)]) -> Self {
        Self {
            proto: Proto::H1,
            path,
            headers,
            body: "",
        }
    }
}

/// Sends alice's request, then bob's, to `service` on a real server.
async fn alice_then_bob<S>(service: S, alice: Client<'_>, bob: Client<'_>) -> (Reply, Reply)
where
    S: tower::Service<Request<Incoming>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let server = serve(service).await;
    let a = send(
        alice.proto,
        server.addr,
        "GET",
        alice.path,
        alice.headers,
        alice.body.to_owned(),
    )
    .await;
    let b = send(
        bob.proto,
        server.addr,
        "GET",
        bob.path,
        bob.headers,
        bob.body.to_owned(),
    )
    .await;
    (a, b)
}

/// alice's request, then bob's, to `route` in a table: each gets their own page.
async fn own_pages(route: RouteHandler, alice: Client<'_>, bob: Client<'_>) {
    let (a, b) = alice_then_bob(table(route), alice, bob).await;
    assert_own_pages(&a, "alice", &b, "bob");
}

fn text(reply: &Reply) -> &str {
    std::str::from_utf8(&reply.body).expect("utf-8 body")
}

/// Each client got its own page: `a` (alice's marker) in alice's and never `b`, `b` (bob's)
/// in bob's and never `a`, and bob's was not served from alice's entry.
fn assert_own_pages(alice: &Reply, a: &str, bob: &Reply, b: &str) {
    assert_eq!(alice.status, 200, "alice: {alice:?}");
    assert_eq!(bob.status, 200, "bob: {bob:?}");
    assert!(
        text(bob).contains(b) && !text(bob).contains(a),
        "bob was answered {:?} (x-route-cache {:?}); expected his own page ({b})",
        text(bob),
        bob.header(STATUS)
    );
    assert_ne!(
        bob.header(STATUS),
        Some("HIT"),
        "bob was answered from the shared entry"
    );
    assert!(
        text(alice).contains(a) && !text(alice).contains(b),
        "alice was answered {:?}; expected her own page ({a})",
        text(alice)
    );
}

// ---- NextRequest accessors -------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_headers() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let user = req.headers()["x-user"].to_str().unwrap().to_owned();
        format!("account page of {user}")
    });
    own_pages(
        route,
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_header() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let user = req.header("x-user").map(|v| v.to_str().unwrap().to_owned());
        format!("account page of {}", user.unwrap_or_default())
    });
    own_pages(
        route,
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_cookies() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let user = req.cookies().value("user").unwrap_or_default().to_owned();
        format!("account page of {user}")
    });
    own_pages(
        route,
        Client::h1("/account", &[("cookie", "user=alice")]),
        Client::h1("/account", &[("cookie", "user=bob")]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_search_params() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let user = req
            .search_params()
            .get("user")
            .unwrap_or_default()
            .into_owned();
        format!("account page of {user}")
    });
    own_pages(
        route,
        Client::h1("/account?user=alice", &[]),
        Client::h1("/account?user=bob", &[]),
    )
    .await;
}

#[derive(serde::Deserialize)]
struct Who {
    user: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_query() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let who: Who = req.query().unwrap();
        format!("account page of {}", who.user)
    });
    own_pages(
        route,
        Client::h1("/account?user=alice", &[]),
        Client::h1("/account?user=bob", &[]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_uri() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let query = req.uri().query().unwrap_or_default().to_owned();
        format!("account page of {query}")
    });
    own_pages(
        route,
        Client::h1("/account?alice", &[]),
        Client::h1("/account?bob", &[]),
    )
    .await;
}

/// The user comes from a middleware on the server side (a `map_request` around the table
/// that authenticates the `x-user` header and inserts a [`User`] extension).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_extensions() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let user = req.extensions().get::<User>().map(|u| u.0.clone());
        format!(
            "account page of {}",
            user.unwrap_or_else(|| "nobody".into())
        )
    });
    let authenticate = tower::util::MapRequestLayer::new(|mut req: Request<Incoming>| {
        let user = req
            .headers()
            .get("x-user")
            .map(|v| User(v.to_str().unwrap().to_owned()));
        if let Some(user) = user {
            req.extensions_mut().insert(user);
        }
        req
    });
    let (a, b) = alice_then_bob(
        authenticate.layer(table(route)),
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
    assert_own_pages(&a, "alice", &b, "bob");
}

/// Alice speaks HTTP/1.1, bob HTTP/2; the page shows the version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_version() {
    let route = RouteHandler::new()
        .get(|req: NextRequest| async move { format!("served over {:?}", req.version()) });
    let (a, b) = alice_then_bob(
        table(route),
        Client::h1("/account", &[]),
        Client {
            proto: Proto::H2,
            ..Client::h1("/account", &[])
        },
    )
    .await;
    assert_own_pages(&a, "HTTP/1.1", &b, "HTTP/2.0");
}

/// A `GET` with a body, read with `text()`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_body_text() {
    let route = RouteHandler::new().get(|mut req: NextRequest| async move {
        let user = req.text().await.unwrap_or_default();
        format!("account page of {user}")
    });
    let (a, b) = alice_then_bob(
        table(route),
        Client {
            body: "alice",
            ..Client::h1("/account", &[])
        },
        Client {
            body: "bob",
            ..Client::h1("/account", &[])
        },
    )
    .await;
    assert_own_pages(&a, "alice", &b, "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_into_inner() {
    let route = RouteHandler::new().get(|req: NextRequest| async move {
        let inner = req.into_inner();
        let user = inner
            .headers()
            .get("x-user")
            .map(|v| v.to_str().unwrap().to_owned());
        format!("account page of {}", user.unwrap_or_default())
    });
    own_pages(
        route,
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
}

/// The same read through the route's service served directly (no table).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_request_into_inner_on_the_route_service() {
    let route = RouteHandler::new()
        .get(|req: NextRequest| async move {
            let inner = req.into_inner();
            let user = inner
                .headers()
                .get("x-user")
                .map(|v| v.to_str().unwrap().to_owned());
            format!("account page of {}", user.unwrap_or_default())
        })
        .path("/account")
        .revalidate(60)
        .cache(&Cache::new())
        .into_service();
    let (a, b) = alice_then_bob(
        route,
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
    assert_own_pages(&a, "alice", &b, "bob");
}

// ---- extractor arguments ---------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn query_extractor() {
    let route = RouteHandler::new()
        .get(|Query(who): Query<Who>| async move { format!("account page of {}", who.user) });
    own_pages(
        route,
        Client::h1("/account?user=alice", &[]),
        Client::h1("/account?user=bob", &[]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookies_extractor() {
    let route = RouteHandler::new().get(|cookies: Cookies| async move {
        format!(
            "account page of {}",
            cookies.value("user").unwrap_or_default()
        )
    });
    own_pages(
        route,
        Client::h1("/account", &[("cookie", "user=alice")]),
        Client::h1("/account", &[("cookie", "user=bob")]),
    )
    .await;
}

/// A `GET` with a JSON body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_extractor() {
    let route = RouteHandler::new()
        .get(|Json(who): Json<Who>| async move { format!("account page of {}", who.user) });
    let json = [("content-type", "application/json")];
    let (a, b) = alice_then_bob(
        table(route),
        Client {
            body: r#"{"user":"alice"}"#,
            ..Client::h1("/account", &json)
        },
        Client {
            body: r#"{"user":"bob"}"#,
            ..Client::h1("/account", &json)
        },
    )
    .await;
    assert_own_pages(&a, "alice", &b, "bob");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_map_argument() {
    let route = RouteHandler::new().get(|headers: HeaderMap| async move {
        format!(
            "account page of {}",
            headers["x-user"].to_str().unwrap_or_default()
        )
    });
    own_pages(
        route,
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_argument() {
    let route = RouteHandler::new().get(|req: Request<Body>| async move {
        format!(
            "account page of {}",
            req.headers()["x-user"].to_str().unwrap_or_default()
        )
    });
    own_pages(
        route,
        Client::h1("/account", &[("x-user", "alice")]),
        Client::h1("/account", &[("x-user", "bob")]),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uri_argument() {
    let route = RouteHandler::new().get(|uri: Uri| async move {
        format!("account page of {}", uri.query().unwrap_or_default())
    });
    own_pages(
        route,
        Client::h1("/account?alice", &[]),
        Client::h1("/account?bob", &[]),
    )
    .await;
}

/// Not in the brief's list, same family: `http::Version` as an argument declares no read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_argument() {
    let route = RouteHandler::new()
        .get(|version: Version| async move { format!("served over {version:?}") });
    let (a, b) = alice_then_bob(
        table(route),
        Client::h1("/account", &[]),
        Client {
            proto: Proto::H2,
            ..Client::h1("/account", &[])
        },
    )
    .await;
    assert_own_pages(&a, "HTTP/1.1", &b, "HTTP/2.0");
}
