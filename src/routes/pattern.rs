//! Parsing route patterns written the way Next.js names its folders.
//!
//! A pattern is a `/`-separated list of folder names: static names (dots allowed), `[id]`,
//! `[...slug]`, `[[...slug]]` and `(group)`. Static names are percent-decoded here, so the
//! folder name `%5Fname` is the literal URL segment `_name`, the Next.js way to route a
//! segment that starts with an underscore.
//!
//! The checks on one folder name follow Next.js' `sorted-routes.ts` in order and wording;
//! the checks between patterns live in `conflict.rs`.

use std::{borrow::Cow, sync::Arc};

use crate::context::hex;

/// The kind of a [`Conflict`](super::Conflict). The message of each kind that Next.js also reports uses the
/// Next.js 16 wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// The pattern does not start with `/`, or a folder name has a bad `%` escape.
    InvalidPattern,
    /// A folder name starts with `_` (a private folder in Next.js).
    PrivateFolder,
    /// A folder name starts with `@` (a parallel route slot).
    ParallelSlot,
    /// `[[x]]`: an optional single segment, which Next.js does not support.
    OptionalParameter,
    /// `[…x]` written with the one-character ellipsis.
    ThreeDotCharacter,
    /// Brackets that do not wrap a whole folder name, such as `[[...id]` or `a[b]`.
    ExtraBrackets,
    /// A name that starts with a period, such as `[....id]`.
    ErroneousPeriod,
    /// `[]` or `[...]`.
    EmptyName,
    /// Something follows a catch-all.
    CatchAllNotLast,
    /// The same name twice in one path.
    RepeatedSlug,
    /// Two names of one path that are equal once non-word characters are removed.
    SlugsDifferBySymbols,
    /// Different names for the dynamic segment at the same position.
    DifferentSlugNames,
    /// A required and an optional catch-all at the same position.
    RequiredAndOptionalCatchAll,
    /// A route or page at the same URL as an optional catch-all, which already matches it.
    OptionalCatchAllSpecificity,
    /// Two registrations at the same URL (route groups add no URL segment).
    SameUrl,
    /// A route's cache settings contradict each other, or its `GET` handler reads request
    /// data under `dynamic = "error"` (see [`ConfigError`](crate::cache::ConfigError)).
    RouteConfig,
}

/// One folder name of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Segment {
    /// A static name: as written, and percent-decoded.
    Static { raw: Box<str>, literal: Box<str> },
    /// `(name)`: adds no URL segment.
    Group(Box<str>),
    /// `[name]`: exactly one URL segment.
    Param(Arc<str>),
    /// `[...name]`: one or more URL segments.
    CatchAll(Arc<str>),
    /// `[[...name]]`: zero or more URL segments.
    OptionalCatchAll(Arc<str>),
}

impl Segment {
    /// The segment as Next.js writes it in a normalised path (groups never appear there).
    fn write_url(&self, out: &mut String) {
        match self {
            Self::Static { raw, .. } => out.push_str(raw),
            Self::Group(g) => {
                out.push('(');
                out.push_str(g);
                out.push(')');
            }
            Self::Param(n) => {
                out.push('[');
                out.push_str(n);
                out.push(']');
            }
            Self::CatchAll(n) => {
                out.push_str("[...");
                out.push_str(n);
                out.push(']');
            }
            Self::OptionalCatchAll(n) => {
                out.push_str("[[...");
                out.push_str(n);
                out.push_str("]]");
            }
        }
    }

    /// The name of a dynamic segment.
    pub(crate) fn slug(&self) -> Option<&Arc<str>> {
        match self {
            Self::Param(n) | Self::CatchAll(n) | Self::OptionalCatchAll(n) => Some(n),
            Self::Static { .. } | Self::Group(_) => None,
        }
    }

    pub(crate) fn is_catch_all(&self) -> bool {
        matches!(self, Self::CatchAll(_) | Self::OptionalCatchAll(_))
    }
}

/// A parsed pattern.
#[derive(Clone, Debug)]
pub(crate) struct Pattern {
    /// Every folder name, groups included, in order.
    pub(crate) segments: Vec<Segment>,
}

impl Pattern {
    /// The segments that are part of the URL (groups removed).
    pub(crate) fn url_segments(&self) -> impl Iterator<Item = &Segment> + Clone {
        self.segments
            .iter()
            .filter(|s| !matches!(s, Segment::Group(_)))
    }

    /// The normalised URL pattern, groups removed: `/(shop)/items/[id]` → `/items/[id]`.
    /// The canonical path every request it matches has, when the pattern has no dynamic
    /// segment.
    pub(crate) fn canonical_url(&self) -> Option<Arc<str>> {
        if self.url_segments().any(|s| s.slug().is_some()) {
            return None;
        }
        Some(crate::context::canonical_path(&self.url()).into())
    }

