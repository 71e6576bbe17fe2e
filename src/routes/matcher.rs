//! The matcher: a segment trie walked in Next.js priority order.
//!
//! Each node has static children (a hash map when there are many), at most one `[x]` child,
//! and at most one `[...x]` and one `[[...x]]` leaf. A lookup walks the request path one
//! segment at a time and tries, at each node: the route ending there (when the path ends),
//! the static child equal to the segment, the `[x]` child, then the catch-alls. It backtracks
//! when a branch fails further down, which is what Next.js' "first regex in sorted order"
//! amounts to: `/p2/[id]/abc` is tried before `/p2/[...rest]`, and `/p2/x/def` still reaches
//! the catch-all.
//!
//! Fully static routes are also kept in one map keyed by the whole path, so they are found
//! with one hash of the path, as Next.js looks static routes up first.
//!
//! The cost of a lookup does not grow with the number of routes: each trie node is entered
//! at most once per lookup (a node's parent is entered at most once, and a node is reached
//! through one edge only), and only nodes whose prefix matches the path are entered, so the
//! work is bounded by the path's length and the few dynamic branches along it.
//!
//! Nothing is allocated for a path without `%` escapes, except the strings of the matched
//! route's parameters.

use std::{borrow::Cow, sync::Arc};

use crate::context::{ParamValue, Params};

use super::pattern::{Segment, decode};

/// What a lookup found.
#[derive(Debug)]
pub(crate) enum Lookup {
    /// Registration `id`, with its parameters.
    Found { id: usize, params: Params },
    /// No registration matches.
    NotFound,
    /// The path is answered `400` whatever it would match.
    Invalid(PathProblem),
}

/// Why a request path is refused before matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PathProblem {
    /// A malformed `%` escape, or one that does not decode to UTF-8.
    BadEscape,
    /// A `.` or `..` segment, as sent or percent-encoded (`%2E`). RFC 3986 gives them a
    /// meaning (remove_dot_segments) that a router must not quietly replace by capturing
    /// them as parameters; clients normalise them away, so only crafted requests carry one.
    DotSegment,
    /// `%00`: a NUL byte inside a parameter truncates paths in C-based file APIs.
    Nul,
}

/// The URL segments of a registration, used to read its parameters once it matched.
#[derive(Debug)]
struct RouteShape {
    segments: Box<[Shape]>,
    /// How many of them are dynamic.
    dynamic: usize,
}

#[derive(Debug)]
enum Shape {
    Static,
    Param(Arc<str>),
    Rest(Arc<str>),
}

#[derive(Debug, Default)]
pub(crate) struct Matcher {
    root: Node,
    /// Fully static routes by path (segments decoded, joined with `/`, no leading slash).
    exact: StrMap<usize>,
    /// The lengths of the keys of `exact`: bit `n` for length `n`, bit 63 for 63 and more.
    /// A path of no such length is not looked up there (a dynamic route's path usually has
    /// a length no static one has).
    exact_lens: u64,
    /// The shape of each registration, by id.
    shapes: Vec<RouteShape>,
}

#[derive(Debug, Default)]
struct Node {
    /// The registration whose URL ends at this node.
    leaf: Option<usize>,
    statics: Statics,
    param: Option<Box<Node>>,
    catch_all: Option<usize>,
    optional: Option<usize>,
    /// What the walk reads, kept precomputed from the fields above: the route a path
    /// ending here matches (`leaf`, else `optional`) ...
    end: Option<usize>,
    /// ... and the route taking a non-empty rest of the path (`catch_all`, else
    /// `optional`).
    rest: Option<usize>,
}

/// Static children: a short list scanned in order, or a map once there are many.
#[derive(Debug)]
enum Statics {
    Few(Vec<(Box<str>, Node)>),
    Many(StrMap<Node>),
}

impl Default for Statics {
    fn default() -> Self {
        Self::Few(Vec::new())
    }
}

/// Above this many static children a node uses a hash map.
const FEW: usize = 8;

