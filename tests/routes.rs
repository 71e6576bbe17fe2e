//! The route table in process: matching, parameters, conflicts and the summary.

use std::{
    convert::Infallible,
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use route_handlers::{
    Body, RouteContext, RouteHandler, RouteTable, Routes,
    context::ParamValue,
    response::Json,
    routes::{ConflictKind, Path, RegistrationKind},
};
use serde::Deserialize;
use tower::{ServiceExt, service_fn};

fn get_only() -> RouteHandler {
    RouteHandler::new().get(|| async { "ok" })
}

async fn send(table: &RouteTable, method: &str, uri: &str) -> (StatusCode, HeaderMap, Bytes) {
    let req = Request::builder()
        .method(Method::from_bytes(method.as_bytes()).unwrap())
        .uri(uri)
        .body(Body::empty())
        .unwrap();
    let res = table.clone().oneshot(req).await.unwrap();
    let (parts, body) = res.into_parts();
    (
        parts.status,
        parts.headers,
        body.collect().await.unwrap().to_bytes(),
    )
}

const TABLE: &[&str] = &[
    "/",
    "/about",
    "/robots.txt",
    "/api/hello.json",
    "/api/users/[id]",
    "/api/users/[id]/posts/[post]",
    "/api/users/me",
    "/p2/[id]/abc",
    "/p2/[...rest]",
    "/blog/[...slug]",
    "/docs/[[...slug]]",
    "/(marketing)/pricing",
    "/%5Finternal",
    "/files/[name]",
];

fn table() -> RouteTable {
    TABLE
        .iter()
        .fold(Routes::new(), |routes, p| routes.route(p, get_only()))
        .build()
}

fn one(s: &str) -> ParamValue {
    ParamValue::One(s.into())
}

fn many(v: &[&str]) -> ParamValue {
    ParamValue::Many(v.iter().map(|s| s.to_string()).collect())
}

enum Expect {
    Route(&'static str, Vec<(&'static str, ParamValue)>),
    NotFound,
    BadEscape,
}

