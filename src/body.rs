//! The body type that handlers read and return.
//!
//! [`Body`] is an enum over the three shapes a route-handler body takes: empty, one buffer of
//! bytes, or a boxed stream. Responses built from a `String`, `Bytes` or JSON (the common case)
//! therefore need no boxing, unlike a body that always boxes; anything else, such as a hyper
//! `Incoming` request body or a streaming response, is boxed once.

use std::{
    any::Any,
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
};

use bytes::Bytes;
use http::Response;
use http_body::{Frame, SizeHint};
use http_body_util::{BodyExt, combinators::UnsyncBoxBody};

/// A boxed error, the error type of [`Body`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request and response body used by route handlers.
///
/// # Example
///
/// ```
/// use http_body_util::BodyExt;
/// use route_handlers::Body;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let body = Body::from("hello");
/// let bytes = body.collect().await.unwrap().to_bytes();
/// assert_eq!(bytes, "hello");
/// # }
/// ```
#[must_use]
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    /// No bytes, with the size left unstated (see [`Body::empty_of_unknown_size`]).
    Unsized,
    Full(Bytes),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    /// An empty body.
    pub const fn empty() -> Self {
        Self { kind: Kind::Empty }
    }

    /// No bytes, with a size hint that does not state the size: the body of a response to
    /// `HEAD` when the length `GET` would send is not known. Layers that fill in
    /// `Content-Length` from an exact size hint (axum's `MethodRouter` does) then leave it out
    /// instead of sending `content-length: 0`.
    pub(crate) const fn empty_of_unknown_size() -> Self {
        Self {
            kind: Kind::Unsized,
        }
    }

    /// Wraps any [`http_body::Body`] whose data is [`Bytes`].
    ///
    /// A `Body` is returned as it is, and a body that is already at its end (such as the body
    /// of most `GET` requests) becomes [`Body::empty`]; neither allocates. Anything else is
    /// boxed once.
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        match try_downcast::<Body, B>(body) {
            Ok(body) => body,
            Err(body) if body.is_end_stream() => Self::empty(),
            Err(body) => Self {
                kind: Kind::Boxed(body.map_err(Into::into).boxed_unsync()),
            },
        }
    }

    /// Builds a streaming body from a [`Stream`](futures_util::Stream) of byte chunks.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http_body_util::BodyExt;
    /// use route_handlers::Body;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let chunks = futures_util::stream::iter([
    ///     Ok::<_, std::io::Error>(Bytes::from("a")),
    ///     Ok(Bytes::from("b")),
    /// ]);
    /// let body = Body::from_stream(chunks);
    /// assert_eq!(body.collect().await.unwrap().to_bytes(), "ab");
    /// # }
    /// ```
    pub fn from_stream<S, D, E>(stream: S) -> Self
    where
        S: futures_util::Stream<Item = Result<D, E>> + Send + 'static,
        D: Into<Bytes> + 'static,
        E: Into<BoxError> + 'static,
    {
        use futures_util::TryStreamExt;
        let frames = stream
            .map_ok(|data| Frame::data(data.into()))
            .map_err(Into::into);
        Self {
            kind: Kind::Boxed(http_body_util::StreamBody::new(frames).boxed_unsync()),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Empty => f.write_str("Body::Empty"),
            Kind::Unsized => f.write_str("Body::Unsized"),
            Kind::Full(bytes) => f.debug_tuple("Body::Full").field(&bytes.len()).finish(),
            Kind::Boxed(_) => f.write_str("Body::Boxed"),
        }
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    #[inline]
    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match &mut this.kind {
            Kind::Empty | Kind::Unsized => Poll::Ready(None),
            Kind::Full(_) => {
                let Kind::Full(bytes) = std::mem::replace(&mut this.kind, Kind::Empty) else {
                    unreachable!("matched Full above")
                };
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Kind::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    #[inline]
    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty | Kind::Unsized => true,
            Kind::Full(_) => false,
            Kind::Boxed(body) => body.is_end_stream(),
        }
    }

    #[inline]
    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Unsized => SizeHint::new(),
            Kind::Full(bytes) => SizeHint::with_exact(bytes.len() as u64),
            Kind::Boxed(body) => body.size_hint(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(bytes: Bytes) -> Self {
        if bytes.is_empty() {
            Self::empty()
        } else {
            Self {
                kind: Kind::Full(bytes),
            }
        }
    }
}

impl From<String> for Body {
    fn from(s: String) -> Self {
        Bytes::from(s).into()
    }
}

impl From<&'static str> for Body {
    fn from(s: &'static str) -> Self {
        Bytes::from_static(s.as_bytes()).into()
    }
}

