//! Patterns written in another router's syntax (axum, matchit, express) are refused with
//! the other conflicts, and two pages at one path are reported in Next.js' words.

use std::panic::AssertUnwindSafe;

use http::{Request, StatusCode};
use route_handlers::{
    Body, RouteHandler, RouteTable, Routes,
    routes::{ConflictKind, Conflicts, RegistrationKind},
};
use tower::ServiceExt;

fn get_only() -> RouteHandler {
    RouteHandler::new().get(|| async { "ok" })
}

fn refused(pattern: &str) -> Conflicts {
    Routes::new()
        .route(pattern, get_only())
        .try_build()
        .unwrap_err()
}

async fn status(table: &RouteTable, uri: &str) -> StatusCode {
    let req = Request::get(uri).body(Body::empty()).unwrap();
    table.clone().oneshot(req).await.unwrap().status()
}

/// The pattern a hint says to write: the first quoted text after "write the pattern as".
fn rewritten(hint: &str) -> &str {
    let rest = hint
        .split_once("write the pattern as \"")
        .unwrap_or_else(|| panic!("no pattern in {hint:?}"))
        .1;
    &rest[..rest.find('"').unwrap()]
}

/// `(pattern, message, hint)` for each form.
const FORMS: &[(&str, &str, &str)] = &[
    (
        "/api/products/{id}",
        "\"{id}\" is axum's syntax for a path parameter; this table uses Next.js folder names: \
         write \"[id]\"",
        "write the pattern as \"/api/products/[id]\"; to match the folder name \"{id}\" \
         literally, percent-encode it: \"%7Bid%7D\"",
    ),
    (
        "/api/files/{*rest}",
        "\"{*rest}\" is axum's syntax for a catch-all parameter; this table uses Next.js folder \
         names: write \"[...rest]\"",
        "write the pattern as \"/api/files/[...rest]\"; to match the folder name \"{*rest}\" \
         literally, percent-encode it: \"%7B*rest%7D\"",
    ),
    (
        "/api/products/:id",
        "\":id\" is the express and axum 0.7 syntax for a path parameter; this table uses \
         Next.js folder names: write \"[id]\"",
        "write the pattern as \"/api/products/[id]\"; to match the folder name \":id\" \
         literally, percent-encode it: \"%3Aid\"",
    ),
    (
        "/api/files/*rest",
        "\"*rest\" is the express and axum 0.7 syntax for a catch-all parameter; this table \
         uses Next.js folder names: write \"[...rest]\"",
        "write the pattern as \"/api/files/[...rest]\"; to match the folder name \"*rest\" \
         literally, percent-encode it: \"%2Arest\"",
    ),
];

#[test]
fn each_foreign_form_names_its_next_js_folder_name_and_the_whole_pattern() {
    for (pattern, message, hint) in FORMS {
        let err = refused(pattern);
        assert_eq!(err.len(), 1, "{pattern}");
        let conflict = &err.as_slice()[0];
        assert_eq!(
            (conflict.kind(), conflict.message(), conflict.hint()),
            (ConflictKind::ForeignSyntax, *message, *hint),
            "{pattern}"
        );
        let [registration] = conflict.registrations() else {
            panic!("one registration expected for {pattern}");
        };
        assert_eq!(
            (registration.kind(), registration.pattern()),
            (RegistrationKind::Route, *pattern)
        );
        assert!(
            registration
                .location()
                .file()
                .ends_with("routes_foreign_syntax.rs")
        );
    }
}

#[tokio::test]
async fn the_pattern_a_hint_names_builds_and_matches() {
    for ((pattern, _, hint), path) in FORMS.iter().zip([
        "/api/products/42",
        "/api/files/a/b",
        "/api/products/42",
        "/api/files/a",
    ]) {
        let table = Routes::new()
            .route(rewritten(hint), get_only())
            .try_build()
            .unwrap_or_else(|err| panic!("{pattern}: {err}"));
        assert_eq!(status(&table, path).await, StatusCode::OK, "{pattern}");
    }
}