#[test]
fn matching_table() {
    use Expect::*;
    let t = table();
    let cases: Vec<(&str, Expect)> = vec![
        ("/", Route("/", vec![])),
        ("//", Route("/", vec![])),
        ("/about", Route("/about", vec![])),
        ("/about/", Route("/about", vec![])),
        ("/ABOUT", NotFound),
        ("/about//", NotFound),
        ("/robots.txt", Route("/robots.txt", vec![])),
        ("/api/hello.json", Route("/api/hello.json", vec![])),
        ("/api/users/me", Route("/api/users/me", vec![])),
        ("/api/users/%6De", Route("/api/users/me", vec![])),
        (
            "/api/users/42",
            Route("/api/users/[id]", vec![("id", one("42"))]),
        ),
        (
            "/api/users/42/",
            Route("/api/users/[id]", vec![("id", one("42"))]),
        ),
        (
            "/api/users/a%2Fb",
            Route("/api/users/[id]", vec![("id", one("a/b"))]),
        ),
        (
            "/api/users/%E2%82%AC",
            Route("/api/users/[id]", vec![("id", one("€"))]),
        ),
        (
            "/api/users/a+b",
            Route("/api/users/[id]", vec![("id", one("a+b"))]),
        ),
        (
            "/api/users/7/posts/x",
            Route(
                "/api/users/[id]/posts/[post]",
                vec![("id", one("7")), ("post", one("x"))],
            ),
        ),
        ("/api/users/7/posts", NotFound),
        ("/api/users", NotFound),
        ("/api//users", NotFound),
        ("/p2/x/abc", Route("/p2/[id]/abc", vec![("id", one("x"))])),
        (
            "/p2/x/def",
            Route("/p2/[...rest]", vec![("rest", many(&["x", "def"]))]),
        ),
        (
            "/p2/x",
            Route("/p2/[...rest]", vec![("rest", many(&["x"]))]),
        ),
        ("/p2/x//y", NotFound),
        ("/p2", NotFound),
        ("/blog", NotFound),
        ("/blog/", NotFound),
        (
            "/blog/a",
            Route("/blog/[...slug]", vec![("slug", many(&["a"]))]),
        ),
        (
            "/blog/a/b/",
            Route("/blog/[...slug]", vec![("slug", many(&["a", "b"]))]),
        ),
        ("/docs", Route("/docs/[[...slug]]", vec![])),
        ("/docs/", Route("/docs/[[...slug]]", vec![])),
        (
            "/docs/a%2Fb/c",
            Route("/docs/[[...slug]]", vec![("slug", many(&["a/b", "c"]))]),
        ),
        ("/pricing", Route("/(marketing)/pricing", vec![])),
        ("/(marketing)/pricing", NotFound),
        ("/_internal", Route("/%5Finternal", vec![])),
        ("/%5Finternal", Route("/%5Finternal", vec![])),
        ("/%5finternal", Route("/%5Finternal", vec![])),
        (
            "/files/.env",
            Route("/files/[name]", vec![("name", one(".env"))]),
        ),
        ("/files/..", BadEscape),
        ("/files/.", BadEscape),
        ("/files/%2E%2e", BadEscape),
        ("/blog/a/../b", BadEscape),
        ("/files/a%00", BadEscape),
        (
            "/files/...",
            Route("/files/[name]", vec![("name", one("..."))]),
        ),
        ("/api/users/%zz", BadEscape),
        ("/api/users/%", BadEscape),
        ("/api/users/%FF", BadEscape),
        ("/nothing/here/%C3", BadEscape),
        ("*", NotFound),
    ];
    for (path, expect) in cases {
        let got = t.at(path);
        match expect {
            Route(pattern, params) => {
                let m = got.unwrap().unwrap_or_else(|| panic!("{path}: no match"));
                assert_eq!(m.pattern(), pattern, "{path}");
                let got: Vec<(&str, ParamValue)> =
                    m.params().iter().map(|(n, v)| (n, v.clone())).collect();
                let want: Vec<(&str, ParamValue)> = params;
                assert_eq!(got, want, "{path}");
                assert_eq!(m.kind(), RegistrationKind::Route);
                assert_eq!(m.route().unwrap().path(), Some(pattern), "{path}");
            }
            NotFound => assert!(matches!(got, Ok(None)), "{path}: {got:?}"),
            BadEscape => assert!(got.is_err(), "{path}"),
        }
    }
}