impl From<Vec<u8>> for Body {
    fn from(v: Vec<u8>) -> Self {
        Bytes::from(v).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(v: &'static [u8]) -> Self {
        Bytes::from_static(v).into()
    }
}

impl From<()> for Body {
    fn from((): ()) -> Self {
        Self::empty()
    }
}

/// A boxed response future: handlers of different types sit side by side in one route, so
/// their futures are erased (the one allocation of a handled request).
pub(crate) type BoxResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

/// Whether a reader of a request body is waiting for bytes that have not arrived, shared
/// between the body and the code that bounds the handler reading it.
///
/// The body records it, so every reader gets the same answer: a route's body readers, an
/// extractor, or a handler that polls `req.into_body()` itself.
#[derive(Clone, Debug, Default)]
pub(crate) struct BodyWait(Arc<AtomicBool>);

impl BodyWait {
    /// Whether the body's last poll found no bytes (and the body is still read).
    pub(crate) fn is_waiting(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A body that reports into a [`BodyWait`].
struct Watched {
    inner: Body,
    wait: BodyWait,
}

impl http_body::Body for Watched {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        this.wait.0.store(polled.is_pending(), Ordering::Relaxed);
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        // A body nobody reads any more is not waited on.
        self.wait.0.store(false, Ordering::Relaxed);
    }
}

impl Body {
    /// Whether a reader may have to wait for the body: it is not held in memory.
    pub(crate) fn is_streaming(&self) -> bool {
        matches!(self.kind, Kind::Boxed(_))
    }

    /// The body, recording in `wait` whether its reader is waiting for the next bytes.
    /// A body held in memory (empty or one buffer) is never waited on and stays as it is.
    pub(crate) fn watched(self, wait: &BodyWait) -> Self {
        match self.kind {
            Kind::Boxed(_) => Self {
                kind: Kind::Boxed(
                    Watched {
                        inner: self,
                        wait: wait.clone(),
                    }
                    .boxed_unsync(),
                ),
            },
            _ => self,
        }
    }
}

/// The largest request body a route's handlers read, in bytes.
///
/// Set it per route with [`RouteHandler::body_limit`](crate::RouteHandler::body_limit); it
/// reaches the handler in its [`RouteContext`](crate::RouteContext). A body over the limit
/// is answered `413 Payload Too Large`: at once when its `Content-Length` (or the body's
/// own size hint) says so, before a byte of it is read, otherwise as soon as the bytes read
/// pass the limit.
///
/// ```
/// use route_handlers::request::BodyLimit;
///
/// assert_eq!(BodyLimit::default(), BodyLimit::DEFAULT);
/// assert_eq!(BodyLimit::DEFAULT.get(), Some(2 * 1024 * 1024));
/// assert_eq!(BodyLimit::from(1024).get(), Some(1024));
/// assert_eq!(BodyLimit::UNLIMITED.get(), None);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyLimit(usize);

impl BodyLimit {
    /// 2 MiB.
    pub const DEFAULT: Self = Self(2 * 1024 * 1024);

    /// No limit: the handler reads whatever the client sends. Use it only for handlers that
    /// stream the body somewhere rather than buffer it.
    pub const UNLIMITED: Self = Self(usize::MAX);

    /// A limit of `bytes`.
    pub const fn new(bytes: usize) -> Self {
        Self(bytes)
    }

    /// The limit in bytes, or `None` when unlimited.
    pub const fn get(self) -> Option<usize> {
        if self.0 == usize::MAX {
            None
        } else {
            Some(self.0)
        }
    }

    pub(crate) const fn bytes(self) -> usize {
        self.0
    }
}

impl Default for BodyLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl From<usize> for BodyLimit {
    fn from(bytes: usize) -> Self {
        Self(bytes)
    }
}

impl fmt::Debug for BodyLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.get() {
            Some(bytes) => write!(f, "BodyLimit({bytes} bytes)"),
            None => f.write_str("BodyLimit(unlimited)"),
        }
    }
}

/// Moves `value` into a `T` when it is one, without `unsafe`.
pub(crate) fn try_downcast<T: 'static, K: 'static>(value: K) -> Result<T, K> {
    let mut slot = Some(value);
    if let Some(slot) = <dyn Any>::downcast_mut::<Option<T>>(&mut slot) {
        Ok(slot.take().expect("slot was filled above"))
    } else {
        Err(slot.expect("slot was filled above"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;
    use http_body_util::{Empty, Full};

    #[test]
    fn empty_bodies_are_not_boxed() {
        let body = Body::new(Empty::<Bytes>::new());
        assert!(matches!(body.kind, Kind::Empty));
        let body = Body::new(Full::new(Bytes::new()));
        assert!(matches!(body.kind, Kind::Empty));
    }

    #[test]
    fn a_body_is_not_boxed_twice() {
        let body = Body::new(Body::from("abc"));
        assert!(matches!(body.kind, Kind::Full(ref b) if b.len() == 3));
    }

    #[tokio::test]
    async fn full_body_yields_its_bytes_once_with_an_exact_size() {
        let body = Body::from("hello");
        assert_eq!(body.size_hint().exact(), Some(5));
        assert!(!body.is_end_stream());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "hello");
    }

    #[tokio::test]
    async fn unsized_empty_body_ends_without_stating_its_size() {
        let body = Body::empty_of_unknown_size();
        assert!(body.is_end_stream());
        assert_eq!(body.size_hint().exact(), None);
        assert!(body.collect().await.unwrap().to_bytes().is_empty());
    }

    #[tokio::test]
    async fn boxed_body_streams() {
        let body = Body::new(Full::new(Bytes::from_static(b"xyz")));
        assert!(matches!(body.kind, Kind::Boxed(_)));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "xyz");
    }
}
