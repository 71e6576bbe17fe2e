//! The headers of responses served from entries: `Age`, `ETag` and `If-None-Match`, Next.js'
//! `Cache-Control`, and the status header.

use std::time::Duration;

use http::{HeaderMap, HeaderValue, Response, StatusCode, header::CONTENT_LENGTH};

use super::{
    CACHE_STATUS_HEADER, CacheStatus,
    store::{CachedResponse, UNSTORED_HEADERS},
};
use crate::{body::Body, method};

/// How long a response may be served stale at most (Next.js' default `expireTime`).
pub(crate) const EXPIRE: Duration = Duration::from_secs(31_536_000);

/// The `GET` response built from an entry: a clone of its prepared header map, with the
/// entry's `ETag`, `Age` and the status header set in place; `304` when `inm` matches the
/// entry's `ETag`.
///
/// The values are set by their position in the map, found once when the template was built,
/// so a hit hashes no header name.
#[inline]
pub(crate) fn respond(
    entry: &CachedResponse,
    status: CacheStatus,
    age: Duration,
    inm: Option<&HeaderValue>,
) -> Response<Body> {
    let template = entry.template();
    let mut headers = template.map().clone();
    // The positions ascend (`Age` and the status header are the last two), so one pass of
    // the values reaches each. The values replaced are the template's placeholders, static
    // strings whose drop frees nothing: they are forgotten rather than dropped.
    let mut values = headers.values_mut();
    let mut from = 0;
    if let (Some(etag), Some(at)) = (entry.etag_value(), template.etag_at()) {
        if let Some(value) = at.checked_sub(from).and_then(|n| values.nth(n)) {
            std::mem::forget(std::mem::replace(value, etag.clone()));
        }
        from = at + 1;
    }
    let age = age.as_secs();
    if age > 0 {
        let at = template.age_at();
        if let Some(value) = at.checked_sub(from).and_then(|n| values.nth(n)) {
            std::mem::forget(std::mem::replace(value, method::decimal_value(age)));
        }
        from = at + 1;
    }
    if status != CacheStatus::Hit {
        let at = template.status_at();
        if let Some(value) = at.checked_sub(from).and_then(|n| values.nth(n)) {
            std::mem::forget(std::mem::replace(value, status.header_value()));
        }
    }
    let not_modified = match (inm, entry.etag()) {
        (Some(inm), Some(etag)) => if_none_match(inm, etag),
        _ => false,
    };
    let mut res = if not_modified {
        let mut res = Response::new(Body::empty());
        *res.status_mut() = StatusCode::NOT_MODIFIED;
        res
    } else {
        let mut res = Response::new(Body::from(entry.body().clone()));
        *res.status_mut() = entry.status();
        res
    };
    // `Response::new` made an empty map, which holds no memory (`HeaderMap::new` does not
    // allocate, as its docs promise): it is forgotten rather than dropped.
    let empty = std::mem::replace(res.headers_mut(), headers);
    debug_assert_eq!(empty.capacity(), 0, "an empty map holds no memory");
    std::mem::forget(empty);
    res
}

/// `res` marked with the cache status.
pub(crate) fn marked(mut res: Response<Body>, status: CacheStatus) -> Response<Body> {
    res.headers_mut()
        .insert(CACHE_STATUS_HEADER, status.header_value());
    res
}

/// `500` with an empty body, marked with the cache status when the cache answered.
pub(crate) fn internal_error(status: Option<CacheStatus>) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    match status {
        Some(status) => marked(res, status),
        None => res,
    }
}

/// Removes what a cache never stores: hop-by-hop fields and those it sets itself.
pub(crate) fn strip_unstored(headers: &mut HeaderMap) {
    for name in UNSTORED_HEADERS {
        headers.remove(name);
    }
    headers.remove(CACHE_STATUS_HEADER);
}

/// Sets an exact `Content-Length` for a stored body, where the status allows one.
pub(crate) fn set_length(headers: &mut HeaderMap, status: StatusCode, len: usize) {
    if method::may_have_content_length(status) {
        headers.insert(CONTENT_LENGTH, method::decimal_value(len as u64));
    }
}

/// The `Cache-Control` sent with cached responses, in the Next.js 16 form.
pub(crate) fn cache_control(revalidate: Option<Duration>) -> HeaderValue {
    let expire = EXPIRE.as_secs();
    let value = match revalidate {
        None => format!("s-maxage={expire}, stale-while-revalidate"),
        Some(window) => {
            let secs = window
                .as_secs()
                .saturating_add(u64::from(window.subsec_nanos() > 0));
            if secs >= expire {
                format!("s-maxage={secs}")
            } else {
                format!("s-maxage={secs}, stale-while-revalidate={}", expire - secs)
            }
        }
    };
    HeaderValue::try_from(value).expect("digits and ascii are a valid header value")
}

