//! `Set-Cookie` on a response: [`SetCookieExt`].

use std::fmt;

use cookie::Cookie;
use http::{HeaderMap, HeaderValue, Response, header::SET_COOKIE};

/// Sets and deletes cookies on a response, as `response.cookies.set(...)` and
/// `response.cookies.delete(name)` do in Next.js: one `Set-Cookie` header per cookie.
///
/// - The name and value are percent-encoded (the `cookie` crate's encoding), so any text
///   is safe to set; the request side ([`Cookies`](crate::request::Cookies)) decodes it.
/// - A cookie without a `Path` gets `Path=/`, as in Next.js, so that it is sent back for
///   the whole site rather than only under the handler's directory.
/// - Setting or deleting a cookie replaces a `Set-Cookie` set earlier on the same response
///   under the same name, so each name has one header.
/// - Deleting sends an empty value with `Max-Age=0` and an expiry in the past.
///
/// A cookie whose name is empty, or whose `Path` or `Domain` holds a control character or
/// `;` (which would inject attributes), is refused: the plain methods panic, the `try_`
/// methods return [`InvalidCookie`]. In a handler, such a panic is answered `500`.
///
/// Implemented for [`Response`] and [`HeaderMap`] (for `(HeaderMap, T)` responses).
///
/// ```
/// use route_handlers::{cookie::{Cookie, SameSite}, response::{self, SetCookieExt}};
///
/// let mut res = response::json(serde_json::json!({ "ok": true }));
/// res.set_cookie(
///     Cookie::build(("session", "a b"))
///         .http_only(true)
///         .same_site(SameSite::Lax)
///         .max_age(route_handlers::cookie::time::Duration::hours(1)),
/// );
/// res.delete_cookie("legacy");
/// let set: Vec<_> = res.headers().get_all("set-cookie").iter().collect();
/// assert_eq!(set[0], "session=a%20b; HttpOnly; SameSite=Lax; Path=/; Max-Age=3600");
/// assert_eq!(
///     set[1],
///     "legacy=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
/// );
/// ```
pub trait SetCookieExt: Sized + sealed::Sealed {
    /// Adds a `Set-Cookie` header for `cookie`.
    ///
    /// # Panics
    ///
    /// When the cookie is invalid (see [`try_set_cookie`](Self::try_set_cookie)).
    #[track_caller]
    fn set_cookie<'c>(&mut self, cookie: impl Into<Cookie<'c>>) {
        if let Err(err) = self.try_set_cookie(cookie) {
            panic!("{err}")
        }
    }

    /// Adds a `Set-Cookie` header for `cookie`, or says why it cannot.
    fn try_set_cookie<'c>(&mut self, cookie: impl Into<Cookie<'c>>) -> Result<(), InvalidCookie>;

    /// Adds a `Set-Cookie` header that deletes the cookie: a name (`"session"`), or a
    /// cookie with the `Path` and `Domain` it was set with.
    ///
    /// # Panics
    ///
    /// When the cookie is invalid (see [`try_set_cookie`](Self::try_set_cookie)).
    #[track_caller]
    fn delete_cookie<'c>(&mut self, cookie: impl Into<Cookie<'c>>) {
        if let Err(err) = self.try_delete_cookie(cookie) {
            panic!("{err}")
        }
    }

    /// Adds a `Set-Cookie` header that deletes the cookie, or says why it cannot.
    fn try_delete_cookie<'c>(
        &mut self,
        cookie: impl Into<Cookie<'c>>,
    ) -> Result<(), InvalidCookie> {
        let mut cookie = cookie.into();
        cookie.set_value("");
        cookie.set_max_age(cookie::time::Duration::ZERO);
        cookie.set_expires(cookie::time::OffsetDateTime::UNIX_EPOCH);
        self.try_set_cookie(cookie)
    }

    /// [`set_cookie`](Self::set_cookie), by value.
    ///
    /// # Panics
    ///
    /// When the cookie is invalid.
    #[track_caller]
    fn with_cookie<'c>(mut self, cookie: impl Into<Cookie<'c>>) -> Self {
        self.set_cookie(cookie);
        self
    }

    /// [`delete_cookie`](Self::delete_cookie), by value.
    ///
    /// # Panics
    ///
    /// When the cookie is invalid.
    #[track_caller]
    fn without_cookie<'c>(mut self, cookie: impl Into<Cookie<'c>>) -> Self {
        self.delete_cookie(cookie);
        self
    }
}

impl SetCookieExt for HeaderMap {
    fn try_set_cookie<'c>(&mut self, cookie: impl Into<Cookie<'c>>) -> Result<(), InvalidCookie> {
        let value = render(cookie.into())?;
        replace_or_append(self, value);
        Ok(())
    }
}

impl<B> SetCookieExt for Response<B> {
    fn try_set_cookie<'c>(&mut self, cookie: impl Into<Cookie<'c>>) -> Result<(), InvalidCookie> {
        self.headers_mut().try_set_cookie(cookie)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for http::HeaderMap {}
    impl<B> Sealed for http::Response<B> {}
}