impl Statics {
    fn is_empty(&self) -> bool {
        match self {
            Self::Few(v) => v.is_empty(),
            Self::Many(m) => m.is_empty(),
        }
    }

    // Inlined into the walk: the call's register saves and restores were a fifth of its
    // cost in the route-table benchmark.
    #[inline(always)]
    fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Self::Few(v) => v.iter().find(|(k, _)| eq(k, key)).map(|(_, n)| n),
            Self::Many(m) => m.get(key),
        }
    }

    fn entry(&mut self, key: &str) -> &mut Node {
        if let Self::Few(v) = self {
            if v.len() >= FEW && !v.iter().any(|(k, _)| **k == *key) {
                let mut map = StrMap::default();
                for (k, n) in std::mem::take(v) {
                    *map.entry(&k) = n;
                }
                *self = Self::Many(map);
            }
        }
        match self {
            Self::Few(v) => match v.iter().position(|(k, _)| **k == *key) {
                Some(i) => &mut v[i].1,
                None => {
                    v.push((key.into(), Node::default()));
                    &mut v.last_mut().expect("just pushed").1
                }
            },
            Self::Many(m) => m.entry(key),
        }
    }
}

impl Matcher {
    /// Adds registration `id` (ids are given in order: 0, 1, 2, ...). The caller has checked
    /// that the table has no conflicts, so the slot a registration takes is free.
    pub(crate) fn insert<'a>(&mut self, id: usize, url: impl Iterator<Item = &'a Segment>) {
        debug_assert_eq!(id, self.shapes.len());
        let mut shape = Vec::new();
        let mut node = &mut self.root;
        let mut path = String::new();
        let mut exact = true;
        let mut end = None;
        for segment in url {
            match segment {
                Segment::Static { literal, .. } => {
                    shape.push(Shape::Static);
                    node = node.statics.entry(literal);
                    exact &= !literal.contains('/');
                    if !path.is_empty() {
                        path.push('/');
                    }
                    path.push_str(literal);
                }
                Segment::Param(name) => {
                    shape.push(Shape::Param(name.clone()));
                    node = node.param.get_or_insert_with(Box::default);
                    exact = false;
                }
                Segment::CatchAll(name) => {
                    shape.push(Shape::Rest(name.clone()));
                    end = Some(&mut node.catch_all);
                    exact = false;
                    break;
                }
                Segment::OptionalCatchAll(name) => {
                    shape.push(Shape::Rest(name.clone()));
                    end = Some(&mut node.optional);
                    exact = false;
                    break;
                }
                Segment::Group(_) => {}
            }
        }
        match end {
            Some(slot) => *slot = Some(id),
            None => node.leaf = Some(id),
        }
        node.end = node.leaf.or(node.optional);
        node.rest = node.catch_all.or(node.optional);
        if exact {
            self.exact_lens |= len_bit(path.len());
            *self.exact.entry(&path) = id;
        }
        let dynamic = shape.iter().filter(|s| !matches!(s, Shape::Static)).count();
        self.shapes.push(RouteShape {
            segments: shape.into(),
            dynamic,
        });
    }

    /// Finds the registration that answers `path` (a URI path, starting with `/`).
    pub(crate) fn lookup(&self, path: &str) -> Lookup {
        let Some(rest) = path.strip_prefix('/') else {
            return Lookup::NotFound;
        };
        // A trailing slash matches the same route.
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        let (escaped, dotted) = scan(rest.as_bytes());
        if escaped {
            for segment in rest.split('/') {
                let problem = match decode(segment) {
                    None => PathProblem::BadEscape,
                    Some(s) if is_dot_segment(&s) => PathProblem::DotSegment,
                    Some(s) if s.contains('\0') => PathProblem::Nul,
                    Some(_) => continue,
                };
                return Lookup::Invalid(problem);
            }
        } else {
            if self.exact_lens & len_bit(rest.len()) != 0 {
                if let Some(&id) = self.exact.get(rest) {
                    // No pattern has a dot segment (they are refused when the table is
                    // built), so an exact hit needs no dot check.
                    return Lookup::Found {
                        id,
                        params: Params::new(),
                    };
                }
            }
            if dotted && has_dot_segment(rest) {
                return Lookup::Invalid(PathProblem::DotSegment);
            }
        }
        let rest = (!rest.is_empty()).then_some(rest);
        let mut walk = Walk {
            escaped,
            rests: [None; RECORDED],
        };
        match find(&self.root, rest, 0, &mut walk) {
            Some(id) => match self.params(id, rest, &walk) {
                Some(params) => Lookup::Found { id, params },
                None => Lookup::Invalid(PathProblem::BadEscape),
            },
            None => Lookup::NotFound,
        }
    }

    /// Reads the parameters of registration `id` from the path it matched, the rests of
    /// the path that `walk` recorded.
    fn params<'p>(&self, id: usize, mut rest: Option<&'p str>, walk: &Walk<'p>) -> Option<Params> {
        let value = |segment: &str| match walk.escaped {
            true => decode(segment).map(Cow::into_owned),
            false => Some(segment.to_owned()),
        };
        let shape = &self.shapes[id];
        if shape.dynamic == 0 {
            return Some(Params::new());
        }
        let mut params = Params::with_capacity(shape.dynamic);
        for (depth, shape) in shape.segments.iter().enumerate() {
            // Within the recorded depths the rest at this segment is known; beyond them it
            // is found by splitting on from the last one.
            if let Some(&recorded) = walk.rests.get(depth) {
                rest = recorded;
            } else if depth > 0 {
                rest = split(rest?).1;
            }
            match shape {
                Shape::Static => {}
                Shape::Param(name) => {
                    let (segment, _) = split(rest?);
                    params.push(name.clone(), ParamValue::One(value(segment)?));
                }
                Shape::Rest(name) => {
                    if rest.is_some() {
                        let mut values = Vec::new();
                        while let Some(r) = rest {
                            let (segment, tail) = split(r);
                            values.push(value(segment)?);
                            rest = tail;
                        }
                        params.push(name.clone(), ParamValue::Many(values));
                    }
                    break;
                }
            }
        }
        Some(params)
    }
}