    pub(crate) fn url(&self) -> String {
        join(self.url_segments())
    }

    /// The pattern with its groups, followed by `leaf`, as Turbopack names a file:
    /// `/(shop)/items/route`.
    pub(crate) fn app_page(&self, leaf: &str) -> String {
        let mut out = join(self.segments.iter());
        if out.len() > 1 {
            out.push('/');
        }
        out.push_str(leaf);
        out
    }
}

fn join<'a>(segments: impl Iterator<Item = &'a Segment>) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        s.write_url(&mut out);
    }
    if out.is_empty() {
        out.push('/');
    }
    out
}

/// A problem with one pattern, found without looking at the others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) kind: ConflictKind,
    pub(crate) message: String,
    pub(crate) hint: String,
}

impl Problem {
    fn new(kind: ConflictKind, message: String, hint: String) -> Self {
        Self {
            kind,
            message,
            hint,
        }
    }
}

/// Parses `raw`. Returns the pattern when every folder name could be read (it may still
/// have problems of the whole path, such as a repeated name), and every problem found.
pub(crate) fn parse(raw: &str) -> (Option<Pattern>, Vec<Problem>) {
    let mut problems = Vec::new();
    if !raw.starts_with('/') {
        problems.push(Problem::new(
            ConflictKind::InvalidPattern,
            format!("route patterns must start with \"/\" (\"{raw}\")"),
            format!("write the pattern from the root of the app: \"/{raw}\""),
        ));
    }
    let mut segments = Vec::new();
    let mut readable = true;
    for name in raw.split('/').filter(|s| !s.is_empty()) {
        match parse_segment(name) {
            Ok(segment) => segments.push(segment),
            Err(problem) => {
                readable = false;
                problems.push(problem);
            }
        }
    }
    if !readable {
        return (None, problems);
    }
    path_problems(&segments, &mut problems);
    (Some(Pattern { segments }), problems)
}

/// Reads one folder name.
fn parse_segment(name: &str) -> Result<Segment, Problem> {
    if name.starts_with('(') && name.ends_with(')') && name.len() >= 2 {
        return Ok(Segment::Group(name[1..name.len() - 1].into()));
    }
    if let Some(slot) = name.strip_prefix('@') {
        return Err(Problem::new(
            ConflictKind::ParallelSlot,
            format!("parallel route slots are not supported (\"{name}\")"),
            format!(
                "a slot renders beside a page in a layout and adds no URL segment; register the \
                 service without the \"@{slot}\" segment"
            ),
        ));
    }
    if let Some(rest) = name.strip_prefix('_') {
        return Err(Problem::new(
            ConflictKind::PrivateFolder,
            format!("\"{name}\" is a private folder, which is never routable"),
            format!(
                "Next.js ignores folders whose name starts with \"_\"; to match the URL segment \
                 \"{name}\", write the folder name as \"%5F{rest}\""
            ),
        ));
    }
    if name.starts_with('[') && name.ends_with(']') && name.len() >= 2 {
        return parse_dynamic(name);
    }
    if name.contains(['[', ']']) {
        return Err(extra_brackets(name));
    }
    match decode(name) {
        Some(literal) if literal == "." || literal == ".." => Err(Problem::new(
            ConflictKind::InvalidPattern,
            format!("\"{name}\" is not a folder name"),
            "a request path with a \".\" or \"..\" segment is answered 400 Bad Request, so no \
             route can match one; remove the segment"
                .into(),
        )),
        Some(literal) if literal.contains('\0') => Err(Problem::new(
            ConflictKind::InvalidPattern,
            format!("the folder name \"{name}\" has an encoded NUL byte"),
            "a request path with \"%00\" is answered 400 Bad Request, so no route can match \
             one; remove the escape"
                .into(),
        )),
        Some(literal) => Ok(Segment::Static {
            raw: name.into(),
            literal: literal.into(),
        }),
        None => Err(Problem::new(
            ConflictKind::InvalidPattern,
            format!("invalid percent-encoding in the folder name \"{name}\""),
            "escapes are \"%\" and two hex digits that decode to UTF-8; write a literal \"%\" \
             as \"%25\""
                .into(),
        )),
    }
}

