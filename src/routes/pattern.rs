//! Parsing route patterns written the way Next.js names its folders.
//!
//! A pattern is a `/`-separated list of folder names: static names (dots allowed), `[id]`,
//! `[...slug]`, `[[...slug]]` and `(group)`. Static names are percent-decoded here, so the
//! folder name `%5Fname` is the literal URL segment `_name`, the Next.js way to route a
//! segment that starts with an underscore.
//!
//! The checks on one folder name follow Next.js' `sorted-routes.ts` in order and wording;
//! the checks between patterns live in `conflict.rs`.
//!
//! A static name written in another router's syntax is refused rather than taken literally,
//! since taken literally it would never match what was meant: `{id}` and `{*rest}` (axum 0.8,
//! matchit 0.8), `:id` and `*rest` (express, axum 0.7, with express' `?`, `+`, `*` and
//! `(regex)` modifiers read too), and any other `{` or `}` in a static name (matchit's
//! parameter inside a segment, `id{id}`, or its `{{` escape). The problem names the Next.js
//! folder name and the whole pattern rewritten with it. The check reads the name as written,
//! before percent-decoding, so the literal is always available: `%7Bid%7D` is the segment
//! `{id}`, `%3Aid` is `:id`, `%2A` is `*`. A `:` or `*` after the first character stays
//! literal (`books:search`, the colon of Google's custom methods, or `a*b`): there it is
//! rarely another router's syntax and often a real URL.

use std::{borrow::Cow, sync::Arc};

use crate::context::hex;

/// The kind of a [`Conflict`](super::Conflict). The message of each kind that Next.js also reports uses the
/// Next.js 16 wording.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConflictKind {
    /// The pattern does not start with `/`, or a folder name has a bad `%` escape.
    InvalidPattern,
    /// A folder name in another router's syntax, which taken literally would never match
    /// what was meant: `{id}` or `{*rest}` (axum 0.8, matchit), `:id` or `*rest` (express,
    /// axum 0.7), or any other `{` or `}` in a static name. The hint gives the pattern in
    /// Next.js folder names, and the percent-encoded name that matches it literally
    /// (`%7Bid%7D`, `%3Aid`, `%2Arest`). A `:` or `*` after the first character stays a
    /// literal (`books:search`, `a*b`).
    ForeignSyntax,
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
    /// Tables put together with [`Routes::merge`](super::Routes::merge) or
    /// [`Routes::nest`](super::Routes::nest) that disagree: two not-found services, two
    /// caches, or a nested table's not-found service, which would never answer.
    Composition,
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
    let mut unreadable = Vec::new();
    // The pattern with every name in another router's syntax rewritten, for their hints.
    let mut rewritten = String::with_capacity(raw.len() + 1);
    for name in raw.split('/').filter(|s| !s.is_empty()) {
        rewritten.push('/');
        match parse_segment(name) {
            Ok(segment) => {
                rewritten.push_str(name);
                segments.push(segment);
            }
            Err(Unreadable::Problem(problem)) => {
                rewritten.push_str(name);
                unreadable.push(Unreadable::Problem(problem));
            }
            Err(Unreadable::Foreign(foreign)) => {
                rewritten.push_str(&foreign.replacement);
                unreadable.push(Unreadable::Foreign(foreign));
            }
        }
    }
    if !unreadable.is_empty() {
        problems.extend(unreadable.into_iter().map(|u| match u {
            Unreadable::Problem(problem) => problem,
            Unreadable::Foreign(foreign) => foreign.into_problem(&rewritten),
        }));
        return (None, problems);
    }
    path_problems(&segments, &mut problems);
    (Some(Pattern { segments }), problems)
}

/// Why a folder name could not be read.
#[derive(Debug)]
enum Unreadable {
    Problem(Problem),
    /// Another router's syntax: its hint needs the whole pattern rewritten, so it becomes
    /// a [`Problem`] once every name has been read.
    Foreign(Foreign),
}

impl From<Problem> for Unreadable {
    fn from(problem: Problem) -> Self {
        Self::Problem(problem)
    }
}

