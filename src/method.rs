//! Method sets, the `Allow` header, and a layer that answers `405 Method Not Allowed`.
//!
//! A route implements some of the seven methods a Next.js route handler can export
//! (`GET HEAD POST PUT PATCH DELETE OPTIONS`). [`MethodSet`] is that set as a bitset; its
//! [`allow`](MethodSet::allow) value is what every response of this crate sends in `Allow`:
//! the implemented methods, plus `HEAD` when `GET` exists, plus `OPTIONS`, sorted and joined
//! with `", "`.
//!
//! [`MethodFilterLayer`] puts that rule in front of any service: a request whose method is not
//! allowed (including extension methods such as `PROPFIND` or an unknown token such as `FOO`)
//! gets `405` with an empty body and `Allow`, and the inner service is not called.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Method, Request, Response, StatusCode};
//! use http_body_util::Full;
//! use route_handlers::method::{MethodFilterLayer, MethodSet};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(MethodFilterLayer::new(MethodSet::GET | MethodSet::POST))
//!     .service(service_fn(|_req: Request<Full<Bytes>>| async {
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hi"))))
//!     }));
//!
//! let req = Request::builder().method("DELETE").body(Full::default()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS, POST");
//! # }
//! ```

use std::{
    fmt,
    future::Future,
    ops::{BitOr, BitOrAssign},
    pin::Pin,
    task::{Context, Poll},
};

use http::{
    HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode,
    header::{ACCEPT_ENCODING, ALLOW, CONTENT_ENCODING, CONTENT_LENGTH},
};
use pin_project_lite::pin_project;

use crate::body::{Body, try_downcast};
use tower_layer::Layer;
use tower_service::Service;

/// The index of each of the seven route-handler methods, in the order of the bits of a
/// [`MethodSet`]. Everything that is per-method in this crate is an array indexed by this.
pub(crate) const METHODS: [Method; 7] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::OPTIONS,
];

pub(crate) const GET: usize = 0;
pub(crate) const HEAD: usize = 1;
pub(crate) const OPTIONS: usize = 6;

/// The index of `method` in [`METHODS`], or `None` for any other method.
#[inline]
pub(crate) fn index_of(method: &Method) -> Option<usize> {
    // `Method` compares standard methods by an enum tag, so this is a handful of compares.
    match *method {
        Method::GET => Some(0),
        Method::HEAD => Some(1),
        Method::POST => Some(2),
        Method::PUT => Some(3),
        Method::PATCH => Some(4),
        Method::DELETE => Some(5),
        Method::OPTIONS => Some(6),
        _ => None,
    }
}

/// A set of the seven route-handler methods: `GET HEAD POST PUT PATCH DELETE OPTIONS`.
///
/// ```
/// use route_handlers::method::MethodSet;
///
/// let set = MethodSet::GET | MethodSet::POST | MethodSet::DELETE;
/// assert_eq!(set.allow(), "DELETE, GET, HEAD, OPTIONS, POST");
/// assert_eq!(MethodSet::POST.allow(), "OPTIONS, POST");
/// assert!(set.allows(&http::Method::HEAD));
/// assert!(!set.allows(&http::Method::PUT));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MethodSet(u8);

impl MethodSet {
    /// The empty set.
    pub const EMPTY: Self = Self(0);
    /// `GET`.
    pub const GET: Self = Self(1 << GET);
    /// `HEAD`.
    pub const HEAD: Self = Self(1 << HEAD);
    /// `POST`.
    pub const POST: Self = Self(1 << 2);
    /// `PUT`.
    pub const PUT: Self = Self(1 << 3);
    /// `PATCH`.
    pub const PATCH: Self = Self(1 << 4);
    /// `DELETE`.
    pub const DELETE: Self = Self(1 << 5);
    /// `OPTIONS`.
    pub const OPTIONS: Self = Self(1 << OPTIONS);

