//! On an `Auto` route the fill checks what the handler read after the body is read, too: a
//! body that reads request data while it streams (a `NextRequest` moved into the body
//! stream) keeps the response out of the cache and makes the route dynamic.

mod support;

use std::convert::Infallible;

use bytes::Bytes;
use route_handlers::{Body, RouteHandler, Routes, cache::Cache, request::NextRequest};
use support::{Proto, send, serve};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_made_while_the_body_streams_is_seen() {
    let table = Routes::new()
        .cache(&Cache::new())
        .route(
            "/account",
            RouteHandler::new()
                .get(|req: NextRequest| async move {
                    Body::from_stream(futures::stream::once(async move {
                        let user = req
                            .header("x-user")
                            .map(|v| v.to_str().unwrap().to_owned())
                            .unwrap_or_else(|| "nobody".into());
                        Ok::<_, Infallible>(Bytes::from(format!("account page of {user}")))
                    }))
                })
                .revalidate(60),
        )
        .build();
    let server = serve(table).await;
    let alice = send(
        Proto::H1,
        server.addr,
        "GET",
        "/account",
        &[("x-user", "alice")],
        "",
    )
    .await;
    let bob = send(
        Proto::H1,
        server.addr,
        "GET",
        "/account",
        &[("x-user", "bob")],
        "",
    )
    .await;
    let text = |b: &Bytes| String::from_utf8(b.to_vec()).unwrap();
    assert_eq!(
        (text(&alice.body), text(&bob.body)),
        (
            "account page of alice".to_owned(),
            "account page of bob".to_owned()
        ),
        "x-route-cache {:?} / {:?}",
        alice.header("x-route-cache"),
        bob.header("x-route-cache"),
    );
}
