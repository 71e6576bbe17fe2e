//! What a route does around every handler future: it catches a panic, logs an error that a
//! handler turned into a `500`, and cuts off a handler that runs past the route's
//! `max_duration`.
//!
//! All three live inside the one allocation the handler future already needs (the erased
//! handler boxes its future once; [`Guarded`] is what gets boxed), so they cost no allocation
//! per request. The timer is only created, on first poll, for routes with a `max_duration`.

use std::{
    any::Any,
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
    body::Body,
    context::RouteContext,
    handler::BoxResponseFuture,
    method::METHODS,
    request::{BodyLimit, ReceivedAt},
    response::{HandlerError, IntoResponse},
};

/// The status a handler that runs past its route's `max_duration` is answered with.
pub(crate) const TIMEOUT_STATUS: StatusCode = StatusCode::GATEWAY_TIMEOUT;

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
        req: Request<Body>,
        ctx: RouteContext,
        call: impl FnOnce(Request<Body>, RouteContext) -> F,
    ) -> BoxResponseFuture
    where
        F: Future<Output = Response<Body>> + Send + 'static,
    {
        let deadline = self.max_duration.map(|max| {
            let start = req
                .extensions()
                .get::<ReceivedAt>()
                .map_or_else(Instant::now, |at| at.0);
            start + max
        });
        let ctx = ctx.with_body_limit(self.body_limit);
        // A closure handler may run code (and panic) before it returns its future.
        match std::panic::catch_unwind(AssertUnwindSafe(move || call(req, ctx))) {
            Ok(future) => Box::pin(Guarded {
                future: AssertUnwindSafe(future).catch_unwind(),
                sleep: None,
                deadline,
                log: self.into_log(),
            }),
            Err(panic) => {
                self.into_log().panicked(&*panic);
                Box::pin(std::future::ready(
                    StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                ))
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
    /// A handler future with its panic guard, error log and deadline.
    ///
    /// The handler is polled first, so a response that is ready when the deadline passes is
    /// still sent. When the deadline wins, the handler future is dropped with this one:
    /// it is cancelled at the `.await` it was waiting on.
    struct Guarded<F> {
        #[pin]
        future: CatchUnwind<AssertUnwindSafe<F>>,
        #[pin]
        sleep: Option<Sleep>,
        deadline: Option<Instant>,
        log: LogFields,
    }
}

impl<F> Future for Guarded<F>
where
    F: Future<Output = Response<Body>>,
{
    type Output = Response<Body>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response<Body>> {
        let mut this = self.project();
        match this.future.poll(cx) {
            Poll::Ready(Ok(mut res)) => {
                if res.status() == StatusCode::INTERNAL_SERVER_ERROR {
                    if let Some(error) = res.extensions_mut().remove::<HandlerError>() {
                        this.log.failed(&error);
                    }
                }
                return Poll::Ready(res);
            }
            Poll::Ready(Err(panic)) => {
                this.log.panicked(&*panic);
                return Poll::Ready(StatusCode::INTERNAL_SERVER_ERROR.into_response());
            }
            Poll::Pending => {}
        }
        if let Some(deadline) = *this.deadline {
            if this.sleep.is_none() {
                this.sleep.set(Some(tokio::time::sleep_until(deadline)));
            }
            if let Some(sleep) = this.sleep.as_pin_mut() {
                if sleep.poll(cx).is_ready() {
                    this.log.timed_out();
                    return Poll::Ready(TIMEOUT_STATUS.into_response());
                }
            }
        }
        Poll::Pending
    }
}