    /// The set holding just `method`, or `None` when it is not one of the seven.
    pub fn from_method(method: &Method) -> Option<Self> {
        index_of(method).map(|i| Self(1 << i))
    }

    /// Whether `method` is in the set itself (not counting the synthesized `HEAD` and `OPTIONS`).
    pub fn contains(self, method: &Method) -> bool {
        index_of(method).is_some_and(|i| self.has(i))
    }

    #[inline]
    pub(crate) const fn has(self, i: usize) -> bool {
        self.0 & (1 << i) != 0
    }

    /// Whether the set is empty.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The methods a route with these handlers answers: the set, plus `HEAD` when `GET` is in
    /// it, plus `OPTIONS`.
    pub const fn allowed(self) -> Self {
        let mut bits = self.0 | Self::OPTIONS.0;
        if self.0 & Self::GET.0 != 0 {
            bits |= Self::HEAD.0;
        }
        Self(bits)
    }

    /// Whether a request with `method` is answered by a route with these handlers (see
    /// [`allowed`](Self::allowed)).
    #[inline]
    pub fn allows(self, method: &Method) -> bool {
        index_of(method).is_some_and(|i| self.allowed().has(i))
    }

    /// The methods in the set, in alphabetical order.
    pub fn iter(self) -> impl Iterator<Item = Method> {
        // Alphabetical: DELETE GET HEAD OPTIONS PATCH POST PUT.
        const SORTED: [usize; 7] = [5, 0, 1, 6, 4, 2, 3];
        SORTED
            .into_iter()
            .filter(move |&i| self.has(i))
            .map(|i| METHODS[i].clone())
    }

    /// The `Allow` header value for a route with these handlers: the methods of
    /// [`allowed`](Self::allowed), sorted and joined with `", "`.
    pub fn allow(self) -> String {
        let mut out = String::with_capacity(48);
        for method in self.allowed().iter() {
            if !out.is_empty() {
                out.push_str(", ");
            }
            out.push_str(method.as_str());
        }
        out
    }

    /// The [`allow`](Self::allow) value as a header value; compute it once and clone it.
    pub fn allow_header(self) -> HeaderValue {
        HeaderValue::from_maybe_shared(bytes::Bytes::from(self.allow()))
            .expect("method names are valid header values")
    }
}

impl BitOr for MethodSet {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl BitOrAssign for MethodSet {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for MethodSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<Method> for MethodSet {
    /// Collects the route-handler methods of an iterator; other methods are skipped.
    fn from_iter<I: IntoIterator<Item = Method>>(iter: I) -> Self {
        iter.into_iter()
            .filter_map(|m| Self::from_method(&m))
            .fold(Self::EMPTY, |a, b| a | b)
    }
}

/// What a route does with a request, decided by its method alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Action {
    /// Call the handler at this index of [`METHODS`]. A `HEAD` without a handler of its own
    /// calls the `GET` handler.
    Call(usize),
    /// `OPTIONS` without a handler: `204 No Content` with `Allow`.
    Options,
    /// `405 Method Not Allowed` with `Allow`.
    NotAllowed,
}

/// The dispatch table of a set of handlers: for each method, the [`Action`] to take, with
/// `Allow` rendered once.
///
/// This is the one place the method rules live: [`RouteHandlerService`](crate::RouteHandlerService),
/// [`MethodFilterLayer`] and [`HeadOptionsLayer`](crate::synth::HeadOptionsLayer) all ask it.
#[derive(Clone, Debug)]
pub(crate) struct Dispatch {
    actions: [Action; 7],
    methods: MethodSet,
    allow: HeaderValue,
}

impl Dispatch {
    /// The table of a service that implements `methods`.
    pub(crate) fn new(methods: MethodSet) -> Self {
        let actions = std::array::from_fn(|i| match i {
            _ if methods.has(i) => Action::Call(i),
            HEAD if methods.has(GET) => Action::Call(GET),
            OPTIONS => Action::Options,
            _ => Action::NotAllowed,
        });
        Self {
            actions,
            methods,
            allow: methods.allow_header(),
        }
    }