/// How many segment depths a walk records.
const RECORDED: usize = 8;

/// What the walk needs besides the node and path, and what it leaves for reading the
/// parameters.
struct Walk<'p> {
    /// Whether segments need decoding before they are compared with static names.
    escaped: bool,
    /// The rest of the path at each of the first depths the walk reached (`None` once
    /// every segment is consumed). The rest at a depth is the same whichever branch
    /// reached it, so after a match these are the rests along the matched route, and its
    /// parameters are read without splitting the path again (the route-table benchmark's
    /// dynamic lookup split it twice before).
    rests: [Option<&'p str>; RECORDED],
}

/// Splits the first segment off a non-empty rest of a path. Segments are short, so a plain
/// loop beats a general substring search here (and, measured, a word-at-a-time search too).
#[inline]
fn split(rest: &str) -> (&str, Option<&str>) {
    match rest.bytes().position(|b| b == b'/') {
        // `/` is ASCII, so both sides are on char boundaries.
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    }
}

fn is_dot_segment(segment: &str) -> bool {
    segment == "." || segment == ".."
}

/// Whether a path without escapes has a `.` or `..` segment. Only the dots are visited, and
/// most paths have none or one (`robots.txt`).
#[inline]
fn has_dot_segment(rest: &str) -> bool {
    let b = rest.as_bytes();
    let mut from = 0;
    while let Some(i) = b[from..].iter().position(|&c| c == b'.') {
        let start = from + i;
        if start == 0 || b[start - 1] == b'/' {
            let end = if b.get(start + 1) == Some(&b'.') {
                start + 2
            } else {
                start + 1
            };
            if end == b.len() || b[end] == b'/' {
                return true;
            }
        }
        from = start + 1;
    }
    false
}

