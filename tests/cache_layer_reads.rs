//! A `CacheLayer` with `Dynamic::Auto` learns of reads through the `RouteContext` its fill
//! puts in the request extensions. A `RouteTable` inside the layer carries that recording
//! into the context it gives its routes and pages, so a read during the fill is seen and the
//! response made from the fill's empty request is not stored.

mod support;

use std::convert::Infallible;

use http::{Request, Response};
use hyper::body::Incoming;
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

/// The account page of the user a request's cookie names.
fn account_page(req: &NextRequest) -> String {
    let user = req.cookies().value("user").unwrap_or("anonymous");
    format!("account page of {user}")
}

/// Serves `svc` under an `Auto` cache layer; alice (HTTP/1.1) and then bob (HTTP/2) each get
/// their own page, never the one the fill made from its empty request.
async fn each_client_gets_its_own_page<S>(svc: S)
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let layered = auto_layer().layer(svc);
    let server = serve(tower::util::MapRequest::new(
        layered,
        |r: Request<Incoming>| r.map(Body::new),
    ))
    .await;
    let mut pages = Vec::new();
    for (proto, cookie) in [(Proto::H1, "user=alice"), (Proto::H2, "user=bob")] {
        let reply = send(
            proto,
            server.addr,
            "GET",
            "/account",
            &[("cookie", cookie)],
            "",
        )
        .await;
        assert_eq!(reply.status, 200);
        pages.push((
            String::from_utf8(reply.body.to_vec()).unwrap(),
            reply.header("x-route-cache").map(str::to_owned),
        ));
    }
    assert_eq!(
        (pages[0].0.as_str(), pages[1].0.as_str()),
        ("account page of alice", "account page of bob"),
        "answers and their x-route-cache: {pages:?}"
    );
}

/// The same page as a tower service, for a page registration and for the control.
fn page_service() -> impl tower::Service<
    Request<Body>,
    Response = Response<Body>,
    Error = Infallible,
    Future = impl Send + 'static,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(|req: Request<Body>| async move {
        let page = account_page(&NextRequest::new(req));
        Ok::<_, Infallible>(Response::new(Body::from(page)))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_of_a_table_under_an_auto_layer_records_its_reads() {
    let route = RouteHandler::new().get(|req: NextRequest| async move { account_page(&req) });
    each_client_gets_its_own_page(Routes::new().route("/account", route).build()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_a_table_under_an_auto_layer_records_its_reads() {
    each_client_gets_its_own_page(Routes::new().page("/account", page_service()).build()).await;
}

/// Control: the same page straight under the layer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_a_plain_service_under_an_auto_layer() {
    each_client_gets_its_own_page(page_service()).await;
}
