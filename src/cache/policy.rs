//! [`Policy`]: one cached route's or layer's checked settings, bound to its [`Cache`], and
//! the decisions made from them: the key of a request, the request a fill is made from,
//! whether a response may be stored or shared, and the entry made of it.

use std::{
    borrow::Cow,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{
    HeaderMap, HeaderValue, Request, StatusCode, Uri,
    header::{CACHE_CONTROL, ETAG, HOST, SET_COOKIE, VARY},
    response::Parts,
};
use tokio::time::Instant;

use super::{
    Cache, CacheTags,
    config::{Mode, Settings},
    respond::{cache_control, etag_of, set_length, strip_unstored},
    store::{CacheKey, CachedResponse, EntryMeta, has_directive},
};
use crate::context::{RequestData, canonical_path};

/// The bounds of the wait before a failed regeneration is retried.
const RETRY_MIN: Duration = Duration::from_secs(3);
const RETRY_MAX: Duration = Duration::from_secs(30);

/// The bounds of how long a key whose response was over the body cap is passed through.
const TOO_LARGE_MIN: Duration = Duration::from_secs(30);
const TOO_LARGE_MAX: Duration = Duration::from_secs(300);

/// Why a response is neither stored nor shared with the requests that waited on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unshareable {
    /// `Cache-Control: no-store`, `private` or `no-cache`.
    CacheControl(&'static str),
    /// `Set-Cookie`, on a route that does not store cookies.
    SetCookie,
    /// `Vary: *`, or any `Vary` unless the route is `ForceStatic`.
    Vary,
    /// More header fields than an entry holds ([`MAX_STORED_FIELDS`]).
    TooManyFields,
}

/// The most header fields a stored response has; a response with more is passed to its
/// client alone.
pub(crate) const MAX_STORED_FIELDS: usize = 1024;

impl Unshareable {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::CacheControl(directive) => directive,
            Self::SetCookie => "set-cookie",
            Self::Vary => "vary",
            Self::TooManyFields => "too many header fields",
        }
    }
}

/// One cached route's or layer's checked settings, bound to its [`Cache`].
pub(crate) struct Policy {
    pub(crate) settings: Settings,
    pub(crate) cache: Cache,
    cache_control: HeaderValue,
    bailed: AtomicBool,
    /// The key of the route's literal path, so a request for exactly that path skips
    /// hashing.
    literal: Option<CacheKey<'static>>,
    /// The key space of this route or layer (see [`CacheKey::space`]).
    space: u64,
}

/// The next key space: each route and each layered service has its own.
static NEXT_SPACE: AtomicU64 = AtomicU64::new(1);

impl Policy {
    /// A new key space (see [`CacheKey::space`]).
    pub(crate) fn new_space() -> u64 {
        NEXT_SPACE.fetch_add(1, Ordering::Relaxed)
    }

    /// The policy of a route or layer with its own key space. `literal_path` is the route's
    /// URL when it has no dynamic segment.
    pub(crate) fn new(settings: Settings, cache: Cache, literal_path: Option<&str>) -> Self {
        Self::in_space(Self::new_space(), settings, cache, literal_path)
    }

    /// The policy, keying in `space`.
    pub(crate) fn in_space(
        space: u64,
        settings: Settings,
        cache: Cache,
        literal_path: Option<&str>,
    ) -> Self {
        let literal = literal_path
            .filter(|p| !cache.shared.key_by_host && !p.contains('['))
            .map(|p| CacheKey::new_in(space, None, p).into_owned());
        Self {
            cache_control: cache_control(settings.revalidate),
            settings,
            cache,
            bailed: AtomicBool::new(false),
            literal,
            space,
        }
    }

    /// Whether `Auto` found request data read at run time and made the route dynamic.
    pub(crate) fn bailed(&self) -> bool {
        self.bailed.load(Ordering::Relaxed)
    }

