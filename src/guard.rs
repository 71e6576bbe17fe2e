//! What a route does around every handler future: it catches a panic, logs an error that a
//! handler turned into a `500`, and cuts off a handler that runs past the route's
//! `max_duration`.
//!
//! A handler cut off while it waits for the request body (the client stalls mid-body, or
//! sends it too slowly) is answered `408 Request Timeout` instead: then the client is the
//! slow one. The request body itself reports that wait (see [`BodyWait`]), so every reader
//! gets the same answer: the body readers of `NextRequest`, an extractor, or a handler that
//! polls `req.into_body()`. Routes without a `max_duration` do not watch the body.
//!
//! All three live inside the one allocation the handler future already needs (the erased
//! handler boxes its future once; [`Guarded`] is what gets boxed), so they cost no allocation
//! per request. The timer is only created, on first poll, for routes with a `max_duration`.

use std::{
    any::Any,
    convert::Infallible,
    fmt,
    future::Future,
    panic::AssertUnwindSafe,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use futures_util::future::{CatchUnwind, FutureExt};
use http::{Request, Response, StatusCode};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use crate::{
    body::{Body, BodyLimit, BodyWait, BoxResponseFuture},
    context::RouteContext,
    method::METHODS,
    request::ReceivedAt,
    response::{HandlerError, IntoResponse},
};

/// The status a handler that runs past its route's `max_duration` is answered with.
pub(crate) const TIMEOUT_STATUS: StatusCode = StatusCode::GATEWAY_TIMEOUT;

/// The status when the handler was waiting for the request body at its deadline.
pub(crate) const BODY_TIMEOUT_STATUS: StatusCode = StatusCode::REQUEST_TIMEOUT;

/// The per-route settings applied around one handler call.
pub(crate) struct Guard {
    /// The route's pattern, for logs.
    pub(crate) route: Option<Arc<str>>,
    /// The index in [`METHODS`] of the method the request came with (`HEAD` when `HEAD` runs
    /// the `GET` handler).
    pub(crate) method: usize,
    pub(crate) max_duration: Option<Duration>,
    pub(crate) body_limit: BodyLimit,
}

impl Guard {
    /// Calls the handler through `call` and wraps its future.
    ///
    /// The deadline is taken now, before the handler starts: from the request's
    /// [`ReceivedAt`] extension when it has one, otherwise from this instant.
    #[inline]
    pub(crate) fn run<F>(
        self,
        mut req: Request<Body>,
        ctx: RouteContext,
        call: impl FnOnce(Request<Body>, RouteContext) -> F,
    ) -> BoxResponseFuture
    where
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let (deadline, wait) = match self.max_duration {
            None => (None, None),
            Some(max) => bound(&mut req, max),
        };
        let ctx = ctx.with_body_limit(self.body_limit);
        // A closure handler may run code (and panic) before it returns its future.
        match std::panic::catch_unwind(AssertUnwindSafe(move || call(req, ctx))) {
            // A route without a `max_duration` carries no timer. Each future is built in its
            // box, not moved there.
            Ok(future) => match deadline {
                None => Box::pin(Guarded {
                    future: AssertUnwindSafe(future).catch_unwind(),
                    log: self.into_log(),
                }),
                Some(deadline) => Box::pin(Timed {
                    guarded: Guarded {
                        future: AssertUnwindSafe(future).catch_unwind(),
                        log: self.into_log(),
                    },
                    sleep: None,
                    deadline,
                    wait,
                }),
            },
            Err(panic) => {
                self.into_log().panicked(&*panic);
                Box::pin(std::future::ready(Ok(
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                )))
            }
        }
    }

    fn into_log(self) -> LogFields {
        LogFields {
            route: self.route,
            method: self.method,
            max_duration: self.max_duration.unwrap_or_default(),
        }
    }
}

/// The deadline of a handler of a route with a `max_duration` of `max`, and the record of
/// whether it waits for the request body (for a body that is not in memory).
///
/// The deadline is taken now, before the handler starts: from the request's [`ReceivedAt`]
/// extension when it has one, otherwise from this instant.
#[inline(never)]
fn bound(req: &mut Request<Body>, max: Duration) -> (Option<Instant>, Option<BodyWait>) {
    let start = req
        .extensions()
        .get::<ReceivedAt>()
        .map_or_else(Instant::now, |at| at.0);
    let wait = req.body().is_streaming().then(|| {
        let wait = BodyWait::default();
        let body = std::mem::take(req.body_mut());
        *req.body_mut() = body.watched(&wait);
        wait
    });
    (Some(start + max), wait)
}