/// A strong entity tag: the body's length and its 64-bit XXH3 hash, the same for the same
/// body in every process.
pub(crate) fn etag_of(body: &[u8]) -> HeaderValue {
    // XXH3: the same for the same bytes in every build and on every machine, so that
    // instances sharing a store send one `ETag` for one body (`DefaultHasher` is neither).
    let tag = format!(
        "\"{:x}-{:016x}\"",
        body.len(),
        xxhash_rust::xxh3::xxh3_64(body)
    );
    HeaderValue::try_from(tag).expect("hex digits are a valid header value")
}

/// Whether an `If-None-Match` value matches `etag` by the weak comparison of RFC 9110
/// §13.1.2: `*`, or a list holding the same opaque tag, with or without `W/`.
pub(crate) fn if_none_match(value: &HeaderValue, etag: &HeaderValue) -> bool {
    let want = strip_weak(etag.as_bytes());
    let mut rest = value.as_bytes();
    loop {
        rest = trim_start(rest);
        match rest {
            [] => return false,
            [b',', tail @ ..] => rest = tail,
            [b'*', tail @ ..] if trim_start(tail).first().is_none_or(|&b| b == b',') => {
                return true;
            }
            _ => {
                let tag = strip_weak(rest);
                // An opaque tag is a quoted string without inner quotes.
                let Some((b'"', inner)) = tag.split_first() else {
                    return false;
                };
                let Some(end) = inner.iter().position(|&b| b == b'"') else {
                    return false;
                };
                if &tag[..end + 2] == want {
                    return true;
                }
                rest = &inner[end + 1..];
            }
        }
    }
}