/// Whether every segment of a non-empty rest is non-empty: no `//` and no trailing `/`.
#[inline]
fn segments_non_empty(rest: &str) -> bool {
    let b = rest.as_bytes();
    b.last() != Some(&b'/') && !b.windows(2).any(|w| w == b"//")
}

/// The depth-first walk in Next.js priority order. `rest` is the path below `node`, `None`
/// once every segment is consumed, and `depth` the number of segments above it; `walk`
/// says whether segments need decoding and records the rest at each depth.
///
/// A node with a single way down is followed in a loop; only a node with alternatives
/// (a static child and a dynamic one, say) recurses, so that it can fall back when the
/// first branch fails further down.
fn find<'p>(
    mut node: &Node,
    mut rest: Option<&'p str>,
    mut depth: usize,
    walk: &mut Walk<'p>,
) -> Option<usize> {
    let escaped = walk.escaped;
    loop {
        if let Some(slot) = walk.rests.get_mut(depth) {
            *slot = rest;
        }
        let Some(path) = rest else {
            return node.end;
        };
        let (segment, tail) = split(path);
        if segment.is_empty() {
            // An empty segment (`//`) is matched by nothing.
            return None;
        }
        let catch_all = node.rest;
        let static_child = if node.statics.is_empty() {
            None
        } else if escaped {
            node.statics.get(&decode(segment)?)
        } else {
            node.statics.get(segment)
        };
        if let Some(child) = static_child {
            if node.param.is_none() && catch_all.is_none() {
                (node, rest, depth) = (child, tail, depth + 1);
                continue;
            }
            if let Some(id) = find(child, tail, depth + 1, walk) {
                return Some(id);
            }
        }
        if let Some(child) = &node.param {
            if catch_all.is_none() {
                (node, rest, depth) = (child, tail, depth + 1);
                continue;
            }
            if let Some(id) = find(child, tail, depth + 1, walk) {
                return Some(id);
            }
        }
        // A catch-all takes the rest of the path, one or more non-empty segments.
        return catch_all.filter(|_| segments_non_empty(path));
    }
}

/// The bit of `exact_lens` for a key of `len` bytes.
#[inline]
fn len_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// Whether `b` has a `%` and whether it has a `.`, in one pass of eight bytes at a time.
///
/// Written out by hand because the two byte-by-byte scans it replaces were a visible part
/// of a dynamic lookup in the route-table benchmark. Each word is tested for a byte equal to
/// `%` or `.` with [`has_byte`].
#[inline]
fn scan(b: &[u8]) -> (bool, bool) {
    let has = has_byte;
    let (mut percent, mut dot) = (0, 0);
    let mut rest = b;
    while rest.len() > 8 {
        let w = read8(rest);
        percent |= has(w, b'%');
        dot |= has(w, b'.');
        rest = &rest[8..];
    }
    // The last up to eight bytes, zero-padded (a zero byte is neither `%` nor `.`).
    let w = read_tail(rest);
    percent |= has(w, b'%');
    dot |= has(w, b'.');
    (percent != 0, dot != 0)
}

/// The high bit of each byte of `word` that equals `byte`, exact up to the first such byte
/// (a borrow out of a match can also set the bit of the next byte when that byte differs
/// from `byte` in its lowest bit only), so it is zero exactly when
/// there is none and its lowest set bit is the first match.
#[inline]
fn has_byte(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let v = word ^ (ONES * u64::from(byte));
    v.wrapping_sub(ONES) & !v & HIGH
}

/// The first eight bytes of `b` (which has at least eight), little-endian.
#[inline]
fn read8(b: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&b[..8]);
    u64::from_le_bytes(word)
}