/// What a log line about a handler names.
struct LogFields {
    route: Option<Arc<str>>,
    method: usize,
    max_duration: Duration,
}

impl LogFields {
    fn route(&self) -> &str {
        self.route.as_deref().unwrap_or("(unnamed route)")
    }

    fn method(&self) -> &str {
        METHODS[self.method].as_str()
    }

    #[cold]
    fn panicked(&self, panic: &(dyn Any + Send)) {
        tracing::error!(
            route = self.route(),
            method = self.method(),
            panic = %PanicMessage(panic),
            "route handler panicked; answered 500",
        );
    }

    #[cold]
    fn failed(&self, error: &HandlerError) {
        tracing::error!(
            route = self.route(),
            method = self.method(),
            error = %error,
            "route handler failed; answered 500",
        );
    }

    #[cold]
    fn timed_out(&self) {
        tracing::error!(
            route = self.route(),
            method = self.method(),
            max_duration = ?self.max_duration,
            "route handler ran past its max_duration; answered 504",
        );
    }

    /// Not an error of the server: the client did not send the body in time.
    #[cold]
    fn body_timed_out(&self) {
        tracing::warn!(
            route = self.route(),
            method = self.method(),
            max_duration = ?self.max_duration,
            "request body did not arrive within the route's max_duration; answered 408",
        );
    }
}

/// The text of a panic payload: the message of `panic!("...")`, or a placeholder.
struct PanicMessage<'a>(&'a (dyn Any + Send));

impl fmt::Display for PanicMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = self.0.downcast_ref::<&'static str>() {
            f.write_str(s)
        } else if let Some(s) = self.0.downcast_ref::<String>() {
            f.write_str(s)
        } else {
            f.write_str("(a panic payload that is not a string)")
        }
    }
}

pin_project! {
    /// A handler future with its panic guard and error log.
    struct Guarded<F> {
        #[pin]
        future: CatchUnwind<AssertUnwindSafe<F>>,
        log: LogFields,
    }
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Response<Body>>,
{
    type Output = Result<Response<Body>, Infallible>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        Poll::Ready(Ok(match this.future.poll(cx) {
            Poll::Ready(Ok(mut res)) => {
                if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    if let Some(error) = res.extensions_mut().remove::<HandlerError>() {
                        this.log.failed(&error);
                    }
                }
                res
            }
            Poll::Ready(Err(panic)) => {
                this.log.panicked(&*panic);
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
            Poll::Pending => return Poll::Pending,
        }))
    }
}

pin_project! {
    /// A guarded handler future with a deadline.
    ///
    /// The handler is polled first, so a response that is ready when the deadline passes is
    /// still sent. When the deadline wins, the handler future is dropped with this one:
    /// it is cancelled at the `.await` it was waiting on. The timer is made at the first
    /// poll that finds the handler pending.
    struct Timed<F> {
        #[pin]
        guarded: Guarded<F>,
        #[pin]
        sleep: Option<Sleep>,
        deadline: Instant,
        // Whether the handler is waiting for the request body.
        wait: Option<BodyWait>,
    }
}

