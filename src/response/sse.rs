//! Server-sent events: [`sse`], [`Sse`] and [`Event`].

use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::Stream;
use http::{
    HeaderValue, Response,
    header::{CACHE_CONTROL, CONTENT_TYPE},
};
use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};

use super::IntoResponse;
use crate::body::{Body, BoxError};

/// A `text/event-stream` response from a stream of events.
///
/// The stream's items are [`Event`]s, or `Result<Event, E>`; an `Err` ends the response
/// abruptly (the connection is reset, so the client sees an error rather than a clean end).
/// The response has `content-type: text/event-stream` and `cache-control: no-cache`. Each
/// event is sent as soon as the stream yields it.
///
/// When the client goes away, the server drops the body and with it the stream: the
/// producer notices (a `Drop`, a closed channel) and nothing is logged.
///
/// ```
/// use futures_util::stream;
/// use http_body_util::BodyExt;
/// use route_handlers::response::{Event, IntoResponse, sse};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let events = stream::iter([
///     Event::new().event("greeting").data("hello"),
///     Event::new().id("2").data("two\nlines"),
/// ]);
/// let res = sse(events).into_response();
/// assert_eq!(res.headers()["content-type"], "text/event-stream");
/// assert_eq!(res.headers()["cache-control"], "no-cache");
/// let body = res.into_body().collect().await.unwrap().to_bytes();
/// assert_eq!(
///     body,
///     "event: greeting\ndata: hello\n\nid: 2\ndata: two\ndata: lines\n\n"
/// );
/// # }
/// ```
pub fn sse<S>(events: S) -> Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: SseItem,
{
    Sse {
        events,
        keep_alive: None,
    }
}

/// A server-sent events response; see [`sse`].
#[must_use]
pub struct Sse<S> {
    events: S,
    keep_alive: Option<Duration>,
}

impl<S> Sse<S> {
    /// Sends a comment line (`:`) whenever `every` passes without an event, so that proxies
    /// and clients that close idle connections keep the stream open. Needs a tokio runtime
    /// with time enabled.
    ///
    /// ```
    /// use std::time::Duration;
    /// use futures_util::StreamExt;
    /// use http_body_util::BodyExt;
    /// use route_handlers::response::{Event, IntoResponse, sse};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let events = futures_util::stream::pending::<Event>();
    /// let res = sse(events).keep_alive(Duration::from_secs(15)).into_response();
    /// let mut body = res.into_body();
    /// let frame = body.frame().await.unwrap().unwrap();
    /// assert_eq!(frame.into_data().unwrap(), ":\n\n");
    /// # }
    /// ```
    pub fn keep_alive(mut self, every: Duration) -> Self {
        self.keep_alive = Some(every);
        self
    }
}

impl<S> fmt::Debug for Sse<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sse")
            .field("keep_alive", &self.keep_alive)
            .finish_non_exhaustive()
    }
}

const EVENT_STREAM: HeaderValue = HeaderValue::from_static("text/event-stream");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

impl<S> IntoResponse for Sse<S>
where
    S: Stream + Send + 'static,
    S::Item: SseItem,
{
    fn into_response(self) -> Response<Body> {
        let stream = EventStream {
            events: self.events,
            every: self.keep_alive,
            sleep: None,
        };
        let mut res = Response::new(Body::from_stream(stream));
        res.headers_mut().insert(CONTENT_TYPE, EVENT_STREAM);
        res.headers_mut().insert(CACHE_CONTROL, NO_CACHE);
        res
    }
}

pin_project! {
    struct EventStream<S> {
        #[pin]
        events: S,
        every: Option<Duration>,
        #[pin]
        sleep: Option<Sleep>,
    }
}

impl<S> Stream for EventStream<S>
where
    S: Stream,
    S::Item: SseItem,
{
    type Item = Result<Bytes, BoxError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        match this.events.poll_next(cx) {
            Poll::Ready(Some(item)) => {
                if let (Some(every), Some(sleep)) = (*this.every, this.sleep.as_mut().as_pin_mut())
                {
                    sleep.reset(Instant::now() + every);
                }
                return Poll::Ready(Some(item.into_event().map(Event::finish)));
            }
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => {}
        }
        let Some(every) = *this.every else {
            return Poll::Pending;
        };
        if this.sleep.is_none() {
            this.sleep.set(Some(tokio::time::sleep(every)));
        }
        let mut sleep = this.sleep.as_mut().as_pin_mut().expect("set above");
        if sleep.as_mut().poll(cx).is_ready() {
            sleep.reset(Instant::now() + every);
            return Poll::Ready(Some(Ok(Bytes::from_static(b":\n\n"))));
        }
        Poll::Pending
    }
}

