//! Route cache settings, in the words of Next.js route segment config: `dynamic`,
//! `revalidate` and tags.

use std::{fmt, sync::Arc, time::Duration};

use crate::extract::RequestData;

/// The `dynamic` setting of a route: whether its `GET` responses may be cached.
///
/// | Value | Next.js | `GET` responses |
/// | --- | --- | --- |
/// | [`Auto`](Self::Auto) (default) | `'auto'` | cached only with a [`Revalidate`] window or `Never`, and only while the handler reads no request data |
/// | [`ForceStatic`](Self::ForceStatic) | `'force-static'` | cached; the handler that fills the cache sees the path only |
/// | [`ForceDynamic`](Self::ForceDynamic) | `'force-dynamic'` | never cached |
/// | [`Error`](Self::Error) | `'error'` | cached; a handler that reads request data is an error |
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Dynamic {
    /// Cached when a revalidate window is set and the handler reads no request data.
    #[default]
    Auto,
    /// Always cached; the filling handler sees no headers, cookies or query.
    ForceStatic,
    /// Never cached.
    ForceDynamic,
    /// Always cached; reading request data is an error.
    Error,
}

impl fmt::Display for Dynamic {
    /// The Next.js spelling, as in `dynamic = "force-static"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Auto => "auto",
            Self::ForceStatic => "force-static",
            Self::ForceDynamic => "force-dynamic",
            Self::Error => "error",
        })
    }
}

/// The `revalidate` setting of a route: how long a cached response is fresh.
///
/// `Seconds(0)` (or a zero `After`) makes the route dynamic; `Never` caches until the entry
/// is invalidated on demand (Next.js `revalidate = false`). An integer converts to
/// `Seconds`, a [`Duration`] to `After`.
///
/// ```
/// use std::time::Duration;
/// use route_handlers::cache::Revalidate;
///
/// assert_eq!(Revalidate::from(10).window(), Some(Duration::from_secs(10)));
/// assert_eq!(Revalidate::Never.window(), None);
/// assert!(Revalidate::Seconds(0).is_dynamic());
/// assert_eq!(Revalidate::Never.to_string(), "false");
/// assert_eq!(Revalidate::from(Duration::from_millis(1500)).to_string(), "1.5s");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Revalidate {
    /// Fresh until invalidated.
    Never,
    /// Fresh for this many seconds; `0` means not cached.
    Seconds(u64),
    /// Fresh for this long; zero means not cached.
    After(Duration),
}

impl Revalidate {
    /// Whether this setting makes the route dynamic (a zero window).
    pub fn is_dynamic(self) -> bool {
        self.window() == Some(Duration::ZERO)
    }

    /// The freshness window, `None` for `Never`.
    pub fn window(self) -> Option<Duration> {
        match self {
            Self::Never => None,
            Self::Seconds(s) => Some(Duration::from_secs(s)),
            Self::After(d) => Some(d),
        }
    }
}

impl From<u64> for Revalidate {
    fn from(seconds: u64) -> Self {
        Self::Seconds(seconds)
    }
}

impl From<u32> for Revalidate {
    fn from(seconds: u32) -> Self {
        Self::Seconds(seconds.into())
    }
}

impl From<i32> for Revalidate {
    /// Seconds; a negative number counts as `0`.
    fn from(seconds: i32) -> Self {
        Self::Seconds(seconds.max(0).unsigned_abs().into())
    }
}

impl From<Duration> for Revalidate {
    fn from(window: Duration) -> Self {
        Self::After(window)
    }
}

impl fmt::Display for Revalidate {
    /// As in Next.js: `false` for `Never`, whole seconds as a number.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Never => f.write_str("false"),
            Self::Seconds(s) => write!(f, "{s}"),
            Self::After(d) if d.subsec_nanos() == 0 => write!(f, "{}", d.as_secs()),
            Self::After(d) => write!(f, "{d:?}"),
        }
    }
}

/// The cache settings of one route or one [`CacheLayer`](super::CacheLayer).
///
/// ```
/// use route_handlers::cache::{CacheConfig, Dynamic};
///
/// let config = CacheConfig::new()
///     .dynamic(Dynamic::ForceStatic)
///     .revalidate(60)
///     .tags(["posts"]);
/// assert_eq!(config.get_dynamic(), Dynamic::ForceStatic);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct CacheConfig {
    pub(crate) dynamic: Dynamic,
    pub(crate) revalidate: Option<Revalidate>,
    pub(crate) tags: Vec<Arc<str>>,
    pub(crate) cache_set_cookie: bool,
}

