//! [`SearchParams`]: the query string as a multi-map, decoded on demand.

use std::{borrow::Cow, fmt};

use percent_encoding::percent_decode_str;

/// The query string of a request as a read-only multi-map, like `URLSearchParams`.
///
/// It borrows the query and decodes (`+` as a space, `%XX` escapes, invalid UTF-8 replaced
/// with `U+FFFD`, as `application/x-www-form-urlencoded` parsing does) only the pairs it
/// looks at; a name or value without escapes is returned borrowed, without allocating.
/// Names are compared after decoding. A name without `=` has the value `""`; empty pieces
/// (`a=1&&b=2`) are skipped.
///
/// ```
/// use route_handlers::request::SearchParams;
///
/// let params = SearchParams::new("tag=a&tag=b+c&q=caf%C3%A9&flag");
/// assert_eq!(params.get("q").as_deref(), Some("café"));
/// assert_eq!(params.get_all("tag").collect::<Vec<_>>(), ["a", "b c"]);
/// assert!(params.has("flag"));
/// assert_eq!(params.get("flag").as_deref(), Some(""));
/// assert_eq!(params.get("missing"), None);
/// assert_eq!(params.len(), 4);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchParams<'a> {
    query: &'a str,
}

impl<'a> SearchParams<'a> {
    /// A view of `query`, the part of a URI after `?` (without the `?`).
    pub const fn new(query: &'a str) -> Self {
        Self { query }
    }

    /// The raw query string.
    pub const fn as_str(&self) -> &'a str {
        self.query
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<Cow<'a, str>> {
        self.get_all(name).next()
    }

    /// Every value of `name`, in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = Cow<'a, str>> + use<'a, 'n> {
        self.raw_pairs()
            .filter(move |(n, _)| decode(n) == name)
            .map(|(_, v)| decode(v))
    }

    /// Whether `name` appears.
    pub fn has(&self, name: &str) -> bool {
        self.raw_pairs().any(|(n, _)| decode(n) == name)
    }

    /// Every pair, decoded, in order.
    pub fn iter(&self) -> impl Iterator<Item = (Cow<'a, str>, Cow<'a, str>)> + use<'a> {
        self.raw_pairs().map(|(n, v)| (decode(n), decode(v)))
    }

    /// The number of pairs.
    pub fn len(&self) -> usize {
        self.raw_pairs().count()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.raw_pairs().next().is_none()
    }

    fn raw_pairs(&self) -> impl Iterator<Item = (&'a str, &'a str)> + use<'a> {
        self.query
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
    }
}

impl fmt::Debug for SearchParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Decodes one name or value of `application/x-www-form-urlencoded`.
fn decode(raw: &str) -> Cow<'_, str> {
    if !raw.contains(['+', '%']) {
        return Cow::Borrowed(raw);
    }
    if !raw.contains('+') {
        return percent_decode_str(raw).decode_utf8_lossy();
    }
    let spaced = raw.replace('+', " ");
    Cow::Owned(percent_decode_str(&spaced).decode_utf8_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases: [(&str, &[(&str, &str)]); 9] = [
            ("", &[]),
            ("&&", &[]),
            ("a=1", &[("a", "1")]),
            ("a", &[("a", "")]),
            ("a=", &[("a", "")]),
            ("=v", &[("", "v")]),
            ("a=1=2", &[("a", "1=2")]),
            ("a+b=c+d&%61=%zz", &[("a b", "c d"), ("a", "%zz")]),
            ("x=%FF&y=%2B", &[("x", "\u{FFFD}"), ("y", "+")]),
        ];
        for (query, pairs) in cases {
            let params = SearchParams::new(query);
            let got: Vec<(String, String)> = params
                .iter()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let want: Vec<(String, String)> = pairs
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect();
            assert_eq!(got, want, "{query:?}");
            assert_eq!(params.len(), pairs.len());
            assert_eq!(params.is_empty(), pairs.is_empty());
        }
    }

    #[test]
    fn plain_pairs_are_borrowed() {
        let params = SearchParams::new("a=1&b=x%20y");
        assert!(matches!(params.get("a"), Some(Cow::Borrowed("1"))));
        assert!(matches!(params.get("b"), Some(Cow::Owned(_))));
    }

    proptest! {
        /// The view decodes exactly as the form-urlencoded parser behind serde_urlencoded.
        #[test]
        fn decodes_like_form_urlencoded(query in "[a-c=&+%0-9A-Fa-f\\u{e9} ]{0,40}") {
            let ours: Vec<(String, String)> = SearchParams::new(&query)
                .iter()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .collect();
            let theirs: Vec<(String, String)> = serde_urlencoded::from_str(&query).unwrap();
            prop_assert_eq!(ours, theirs);
        }
    }
}