/// Reads one folder name.
fn parse_segment(name: &str) -> Result<Segment, Unreadable> {
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
        )
        .into());
    }
    if let Some(rest) = name.strip_prefix('_') {
        return Err(Problem::new(
            ConflictKind::PrivateFolder,
            format!("\"{name}\" is a private folder, which is never routable"),
            format!(
                "Next.js ignores folders whose name starts with \"_\"; to match the URL segment \
                 \"{name}\", write the folder name as \"%5F{rest}\""
            ),
        )
        .into());
    }
    if name.starts_with('[') && name.ends_with(']') && name.len() >= 2 {
        return parse_dynamic(name).map_err(Unreadable::Problem);
    }
    if name.contains(['[', ']']) {
        return Err(extra_brackets(name).into());
    }
    // Before decoding: `%7Bid%7D` is the literal `{id}`.
    if let Some(foreign) = Foreign::read(name) {
        return Err(Unreadable::Foreign(foreign));
    }
    match decode(name) {
        Some(literal) if literal == "." || literal == ".." => Err(Problem::new(
            ConflictKind::InvalidPattern,
            format!("\"{name}\" is not a folder name"),
            "a request path with a \".\" or \"..\" segment is answered 400 Bad Request, so no \
             route can match one; remove the segment"
                .into(),
        )
        .into()),
        Some(literal) if literal.contains('\0') => Err(Problem::new(
            ConflictKind::InvalidPattern,
            format!("the folder name \"{name}\" has an encoded NUL byte"),
            "a request path with \"%00\" is answered 400 Bad Request, so no route can match \
             one; remove the escape"
                .into(),
        )
        .into()),
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
        )
        .into()),
    }
}

/// A static folder name written in another router's syntax.
#[derive(Debug)]
struct Foreign {
    /// The name as written.
    raw: Box<str>,
    message: String,
    /// What to write instead: the Next.js folder name, or the percent-encoded literal when
    /// Next.js has no folder name for what was meant (a parameter inside a name).
    replacement: String,
    /// The name percent-encoded so that it matches literally.
    literal: String,
}

/// The Next.js folder name a foreign parameter becomes.
#[derive(Clone, Copy)]
enum NextForm {
    Param,
    CatchAll,
    OptionalCatchAll,
}

impl NextForm {
    fn write(self, name: &str) -> String {
        match self {
            Self::Param => format!("[{name}]"),
            Self::CatchAll => format!("[...{name}]"),
            Self::OptionalCatchAll => format!("[[...{name}]]"),
        }
    }
}

/// The name suggested when the foreign parameter has none (`*`, `{}`), as in the Next.js docs.
const PLACEHOLDER: &str = "slug";

impl Foreign {
    /// Recognises another router's syntax in a name that would otherwise be static.
    fn read(name: &str) -> Option<Self> {
        if let Some(rest) = name.strip_prefix(':') {
            return Some(Self::colon(name, rest));
        }
        if let Some(rest) = name.strip_prefix('*') {
            return Some(Self::star(name, rest));
        }
        if name.contains(['{', '}']) {
            return Some(Self::braces(name));
        }
        None
    }

    /// `:id` (express, axum 0.7), with express' modifiers `?`, `+`, `*` and `(regex)`.
    fn colon(raw: &str, rest: &str) -> Self {
        // Express names are word characters; anything else ends the name.
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let (name, modifier) = rest.split_at(end);
        let (who, what, form, note) = match modifier {
            "" => (
                "the express and axum 0.7 syntax",
                "a path parameter",
                NextForm::Param,
                "",
            ),
            "?" => (
                "the express syntax",
                "an optional path parameter",
                NextForm::OptionalCatchAll,
                ", which also matches more than one segment (Next.js has no optional single \
                 segment)",
            ),
            "+" => (
                "the express syntax",
                "a parameter of one or more segments",
                NextForm::CatchAll,
                "",
            ),
            "*" => (
                "the express syntax",
                "a parameter of zero or more segments",
                NextForm::OptionalCatchAll,
                "",
            ),
            m if m.starts_with('(') && m.ends_with(')') => (
                "the express syntax",
                "a path parameter with a pattern",
                NextForm::Param,
                " and check the value in the handler (folder names have no patterns)",
            ),
            _ => return Self::inside(raw, "an express path parameter", "[id]"),
        };
        Self::parameter(raw, who, what, form, name, note)
    }

    /// `*rest` (express 5, axum 0.7) and the unnamed `*` (express 4).
    fn star(raw: &str, rest: &str) -> Self {
        if rest.is_empty() {
            return Self::parameter(
                raw,
                "the express syntax",
                "an unnamed catch-all parameter",
                NextForm::CatchAll,
                rest,
                "",
            );
        }
        if is_plain(rest) {
            return Self::parameter(
                raw,
                "the express and axum 0.7 syntax",
                "a catch-all parameter",
                NextForm::CatchAll,
                rest,
                "",
            );
        }
        Self::inside(raw, "an express catch-all", "[...slug]")
    }

