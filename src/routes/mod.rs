//! A route table written the way Next.js names its folders.
//!
//! [`Routes`] collects [`RouteHandler`](crate::RouteHandler)s (and pages) under Next.js App
//! Router patterns, checks the whole table for conflicts, and builds a [`RouteTable`]: a
//! `Clone` tower [`Service`](tower_service::Service) that hyper can serve directly and that
//! mounts in axum with `Router::fallback_service` or `Router::nest_service`.
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use http_body_util::BodyExt;
//! use route_handlers::{Body, RouteContext, RouteHandler, Routes, response::Json, routes::Path};
//! use tower::ServiceExt;
//!
//! async fn user(Path(id): Path<u32>) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "id": id }))
//! }
//!
//! async fn docs(_req: Request<Body>, ctx: RouteContext) -> Json<serde_json::Value> {
//!     Json(serde_json::json!({ "slug": ctx.catch_all("slug") }))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let table = Routes::new()
//!     .route("/api/users/[id]", RouteHandler::new().get(user))
//!     .route("/api/docs/[[...slug]]", RouteHandler::new().get(docs))
//!     .build();
//!
//! let get = |uri: &str| Request::builder().uri(uri).body(Body::empty()).unwrap();
//!
//! let res = table.clone().oneshot(get("/api/users/42")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//! assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), r#"{"id":42}"#);
//!
//! let res = table.clone().oneshot(get("/api/docs/a/b%20c/")).await.unwrap();
//! assert_eq!(res.into_body().collect().await.unwrap().to_bytes(), r#"{"slug":["a","b c"]}"#);
//!
//! let res = table.clone().oneshot(get("/api/users/x")).await.unwrap();
//! assert_eq!(res.status(), StatusCode::BAD_REQUEST); // `x` is not a u32
//!
//! let req = Request::builder().method("DELETE").uri("/api/users/7").body(Body::empty()).unwrap();
//! let res = table.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
//! assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS");
//!
//! assert_eq!(table.clone().oneshot(get("/nope")).await.unwrap().status(), StatusCode::NOT_FOUND);
//! # }
//! ```
//!
//! # Patterns
//!
//! A pattern is the path of a `route.ts` file below `app/`, without the file name:
//!
//! | folder name | matches |
//! |---|---|
//! | `users`, `robots.txt`, `hello.json` | that URL segment (percent-decoded names: `%5Fnext` is `_next`) |
//! | `[id]` | exactly one segment, as the parameter `id` (a string) |
//! | `[...slug]` | one or more segments, as `slug` (a list) |
//! | `[[...slug]]` | zero or more segments, as `slug` (a list, absent when empty) |
//! | `(group)` | nothing: groups organise routes and add no URL segment |
//! | `_private` | rejected: private folders are never routable; write `%5Fprivate` to match `_private` |
//!
//! # Matching
//!
//! - At each level a static name beats `[x]`, which beats `[...x]`, which beats `[[...x]]`
//!   (Next.js' order). A branch that fails further down falls back to the next one:
//!   with `/p2/[id]/abc` and `/p2/[...rest]`, the path `/p2/x/def` matches the catch-all.
//! - A trailing slash matches the same route (`/api/` is `/api`); other empty segments
//!   (`/a//b`) match nothing.
//! - The path is split on `/` first, then each segment is percent-decoded, so `%2F` stays
//!   inside one segment (`/docs/a%2Fb` gives the slug `["a/b"]`). A path with a malformed
//!   escape (`%zz`, or bytes that are not UTF-8) is answered `400 Bad Request`, whatever it
//!   would have matched.
//! - So is a path with a `.` or `..` segment (also as `%2E`), or with `%00`: dot segments are
//!   never captured as parameters, and patterns cannot contain them (see
//!   [`InvalidPath`]).
//! - A required catch-all never matches its parent path (`/blog/[...slug]` does not match
//!   `/blog`); an optional one does, without the parameter.
//! - A path that matches nothing goes to the [not-found](Routes::not_found) service: by
//!   default `404 Not Found` with an empty body.
//!
//! Parameters reach a route handler in its [`RouteContext`](crate::RouteContext): read them
//! as strings with [`param`](crate::RouteContext::param) and
//! [`catch_all`](crate::RouteContext::catch_all), or typed with
//! [`RouteContext::params`](crate::RouteContext::params) or the [`Path`] extractor, which
//! answer `400` when a value does not parse.
//!
//! The matcher is a segment trie walked in that priority order, with a map of the fully
//! static routes in front of it; a lookup costs the same with ten routes or ten thousand.
//! It is not `matchit` (axum's router): matchit 0.8 compares the raw path, so `%5F` and `_`
//! or `%61` and `a` would differ, and it refuses some tables that Next.js accepts, such as
//! `/p2/{id}/abc` beside `/p2/{*rest}` (an insert conflict), while the rules above need the
//! two to coexist and backtrack.
//!
//! # Conflicts
//!
//! [`Routes::try_build`] checks every pattern and every pair, and returns all the problems
//! at once in [`Conflicts`]; [`Routes::build`] panics with the same text. Each problem names
//! the registrations involved (the pattern as written and the line that registered it) and
//! gives a hint. The messages of problems Next.js also reports use its wording, so they can
//! be searched for:
//!
//! | problem | message |
//! |---|---|
//! | a route and a page at one URL | `Conflicting route and page at /x: route at /x/route and page at /x/page` |
//! | two routes at one URL through groups | `Conflicting routes at /x: route at /(b)/x/route and route at /(a)/x/route` |
//! | two pages at one URL through groups | `You cannot have two parallel pages that resolve to the same path. Please check /(a)/x/page and /(b)/x/page. Refer to the route group docs for more information: https://nextjs.org/docs/app/building-your-application/routing/route-groups` |
//! | different names at one position | `You cannot use different slug names for the same dynamic path ('id' !== 'slug').` |
//! | a name twice in a path | `You cannot have the same slug name "id" repeat within a single dynamic path` |
//! | names equal but for symbols | `You cannot have the slug names "a-b" and "ab" differ only by non-word symbols within a single dynamic path` |
//! | something after a catch-all | `Catch-all must be the last part of the URL.` |
//! | required and optional catch-all at one level | `You cannot use both an required and optional catch-all route at the same level ("[...a]" and "[[...a]]" ).` |
//! | a route where an optional catch-all matches | `You cannot define a route with the same specificity as a optional catch-all route ("/sub" and "/sub/[[...all]]").` |
//! | `[[x]]` | `Optional route parameters are not yet supported ("[[x]]").` |
//! | stray brackets | `Segment names may not start or end with extra brackets ('[...id').` |
//! | a name starting with a period | `Segment names may not start with erroneous periods ('.id').` |
//! | `{id}`, axum 0.8 syntax (not a Next.js error; so are the next four) | `"{id}" is axum's syntax for a path parameter; this table uses Next.js folder names: write "[id]"` |
//! | `{*rest}`, axum 0.8 syntax | `"{*rest}" is axum's syntax for a catch-all parameter; this table uses Next.js folder names: write "[...rest]"` |
//! | `:id`, express or axum 0.7 syntax | `":id" is the express and axum 0.7 syntax for a path parameter; this table uses Next.js folder names: write "[id]"` |
//! | `*rest`, express or axum 0.7 syntax | `"*rest" is the express and axum 0.7 syntax for a catch-all parameter; this table uses Next.js folder names: write "[...rest]"` |
//! | a parameter inside a name | `"id{id}" puts an axum path parameter inside a folder name; a Next.js parameter is a whole folder name, such as "[id]"` |
//!
//! Next.js finds the slug-name problems only when the first request arrives; here they stop
//! the table from being built. Two differences in detail: the optional catch-all message
//! quotes the catch-all's path with its slash (Next.js 16 prints `"/sub[[...all]]"`), and
//! names are compared for "non-word symbols" with letters of every script kept (Next.js
//! strips every non-ASCII letter, so `[시도]` and `[시군구]` collide there).
//!
//! Its `Display` prints a [summary](RouteTable#impl-Display-for-RouteTable) of the table like
//! the one `next build` prints.

mod conflict;
mod matcher;
#[cfg(feature = "axum")]
mod mount;
mod params;
mod pattern;
mod summary;
mod table;

#[doc(inline)]
pub use self::{
    conflict::{Conflict, ConflictKind, Conflicts, Registration, RegistrationKind},
    params::{ParamsError, Path},
    table::{InvalidPath, Match, MatchedRoute, ResponseFuture, RouteTable, Routes},
};