    /// What to do with a request of `method`. Extension and unknown methods are not allowed.
    #[inline]
    pub(crate) fn action(&self, method: &Method) -> Action {
        index_of(method).map_or(Action::NotAllowed, |i| self.actions[i])
    }

    /// The methods that have handlers.
    pub(crate) fn methods(&self) -> MethodSet {
        self.methods
    }

    /// The `Allow` header value.
    pub(crate) fn allow(&self) -> &HeaderValue {
        &self.allow
    }

    /// The response to an action that calls no handler: `204` with `Allow` for
    /// [`Action::Options`], `405` with `Allow` otherwise. Both have an empty body.
    pub(crate) fn answer<B: Default>(&self, action: Action) -> Response<B> {
        let status = match action {
            Action::Options => StatusCode::NO_CONTENT,
            Action::Call(_) | Action::NotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        };
        let mut res = Response::new(B::default());
        *res.status_mut() = status;
        res.headers_mut().insert(ALLOW, self.allow.clone());
        res
    }
}

/// How the response to a `HEAD` request is made bodiless, decided from the request before it
/// is moved: the one rule for every `HEAD` this crate answers, cached or not.
///
/// Every response to `HEAD` loses its body here, also one from a user's own `HEAD` handler:
/// HTTP/1.1 servers drop such a body, but HTTP/2 framing does not know `HEAD`, so a body
/// would reach the client (and hyper's HTTP/2 client resets the stream).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Head {
    /// The response comes from the `GET` handler, and stands for what `GET` would send.
    derived: bool,
    /// The request accepts a content coding other than `identity`, so a compression layer
    /// outside this one may still encode the `GET` response, changing its length.
    encodable: bool,
}

impl Head {
    /// For a request of `method` that the table answers with `action`: `None` unless the
    /// method is `HEAD`.
    #[inline]
    pub(crate) fn of(method: &Method, action: Action, headers: &HeaderMap) -> Option<Self> {
        (*method == Method::HEAD).then(|| Self {
            derived: action == Action::Call(GET),
            encodable: accepts_encoding(headers),
        })
    }

    /// Drops the body of `res`, keeping an honest `Content-Length`.
    ///
    /// For a response derived from `GET`:
    /// - a body of exact size sets `Content-Length` to that size, what `GET` would send;
    /// - a body of unknown size keeps the `Content-Length` the handler set, if any, so a body
    ///   of unknown length is never reported as `0`;
    /// - when the request accepts a content coding and the response has no
    ///   `Content-Encoding`, `Content-Length` is removed instead: a compression layer outside
    ///   would encode the `GET` response to a length unknown here (and drop its
    ///   `Content-Length`). RFC 9110 §9.3.2 lets a server omit such a field.
    ///
    /// A response of the service's own `HEAD` handler keeps its headers; only a body it
    /// returned is dropped, and its exact size becomes `Content-Length` when the handler set
    /// none (as an HTTP/1.1 server would send).
    ///
    /// The new body is `B::default()` (for the bodies of `http-body-util` and axum, exactly
    /// empty) unless `Content-Length` is left out for a request that accepts no coding: then
    /// it is `unsized_empty()`, an empty body that does not state its size, so that a layer
    /// outside does not fill in `content-length: 0`. For a request that accepts a coding, an
    /// exactly empty body keeps a compression layer outside from encoding the `HEAD`
    /// response (its encoder would send framing bytes, which HTTP/2 delivers as content).
    pub(crate) fn strip<B>(self, res: &mut Response<B>, unsized_empty: fn() -> B)
    where
        B: http_body::Body + Default,
    {
        if !self.derived && res.body().is_end_stream() {
            return;
        }
        // Whether the response goes out with a `Content-Length`. Worked out in place: the
        // response is not taken apart, and each header is looked up at most once.
        let mut has_length = true;
        if may_have_content_length(res.status()) {
            let exact = res.body().size_hint().exact();
            let headers = res.headers_mut();
            let length_is_final = !self.encodable || field(headers, &CONTENT_ENCODING).is_some();
            has_length = match exact {
                _ if self.derived && !length_is_final => {
                    headers.remove(CONTENT_LENGTH);
                    false
                }
                Some(len) if length_is_final && self.derived => {
                    headers.insert(CONTENT_LENGTH, decimal_value(len));
                    true
                }
                Some(len) if length_is_final => {
                    headers
                        .entry(CONTENT_LENGTH)
                        .or_insert_with(|| decimal_value(len));
                    true
                }
                _ => headers.contains_key(CONTENT_LENGTH),
            };
        }
        *res.body_mut() = if has_length || self.encodable {
            B::default()
        } else {
            unsized_empty()
        };
    }
}

