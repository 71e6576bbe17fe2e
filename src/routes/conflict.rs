//! The checks run when a route table is built, and the error that lists what they found.

use std::{collections::BTreeMap, error::Error, fmt, panic::Location, sync::Arc};

pub use super::pattern::ConflictKind;
use super::pattern::{self, Pattern, Segment};

/// What was registered: a route handler or a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegistrationKind {
    /// A route handler, registered with [`Routes::route`](super::Routes::route).
    Route,
    /// A page (any other service), registered with [`Routes::page`](super::Routes::page).
    Page,
}

impl RegistrationKind {
    /// `"route"` or `"page"`, the file names Next.js gives them.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Route => "route",
            Self::Page => "page",
        }
    }
}

impl fmt::Display for RegistrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registration of a route table: its kind, its pattern as written, and the place in the
/// source that registered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registration {
    kind: RegistrationKind,
    pattern: Arc<str>,
    location: &'static Location<'static>,
}

impl Registration {
    pub(crate) fn new(
        kind: RegistrationKind,
        pattern: Arc<str>,
        location: &'static Location<'static>,
    ) -> Self {
        Self {
            kind,
            pattern,
            location,
        }
    }

    /// Route or page.
    pub fn kind(&self) -> RegistrationKind {
        self.kind
    }

    /// The pattern, as it was written.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The call that registered it.
    pub fn location(&self) -> &'static Location<'static> {
        self.location
    }
}

impl fmt::Display for Registration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} \"{}\" registered at {}",
            self.kind, self.pattern, self.location
        )
    }
}

/// One problem found when a route table was built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    kind: ConflictKind,
    message: String,
    hint: String,
    registrations: Vec<Registration>,
}

impl Conflict {
    /// What kind of problem this is.
    pub fn kind(&self) -> ConflictKind {
        self.kind
    }

    /// The message: the Next.js wording where Next.js reports the same problem.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// How to fix it.
    pub fn hint(&self) -> &str {
        &self.hint
    }

    /// The registrations involved: one for a problem of one pattern, two for a conflict
    /// between patterns, in the order the message names them.
    pub fn registrations(&self) -> &[Registration] {
        &self.registrations
    }

    fn write_body(&self, f: &mut fmt::Formatter<'_>, indent: &str) -> fmt::Result {
        f.write_str(&self.message)?;
        for registration in &self.registrations {
            write!(f, "\n{indent}{registration}")?;
        }
        write!(f, "\n{indent}hint: {}", self.hint)
    }
}

impl Conflict {
    /// A route whose settings were refused when the table built it.
    pub(crate) fn route_config(
        registration: &Registration,
        err: &crate::cache::ConfigError,
    ) -> Self {
        Self {
            kind: ConflictKind::RouteConfig,
            message: err.to_string(),
            hint: "fix the route's `dynamic` / `revalidate` settings or what its GET handler reads"
                .into(),
            registrations: vec![registration.clone()],
        }
    }
}

impl Conflict {
    /// Tables put together that disagree.
    pub(crate) fn composition(message: String, hint: &str) -> Self {
        Self {
            kind: ConflictKind::Composition,
            message,
            hint: hint.into(),
            registrations: Vec::new(),
        }
    }
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_body(f, "  ")
    }
}

/// Every problem found when a route table was built: what
/// [`Routes::try_build`](super::Routes::try_build) returns and
/// [`Routes::build`](super::Routes::build) panics with.
///
/// It is never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflicts {
    conflicts: Vec<Conflict>,
}

impl Conflicts {
    pub(crate) fn new(conflicts: Vec<Conflict>) -> Self {
        debug_assert!(!conflicts.is_empty());
        Self { conflicts }
    }

    /// The problems, in a stable order: problems of single patterns in registration order,
    /// then conflicts between patterns.
    pub fn iter(&self) -> std::slice::Iter<'_, Conflict> {
        self.conflicts.iter()
    }

    /// The problems as a slice.
    pub fn as_slice(&self) -> &[Conflict] {
        &self.conflicts
    }

    /// How many problems were found (at least one).
    pub fn len(&self) -> usize {
        self.conflicts.len()
    }

    /// Always `false`: a `Conflicts` holds at least one problem.
    pub fn is_empty(&self) -> bool {
        self.conflicts.is_empty()
    }
}

impl<'a> IntoIterator for &'a Conflicts {
    type Item = &'a Conflict;
    type IntoIter = std::slice::Iter<'a, Conflict>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl fmt::Display for Conflicts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.conflicts.len();
        write!(
            f,
            "found {n} route conflict{}; the route table was not built",
            if n == 1 { "" } else { "s" }
        )?;
        for (i, conflict) in self.conflicts.iter().enumerate() {
            write!(f, "\n\n{}. ", i + 1)?;
            conflict.write_body(f, "   ")?;
        }
        Ok(())
    }
}

