//! Metadata routes: `sitemap.xml` and `robots.txt` from typed builders.
//!
//! The Rust form of Next.js's `app/sitemap.ts` and `app/robots.ts`: build a [`Sitemap`] or
//! [`Robots`], and serve it with [`into_route`](Sitemap::into_route) as a [`RouteHandler`]
//! for `GET` (and so `HEAD`). The file is rendered once, when the route is built, and each
//! request gets the same bytes without running anything, so the route is static: its
//! handler reads no request data. For content that changes, return a `Sitemap` or `Robots`
//! from a handler of your own; they implement [`IntoResponse`].
//!
//! The output follows Next.js's byte for byte where Next.js is right, and differs where it
//! is not: text is XML-escaped in the sitemap (Next.js writes URLs raw, so a `&` in a query
//! makes the file invalid), and values that would break the format (a line break in a
//! `robots.txt` value, a relative sitemap URL, a priority outside `0.0..=1.0`) are refused
//! when the file is built, all of them in one [`MetadataError`].
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use http_body_util::BodyExt;
//! use route_handlers::{Body, metadata::{ChangeFrequency, Robots, RobotsRule, Sitemap, SitemapUrl}};
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let sitemap = Sitemap::new()
//!     .url(
//!         SitemapUrl::new("https://acme.test/")
//!             .lastmod("2024-05-01")
//!             .change_frequency(ChangeFrequency::Weekly)
//!             .priority(1.0),
//!     )
//!     .url("https://acme.test/search?q=a&b")
//!     .into_route()
//!     .into_service();
//! let res = sitemap.oneshot(Request::get("/sitemap.xml").body(Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.headers()["content-type"], "application/xml");
//! let xml = res.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(
//!     xml,
//!     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
//!      <urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n\
//!      <url>\n<loc>https://acme.test/</loc>\n<lastmod>2024-05-01</lastmod>\n\
//!      <changefreq>weekly</changefreq>\n<priority>1</priority>\n</url>\n\
//!      <url>\n<loc>https://acme.test/search?q=a&amp;b</loc>\n</url>\n\
//!      </urlset>\n"
//! );
//!
//! let robots = Robots::new()
//!     .rule(RobotsRule::new().allow("/").disallow("/admin/"))
//!     .sitemap("https://acme.test/sitemap.xml")
//!     .into_route()
//!     .into_service();
//! let res = robots.oneshot(Request::get("/robots.txt").body(Body::empty()).unwrap()).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! let txt = res.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(
//!     txt,
//!     "User-Agent: *\nAllow: /\nDisallow: /admin/\n\nSitemap: https://acme.test/sitemap.xml\n"
//! );
//! # }
//! ```

use std::{
    fmt::{self, Write as _},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderValue, Response, header::CONTENT_TYPE};

use crate::{body::Body, response::IntoResponse, route::RouteHandler};

const APPLICATION_XML: HeaderValue = HeaderValue::from_static("application/xml");
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// The most URLs one sitemap file may list (sitemaps.org).
pub const MAX_SITEMAP_URLS: usize = 50_000;
/// The longest `<loc>` a sitemap may hold, in characters (sitemaps.org).
pub const MAX_LOC_LEN: usize = 2048;

/// An XML sitemap (`sitemap.xml`, sitemaps.org protocol 0.9).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Sitemap {
    urls: Vec<SitemapUrl>,
}

impl Sitemap {
    /// An empty sitemap.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a URL: a [`SitemapUrl`], or an absolute URL as a string.
    pub fn url(mut self, url: impl Into<SitemapUrl>) -> Self {
        self.urls.push(url.into());
        self
    }

    /// Adds several URLs.
    pub fn urls<U: Into<SitemapUrl>>(mut self, urls: impl IntoIterator<Item = U>) -> Self {
        self.urls.extend(urls.into_iter().map(Into::into));
        self
    }

