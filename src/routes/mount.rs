//! A table under axum's `nest_service` (the `axum` feature): the public path the request
//! came with, and which of it the table's patterns are written against.
//!
//! axum strips the mount prefix from the URI and keeps the URI it received as `OriginalUri`,
//! with the mount's pattern as `NestedPath`. The table takes the received URI back, so that
//! its cache keys, its handlers and `revalidate_path` all see the one public path, only when
//! the two URIs differ exactly by a prefix that matches `NestedPath`: a URI rewritten by a
//! middleware is left as it is.

use std::sync::Arc;

use ::axum::extract::{NestedPath, OriginalUri};
use http::{Request, Uri};

/// What the table needs of a request axum routed through `nest_service`.
pub(crate) struct Mount {
    /// The URI axum handed the table, without the mount prefix.
    pub(crate) stripped: Uri,
    /// The mount's pattern, axum's syntax (`/api`, `/t/{tenant}`).
    pub(crate) pattern: Arc<str>,
}

/// `req` with the URI axum received, when axum stripped a mount prefix from it.
#[inline]
pub(crate) fn public_uri<B>(req: Request<B>) -> (Request<B>, Option<Mount>) {
    if req.extensions().is_empty() {
        return (req, None);
    }
    stripped_at_mount(req)
}

#[cold]
fn stripped_at_mount<B>(mut req: Request<B>) -> (Request<B>, Option<Mount>) {
    let (Some(nested), Some(original)) = (
        req.extensions().get::<NestedPath>(),
        req.extensions().get::<OriginalUri>(),
    ) else {
        return (req, None);
    };
    let Some(prefix) = prefix_of(original.path(), req.uri().path()) else {
        return (req, None);
    };
    if !within(nested.as_str(), prefix) {
        return (req, None);
    }
    let pattern: Arc<str> = nested.as_str().into();
    let original = original.0.clone();
    let stripped = std::mem::replace(req.uri_mut(), original);
    (req, Some(Mount { stripped, pattern }))
}

/// The prefix `original` has before `stripped`, at a segment boundary: `/api` for
/// `/api/products` and `/products`, or for `/api` (or `/api/`) and `/`.
fn prefix_of<'a>(original: &'a str, stripped: &str) -> Option<&'a str> {
    if !stripped.starts_with('/') {
        return None;
    }
    let prefix = match stripped {
        "/" => original.trim_end_matches('/'),
        _ => original.strip_suffix(stripped)?,
    };
    (prefix.starts_with('/') && !prefix.ends_with('/')).then_some(prefix)
}

/// Whether `prefix` (a path) is what the mount `pattern` (axum's syntax) matches: its
/// literal segments equal, one segment for each `{param}`.
fn within(pattern: &str, prefix: &str) -> bool {
    let mut path = prefix.split('/').skip(1);
    for segment in pattern.trim_end_matches('/').split('/').skip(1) {
        match path.next() {
            Some(p) if is_param(segment) || p == segment => {}
            _ => return false,
        }
    }
    path.next().is_none()
}

fn is_param(axum_segment: &str) -> bool {
    axum_segment.starts_with('{') && axum_segment.ends_with('}') && !axum_segment.starts_with("{*")
}

/// Whether a route at `url` (the table's URL pattern, Next.js names) is written with the
/// mount's prefix in front: its first segments are the mount `pattern`'s, a literal for each
/// literal and a `[param]` for each `{param}`. A table of patterns relative to its mount
/// point (`/[org]` under `/api`) is not, and is matched against the stripped path.
pub(crate) fn written_with_prefix(url: &str, pattern: &str) -> bool {
    let mut route = url.split('/').skip(1);
    for segment in pattern.trim_end_matches('/').split('/').skip(1) {
        let Some(r) = route.next() else {
            return false;
        };
        let single_param = r.starts_with('[') && !r.starts_with("[.") && !r.starts_with("[[");
        let fits = match is_param(segment) {
            true => single_param,
            false => r == segment,
        };
        if !fits {
            return false;
        }
    }
    true
}

/// The rest of `path` after the mount `pattern`'s segments, when it starts with them: the
/// path a table of relative patterns sees (`/products` of `/api/products` under `/api`).
pub(crate) fn strip(pattern: &str, path: &str) -> Option<String> {
    let mut rest = path;
    for segment in pattern.trim_end_matches('/').split('/').skip(1) {
        let tail = rest.strip_prefix('/')?;
        let (head, after) = tail.split_at(tail.find('/').unwrap_or(tail.len()));
        if !(is_param(segment) || head == segment) {
            return None;
        }
        rest = after;
    }
    Some(if rest.is_empty() {
        "/".into()
    } else {
        rest.into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_whole_segments() {
        assert_eq!(prefix_of("/api/products", "/products"), Some("/api"));
        assert_eq!(prefix_of("/api", "/"), Some("/api"));
        assert_eq!(prefix_of("/api/", "/"), Some("/api"));
        assert_eq!(prefix_of("/apiproducts", "products"), None);
        assert_eq!(prefix_of("/dashboard", "/login"), None);
        assert_eq!(prefix_of("/x/login", "/login"), Some("/x"));
        assert_eq!(prefix_of("/login", "/login"), None);
    }

    #[test]
    fn the_mount_pattern_must_match_the_prefix() {
        assert!(within("/api", "/api"));
        assert!(within("/t/{tenant}", "/t/acme"));
        assert!(!within("/api", "/x"));
        assert!(!within("/api", "/api/v1"));
        assert!(!within("/t/{tenant}", "/t"));
    }

    #[test]
    fn routes_written_with_the_prefix() {
        assert!(written_with_prefix("/api/products", "/api"));
        assert!(written_with_prefix("/api", "/api"));
        assert!(!written_with_prefix("/[org]/[repo]", "/api"));
        assert!(!written_with_prefix("/[...path]", "/files"));
        assert!(written_with_prefix("/t/[tenant]/x", "/t/{tenant}"));
        assert!(!written_with_prefix("/t/acme/x", "/t/{tenant}"));
        assert!(!written_with_prefix("/products", "/api"));
    }

    #[test]
    fn stripping_the_mount() {
        assert_eq!(strip("/api", "/api/products").as_deref(), Some("/products"));
        assert_eq!(strip("/api", "/api").as_deref(), Some("/"));
        assert_eq!(strip("/t/{tenant}", "/t/acme/x").as_deref(), Some("/x"));
        assert_eq!(strip("/api", "/apix/products"), None);
        assert_eq!(strip("/api", "/products"), None);
    }
}