/// Up to eight bytes as one word, the missing high bytes zero. For a given length the word
/// determines the bytes: the two halves overlap when there are five to seven bytes, and
/// fewer than four are spread over three byte positions that together name each byte.
#[inline]
fn read_tail(b: &[u8]) -> u64 {
    let n = b.len();
    debug_assert!(n <= 8);
    let word4 = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&b[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    if n >= 4 {
        word4(0) | word4(n - 4) << 32
    } else if n > 0 {
        u64::from(b[0]) | u64::from(b[n / 2]) << 8 | u64::from(b[n - 1]) << 16
    } else {
        0
    }
}

/// Whether two segments are equal. Segments are a few bytes, for which a length test and a
/// word comparison cost less than a call to `memcmp` (measured in the route-table
/// benchmark).
#[inline]
fn eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    if a.len() <= 8 {
        read_tail(a) == read_tail(b)
    } else {
        a == b
    }
}

/// A small multiply-rotate hash (the FxHash scheme) of a string key, with its length mixed
/// in first and a short key read as one word.
///
/// The maps are filled once from the registered patterns and only read afterwards, so a
/// request cannot add keys and grow a collision chain; the hash-flooding defence of the
/// standard `SipHash` buys nothing here, and it costs more than the rest of a lookup.
#[inline]
fn hash(key: &str) -> u64 {
    const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;
    let add = |h: u64, word: u64| (h.rotate_left(5) ^ word).wrapping_mul(SEED);
    let mut rest = key.as_bytes();
    let mut h = add(0, rest.len() as u64);
    while rest.len() > 8 {
        h = add(h, read8(rest));
        rest = &rest[8..];
    }
    h = add(h, read_tail(rest));
    // The high bits of a product are its best mixed, and the table picks slots with the
    // low bits: fold the high half in and multiply once more.
    (h ^ (h >> 32)).wrapping_mul(SEED) >> 16
}

/// A map from string keys, built once and then only read: open addressing with linear
/// probing over a power-of-two table of indices into the entries, at most half full.
///
/// It replaces a `HashMap` because the route-table benchmark's lookups spent more in the
/// general map's probing and key comparison than in the rest of the walk: here a probe is
/// one index, one stored hash compared, and a short key compared as a word.
#[derive(Debug)]
struct StrMap<V> {
    /// Index into `entries` plus one; zero is an empty slot.
    slots: Box<[u32]>,
    entries: Vec<(u64, Box<str>, V)>,
}

impl<V> Default for StrMap<V> {
    fn default() -> Self {
        Self {
            slots: Box::new([]),
            entries: Vec::new(),
        }
    }
}

impl<V> StrMap<V> {
    #[inline]
    fn get(&self, key: &str) -> Option<&V> {
        if self.slots.is_empty() {
            return None;
        }
        let h = hash(key);
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i] as usize;
            if slot == 0 {
                return None;
            }
            let (eh, ek, v) = &self.entries[slot - 1];
            if *eh == h && eq(ek, key) {
                return Some(v);
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot of `key`'s entry if it has one, else the empty slot where it goes.
    fn find_slot(&self, h: u64, key: &str) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        loop {
            let slot = self.slots[i] as usize;
            if slot == 0 || (self.entries[slot - 1].0 == h && *self.entries[slot - 1].1 == *key) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// The value of `key`, inserted as the default if absent.
    fn entry(&mut self, key: &str) -> &mut V
    where
        V: Default,
    {
        let h = hash(key);
        if !self.slots.is_empty() {
            let i = self.find_slot(h, key);
            if self.slots[i] != 0 {
                let at = self.slots[i] as usize - 1;
                return &mut self.entries[at].2;
            }
        }
        self.entries.push((h, key.into(), V::default()));
        if self.entries.len() * 2 > self.slots.len() {
            let size = (self.entries.len() * 2).next_power_of_two().max(8);
            self.slots = vec![0; size].into_boxed_slice();
            for at in 0..self.entries.len() {
                let (h, key) = (self.entries[at].0, &*self.entries[at].1);
                let i = self.find_slot(h, key);
                self.slots[i] = u32::try_from(at + 1).expect("fewer than 2^32 routes");
            }
        } else {
            let i = self.find_slot(h, key);
            self.slots[i] = u32::try_from(self.entries.len()).expect("fewer than 2^32 routes");
        }
        &mut self.entries.last_mut().expect("just pushed").2
    }

    fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::pattern::parse;
    use std::collections::HashSet;

    fn matcher(patterns: &[&str]) -> Matcher {
        let mut m = Matcher::default();
        for (id, p) in patterns.iter().enumerate() {
            let (pattern, problems) = parse(p);
            assert!(problems.is_empty(), "{p}: {problems:?}");
            m.insert(id, pattern.unwrap().url_segments());
        }
        m
    }

    fn found(m: &Matcher, path: &str) -> Option<(usize, Vec<(String, ParamValue)>)> {
        match m.lookup(path) {
            Lookup::Found { id, params } => Some((
                id,
                params
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.clone()))
                    .collect(),
            )),
            Lookup::NotFound => None,
            Lookup::Invalid(problem) => panic!("{problem:?} in {path}"),
        }
    }