    /// Renders the XML, or lists every problem that keeps it from being valid.
    pub fn try_render(&self) -> Result<String, MetadataError> {
        let mut problems = Vec::new();
        if self.urls.len() > MAX_SITEMAP_URLS {
            problems.push(format!(
                "{} urls: a sitemap holds at most {MAX_SITEMAP_URLS}; split it with a sitemap index",
                self.urls.len()
            ));
        }
        for (i, url) in self.urls.iter().enumerate() {
            url.check(i + 1, &mut problems);
        }
        if !problems.is_empty() {
            return Err(MetadataError {
                file: "sitemap.xml",
                problems,
            });
        }
        let mut out = String::with_capacity(100 + 120 * self.urls.len());
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        out.push_str("<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n");
        for url in &self.urls {
            url.render(&mut out);
        }
        out.push_str("</urlset>\n");
        Ok(out)
    }

    /// Renders the XML.
    ///
    /// # Panics
    ///
    /// When the sitemap is invalid; the message lists every problem.
    #[track_caller]
    pub fn render(&self) -> String {
        self.try_render().unwrap_or_else(|err| panic!("{err}"))
    }

    /// A route that serves the sitemap for `GET` and `HEAD`, rendered once, now.
    pub fn try_into_route(self) -> Result<RouteHandler, MetadataError> {
        let xml = self.try_render()?;
        Ok(static_route("/sitemap.xml", xml, APPLICATION_XML))
    }

    /// A route that serves the sitemap; see [`try_into_route`](Self::try_into_route).
    ///
    /// # Panics
    ///
    /// When the sitemap is invalid; the message lists every problem.
    #[track_caller]
    pub fn into_route(self) -> RouteHandler {
        self.try_into_route().unwrap_or_else(|err| panic!("{err}"))
    }
}

/// Rendered per response: an invalid sitemap answers `500` and is logged.
impl IntoResponse for Sitemap {
    fn into_response(self) -> Response<Body> {
        rendered(self.try_render(), APPLICATION_XML)
    }
}

/// One `<url>` of a [`Sitemap`].
///
/// ```
/// use route_handlers::metadata::{ChangeFrequency, SitemapUrl};
///
/// let url = SitemapUrl::new("https://acme.test/blog")
///     .lastmod(std::time::UNIX_EPOCH)
///     .change_frequency(ChangeFrequency::Daily)
///     .priority(0.8);
/// # let _ = url;
/// ```
#[derive(Clone, Debug, PartialEq)]
#[must_use]
pub struct SitemapUrl {
    loc: String,
    lastmod: Option<LastModified>,
    change_frequency: Option<ChangeFrequency>,
    priority: Option<f32>,
}

impl SitemapUrl {
    /// A URL; `loc` must be absolute (`http://` or `https://`).
    pub fn new(loc: impl Into<String>) -> Self {
        Self {
            loc: loc.into(),
            lastmod: None,
            change_frequency: None,
            priority: None,
        }
    }

    /// When the page last changed (`<lastmod>`): a [`SystemTime`], or a W3C datetime such
    /// as `"2024-05-01"` or `"2024-05-01T12:00:00+02:00"`.
    pub fn lastmod(mut self, when: impl Into<LastModified>) -> Self {
        self.lastmod = Some(when.into());
        self
    }

    /// How often the page changes (`<changefreq>`).
    pub fn change_frequency(mut self, frequency: ChangeFrequency) -> Self {
        self.change_frequency = Some(frequency);
        self
    }

    /// The page's priority relative to the site's other pages (`<priority>`), from `0.0`
    /// to `1.0`.
    pub fn priority(mut self, priority: f32) -> Self {
        self.priority = Some(priority);
        self
    }