impl Error for Conflicts {}

/// Parses every registration's pattern and runs every check. Returns the parsed patterns
/// (`None` where a pattern could not be read) and all the problems.
pub(crate) fn check(registrations: &[Registration]) -> (Vec<Option<Pattern>>, Vec<Conflict>) {
    let mut conflicts = Vec::new();
    let mut patterns = Vec::with_capacity(registrations.len());
    for registration in registrations {
        let (pattern, problems) = pattern::parse(registration.pattern());
        conflicts.extend(problems.into_iter().map(|p| Conflict {
            kind: p.kind,
            message: p.message,
            hint: p.hint,
            registrations: vec![registration.clone()],
        }));
        patterns.push(pattern);
    }
    let mut checker = Checker {
        registrations,
        patterns: &patterns,
        conflicts,
    };
    let mut root = Node::default();
    for i in 0..patterns.len() {
        checker.insert(&mut root, i);
    }
    checker.walk(&root);
    let conflicts = checker.conflicts;
    (patterns, conflicts)
}

/// A node of the tree of URL shapes: each position has static children and at most one
/// dynamic child of each kind, as in Next.js' `UrlNode`.
#[derive(Default)]
struct Node<'a> {
    statics: BTreeMap<&'a str, Node<'a>>,
    param: Option<Slot<'a>>,
    catch_all: Option<Slot<'a>>,
    optional: Option<Slot<'a>>,
    /// The registrations that end at this node.
    occupants: Vec<usize>,
}

/// A dynamic child: the first registration that used it and its name.
struct Slot<'a> {
    first: usize,
    segment: &'a Segment,
    node: Box<Node<'a>>,
}

struct Checker<'a> {
    registrations: &'a [Registration],
    patterns: &'a [Option<Pattern>],
    conflicts: Vec<Conflict>,
}

fn written(segment: &Segment) -> String {
    match segment {
        Segment::Param(n) => format!("[{n}]"),
        Segment::CatchAll(n) => format!("[...{n}]"),
        Segment::OptionalCatchAll(n) => format!("[[...{n}]]"),
        Segment::Static { raw, .. } => raw.to_string(),
        Segment::Group(g) => format!("({g})"),
    }
}

impl<'a> Checker<'a> {
    fn push(&mut self, kind: ConflictKind, message: String, hint: String, regs: [usize; 2]) {
        self.conflicts.push(Conflict {
            kind,
            message,
            hint,
            registrations: regs
                .iter()
                .map(|&i| self.registrations[i].clone())
                .collect(),
        });
    }

    fn insert(&mut self, root: &mut Node<'a>, i: usize) {
        let Some(pattern) = &self.patterns[i] else {
            return;
        };
        let mut node = root;
        for segment in pattern.url_segments() {
            node = match segment {
                Segment::Static { literal, .. } => node.statics.entry(&**literal).or_default(),
                Segment::Param(_) => self.enter(&mut node.param, i, segment),
                Segment::CatchAll(name) => {
                    if let Some(opt) = &node.optional {
                        let message = format!(
                            "You cannot use both an optional and required catch-all route at the \
                             same level (\"{}\" and \"[...{name}]\").",
                            written(opt.segment)
                        );
                        self.required_and_optional(message, [opt.first, i], name);
                    }
                    self.enter(&mut node.catch_all, i, segment)
                }
                Segment::OptionalCatchAll(name) => {
                    if let Some(req) = &node.catch_all {
                        let message = format!(
                            "You cannot use both an required and optional catch-all route at the \
                             same level (\"{}\" and \"[[...{name}]]\" ).",
                            written(req.segment)
                        );
                        self.required_and_optional(message, [req.first, i], name);
                    }
                    self.enter(&mut node.optional, i, segment)
                }
                Segment::Group(_) => continue,
            };
        }
        node.occupants.push(i);
    }

    fn required_and_optional(&mut self, message: String, regs: [usize; 2], name: &str) {
        self.push(
            ConflictKind::RequiredAndOptionalCatchAll,
            message,
            format!(
                "\"[...{name}]\" needs one or more segments and \"[[...{name}]]\" also matches \
                 the parent path; keep one of them"
            ),
            regs,
        );
    }