#[tokio::test]
async fn a_route_handler_gets_its_params() {
    async fn docs(_req: Request<Body>, ctx: RouteContext) -> Json<serde_json::Value> {
        Json(serde_json::json!({ "slug": ctx.catch_all("slug"), "n": ctx.params_raw().len() }))
    }
    async fn user(ctx: RouteContext) -> String {
        format!("user {}", ctx.param("id").unwrap())
    }
    let t = Routes::new()
        .route("/api/docs/[[...slug]]", RouteHandler::new().get(docs))
        .route("/api/users/[id]", RouteHandler::new().get(user))
        .build();
    let (s, h, b) = send(&t, "GET", "/api/docs/a/b%20c").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert_eq!(b, r#"{"n":1,"slug":["a","b c"]}"#);
    let (_, _, b) = send(&t, "GET", "/api/docs").await;
    assert_eq!(b, r#"{"n":0,"slug":null}"#);
    let (_, _, b) = send(&t, "GET", "/api/users/%E2%82%AC?x=1").await;
    assert_eq!(b, "user €");
}

#[derive(Debug, Deserialize)]
struct Post {
    user: u32,
    post: String,
}

#[tokio::test]
async fn typed_params_answer_400_when_a_value_does_not_parse() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = Routes::new()
        .route(
            "/users/[user]/posts/[post]",
            RouteHandler::new().get(move |Path(p): Path<Post>| {
                c.fetch_add(1, Ordering::SeqCst);
                async move { format!("{}:{}", p.user, p.post) }
            }),
        )
        .route(
            "/n/[n]",
            RouteHandler::new().get(|ctx: RouteContext| async move {
                match ctx.params::<(i8,)>() {
                    Ok((n,)) => (StatusCode::OK, n.to_string()),
                    Err(e) => (e.status(), e.to_string()),
                }
            }),
        )
        .build();
    let (s, _, b) = send(&t, "GET", "/users/7/posts/hello").await;
    assert_eq!((s, &b[..]), (StatusCode::OK, &b"7:hello"[..]));
    let (s, h, b) = send(&t, "GET", "/users/seven/posts/hello").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(
        b,
        "cannot parse path parameter \"user\" with value \"seven\" as u32"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (s, _, b) = send(&t, "GET", "/n/300").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(
        b,
        "cannot parse path parameter \"n\" with value \"300\" as i8"
    );
    let (_, _, b) = send(&t, "GET", "/n/-5").await;
    assert_eq!(b, "-5");
}

#[tokio::test]
async fn methods_not_found_and_bad_escapes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = Routes::new()
        .route(
            "/items/[id]",
            RouteHandler::new()
                .get(move || {
                    c.fetch_add(1, Ordering::SeqCst);
                    async { "item" }
                })
                .post(|| async { StatusCode::CREATED }),
        )
        .route(
            "/write-only",
            RouteHandler::new().delete(|| async { "gone" }),
        )
        .build();

    let (s, h, b) = send(&t, "PUT", "/items/1").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[header::ALLOW], "GET, HEAD, OPTIONS, POST");
    assert!(b.is_empty());
    let (s, h, _) = send(&t, "GET", "/write-only").await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(h[header::ALLOW], "DELETE, OPTIONS");
    let (s, h, b) = send(&t, "OPTIONS", "/items/1").await;
    assert_eq!((s, b.len()), (StatusCode::NO_CONTENT, 0));
    assert_eq!(h[header::ALLOW], "GET, HEAD, OPTIONS, POST");
    let (s, h, b) = send(&t, "HEAD", "/items/1/").await;
    assert_eq!((s, b.len()), (StatusCode::OK, 0));
    assert_eq!(h[header::CONTENT_LENGTH], "4");
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let (s, h, b) = send(&t, "GET", "/items").await;
    assert_eq!((s, b.len()), (StatusCode::NOT_FOUND, 0));
    assert!(h.is_empty());

    let (s, h, b) = send(&t, "GET", "/items/%E2%82").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert_eq!(b, "invalid percent-encoding in the request path");
    let (s, _, _) = send(&t, "GET", "/no/such/%zz").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn pages_and_a_custom_not_found() {
    let misses = Arc::new(AtomicUsize::new(0));
    let m = misses.clone();
    let page = service_fn(|req: Request<Body>| async move {
        let ctx = req.extensions().get::<RouteContext>().cloned().unwrap();
        let slug = ctx.param("slug").unwrap_or("-").to_owned();
        Ok::<_, Infallible>(Response::new(Body::from(format!("page {slug}"))))
    });
    let failing = service_fn(|_req: Request<Body>| async {
        Err::<Response<Body>, _>(StatusCode::SERVICE_UNAVAILABLE)
    });
    let t = Routes::new()
        .page("/blog/[slug]", page)
        .page("/down", failing)
        .route("/api/ping", get_only())
        .not_found(service_fn(move |req: Request<Body>| {
            m.fetch_add(1, Ordering::SeqCst);
            async move {
                Ok::<_, Infallible>(
                    Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(Body::from(format!("no {}", req.uri().path())))
                        .unwrap(),
                )
            }
        }))
        .build();
    let (s, _, b) = send(&t, "POST", "/blog/hello").await;
    assert_eq!((s, &b[..]), (StatusCode::OK, &b"page hello"[..]));
    let (s, _, _) = send(&t, "GET", "/down").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
    let (s, _, b) = send(&t, "GET", "/blog").await;
    assert_eq!((s, &b[..]), (StatusCode::NOT_FOUND, &b"no /blog"[..]));
    assert_eq!(misses.load(Ordering::SeqCst), 1);
    assert_eq!(
        t.at("/blog/x").unwrap().unwrap().kind(),
        RegistrationKind::Page
    );
}

/// Registrations `(kind, pattern)` and the exact messages the table reports for them.
type ConflictCase = (
    &'static [(RegistrationKind, &'static str)],
    &'static [&'static str],
);

