//! The route context: what a handler gets besides the request.
//!
//! In Next.js a route handler's second argument is `{ params }`. Here it is
//! [`RouteContext`], which carries the path parameters that the route table matched.
//! A single parameter (`[id]`) is one string, a catch-all (`[...slug]`) is a list, and an
//! absent optional catch-all (`[[...slug]]`) is absent.

use std::{
    borrow::Cow,
    fmt,
    ops::{BitOr, BitOrAssign},
    sync::{
        Arc,
        atomic::{AtomicU8, Ordering},
    },
};

use crate::body::BodyLimit;

/// The value of one path parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// A single segment, from `[name]`, percent-decoded.
    One(String),
    /// The segments of a catch-all, from `[...name]` or `[[...name]]`, each percent-decoded.
    Many(Vec<String>),
}

/// The path parameters of a matched route, in the order they appear in its pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    entries: Vec<(Arc<str>, ParamValue)>,
}

impl Params {
    /// No parameters. Does not allocate.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// No parameters, with room for `capacity` of them.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds a parameter.
    pub fn push(&mut self, name: impl Into<Arc<str>>, value: ParamValue) {
        self.entries.push((name.into(), value));
    }

    /// The value of `name`, if the route has it and it matched.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.entries
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }

    /// The parameters, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.entries.iter().map(|(n, v)| (&**n, v))
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a route handler gets besides the request: the matched path parameters, and the
/// route's request body limit.
///
/// When a cache fills a shared entry, the context also records what request data the
/// handler read ([`record`](Self::record)); the request the handler gets then holds nothing
/// of any client.
///
/// ```
/// use route_handlers::context::{ParamValue, Params, RouteContext};
///
/// let mut params = Params::new();
/// params.push("id", ParamValue::One("42".into()));
/// let ctx = RouteContext::new(params);
/// assert_eq!(ctx.param("id"), Some("42"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct RouteContext {
    params: Params,
    body_limit: BodyLimit,
    /// What a cache needs: the canonical matched path and, while a fill runs, the record of
    /// what the handler reads. One thin pointer, so that a context stays small to move.
    cache: Option<Arc<CacheContext>>,
}

/// The part of a [`RouteContext`] that a cache uses.
#[derive(Debug, Default)]
pub(crate) struct CacheContext {
    /// The canonical matched path (see [`canonical_path`]), when the route table set it.
    path: Option<Arc<str>>,
    /// Whether a fill is running: reads are recorded.
    tracking: bool,
    reads: AtomicU8,
}

impl CacheContext {
    /// The canonical path.
    pub(crate) fn path(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// The context part of a request for the canonical `path`.
    pub(crate) fn of_path(path: Arc<str>) -> Arc<Self> {
        Arc::new(Self {
            path: Some(path),
            ..Self::default()
        })
    }
}

/// A request the route table matched to a cached route: its canonical path, which the cache
/// keys on, and what its [`RouteContext`] is made of. The context is made only when the
/// handler runs or a fill starts: a hit needs the path alone.
pub(crate) struct Matched<'a> {
    path: MatchedPath<'a>,
    params: Params,
}

enum MatchedPath<'a> {
    /// The one canonical path of a pattern without dynamic segments, with the context every
    /// request for it shares.
    Own(&'a Arc<CacheContext>),
    /// Any other path, made canonical.
    Shared(Arc<str>),
}

impl<'a> Matched<'a> {
    /// `path` as the table matched it with `params`; `own` is the context of the entry's
    /// one canonical path, for a pattern without dynamic segments.
    #[inline]
    pub(crate) fn new(path: &str, own: Option<&'a Arc<CacheContext>>, params: Params) -> Self {
        // A path equal to a canonical one is canonical: one comparison instead of a pass.
        let path = match own {
            Some(own) if own.path() == Some(path) => MatchedPath::Own(own),
            _ => Self::other(path, own),
        };
        Self { path, params }
    }