    /// `{id}` and `{*rest}` (axum 0.8, matchit 0.8), matchit's `{{` and `}}` escapes, and a
    /// brace anywhere else.
    fn braces(raw: &str) -> Self {
        if let Some(inner) = raw.strip_prefix('{').and_then(|r| r.strip_suffix('}')) {
            if !inner.contains(['{', '}']) {
                let (what, form, name) = match inner.strip_prefix('*') {
                    Some(name) => ("a catch-all parameter", NextForm::CatchAll, name),
                    None => ("a path parameter", NextForm::Param, inner),
                };
                if name.is_empty() || is_plain(name) {
                    return Self::parameter(raw, "axum's syntax", what, form, name, "");
                }
            }
        }
        if let Some(unescaped) = unescape_braces(raw) {
            let literal = percent_encode_syntax(&unescaped);
            return Self {
                message: format!(
                    "\"{raw}\" is axum's escape for the literal folder name \"{unescaped}\"; this \
                     table percent-decodes folder names instead: write \"{literal}\""
                ),
                raw: raw.into(),
                replacement: literal.clone(),
                literal,
            };
        }
        Self::inside(raw, "an axum path parameter", "[id]")
    }

    /// A whole-name parameter: `message` names its Next.js folder name.
    fn parameter(raw: &str, who: &str, what: &str, form: NextForm, name: &str, note: &str) -> Self {
        let (name, any) = if name.is_empty() {
            (PLACEHOLDER, " (any name will do)")
        } else {
            (name, "")
        };
        let next = form.write(name);
        Self {
            message: format!(
                "\"{raw}\" is {who} for {what}; this table uses Next.js folder names: write \
                 \"{next}\"{any}{note}"
            ),
            raw: raw.into(),
            replacement: next,
            literal: percent_encode_syntax(raw),
        }
    }

    /// A parameter inside a longer name (`id{id}`, `:from-:to`, `*.json`), which Next.js
    /// cannot express: the only reading that matches is the literal one.
    fn inside(raw: &str, what: &str, example: &str) -> Self {
        let literal = percent_encode_syntax(raw);
        Self {
            message: format!(
                "\"{raw}\" puts {what} inside a folder name; a Next.js parameter is a whole \
                 folder name, such as \"{example}\""
            ),
            raw: raw.into(),
            replacement: literal.clone(),
            literal,
        }
    }

    /// The problem, with `rewritten`: the whole pattern with every foreign name replaced.
    fn into_problem(self, rewritten: &str) -> Problem {
        let Self {
            raw,
            message,
            replacement,
            literal,
        } = self;
        let hint = if replacement == literal {
            format!(
                "percent-encode the name to match it literally: write the pattern as \
                 \"{rewritten}\""
            )
        } else {
            format!(
                "write the pattern as \"{rewritten}\"; to match the folder name \"{raw}\" \
                 literally, percent-encode it: \"{literal}\""
            )
        };
        Problem::new(ConflictKind::ForeignSyntax, message, hint)
    }
}

/// A parameter name that reads the same as a Next.js folder name: letters, digits, `_`, `-`
/// and `.` (not first).
fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// matchit's escapes undone (`{{` is `{`, `}}` is `}`), or `None` when `raw` has a brace
/// that is not part of an escape.
fn unescape_braces(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if (c == '{' || c == '}') && chars.next() != Some(c) {
            return None;
        }
        out.push(c);
    }
    Some(out)
}

