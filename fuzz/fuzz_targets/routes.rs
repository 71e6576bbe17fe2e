//! Fuzzes route pattern parsing and path matching through the public API: build a table
//! from patterns (made of Next.js folder forms, or arbitrary text), then look paths up in it
//! and call it as a service.
//!
//! Besides "never panics", it checks:
//!
//! - a match names a registered pattern, and every parameter it returns is named in that
//!   pattern, with non-empty values that are never `.`, `..` or contain a NUL (unless the
//!   path has a raw NUL, which no URI has);
//! - every pattern made only of folder forms matches a path written from it (a registered
//!   route is reachable);
//! - the service answers exactly what `RouteTable::at` found: `200` for a match (every
//!   route has a `GET` handler), `404` for none, `400` for a refused path.

#![no_main]

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use arbitrary::Arbitrary;
use http::{Request, StatusCode};
use libfuzzer_sys::fuzz_target;
use route_handlers::{Body, RouteHandler, Routes, context::ParamValue};
use tower_service::Service;

const STATICS: &[&str] = &["a", "b", "a.b", "%5Fx", "a%2Fb", "robots.txt", "é", "..."];
const NAMES: &[&str] = &["id", "slug", "x", "a-b", "ab"];
const VALUES: &[&str] = &[
    "a",
    "b",
    "v",
    "%61",
    "%2F",
    "a%2Fb",
    "%E2%82%AC",
    "",
    "..",
    ".",
    "%2e",
    "%2E%2e",
    "%00",
    "%zz",
    "%",
    "%C3",
    "...",
    ".v",
    "é",
];

#[derive(Arbitrary, Debug)]
enum Folder {
    Static(u8),
    Param(u8),
    CatchAll(u8),
    Optional(u8),
    Group(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
enum Piece {
    Static(u8),
    Value(u8),
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    routes: Vec<Vec<Folder>>,
    paths: Vec<(Vec<Piece>, bool)>,
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

/// The pattern text, and a path that must reach it when it is made of folder forms only.
fn pattern(folders: &[Folder]) -> (String, Option<String>) {
    let mut pattern = String::new();
    let mut path = Some(String::new());
    for folder in folders.iter().take(8) {
        let (written, reach) = match folder {
            Folder::Static(i) => (pick(STATICS, *i).to_owned(), Some(pick(STATICS, *i))),
            Folder::Param(i) => (format!("[{}]", pick(NAMES, *i)), Some("v")),
            Folder::CatchAll(i) => (format!("[...{}]", pick(NAMES, *i)), Some("v/w")),
            Folder::Optional(i) => (format!("[[...{}]]", pick(NAMES, *i)), Some("v")),
            Folder::Group(i) => (format!("({})", pick(NAMES, *i)), None),
            Folder::Raw(raw) => {
                path = None;
                (raw.clone(), None)
            }
        };
        pattern.push('/');
        pattern.push_str(&written);
        if let (Some(path), Some(reach)) = (&mut path, reach) {
            path.push('/');
            path.push_str(reach);
        }
    }
    if pattern.is_empty() {
        pattern.push('/');
    }
    let path = path.map(|p| if p.is_empty() { "/".to_owned() } else { p });
    (pattern, path)
}

fn path((pieces, trailing): &(Vec<Piece>, bool)) -> String {
    let mut out = String::new();
    for piece in pieces.iter().take(12) {
        out.push('/');
        match piece {
            Piece::Static(i) => out.push_str(pick(STATICS, *i)),
            Piece::Value(i) => out.push_str(pick(VALUES, *i)),
            Piece::Raw(raw) => out.push_str(raw),
        }
    }
    if out.is_empty() || *trailing {
        out.push('/');
    }
    out
}

/// Polls a future that must be ready at once: the handlers here never wait.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the table's future was not ready"),
    }
}

/// `raw_nul`: the path itself has a NUL byte, which no URI has (the `http` crate refuses
/// it) and which `RouteTable::at` passes through like any other character; only `%00` is
/// refused.
fn check_value(value: &str, raw_nul: bool) {
    assert!(!value.is_empty(), "an empty parameter value");
    assert!(
        value != "." && value != "..",
        "a dot segment as a parameter"
    );
    assert!(raw_nul || !value.contains('\0'), "a NUL in a parameter");
}

fuzz_target!(|input: Input| {
    let patterns: Vec<(String, Option<String>)> =
        input.routes.iter().take(16).map(|r| pattern(r)).collect();
    let routes = patterns.iter().fold(Routes::new(), |routes, (p, _)| {
        routes.route(p, RouteHandler::new().get(|| async { "ok" }))
    });
    let mut table = match routes.try_build() {
        Ok(table) => table,
        Err(conflicts) => {
            // Every problem renders, and there is at least one.
            assert!(!conflicts.to_string().is_empty());
            return;
        }
    };

    let reachable = patterns.iter().filter_map(|(_, path)| path.clone());
    let paths: Vec<String> = input.paths.iter().take(32).map(path).collect();
    for (i, p) in reachable
        .map(|p| (true, p))
        .chain(paths.into_iter().map(|p| (false, p)))
    {
        let found = table.at(&p);
        match &found {
            Ok(Some(m)) => {
                assert!(
                    patterns.iter().any(|(pattern, _)| pattern == m.pattern()),
                    "{p} matched {} which is not registered",
                    m.pattern()
                );
                for (name, value) in m.params().iter() {
                    assert!(m.pattern().contains(name), "{name} not in {}", m.pattern());
                    match value {
                        ParamValue::One(v) => check_value(v, p.contains('\0')),
                        ParamValue::Many(values) => {
                            assert!(!values.is_empty());
                            values.iter().for_each(|v| check_value(v, p.contains('\0')));
                        }
                    }
                }
            }
            Ok(None) => assert!(!i, "{p} was written from a registered pattern"),
            Err(_) => assert!(!i, "{p} was written from a registered pattern"),
        }
        let Ok(uri) = http::Uri::try_from(p.as_str()) else {
            continue;
        };
        if uri.path() != p {
            continue; // `?` or `#` in a raw piece: the service sees another path.
        }
        let expected = match found {
            Ok(Some(_)) => StatusCode::OK,
            Ok(None) => StatusCode::NOT_FOUND,
            Err(_) => StatusCode::BAD_REQUEST,
        };
        let req = Request::get(uri).body(Body::empty()).unwrap();
        let status = ready(table.call(req)).unwrap().status();
        assert_eq!(status, expected, "{p}");
    }
});
