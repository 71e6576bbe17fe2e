//! [`Cookies`]: the cookies a request came with.

use cookie::Cookie;
use http::{HeaderMap, header::COOKIE};

/// The cookies of a request, parsed from its `Cookie` headers with the `cookie` crate, as
/// Next.js's `request.cookies`.
///
/// Every `Cookie` header is read (HTTP/2 clients send one per cookie). Names and values are
/// percent-decoded, the inverse of [`SetCookieExt`](crate::response::SetCookieExt); a pair
/// that does not parse (no `=`, an empty name, an escape that is not UTF-8) is skipped, as
/// Next.js skips it. When a name appears more than once, [`get`](Self::get) returns the
/// first: browsers send the cookie with the most specific `Path` first (RFC 6265 §5.4).
/// Next.js keeps the last.
///
/// ```
/// use route_handlers::request::Cookies;
///
/// let mut headers = http::HeaderMap::new();
/// headers.insert("cookie", "theme=dark; session=a%20b; theme=light".parse().unwrap());
/// let cookies = Cookies::from_headers(&headers);
/// assert_eq!(cookies.value("theme"), Some("dark"));
/// assert_eq!(cookies.value("session"), Some("a b"));
/// assert_eq!(cookies.get_all("theme").count(), 2);
/// assert!(!cookies.has("missing"));
/// assert_eq!(cookies.len(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Cookies {
    list: Vec<Cookie<'static>>,
}

impl Cookies {
    /// Parses the `Cookie` headers in `headers`.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        // One slot per `;`-separated pair, so the (large) cookies are not moved by regrowth.
        let pairs = headers
            .get_all(COOKIE)
            .iter()
            .map(|v| v.as_bytes().iter().filter(|&&b| b == b';').count() + 1)
            .sum();
        let mut list = Vec::with_capacity(pairs);
        for value in headers.get_all(COOKIE) {
            let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
                continue;
            };
            list.extend(
                Cookie::split_parse_encoded(text)
                    .filter_map(Result::ok)
                    .map(Cookie::into_owned),
            );
        }
        Self { list }
    }

    /// The first cookie named `name`.
    pub fn get(&self, name: &str) -> Option<&Cookie<'static>> {
        self.list.iter().find(|c| c.name() == name)
    }

    /// The value of the first cookie named `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.get(name).map(Cookie::value)
    }

    /// Every cookie named `name`, in the order the client sent them.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Cookie<'static>> {
        self.list.iter().filter(move |c| c.name() == name)
    }

    /// Whether a cookie named `name` was sent.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Every cookie, in the order the client sent them.
    pub fn iter(&self) -> std::slice::Iter<'_, Cookie<'static>> {
        self.list.iter()
    }

    /// The number of cookies.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the request has no cookies.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<'a> IntoIterator for &'a Cookies {
    type Item = &'a Cookie<'static>;
    type IntoIter = std::slice::Iter<'a, Cookie<'static>>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn parse(headers: &[&[u8]]) -> Vec<(String, String)> {
        let mut map = HeaderMap::new();
        for h in headers {
            map.append(COOKIE, HeaderValue::from_bytes(h).unwrap());
        }
        Cookies::from_headers(&map)
            .iter()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect()
    }

    #[test]
    fn table() {
        type Case = (
            &'static [&'static [u8]],
            &'static [(&'static str, &'static str)],
        );
        let cases: [Case; 8] = [
            (&[], &[]),
            (&[b"a=1"], &[("a", "1")]),
            (
                &[b"a=1; b=2", b"c=3"],
                &[("a", "1"), ("b", "2"), ("c", "3")],
            ),
            (&[b" a = 1 ;;b=2 "], &[("a", "1"), ("b", "2")]),
            (&[b"novalue; =empty; ok=1"], &[("ok", "1")]),
            (&[b"bad=%FF; good=%E2%9C%93"], &[("good", "\u{2713}")]),
            (&[b"q=\"quoted\""], &[("q", "\"quoted\"")]),
            (&[b"a=\xff", b"b=2"], &[("b", "2")]),
        ];
        for (headers, want) in cases {
            let want: Vec<(String, String)> = want
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            assert_eq!(parse(headers), want, "{headers:?}");
        }
    }
}