    #[test]
    fn statics_switch_to_a_map_and_still_match() {
        let patterns: Vec<String> = (0..40).map(|i| format!("/s{i}/x")).collect();
        let refs: Vec<&str> = patterns.iter().map(String::as_str).collect();
        let m = matcher(&refs);
        assert!(matches!(m.root.statics, Statics::Many(_)));
        for i in 0..40 {
            assert_eq!(found(&m, &format!("/s{i}/x")).unwrap().0, i);
            assert_eq!(found(&m, &format!("/s{i}/x/")).unwrap().0, i);
            assert_eq!(found(&m, &format!("/%{:X}{i}/x", b's')).unwrap().0, i);
        }
        assert!(found(&m, "/s40/x").is_none());
    }

    #[test]
    fn backtracks_out_of_a_failed_branch() {
        let m = matcher(&["/p2/[id]/abc", "/p2/[...rest]"]);
        assert_eq!(
            found(&m, "/p2/x/def"),
            Some((
                1,
                vec![(
                    "rest".into(),
                    ParamValue::Many(vec!["x".into(), "def".into()])
                )]
            ))
        );
        assert_eq!(found(&m, "/p2/x/abc").unwrap().0, 0);
    }

    #[test]
    fn escaped_static_names_match_their_decoded_segment() {
        let m = matcher(&["/a%2Fb", "/100%25", "/[x]/[y]"]);
        assert_eq!(found(&m, "/a%2Fb").unwrap().0, 0);
        assert_eq!(found(&m, "/a%2fb/").unwrap().0, 0);
        // Split first: `/a/b` is two segments, so it is not the static `a/b`.
        assert_eq!(found(&m, "/a/b").unwrap().0, 2);
        assert_eq!(found(&m, "/100%25").unwrap().0, 1);
        assert!(matches!(
            m.lookup("/100%"),
            Lookup::Invalid(PathProblem::BadEscape)
        ));
    }

    #[test]
    fn bad_escapes() {
        let m = matcher(&["/a/[x]"]);
        for path in ["/a/%zz", "/a/%", "/a/%FF", "/nothing/%E2%82"] {
            assert!(
                matches!(m.lookup(path), Lookup::Invalid(PathProblem::BadEscape)),
                "{path}"
            );
        }
        assert!(matches!(m.lookup("*"), Lookup::NotFound));
    }