#[test]
fn every_problem_is_reported_at_once() {
    let routes = || {
        Routes::new()
            .route("/api/users/:id", get_only())
            .route("/api/files/{*path}", get_only())
            .page("/(shop)/cart", get_only().into_service())
            .page("/(checkout)/cart", get_only().into_service())
            .route("/fine/[id]", get_only())
    };
    let err = routes().try_build().unwrap_err();
    let got: Vec<(ConflictKind, &str)> = err.iter().map(|c| (c.kind(), c.message())).collect();
    assert_eq!(
        got,
        [
            (
                ConflictKind::ForeignSyntax,
                "\":id\" is the express and axum 0.7 syntax for a path parameter; this table \
                 uses Next.js folder names: write \"[id]\""
            ),
            (
                ConflictKind::ForeignSyntax,
                "\"{*path}\" is axum's syntax for a catch-all parameter; this table uses Next.js \
                 folder names: write \"[...path]\""
            ),
            (
                ConflictKind::SameUrl,
                "You cannot have two parallel pages that resolve to the same path. Please check \
                 /(shop)/cart/page and /(checkout)/cart/page. Refer to the route group docs for \
                 more information: \
                 https://nextjs.org/docs/app/building-your-application/routing/route-groups"
            ),
        ]
    );
    let text = err.to_string();
    assert!(
        text.starts_with("found 3 route conflicts; the route table was not built\n\n1. "),
        "{text}"
    );
    for (i, conflict) in err.iter().enumerate() {
        assert!(text.contains(&format!("{}. {}", i + 1, conflict.message())));
        assert!(text.contains(&format!("hint: {}", conflict.hint())));
    }

    // `build` panics with the same text.
    let panic = std::panic::catch_unwind(AssertUnwindSafe(|| routes().build())).unwrap_err();
    assert_eq!(panic.downcast_ref::<String>(), Some(&text));
}

#[test]
fn two_pages_at_one_path_name_both_in_registration_order() {
    let line = line!() + 3;
    let err = Routes::new()
        .route("/other", get_only())
        .page("/(a)/x", get_only().into_service())
        .page("/(b)/x", get_only().into_service())
        .try_build()
        .unwrap_err();
    assert_eq!(err.len(), 1);
    let conflict = &err.as_slice()[0];
    assert_eq!(conflict.kind(), ConflictKind::SameUrl);
    assert_eq!(
        conflict.message(),
        "You cannot have two parallel pages that resolve to the same path. Please check \
         /(a)/x/page and /(b)/x/page. Refer to the route group docs for more information: \
         https://nextjs.org/docs/app/building-your-application/routing/route-groups"
    );
    assert_eq!(
        conflict.hint(),
        "route groups add no URL segment, so both answer \"/x\"; keep one, or give one of them \
         a distinct path"
    );
    let registered: Vec<_> = conflict
        .registrations()
        .iter()
        .map(|r| (r.kind(), r.pattern(), r.location().line()))
        .collect();
    assert_eq!(
        registered,
        [
            (RegistrationKind::Page, "/(a)/x", line),
            (RegistrationKind::Page, "/(b)/x", line + 1),
        ]
    );

    // A page and a route at one path keep Turbopack's wording.
    let err = Routes::new()
        .page("/(a)/x", get_only().into_service())
        .route("/(b)/x", get_only())
        .try_build()
        .unwrap_err();
    assert_eq!(
        err.as_slice()[0].message(),
        "Conflicting route and page at /x: route at /(b)/x/route and page at /(a)/x/page"
    );
}

#[tokio::test]
async fn literal_spellings_still_match() {
    let table = Routes::new()
        .route("/a/%3Aid", get_only())
        .route("/b/%7Bid%7D", get_only())
        .route("/c/%2A", get_only())
        .route("/v1/books:search", get_only())
        .route("/d/a*b", get_only())
        .route("/robots.txt", get_only())
        .try_build()
        .unwrap();
    for (path, expected) in [
        ("/a/:id", StatusCode::OK),
        ("/a/%3Aid", StatusCode::OK),
        ("/a/42", StatusCode::NOT_FOUND),
        ("/b/%7Bid%7D", StatusCode::OK),
        ("/b/42", StatusCode::NOT_FOUND),
        ("/c/*", StatusCode::OK),
        ("/c/x", StatusCode::NOT_FOUND),
        ("/v1/books:search", StatusCode::OK),
        ("/d/a*b", StatusCode::OK),
        ("/robots.txt", StatusCode::OK),
    ] {
        assert_eq!(status(&table, path).await, expected, "{path}");
    }
}