/// `n` as a header value: the one rule for the numbers the crate sends (`Content-Length`,
/// `Age`). Below 10,000 the text is a slice of one static table, so a short body or an
/// entry younger than about three hours costs no allocation (a `HeaderValue` made at run time
/// holds its bytes in a new one).
pub(crate) fn decimal_value(n: u64) -> HeaderValue {
    /// The decimal texts of 0 to 9,999, one after another.
    static DIGITS: [u8; DIGITS_LEN] = {
        let mut out = [0u8; DIGITS_LEN];
        let (mut n, mut at) = (0, 0);
        while n < STATIC_DECIMALS {
            let len = digit_count(n);
            let (mut k, mut m) = (len, n);
            while k > 0 {
                k -= 1;
                out[at + k] = b'0' + (m % 10) as u8;
                m /= 10;
            }
            at += len;
            n += 1;
        }
        out
    };
    const STATIC_DECIMALS: u64 = 10_000;
    const DIGITS_LEN: usize = 10 + 90 * 2 + 900 * 3 + 9000 * 4;
    const fn digit_count(n: u64) -> usize {
        match n {
            0..=9 => 1,
            10..=99 => 2,
            100..=999 => 3,
            _ => 4,
        }
    }
    if n >= STATIC_DECIMALS {
        return HeaderValue::from(n);
    }
    let start = match n {
        0..=9 => n,
        10..=99 => 10 + (n - 10) * 2,
        100..=999 => 190 + (n - 100) * 3,
        _ => 2890 + (n - 1000) * 4,
    } as usize;
    let digits: &'static [u8] = &DIGITS[start..start + digit_count(n)];
    HeaderValue::from_maybe_shared(bytes::Bytes::from_static(digits))
        .expect("ASCII digits are a valid header value")
}

/// Up to this many fields, a map is searched by a scan: comparing a handful of names (most
/// are standard names, compared as one byte) costs less than hashing one.
const SCAN_UP_TO: usize = 16;

/// The first value of the field `name`. The one lookup of a field on the paths every request
/// takes (the dispatch table's `HEAD` rule, the cache's `If-None-Match`).
#[inline]
pub(crate) fn field<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a HeaderValue> {
    if headers.len() > SCAN_UP_TO {
        return headers.get(name);
    }
    headers.iter().find_map(|(n, v)| (n == name).then_some(v))
}

/// Whether any value of the field `name` satisfies `test`, in the order received.
#[inline]
fn any_value(
    headers: &HeaderMap,
    name: &HeaderName,
    mut test: impl FnMut(&HeaderValue) -> bool,
) -> bool {
    if headers.len() > SCAN_UP_TO {
        return headers.get_all(name).iter().any(test);
    }
    headers.iter().any(|(n, v)| n == name && test(v))
}