impl CacheConfig {
    /// `dynamic = "auto"`, no `revalidate`, no tags: nothing is cached.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `dynamic`.
    pub fn dynamic(mut self, dynamic: Dynamic) -> Self {
        self.dynamic = dynamic;
        self
    }

    /// Sets `revalidate`.
    pub fn revalidate(mut self, revalidate: impl Into<Revalidate>) -> Self {
        self.revalidate = Some(revalidate.into());
        self
    }

    /// Adds tags; [`Revalidator::revalidate_tag`](super::Revalidator::revalidate_tag)
    /// invalidates every entry that carries one.
    pub fn tags<I>(mut self, tags: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Arc<str>>,
    {
        self.tags.extend(tags.into_iter().map(Into::into));
        self
    }

    /// Stores responses that carry `Set-Cookie` (off by default: such a response is sent
    /// to the client that caused it and is not shared). Every client then receives the
    /// same cookies, as Next.js does.
    pub fn cache_set_cookie(mut self, enabled: bool) -> Self {
        self.cache_set_cookie = enabled;
        self
    }

    /// The `dynamic` setting.
    pub fn get_dynamic(&self) -> Dynamic {
        self.dynamic
    }

    /// The `revalidate` setting, when set.
    pub fn get_revalidate(&self) -> Option<Revalidate> {
        self.revalidate
    }

    /// Checks the settings for a route named `route` whose `GET` handler declares it reads
    /// `reads`, and resolves them. Each of the [`warnings`](Self::warnings) is logged at the
    /// warn level.
    pub(crate) fn resolve(
        &self,
        route: Option<&str>,
        reads: RequestData,
    ) -> Result<Resolved, ConfigError> {
        let name: Arc<str> = route.unwrap_or("<unnamed>").into();
        let mut problems = Vec::new();
        let revalidate = self.revalidate;
        let zero = revalidate.is_some_and(Revalidate::is_dynamic);
        match self.dynamic {
            Dynamic::ForceStatic | Dynamic::Error if zero => {
                problems.push(ConfigProblem::Contradiction {
                    route: name.clone(),
                    dynamic: self.dynamic,
                    revalidate: revalidate.expect("zero implies set"),
                });
            }
            Dynamic::ForceDynamic if revalidate.is_some_and(|r| !r.is_dynamic()) => {
                problems.push(ConfigProblem::Contradiction {
                    route: name.clone(),
                    dynamic: self.dynamic,
                    revalidate: revalidate.expect("checked above"),
                });
            }
            _ => {}
        }
        if self.dynamic == Dynamic::Error && !reads.is_empty() {
            problems.push(ConfigProblem::ReadsRequestData {
                route: name.clone(),
                reads,
            });
        }
        if !problems.is_empty() {
            return Err(ConfigError { problems });
        }
        let window = revalidate.unwrap_or(Revalidate::Never).window();
        let mode = match self.dynamic {
            Dynamic::ForceDynamic => return Ok(Resolved::Uncached),
            Dynamic::ForceStatic => Mode::Static,
            Dynamic::Error => Mode::Tracked { error: true },
            Dynamic::Auto => match revalidate {
                None => return Ok(Resolved::Uncached),
                Some(r) if r.is_dynamic() => return Ok(Resolved::Uncached),
                Some(_) if !reads.is_empty() => return Ok(Resolved::ReadsRequestData { reads }),
                Some(_) => Mode::Tracked { error: false },
            },
        };
        Ok(Resolved::Cached(Settings {
            mode,
            revalidate: window,
            tags: self.tags.iter().cloned().collect(),
            cache_set_cookie: self.cache_set_cookie,
            name: route.map(Arc::from),
        }))
    }
}

impl CacheConfig {
    /// What in the settings of a route named `route`, whose `GET` handler declares it reads
    /// `reads`, is accepted but is likely not what its author meant. The route builder logs
    /// them when it checks the settings.
    pub(crate) fn warnings(&self, route: Option<&str>, reads: RequestData) -> Vec<ConfigWarning> {
        let mut warnings = Vec::new();
        // The Next.js signature, `(request, context)`, hands over the whole request, and a
        // force-static handler is expected to ignore it; an extractor is a declared read.
        if self.dynamic == Dynamic::ForceStatic && !reads.is_empty() && reads != RequestData::ALL {
            warnings.push(ConfigWarning::ForceStaticReads {
                route: route.unwrap_or("<unnamed>").into(),
                reads,
            });
        }
        warnings
    }
}

/// A setting that is accepted but is likely not what the route's author meant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ConfigWarning {
    /// `force-static` with a `GET` handler whose arguments read request data: the handler
    /// that fills the cache is given a request with the path only (as Next.js blanks
    /// `cookies()`, `headers()` and the search params), so what it reads is empty.
    ForceStaticReads {
        /// The route's pattern, or `<unnamed>`.
        route: Arc<str>,
        /// What the handler declares it reads.
        reads: RequestData,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ForceStaticReads { route, reads } => write!(
                f,
                "Route {route} is force-static, but its GET handler reads {reads}; under \
                 force-static the handler is given the path only, so what it reads is empty"
            ),
        }
    }
}