/// Reads `[x]`, `[...x]` and `[[...x]]`, with the checks of Next.js' `sorted-routes.ts`.
fn parse_dynamic(segment: &str) -> Result<Segment, Problem> {
    let mut name = &segment[1..segment.len() - 1];
    let mut optional = false;
    if name.starts_with('[') && name.ends_with(']') && name.len() >= 2 {
        name = &name[1..name.len() - 1];
        optional = true;
    }
    if name.starts_with('…') {
        return Err(Problem::new(
            ConflictKind::ThreeDotCharacter,
            format!("Detected a three-dot character ('…') at ('{name}'). Did you mean ('...')?"),
            format!(
                "a catch-all is written with three periods: \"[...{}]\"",
                name.trim_start_matches('…')
            ),
        ));
    }
    let mut catch_all = false;
    if let Some(rest) = name.strip_prefix("...") {
        name = rest;
        catch_all = true;
    }
    if name.starts_with('[') || name.ends_with(']') || name.contains(['[', ']']) {
        return Err(extra_brackets(name));
    }
    if name.starts_with('.') {
        return Err(Problem::new(
            ConflictKind::ErroneousPeriod,
            format!("Segment names may not start with erroneous periods ('{name}')."),
            format!(
                "a catch-all is written with exactly three periods: \"[...{}]\"",
                name.trim_start_matches('.')
            ),
        ));
    }
    if name.is_empty() {
        return Err(Problem::new(
            ConflictKind::EmptyName,
            format!("segment names may not be empty (\"{segment}\")"),
            "name the segment, as in \"[id]\", \"[...slug]\" or \"[[...slug]]\"".into(),
        ));
    }
    match (catch_all, optional) {
        (false, false) => Ok(Segment::Param(name.into())),
        (true, false) => Ok(Segment::CatchAll(name.into())),
        (true, true) => Ok(Segment::OptionalCatchAll(name.into())),
        (false, true) => Err(Problem::new(
            ConflictKind::OptionalParameter,
            format!("Optional route parameters are not yet supported (\"{segment}\")."),
            format!(
                "register \"[{name}]\" and its parent path, or use \"[[...{name}]]\" for zero or \
                 more segments"
            ),
        )),
    }
}

fn extra_brackets(name: &str) -> Problem {
    Problem::new(
        ConflictKind::ExtraBrackets,
        format!("Segment names may not start or end with extra brackets ('{name}')."),
        "brackets wrap a whole folder name: \"[name]\", \"[...name]\" or \"[[...name]]\"".into(),
    )
}

/// The checks of one whole path: a catch-all is last, and no two dynamic names of the path
/// are equal or equal once their non-word characters are removed.
fn path_problems(segments: &[Segment], problems: &mut Vec<Problem>) {
    let mut seen_catch_all: Option<&Segment> = None;
    let mut names: Vec<&str> = Vec::new();
    for segment in segments.iter().filter(|s| !matches!(s, Segment::Group(_))) {
        if let Some(catch_all) = seen_catch_all {
            let mut written = String::new();
            catch_all.write_url(&mut written);
            problems.push(Problem::new(
                ConflictKind::CatchAllNotLast,
                "Catch-all must be the last part of the URL.".into(),
                format!(
                    "nothing may follow \"{written}\"; move it to the end, or use \"[{}]\" for a \
                     single segment",
                    catch_all.slug().map(|n| &**n).unwrap_or_default()
                ),
            ));
            break;
        }
        if segment.is_catch_all() {
            seen_catch_all = Some(segment);
        }
        let Some(name) = segment.slug() else { continue };
        for previous in &names {
            if *previous == &**name {
                problems.push(Problem::new(
                    ConflictKind::RepeatedSlug,
                    format!(
                        "You cannot have the same slug name \"{name}\" repeat within a single \
                         dynamic path"
                    ),
                    format!(
                        "each dynamic segment of a path needs its own name; rename one \"{name}\""
                    ),
                ));
                break;
            }
            if word_chars(previous).eq(word_chars(name)) {
                problems.push(Problem::new(
                    ConflictKind::SlugsDifferBySymbols,
                    format!(
                        "You cannot have the slug names \"{previous}\" and \"{name}\" differ only \
                         by non-word symbols within a single dynamic path"
                    ),
                    format!(
                        "both names become the same key once symbols are removed; rename \
                         \"{name}\""
                    ),
                ));
                break;
            }
        }
        names.push(name);
    }
}

/// The word characters of a name: letters, digits and `_`. Next.js uses JavaScript's ASCII
/// `\W`, so there `[시도]` and `[시군구]` collide; here letters of any script are kept.
fn word_chars(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars().filter(|c| c.is_alphanumeric() || *c == '_')
}