    /// Enters the dynamic child `slot`, creating it for registration `i`, and reports a
    /// name that differs from the one the child already has.
    fn enter<'n>(
        &mut self,
        slot: &'n mut Option<Slot<'a>>,
        i: usize,
        segment: &'a Segment,
    ) -> &'n mut Node<'a> {
        let slot = slot.get_or_insert_with(|| Slot {
            first: i,
            segment,
            node: Box::default(),
        });
        if let (Some(previous), Some(next)) = (slot.segment.slug(), segment.slug()) {
            if previous != next {
                self.push(
                    ConflictKind::DifferentSlugNames,
                    format!(
                        "You cannot use different slug names for the same dynamic path \
                         ('{previous}' !== '{next}')."
                    ),
                    format!(
                        "every pattern must give the dynamic segment at one position the same \
                         name; rename \"{}\" to \"{}\" in \"{}\"",
                        written(segment),
                        written(slot.segment),
                        self.registrations[i].pattern()
                    ),
                    [slot.first, i],
                );
            }
        }
        &mut slot.node
    }

    fn walk(&mut self, node: &Node<'a>) {
        for (k, &i) in node.occupants.iter().enumerate() {
            if let Some(&j) = node.occupants[..k]
                .iter()
                .find(|&&j| same_url(self.pattern(i), self.pattern(j)))
            {
                self.same_url(i, j);
            }
        }
        if let Some(opt) = &node.optional {
            for &i in &node.occupants {
                let url = self.pattern(i).url();
                let name = opt.segment.slug().map(|n| &**n).unwrap_or_default();
                let with = if url == "/" {
                    format!("/[[...{name}]]")
                } else {
                    format!("{url}/[[...{name}]]")
                };
                self.push(
                    ConflictKind::OptionalCatchAllSpecificity,
                    format!(
                        "You cannot define a route with the same specificity as a optional \
                         catch-all route (\"{url}\" and \"{with}\")."
                    ),
                    format!(
                        "\"[[...{name}]]\" already matches \"{url}\"; remove the {} at \"{url}\", \
                         or make the catch-all required: \"[...{name}]\"",
                        self.registrations[i].kind()
                    ),
                    [i, opt.first],
                );
            }
        }
        for child in node.statics.values() {
            self.walk(child);
        }
        for slot in [&node.param, &node.catch_all, &node.optional]
            .into_iter()
            .flatten()
        {
            self.walk(&slot.node);
        }
    }

    fn pattern(&self, i: usize) -> &'a Pattern {
        self.patterns[i]
            .as_ref()
            .expect("only parsed patterns are in the tree")
    }

    /// Registration `new` answers the same URL as the earlier `existing`. Worded as
    /// Turbopack's "Conflicting ..." issue, the newer registration first; two pages as
    /// Next.js' app loader words them, the earlier first.
    fn same_url(&mut self, new: usize, existing: usize) {
        let (a, b) = (
            self.registrations[new].kind(),
            self.registrations[existing].kind(),
        );
        let url = self.pattern(new).url();
        let page_a = self.pattern(new).app_page(a.as_str());
        let page_b = self.pattern(existing).app_page(b.as_str());
        let hint = if a != b {
            "a URL is served by a page or by a route handler, not both; move one of them to \
             another path (route handlers often live under \"/api\")"
                .to_string()
        } else if self.registrations[new].pattern() == self.registrations[existing].pattern() {
            format!(
                "\"{}\" is registered twice; remove one registration",
                self.registrations[new].pattern()
            )
        } else {
            format!(
                "route groups add no URL segment, so both answer \"{url}\"; keep one, or give \
                 one of them a distinct path"
            )
        };
        if a == RegistrationKind::Page && b == RegistrationKind::Page {
            self.push(
                ConflictKind::SameUrl,
                format!(
                    "You cannot have two parallel pages that resolve to the same path. Please \
                     check {page_b} and {page_a}. Refer to the route group docs for more \
                     information: {ROUTE_GROUP_DOCS}"
                ),
                hint,
                [existing, new],
            );
            return;
        }
        let names = if a == b {
            format!("{a}s")
        } else {
            format!("{a} and {b}")
        };
        self.push(
            ConflictKind::SameUrl,
            format!("Conflicting {names} at {url}: {a} at {page_a} and {b} at {page_b}"),
            hint,
            [new, existing],
        );
    }
}

/// The page Next.js links from its message about two pages at one path.
const ROUTE_GROUP_DOCS: &str =
    "https://nextjs.org/docs/app/building-your-application/routing/route-groups";