/// What a route's settings come to.
#[derive(Debug)]
pub(crate) enum Resolved {
    /// Not cached.
    Uncached,
    /// `Auto` with a window, but the handler declares it reads request data: dynamic.
    ReadsRequestData { reads: RequestData },
    /// Cached.
    Cached(Settings),
}

/// Checked settings of a cached route.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) mode: Mode,
    pub(crate) revalidate: Option<Duration>,
    pub(crate) tags: Arc<[Arc<str>]>,
    pub(crate) cache_set_cookie: bool,
    pub(crate) name: Option<Arc<str>>,
}

/// How the filling handler sees the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `ForceStatic`: a fresh request with the path only.
    Static,
    /// `Auto` or `Error`: the request itself, with a read tracker.
    Tracked { error: bool },
}

/// A route's cache settings contradict each other, or its handler reads request data under
/// `dynamic = "error"`. Lists every problem found.
///
/// ```
/// use route_handlers::cache::{CacheConfig, CacheLayer, Dynamic};
///
/// let err = CacheLayer::try_new(CacheConfig::new().dynamic(Dynamic::ForceStatic).revalidate(0))
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "route <unnamed>: `dynamic = \"force-static\"` contradicts `revalidate = 0`: \
///      force-static caches the GET response and revalidate 0 never caches it; \
///      remove one of the two"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<ConfigProblem>,
}