    fn check(&self, n: usize, problems: &mut Vec<String>) {
        let loc = &self.loc;
        let absolute = ["http://", "https://"].iter().any(|scheme| {
            loc.get(..scheme.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(scheme))
                && loc.len() > scheme.len()
        });
        if !absolute {
            problems.push(format!(
                "url {n} (`{loc}`): loc must be an absolute http or https URL"
            ));
        }
        if loc.chars().count() > MAX_LOC_LEN {
            problems.push(format!(
                "url {n}: loc is {} characters long; the most is {MAX_LOC_LEN}",
                loc.chars().count()
            ));
        }
        if loc.chars().any(char::is_control) {
            problems.push(format!("url {n} ({loc:?}): loc holds a control character"));
        }
        if let Some(LastModified(Repr::Text(text))) = &self.lastmod {
            if !is_w3c_datetime(text) {
                problems.push(format!(
                    "url {n} (`{loc}`): lastmod `{text}` is not a W3C datetime such as `2024-05-01` or `2024-05-01T12:00:00Z`"
                ));
            }
        }
        if let Some(p) = self.priority {
            if !(0.0..=1.0).contains(&p) {
                problems.push(format!(
                    "url {n} (`{loc}`): priority {p} is not between 0.0 and 1.0"
                ));
            }
        }
    }

    fn render(&self, out: &mut String) {
        out.push_str("<url>\n<loc>");
        escape_xml(&self.loc, out);
        out.push_str("</loc>\n");
        if let Some(lastmod) = &self.lastmod {
            out.push_str("<lastmod>");
            match &lastmod.0 {
                Repr::Time(time) => write_iso8601(*time, out),
                Repr::Text(text) => escape_xml(text, out),
            }
            out.push_str("</lastmod>\n");
        }
        if let Some(frequency) = self.change_frequency {
            let _ = writeln!(out, "<changefreq>{}</changefreq>", frequency.as_str());
        }
        if let Some(priority) = self.priority {
            let _ = writeln!(out, "<priority>{priority}</priority>");
        }
        out.push_str("</url>\n");
    }
}

impl From<&str> for SitemapUrl {
    fn from(loc: &str) -> Self {
        Self::new(loc)
    }
}

impl From<String> for SitemapUrl {
    fn from(loc: String) -> Self {
        Self::new(loc)
    }
}

/// How often a page changes, for `<changefreq>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ChangeFrequency {
    /// Changes each time it is accessed.
    Always,
    /// `hourly`
    Hourly,
    /// `daily`
    Daily,
    /// `weekly`
    Weekly,
    /// `monthly`
    Monthly,
    /// `yearly`
    Yearly,
    /// Archived: never changes.
    Never,
}

impl ChangeFrequency {
    /// The value written in the sitemap.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::Hourly => "hourly",
            Self::Daily => "daily",
            Self::Weekly => "weekly",
            Self::Monthly => "monthly",
            Self::Yearly => "yearly",
            Self::Never => "never",
        }
    }
}

/// When a page last changed: a [`SystemTime`] (written as `toISOString()` writes a date,
/// `2024-05-01T12:00:00.000Z`) or a W3C datetime given as text (checked when the sitemap is
/// built).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastModified(Repr);

#[derive(Clone, Debug, PartialEq, Eq)]
enum Repr {
    Time(SystemTime),
    Text(String),
}

impl From<SystemTime> for LastModified {
    fn from(time: SystemTime) -> Self {
        Self(Repr::Time(time))
    }
}

impl From<&str> for LastModified {
    fn from(text: &str) -> Self {
        Self(Repr::Text(text.to_owned()))
    }
}

impl From<String> for LastModified {
    fn from(text: String) -> Self {
        Self(Repr::Text(text))
    }
}

/// A `robots.txt` file: groups of rules by user agent, then `Host` and `Sitemap` lines.
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct Robots {
    rules: Vec<RobotsRule>,
    host: Option<String>,
    sitemaps: Vec<String>,
}

impl Robots {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a group of rules.
    pub fn rule(mut self, rule: RobotsRule) -> Self {
        self.rules.push(rule);
        self
    }