/// Whether `Accept-Encoding` names a coding other than `identity` that is not refused with
/// `q=0`. A value that is not visible ASCII counts as accepting one.
fn accepts_encoding(headers: &HeaderMap) -> bool {
    any_value(headers, &ACCEPT_ENCODING, |value| {
        let Ok(value) = value.to_str() else {
            return true;
        };
        value.split(',').any(|item| {
            let mut params = item.split(';');
            let coding = params.next().unwrap_or("").trim();
            if coding.is_empty() || coding.eq_ignore_ascii_case("identity") {
                return false;
            }
            !params.any(|param| {
                let param = param.trim();
                let q = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="));
                q.is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q == 0.0))
            })
        })
    })
}

/// Whether a response of `status` may carry `Content-Length` (not 1xx, 204 or 304).
pub(crate) fn may_have_content_length(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Answers `405` with `Allow` to requests whose method a [`MethodSet`] does not allow.
///
/// See the [module docs](self) for an example.
#[derive(Clone, Debug)]
pub struct MethodFilterLayer {
    dispatch: Dispatch,
}

impl MethodFilterLayer {
    /// A layer for a service that implements `methods`. `HEAD` is allowed when `GET` is in
    /// the set, and `OPTIONS` always is, so pair it with
    /// [`HeadOptionsLayer`](crate::synth::HeadOptionsLayer) when the inner service does not
    /// answer those itself.
    pub fn new(methods: MethodSet) -> Self {
        Self {
            dispatch: Dispatch::new(methods),
        }
    }
}

impl<S> Layer<S> for MethodFilterLayer {
    type Service = MethodFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodFilter {
            inner,
            dispatch: self.dispatch.clone(),
        }
    }
}

/// The service made by [`MethodFilterLayer`].
#[derive(Clone, Debug)]
pub struct MethodFilter<S> {
    inner: S,
    dispatch: Dispatch,
}

impl<S> MethodFilter<S> {
    /// Wraps `inner`, which implements `methods`.
    pub fn new(inner: S, methods: MethodSet) -> Self {
        MethodFilterLayer::new(methods).layer(inner)
    }

    /// A [`MethodFilterLayer`] for `methods`.
    pub fn layer(methods: MethodSet) -> MethodFilterLayer {
        MethodFilterLayer::new(methods)
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, consuming `self`.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MethodFilter<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body + Default + 'static,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        match self.dispatch.action(req.method()) {
            Action::NotAllowed => {
                ResponseFuture::ready(self.dispatch.answer(Action::NotAllowed), None)
            }
            Action::Call(_) | Action::Options => ResponseFuture::inner(self.inner.call(req), None),
        }
    }
}

pin_project! {
    /// The response future of this crate's services: the inner future, or a response made
    /// without calling it, with the body of a `HEAD` response stripped by the one rule.
    ///
    /// [`MethodFilter`] and [`HeadOptions`](crate::synth::HeadOptions) return it, and the
    /// futures of [`RouteHandlerService`](crate::RouteHandlerService),
    /// [`RouteTable`](crate::RouteTable) and [`CacheService`](crate::cache::CacheService)
    /// are built on it.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
        head: Option<Head>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Ready { response: Option<Response<B>> },
    }
}

impl<F, B> ResponseFuture<F, B> {
    /// The inner service's future; its response loses its body when `head` says so.
    #[inline]
    pub(crate) fn inner(future: F, head: Option<Head>) -> Self {
        Self {
            kind: Kind::Inner { future },
            head,
        }
    }