    fn other(path: &str, own: Option<&'a Arc<CacheContext>>) -> MatchedPath<'a> {
        let path = canonical_path(path);
        match own {
            Some(own) if own.path() == Some(&*path) => MatchedPath::Own(own),
            _ => MatchedPath::Shared(Arc::from(path)),
        }
    }

    /// The canonical path.
    #[inline]
    pub(crate) fn path(&self) -> &str {
        match &self.path {
            MatchedPath::Own(own) => own.path().unwrap_or_default(),
            MatchedPath::Shared(path) => path,
        }
    }

    fn cache(&self) -> Arc<CacheContext> {
        match &self.path {
            MatchedPath::Own(own) => Arc::clone(own),
            MatchedPath::Shared(path) => CacheContext::of_path(path.clone()),
        }
    }

    /// The route context, carrying the canonical path.
    pub(crate) fn context(&self) -> RouteContext {
        RouteContext::new(self.params.clone()).with_path(self.cache())
    }

    /// The route context, taking the parameters.
    pub(crate) fn into_context(self) -> RouteContext {
        let cache = self.cache();
        RouteContext::new(self.params).with_path(cache)
    }
}

impl RouteContext {
    /// A context with these parameters and the default body limit.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            body_limit: BodyLimit::DEFAULT,
            cache: None,
        }
    }

    /// The context with the canonical matched path, as the route table gives it (see
    /// [`CacheContext::of_path`]).
    pub(crate) fn with_path(mut self, path: Arc<CacheContext>) -> Self {
        self.cache = Some(path);
        self
    }

    /// The canonical form of the matched request path ([`canonical_path`]), when the route
    /// table set it.
    pub(crate) fn path(&self) -> Option<&Arc<str>> {
        self.cache.as_ref()?.path.as_ref()
    }

    /// The context of a cache fill, which records what the handler reads.
    pub(crate) fn tracking(mut self) -> (Self, ReadTracker) {
        let cache = Arc::new(CacheContext {
            path: self.path().cloned(),
            tracking: true,
            reads: AtomicU8::new(0),
        });
        self.cache = Some(cache.clone());
        (self, ReadTracker(cache))
    }

    /// The cache part of a fill's context, to share with a context made further in (a route
    /// table under a cache layer), so that reads made there are recorded for the fill.
    pub(crate) fn fill_tracking(&self) -> Option<&Arc<CacheContext>> {
        self.cache.as_ref().filter(|c| c.tracking)
    }

    /// The recorder of a cache fill, for request views that outlive the context.
    pub(crate) fn tracker(&self) -> Option<ReadTracker> {
        self.cache
            .as_ref()
            .filter(|c| c.tracking)
            .map(|c| ReadTracker(c.clone()))
    }

    /// Records that the handler read `data` from the request.
    ///
    /// The request views of this crate ([`NextRequest`](crate::request::NextRequest)) call
    /// it for every accessor that reads request data; an extractor that reads such data but
    /// declares [`RequestData::NONE`] must call it too. While a cache fills a shared entry,
    /// a recorded read keeps the response out of the cache (and, for an `Auto` route, makes
    /// the route dynamic); otherwise it does nothing.
    ///
    /// ```
    /// use route_handlers::{RouteContext, extract::RequestData};
    ///
    /// RouteContext::default().record(RequestData::HEADERS); // not filling a cache: nothing
    /// ```
    #[inline]
    pub fn record(&self, data: RequestData) {
        if let Some(cache) = self.cache.as_ref().filter(|c| c.tracking) {
            cache.reads.fetch_or(data.0, Ordering::Relaxed);
        }
    }

    /// The context with another request body limit. A route sets the one it was built with
    /// ([`RouteHandler::body_limit`](crate::RouteHandler::body_limit)) before it calls a
    /// handler.
    pub fn with_body_limit(mut self, limit: BodyLimit) -> Self {
        self.body_limit = limit;
        self
    }

    /// The largest request body the handler's body readers accept.
    pub fn body_limit(&self) -> BodyLimit {
        self.body_limit
    }

    /// The path parameters.
    pub fn params_raw(&self) -> &Params {
        &self.params
    }

    /// The value of a single parameter (`[name]`), or `None` when absent or a catch-all.
    pub fn param(&self, name: &str) -> Option<&str> {
        match self.params.get(name)? {
            ParamValue::One(v) => Some(v),
            ParamValue::Many(_) => None,
        }
    }

    /// The segments of a catch-all parameter (`[...name]` or `[[...name]]`), or `None` when
    /// absent or a single parameter.
    pub fn catch_all(&self, name: &str) -> Option<&[String]> {
        match self.params.get(name)? {
            ParamValue::Many(v) => Some(v),
            ParamValue::One(_) => None,
        }
    }
}

