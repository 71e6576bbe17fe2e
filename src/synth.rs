//! `HEAD` and `OPTIONS` synthesis, as a layer around any service.
//!
//! [`HeadOptionsLayer`] is told which methods the inner service implements. For a service
//! with `GET` but no `HEAD`, a `HEAD` request is sent to it as `GET` and the body of the
//! response is dropped; `Content-Length` is then the exact length `GET` would have sent
//! (taken from the body's exact size before it is dropped), or left as the inner service set
//! it when the size is unknown, and never reported as `0` for a body of unknown length.
//! For a service without `OPTIONS`, an `OPTIONS` request is answered `204 No Content` with
//! `Allow`, and the inner service is not called. Every other request passes through, and
//! the response to any `HEAD` loses its body (HTTP/2 framing does not know `HEAD`, so a body
//! a `HEAD` handler returns would otherwise reach the client).
//!
//! The layer answers only what it synthesizes; pair it with
//! [`MethodFilterLayer`](crate::method::MethodFilterLayer) for `405`s.
//! [`RouteHandlerService`](crate::RouteHandlerService) does both on its own, by the same rules.
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
//!
//! # Compression
//!
//! A compression layer (tower-http's `CompressionLayer`) outside the service changes the
//! length of a `GET` response after this layer has measured it, and leaves the empty `HEAD`
//! response as it is. So when the request accepts a content coding (`Accept-Encoding` names
//! one other than `identity`) and the response has no `Content-Encoding` yet, a `HEAD`
//! derived from `GET` is sent without `Content-Length` (RFC 9110 §9.3.2 allows omitting it),
//! rather than with the length of the unencoded body. A request without `Accept-Encoding`
//! (such as `curl -I`) gets the exact length.
//!
//! Put the compression layer *inside* the synthesis to get `HEAD` headers that match `GET`
//! exactly (`Content-Encoding`, `Vary`): `HeadOptionsLayer` outermost, then
//! `CompressionLayer`, then the service.
//!
//! The empty body of such a response states its size, `0`, so that a compression layer
//! outside leaves it empty (a gzip encoder would send framing bytes, which HTTP/2 delivers
//! as content). axum's `MethodRouter` fills in `Content-Length` from that size: mounted with
//! `any_service` or `get_service`, a `HEAD` that accepts a coding is answered with
//! `content-length: 0`. Mount routes in axum with `Router::route_service`, `nest_service` or
//! `fallback_service`, which pass the answer through unchanged.
//!
//! # CORS
//!
//! tower-http's `CorsLayer` treats every `OPTIONS` request as a CORS preflight and answers it
//! itself, without calling the service inside it. Placed outside a route, it therefore
//! answers plain `OPTIONS` requests too: the route's own `OPTIONS` handler and the
//! synthesized `204` with `Allow` never run. To let a plain `OPTIONS` reach the route, send
//! only preflights (`OPTIONS` with `Access-Control-Request-Method`) and the other methods
//! through the `CorsLayer`, and plain `OPTIONS` straight to the route (it then carries no
//! CORS response headers, which only matters to a browser sending `OPTIONS` itself across
//! origins):
//!
//! ```
//! use futures_util::future::Either;
//! use http::{Method, Request, StatusCode, header};
//! use route_handlers::{Body, RouteHandler};
//! use tower::{Layer, ServiceExt, service_fn};
//! use tower_http::cors::{Any, CorsLayer};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let route = RouteHandler::new().get(|| async { "hi" }).into_service();
//! let cors = CorsLayer::new().allow_origin(Any).allow_methods([Method::GET]);
//! let with_cors = cors.layer(route.clone());
//! let app = service_fn(move |req: Request<Body>| {
//!     let preflight = req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
//!     if req.method() == Method::OPTIONS && !preflight {
//!         Either::Left(route.clone().oneshot(req))
//!     } else {
//!         Either::Right(with_cors.clone().oneshot(req))
//!     }
//! });
//!
//! let plain = Request::builder().method("OPTIONS").body(Body::empty()).unwrap();
//! let res = app.clone().oneshot(plain).await.unwrap();
//! assert_eq!(res.status(), StatusCode::NO_CONTENT);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
//!
//! let preflight = Request::builder()
//!     .method("OPTIONS")
//!     .header("origin", "https://example.com")
//!     .header("access-control-request-method", "GET")
//!     .body(Body::empty())
//!     .unwrap();
//! let res = app.oneshot(preflight).await.unwrap();
//! assert_eq!(res.headers()["access-control-allow-origin"], "*");
//! assert_eq!(res.headers()["access-control-allow-methods"], "GET");
//! # }
//! ```

use std::task::{Context, Poll};

use http::{Method, Request, Response};
use tower_layer::Layer;
use tower_service::Service;

#[doc(inline)]
pub use crate::method::ResponseFuture;
use crate::method::{Action, Dispatch, Head, METHODS, MethodSet};

/// Synthesizes `HEAD` from `GET` and answers `OPTIONS` for a service that lacks them.
///
/// See the [module docs](self).
#[derive(Clone, Debug)]
pub struct HeadOptionsLayer {
    dispatch: Dispatch,
}

impl HeadOptionsLayer {
    /// A layer for a service that implements `methods`.
    pub fn new(methods: MethodSet) -> Self {
        Self {
            dispatch: Dispatch::new(methods),
        }
    }
}

impl<S> Layer<S> for HeadOptionsLayer {
    type Service = HeadOptions<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HeadOptions {
            inner,
            dispatch: self.dispatch.clone(),
        }
    }
}

/// The service made by [`HeadOptionsLayer`].
#[derive(Clone, Debug)]
pub struct HeadOptions<S> {
    inner: S,
    dispatch: Dispatch,
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

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, consuming `self`.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for HeadOptions<S>
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

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let action = self.dispatch.action(req.method());
        let head = Head::of(req.method(), action, req.headers());
        match action {
            // The inner service picks its handler by method: `HEAD` goes to it as `GET`.
            Action::Call(i) => {
                if *req.method() == Method::HEAD && i != crate::method::HEAD {
                    *req.method_mut() = METHODS[i].clone();
                }
                ResponseFuture::inner(self.inner.call(req), head)
            }
            Action::Options => ResponseFuture::ready(self.dispatch.answer(action), None),
            // Not synthesized: the inner service answers (and a `HEAD` response still loses
            // its body).
            Action::NotAllowed => ResponseFuture::inner(self.inner.call(req), head),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;
    use http::{
        HeaderValue, StatusCode,
        header::{ALLOW, CONTENT_LENGTH},
    };
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
    async fn a_head_response_with_a_body_from_the_inner_service_loses_it() {
        let svc = HeadOptions::new(
            service_fn(|_req: Request<()>| async {
                Ok::<_, Infallible>(Response::new(Body::from("abc")))
            }),
            MethodSet::HEAD,
        );
        let req = Request::builder().method("HEAD").body(()).unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.headers()[CONTENT_LENGTH], "3");
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