    /// A response made without calling the inner service.
    #[inline]
    pub(crate) fn ready(response: Response<B>, head: Option<Head>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
            head,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body + Default + 'static,
{
    type Output = Result<Response<B>, E>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        // Not a `HEAD`: the response passes through untouched, without a move of its own.
        let Some(head) = *this.head else {
            return match this.kind.project() {
                KindProj::Inner { future } => future.poll(cx),
                KindProj::Ready { response } => {
                    Poll::Ready(Ok(response.take().expect("polled after completion")))
                }
            };
        };
        match this.kind.project() {
            KindProj::Inner { future } => {
                let mut polled = future.poll(cx);
                if let Poll::Ready(Ok(res)) = &mut polled {
                    strip(head, res);
                }
                polled
            }
            KindProj::Ready { response } => {
                let mut res = response.take().expect("polled after completion");
                strip(head, &mut res);
                Poll::Ready(Ok(res))
            }
        }
    }
}

/// Drops the body of the answer to a `HEAD`. Kept out of line, so that the poll of every
/// other request stays small enough to inline.
#[inline(never)]
fn strip<B>(head: Head, res: &mut Response<B>)
where
    B: http_body::Body + Default + 'static,
{
    head.strip(res, unsized_empty::<B>);
}

/// An empty body that does not state its size: this crate's [`Body`] has one; any other
/// body type is exactly empty by default.
fn unsized_empty<B: Default + 'static>() -> B {
    try_downcast::<B, Body>(Body::empty_of_unknown_size()).unwrap_or_default()
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use bytes::Bytes;
    use http_body_util::Full;
    use std::{
        convert::Infallible,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    };
    use tower::{ServiceExt, service_fn};

    #[test]
    fn allow_values() {
        let cases: &[(MethodSet, &str)] = &[
            (MethodSet::POST, "OPTIONS, POST"),
            (MethodSet::GET, "GET, HEAD, OPTIONS"),
            (
                MethodSet::GET | MethodSet::POST | MethodSet::DELETE,
                "DELETE, GET, HEAD, OPTIONS, POST",
            ),
            (MethodSet::HEAD, "HEAD, OPTIONS"),
            (MethodSet::EMPTY, "OPTIONS"),
            (MethodSet::OPTIONS, "OPTIONS"),
            (
                METHODS.iter().cloned().collect(),
                "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT",
            ),
        ];
        for (set, allow) in cases {
            assert_eq!(set.allow(), *allow, "{set:?}");
            assert_eq!(set.allow_header(), *allow);
        }
    }

    #[test]
    fn allows() {
        let head_only = MethodSet::HEAD;
        assert!(!head_only.allows(&Method::GET));
        assert!(head_only.allows(&Method::HEAD));
        let post_only = MethodSet::POST;
        assert!(!post_only.allows(&Method::GET));
        assert!(!post_only.allows(&Method::HEAD));
        assert!(post_only.allows(&Method::OPTIONS));
        let get = MethodSet::GET;
        for m in ["PROPFIND", "FOO", "get", "CONNECT", "TRACE"] {
            assert!(
                !get.allows(&Method::from_bytes(m.as_bytes()).unwrap()),
                "{m}"
            );
        }
    }