/// Request-time data: what a handler may read that differs between two requests for the
/// same path. A cached route must not store a response that depends on it (see the `cache`
/// docs); a handler declares what it reads through the types of its arguments
/// ([`FromRequestParts::READS`](crate::extract::FromRequestParts::READS),
/// [`FromRequest::READS`](crate::extract::FromRequest::READS)), and a request view records
/// what it reads at run time with [`RouteContext::record`].
///
/// ```
/// use route_handlers::extract::RequestData;
///
/// let reads = RequestData::HEADERS | RequestData::QUERY;
/// assert!(reads.contains(RequestData::QUERY));
/// assert_eq!(reads.to_string(), "`request.headers`, `request.nextUrl.searchParams`");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RequestData(u8);

impl RequestData {
    /// Nothing request-specific: the path and the route's params only.
    pub const NONE: Self = Self(0);
    /// Request headers (other than cookies).
    pub const HEADERS: Self = Self(1);
    /// Request cookies.
    pub const COOKIES: Self = Self(2);
    /// The query string (search params).
    pub const QUERY: Self = Self(4);
    /// The request body.
    pub const BODY: Self = Self(8);
    /// The HTTP version the request came with.
    pub const VERSION: Self = Self(16);
    /// The request extensions (what middleware put there, such as the signed-in user).
    pub const EXTENSIONS: Self = Self(32);
    /// Everything: the whole request.
    pub const ALL: Self = Self(63);

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of both, usable in constants.
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    const NAMES: [(Self, &'static str); 6] = [
        (Self::HEADERS, "`request.headers`"),
        (Self::COOKIES, "`request.cookies`"),
        (Self::QUERY, "`request.nextUrl.searchParams`"),
        (Self::BODY, "`request.body`"),
        (Self::VERSION, "`request.version`"),
        (Self::EXTENSIONS, "`request.extensions`"),
    ];
}

impl BitOr for RequestData {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl BitOrAssign for RequestData {
    fn bitor_assign(&mut self, rhs: Self) {
        *self = self.union(rhs);
    }
}

impl fmt::Display for RequestData {
    /// The Next.js names of what was read, joined with `", "`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (flag, name) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(", ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for RequestData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestData({self})")
    }
}

/// Records at run time which [`RequestData`] a handler read, shared by the clones of the
/// [`RouteContext`] of one cache fill.
#[derive(Clone, Debug)]
pub(crate) struct ReadTracker(Arc<CacheContext>);

impl ReadTracker {
    /// Records `data` as read.
    pub(crate) fn record(&self, data: RequestData) {
        self.0.reads.fetch_or(data.0, Ordering::Relaxed);
    }

    /// What has been read so far.
    pub(crate) fn reads(&self) -> RequestData {
        RequestData(self.0.reads.load(Ordering::Relaxed))
    }
}

/// The canonical form of a request path, the one the route table, the cache key and
/// [`Revalidator::revalidate_path`](crate::cache::Revalidator::revalidate_path) use, so that
/// every spelling of one resource is one entry:
///
/// - the query and fragment are dropped;
/// - percent-escapes of unreserved characters (`A-Z a-z 0-9 - . _ ~`) are decoded, and the
///   hex digits of the other escapes are uppercased (RFC 3986 §6.2.2.1–2); a byte a path
///   cannot hold as it is (non-ASCII, a space, a `%` that starts no escape) is escaped, so
///   `/café` and `/caf%C3%A9` are one path;
/// - a trailing slash is dropped (the route table matches `/a/` as `/a`), but `/` stays,
///   and an empty path is `/`.
///
/// It borrows `path` when nothing changes.
///
/// ```
/// use route_handlers::context::canonical_path;
///
/// assert_eq!(canonical_path("/api/%74ime/"), "/api/time");
/// assert_eq!(canonical_path("/a%2fb?x=1"), "/a%2Fb");
/// assert_eq!(canonical_path("/caf%c3%a9"), "/caf%C3%A9");
/// assert_eq!(canonical_path(""), "/");
/// ```
pub fn canonical_path(path: &str) -> Cow<'_, str> {
    // One pass finds the end (a query or fragment) and whether anything needs rewriting.
    let mut end = path.len();
    let mut plain = true;
    for (i, &b) in path.as_bytes().iter().enumerate() {
        match BYTE_CLASS[usize::from(b)] {
            PLAIN => {}
            END => {
                end = i;
                break;
            }
            _ => plain = false,
        }
    }
    let mut path = &path[..end];
    while path.len() > 1 && path.ends_with('/') {
        path = &path[..path.len() - 1];
    }
    if plain && path.starts_with('/') {
        return Cow::Borrowed(path);
    }
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let escape = (b == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match escape {
            Some((hi, lo)) => {
                let decoded = hi << 4 | lo;
                if decoded.is_ascii_alphanumeric() || matches!(decoded, b'-' | b'.' | b'_' | b'~') {
                    out.push(char::from(decoded));
                } else {
                    push_escaped(&mut out, decoded);
                }
                i += 3;
            }
            // A `%` that starts no escape is data: escaped, as any other byte a URI path
            // cannot hold as it is (spaces, controls, non-ASCII).
            None if b == b'%' || !is_path_char(b) => {
                push_escaped(&mut out, b);
                i += 1;
            }
            None => {
                out.push(char::from(b));
                i += 1;
            }
        }
    }
    Cow::Owned(out)
}