    #[test]
    fn dot_segments_and_nul_no_longer_reach_params() {
        let m = matcher(&[
            "/a/[x]",
            "/docs/[...rest]",
            "/robots.txt",
            "/.well-known/[x]",
        ]);
        let cases: &[(&str, Option<PathProblem>)] = &[
            ("/a/..", Some(PathProblem::DotSegment)),
            ("/a/.", Some(PathProblem::DotSegment)),
            ("/a/../", Some(PathProblem::DotSegment)),
            ("/..", Some(PathProblem::DotSegment)),
            ("/.", Some(PathProblem::DotSegment)),
            ("/docs/../../etc/passwd", Some(PathProblem::DotSegment)),
            ("/docs/x/./y", Some(PathProblem::DotSegment)),
            ("/docs/%2e%2e/x", Some(PathProblem::DotSegment)),
            ("/docs/.%2E", Some(PathProblem::DotSegment)),
            ("/a/%2E", Some(PathProblem::DotSegment)),
            ("/a/%00", Some(PathProblem::Nul)),
            ("/docs/x/a%00b", Some(PathProblem::Nul)),
            ("/nothing/../here", Some(PathProblem::DotSegment)),
            // Not dot segments: dots inside a name, three dots, an encoded slash.
            ("/a/...", None),
            ("/a/.x", None),
            ("/a/x.", None),
            ("/a/..x", None),
            ("/docs/a%2F..%2Fb", None),
            ("/robots.txt", None),
            ("/.well-known/x", None),
        ];
        for (path, expected) in cases {
            match (m.lookup(path), expected) {
                (Lookup::Invalid(got), Some(want)) => assert_eq!(got, *want, "{path}"),
                (Lookup::Found { .. }, None) => {}
                (got, _) => panic!("{path}: {got:?}, expected {expected:?}"),
            }
        }
    }

    #[test]
    fn hash_spreads_short_keys() {
        let mut buckets = HashSet::new();
        for i in 0..10_000 {
            buckets.insert(hash(&format!("r{i}")) & 0x3fff);
        }
        // The low bits (the slot) spread like random ones: 10,000 random keys fill about
        // 7,500 of 16,384 slots.
        assert!(buckets.len() > 7_300, "{}", buckets.len());
    }

    #[test]
    fn words_name_their_bytes() {
        let keys = [
            "", "a", "ab", "ba", "abc", "acb", "abcd", "abcde", "abdce", "abcdefgh",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(eq(a, b), a == b, "{a:?} {b:?}");
            }
        }
        for s in [
            "",
            "a%",
            ".",
            "abcdefgh.",
            "abcdefgh%",
            "%abcdefghij",
            "x.y",
            "xyz",
        ] {
            let b = s.as_bytes();
            assert_eq!(scan(b), (b.contains(&b'%'), b.contains(&b'.')), "{s:?}");
        }
    }

    #[test]
    fn str_map_finds_what_was_inserted() {
        let mut m = StrMap::default();
        assert_eq!(m.get("x"), None);
        for i in 0..1_000usize {
            *m.entry(&format!("k{i}")) = i;
        }
        *m.entry("k5") += 1_000;
        for i in 0..1_000usize {
            let want = if i == 5 { 1_005 } else { i };
            assert_eq!(m.get(&format!("k{i}")), Some(&want));
        }
        assert_eq!(m.get("k1000"), None);
        assert_eq!(m.get(""), None);
    }

    proptest::proptest! {
        /// The word-at-a-time helpers agree with the plain byte-by-byte definitions.
        #[test]
        fn word_helpers_match_byte_loops(a in "[a./%]{0,20}", b in "[a./%]{0,20}") {
            let naive_split = match a.find('/') {
                Some(i) => (&a[..i], Some(&a[i + 1..])),
                None => (&a[..], None),
            };
            proptest::prop_assert_eq!(split(&a), naive_split);
            let bytes = a.as_bytes();
            proptest::prop_assert_eq!(scan(bytes), (bytes.contains(&b'%'), bytes.contains(&b'.')));
            proptest::prop_assert_eq!(eq(&a, &b), a == b);
            proptest::prop_assert_eq!(eq(&a, &a), true);
        }

        /// The string map answers as a `HashMap` with the same keys does.
        #[test]
        fn str_map_matches_a_hash_map(
            keys in proptest::collection::vec("[ab/%]{0,12}", 0..40),
            probes in proptest::collection::vec("[ab/%]{0,12}", 0..40),
        ) {
            let mut ours = StrMap::default();
            let mut theirs = std::collections::HashMap::new();
            for (i, k) in keys.iter().enumerate() {
                *ours.entry(k) = i;
                theirs.insert(k.clone(), i);
            }
            for k in keys.iter().chain(&probes) {
                proptest::prop_assert_eq!(ours.get(k), theirs.get(k));
            }
        }
    }
}
