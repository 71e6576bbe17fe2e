//! `HEAD` and `OPTIONS` synthesis, as a layer around any service.
//!
//! [`HeadOptionsLayer`] is told which methods the inner service implements. For a service
//! with `GET` but no `HEAD`, a `HEAD` request is sent to it as `GET` and the body of the
//! response is dropped; `Content-Length` is then the exact length `GET` would have sent
//! (taken from the body's exact size before it is dropped), or left as the inner service set
//! it when the size is unknown, and never reported as `0` for a body of unknown length.
//! For a service without `OPTIONS`, an `OPTIONS` request is answered `204 No Content` with
//! `Allow`, and the inner service is not called. Every other request passes through.
//!
//! The layer answers only what it synthesizes; pair it with
//! [`MethodFilterLayer`](crate::method::MethodFilterLayer) for `405`s.
//! [`RouteHandlerService`](crate::RouteHandlerService) does both on its own.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Method, Request, Response, StatusCode};
//! use http_body_util::{BodyExt, Full};
//! use route_handlers::{method::MethodSet, synth::HeadOptionsLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = ServiceBuilder::new()
//!     .layer(HeadOptionsLayer::new(MethodSet::GET))
//!     .service(service_fn(|req: Request<()>| async move {
//!         assert_eq!(req.method(), Method::GET);
//!         Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from("hello"))))
//!     }));
//!
//! let head = Request::builder().method("HEAD").body(()).unwrap();
//! let res = svc.clone().oneshot(head).await.unwrap();
//! assert_eq!(res.headers()["content-length"], "5");
//! assert!(res.into_body().collect().await.unwrap().to_bytes().is_empty());
//!
//! let options = Request::builder().method("OPTIONS").body(()).unwrap();
//! let res = svc.oneshot(options).await.unwrap();
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
//! # }
//! ```

use std::{
    fmt,
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, Request, Response, StatusCode, header::CONTENT_LENGTH};
use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::method::{self, MethodSet};

/// Drops the body of a response to a `HEAD` request, keeping an honest `Content-Length`.
///
/// When the body's size is exact, `Content-Length` is set to it (what `GET` would send);
/// otherwise the header is kept only as the handler set it, so a body of unknown length is
/// never reported as `0`.
pub(crate) fn strip_body<B>(res: Response<B>) -> Response<B>
where
    B: http_body::Body + Default,
{
    let (mut parts, body) = res.into_parts();
    if let Some(len) = body.size_hint().exact() {
        if may_have_content_length(parts.status) {
            parts.headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
        }
    }
    Response::from_parts(parts, B::default())
}

fn may_have_content_length(status: StatusCode) -> bool {
    !(status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED)
}

/// Synthesizes `HEAD` from `GET` and answers `OPTIONS` for a service that lacks them.
///
/// See the [module docs](self).
#[derive(Clone, Debug)]
pub struct HeadOptionsLayer {
    methods: MethodSet,
    allow: HeaderValue,
}

impl HeadOptionsLayer {
    /// A layer for a service that implements `methods`.
    pub fn new(methods: MethodSet) -> Self {
        Self {
            methods,
            allow: methods.allow_header(),
        }
    }
}

impl<S> Layer<S> for HeadOptionsLayer {
    type Service = HeadOptions<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeadOptions {
            inner,
            methods: self.methods,
            allow: self.allow.clone(),
        }
    }
}

/// The service made by [`HeadOptionsLayer`].
#[derive(Clone, Debug)]
pub struct HeadOptions<S> {
    inner: S,
    methods: MethodSet,
    allow: HeaderValue,
}

impl<S> HeadOptions<S> {
    /// Wraps `inner`, which implements `methods`.
    pub fn new(inner: S, methods: MethodSet) -> Self {
        HeadOptionsLayer::new(methods).layer(inner)
    }

