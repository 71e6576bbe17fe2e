//! The route summary a [`RouteTable`] prints as its `Display`, after the one `next build`
//! prints: each URL pattern, its methods, and how its `GET` is answered, with a legend.
//!
//! ```text
//! Route (app)                 Methods
//! ┌ ƒ /api/docs/[[...slug]]   GET
//! └ ƒ /api/users/[id]         GET, POST
//!
//! ○  (Static)       GET rendered once, then served from the cache
//! ◐  (Revalidated)  GET served from the cache, rendered again after its window
//! ƒ  (Dynamic)      GET rendered on every request
//! ```

use std::{fmt, time::Duration};

use crate::route::RouteHandlerService;

use super::{RegistrationKind, RouteTable};

/// How a route's `GET` is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Static,
    Revalidate(Duration),
    Dynamic,
}

impl Mode {
    fn symbol(self) -> char {
        match self {
            Self::Static => '○',
            Self::Revalidate(_) => '◐',
            Self::Dynamic => 'ƒ',
        }
    }
}

/// The mode of a route's `GET`, from its cache settings.
fn render_mode(svc: &RouteHandlerService) -> Mode {
    match svc.cached_window() {
        None => Mode::Dynamic,
        Some(None) => Mode::Static,
        Some(Some(window)) => Mode::Revalidate(window),
    }
}

struct Row {
    url: String,
    methods: String,
    mode: Mode,
}

impl fmt::Display for RouteTable {
    /// The route summary: each URL pattern, its methods and the mode of its `GET`, with a
    /// legend, as `next build` prints it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rows: Vec<Row> = self
            .entries()
            .iter()
            .map(|entry| match (entry.registration.kind(), entry.route()) {
                (RegistrationKind::Route, Some(svc)) => Row {
                    url: entry.url.to_string(),
                    methods: join_methods(svc),
                    mode: render_mode(svc),
                },
                _ => Row {
                    url: entry.url.to_string(),
                    methods: "any (page)".into(),
                    mode: Mode::Dynamic,
                },
            })
            .collect();
        rows.sort_by(|a, b| a.url.cmp(&b.url));
        write_summary(&rows, f)
    }
}

fn join_methods(svc: &RouteHandlerService) -> String {
    let mut out = String::new();
    for method in svc.methods().iter() {
        if !out.is_empty() {
            out.push_str(", ");
        }
        out.push_str(method.as_str());
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// A revalidate window the way `next build` writes it: `30s`, `5m`, `1h`, `2d`.
fn window(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0s".into(),
        _ if s % 86_400 == 0 => format!("{}d", s / 86_400),
        _ if s % 3_600 == 0 => format!("{}h", s / 3_600),
        _ if s % 60 == 0 => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

fn write_summary(rows: &[Row], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    const TITLE: &str = "Route (app)";
    let url_width = rows
        .iter()
        .map(|r| r.url.chars().count() + 4)
        .chain([TITLE.len()])
        .max()
        .unwrap_or(0);
    let any_window = rows.iter().any(|r| matches!(r.mode, Mode::Revalidate(_)));
    let methods_width = rows
        .iter()
        .map(|r| r.methods.len())
        .chain(["Methods".len()])
        .max()
        .unwrap_or(0);
    write!(f, "{TITLE:<url_width$}  Methods")?;
    if any_window {
        write!(
            f,
            "{:<w$}  Revalidate",
            "",
            w = methods_width - "Methods".len()
        )?;
    }
    if rows.is_empty() {
        f.write_str("\n  (no routes)")?;
    }
    for (i, row) in rows.iter().enumerate() {
        let branch = match (i, rows.len()) {
            (_, 1) => '─',
            (0, _) => '┌',
            (i, n) if i + 1 == n => '└',
            _ => '├',
        };
        let url = format!("{branch} {} {}", row.mode.symbol(), row.url);
        let pad = url_width.saturating_sub(url.chars().count());
        write!(f, "\n{url}{:pad$}  ", "")?;
        match row.mode {
            Mode::Revalidate(d) => {
                write!(f, "{:<methods_width$}  {}", row.methods, window(d))?;
            }
            Mode::Static | Mode::Dynamic => f.write_str(&row.methods)?,
        }
    }
    f.write_str(
        "\n\n\
         ○  (Static)       GET rendered once, then served from the cache\n\
         ◐  (Revalidated)  GET served from the cache, rendered again after its window\n\
         ƒ  (Dynamic)      GET rendered on every request",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Rows(Vec<Row>);

    impl fmt::Display for Rows {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write_summary(&self.0, f)
        }
    }

    fn row(url: &str, methods: &str, mode: Mode) -> Row {
        Row {
            url: url.into(),
            methods: methods.into(),
            mode,
        }
    }

    #[test]
    fn every_mode_and_the_window_column() {
        let text = Rows(vec![
            row("/", "GET", Mode::Static),
            row("/api/posts", "GET, POST", Mode::Dynamic),
            row(
                "/blog/[slug]",
                "GET",
                Mode::Revalidate(Duration::from_secs(3600)),
            ),
            row("/feed", "GET", Mode::Revalidate(Duration::from_secs(90))),
        ])
        .to_string();
        assert_eq!(
            text,
            "Route (app)       Methods    Revalidate\n\
             ┌ ○ /             GET\n\
             ├ ƒ /api/posts    GET, POST\n\
             ├ ◐ /blog/[slug]  GET        1h\n\
             └ ◐ /feed         GET        90s\n\
             \n\
             ○  (Static)       GET rendered once, then served from the cache\n\
             ◐  (Revalidated)  GET served from the cache, rendered again after its window\n\
             ƒ  (Dynamic)      GET rendered on every request"
        );
    }

    #[test]
    fn windows() {
        for (secs, text) in [
            (0, "0s"),
            (59, "59s"),
            (60, "1m"),
            (5400, "90m"),
            (7200, "2h"),
        ] {
            assert_eq!(window(Duration::from_secs(secs)), text);
        }
        assert_eq!(window(Duration::from_secs(86_400 * 7)), "7d");
    }

    #[test]
    fn one_row_and_no_rows() {
        let one = Rows(vec![row("/x", "GET", Mode::Dynamic)]).to_string();
        assert!(
            one.starts_with("Route (app)  Methods\n─ ƒ /x       GET\n\n"),
            "{one}"
        );
        let none = Rows(vec![]).to_string();
        assert!(
            none.starts_with("Route (app)  Methods\n  (no routes)\n\n"),
            "{none}"
        );
    }
}