#[test]
fn every_conflict_rule_with_its_exact_message() {
    use RegistrationKind::{Page as P, Route as R};
    let cases: &[ConflictCase] = &[
        (
            &[(R, "/conflict"), (P, "/conflict")],
            &[
                "Conflicting page and route at /conflict: page at /conflict/page and route at /conflict/route",
            ],
        ),
        (
            &[(P, "/(shop)/cart"), (R, "/(api)/cart/")],
            &[
                "Conflicting route and page at /cart: route at /(api)/cart/route and page at /(shop)/cart/page",
            ],
        ),
        (
            &[(R, "/(a)/x"), (R, "/(b)/x")],
            &["Conflicting routes at /x: route at /(b)/x/route and route at /(a)/x/route"],
        ),
        (
            &[(P, "/(a)/login"), (P, "/(b)/login")],
            &[
                "You cannot have two parallel pages that resolve to the same path. Please check \
                 /(a)/login/page and /(b)/login/page. Refer to the route group docs for more \
                 information: https://nextjs.org/docs/app/building-your-application/routing/route-groups",
            ],
        ),
        (
            &[(R, "/x"), (R, "/x")],
            &["Conflicting routes at /x: route at /x/route and route at /x/route"],
        ),
        (
            &[(R, "/u/[id]"), (R, "/(g)/u/[id]")],
            &[
                "Conflicting routes at /u/[id]: route at /(g)/u/[id]/route and route at /u/[id]/route",
            ],
        ),
        (
            &[(R, "/api/users/[id]"), (R, "/api/users/[slug]/posts")],
            &["You cannot use different slug names for the same dynamic path ('id' !== 'slug')."],
        ),
        (
            &[(R, "/a/[...x]"), (P, "/a/[...y]")],
            &["You cannot use different slug names for the same dynamic path ('x' !== 'y')."],
        ),
        (
            &[(R, "/a/[[...x]]"), (R, "/a/[[...y]]")],
            &["You cannot use different slug names for the same dynamic path ('x' !== 'y')."],
        ),
        (
            &[(R, "/[id]/x/[id]")],
            &["You cannot have the same slug name \"id\" repeat within a single dynamic path"],
        ),
        (
            &[(R, "/[id]/[...id]")],
            &["You cannot have the same slug name \"id\" repeat within a single dynamic path"],
        ),
        (
            &[(R, "/[helloworld]/[hello-world]")],
            &[
                "You cannot have the slug names \"helloworld\" and \"hello-world\" differ only by non-word symbols within a single dynamic path",
            ],
        ),
        (
            &[(R, "/[...slug]/x")],
            &["Catch-all must be the last part of the URL."],
        ),
        (
            &[(R, "/[[...slug]]/(g)/[id]")],
            &["Catch-all must be the last part of the URL."],
        ),
        (
            &[(R, "/one/[...one]"), (R, "/one/[[...one]]")],
            &[
                "You cannot use both an required and optional catch-all route at the same level (\"[...one]\" and \"[[...one]]\" ).",
            ],
        ),
        (
            &[(R, "/one/[[...one]]"), (R, "/one/[...one]")],
            &[
                "You cannot use both an optional and required catch-all route at the same level (\"[[...one]]\" and \"[...one]\").",
            ],
        ),
        (
            &[(R, "/sub"), (R, "/sub/[[...all]]")],
            &[
                "You cannot define a route with the same specificity as a optional catch-all route (\"/sub\" and \"/sub/[[...all]]\").",
            ],
        ),
        (
            &[(R, "/[[...all]]"), (P, "/")],
            &[
                "You cannot define a route with the same specificity as a optional catch-all route (\"/\" and \"/[[...all]]\").",
            ],
        ),
        (
            &[(R, "/blog/[[blog]]")],
            &["Optional route parameters are not yet supported (\"[[blog]]\")."],
        ),
        (
            &[(R, "/[[...id]")],
            &["Segment names may not start or end with extra brackets ('[...id')."],
        ),
        (
            &[(R, "/x/[id]]")],
            &["Segment names may not start or end with extra brackets ('id]')."],
        ),
        (
            &[(R, "/[....id]")],
            &["Segment names may not start with erroneous periods ('.id')."],
        ),
        (
            &[(R, "/[…slug]")],
            &["Detected a three-dot character ('…') at ('…slug'). Did you mean ('...')?"],
        ),
        (
            &[(R, "/api/_lib/x")],
            &["\"_lib\" is a private folder, which is never routable"],
        ),
        (
            &[(R, "/@modal/x")],
            &["parallel route slots are not supported (\"@modal\")"],
        ),
        (
            &[(R, "/a/[]")],
            &["segment names may not be empty (\"[]\")"],
        ),
        (
            &[(R, "api/x")],
            &["route patterns must start with \"/\" (\"api/x\")"],
        ),
        (
            &[(R, "/100%")],
            &["invalid percent-encoding in the folder name \"100%\""],
        ),
    ];
    for (registrations, messages) in cases {
        let routes =
            registrations
                .iter()
                .fold(Routes::new(), |routes, (kind, pattern)| match kind {
                    RegistrationKind::Route => routes.route(pattern, get_only()),
                    _ => routes.page(pattern, get_only().into_service()),
                });
        let err = routes.try_build().unwrap_err();
        let got: Vec<&str> = err.iter().map(|c| c.message()).collect();
        assert_eq!(got, *messages, "{registrations:?}");
        for conflict in &err {
            assert!(!conflict.hint().is_empty());
            let patterns: Vec<&str> = conflict
                .registrations()
                .iter()
                .map(|r| r.pattern())
                .collect();
            for p in &patterns {
                assert!(registrations.iter().any(|(_, r)| r == p), "{p}");
            }
        }
    }
}