    /// Sets the `Host` line (a non-standard directive some crawlers read).
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.host = Some(host.into());
        self
    }

    /// Adds a `Sitemap` line; `url` must be absolute.
    pub fn sitemap(mut self, url: impl Into<String>) -> Self {
        self.sitemaps.push(url.into());
        self
    }

    /// Renders the file, or lists every problem that keeps it from being valid.
    pub fn try_render(&self) -> Result<String, MetadataError> {
        let mut problems = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            rule.check(i + 1, &mut problems);
        }
        if let Some(host) = &self.host {
            check_line(&mut problems, "host", host);
        }
        for url in &self.sitemaps {
            check_line(&mut problems, "sitemap", url);
            if !url.starts_with("http://") && !url.starts_with("https://") {
                problems.push(format!(
                    "sitemap `{url}`: must be an absolute http or https URL"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(MetadataError {
                file: "robots.txt",
                problems,
            });
        }
        let mut out = String::new();
        for rule in &self.rules {
            rule.render(&mut out);
        }
        if let Some(host) = &self.host {
            let _ = writeln!(out, "Host: {host}");
        }
        for url in &self.sitemaps {
            let _ = writeln!(out, "Sitemap: {url}");
        }
        Ok(out)
    }

    /// Renders the file.
    ///
    /// # Panics
    ///
    /// When it is invalid; the message lists every problem.
    #[track_caller]
    pub fn render(&self) -> String {
        self.try_render().unwrap_or_else(|err| panic!("{err}"))
    }

    /// A route that serves the file for `GET` and `HEAD`, rendered once, now.
    pub fn try_into_route(self) -> Result<RouteHandler, MetadataError> {
        let txt = self.try_render()?;
        Ok(static_route("/robots.txt", txt, TEXT_PLAIN))
    }

    /// A route that serves the file; see [`try_into_route`](Self::try_into_route).
    ///
    /// # Panics
    ///
    /// When it is invalid; the message lists every problem.
    #[track_caller]
    pub fn into_route(self) -> RouteHandler {
        self.try_into_route().unwrap_or_else(|err| panic!("{err}"))
    }
}

/// Rendered per response: an invalid file answers `500` and is logged.
impl IntoResponse for Robots {
    fn into_response(self) -> Response<Body> {
        rendered(self.try_render(), TEXT_PLAIN)
    }
}

/// One group of a [`Robots`] file: the user agents it is for (`*`, every crawler, when none
/// is named) and their `Allow`, `Disallow` and `Crawl-delay` lines.
///
/// ```
/// use std::time::Duration;
/// use route_handlers::metadata::{Robots, RobotsRule};
///
/// let txt = Robots::new()
///     .rule(
///         RobotsRule::new()
///             .user_agent("Googlebot")
///             .user_agent("Bingbot")
///             .disallow("/private/")
///             .crawl_delay(Duration::from_millis(1500)),
///     )
///     .render();
/// assert_eq!(
///     txt,
///     "User-Agent: Googlebot\nUser-Agent: Bingbot\nDisallow: /private/\nCrawl-delay: 1.5\n\n"
/// );
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[must_use]
pub struct RobotsRule {
    user_agents: Vec<String>,
    allow: Vec<String>,
    disallow: Vec<String>,
    crawl_delay: Option<Duration>,
}

impl RobotsRule {
    /// A group for every user agent, with no lines yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a user agent the group applies to.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agents.push(agent.into());
        self
    }

    /// Adds an `Allow` line.
    pub fn allow(mut self, path: impl Into<String>) -> Self {
        self.allow.push(path.into());
        self
    }

    /// Adds a `Disallow` line.
    pub fn disallow(mut self, path: impl Into<String>) -> Self {
        self.disallow.push(path.into());
        self
    }

    /// Sets the `Crawl-delay` line, in seconds.
    pub fn crawl_delay(mut self, delay: Duration) -> Self {
        self.crawl_delay = Some(delay);
        self
    }

    fn check(&self, n: usize, problems: &mut Vec<String>) {
        for agent in &self.user_agents {
            if agent.trim().is_empty() {
                problems.push(format!("rule {n}: a user agent is empty"));
            }
            check_line(problems, &format!("rule {n}: user agent"), agent);
        }
        for path in &self.allow {
            check_line(problems, &format!("rule {n}: allow"), path);
        }
        for path in &self.disallow {
            check_line(problems, &format!("rule {n}: disallow"), path);
        }
    }

    fn render(&self, out: &mut String) {
        if self.user_agents.is_empty() {
            out.push_str("User-Agent: *\n");
        }
        for agent in &self.user_agents {
            let _ = writeln!(out, "User-Agent: {agent}");
        }
        for path in &self.allow {
            let _ = writeln!(out, "Allow: {path}");
        }
        for path in &self.disallow {
            let _ = writeln!(out, "Disallow: {path}");
        }
        if let Some(delay) = self.crawl_delay {
            let _ = writeln!(out, "Crawl-delay: {}", delay.as_secs_f64());
        }
        out.push('\n');
    }
}