impl ConfigError {
    /// Every problem found.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("; and ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// One problem in a route's cache settings.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigProblem {
    /// `dynamic` and `revalidate` ask for opposite things.
    Contradiction {
        /// The route's pattern, or `<unnamed>`.
        route: Arc<str>,
        /// The `dynamic` setting.
        dynamic: Dynamic,
        /// The `revalidate` setting.
        revalidate: Revalidate,
    },
    /// `dynamic = "error"` with a `GET` handler whose arguments read request data.
    ReadsRequestData {
        /// The route's pattern, or `<unnamed>`.
        route: Arc<str>,
        /// What the handler reads.
        reads: RequestData,
    },
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Contradiction {
                route,
                dynamic: Dynamic::ForceDynamic,
                revalidate,
            } => {
                let window = match revalidate {
                    Revalidate::Never => "caches it until it is invalidated".to_owned(),
                    r => format!("caches it for {r} s"),
                };
                write!(
                    f,
                    "route {route}: `dynamic = \"force-dynamic\"` contradicts `revalidate = \
                     {revalidate}`: force-dynamic never caches the GET response and revalidate \
                     {revalidate} {window}; remove one of the two"
                )
            }
            Self::Contradiction {
                route,
                dynamic,
                revalidate,
            } => write!(
                f,
                "route {route}: `dynamic = \"{dynamic}\"` contradicts `revalidate = {revalidate}`: \
                 {dynamic} caches the GET response and revalidate {revalidate} never caches it; \
                 remove one of the two"
            ),
            Self::ReadsRequestData { route, reads } => write!(
                f,
                "Route {route} with `dynamic = \"error\"` couldn't be rendered statically \
                 because it used {reads}"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(config: CacheConfig, reads: RequestData) -> Result<Resolved, String> {
        config.resolve(Some("/x"), reads).map_err(|e| e.to_string())
    }

    #[test]
    fn contradictions_are_rejected_with_both_sides_named() {
        let cases = [
            (
                CacheConfig::new()
                    .dynamic(Dynamic::ForceStatic)
                    .revalidate(0),
                "route /x: `dynamic = \"force-static\"` contradicts `revalidate = 0`: force-static \
                 caches the GET response and revalidate 0 never caches it; remove one of the two",
            ),
            (
                CacheConfig::new()
                    .dynamic(Dynamic::Error)
                    .revalidate(Duration::ZERO),
                "route /x: `dynamic = \"error\"` contradicts `revalidate = 0`: error caches the \
                 GET response and revalidate 0 never caches it; remove one of the two",
            ),
            (
                CacheConfig::new()
                    .dynamic(Dynamic::ForceDynamic)
                    .revalidate(10),
                "route /x: `dynamic = \"force-dynamic\"` contradicts `revalidate = 10`: \
                 force-dynamic never caches the GET response and revalidate 10 caches it for 10 \
                 s; remove one of the two",
            ),
            (
                CacheConfig::new()
                    .dynamic(Dynamic::ForceDynamic)
                    .revalidate(Revalidate::Never),
                "route /x: `dynamic = \"force-dynamic\"` contradicts `revalidate = false`: \
                 force-dynamic never caches the GET response and revalidate false caches it \
                 until it is invalidated; remove one of the two",
            ),
        ];
        for (config, want) in cases {
            let err = resolve(config.clone(), RequestData::NONE).unwrap_err();
            assert_eq!(err, want, "{config:?}");
        }
    }

    #[test]
    fn error_mode_lists_every_problem() {
        let err = CacheConfig::new()
            .dynamic(Dynamic::Error)
            .revalidate(0)
            .resolve(None, RequestData::HEADERS | RequestData::QUERY)
            .unwrap_err();
        assert_eq!(err.problems().len(), 2);
        assert_eq!(
            err.problems()[1].to_string(),
            "Route <unnamed> with `dynamic = \"error\"` couldn't be rendered statically because \
             it used `request.headers`, `request.nextUrl.searchParams`"
        );
        assert!(err.to_string().contains("; and Route <unnamed> with"));
    }

    #[test]
    fn what_each_setting_comes_to() {
        let cached = |r: Result<Resolved, String>| match r.unwrap() {
            Resolved::Cached(s) => Some((s.mode, s.revalidate)),
            _ => None,
        };
        let none = RequestData::NONE;
        let secs = |s| Some(Duration::from_secs(s));
        assert_eq!(cached(resolve(CacheConfig::new(), none)), None);
        assert_eq!(
            cached(resolve(CacheConfig::new().revalidate(0), none)),
            None
        );
        assert_eq!(
            cached(resolve(CacheConfig::new().revalidate(5), none)),
            Some((Mode::Tracked { error: false }, secs(5)))
        );
        assert_eq!(
            cached(resolve(
                CacheConfig::new().revalidate(Revalidate::Never),
                none
            )),
            Some((Mode::Tracked { error: false }, None))
        );
        assert_eq!(
            cached(resolve(
                CacheConfig::new().dynamic(Dynamic::ForceStatic),
                RequestData::ALL
            )),
            Some((Mode::Static, None))
        );
        assert_eq!(
            cached(resolve(
                CacheConfig::new().dynamic(Dynamic::Error).revalidate(7),
                none
            )),
            Some((Mode::Tracked { error: true }, secs(7)))
        );
        assert_eq!(
            cached(resolve(
                CacheConfig::new()
                    .dynamic(Dynamic::ForceDynamic)
                    .revalidate(0),
                none
            )),
            None
        );
        assert!(matches!(
            resolve(CacheConfig::new().revalidate(5), RequestData::COOKIES).unwrap(),
            Resolved::ReadsRequestData { reads } if reads == RequestData::COOKIES
        ));
    }

    #[test]
    fn force_static_with_declared_reads_is_warned_about() {
        let force_static = CacheConfig::new().dynamic(Dynamic::ForceStatic);
        assert_eq!(
            force_static.warnings(Some("/api/products"), RequestData::COOKIES),
            [ConfigWarning::ForceStaticReads {
                route: "/api/products".into(),
                reads: RequestData::COOKIES,
            }]
        );
        assert_eq!(
            force_static.warnings(None, RequestData::HEADERS | RequestData::QUERY)[0].to_string(),
            "Route <unnamed> is force-static, but its GET handler reads `request.headers`, \
             `request.nextUrl.searchParams`; under force-static the handler is given the path \
             only, so what it reads is empty"
        );
        // Nothing to say without reads, or under another `dynamic`.
        assert!(
            force_static
                .warnings(Some("/x"), RequestData::NONE)
                .is_empty()
        );
        for dynamic in [Dynamic::Auto, Dynamic::ForceDynamic, Dynamic::Error] {
            let config = CacheConfig::new().dynamic(dynamic);
            assert!(config.warnings(Some("/x"), RequestData::ALL).is_empty());
        }
    }

    #[test]
    fn the_next_signature_is_not_a_declared_read() {
        let config = CacheConfig::new().dynamic(Dynamic::ForceStatic);
        assert!(config.warnings(Some("/next"), RequestData::ALL).is_empty());
    }

    #[test]
    fn revalidate_conversions() {
        assert_eq!(Revalidate::from(-3), Revalidate::Seconds(0));
        assert_eq!(Revalidate::from(3u32), Revalidate::Seconds(3));
        assert_eq!(Revalidate::from(Duration::from_secs(2)).to_string(), "2");
        assert!(Revalidate::After(Duration::ZERO).is_dynamic());
        assert!(!Revalidate::Never.is_dynamic());
    }
}