/// What a stream given to [`sse`] may yield: an [`Event`], or `Result<Event, E>`.
pub trait SseItem: sealed::Sealed {
    /// The event, or the error that ends the stream.
    fn into_event(self) -> Result<Event, BoxError>;
}

impl SseItem for Event {
    fn into_event(self) -> Result<Event, BoxError> {
        Ok(self)
    }
}

impl<E: Into<BoxError>> SseItem for Result<Event, E> {
    fn into_event(self) -> Result<Event, BoxError> {
        self.map_err(Into::into)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Event {}
    impl<E> Sealed for Result<super::Event, E> {}
}

/// One server-sent event, built field by field in the order the fields are sent.
///
/// `data` may hold several lines (each becomes a `data:` line, and the client joins them
/// back with `\n`). An event name or id cannot hold a line break (nor an id a NUL): the
/// plain setters panic on one, the `try_` setters return [`InvalidEventField`].
///
/// ```
/// use std::time::Duration;
/// use route_handlers::response::Event;
///
/// let event = Event::new()
///     .comment("tick")
///     .event("update")
///     .id("7")
///     .retry(Duration::from_millis(1500))
///     .json_data(&serde_json::json!({ "n": 7 }))
///     .unwrap();
/// assert_eq!(
///     event.to_string(),
///     ": tick\nevent: update\nid: 7\nretry: 1500\ndata: {\"n\":7}\n\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct Event {
    buf: String,
}

impl Event {
    /// An event with no fields yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `data`, one `data:` line per line of it (`\n`, `\r\n` and `\r` all break lines).
    pub fn data(mut self, data: impl AsRef<str>) -> Self {
        self.lines("data", data.as_ref());
        self
    }

    /// Adds `value` serialized as JSON on one `data:` line.
    ///
    /// # Errors
    ///
    /// When the value fails to serialize.
    pub fn json_data<T: serde::Serialize + ?Sized>(
        mut self,
        value: &T,
    ) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_string(value)?;
        self.field("data", &json);
        Ok(self)
    }

    /// Adds a comment, one `:` line per line of it. Clients ignore comments.
    pub fn comment(mut self, text: impl AsRef<str>) -> Self {
        self.lines("", text.as_ref());
        self
    }

    /// Sets the event's name (`event:`), which the client's `addEventListener` listens for.
    ///
    /// # Panics
    ///
    /// When `name` holds a line break.
    #[track_caller]
    pub fn event(self, name: impl AsRef<str>) -> Self {
        match self.try_event(name) {
            Ok(event) => event,
            Err(err) => panic!("{err}"),
        }
    }

    /// Sets the event's name, or says why it cannot be one.
    pub fn try_event(mut self, name: impl AsRef<str>) -> Result<Self, InvalidEventField> {
        let name = name.as_ref();
        if name.contains(['\n', '\r']) {
            return Err(InvalidEventField {
                field: "event",
                value: name.to_owned(),
            });
        }
        self.field("event", name);
        Ok(self)
    }

    /// Sets the event's id (`id:`), which the client sends back in `Last-Event-ID` when it
    /// reconnects.
    ///
    /// # Panics
    ///
    /// When `id` holds a line break or a NUL.
    #[track_caller]
    pub fn id(self, id: impl AsRef<str>) -> Self {
        match self.try_id(id) {
            Ok(event) => event,
            Err(err) => panic!("{err}"),
        }
    }

    /// Sets the event's id, or says why it cannot be one.
    pub fn try_id(mut self, id: impl AsRef<str>) -> Result<Self, InvalidEventField> {
        let id = id.as_ref();
        if id.contains(['\n', '\r', '\0']) {
            return Err(InvalidEventField {
                field: "id",
                value: id.to_owned(),
            });
        }
        self.field("id", id);
        Ok(self)
    }

    /// Sets how long the client waits before it reconnects (`retry:`, in milliseconds).
    pub fn retry(mut self, after: Duration) -> Self {
        self.field("retry", &after.as_millis().to_string());
        self
    }

    fn field(&mut self, name: &str, value: &str) {
        self.buf.push_str(name);
        self.buf.push_str(": ");
        self.buf.push_str(value);
        self.buf.push('\n');
    }

    fn lines(&mut self, name: &str, text: &str) {
        let mut rest = text;
        loop {
            match rest.find(['\n', '\r']) {
                Some(i) => {
                    self.field(name, &rest[..i]);
                    let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
                    rest = &rest[i + skip..];
                }
                None => {
                    self.field(name, rest);
                    return;
                }
            }
        }
    }

    /// The bytes sent for the event: its fields and the blank line that ends it.
    fn finish(mut self) -> Bytes {
        self.buf.push('\n');
        Bytes::from(self.buf)
    }
}