#[test]
fn a_conflict_names_both_registrations_where_they_were_made() {
    let first = line!() + 2;
    let err = Routes::new()
        .route("/api/users/[id]", get_only())
        .page("/(app)/api/users/[id]", get_only().into_service())
        .try_build()
        .unwrap_err();
    assert_eq!(err.len(), 1);
    let conflict = &err.as_slice()[0];
    assert_eq!(conflict.kind(), ConflictKind::SameUrl);
    let [page, route] = conflict.registrations() else {
        panic!("two registrations expected");
    };
    assert_eq!(
        (page.kind(), page.pattern(), page.location().line()),
        (RegistrationKind::Page, "/(app)/api/users/[id]", first + 1)
    );
    assert_eq!(
        (route.kind(), route.pattern(), route.location().line()),
        (RegistrationKind::Route, "/api/users/[id]", first)
    );
    assert!(route.location().file().ends_with("routes.rs"));
    assert_eq!(
        err.to_string(),
        format!(
            "found 1 route conflict; the route table was not built\n\
             \n\
             1. Conflicting page and route at /api/users/[id]: page at /(app)/api/users/[id]/page and route at /api/users/[id]/route\n   \
             page \"/(app)/api/users/[id]\" registered at {}\n   \
             route \"/api/users/[id]\" registered at {}\n   \
             hint: a URL is served by a page or by a route handler, not both; move one of them to another path (route handlers often live under \"/api\")",
            page.location(),
            route.location()
        )
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let routes = || {
        Routes::new()
            .route("/api/users/[id]", get_only())
            .route("/api/users/[uid]/posts", get_only())
            .route("/api/_private/x", get_only())
            .route("/docs", get_only())
            .route("/docs/[[...slug]]", get_only())
            .page("/(site)/about", get_only().into_service())
            .route("/about", get_only())
            .route("/files/[...path]/raw", get_only())
            .route("/t/[[tag]]", get_only())
            .route("/fine/[id]", get_only())
    };
    let err = routes().try_build().unwrap_err();
    let kinds: Vec<ConflictKind> = err.iter().map(|c| c.kind()).collect();
    assert_eq!(
        kinds,
        [
            ConflictKind::PrivateFolder,
            ConflictKind::CatchAllNotLast,
            ConflictKind::OptionalParameter,
            ConflictKind::DifferentSlugNames,
            ConflictKind::SameUrl,
            ConflictKind::OptionalCatchAllSpecificity,
        ]
    );
    let text = err.to_string();
    assert!(text.starts_with("found 6 route conflicts; the route table was not built\n\n1. "));
    for (i, conflict) in err.iter().enumerate() {
        assert!(text.contains(&format!("{}. {}", i + 1, conflict.message())));
    }

    // `build` panics with the same text, at the caller.
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| routes().build())).unwrap_err();
    assert_eq!(panic.downcast_ref::<String>(), Some(&text));
}

