//! How an entry is written in Redis: a hash of four fields, `v` (the format), `g` (the
//! generation), `n` (the names it is invalidated by, one a line) and `d` (the response, in a
//! compact binary form that [`decode`] reads back).
//!
//! `d` is `status: u16`, `created: u64` (µs on the shared clock), `revalidate: u64` (ms,
//! `u64::MAX` for none), `fields: u16`, then each field as `name length: u16`, name,
//! `value length: u32`, value, and the body to the end; integers are big-endian.

use std::{sync::Arc, time::Duration};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use tokio::time::Instant;

use crate::cache::store::{CachedResponse, EntryMeta};

/// The format written in `v`. An entry of any other is a miss.
pub(crate) const VERSION: &str = "1";

/// The name an invalidation of every entry is recorded under: entries are checked against
/// it besides their own.
pub(crate) const ALL: &str = "*";

/// The name an invalidation of `path` is recorded under.
pub(crate) fn path_name(path: &str) -> String {
    format!("p:{path}")
}

/// The name an invalidation of `tag` is recorded under.
pub(crate) fn tag_name(tag: &str) -> String {
    format!("t:{tag}")
}

/// The names `entry` is invalidated by, one a line; `None` when a tag holds a line break
/// (such an entry is not written to Redis).
pub(crate) fn names(entry: &CachedResponse) -> Option<String> {
    let mut names = path_name(entry.path());
    for tag in entry.tags() {
        if tag.contains(['\n', '\r']) {
            return None;
        }
        names.push('\n');
        names.push_str(&tag_name(tag));
    }
    Some(names)
}

/// The path and the tags among `names` (as written in `n`).
pub(crate) fn split_names(names: &str) -> (Option<&str>, impl Iterator<Item = &str>) {
    let path = names.split('\n').find_map(|n| n.strip_prefix("p:"));
    (path, names.split('\n').filter_map(|n| n.strip_prefix("t:")))
}