fn check_line(problems: &mut Vec<String>, what: &str, value: &str) {
    if value.contains(['\n', '\r']) {
        problems.push(format!(
            "{what} {value:?}: holds a line break, which would start a new directive"
        ));
    }
}

/// The problems that keep a metadata file from being valid, all of them.
///
/// ```
/// use route_handlers::metadata::{Sitemap, SitemapUrl};
///
/// let err = Sitemap::new()
///     .url("/relative")
///     .url(SitemapUrl::new("https://acme.test/").priority(2.0))
///     .try_render()
///     .unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid sitemap.xml (2 problems):\n\
///      - url 1 (`/relative`): loc must be an absolute http or https URL\n\
///      - url 2 (`https://acme.test/`): priority 2 is not between 0.0 and 1.0"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MetadataError {
    file: &'static str,
    problems: Vec<String>,
}

impl MetadataError {
    /// Each problem, in the order found.
    pub fn problems(&self) -> &[String] {
        &self.problems
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        let s = if n == 1 { "" } else { "s" };
        write!(f, "invalid {} ({n} problem{s}):", self.file)?;
        for problem in &self.problems {
            write!(f, "\n- {problem}")?;
        }
        Ok(())
    }
}

impl std::error::Error for MetadataError {}

fn static_route(path: &'static str, text: String, content_type: HeaderValue) -> RouteHandler {
    let bytes = Bytes::from(text);
    RouteHandler::new()
        .get(move || {
            let res = with_type(Body::from(bytes.clone()), content_type.clone());
            async move { res }
        })
        .path(path)
        // Rendered once from fixed data, so served from the cache until invalidated.
        .dynamic(crate::cache::Dynamic::ForceStatic)
        .revalidate(crate::cache::Revalidate::Never)
}

fn with_type(body: Body, content_type: HeaderValue) -> Response<Body> {
    let mut res = Response::new(body);
    res.headers_mut().insert(CONTENT_TYPE, content_type);
    res
}

fn rendered(text: Result<String, MetadataError>, content_type: HeaderValue) -> Response<Body> {
    match text {
        Ok(text) => with_type(Body::from(text), content_type),
        Err(err) => crate::response::HttpError::internal(err).into_response(),
    }
}