    /// Makes an `Auto` route dynamic, because a fill read `reads`; warns the first time.
    pub(crate) fn bail(&self, key: &CacheKey<'_>, reads: RequestData) {
        if !self.bailed.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                "Route {} couldn't be rendered statically because it used {reads}; \
                 its GET responses are not cached",
                self.name_for(key)
            );
        }
    }

    /// Whether the handler sees the client's request when it does not fill the cache (an
    /// `Auto` or `Error` route); a `ForceStatic` handler never does.
    pub(crate) fn runs_with_own_request(&self) -> bool {
        self.settings.mode != Mode::Static
    }

    pub(crate) fn name_for<'a>(&'a self, key: &'a CacheKey<'_>) -> &'a str {
        self.settings.name.as_deref().unwrap_or(key.path())
    }

    /// The key of `req`, or `None` when it may not share an entry: the cache is keyed by
    /// host and the request names none (or one that is not a plain authority).
    ///
    /// The path is `canonical`, the canonical path the route table matched, or the request
    /// path made canonical. The host is the request target's authority (absolute-form, or
    /// HTTP/2's `:authority`), which makes `Host` irrelevant (RFC 9112 §3.2.2), else `Host`.
    #[inline(always)]
    pub(crate) fn key_of<'r, B>(
        &'r self,
        req: &'r Request<B>,
        canonical: Option<&'r str>,
    ) -> Option<CacheKey<'r>> {
        // The route's own path, the common case, is its literal key: no hash.
        if let Some(literal) = &self.literal {
            if literal.as_str() == canonical.unwrap_or_else(|| req.uri().path()) {
                return Some(literal.borrowed());
            }
        }
        self.key_hashed(req, canonical)
    }

    /// The key of any other path, or of a cache keyed by host.
    #[inline(never)]
    fn key_hashed<'r, B>(
        &'r self,
        req: &'r Request<B>,
        canonical: Option<&'r str>,
    ) -> Option<CacheKey<'r>> {
        if self.cache.shared.key_by_host {
            return self.key_with_host(req, canonical);
        }
        Some(match canonical {
            Some(path) => CacheKey::of_canonical(self.space, path),
            None => CacheKey::new_in(self.space, None, req.uri().path()),
        })
    }

    /// The key of `req`'s path alone, for a request that names no host.
    pub(crate) fn key_without_host<B>(&self, req: &Request<B>) -> CacheKey<'static> {
        CacheKey::new_in(self.space, None, req.uri().path()).into_owned()
    }

    #[inline(never)]
    fn key_with_host<'r, B>(
        &'r self,
        req: &'r Request<B>,
        canonical: Option<&'r str>,
    ) -> Option<CacheKey<'r>> {
        let host = match req.uri().authority() {
            Some(authority) => authority.as_str().rsplit('@').next(),
            None => req.headers().get(HOST).and_then(|h| h.to_str().ok()),
        }
        .filter(|host| is_plain_authority(host))?;
        let path = canonical.map_or_else(|| canonical_path(req.uri().path()), Cow::Borrowed);
        Some(CacheKey::new_in(self.space, Some(host), &path).into_owned())
    }

    /// The request a fill runs with, made from the key alone: `GET`, the canonical path, no
    /// query, no headers but `Host` when the cache is keyed by host, no extensions, an empty
    /// body. Nothing a client sent is in it.
    ///
    /// `None` when the path is not a URI (a canonical path longer than a URI may be, since
    /// escaping lengthens it): such a request shares nothing.
    pub(crate) fn fill_request<B: Default>(&self, key: &CacheKey<'_>) -> Option<Request<B>> {
        let mut req = Request::new(B::default());
        *req.uri_mut() = Uri::try_from(key.path()).ok()?;
        if let Some(host) = key.host() {
            req.headers_mut()
                .insert(HOST, HeaderValue::try_from(host).ok()?);
        }
        Some(req)
    }

    /// Why a response may be neither stored nor shared, if it may not.
    pub(crate) fn unshareable(&self, headers: &HeaderMap) -> Option<Unshareable> {
        if headers.len() > MAX_STORED_FIELDS {
            return Some(Unshareable::TooManyFields);
        }
        for value in headers.get_all(CACHE_CONTROL) {
            for directive in ["no-store", "private", "no-cache"] {
                if has_directive(value, directive) {
                    return Some(Unshareable::CacheControl(directive));
                }
            }
        }
        if !self.settings.cache_set_cookie && headers.contains_key(SET_COOKIE) {
            return Some(Unshareable::SetCookie);
        }
        for value in headers.get_all(VARY) {
            let star = value
                .to_str()
                .map_or(true, |v| v.split(',').any(|f| f.trim() == "*"));
            if star || self.settings.mode != Mode::Static {
                return Some(Unshareable::Vary);
            }
        }
        None
    }

    /// Whether a response of `status` may be stored: below 400, or 404.
    pub(crate) fn storable(status: StatusCode) -> bool {
        (200..400).contains(&status.as_u16()) || status == StatusCode::NOT_FOUND
    }

    /// The route's tags and those the response carries.
    pub(crate) fn tags_of(&self, parts: &Parts) -> Vec<Arc<str>> {
        let mut tags = self.settings.tags.to_vec();
        if let Some(extra) = parts.extensions.get::<CacheTags>() {
            for tag in extra.as_slice() {
                if !tags.contains(tag) {
                    tags.push(tag.clone());
                }
            }
        }
        tags
    }

    /// The entry for a response the origin produced.
    pub(crate) fn entry(
        &self,
        key: &CacheKey<'static>,
        parts: Parts,
        body: Bytes,
        generation: u64,
    ) -> CachedResponse {
        let tags = self.tags_of(&parts);
        let Parts {
            status,
            mut headers,
            ..
        } = parts;
        strip_unstored(&mut headers);
        set_length(&mut headers, status, body.len());
        if status.is_success() && !headers.contains_key(ETAG) {
            headers.insert(ETAG, etag_of(&body));
        }
        if !headers.contains_key(CACHE_CONTROL) {
            headers.insert(CACHE_CONTROL, self.cache_control.clone());
        }
        let meta = EntryMeta::new(key.shared_path(), Instant::now())
            .tags(tags)
            .revalidate(self.settings.revalidate)
            .generation(generation);
        CachedResponse::new(status, headers, body, meta)
    }

    /// When the next regeneration may start after a failed one: the revalidate window,
    /// clamped to 3–30 s, as Next.js retries.
    pub(crate) fn retry_at(&self) -> Instant {
        let window = self.settings.revalidate.unwrap_or(RETRY_MAX);
        Instant::now() + window.clamp(RETRY_MIN, RETRY_MAX)
    }

    /// Until when a key whose response was over the body cap streams straight through: the
    /// revalidate window clamped to 30 s – 5 min.
    pub(crate) fn too_large_until(&self) -> Instant {
        let window = self.settings.revalidate.unwrap_or(TOO_LARGE_MAX);
        Instant::now() + window.clamp(TOO_LARGE_MIN, TOO_LARGE_MAX)
    }
}

/// Whether `host` can stand before a path in a key: a non-empty authority without a path,
/// query, fragment or user information, so that no two host–path pairs share a key.
fn is_plain_authority(host: &str) -> bool {
    !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'@' | b'\\'))
}