fn strip_weak(tag: &[u8]) -> &[u8] {
    tag.strip_prefix(b"W/").unwrap_or(tag)
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(bytes.len());
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::store::EntryMeta;
    use bytes::Bytes;
    use http::header::{AGE, CACHE_CONTROL, CONTENT_TYPE, ETAG};
    use proptest::prelude::*;
    use tokio::time::Instant;

    fn stored(etag: &str, body: &'static str) -> CachedResponse {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
        headers.insert(ETAG, HeaderValue::from_str(etag).unwrap());
        headers.insert(CACHE_CONTROL, cache_control(Some(Duration::from_secs(10))));
        headers.append("x-custom", HeaderValue::from_static("a"));
        headers.append("x-custom", HeaderValue::from_static("b"));
        CachedResponse::new(
            StatusCode::OK,
            headers,
            Bytes::from_static(body.as_bytes()),
            EntryMeta::new("/t", Instant::now()),
        )
    }

    fn fields(res: &Response<Body>) -> Vec<(String, String)> {
        res.headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect()
    }

    #[test]
    fn a_hit_sends_the_fields_then_age_and_status() {
        let entry = stored("\"1-a\"", "a");
        let res = respond(&entry, CacheStatus::Hit, Duration::ZERO, None);
        assert_eq!(res.status(), StatusCode::OK);
        let want = [
            ("content-type", "text/plain"),
            ("etag", "\"1-a\""),
            (
                "cache-control",
                "s-maxage=10, stale-while-revalidate=31535990",
            ),
            ("x-custom", "a"),
            ("x-custom", "b"),
            ("age", "0"),
            ("x-route-cache", "HIT"),
        ];
        let want: Vec<_> = want
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        assert_eq!(fields(&res), want);
        assert!(!res.headers().contains_key(CONTENT_LENGTH));

        let res = respond(&entry, CacheStatus::Stale, Duration::from_secs(42), None);
        assert_eq!(res.headers()[AGE], "42");
        assert_eq!(res.headers()[CACHE_STATUS_HEADER], "STALE");
        assert_eq!(res.headers()[ETAG], "\"1-a\"");
        assert_eq!(res.headers().len(), want.len());

        let inm = HeaderValue::from_static("W/\"1-a\"");
        let res = respond(&entry, CacheStatus::Hit, Duration::ZERO, Some(&inm));
        assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(res.headers()[ETAG], "\"1-a\"");
    }

    #[test]
    fn entries_with_the_same_fields_share_a_template_but_not_their_etag() {
        let a = stored("\"1-a\"", "a");
        let b = stored("\"1-b\"", "b");
        assert!(std::ptr::eq(a.template(), b.template()));
        let res = respond(&b, CacheStatus::Hit, Duration::ZERO, None);
        assert_eq!(res.headers()[ETAG], "\"1-b\"");
        let res = respond(&a, CacheStatus::Hit, Duration::ZERO, None);
        assert_eq!(res.headers()[ETAG], "\"1-a\"");
        let listed: Vec<_> = b
            .headers()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect();
        assert_eq!(listed[1], ("etag", "\"1-b\""));
        assert!(
            listed
                .iter()
                .all(|(n, _)| *n != "age" && *n != "x-route-cache")
        );
        // A different field is a different template.
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        let c = CachedResponse::new(
            StatusCode::OK,
            headers,
            Bytes::new(),
            EntryMeta::new("/c", Instant::now()),
        );
        assert!(!std::ptr::eq(a.template(), c.template()));
        let res = respond(&c, CacheStatus::Hit, Duration::ZERO, None);
        assert_eq!(res.headers()[CONTENT_TYPE], "text/html");
        assert!(!res.headers().contains_key(ETAG));
    }

    #[test]
    fn the_weight_covers_what_an_entry_holds() {
        let body = "x".repeat(1000);
        let entry = stored("\"3e8-a\"", Box::leak(body.into_boxed_str()));
        let weight = entry.weight() as usize;
        // The body buffer, the shared map of 7 fields (104 bytes each) and the entry itself.
        assert!(
            weight >= 1000 + 7 * 104 + size_of::<CachedResponse>(),
            "{weight}"
        );
        // A non-2xx entry sends its `ETag` but never answers `304`.
        let mut headers = HeaderMap::new();
        headers.insert(ETAG, HeaderValue::from_static("\"x\""));
        let moved = CachedResponse::new(
            StatusCode::NOT_FOUND,
            headers,
            Bytes::new(),
            EntryMeta::new("/m", Instant::now()),
        );
        let inm = HeaderValue::from_static("\"x\"");
        let res = respond(&moved, CacheStatus::Hit, Duration::ZERO, Some(&inm));
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(res.headers()[ETAG], "\"x\"");
    }

    #[test]
    fn ages_are_their_decimal_text() {
        for age in (0..10_003).chain([123_456, u64::MAX]) {
            assert_eq!(
                method::decimal_value(age),
                age.to_string().as_str(),
                "{age}"
            );
        }
    }

    #[test]
    fn cache_control_forms() {
        assert_eq!(
            cache_control(Some(Duration::from_secs(10))),
            "s-maxage=10, stale-while-revalidate=31535990"
        );
        assert_eq!(
            cache_control(Some(Duration::from_millis(1500))),
            "s-maxage=2, stale-while-revalidate=31535998"
        );
        assert_eq!(cache_control(Some(EXPIRE)), "s-maxage=31536000");
        assert_eq!(
            cache_control(Some(Duration::MAX)),
            format!("s-maxage={}", u64::MAX).as_str()
        );
        assert_eq!(
            cache_control(None),
            "s-maxage=31536000, stale-while-revalidate"
        );
    }

    #[test]
    fn if_none_match_table() {
        let etag = HeaderValue::from_static("\"5-abc\"");
        for (value, want) in [
            ("\"5-abc\"", true),
            ("W/\"5-abc\"", true),
            ("*", true),
            (" * ", true),
            ("\"x\", \"5-abc\"", true),
            ("\"x\",W/\"5-abc\" ", true),
            ("\"x\"", false),
            ("\"5-abc", false),
            ("5-abc", false),
            ("\"5-ab\"", false),
            ("", false),
            (",,,", false),
            ("\"a,b\", \"5-abc\"", true),
            ("*x", false),
        ] {
            let v = HeaderValue::from_str(value).unwrap();
            assert_eq!(if_none_match(&v, &etag), want, "{value:?}");
        }
        let weak = HeaderValue::from_static("W/\"1\"");
        assert!(if_none_match(&HeaderValue::from_static("\"1\""), &weak));
    }

    proptest! {
        #[test]
        fn if_none_match_never_panics(value in "[ -~]{0,64}") {
            let v = HeaderValue::from_str(&value).unwrap();
            let _ = if_none_match(&v, &HeaderValue::from_static("\"1-2\""));
        }

        #[test]
        fn a_listed_tag_matches_anywhere(
            before in proptest::collection::vec("[a-z0-9,]{0,8}", 0..4),
            after in proptest::collection::vec("[a-z0-9,]{0,8}", 0..4),
            weak in any::<bool>(),
        ) {
            let etag = "\"7-deadbeef\"";
            let mut items: Vec<String> = before.iter().map(|t| format!("\"{t}\"")).collect();
            items.push(if weak { format!("W/{etag}") } else { etag.to_owned() });
            items.extend(after.iter().map(|t| format!("\"{t}\"")));
            let v = HeaderValue::from_str(&items.join(" , ")).unwrap();
            prop_assert!(if_none_match(&v, &HeaderValue::from_static(etag)));
        }
    }

    #[test]
    fn etags_are_strong_and_differ_by_body() {
        let a = etag_of(b"hello");
        assert!(a.to_str().unwrap().starts_with("\"5-"));
        assert_eq!(a, etag_of(b"hello"));
        assert_ne!(a, etag_of(b"hellp"));
    }
}