    /// A [`HeadOptionsLayer`] for `methods`.
    pub fn layer(methods: MethodSet) -> HeadOptionsLayer {
        HeadOptionsLayer::new(methods)
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HeadOptions<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body + Default,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let m = req.method();
        if *m == Method::HEAD && !self.methods.has(method::HEAD) && self.methods.has(method::GET) {
            *req.method_mut() = Method::GET;
            ResponseFuture {
                kind: Kind::Head {
                    future: self.inner.call(req),
                },
            }
        } else if *m == Method::OPTIONS && !self.methods.has(method::OPTIONS) {
            ResponseFuture {
                kind: Kind::Ready {
                    response: Some(method::with_allow(StatusCode::NO_CONTENT, &self.allow)),
                },
            }
        } else {
            ResponseFuture {
                kind: Kind::Inner {
                    future: self.inner.call(req),
                },
            }
        }
    }
}

pin_project! {
    /// The response future of [`HeadOptions`].
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        Inner { #[pin] future: F },
        Head { #[pin] future: F },
        Ready { response: Option<Response<B>> },
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body + Default,
{
    type Output = Result<Response<B>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::Head { future } => future.poll(cx).map_ok(strip_body),
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
    use crate::Body;
    use http::header::ALLOW;
    use http_body_util::BodyExt;
    use std::{
        convert::Infallible,
        sync::{
            Arc,
            atomic::{AtomicUsize, Ordering},
        },
    };
    use tower::{ServiceExt, service_fn};

    fn stream_body() -> Body {
        Body::from_stream(futures_util::stream::iter([Ok::<_, Infallible>(
            bytes::Bytes::from("abc"),
        )]))
    }

    #[tokio::test]
    async fn head_of_unknown_length_has_no_content_length() {
        let svc = HeadOptions::new(
            service_fn(|_req: Request<()>| async {
                Ok::<_, Infallible>(Response::new(stream_body()))
            }),
            MethodSet::GET,
        );
        let req = Request::builder().method("HEAD").body(()).unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert!(res.headers().get(CONTENT_LENGTH).is_none());
        assert!(
            res.into_body()
                .collect()
                .await
                .unwrap()
                .to_bytes()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn head_keeps_a_content_length_the_handler_set_for_a_stream() {
        let svc = HeadOptions::new(
            service_fn(|_req: Request<()>| async {
                let mut res = Response::new(stream_body());
                res.headers_mut()
                    .insert(CONTENT_LENGTH, HeaderValue::from_static("3"));
                Ok::<_, Infallible>(res)
            }),
            MethodSet::GET,
        );
        let req = Request::builder().method("HEAD").body(()).unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.headers()[CONTENT_LENGTH], "3");
    }

    #[tokio::test]
    async fn own_head_and_options_handlers_win() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let svc = HeadOptions::new(
            service_fn(move |req: Request<()>| {
                c.fetch_add(1, Ordering::SeqCst);
                let m = req.method().clone();
                async move {
                    let mut res = Response::new(Body::empty());
                    res.headers_mut()
                        .insert("x-method", HeaderValue::from_str(m.as_str()).unwrap());
                    Ok::<_, Infallible>(res)
                }
            }),
            MethodSet::GET | MethodSet::HEAD | MethodSet::OPTIONS,
        );
        for m in ["HEAD", "OPTIONS"] {
            let req = Request::builder().method(m).body(()).unwrap();
            let res = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(res.headers()["x-method"], m);
            assert!(res.headers().get(ALLOW).is_none());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn options_is_204_with_allow_without_calling_inner() {
        let calls = Arc::new(AtomicUsize::new(0));
        let c = calls.clone();
        let svc = HeadOptions::new(
            service_fn(move |_req: Request<()>| {
                c.fetch_add(1, Ordering::SeqCst);
                async { Ok::<_, Infallible>(Response::new(Body::empty())) }
            }),
            MethodSet::POST,
        );
        let req = Request::builder().method("OPTIONS").body(()).unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
        assert_eq!(res.headers()[ALLOW], "OPTIONS, POST");
        assert_eq!(calls.load(Ordering::SeqCst), 0);
        // HEAD on a POST-only service is not synthesized: it passes through.
        let req = Request::builder().method("HEAD").body(()).unwrap();
        svc.oneshot(req).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}