impl<F> Future for Timed<F>
where
    F: Future<Output = Response<Body>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let Poll::Ready(res) = this.guarded.as_mut().poll(cx) {
            return Poll::Ready(res);
        }
        if this.sleep.is_none() {
            this.sleep
                .set(Some(tokio::time::sleep_until(*this.deadline)));
        }
        let Some(sleep) = this.sleep.as_pin_mut() else {
            return Poll::Pending;
        };
        if sleep.poll(cx).is_pending() {
            return Poll::Pending;
        }
        let log = &this.guarded.log;
        if this.wait.as_ref().is_some_and(BodyWait::is_waiting) {
            log.body_timed_out();
            return Poll::Ready(Ok(BODY_TIMEOUT_STATUS.into_response()));
        }
        log.timed_out();
        Poll::Ready(Ok(TIMEOUT_STATUS.into_response()))
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{
            Arc, Mutex,
            atomic::{AtomicBool, Ordering},
        },
    };

    use bytes::Bytes;
    use http::Method;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::{RouteHandler, RouteHandlerService, request::NextRequest, response::HttpError};

    /// Log lines written while a test runs.
    /// Installs a global subscriber that records nothing, once per test binary.
    ///
    /// tracing rebuilds callsite interest from the calling thread's default dispatcher while only
    /// one dispatcher is registered, so a test thread without a subscriber can switch logging off
    /// for a test that captures it. A registered global dispatcher keeps rebuilds looking at all.
    fn quiet_global_subscriber() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            let _ = tracing::subscriber::set_global_default(
                tracing::subscriber::NoSubscriber::default(),
            );
        });
    }

    #[derive(Clone, Default)]
    struct Logs(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Logs {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Logs {
        fn capture() -> (Self, tracing::subscriber::DefaultGuard) {
            let logs = Self::default();
            let writer = logs.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(tracing::Level::INFO)
                .finish();
            quiet_global_subscriber();
            let guard = tracing::subscriber::set_default(subscriber);
            (logs, guard)
        }

        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    async fn send(svc: &RouteHandlerService, method: Method) -> (StatusCode, usize, Bytes) {
        let req = Request::builder()
            .method(method)
            .uri("/api/x")
            .body(Body::empty())
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        let (parts, body) = res.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (parts.status, parts.extensions.len(), body)
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_and_logged() {
        let (logs, _guard) = Logs::capture();
        let svc = RouteHandler::new()
            .get(|| async {
                if true {
                    panic!("the handler broke");
                }
                "unreachable"
            })
            .post(|| -> std::future::Ready<&'static str> { panic!("broke before its future") })
            .path("/api/x")
            .into_service();
        let (status, _, body) = send(&svc, Method::GET).await;
        assert_eq!((status, body.len()), (StatusCode::INTERNAL_SERVER_ERROR, 0));
        let (status, _, body) = send(&svc, Method::POST).await;
        assert_eq!((status, body.len()), (StatusCode::INTERNAL_SERVER_ERROR, 0));
        let (status, _, body) = send(&svc, Method::HEAD).await;
        assert_eq!((status, body.len()), (StatusCode::INTERNAL_SERVER_ERROR, 0));
        let text = logs.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        for (line, method, panic) in [
            (lines[0], "GET", "the handler broke"),
            (lines[1], "POST", "broke before its future"),
            (lines[2], "HEAD", "the handler broke"),
        ] {
            assert!(line.contains(" ERROR "), "{line}");
            assert!(
                line.contains("route handler panicked; answered 500"),
                "{line}"
            );
            assert!(line.contains("route=\"/api/x\""), "{line}");
            assert!(line.contains(&format!("method=\"{method}\"")), "{line}");
            assert!(line.contains(&format!("panic={panic}")), "{line}");
        }
    }

    #[tokio::test]
    async fn an_internal_error_is_answered_500_with_an_empty_body_and_logged() {
        let (logs, _guard) = Logs::capture();
        let svc = RouteHandler::new()
            .put(|| async {
                let err = io::Error::new(io::ErrorKind::NotFound, "no such table: users");
                Err::<&str, HttpError>(err.into())
            })
            .delete(|| async { Err::<&str, _>(crate::response::not_found()) })
            .into_service();
        let (status, extensions, body) = send(&svc, Method::PUT).await;
        assert_eq!(
            (status, extensions, body.len()),
            (StatusCode::INTERNAL_SERVER_ERROR, 0, 0)
        );
        let (status, _, _) = send(&svc, Method::DELETE).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let text = logs.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("route handler failed; answered 500"),
            "{text}"
        );
        assert!(
            text.contains("route=\"(unnamed route)\" method=\"PUT\""),
            "{text}"
        );
        assert!(text.contains("error=no such table: users"), "{text}");
    }

    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_handler_is_cut_off_at_max_duration_and_dropped() {
        let (logs, _guard) = Logs::capture();
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = dropped.clone();
        let svc = RouteHandler::new()
            .get(move || {
                let guard = SetOnDrop(flag.clone());
                async move {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    drop(guard);
                    "late"
                }
            })
            .post(|| async {
                tokio::time::sleep(Duration::from_secs(9)).await;
                "in time"
            })
            .max_duration(Duration::from_secs(10))
            .path("/slow")
            .into_service();
        let start = Instant::now();
        let (status, _, body) = send(&svc, Method::GET).await;
        assert_eq!((status, body.len()), (StatusCode::GATEWAY_TIMEOUT, 0));
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        assert!(dropped.load(Ordering::SeqCst));
        let (status, _, body) = send(&svc, Method::POST).await;
        assert_eq!((status, &body[..]), (StatusCode::OK, &b"in time"[..]));
        let text = logs.text();
        assert_eq!(text.lines().count(), 1, "{text}");
        assert!(
            text.contains("route handler ran past its max_duration; answered 504"),
            "{text}"
        );
        assert!(
            text.contains("route=\"/slow\" method=\"GET\" max_duration=10s"),
            "{text}"
        );
    }

    /// A body that sends `first`, then never sends more.
    struct Stalled(Option<Bytes>);

    impl http_body::Body for Stalled {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
            match self.0.take() {
                Some(data) => Poll::Ready(Some(Ok(http_body::Frame::data(data)))),
                None => Poll::Pending,
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn every_reader_of_a_stalled_body_gets_408() {
        let svc = RouteHandler::new()
            .post(|req: Request<Body>| async move {
                req.into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .is_ok()
                    .to_string()
            })
            .put(|body: Body| async move {
                body.collect()
                    .await
                    .map(|b| b.to_bytes())
                    .is_ok()
                    .to_string()
            })
            .patch(|req: NextRequest| async move {
                let mut stream = req.into_body_stream();
                while futures_util::StreamExt::next(&mut stream).await.is_some() {}
                "read"
            })
            .max_duration(Duration::from_secs(10))
            .into_service();
        for method in ["POST", "PUT", "PATCH"] {
            let req = Request::builder()
                .method(method)
                .body(Body::new(Stalled(Some(Bytes::from_static(b"abc")))))
                .unwrap();
            let res = svc.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT, "{method}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_stalled_request_body_is_408_not_504() {
        let (logs, _guard) = Logs::capture();
        let svc = RouteHandler::new()
            .post(|mut req: NextRequest| async move { req.text().await })
            .put(|mut req: NextRequest| async move {
                // The body arrives, then the handler itself is slow: the server's fault.
                let text = req.text().await?;
                tokio::time::sleep(Duration::from_secs(60)).await;
                Ok::<_, crate::request::Rejection>(text)
            })
            .max_duration(Duration::from_secs(10))
            .path("/upload")
            .into_service();
        let start = Instant::now();
        let req = Request::post("/upload")
            .body(Body::new(Stalled(Some(Bytes::from_static(b"abc")))))
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
        let req = Request::put("/upload").body(Body::from("abc")).unwrap();
        let res = svc.oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        let text = logs.text();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert!(lines[0].contains(" WARN "), "{text}");
        assert!(
            lines[0].contains(
                "request body did not arrive within the route's max_duration; answered 408"
            ),
            "{text}"
        );
        assert!(
            lines[0].contains("route=\"/upload\" method=\"POST\" max_duration=10s"),
            "{text}"
        );
        assert!(lines[1].contains(" ERROR "), "{text}");
        assert!(
            lines[1].contains("route handler ran past its max_duration; answered 504"),
            "{text}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn max_duration_counts_from_received_at() {
        let svc = RouteHandler::new()
            .get(|| async {
                tokio::time::sleep(Duration::from_secs(5)).await;
                "done"
            })
            .max_duration(Duration::from_secs(10))
            .into_service();
        let arrived = Instant::now();
        tokio::time::advance(Duration::from_secs(7)).await;
        let mut req = Request::new(Body::empty());
        req.extensions_mut().insert(ReceivedAt(arrived));
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(arrived.elapsed(), Duration::from_secs(10));

        // Without the extension the clock starts when the service is called.
        let res = svc.oneshot(Request::new(Body::empty())).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_route_body_limit_reaches_handlers_and_services() {
        let svc =
            RouteHandler::new()
                .post(|mut req: NextRequest| async move {
                    req.bytes().await.map(|b| b.len().to_string())
                })
                .put(|req: Request<Body>, ctx: RouteContext| async move {
                    let mut req = NextRequest::new(req).with_body_limit(ctx.body_limit());
                    req.bytes().await.map(|b| b.len().to_string())
                })
                .on_service(
                    crate::method::MethodSet::PATCH,
                    tower::service_fn(|req: Request<Body>| async move {
                        let mut req = NextRequest::new(req);
                        Ok::<_, std::convert::Infallible>(
                            req.bytes()
                                .await
                                .map(|b| b.len().to_string())
                                .into_response(),
                        )
                    }),
                )
                .body_limit(3)
                .into_service();
        for method in [Method::POST, Method::PUT, Method::PATCH] {
            for (body, status) in [
                ("abc", StatusCode::OK),
                ("abcd", StatusCode::PAYLOAD_TOO_LARGE),
            ] {
                let req = Request::builder()
                    .method(method.clone())
                    .body(Body::from(body))
                    .unwrap();
                let res = svc.clone().oneshot(req).await.unwrap();
                assert_eq!(res.status(), status, "{method} {body}");
            }
        }
    }
}