/// Whether `b` may stand in a URI path as it is (RFC 3986 `pchar` and `/`), but for `%`.
const fn is_path_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
                | b':'
                | b'@'
                | b'/'
        )
}

/// A byte a canonical path keeps as it is.
const PLAIN: u8 = 0;
/// `?` or `#`: the path ends before it.
const END: u8 = 1;
/// `%`, or a byte a path cannot hold as it is: the path is rewritten.
const REWRITE: u8 = 2;

/// The class of every byte, so that the common path (nothing to rewrite) costs one load and
/// compare a byte.
static BYTE_CLASS: [u8; 256] = {
    let mut classes = [REWRITE; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte == b'?' || byte == b'#' {
            classes[b] = END;
        } else if is_path_char(byte) {
            classes[b] = PLAIN;
        }
        b += 1;
    }
    classes
};

fn push_escaped(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    out.push('%');
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 15)]));
}

/// The value of one hex digit.
pub(crate) fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_path_table() {
        for (input, want) in [
            ("/", "/"),
            ("", "/"),
            ("//", "/"),
            ("/a", "/a"),
            ("/a/", "/a"),
            ("/a//", "/a"),
            ("/a?b", "/a"),
            ("/a/?b=/c/", "/a"),
            ("/a#frag", "/a"),
            ("?q", "/"),
            ("x/y", "/x/y"),
            ("/a%20b/", "/a%20b"),
            ("/api/%74ime", "/api/time"),
            ("/api/tim%65", "/api/time"),
            ("/api/%74%69%6D%65", "/api/time"),
            ("/%5Fnext/%7e", "/_next/~"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb", "/a%2Fb"),
            ("/a%2e%2E", "/a.."),
            ("/x%", "/x%25"),
            ("/x%4", "/x%254"),
            ("/x%zz", "/x%25zz"),
            ("/%c3%a9", "/%C3%A9"),
            ("/é%41", "/%C3%A9A"),
            ("/café", "/caf%C3%A9"),
            ("/a b", "/a%20b"),
            ("/a%2", "/a%252"),
        ] {
            assert_eq!(canonical_path(input), want, "{input:?}");
        }
    }

    #[test]
    fn canonical_paths_borrow_when_nothing_changes() {
        assert!(matches!(canonical_path("/api/x"), Cow::Borrowed(_)));
        assert!(matches!(canonical_path("/api/x/?y"), Cow::Borrowed(_)));
    }

    proptest::proptest! {
        #[test]
        fn canonical_paths_are_stable(path in "[ -~]{0,40}") {
            let once = canonical_path(&path).into_owned();
            proptest::prop_assert!(once.starts_with('/'));
            proptest::prop_assert!(!once.contains(['?', '#']));
            proptest::prop_assert!(once == "/" || !once.ends_with('/'));
            proptest::prop_assert_eq!(canonical_path(&once), once.as_str());
        }

        #[test]
        fn escaping_an_unreserved_character_is_the_same_path(
            path in "(/[a-zA-Z0-9._~-]{1,6}){1,4}",
            pick in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let i = pick.index(path.len());
            let b = path.as_bytes()[i];
            proptest::prop_assume!(b != b'/');
            let escaped = format!("{}%{:02x}{}", &path[..i], b, &path[i + 1..]);
            proptest::prop_assert_eq!(canonical_path(&escaped), canonical_path(&path));
        }
    }
}