/// The response of `entry`, made at `created` on the shared clock; `None` when it is
/// larger than `max` bytes.
pub(crate) fn encode(entry: &CachedResponse, created: u64, max: usize) -> Option<Vec<u8>> {
    let fields: Vec<_> = entry.headers().collect();
    let size = 2
        + 8
        + 8
        + 2
        + fields
            .iter()
            .map(|(n, v)| 6 + n.as_str().len() + v.len())
            .sum::<usize>()
        + entry.body().len();
    if size > max {
        return None;
    }
    let mut out = Vec::with_capacity(size);
    out.extend_from_slice(&entry.status().as_u16().to_be_bytes());
    out.extend_from_slice(&created.to_be_bytes());
    let revalidate = entry.revalidate().map_or(u64::MAX, |r| {
        u64::try_from(r.as_millis()).unwrap_or(u64::MAX - 1)
    });
    out.extend_from_slice(&revalidate.to_be_bytes());
    out.extend_from_slice(&u16::try_from(fields.len()).ok()?.to_be_bytes());
    for (name, value) in fields {
        out.extend_from_slice(&u16::try_from(name.as_str().len()).ok()?.to_be_bytes());
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(&u32::try_from(value.len()).ok()?.to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out.extend_from_slice(entry.body());
    Some(out)
}

/// What [`decode`] needs besides the bytes.
pub(crate) struct Decoding<'a> {
    /// The names, as written in `n`.
    pub(crate) names: &'a str,
    pub(crate) generation: u64,
    /// Now, on the shared clock and on this process's.
    pub(crate) now_shared: u64,
    pub(crate) now: Instant,
}

/// The entry written as `data`, or `None` when the bytes are not an entry of this format.
pub(crate) fn decode(data: &[u8], with: &Decoding<'_>) -> Option<CachedResponse> {
    let mut r = Reader(data);
    let status = StatusCode::from_u16(r.u16()?).ok()?;
    let created = r.u64()?;
    let revalidate = match r.u64()? {
        u64::MAX => None,
        ms => Some(Duration::from_millis(ms)),
    };
    let count = r.u16()?;
    let mut headers = HeaderMap::try_with_capacity(usize::from(count)).ok()?;
    for _ in 0..count {
        let len = usize::from(r.u16()?);
        let name = HeaderName::from_bytes(r.take(len)?).ok()?;
        let len = usize::try_from(r.u32()?).ok()?;
        let value = HeaderValue::from_bytes(r.take(len)?).ok()?;
        headers.try_append(name, value).ok()?;
    }
    let body = Bytes::copy_from_slice(r.0);
    let mut path = None;
    let mut tags: Vec<Arc<str>> = Vec::new();
    for name in with.names.split('\n') {
        if let Some(p) = name.strip_prefix("p:") {
            path = Some(p);
        } else if let Some(t) = name.strip_prefix("t:") {
            tags.push(t.into());
        } else {
            return None;
        }
    }
    let age = Duration::from_micros(with.now_shared.saturating_sub(created));
    let created = with.now.checked_sub(age).unwrap_or(with.now);
    let meta = EntryMeta::new(path?, created)
        .tags(tags)
        .revalidate(revalidate)
        .generation(with.generation);
    Some(CachedResponse::new(status, headers, body, meta))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG};

    fn entry(tags: &[&str], revalidate: Option<Duration>) -> CachedResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.append("x-two", HeaderValue::from_static("a"));
        headers.append("x-two", HeaderValue::from_static("b"));
        headers.insert(ETAG, HeaderValue::from_static("\"5-abc\""));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("s-maxage=5"));
        let tags: Vec<Arc<str>> = tags.iter().map(|&t| t.into()).collect();
        CachedResponse::new(
            StatusCode::NOT_FOUND,
            headers,
            Bytes::from_static(b"hello"),
            EntryMeta::new("/a/b", Instant::now())
                .tags(tags)
                .revalidate(revalidate)
                .generation(42),
        )
    }

    fn roundtrip(e: &CachedResponse) -> CachedResponse {
        let data = encode(e, 1_000_000, 1 << 20).unwrap();
        let names = names(e).unwrap();
        decode(
            &data,
            &Decoding {
                names: &names,
                generation: e.generation(),
                now_shared: 3_000_000,
                now: Instant::now(),
            },
        )
        .unwrap()
    }

    #[test]
    fn an_entry_reads_back_as_it_was_written() {
        for (tags, window) in [
            (&["x", "y"][..], Some(Duration::from_millis(5_500))),
            (&[][..], None),
        ] {
            let e = entry(tags, window);
            let back = roundtrip(&e);
            assert_eq!(back.status(), e.status());
            assert_eq!(back.body(), e.body());
            assert_eq!(back.path(), "/a/b");
            assert_eq!(back.tags(), e.tags());
            assert_eq!(back.revalidate(), window);
            assert_eq!(back.generation(), 42);
            let fields = |e: &CachedResponse| {
                e.headers()
                    .map(|(n, v)| (n.clone(), v.clone()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(fields(&back), fields(&e));
            // Made two seconds ago on the shared clock.
            let age = Instant::now().duration_since(back.created());
            assert!(age >= Duration::from_secs(2), "{age:?}");
        }
    }

    #[test]
    fn a_larger_entry_than_the_cap_is_not_written() {
        let e = entry(&[], None);
        let full = encode(&e, 0, usize::MAX).unwrap().len();
        assert!(encode(&e, 0, full).is_some());
        assert!(encode(&e, 0, full - 1).is_none());
    }

    #[test]
    fn a_tag_with_a_line_break_is_not_written() {
        assert!(names(&entry(&["a\nb"], None)).is_none());
        assert_eq!(
            names(&entry(&["a", "b"], None)).unwrap(),
            "p:/a/b\nt:a\nt:b"
        );
    }

    proptest::proptest! {
        /// Any bytes: an entry or `None`, never a panic.
        #[test]
        fn decoding_any_bytes_does_not_panic(data in proptest::collection::vec(proptest::num::u8::ANY, 0..200), names in "[pt]:[ -~]{0,10}") {
            let _ = decode(&data, &Decoding { names: &names, generation: 0, now_shared: 0, now: Instant::now() });
        }

        /// A truncated entry is not an entry.
        #[test]
        fn a_truncated_entry_is_refused(cut in 0usize..60) {
            let e = entry(&["t"], None);
            let data = encode(&e, 0, usize::MAX).unwrap();
            let body_at = data.len() - e.body().len();
            let cut = cut.min(body_at - 1);
            let names = names(&e).unwrap();
            let decoded = decode(&data[..cut], &Decoding { names: &names, generation: 0, now_shared: 0, now: Instant::now() });
            proptest::prop_assert!(decoded.is_none());
        }
    }
}