/// `name` with what another router would read as syntax percent-encoded: every brace, and a
/// leading `:` or `*`; and `?` and `#`, which no request path holds unencoded. The result
/// decodes back to `name`.
fn percent_encode_syntax(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 6);
    for (i, c) in name.char_indices() {
        match c {
            ':' if i == 0 => out.push_str("%3A"),
            '*' if i == 0 => out.push_str("%2A"),
            '{' => out.push_str("%7B"),
            '}' => out.push_str("%7D"),
            '?' => out.push_str("%3F"),
            '#' => out.push_str("%23"),
            c => out.push(c),
        }
    }
    out
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
            assert_eq!(problem(input), (*kind, message.to_string()));
        }
    }

    fn problem(name: &str) -> (ConflictKind, String) {
        match parse_segment(name).unwrap_err() {
            Unreadable::Problem(p) => (p.kind, p.message),
            Unreadable::Foreign(f) => (ConflictKind::ForeignSyntax, f.message),
        }
    }

    /// Every form of another router's syntax: the pattern, the message and the hint.
    #[test]
    fn foreign_syntax() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "/api/products/{id}",
                "\"{id}\" is axum's syntax for a path parameter; this table uses Next.js folder \
                 names: write \"[id]\"",
                "write the pattern as \"/api/products/[id]\"; to match the folder name \"{id}\" \
                 literally, percent-encode it: \"%7Bid%7D\"",
            ),
            (
                "/files/{*rest}",
                "\"{*rest}\" is axum's syntax for a catch-all parameter; this table uses \
                 Next.js folder names: write \"[...rest]\"",
                "write the pattern as \"/files/[...rest]\"; to match the folder name \
                 \"{*rest}\" literally, percent-encode it: \"%7B*rest%7D\"",
            ),
            (
                "/api/products/:id",
                "\":id\" is the express and axum 0.7 syntax for a path parameter; this table \
                 uses Next.js folder names: write \"[id]\"",
                "write the pattern as \"/api/products/[id]\"; to match the folder name \":id\" \
                 literally, percent-encode it: \"%3Aid\"",
            ),
            (
                "/files/*rest",
                "\"*rest\" is the express and axum 0.7 syntax for a catch-all parameter; this \
                 table uses Next.js folder names: write \"[...rest]\"",
                "write the pattern as \"/files/[...rest]\"; to match the folder name \"*rest\" \
                 literally, percent-encode it: \"%2Arest\"",
            ),
            (
                "/files/*",
                "\"*\" is the express syntax for an unnamed catch-all parameter; this table \
                 uses Next.js folder names: write \"[...slug]\" (any name will do)",
                "write the pattern as \"/files/[...slug]\"; to match the folder name \"*\" \
                 literally, percent-encode it: \"%2A\"",
            ),
            (
                "/a/{}",
                "\"{}\" is axum's syntax for a path parameter; this table uses Next.js folder \
                 names: write \"[slug]\" (any name will do)",
                "write the pattern as \"/a/[slug]\"; to match the folder name \"{}\" \
                 literally, percent-encode it: \"%7B%7D\"",
            ),
            (
                "/users/:id?",
                "\":id?\" is the express syntax for an optional path parameter; this table uses \
                 Next.js folder names: write \"[[...id]]\", which also matches more than one \
                 segment (Next.js has no optional single segment)",
                "write the pattern as \"/users/[[...id]]\"; to match the folder name \":id?\" \
                 literally, percent-encode it: \"%3Aid%3F\"",
            ),
            (
                "/docs/:path+",
                "\":path+\" is the express syntax for a parameter of one or more segments; this \
                 table uses Next.js folder names: write \"[...path]\"",
                "write the pattern as \"/docs/[...path]\"; to match the folder name \
                 \":path+\" literally, percent-encode it: \"%3Apath+\"",
            ),
            (
                "/docs/:path*",
                "\":path*\" is the express syntax for a parameter of zero or more segments; \
                 this table uses Next.js folder names: write \"[[...path]]\"",
                "write the pattern as \"/docs/[[...path]]\"; to match the folder name \
                 \":path*\" literally, percent-encode it: \"%3Apath*\"",
            ),
            (
                "/u/:id(\\d+)",
                "\":id(\\d+)\" is the express syntax for a path parameter with a pattern; this \
                 table uses Next.js folder names: write \"[id]\" and check the value in the \
                 handler (folder names have no patterns)",
                "write the pattern as \"/u/[id]\"; to match the folder name \":id(\\d+)\" \
                 literally, percent-encode it: \"%3Aid(\\d+)\"",
            ),
            (
                "/img/id{id}",
                "\"id{id}\" puts an axum path parameter inside a folder name; a Next.js \
                 parameter is a whole folder name, such as \"[id]\"",
                "percent-encode the name to match it literally: write the pattern as \
                 \"/img/id%7Bid%7D\"",
            ),
            (
                "/img/{name}.png",
                "\"{name}.png\" puts an axum path parameter inside a folder name; a Next.js \
                 parameter is a whole folder name, such as \"[id]\"",
                "percent-encode the name to match it literally: write the pattern as \
                 \"/img/%7Bname%7D.png\"",
            ),
            (
                "/flights/:from-:to",
                "\":from-:to\" puts an express path parameter inside a folder name; a Next.js \
                 parameter is a whole folder name, such as \"[id]\"",
                "percent-encode the name to match it literally: write the pattern as \
                 \"/flights/%3Afrom-:to\"",
            ),
            (
                "/static/*.js",
                "\"*.js\" puts an express catch-all inside a folder name; a Next.js parameter \
                 is a whole folder name, such as \"[...slug]\"",
                "percent-encode the name to match it literally: write the pattern as \
                 \"/static/%2A.js\"",
            ),
            (
                "/{{id}}",
                "\"{{id}}\" is axum's escape for the literal folder name \"{id}\"; this table \
                 percent-decodes folder names instead: write \"%7Bid%7D\"",
                "percent-encode the name to match it literally: write the pattern as \
                 \"/%7Bid%7D\"",
            ),
            (
                "/a}",
                "\"a}\" puts an axum path parameter inside a folder name; a Next.js parameter \
                 is a whole folder name, such as \"[id]\"",
                "percent-encode the name to match it literally: write the pattern as \
                 \"/a%7D\"",
            ),
        ];
        for (pattern, message, hint) in cases {
            let (parsed, problems) = parse(pattern);
            assert!(parsed.is_none(), "{pattern}");
            let got: Vec<_> = problems
                .iter()
                .map(|p| (p.kind, p.message.as_str(), p.hint.as_str()))
                .collect();
            assert_eq!(
                got,
                [(ConflictKind::ForeignSyntax, *message, *hint)],
                "{pattern}"
            );
        }
    }

    /// The hint's literal spelling of each foreign name reads back as that name, so there
    /// is always a way to match it literally.
    #[test]
    fn every_foreign_name_has_a_literal_spelling() {
        for name in [
            "{id}",
            "{*rest}",
            ":id",
            "*rest",
            "*",
            "{}",
            ":id?",
            ":p+",
            ":p*",
            "id{id}",
            "{a}.png",
            ":from-:to",
            "*.js",
            "a}",
            "{",
            "a{b",
            ":a#b",
        ] {
            let Err(Unreadable::Foreign(foreign)) = parse_segment(name) else {
                panic!("{name} is foreign syntax");
            };
            assert_eq!(
                seg(&foreign.literal),
                Segment::Static {
                    raw: foreign.literal.as_str().into(),
                    literal: name.into(),
                },
                "{name}"
            );
        }
        // matchit's escapes: the literal is what matchit would have matched.
        let Err(Unreadable::Foreign(foreign)) = parse_segment("{{id}}") else {
            panic!("an escape is foreign syntax");
        };
        assert_eq!(decode(&foreign.literal).as_deref(), Some("{id}"));
    }

    #[test]
    fn literal_names_that_look_foreign_stay_static() {
        for (raw, literal) in [
            ("%7Bid%7D", "{id}"),
            ("%7B*rest%7D", "{*rest}"),
            ("%3Aid", ":id"),
            ("%3aid", ":id"),
            ("%2Arest", "*rest"),
            ("a:b", "a:b"),
            ("books:search", "books:search"),
            ("a*b", "a*b"),
            ("robots.txt", "robots.txt"),
        ] {
            assert_eq!(
                seg(raw),
                Segment::Static {
                    raw: raw.into(),
                    literal: literal.into()
                },
                "{raw}"
            );
        }
        // A group, a slot, a private folder and a dynamic segment are read as such first.
        assert_eq!(seg("(:id)"), Segment::Group(":id".into()));
        assert_eq!(seg("[:id]"), Segment::Param(":id".into()));
        assert_eq!(problem("_{id}").0, ConflictKind::PrivateFolder);
        assert_eq!(problem("@{id}").0, ConflictKind::ParallelSlot);
        assert_eq!(problem("{id}]").0, ConflictKind::ExtraBrackets);
    }

    /// Each foreign name is its own problem, and every hint gives the pattern with all of
    /// them rewritten.
    #[test]
    fn the_hint_rewrites_every_foreign_name_of_the_pattern() {
        let (parsed, problems) = parse("/users/:uid/(g)/posts/{pid}/_x/");
        assert!(parsed.is_none());
        let got: Vec<_> = problems.iter().map(|p| (p.kind, p.hint.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    ConflictKind::ForeignSyntax,
                    "write the pattern as \"/users/[uid]/(g)/posts/[pid]/_x\"; to match the \
                     folder name \":uid\" literally, percent-encode it: \"%3Auid\""
                ),
                (
                    ConflictKind::ForeignSyntax,
                    "write the pattern as \"/users/[uid]/(g)/posts/[pid]/_x\"; to match the \
                     folder name \"{pid}\" literally, percent-encode it: \"%7Bpid%7D\""
                ),
                (
                    ConflictKind::PrivateFolder,
                    "Next.js ignores folders whose name starts with \"_\"; to match the URL \
                     segment \"_x\", write the folder name as \"%5Fx\""
                ),
            ]
        );
        // The rewritten pattern is a Next.js pattern.
        let (parsed, problems) = parse("/users/[uid]/(g)/posts/[pid]");
        assert!(parsed.is_some() && problems.is_empty());
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