fn escape_xml(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

/// Writes `time` as `YYYY-MM-DDTHH:MM:SS.mmmZ`, as JavaScript's `toISOString()` does.
fn write_iso8601(time: SystemTime, out: &mut String) {
    let (secs, millis) = match time.duration_since(UNIX_EPOCH) {
        Ok(d) => (d.as_secs() as i64, d.subsec_millis()),
        Err(before) => {
            let d = before.duration();
            let mut secs = -(d.as_secs() as i64);
            let mut millis = d.subsec_nanos().div_ceil(1_000_000);
            if millis > 0 {
                secs -= 1;
                millis = 1000 - millis;
            }
            (secs, millis)
        }
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (H. Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// Whether `s` is a W3C datetime (the profile of ISO 8601 that sitemaps use): `YYYY`,
/// `YYYY-MM`, `YYYY-MM-DD`, or a date with `Thh:mm`, `:ss` and `.s…` and a zone `Z` or
/// `±hh:mm`.
fn is_w3c_datetime(s: &str) -> bool {
    fn num(s: &[u8], range: std::ops::RangeInclusive<u32>) -> bool {
        s.iter().all(u8::is_ascii_digit)
            && std::str::from_utf8(s)
                .ok()
                .and_then(|t| t.parse::<u32>().ok())
                .is_some_and(|n| range.contains(&n))
    }
    let b = s.as_bytes();
    let date_ok = match b.len().min(10) {
        4 => num(&b[..4], 0..=9999),
        7 => num(&b[..4], 0..=9999) && b[4] == b'-' && num(&b[5..7], 1..=12),
        10 => {
            num(&b[..4], 0..=9999)
                && b[4] == b'-'
                && num(&b[5..7], 1..=12)
                && b[7] == b'-'
                && num(&b[8..10], 1..=31)
        }
        _ => false,
    };
    if !date_ok {
        return false;
    }
    if b.len() <= 7 {
        return b.len() == 4 || b.len() == 7;
    }
    let rest = &b[10..];
    if rest.is_empty() {
        return true;
    }
    // Thh:mm
    if rest.len() < 6 || rest[0] != b'T' || rest[3] != b':' {
        return false;
    }
    if !num(&rest[1..3], 0..=23) || !num(&rest[4..6], 0..=59) {
        return false;
    }
    let mut rest = &rest[6..];
    if rest.first() == Some(&b':') {
        if rest.len() < 3 || !num(&rest[1..3], 0..=60) {
            return false;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let digits = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if digits == 0 {
                return false;
            }
            rest = &rest[1 + digits..];
        }
    }
    match rest {
        b"Z" => true,
        [sign, h1, h2, b':', m1, m2] if *sign == b'+' || *sign == b'-' => {
            num(&[*h1, *h2], 0..=23) && num(&[*m1, *m2], 0..=59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn w3c_datetimes() {
        let good = [
            "2024",
            "2024-05",
            "2024-05-01",
            "2024-05-01T12:00Z",
            "2024-05-01T12:00:59Z",
            "2024-05-01T12:00:59.123456Z",
            "2024-05-01T23:59:60+02:00",
            "2024-05-01T00:00-11:30",
        ];
        for s in good {
            assert!(is_w3c_datetime(s), "{s}");
        }
        let bad = [
            "",
            "24",
            "2024-5",
            "2024-13",
            "2024-05-1",
            "2024-05-01T",
            "2024-05-01T12:00",
            "2024-05-01T24:00Z",
            "2024-05-01 12:00Z",
            "2024-05-01T12:00:00.Z",
            "2024-05-01T12:00+2:00",
            "May 1 2024",
            "2024-05-01Z",
            "２０２４",
        ];
        for s in bad {
            assert!(!is_w3c_datetime(s), "{s}");
        }
    }

    #[test]
    fn system_times_render_like_to_iso_string() {
        let cases = [
            (0, 0, "1970-01-01T00:00:00.000Z"),
            (1_714_564_800, 123, "2024-05-01T12:00:00.123Z"),
            (951_782_400, 0, "2000-02-29T00:00:00.000Z"),
            (253_402_300_799, 999, "9999-12-31T23:59:59.999Z"),
        ];
        for (secs, millis, want) in cases {
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_millis(millis);
            let mut out = String::new();
            write_iso8601(t, &mut out);
            assert_eq!(out, want);
        }
        let mut out = String::new();
        write_iso8601(UNIX_EPOCH - Duration::from_millis(1), &mut out);
        assert_eq!(out, "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn every_problem_is_listed() {
        let err = Robots::new()
            .rule(RobotsRule::new().user_agent("").allow("/a\nDisallow: /"))
            .host("x\r")
            .sitemap("/sitemap.xml")
            .try_render()
            .unwrap_err();
        assert_eq!(
            err.problems(),
            [
                "rule 1: a user agent is empty",
                "rule 1: allow \"/a\\nDisallow: /\": holds a line break, which would start a new directive",
                "host \"x\\r\": holds a line break, which would start a new directive",
                "sitemap `/sitemap.xml`: must be an absolute http or https URL",
            ]
        );

        let long = format!("https://a.test/{}", "x".repeat(MAX_LOC_LEN));
        let err = Sitemap::new()
            .url(SitemapUrl::new("ftp://a.test/").lastmod("yesterday"))
            .url(SitemapUrl::new(long.clone()).priority(f32::NAN))
            .url("https://a.test/\n")
            .try_render()
            .unwrap_err();
        assert_eq!(
            err.problems(),
            [
                "url 1 (`ftp://a.test/`): loc must be an absolute http or https URL".to_string(),
                "url 1 (`ftp://a.test/`): lastmod `yesterday` is not a W3C datetime such as `2024-05-01` or `2024-05-01T12:00:00Z`".to_string(),
                format!("url 2: loc is {} characters long; the most is 2048", long.len()),
                format!("url 2 (`{long}`): priority NaN is not between 0.0 and 1.0"),
                "url 3 (\"https://a.test/\\n\"): loc holds a control character".to_string(),
            ]
        );
    }

    #[test]
    fn too_many_urls() {
        let urls = (0..=MAX_SITEMAP_URLS).map(|i| format!("https://a.test/{i}"));
        let err = Sitemap::new().urls(urls).try_render().unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid sitemap.xml (1 problem):\n- 50001 urls: a sitemap holds at most 50000; split it with a sitemap index"
        );
    }

    #[test]
    #[should_panic(expected = "invalid robots.txt (1 problem):")]
    fn into_route_panics_with_the_problems() {
        let _ = Robots::new().sitemap("nope").into_route();
    }

    #[test]
    fn escaping_and_a_time() {
        let xml = Sitemap::new()
            .url(SitemapUrl::new("https://a.test/?a=1&b='<\">'").lastmod(UNIX_EPOCH))
            .render();
        assert!(xml.contains(
            "<loc>https://a.test/?a=1&amp;b=&apos;&lt;&quot;&gt;&apos;</loc>\n<lastmod>1970-01-01T00:00:00.000Z</lastmod>\n"
        ));
        assert_eq!(
            Sitemap::new().render(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<urlset xmlns=\"http://www.sitemaps.org/schemas/sitemap/0.9\">\n</urlset>\n"
        );
        assert_eq!(Robots::new().render(), "");
    }

    proptest! {
        /// The date of any day count agrees with a day-by-day walk from a known date.
        #[test]
        fn civil_dates_step_one_day_at_a_time(days in -800_000i64..800_000) {
            let (y, m, d) = civil_from_days(days);
            let (y2, m2, d2) = civil_from_days(days + 1);
            let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
            let month_len = match m { 2 if leap => 29, 2 => 28, 4 | 6 | 9 | 11 => 30, _ => 31 };
            if d < month_len {
                prop_assert_eq!((y2, m2, d2), (y, m, d + 1));
            } else if m < 12 {
                prop_assert_eq!((y2, m2, d2), (y, m + 1, 1));
            } else {
                prop_assert_eq!((y2, m2, d2), (y + 1, 1, 1));
            }
        }

        /// Escaped text never holds a raw markup character.
        #[test]
        fn escaped_text_has_no_markup(text in "\\PC{0,30}") {
            let mut out = String::new();
            escape_xml(&text, &mut out);
            prop_assert!(!out.contains(['<', '>', '"', '\'']));
            prop_assert_eq!(out.matches('&').count(), out.matches(';').count() - text.matches(';').count());
        }
    }
}