/// Checks the cookie and renders its `Set-Cookie` value.
fn render(mut cookie: Cookie<'_>) -> Result<HeaderValue, InvalidCookie> {
    let invalid = |cookie: &Cookie<'_>, reason| InvalidCookie {
        name: cookie.name().to_owned(),
        reason,
    };
    if cookie.name().is_empty() {
        return Err(invalid(&cookie, Reason::EmptyName));
    }
    if cookie.path().is_some_and(unsafe_attribute) {
        return Err(invalid(&cookie, Reason::Path));
    }
    if cookie.domain().is_some_and(unsafe_attribute) {
        return Err(invalid(&cookie, Reason::Domain));
    }
    if cookie.path().is_none() {
        cookie.set_path("/");
    }
    let text = cookie.encoded().to_string();
    // The name and value are percent-encoded and the attributes checked above.
    HeaderValue::try_from(text).map_err(|_| invalid(&cookie, Reason::Path))
}

fn unsafe_attribute(value: &str) -> bool {
    value.bytes().any(|b| b == b';' || b.is_ascii_control())
}

/// The encoded name of a `Set-Cookie` value: what comes before the first `=`.
fn name_of(value: &HeaderValue) -> &[u8] {
    let bytes = value.as_bytes();
    let end = bytes.iter().position(|&b| b == b'=').unwrap_or(bytes.len());
    &bytes[..end]
}

fn replace_or_append(headers: &mut HeaderMap, value: HeaderValue) {
    let name = name_of(&value);
    let duplicate = headers
        .get_all(SET_COOKIE)
        .iter()
        .any(|old| name_of(old) == name);
    if duplicate {
        let kept: Vec<HeaderValue> = headers
            .get_all(SET_COOKIE)
            .iter()
            .filter(|old| name_of(old) != name)
            .cloned()
            .collect();
        headers.remove(SET_COOKIE);
        for old in kept {
            headers.append(SET_COOKIE, old);
        }
    }
    headers.append(SET_COOKIE, value);
}

/// A cookie that cannot be sent in a `Set-Cookie` header.
///
/// ```
/// use route_handlers::{cookie::Cookie, response::SetCookieExt};
///
/// let mut headers = http::HeaderMap::new();
/// let cookie = Cookie::build(("a", "1")).path("/x; Domain=evil.test");
/// let err = headers.try_set_cookie(cookie).unwrap_err();
/// assert_eq!(err.to_string(), "invalid cookie `a`: its path holds `;` or a control character");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidCookie {
    name: String,
    reason: Reason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reason {
    EmptyName,
    Path,
    Domain,
}

impl fmt::Display for InvalidCookie {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::EmptyName => f.write_str("invalid cookie: its name is empty"),
            Reason::Path => write!(
                f,
                "invalid cookie `{}`: its path holds `;` or a control character",
                self.name
            ),
            Reason::Domain => write!(
                f,
                "invalid cookie `{}`: its domain holds `;` or a control character",
                self.name
            ),
        }
    }
}

impl std::error::Error for InvalidCookie {}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_cookies(headers: &HeaderMap) -> Vec<&str> {
        headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    #[test]
    fn one_header_per_cookie_and_a_later_set_replaces_an_earlier_one() {
        let mut headers = HeaderMap::new();
        headers.set_cookie(("a", "1"));
        headers.set_cookie(("b", "2"));
        headers.set_cookie(("ab", "3"));
        headers.set_cookie(("a", "4"));
        assert_eq!(
            set_cookies(&headers),
            ["b=2; Path=/", "ab=3; Path=/", "a=4; Path=/"]
        );
        headers.delete_cookie("b");
        assert_eq!(
            set_cookies(&headers),
            [
                "ab=3; Path=/",
                "a=4; Path=/",
                "b=; Path=/; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
            ]
        );
    }

    #[test]
    fn names_and_values_are_percent_encoded_and_paths_kept() {
        let mut headers = HeaderMap::new();
        headers.set_cookie(
            Cookie::build(("a b;c", "v=1; Secure\r\n"))
                .path("/app")
                .secure(true),
        );
        headers.delete_cookie(Cookie::build("x").path("/p").domain("example.com"));
        assert_eq!(
            set_cookies(&headers),
            [
                "a%20b%3Bc=v%3D1%3B%20Secure%0D%0A; Secure; Path=/app",
                "x=; Path=/p; Domain=example.com; Max-Age=0; Expires=Thu, 01 Jan 1970 00:00:00 GMT"
            ]
        );
    }

    #[test]
    fn invalid_cookies_are_refused_with_a_message() {
        let cases: [(Cookie<'static>, &str); 4] = [
            (Cookie::new("", "v"), "invalid cookie: its name is empty"),
            (
                Cookie::build(("p", "v")).path("/a\nb").build(),
                "invalid cookie `p`: its path holds `;` or a control character",
            ),
            (
                Cookie::build(("d", "v")).domain("a;b").build(),
                "invalid cookie `d`: its domain holds `;` or a control character",
            ),
            (
                Cookie::build(("d", "v")).domain("a\u{7f}").build(),
                "invalid cookie `d`: its domain holds `;` or a control character",
            ),
        ];
        for (cookie, message) in cases {
            let mut headers = HeaderMap::new();
            let err = headers.try_set_cookie(cookie).unwrap_err();
            assert_eq!(err.to_string(), message);
            assert!(headers.is_empty());
        }
    }

    #[test]
    #[should_panic(expected = "invalid cookie: its name is empty")]
    fn set_cookie_panics_on_an_invalid_cookie() {
        let mut res = Response::new(());
        res.set_cookie(("", "v"));
    }
}