    #[tokio::test]
    async fn filter_answers_405_without_calling_inner() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let svc = MethodFilter::new(
            service_fn(move |_req: Request<()>| {
                c.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::from("ok")))) }
            }),
            MethodSet::GET,
        );
        for m in ["POST", "PROPFIND", "FOO", "DELETE"] {
            let req = Request::builder().method(m).body(()).unwrap();
            let res = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED, "{m}");
            assert_eq!(res.headers()[ALLOW], "GET, HEAD, OPTIONS");
            assert_eq!(http_body::Body::size_hint(res.body()).exact(), Some(0));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        let res = svc.clone().oneshot(Request::new(())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    fn stream_body() -> crate::Body {
        crate::Body::from_stream(futures_util::stream::iter([Ok::<_, Infallible>(
            Bytes::from("abc"),
        )]))
    }

    #[test]
    fn accepts_encoding_cases() {
        let cases: &[(&[&str], bool)] = &[
            (&[], false),
            (&["identity"], false),
            (&["gzip"], true),
            (&["gzip, deflate, br"], true),
            (&["*"], true),
            (&["identity;q=1, gzip;q=0"], false),
            (&["gzip; q=0.0"], false),
            (&["gzip;Q=0.000"], false),
            (&["gzip;q=0.5"], true),
            (&["identity", "br"], true),
            (&[" , "], false),
        ];
        for (values, expected) in cases {
            let mut headers = HeaderMap::new();
            for v in *values {
                headers.append(ACCEPT_ENCODING, HeaderValue::from_static(v));
            }
            assert_eq!(accepts_encoding(&headers), *expected, "{values:?}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(
            ACCEPT_ENCODING,
            HeaderValue::from_bytes(b"gz\xffip").unwrap(),
        );
        assert!(accepts_encoding(&headers));
    }

    #[test]
    fn head_content_length_table() {
        // (derived, accept-encoding, content-encoding set, body, content-length set by the
        //  handler) -> content-length sent
        let exact = || Body::from("hello");
        type Case = (bool, Option<&'static str>, bool, Body, Option<&'static str>);
        let cases: Vec<(Case, Option<&str>)> = vec![
            ((true, None, false, exact(), None), Some("5")),
            ((true, None, false, exact(), Some("99")), Some("5")),
            ((true, None, false, Body::empty(), None), Some("0")),
            ((true, None, false, stream_body(), None), None),
            ((true, None, false, stream_body(), Some("3")), Some("3")),
            ((true, Some("gzip"), false, exact(), None), None),
            ((true, Some("gzip"), false, stream_body(), Some("3")), None),
            ((true, Some("gzip"), true, exact(), None), Some("5")),
            ((true, Some("identity"), false, exact(), None), Some("5")),
            ((false, None, false, exact(), None), Some("5")),
            ((false, None, false, exact(), Some("7")), Some("7")),
            ((false, None, false, Body::empty(), Some("12")), Some("12")),
            (
                (false, Some("gzip"), false, Body::empty(), Some("12")),
                Some("12"),
            ),
            ((false, Some("gzip"), false, exact(), None), None),
            ((false, None, false, stream_body(), None), None),
        ];
        for (i, ((derived, accept, encoded, body, handler_len), expected)) in
            cases.into_iter().enumerate()
        {
            let mut req = HeaderMap::new();
            if let Some(accept) = accept {
                req.insert(ACCEPT_ENCODING, HeaderValue::from_static(accept));
            }
            let head = Head {
                derived,
                encodable: accepts_encoding(&req),
            };
            let mut res = Response::new(body);
            if encoded {
                res.headers_mut()
                    .insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
            if let Some(len) = handler_len {
                res.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from_static(len));
            }
            let mut res = res;
            head.strip(&mut res, Body::empty_of_unknown_size);
            let sent = res
                .headers()
                .get(CONTENT_LENGTH)
                .map(|v| v.to_str().unwrap());
            assert_eq!(sent, expected, "case {i}");
            assert!(http_body::Body::is_end_stream(res.body()), "case {i}");
            // Without a length and without a coding to fear, the empty body does not state
            // its size, so no layer outside fills in `content-length: 0`.
            let unsized_body = expected.is_none() && accept.is_none();
            assert_eq!(
                http_body::Body::size_hint(res.body()).exact().is_none(),
                unsized_body,
                "case {i}"
            );
        }
    }

    #[test]
    fn content_length_values() {
        for len in [
            0u64,
            7,
            9,
            10,
            13,
            99,
            100,
            512,
            999,
            1000,
            1040,
            123_456_789,
            u64::MAX,
        ] {
            assert_eq!(decimal_value(len), len.to_string(), "{len}");
        }
        for len in 0..2000u64 {
            assert_eq!(
                decimal_value(len).to_str().unwrap().parse::<u64>().unwrap(),
                len
            );
        }
    }

    #[test]
    fn head_never_sets_content_length_on_204_or_304() {
        for status in [StatusCode::NO_CONTENT, StatusCode::NOT_MODIFIED] {
            let mut res = Response::new(Body::from("x"));
            *res.status_mut() = status;
            Head {
                derived: true,
                encodable: false,
            }
            .strip(&mut res, Body::default);
            assert!(res.headers().get(CONTENT_LENGTH).is_none(), "{status}");
        }
    }
}
