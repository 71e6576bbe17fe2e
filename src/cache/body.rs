//! Buffering a response body up to the size cap, and the body that streams on past it.

use std::{
    collections::VecDeque,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::{Bytes, BytesMut};
use http_body::{Body as _, Frame, SizeHint};
use http_body_util::BodyExt;

use crate::body::{Body, BoxError};

/// A body read up to the cap.
pub(crate) enum Collected {
    /// The whole body, at most the cap (trailers are dropped).
    Full(Bytes),
    /// The chunks read before the body went over the cap, and the rest of it.
    Over { chunks: Vec<Bytes>, rest: Body },
}

/// Reads `body` while it stays within `max` bytes.
pub(crate) async fn collect_capped(mut body: Body, max: usize) -> Result<Collected, BoxError> {
    if body.size_hint().lower() > max as u64 {
        return Ok(Collected::Over {
            chunks: Vec::new(),
            rest: body,
        });
    }
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut len = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        len += data.len();
        chunks.push(data);
        if len > max {
            return Ok(Collected::Over { chunks, rest: body });
        }
    }
    Ok(Collected::Full(match chunks.len() {
        0 => Bytes::new(),
        1 => chunks.pop().expect("one chunk"),
        _ => {
            let mut all = BytesMut::with_capacity(len);
            for chunk in chunks {
                all.extend_from_slice(&chunk);
            }
            all.freeze()
        }
    }))
}

/// Chunks already read, then the rest of the body.
pub(crate) struct PrefixedBody {
    chunks: VecDeque<Bytes>,
    rest: Body,
}

impl PrefixedBody {
    pub(crate) fn new(chunks: Vec<Bytes>, rest: Body) -> Self {
        Self {
            chunks: chunks.into(),
            rest,
        }
    }
}

impl http_body::Body for PrefixedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match this.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            None => Pin::new(&mut this.rest).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && self.rest.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let buffered: u64 = self.chunks.iter().map(|c| c.len() as u64).sum();
        let rest = self.rest.size_hint();
        let mut hint = SizeHint::new();
        hint.set_lower(rest.lower() + buffered);
        if let Some(upper) = rest.upper() {
            hint.set_upper(upper + buffered);
        }
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;

    fn chunked(parts: &[&'static str]) -> Body {
        Body::from_stream(futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok::<_, Infallible>(Bytes::from_static(p.as_bytes())))
                .collect::<Vec<_>>(),
        ))
    }

    #[tokio::test]
    async fn within_the_cap_is_collected() {
        let Collected::Full(bytes) = collect_capped(chunked(&["ab", "cd"]), 4).await.unwrap()
        else {
            panic!("expected the whole body");
        };
        assert_eq!(bytes, "abcd");
    }

    #[tokio::test]
    async fn past_the_cap_the_body_streams_on_intact() {
        let Collected::Over { chunks, rest } = collect_capped(chunked(&["ab", "cd", "ef"]), 3)
            .await
            .unwrap()
        else {
            panic!("expected to go over");
        };
        assert_eq!(chunks.len(), 2);
        let body = PrefixedBody::new(chunks, rest);
        assert_eq!(body.collect().await.unwrap().to_bytes(), "abcdef");
    }

    #[tokio::test]
    async fn a_known_length_over_the_cap_is_not_read() {
        let Collected::Over { chunks, rest } =
            collect_capped(Body::from("0123456789"), 4).await.unwrap()
        else {
            panic!("expected to go over");
        };
        assert!(chunks.is_empty());
        let body = PrefixedBody::new(chunks, rest);
        assert_eq!(body.size_hint().exact(), Some(10));
        assert_eq!(body.collect().await.unwrap().to_bytes(), "0123456789");
    }
}
