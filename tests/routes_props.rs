//! Property tests of the route table against a small reference written from the Next.js
//! rules (spec §2.1–2.4 and the checks of `sorted-routes.ts`):
//!
//! - static routes are looked up first by their whole path; then the dynamic routes are
//!   tried one by one in Next.js' sorted order, and the first that matches wins;
//! - the path is split on `/`, one trailing slash dropped, and each segment percent-decoded;
//!   a bad escape is a 400, an empty segment matches nothing;
//! - a `.` or `..` segment (also percent-encoded) or `%00` is a 400 too;
//! - `[x]` takes one segment, `[...x]` one or more, `[[...x]]` zero or more (absent when zero).
//!
//! The reference is deliberately naive: a list scan, no trie.

use std::collections::BTreeMap;

use http::{Request, StatusCode};
use proptest::{prelude::*, strategy::ValueTree};
use route_handlers::{Body, RouteHandler, RouteTable, Routes, context::ParamValue};
use tower::ServiceExt;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    Static(&'static str),
    Group(&'static str),
    Param(String),
    CatchAll(String),
    Optional(String),
}

impl Seg {
    fn written(&self) -> String {
        match self {
            Seg::Static(s) => s.to_string(),
            Seg::Group(g) => format!("({g})"),
            Seg::Param(n) => format!("[{n}]"),
            Seg::CatchAll(n) => format!("[...{n}]"),
            Seg::Optional(n) => format!("[[...{n}]]"),
        }
    }

    fn name(&self) -> Option<&str> {
        match self {
            Seg::Param(n) | Seg::CatchAll(n) | Seg::Optional(n) => Some(n),
            _ => None,
        }
    }
}

fn pattern(route: &[Seg]) -> String {
    let mut out: String = route.iter().map(|s| format!("/{}", s.written())).collect();
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// The URL segments of a route: groups removed.
fn url(route: &[Seg]) -> Vec<&Seg> {
    route
        .iter()
        .filter(|s| !matches!(s, Seg::Group(_)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Reference conflict check: Next.js' `UrlNode` insertion (it throws at the first problem),
// plus "two registrations at one URL".

struct UrlNode {
    placeholder: bool,
    children: BTreeMap<String, UrlNode>,
    slug: Option<String>,
    rest: Option<String>,
    optional_rest: Option<String>,
}

impl Default for UrlNode {
    fn default() -> Self {
        UrlNode {
            placeholder: true,
            children: BTreeMap::new(),
            slug: None,
            rest: None,
            optional_rest: None,
        }
    }
}

impl UrlNode {
    fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, segs: &[&Seg], slugs: &mut Vec<String>, catch_all: bool) -> bool {
        if segs.is_empty() {
            self.placeholder = false;
            return true;
        }
        if catch_all {
            return false; // Catch-all must be the last part of the URL.
        }
        let key = match segs[0] {
            Seg::Static(s) => s.to_string(),
            dynamic => {
                let name = dynamic.name().unwrap().to_string();
                let handle = |previous: &Option<String>, slugs: &mut Vec<String>| {
                    if previous.as_ref().is_some_and(|p| *p != name) {
                        return false;
                    }
                    if slugs.contains(&name) {
                        return false;
                    }
                    slugs.push(name.clone());
                    true
                };
                match dynamic {
                    Seg::Param(_) => {
                        if !handle(&self.slug, slugs) {
                            return false;
                        }
                        self.slug = Some(name.clone());
                        "[]".into()
                    }
                    Seg::CatchAll(_) => {
                        if self.optional_rest.is_some() || !handle(&self.rest, slugs) {
                            return false;
                        }
                        self.rest = Some(name.clone());
                        "[...]".into()
                    }
                    Seg::Optional(_) => {
                        if self.rest.is_some() || !handle(&self.optional_rest, slugs) {
                            return false;
                        }
                        self.optional_rest = Some(name.clone());
                        "[[...]]".into()
                    }
                    _ => unreachable!(),
                }
            }
        };
        let is_catch_all = matches!(segs[0], Seg::CatchAll(_) | Seg::Optional(_));
        self.children
            .entry(key)
            .or_default()
            .insert(&segs[1..], slugs, is_catch_all)
    }

    /// `smoosh`: the routes in Next.js priority order, as paths of child keys; `Err` for a
    /// route at the same place as an optional catch-all.
    fn smoosh(&self, prefix: Vec<String>) -> Result<Vec<Vec<String>>, ()> {
        let mut routes = Vec::new();
        for (key, child) in &self.children {
            if key.starts_with('[') {
                continue;
            }
            let mut p = prefix.clone();
            p.push(key.clone());
            routes.extend(child.smoosh(p)?);
        }
        for key in ["[]"] {
            if let Some(child) = self.children.get(key) {
                let mut p = prefix.clone();
                p.push(key.into());
                routes.extend(child.smoosh(p)?);
            }
        }
        if !self.placeholder {
            if self.optional_rest.is_some() {
                return Err(());
            }
            routes.insert(0, prefix.clone());
        }
        for key in ["[...]", "[[...]]"] {
            if let Some(child) = self.children.get(key) {
                let mut p = prefix.clone();
                p.push(key.into());
                routes.extend(child.smoosh(p)?);
            }
        }
        Ok(routes)
    }
}

fn shape_key(route: &[Seg]) -> Vec<String> {
    url(route)
        .iter()
        .map(|s| match s {
            Seg::Static(x) => x.to_string(),
            Seg::Param(_) => "[]".into(),
            Seg::CatchAll(_) => "[...]".into(),
            Seg::Optional(_) => "[[...]]".into(),
            Seg::Group(_) => unreachable!(),
        })
        .collect()
}

/// Whether the reference rejects the set.
fn reference_rejects(routes: &[Vec<Seg>]) -> bool {
    let mut root = UrlNode::new();
    for r in routes {
        if !root.insert(&url(r), &mut Vec::new(), false) {
            return true;
        }
    }
    if root.smoosh(Vec::new()).is_err() {
        return true;
    }
    // Two registrations at one URL.
    let urls: Vec<Vec<&Seg>> = routes.iter().map(|r| url(r)).collect();
    (0..urls.len()).any(|i| (0..i).any(|j| urls[i] == urls[j]))
}

// ---------------------------------------------------------------------------------------
// Reference matcher.

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Matched(String, Vec<(String, ParamValue)>),
    NotFound,
    BadEscape,
}

/// `decodeURIComponent`: every `%` is followed by two hex digits, the result is UTF-8.
fn decode_component(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            if !hex.bytes().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn match_route(route: &[&Seg], segs: &[String]) -> Option<Vec<(String, ParamValue)>> {
    let mut params = Vec::new();
    let mut i = 0;
    for seg in route {
        match seg {
            Seg::Static(s) => {
                if segs.get(i)? != s {
                    return None;
                }
                i += 1;
            }
            Seg::Param(n) => {
                params.push((n.clone(), ParamValue::One(segs.get(i)?.clone())));
                i += 1;
            }
            Seg::CatchAll(n) => {
                if i >= segs.len() {
                    return None;
                }
                params.push((n.clone(), ParamValue::Many(segs[i..].to_vec())));
                i = segs.len();
            }
            Seg::Optional(n) => {
                if i < segs.len() {
                    params.push((n.clone(), ParamValue::Many(segs[i..].to_vec())));
                }
                i = segs.len();
            }
            Seg::Group(_) => unreachable!(),
        }
    }
    (i == segs.len()).then_some(params)
}

fn reference_match(routes: &[Vec<Seg>], path: &str) -> Outcome {
    let Some(rest) = path.strip_prefix('/') else {
        return Outcome::NotFound;
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let raw: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    let Some(segs) = raw
        .iter()
        .map(|s| decode_component(s))
        .collect::<Option<Vec<String>>>()
    else {
        return Outcome::BadEscape;
    };
    if segs
        .iter()
        .any(|s| s == "." || s == ".." || s.contains('\0'))
    {
        return Outcome::BadEscape;
    }
    if segs.iter().any(String::is_empty) {
        return Outcome::NotFound;
    }
    // Static routes first, by exact path.
    for r in routes {
        let u = url(r);
        if u.iter().all(|s| matches!(s, Seg::Static(_))) && match_route(&u, &segs).is_some() {
            return Outcome::Matched(pattern(r), Vec::new());
        }
    }
    // Then the dynamic routes in sorted order.
    let mut root = UrlNode::new();
    for r in routes {
        root.insert(&url(r), &mut Vec::new(), false);
    }
    let order = root.smoosh(Vec::new()).expect("valid set");
    for key in order {
        let r = routes
            .iter()
            .find(|r| shape_key(r) == key)
            .expect("sorted route");
        if let Some(params) = match_route(&url(r), &segs) {
            return Outcome::Matched(pattern(r), params);
        }
    }
    Outcome::NotFound
}

fn table_match(table: &RouteTable, path: &str) -> Outcome {
    match table.at(path) {
        Ok(Some(m)) => Outcome::Matched(
            m.pattern().to_string(),
            m.params()
                .iter()
                .map(|(n, v)| (n.to_string(), v.clone()))
                .collect(),
        ),
        Ok(None) => Outcome::NotFound,
        Err(_) => Outcome::BadEscape,
    }
}

fn build(routes: &[Vec<Seg>]) -> Result<RouteTable, route_handlers::routes::Conflicts> {
    routes
        .iter()
        .fold(Routes::new(), |t, r| {
            t.route(&pattern(r), RouteHandler::new().get(|| async { "" }))
        })
        .try_build()
}

// ---------------------------------------------------------------------------------------
// Generators.

fn name() -> impl Strategy<Value = String> {
    prop_oneof![4 => Just("p"), 1 => Just("q")].prop_map(String::from)
}

fn seg(depth: usize) -> impl Strategy<Value = Seg> {
    let d = depth;
    prop_oneof![
        6 => prop::sample::select(&["a", "b", "c", "a.b"][..]).prop_map(Seg::Static),
        3 => name().prop_map(move |n| Seg::Param(format!("{n}{d}"))),
        1 => name().prop_map(move |n| Seg::CatchAll(format!("{n}{d}"))),
        1 => name().prop_map(move |n| Seg::Optional(format!("{n}{d}"))),
        1 => prop::sample::select(&["g1", "g2"][..]).prop_map(Seg::Group),
    ]
}

fn route() -> impl Strategy<Value = Vec<Seg>> {
    (0usize..5).prop_flat_map(|len| (0..len).map(seg).collect::<Vec<_>>())
}

fn path() -> impl Strategy<Value = String> {
    let good = prop::sample::select(
        &[
            "a",
            "b",
            "c",
            "d",
            "a.b",
            "...",
            ".v",
            "v",
            "%61",
            "%2F",
            "a%2Fb",
            "%E2%82%AC",
            "",
        ][..],
    );
    let bad = prop::sample::select(&["%zz", "%C3", "%", ".", "..", "%2E", "%2e.", "a%00"][..]);
    let piece = prop_oneof![30 => good, 1 => bad];
    (prop::collection::vec(piece, 0..6), any::<bool>()).prop_map(|(pieces, trailing)| {
        let mut p: String = pieces.iter().map(|s| format!("/{s}")).collect();
        if p.is_empty() || trailing {
            p.push('/');
        }
        p
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn matches_like_the_reference(
        routes in prop::collection::vec(route(), 1..8),
        paths in prop::collection::vec(path(), 1..24),
    ) {
        let built = build(&routes);
        prop_assert_eq!(built.is_err(), reference_rejects(&routes), "{:?}", built.as_ref().err().map(ToString::to_string));
        if let Ok(table) = built {
            for p in &paths {
                prop_assert_eq!(table_match(&table, p), reference_match(&routes, p), "path {}", p);
            }
            // Every route matches a path made from its own pattern.
            for r in &routes {
                let mut path: String = url(r)
                    .iter()
                    .map(|s| match s {
                        Seg::Static(x) => format!("/{x}"),
                        Seg::Param(_) => "/v".to_string(),
                        Seg::CatchAll(_) | Seg::Optional(_) => "/v/w".to_string(),
                        Seg::Group(_) => unreachable!(),
                    })
                    .collect();
                if path.is_empty() {
                    path.push('/');
                }
                prop_assert_eq!(table_match(&table, &path), reference_match(&routes, &path));
                prop_assert!(matches!(table_match(&table, &path), Outcome::Matched(..)));
            }
        }
    }

    #[test]
    fn random_paths_never_panic(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        let table = Routes::new()
            .route("/", RouteHandler::new().get(|| async { "" }))
            .route("/a/[x]", RouteHandler::new().get(|| async { "" }))
            .route("/a/[x]/[...rest]", RouteHandler::new().get(|| async { "" }))
            .route("/b/[[...rest]]", RouteHandler::new().get(|| async { "" }))
            .build();
        let text = String::from_utf8_lossy(&raw);
        for p in [text.to_string(), format!("/{text}"), format!("/a/{text}"), format!("/b/{text}")] {
            let _ = table.at(&p);
        }
    }
}

#[tokio::test]
async fn random_uris_through_the_service_never_fail() {
    let table = Routes::new()
        .route("/a/[x]", RouteHandler::new().get(|| async { "x" }))
        .route("/b/[[...rest]]", RouteHandler::new().get(|| async { "r" }))
        .build();
    let mut runner = proptest::test_runner::TestRunner::default();
    let strategy = prop::collection::vec(
        prop::sample::select(
            &[
                "a", "b", "%", "%2", "%zz", "%FF", "%2F", "", "é", "?q", "#f",
            ][..],
        ),
        0..6,
    );
    for _ in 0..500 {
        let pieces = strategy.new_tree(&mut runner).unwrap().current();
        let path: String = pieces.iter().map(|s| format!("/{s}")).collect();
        let Ok(uri) = http::Uri::try_from(path.as_str()) else {
            continue;
        };
        let req = Request::builder().uri(uri).body(Body::empty()).unwrap();
        let res = table.clone().oneshot(req).await.unwrap();
        assert!(
            [
                StatusCode::OK,
                StatusCode::NOT_FOUND,
                StatusCode::BAD_REQUEST
            ]
            .contains(&res.status()),
            "{path}: {}",
            res.status()
        );
    }
}
