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

use http::{HeaderValue, Method, Request, Response, StatusCode, header::ALLOW};
use pin_project_lite::pin_project;
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

/// A `405 Method Not Allowed` response with an empty body and `allow`.
pub(crate) fn method_not_allowed<B: Default>(allow: &HeaderValue) -> Response<B> {
    with_allow(StatusCode::METHOD_NOT_ALLOWED, allow)
}

/// A response of `status` with an empty body and `Allow: allow`.
pub(crate) fn with_allow<B: Default>(status: StatusCode, allow: &HeaderValue) -> Response<B> {
    let mut res = Response::new(B::default());
    *res.status_mut() = status;
    res.headers_mut().insert(ALLOW, allow.clone());
    res
}

/// Answers `405` with `Allow` to requests whose method a [`MethodSet`] does not allow.
///
/// See the [module docs](self) for an example.
#[derive(Clone, Debug)]
pub struct MethodFilterLayer {
    methods: MethodSet,
    allow: HeaderValue,
}

impl MethodFilterLayer {
    /// A layer for a service that implements `methods`. `HEAD` is allowed when `GET` is in
    /// the set, and `OPTIONS` always is, so pair it with
    /// [`HeadOptionsLayer`](crate::synth::HeadOptionsLayer) when the inner service does not
    /// answer those itself.
    pub fn new(methods: MethodSet) -> Self {
        Self {
            methods,
            allow: methods.allow_header(),
        }
    }
}

impl<S> Layer<S> for MethodFilterLayer {
    type Service = MethodFilter<S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodFilter {
            inner,
            methods: self.methods,
            allow: self.allow.clone(),
        }
    }
}

/// The service made by [`MethodFilterLayer`].
#[derive(Clone, Debug)]
pub struct MethodFilter<S> {
    inner: S,
    methods: MethodSet,
    allow: HeaderValue,
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

    /// The wrapped service, consuming `self`.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for MethodFilter<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        if self.methods.allows(req.method()) {
            ResponseFuture::inner(self.inner.call(req))
        } else {
            ResponseFuture::ready(method_not_allowed(&self.allow))
        }
    }
}

pin_project! {
    /// The response future of [`MethodFilter`] and [`HeadOptions`](crate::synth::HeadOptions):
    /// either the inner service's future or a response made without calling it.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
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
    pub(crate) fn inner(future: F) -> Self {
        Self {
            kind: Kind::Inner { future },
        }
    }

    pub(crate) fn ready(response: Response<B>) -> Self {
        Self {
            kind: Kind::Ready {
                response: Some(response),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Ready { response } => {
                Poll::Ready(Ok(response.take().expect("polled after completion")))
            }
        }
    }
}

impl<F, B> fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