impl fmt::Display for Event {
    /// The event as it is sent, with the blank line that ends it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.buf)?;
        f.write_str("\n")
    }
}

/// An event name or id that would break the event stream's framing.
///
/// ```
/// use route_handlers::response::Event;
///
/// let err = Event::new().try_event("a\nb").unwrap_err();
/// assert_eq!(err.to_string(), "invalid event field `event`: \"a\\nb\" holds a line break");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidEventField {
    field: &'static str,
    value: String,
}

impl fmt::Display for InvalidEventField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.value.contains('\0') && !self.value.contains(['\n', '\r']) {
            "a NUL"
        } else {
            "a line break"
        };
        write!(
            f,
            "invalid event field `{}`: {:?} holds {what}",
            self.field, self.value
        )
    }
}

impl std::error::Error for InvalidEventField {}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;
    use http_body_util::BodyExt;

    #[test]
    fn data_lines() {
        let cases = [
            ("", "data: \n\n"),
            ("a", "data: a\n\n"),
            ("a\nb", "data: a\ndata: b\n\n"),
            ("a\r\nb\rc\n", "data: a\ndata: b\ndata: c\ndata: \n\n"),
            (" lead", "data:  lead\n\n"),
        ];
        for (data, wire) in cases {
            assert_eq!(Event::new().data(data).to_string(), wire, "{data:?}");
        }
        assert_eq!(Event::new().comment("x\ny").to_string(), ": x\n: y\n\n");
    }

    #[test]
    fn invalid_fields() {
        let cases = [
            (
                Event::new().try_event("a\rb"),
                "invalid event field `event`: \"a\\rb\" holds a line break",
            ),
            (
                Event::new().try_id("1\n"),
                "invalid event field `id`: \"1\\n\" holds a line break",
            ),
            (
                Event::new().try_id("1\0"),
                "invalid event field `id`: \"1\\0\" holds a NUL",
            ),
        ];
        for (result, message) in cases {
            assert_eq!(result.unwrap_err().to_string(), message);
        }
    }

    #[test]
    #[should_panic(expected = "invalid event field `id`")]
    fn id_panics_on_a_line_break() {
        let _ = Event::new().id("a\nb");
    }

    #[tokio::test]
    async fn an_error_item_ends_the_body_with_an_error() {
        let events = futures_util::stream::iter([
            Ok(Event::new().data("1")),
            Err(std::io::Error::other("lost the feed")),
        ]);
        let mut body = sse(events).into_response().into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "data: 1\n\n");
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.to_string(), "lost the feed");
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_comments_only_when_idle() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Event>(4);
        let events =
            futures_util::stream::unfold(
                rx,
                |mut rx| async move { rx.recv().await.map(|e| (e, rx)) },
            );
        let res = sse(events.boxed())
            .keep_alive(Duration::from_secs(10))
            .into_response();
        let mut body = res.into_body();
        let start = Instant::now();
        let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(
            (frame, start.elapsed()),
            (Bytes::from(":\n\n"), Duration::from_secs(10))
        );

        tokio::time::advance(Duration::from_secs(5)).await;
        tx.send(Event::new().data("x")).await.unwrap();
        let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(frame, "data: x\n\n");
        // The idle time starts again after an event.
        let sent = Instant::now();
        let frame = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(
            (frame, sent.elapsed()),
            (Bytes::from(":\n\n"), Duration::from_secs(10))
        );

        drop(tx);
        assert!(body.frame().await.is_none());
    }
}