#[test]
fn the_summary_lists_routes_methods_and_modes() {
    let t = Routes::new()
        .route(
            "/api/users/[id]",
            RouteHandler::new()
                .get(|| async { "" })
                .post(|| async { "" }),
        )
        .route("/api/docs/[[...slug]]", get_only())
        .route("/(meta)/robots.txt", get_only())
        .page("/", get_only().into_service())
        .build();
    assert_eq!(
        t.to_string(),
        "Route (app)                Methods\n\
         ┌ ƒ /                      any (page)\n\
         ├ ƒ /api/docs/[[...slug]]  GET\n\
         ├ ƒ /api/users/[id]        GET, POST\n\
         └ ƒ /robots.txt            GET\n\
         \n\
         ○  (Static)       GET rendered once, then served from the cache\n\
         ◐  (Revalidated)  GET served from the cache, rendered again after its window\n\
         ƒ  (Dynamic)      GET rendered on every request"
    );
    let patterns: Vec<&str> = t.registrations().map(|r| r.pattern()).collect();
    assert_eq!(
        patterns,
        [
            "/api/users/[id]",
            "/api/docs/[[...slug]]",
            "/(meta)/robots.txt",
            "/"
        ]
    );
}

#[test]
fn a_large_table_matches_every_route() {
    let mut routes = Routes::new();
    for i in 0..2_000 {
        routes = if i % 2 == 0 {
            routes.route(&format!("/r{i}/items"), get_only())
        } else {
            routes.route(&format!("/r{i}/items/[id]"), get_only())
        };
    }
    let t = routes.build();
    for i in 0..2_000 {
        if i % 2 == 0 {
            let m = t.at(&format!("/r{i}/items")).unwrap().unwrap();
            assert_eq!(m.pattern(), format!("/r{i}/items"));
            assert!(t.at(&format!("/r{i}/items/1")).unwrap().is_none());
        } else {
            let m = t.at(&format!("/r{i}/items/{i}")).unwrap().unwrap();
            assert_eq!(m.pattern(), format!("/r{i}/items/[id]"));
            assert_eq!(m.params().get("id"), Some(&one(&i.to_string())));
            assert!(t.at(&format!("/r{i}/items")).unwrap().is_none());
        }
    }
}

#[test]
fn summary_shows_each_routes_cache_mode() {
    use route_handlers::cache::{Cache, Dynamic, Revalidate};
    let cache = Cache::new();
    let table = Routes::new()
        .cache(&cache)
        .route(
            "/api/time",
            RouteHandler::new()
                .get(|| async { "t" })
                .dynamic(Dynamic::ForceStatic)
                .revalidate(10),
        )
        .route(
            "/api/static",
            RouteHandler::new()
                .get(|| async { "s" })
                .dynamic(Dynamic::ForceStatic)
                .revalidate(Revalidate::Never),
        )
        .route("/api/live", RouteHandler::new().get(|| async { "l" }))
        .build();
    let summary = table.to_string();
    let line = |url: &str| {
        summary
            .lines()
            .find(|l| l.contains(url))
            .unwrap_or_else(|| panic!("{url} missing from\n{summary}"))
            .to_owned()
    };
    assert!(line("/api/time").contains('◐'), "{summary}");
    assert!(line("/api/time").contains("10s"), "{summary}");
    assert!(line("/api/static").contains('○'), "{summary}");
    assert!(line("/api/live").contains('ƒ'), "{summary}");
}