/// Whether two patterns answer exactly the same URLs with the same parameter names.
fn same_url(a: &Pattern, b: &Pattern) -> bool {
    let (mut a, mut b) = (a.url_segments(), b.url_segments());
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) => {
                let equal = match (x, y) {
                    (Segment::Static { literal: l, .. }, Segment::Static { literal: r, .. }) => {
                        l == r
                    }
                    (Segment::Param(l), Segment::Param(r))
                    | (Segment::CatchAll(l), Segment::CatchAll(r))
                    | (Segment::OptionalCatchAll(l), Segment::OptionalCatchAll(r)) => l == r,
                    _ => false,
                };
                if !equal {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[track_caller]
    fn reg(kind: RegistrationKind, pattern: &str) -> Registration {
        Registration::new(kind, pattern.into(), Location::caller())
    }

    fn messages(regs: &[Registration]) -> Vec<String> {
        check(regs).1.into_iter().map(|c| c.message).collect()
    }

    #[test]
    fn display_lists_everything() {
        let regs = [
            reg(RegistrationKind::Route, "/a/[id]"),
            reg(RegistrationKind::Route, "/a/[slug]"),
        ];
        let (_, conflicts) = check(&regs);
        let all = Conflicts { conflicts };
        let text = all.to_string();
        let line = regs[0].location().line();
        let file = regs[0].location().file();
        assert_eq!(
            text,
            format!(
                "found 1 route conflict; the route table was not built\n\n\
                 1. You cannot use different slug names for the same dynamic path ('id' !== 'slug').\n   \
                 route \"/a/[id]\" registered at {file}:{line}:13\n   \
                 route \"/a/[slug]\" registered at {file}:{}:13\n   \
                 hint: every pattern must give the dynamic segment at one position the same name; \
                 rename \"[slug]\" to \"[id]\" in \"/a/[slug]\"",
                line + 1
            )
        );
    }

    #[test]
    fn same_url_wording_follows_turbopack() {
        let regs = [
            reg(RegistrationKind::Page, "/conflict"),
            reg(RegistrationKind::Route, "/conflict"),
            reg(RegistrationKind::Route, "/(a)/x"),
            reg(RegistrationKind::Route, "/(b)/x/"),
        ];
        assert_eq!(
            messages(&regs),
            [
                "Conflicting route and page at /conflict: route at /conflict/route and page at \
                 /conflict/page",
                "Conflicting routes at /x: route at /(b)/x/route and route at /(a)/x/route",
            ]
        );
    }

    #[test]
    fn two_pages_at_one_path_use_the_app_loader_wording() {
        let regs = [
            reg(RegistrationKind::Page, "/(a)/x"),
            reg(RegistrationKind::Page, "/(b)/x/"),
            reg(RegistrationKind::Page, "/(a)"),
            reg(RegistrationKind::Page, "/(b)"),
            reg(RegistrationKind::Page, "/same"),
            reg(RegistrationKind::Page, "/same"),
        ];
        let (_, conflicts) = check(&regs);
        let got: Vec<(&str, &str, Vec<&str>)> = conflicts
            .iter()
            .map(|c| {
                let patterns = c.registrations.iter().map(|r| r.pattern()).collect();
                (c.message.as_str(), c.hint.as_str(), patterns)
            })
            .collect();
        let docs = "Refer to the route group docs for more information: \
                    https://nextjs.org/docs/app/building-your-application/routing/route-groups";
        assert_eq!(
            got,
            [
                (
                    &*format!(
                        "You cannot have two parallel pages that resolve to the same path. \
                         Please check /(a)/page and /(b)/page. {docs}"
                    ),
                    "route groups add no URL segment, so both answer \"/\"; keep one, or give \
                     one of them a distinct path",
                    vec!["/(a)", "/(b)"],
                ),
                (
                    &*format!(
                        "You cannot have two parallel pages that resolve to the same path. \
                         Please check /same/page and /same/page. {docs}"
                    ),
                    "\"/same\" is registered twice; remove one registration",
                    vec!["/same", "/same"],
                ),
                (
                    &*format!(
                        "You cannot have two parallel pages that resolve to the same path. \
                         Please check /(a)/x/page and /(b)/x/page. {docs}"
                    ),
                    "route groups add no URL segment, so both answer \"/x\"; keep one, or give \
                     one of them a distinct path",
                    vec!["/(a)/x", "/(b)/x/"],
                ),
            ]
        );
    }

    #[test]
    fn valid_tables_have_no_conflicts() {
        let regs: Vec<_> = [
            "/",
            "/p2/[id]/abc",
            "/p2/[...rest]",
            "/posts/[id]",
            "/[root]",
            "/[root]/x/[id]",
            "/[...rest]",
            "/blog/[[...slug]]",
            "/blog/[id]",
            "/robots.txt",
            "/%5Fnext",
            "/(g)/a/[x]",
            "/b/[x]",
        ]
        .into_iter()
        .map(|p| reg(RegistrationKind::Route, p))
        .collect();
        assert_eq!(messages(&regs), Vec::<String>::new());
    }
}