/// Percent-decodes one path segment, strictly: every `%` starts an escape of two hex digits
/// and the result must be UTF-8 (`decodeURIComponent` rules). Borrows when there is nothing
/// to decode.
pub(crate) fn decode(segment: &str) -> Option<Cow<'_, str>> {
    let bytes = segment.as_bytes();
    let Some(first) = bytes.iter().position(|&b| b == b'%') else {
        return Some(Cow::Borrowed(segment));
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..first]);
    let mut i = first;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hi = hex(*bytes.get(i + 1)?)?;
            let lo = hex(*bytes.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(s: &str) -> Segment {
        parse_segment(s).unwrap()
    }

    #[test]
    fn segments() {
        assert_eq!(
            seg("robots.txt"),
            Segment::Static {
                raw: "robots.txt".into(),
                literal: "robots.txt".into()
            }
        );
        assert_eq!(
            seg("%5Fprivate"),
            Segment::Static {
                raw: "%5Fprivate".into(),
                literal: "_private".into()
            }
        );
        assert_eq!(seg("(shop)"), Segment::Group("shop".into()));
        assert_eq!(seg("[id]"), Segment::Param("id".into()));
        assert_eq!(seg("[...slug]"), Segment::CatchAll("slug".into()));
        assert_eq!(seg("[[...slug]]"), Segment::OptionalCatchAll("slug".into()));
    }

    #[test]
    fn segment_problems() {
        let cases: &[(&str, ConflictKind, &str)] = &[
            (
                "[[id]]",
                ConflictKind::OptionalParameter,
                "Optional route parameters are not yet supported (\"[[id]]\").",
            ),
            (
                "[....id]",
                ConflictKind::ErroneousPeriod,
                "Segment names may not start with erroneous periods ('.id').",
            ),
            (
                "[.id]",
                ConflictKind::ErroneousPeriod,
                "Segment names may not start with erroneous periods ('.id').",
            ),
            (
                "[[...id]",
                ConflictKind::ExtraBrackets,
                "Segment names may not start or end with extra brackets ('[...id').",
            ),
            (
                "[id",
                ConflictKind::ExtraBrackets,
                "Segment names may not start or end with extra brackets ('[id').",
            ),
            (
                "a[b]",
                ConflictKind::ExtraBrackets,
                "Segment names may not start or end with extra brackets ('a[b]').",
            ),
            (
                "[…slug]",
                ConflictKind::ThreeDotCharacter,
                "Detected a three-dot character ('…') at ('…slug'). Did you mean ('...')?",
            ),
            (
                "[]",
                ConflictKind::EmptyName,
                "segment names may not be empty (\"[]\")",
            ),
            (
                "[...]",
                ConflictKind::EmptyName,
                "segment names may not be empty (\"[...]\")",
            ),
            (
                "_lib",
                ConflictKind::PrivateFolder,
                "\"_lib\" is a private folder, which is never routable",
            ),
            (
                "@modal",
                ConflictKind::ParallelSlot,
                "parallel route slots are not supported (\"@modal\")",
            ),
            (
                "100%",
                ConflictKind::InvalidPattern,
                "invalid percent-encoding in the folder name \"100%\"",
            ),
            (
                "..",
                ConflictKind::InvalidPattern,
                "\"..\" is not a folder name",
            ),
            (
                ".",
                ConflictKind::InvalidPattern,
                "\".\" is not a folder name",
            ),
            (
                "%2e%2E",
                ConflictKind::InvalidPattern,
                "\"%2e%2E\" is not a folder name",
            ),
            (
                "a%00",
                ConflictKind::InvalidPattern,
                "the folder name \"a%00\" has an encoded NUL byte",
            ),
        ];
        for (input, kind, message) in cases {
            let problem = parse_segment(input).unwrap_err();
            assert_eq!((problem.kind, problem.message.as_str()), (*kind, *message));
        }
    }

    #[test]
    fn urls() {
        let (p, problems) = parse("/(shop)/items/[id]/");
        let p = p.unwrap();
        assert!(problems.is_empty());
        assert_eq!(p.url(), "/items/[id]");
        assert_eq!(p.app_page("route"), "/(shop)/items/[id]/route");
        let (p, _) = parse("/");
        assert_eq!(p.as_ref().unwrap().url(), "/");
        assert_eq!(p.unwrap().app_page("page"), "/page");
        let (p, _) = parse("/(g)");
        assert_eq!(p.as_ref().unwrap().url(), "/");
        assert_eq!(p.unwrap().app_page("route"), "/(g)/route");
    }

    #[test]
    fn decoding_is_strict() {
        assert_eq!(decode("a%2Fb").as_deref(), Some("a/b"));
        assert_eq!(decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(decode("plain").as_deref(), Some("plain"));
        for bad in ["%", "%2", "%zz", "a%g0", "%FF", "%C3"] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }
}