#[tokio::test]
async fn the_tables_cache_serves_every_route_and_one_revalidator_reaches_them() {
    use route_handlers::cache::{Cache, Dynamic};
    use std::sync::atomic::{AtomicUsize, Ordering};
    let cache = Cache::new();
    let runs = Arc::new(AtomicUsize::new(0));
    let counter = runs.clone();
    let table = Routes::new()
        .route(
            "/api/users/[id]",
            RouteHandler::new()
                .get(move |_req: Request<Body>, ctx: RouteContext| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    async move { format!("user {}", ctx.param("id").unwrap_or("?")) }
                })
                .dynamic(Dynamic::ForceStatic),
        )
        .cache(&cache)
        .build();
    for _ in 0..3 {
        let res = table
            .clone()
            .oneshot(Request::get("/api/users/7").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    cache
        .revalidator()
        .revalidate_path("/api/users/7")
        .await
        .unwrap();
    let res = table
        .clone()
        .oneshot(Request::get("/api/users/7").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.headers()["x-route-cache"], "REVALIDATED");
    let body = res.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "user 7");
    assert_eq!(runs.load(Ordering::SeqCst), 2);
}

#[test]
fn contradictory_cache_settings_are_reported_with_the_conflicts() {
    use route_handlers::cache::Dynamic;
    let err = Routes::new()
        .route(
            "/api/x",
            RouteHandler::new()
                .get(|| async { "x" })
                .dynamic(Dynamic::ForceStatic)
                .revalidate(0),
        )
        .route("/api/[a]", RouteHandler::new().get(|| async { "a" }))
        .route("/api/[b]/c", RouteHandler::new().get(|| async { "b" }))
        .try_build()
        .unwrap_err();
    let kinds: Vec<_> = err.as_slice().iter().map(|c| c.kind()).collect();
    assert!(kinds.contains(&ConflictKind::RouteConfig), "{err}");
    assert!(kinds.contains(&ConflictKind::DifferentSlugNames), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("route /api/x: `dynamic = \"force-static\"` contradicts `revalidate = 0`"),
        "{text}"
    );
}

/// Dot segments and `%00` used to be captured as parameters (`[id]` = `..`); they are now
/// refused before the handler runs, each with its own message.
#[tokio::test]
async fn dot_segments_and_nul_no_longer_reach_a_handler() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let t = Routes::new()
        .route(
            "/files/[...path]",
            RouteHandler::new().get(move || {
                c.fetch_add(1, Ordering::SeqCst);
                async { "file" }
            }),
        )
        .build();
    for (path, message) in [
        (
            "/files/../etc/passwd",
            "the request path has a `.` or `..` segment",
        ),
        ("/files/a/./b", "the request path has a `.` or `..` segment"),
        (
            "/files/%2e%2e/x",
            "the request path has a `.` or `..` segment",
        ),
        (
            "/files/a%00.txt",
            "the request path has an encoded NUL byte (%00)",
        ),
        ("/files/%zz", "invalid percent-encoding in the request path"),
    ] {
        let (s, h, b) = send(&t, "GET", path).await;
        assert_eq!(
            (s, &b[..]),
            (StatusCode::BAD_REQUEST, message.as_bytes()),
            "{path}"
        );
        assert_eq!(h[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (s, _, b) = send(&t, "GET", "/files/a%2F..%2Fb/.env").await;
    assert_eq!((s, &b[..]), (StatusCode::OK, &b"file"[..]));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn patterns_with_dot_segments_or_nul_are_refused() {
    let err = Routes::new()
        .route("/a/../b", RouteHandler::new().get(|| async { "" }))
        .route("/c/%00", RouteHandler::new().get(|| async { "" }))
        .try_build()
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"..\" is not a folder name"), "{text}");
    assert!(
        text.contains("the folder name \"%00\" has an encoded NUL byte"),
        "{text}"
    );
}
