//! A `CacheLayer` with `Dynamic::Auto` learns of reads through the `RouteContext` its fill
//! puts in the request extensions. A `RouteTable` inside the layer carries that recording
//! into the context it gives its routes and pages, so a read during the fill is seen and the
//! response made from the fill's empty request is not stored.

mod support;

use http::{Request, Response};
use route_handlers::{
    Body, RouteHandler, Routes,
    cache::{Cache, CacheConfig, CacheLayer},
    request::NextRequest,
};
use support::{Proto, send, serve};
use tower::Layer;

fn auto_layer() -> CacheLayer {
    CacheLayer::new(CacheConfig::new().revalidate(60)).cache(&Cache::new())
}

/// Turns hyper's body into the crate's, for a layer whose requests must be `Default`.
type IntoBody = fn(Request<hyper::body::Incoming>) -> Request<Body>;

fn incoming<S>(svc: S) -> tower::util::MapRequest<S, IntoBody> {
    tower::util::MapRequest::new(svc, |r: Request<hyper::body::Incoming>| r.map(Body::new))
}

fn text(b: &bytes::Bytes) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_of_a_table_under_an_auto_layer_records_its_reads() {
    let table = Routes::new()
        .route(
            "/account",
            RouteHandler::new().get(|req: NextRequest| async move {
                let user = req
                    .cookies()
                    .value("user")
                    .unwrap_or("anonymous")
                    .to_owned();
                format!("account page of {user}")
            }),
        )
        .build();
    let server = serve(incoming(auto_layer().layer(table))).await;
    let alice = send(
        Proto::H1,
        server.addr,
        "GET",
        "/account",
        &[("cookie", "user=alice")],
        "",
    )
    .await;
    let bob = send(
        Proto::H2,
        server.addr,
        "GET",
        "/account",
        &[("cookie", "user=bob")],
        "",
    )
    .await;
    assert_eq!(
        (text(&alice.body), text(&bob.body)),
        ("account page of alice", "account page of bob"),
        "alice {:?} / bob {:?} (x-route-cache {:?} / {:?})",
        alice.body,
        bob.body,
        alice.header("x-route-cache"),
        bob.header("x-route-cache"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_a_table_under_an_auto_layer_records_its_reads() {
    let page = tower::service_fn(|req: Request<Body>| async move {
        let req = NextRequest::new(req);
        let user = req
            .cookies()
            .value("user")
            .unwrap_or("anonymous")
            .to_owned();
        Ok::<_, std::convert::Infallible>(Response::new(Body::from(format!(
            "account page of {user}"
        ))))
    });
    let table = Routes::new().page("/account", page).build();
    let server = serve(incoming(auto_layer().layer(table))).await;
    let alice = send(
        Proto::H1,
        server.addr,
        "GET",
        "/account",
        &[("cookie", "user=alice")],
        "",
    )
    .await;
    let bob = send(
        Proto::H2,
        server.addr,
        "GET",
        "/account",
        &[("cookie", "user=bob")],
        "",
    )
    .await;
    assert_eq!(
        (text(&alice.body), text(&bob.body)),
        ("account page of alice", "account page of bob"),
        "alice {:?} / bob {:?} (x-route-cache {:?} / {:?})",
        alice.body,
        bob.body,
        alice.header("x-route-cache"),
        bob.header("x-route-cache"),
    );
}

/// Control: the same page straight under the layer works (its reads are seen).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_a_plain_service_under_an_auto_layer() {
    let page = tower::service_fn(|req: Request<Body>| async move {
        let req = NextRequest::new(req);
        let user = req
            .cookies()
            .value("user")
            .unwrap_or("anonymous")
            .to_owned();
        Ok::<_, std::convert::Infallible>(Response::new(Body::from(format!(
            "account page of {user}"
        ))))
    });
    let svc =
        tower::util::MapRequestLayer::new(|r: Request<hyper::body::Incoming>| r.map(Body::new))
            .layer(auto_layer().layer(page));
    let server = serve(svc).await;
    let alice = send(
        Proto::H1,
        server.addr,
        "GET",
        "/account",
        &[("cookie", "user=alice")],
        "",
    )
    .await;
    let bob = send(
        Proto::H2,
        server.addr,
        "GET",
        "/account",
        &[("cookie", "user=bob")],
        "",
    )
    .await;
    assert_eq!(
        (text(&alice.body), text(&bob.body)),
        ("account page of alice", "account page of bob")
    );
}
