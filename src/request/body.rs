//! Reading a request body under a size limit.

use std::{
    fmt,
    pin::Pin,
    task::{Context, Poll, ready},
};

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use http::{HeaderMap, header::CONTENT_LENGTH};
use http_body::Body as _;

use super::Rejection;
use crate::body::{Body, BodyLimit};

/// Refuses a body whose announced length is over the limit, before reading it.
pub(crate) fn check_announced(
    headers: &HeaderMap,
    body: &Body,
    limit: BodyLimit,
) -> Result<(), Rejection> {
    let hinted = body.size_hint().lower();
    let announced = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if hinted.max(announced) > limit.bytes() as u64 {
        return Err(Rejection::payload_too_large(limit.bytes()));
    }
    Ok(())
}

/// Reads the next chunk of data, counting it into `read` against `limit`. Trailers are
/// skipped.
pub(crate) async fn next_chunk(
    body: &mut Body,
    read: &mut usize,
    limit: BodyLimit,
) -> Result<Option<Bytes>, Rejection> {
    std::future::poll_fn(|cx| poll_chunk(Pin::new(&mut *body), cx, read, limit)).await
}

fn poll_chunk(
    mut body: Pin<&mut Body>,
    cx: &mut Context<'_>,
    read: &mut usize,
    limit: BodyLimit,
) -> Poll<Result<Option<Bytes>, Rejection>> {
    loop {
        let frame = match body.as_mut().poll_frame(cx) {
            Poll::Ready(Some(frame)) => frame,
            Poll::Ready(None) => return Poll::Ready(Ok(None)),
            Poll::Pending => return Poll::Pending,
        };
        let frame = frame.map_err(Rejection::read)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        *read = read.saturating_add(data.len());
        if *read > limit.bytes() {
            return Poll::Ready(Err(Rejection::payload_too_large(limit.bytes())));
        }
        if !data.is_empty() {
            return Poll::Ready(Ok(Some(data)));
        }
    }
}

/// The most [`read_to_end`] reserves ahead of the data it has received.
const MAX_RESERVE: usize = 64 * 1024;

/// Reads the rest of the body into one buffer. A body that arrives in one chunk is
/// returned as it is, without a copy.
pub(crate) async fn read_to_end(
    body: &mut Body,
    read: &mut usize,
    limit: BodyLimit,
) -> Result<Bytes, Rejection> {
    let Some(first) = next_chunk(body, read, limit).await? else {
        return Ok(Bytes::new());
    };
    let Some(second) = next_chunk(body, read, limit).await? else {
        return Ok(first);
    };
    // Reserve what the body says is coming, but no more than `MAX_RESERVE` ahead of the
    // bytes that have arrived: a client that announces a large body and then stalls must
    // not make the server hold that much memory.
    let hint = body
        .size_hint()
        .lower()
        .min(limit.bytes() as u64)
        .min(MAX_RESERVE as u64) as usize;
    let mut buf = BytesMut::with_capacity(first.len() + second.len() + hint);
    buf.extend_from_slice(&first);
    buf.extend_from_slice(&second);
    while let Some(chunk) = next_chunk(body, read, limit).await? {
        buf.extend_from_slice(&chunk);
    }
    Ok(buf.freeze())
}

/// The request body as a [`Stream`] of chunks, under the route's limit; see
/// [`NextRequest::into_body_stream`](super::NextRequest::into_body_stream).
pub struct BodyStream {
    pub(crate) body: Body,
    pub(crate) read: usize,
    pub(crate) limit: BodyLimit,
    pub(crate) done: bool,
}

impl Stream for BodyStream {
    type Item = Result<Bytes, Rejection>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        let result = ready!(poll_chunk(
            Pin::new(&mut this.body),
            cx,
            &mut this.read,
            this.limit
        ));
        match result {
            Ok(Some(chunk)) => Poll::Ready(Some(Ok(chunk))),
            Ok(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Err(err) => {
                this.done = true;
                Poll::Ready(Some(Err(err)))
            }
        }
    }
}

impl fmt::Debug for BodyStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BodyStream")
            .field("read", &self.read)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}
