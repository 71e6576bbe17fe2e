//! [`Routes`], the builder, and [`RouteTable`], the service it builds.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    panic::Location,
    pin::Pin,
    sync::{Arc, OnceLock},
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{HeaderValue, Request, Response, StatusCode, header::CONTENT_TYPE};
use pin_project_lite::pin_project;
use tower::{ServiceExt, util::Oneshot};
use tower_service::Service;

use crate::{
    body::{Body, BoxError},
    cache::{Cache, Reach, Revalidator, Shared},
    context::{CacheContext, Matched, Params, RouteContext},
    request::RejectionInfo,
    response::IntoResponse,
    route::{self, AnyService, Begun, RouteHandler, RouteHandlerService, erase},
};

use super::{
    conflict::{self, Conflicts, Registration, RegistrationKind},
    matcher::{Lookup, Matcher, PathProblem},
    pattern::Pattern,
};

/// The builder of a [`RouteTable`]: route handlers and pages by Next.js pattern.
///
/// Register each [`RouteHandler`] with [`route`](Self::route) under the pattern its
/// `route.ts` file would have (`/api/users/[id]`), and any other service (the pages of the
/// app, so that a page and a route at one URL are caught) with [`page`](Self::page). Then
/// [`try_build`](Self::try_build) checks the whole table and reports every problem at once,
/// and [`build`](Self::build) panics with the same report.
///
/// See the [module docs](super) for the pattern syntax and the matching rules.
#[must_use]
pub struct Routes<S = ()> {
    registrations: Vec<Registration>,
    services: Vec<Pending<S>>,
    not_found: Option<AnyService>,
    cache: Option<crate::cache::Cache>,
    rejection: Option<RejectionHook>,
    /// Whether responses carry their [`MatchedRoute`].
    tell_matched: bool,
    /// What [`merge`](Self::merge) and [`nest`](Self::nest) found, reported with the
    /// conflicts.
    problems: Vec<super::Conflict>,
}

/// A registration's target before the table is built: route handlers are turned into
/// services by [`Routes::try_build`], once the table's cache is known.
enum Pending<S> {
    Route(Box<RouteHandler<S>>),
    Page(AnyService),
}

/// What a registration answers with.
#[derive(Clone)]
enum Target {
    Route(RouteHandlerService),
    Page(AnyService),
}

impl<S: Clone + Send + Sync + 'static> Default for Routes<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// An empty table.
    pub fn new() -> Self {
        Self {
            registrations: Vec::new(),
            services: Vec::new(),
            not_found: None,
            cache: None,
            rejection: None,
            tell_matched: false,
            problems: Vec::new(),
        }
    }

    /// Stores the cached `GET` responses of every route of the table in `cache`, so that
    /// one [`Revalidator`](crate::cache::Revalidator) reaches them all. Without it, the
    /// table makes a cache of its own for the routes that cache and were given none;
    /// [`RouteTable::revalidator`] reaches it either way.
    pub fn cache(mut self, cache: &crate::cache::Cache) -> Self {
        self.cache = Some(cache.clone());
        self
    }

    /// Registers a route handler under `pattern`, and names the route by it (see
    /// [`RouteHandler::path`]). Problems with the pattern are reported by
    /// [`try_build`](Self::try_build), together with this call's location.
    #[track_caller]
    pub fn route(mut self, pattern: &str, handler: RouteHandler<S>) -> Self {
        let pattern: Arc<str> = pattern.into();
        let handler = handler.path(pattern.clone());
        self.push(
            RegistrationKind::Route,
            pattern,
            Pending::Route(Box::new(handler)),
        );
        self
    }

    /// Registers a page: any tower service that answers `pattern`, for every method. It
    /// takes part in the conflict checks like a route; a page and a route handler at one URL
    /// is an error, as in Next.js.
    ///
    /// The page receives the path parameters as a [`RouteContext`] in the request
    /// extensions. Its errors are turned into responses with [`IntoResponse`].
    #[track_caller]
    pub fn page<T, ResBody: 'static>(mut self, pattern: &str, service: T) -> Self
    where
        T: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
        T::Future: Send + 'static,
        T::Error: IntoResponse,
        Response<ResBody>: IntoResponse,
    {
        self.push(
            RegistrationKind::Page,
            pattern.into(),
            Pending::Page(erase(service)),
        );
        self
    }

    /// Sets the service that answers requests no registration matches. The default answers
    /// `404 Not Found` with an empty body.
    pub fn not_found<T, ResBody: 'static>(mut self, service: T) -> Self
    where
        T: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
        T::Future: Send + 'static,
        T::Error: IntoResponse,
        Response<ResBody>: IntoResponse,
    {
        self.not_found = Some(erase(service));
        self
    }

    #[track_caller]
    fn push(&mut self, kind: RegistrationKind, pattern: Arc<str>, target: Pending<S>) {
        self.registrations
            .push(Registration::new(kind, pattern, Location::caller()));
        self.services.push(target);
    }

    /// Gives every route of the table its state (see
    /// [`RouteHandler::with_state`]): their [`State`](crate::extract::State) arguments are
    /// made from it. The table can then be built, or go into a table of any state with
    /// [`merge`](Self::merge) or [`nest`](Self::nest).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use route_handlers::{RouteHandler, Routes, extract::State};
    ///
    /// #[derive(Clone, Default)]
    /// struct Db(Arc<Vec<String>>);
    ///
    /// async fn list(State(db): State<Db>) -> String {
    ///     db.0.join(",")
    /// }
    ///
    /// let table = Routes::new()
    ///     .route("/api/products", RouteHandler::new().get(list))
    ///     .with_state(Db::default())
    ///     .build();
    /// # let _ = table;
    /// ```
    pub fn with_state<S2>(self, state: S) -> Routes<S2> {
        let services = self
            .services
            .into_iter()
            .map(|pending| match pending {
                Pending::Route(route) => Pending::Route(Box::new(route.with_state(state.clone()))),
                Pending::Page(page) => Pending::Page(page),
            })
            .collect();
        Routes {
            registrations: self.registrations,
            services,
            not_found: self.not_found,
            cache: self.cache,
            rejection: self.rejection,
            tell_matched: self.tell_matched,
            problems: self.problems,
        }
    }

    /// Answers the rejections of the table's routes in the API's own shape: every response
    /// of a registration that carries a [`RejectionInfo`] (a body that is not JSON, a query
    /// field that does not parse, a path parameter that is not a number, a body over the
    /// limit) is replaced by `hook`'s answer, which keeps the `RejectionInfo` extension.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use route_handlers::{Body, RouteHandler, Routes, request::RejectionInfo, response::json, routes::Path};
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let table = Routes::new()
    ///     .route("/api/items/[id]", RouteHandler::new().get(|Path(id): Path<u32>| async move { id.to_string() }))
    ///     .rejection(|info: &RejectionInfo| {
    ///         let error = serde_json::json!({ "code": info.kind().as_str(), "field": info.path() });
    ///         (info.status(), json(serde_json::json!({ "error": error })))
    ///     })
    ///     .build();
    /// let res = table.oneshot(Request::get("/api/items/x").body(Body::empty()).unwrap()).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    /// # use http_body_util::BodyExt;
    /// let body = res.into_body().collect().await.unwrap().to_bytes();
    /// assert_eq!(body, r#"{"error":{"code":"invalid_path_params","field":"id"}}"#);
    /// # }
    /// ```
    pub fn rejection<F, R>(mut self, hook: F) -> Self
    where
        F: Fn(&RejectionInfo) -> R + Send + Sync + 'static,
        R: IntoResponse,
    {
        self.rejection = Some(Arc::new(move |info: &RejectionInfo| {
            hook(info).into_response()
        }));
        self
    }

    /// Whether the answers of the table's registrations carry their [`MatchedRoute`] as a
    /// response extension, for the layers outside the table (trace spans and metrics by
    /// route). Off by default: the extension costs an allocation of the response's extension
    /// map per request, about 900 instructions, a third of a cache hit through the table.
    /// The request of a route's layers and of a page carries it either way. A table merged
    /// or nested into one that turns it on answers with it too.
    pub fn matched_route(mut self, enabled: bool) -> Self {
        self.tell_matched = enabled;
        self
    }

    /// Wraps every registration made so far (routes and pages) in a tower layer, as
    /// axum's `Router::route_layer`: see [`RouteHandler::layer`]. Requests no registration
    /// matches do not go through it; registrations made later are not wrapped.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use route_handlers::{Body, RouteHandler, Routes};
    /// use tower::ServiceExt;
    /// use tower_http::validate_request::ValidateRequestHeaderLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let table = Routes::new()
    ///     .route("/admin/stats", RouteHandler::new().get(|| async { "42" }))
    ///     .route_layer(ValidateRequestHeaderLayer::custom(|req: &mut Request<Body>| {
    ///         match req.headers().get("authorization") {
    ///             Some(value) if value == "Bearer admin-token" => Ok(()),
    ///             _ => Err(http::Response::builder().status(401).body(Body::empty()).unwrap()),
    ///         }
    ///     }))
    ///     .route("/health", RouteHandler::new().get(|| async { "ok" }))
    ///     .build();
    /// let get = |uri| Request::get(uri).body(Body::empty()).unwrap();
    /// let res = table.clone().oneshot(get("/admin/stats")).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    /// let res = table.oneshot(get("/health")).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::OK);
    /// # }
    /// ```
    pub fn route_layer<L, ResBody>(mut self, layer: L) -> Self
    where
        L: tower_layer::Layer<crate::Route> + Clone + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: IntoResponse,
        Response<ResBody>: IntoResponse,
        ResBody: 'static,
    {
        self.services = self
            .services
            .into_iter()
            .map(|pending| match pending {
                Pending::Route(route) => Pending::Route(Box::new(route.layer(layer.clone()))),
                Pending::Page(page) => Pending::Page(erase(layer.layer(page))),
            })
            .collect();
        self
    }

    /// Adds every registration of `other` to this table, as axum's `Router::merge`. The
    /// conflicts between the two (two routes at one URL, different slug names at one
    /// level) are reported by [`try_build`](Self::try_build) like any others, each
    /// registration named by the line that made it. A not-found service or a cache of
    /// `other` is taken when this table has none; two different ones are a conflict.
    ///
    /// ```
    /// use route_handlers::{RouteHandler, Routes};
    ///
    /// let products = Routes::new().route("/api/products", RouteHandler::new().get(|| async { "[]" }));
    /// let users = Routes::new().route("/api/users", RouteHandler::new().get(|| async { "[]" }));
    /// let table = products.merge(users).build();
    /// assert_eq!(table.registrations().len(), 2);
    ///
    /// let a = Routes::new().route("/(a)/login", RouteHandler::new().get(|| async { "a" }));
    /// let b = Routes::new().route("/(b)/login", RouteHandler::new().get(|| async { "b" }));
    /// let err = a.merge(b).try_build().unwrap_err();
    /// assert!(err.to_string().contains("Conflicting routes at /login"));
    /// ```
    pub fn merge(self, other: Routes<S>) -> Self {
        self.absorb(other, None)
    }

    /// Adds every registration of `other` under `prefix`: `other`'s `/products/[id]`
    /// nested at `/api` is `/api/products/[id]` (and its `/` is `/api`). The prefix is a
    /// pattern like any other (`/api`, `/(shop)/shop`, `/[tenant]`); problems with the
    /// resulting patterns are reported with the others. As with [`merge`](Self::merge),
    /// a cache of `other` is taken when this table has none; a not-found service of
    /// `other` is a conflict, since it would never answer (the table has one not-found
    /// service: set it here).
    ///
    /// Mounting a table in axum with `nest_service("/api", table)`? See
    /// [the crate docs](crate#mounting-in-axum) for which patterns to write.
    ///
    /// ```
    /// use route_handlers::{RouteHandler, Routes};
    ///
    /// let api = Routes::new()
    ///     .route("/products", RouteHandler::new().get(|| async { "[]" }))
    ///     .route("/products/[id]", RouteHandler::new().get(|| async { "{}" }));
    /// let table = Routes::new().nest("/api", api).build();
    /// assert!(table.at("/api/products/7").unwrap().is_some());
    /// assert!(table.at("/products").unwrap().is_none());
    /// ```
    pub fn nest(self, prefix: &str, other: Routes<S>) -> Self {
        self.absorb(other, Some(prefix))
    }

    fn absorb(mut self, other: Routes<S>, prefix: Option<&str>) -> Self {
        let how = if prefix.is_some() { "nested" } else { "merged" };
        self.problems.extend(other.problems);
        self.tell_matched |= other.tell_matched;
        match (&self.cache, other.cache) {
            (Some(mine), Some(theirs)) if !mine.ptr_eq(&theirs) => {
                self.problems.push(super::Conflict::composition(
                    format!("the {how} table has a cache of its own, and this table another"),
                    "give both tables the same cache with `Routes::cache`, or only the outer one",
                ))
            }
            (None, theirs) => self.cache = theirs,
            _ => {}
        }
        match (&self.rejection, other.rejection) {
            (None, theirs) => self.rejection = theirs,
            (Some(mine), Some(theirs)) if !Arc::ptr_eq(mine, &theirs) => {
                self.problems.push(super::Conflict::composition(
                    format!(
                        "the {how} table has a rejection hook of its own, and this table another"
                    ),
                    "set the rejection hook on one table only",
                ))
            }
            _ => {}
        }
        match (prefix, other.not_found) {
            (_, None) => {}
            (Some(prefix), Some(_)) => self.problems.push(super::Conflict::composition(
                format!(
                    "the table nested at {prefix} has a not-found service, which would never answer"
                ),
                "set the not-found service on the outer table",
            )),
            (None, Some(theirs)) if self.not_found.is_none() => self.not_found = Some(theirs),
            (None, Some(_)) => self.problems.push(super::Conflict::composition(
                "both merged tables have a not-found service".into(),
                "keep one of them",
            )),
        }
        for (registration, pending) in other.registrations.into_iter().zip(other.services) {
            let Some(prefix) = prefix else {
                self.registrations.push(registration);
                self.services.push(pending);
                continue;
            };
            let prefix = prefix.trim_end_matches('/');
            let pattern: Arc<str> = match registration.pattern() {
                "" | "/" if prefix.is_empty() => "/".into(),
                "" | "/" => prefix.into(),
                inner if inner.starts_with('/') => format!("{prefix}{inner}").into(),
                inner => format!("{prefix}/{inner}").into(),
            };
            let pending = match pending {
                Pending::Route(route) => Pending::Route(Box::new(route.path(pattern.clone()))),
                page => page,
            };
            self.registrations.push(Registration::new(
                registration.kind(),
                pattern,
                registration.location(),
            ));
            self.services.push(pending);
        }
        self
    }
}

impl Routes {
    /// Checks every pattern and builds the table, or returns every problem found.
    pub fn try_build(self) -> Result<RouteTable, Conflicts> {
        let (patterns, mut conflicts) = conflict::check(&self.registrations);
        conflicts.extend(self.problems);
        let mut own = None;
        let canonical: Vec<Option<Arc<str>>> = patterns
            .iter()
            .map(|p| p.as_ref().and_then(Pattern::canonical_url))
            .collect();
        let mut targets = Vec::with_capacity(self.services.len());
        for ((pending, registration), url) in self
            .services
            .into_iter()
            .zip(&self.registrations)
            .zip(&canonical)
        {
            match pending {
                Pending::Page(page) => targets.push(Target::Page(page)),
                Pending::Route(handler) => {
                    let mut handler = handler.in_table();
                    // The table's cache: the one it was given, or its own, made for the
                    // first route that caches without a cache of its own.
                    if let Some(cache) = &self.cache {
                        if handler.own_cache().is_some_and(|own| !own.ptr_eq(cache)) {
                            conflicts.push(super::Conflict::composition(
                                format!(
                                    "route {} was given a cache of its own, and the table \
                                     another",
                                    registration.pattern()
                                ),
                                "give the route the table's cache, or none: a table keeps \
                                 every route's entries in its cache",
                            ));
                        }
                        handler = handler.cache(cache);
                    } else if handler.own_cache().is_none() && handler.wants_cache() {
                        handler = handler.cache(own.get_or_insert_with(Cache::new));
                    }
                    if let Some(url) = url {
                        handler = handler.at_url(url.clone());
                    }
                    match handler.try_into_service() {
                        Ok(service) => targets.push(Target::Route(service)),
                        Err(err) => {
                            conflicts.push(super::Conflict::route_config(registration, &err))
                        }
                    }
                }
            }
        }
        if !conflicts.is_empty() {
            return Err(Conflicts::new(conflicts));
        }
        let mut matcher = Matcher::default();
        let mut entries = Vec::with_capacity(patterns.len());
        for (id, (((pattern, registration), target), canonical)) in patterns
            .into_iter()
            .zip(self.registrations)
            .zip(targets)
            .zip(canonical)
            .enumerate()
        {
            let pattern = pattern.expect("a table without conflicts has parsed every pattern");
            matcher.insert(id, pattern.url_segments());
            let cached = matches!(&target, Target::Route(route) if route.cached_window().is_some());
            let layered = matches!(&target, Target::Route(route) if route.is_layered());
            let canonical = canonical.map(CacheContext::of_path);
            let url: Box<str> = pattern.url().into();
            let matched = MatchedRoute(Arc::new(MatchedNames {
                pattern: registration.pattern().into(),
                url: url.clone(),
            }));
            entries.push(Entry {
                matched,
                url,
                canonical,
                cached,
                direct: cached && !layered,
                registration,
                target,
            });
        }
        let cache = OnceLock::new();
        if let Some(table_cache) = self.cache.or(own) {
            let _ = cache.set(table_cache);
        }
        let inner = Arc::new(Inner {
            matcher,
            entries,
            not_found: self.not_found,
            rejection: self.rejection,
            tell_matched: self.tell_matched,
            cache,
            #[cfg(feature = "axum")]
            mounts: Default::default(),
        });
        // Each cache its routes use tells its revalidator's callers what they reached.
        let reach: Arc<dyn Reach> = inner.clone();
        let mut caches: Vec<&Cache> = Vec::new();
        for entry in &inner.entries {
            if let Some(cache) = entry.route().and_then(RouteHandlerService::cache) {
                if !caches.iter().any(|c| c.ptr_eq(cache)) {
                    cache.shared.register(Arc::downgrade(&reach));
                    caches.push(cache);
                }
            }
        }
        Ok(RouteTable { inner })
    }

    /// Checks every pattern and builds the table.
    ///
    /// # Panics
    ///
    /// When [`try_build`](Self::try_build) would return an error; the panic message is its
    /// `Display`, listing every problem.
    #[track_caller]
    pub fn build(self) -> RouteTable {
        match self.try_build() {
            Ok(table) => table,
            Err(conflicts) => panic!("{conflicts}"),
        }
    }
}

impl<S> fmt::Debug for Routes<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Routes")
            .field("registrations", &self.registrations)
            .finish_non_exhaustive()
    }
}

/// A built route table: a tower [`Service`] that matches the request path and dispatches to
/// the route handler or page registered for it.
///
/// It is `Clone` (an `Arc` clone), `Send` and `Sync`, accepts requests with any body of
/// [`Bytes`], and never fails (`Error = Infallible`):
///
/// - a matched route handler is called with the route's parameters in its
///   [`RouteContext`]; it answers `405` with its own `Allow` for a method it lacks;
/// - a matched page gets the parameters as a `RouteContext` request extension;
/// - a path nothing matches goes to the not-found service (`404`, empty body, by default);
/// - a path with a malformed `%` escape, a `.` or `..` segment, or `%00` is answered
///   `400 Bad Request` (see [`InvalidPath`]).
///
/// Its `Display` is a summary of the routes, like the one `next build` prints:
///
/// ```
/// use route_handlers::{RouteHandler, Routes};
///
/// let table = Routes::new()
///     .route("/api/users/[id]", RouteHandler::new().get(|| async { "" }))
///     .route("/(meta)/robots.txt", RouteHandler::new().get(|| async { "" }))
///     .build();
/// assert_eq!(
///     table.to_string(),
///     "Route (app)          Methods\n\
///      ┌ ƒ /api/users/[id]  GET\n\
///      └ ƒ /robots.txt      GET\n\
///      \n\
///      ○  (Static)       GET rendered once, then served from the cache\n\
///      ◐  (Revalidated)  GET served from the cache, rendered again after its window\n\
///      ƒ  (Dynamic)      GET rendered on every request"
/// );
/// ```
#[derive(Clone)]
pub struct RouteTable {
    inner: Arc<Inner>,
}

struct Inner {
    matcher: Matcher,
    entries: Vec<Entry>,
    not_found: Option<AnyService>,
    rejection: Option<RejectionHook>,
    tell_matched: bool,
    /// The table's cache: given with [`Routes::cache`], or the table's own.
    cache: OnceLock<Cache>,
    /// The patterns of the mounts (axum's `nest_service`) the table served relative
    /// patterns under, for [`Reach::path`].
    #[cfg(feature = "axum")]
    mounts: std::sync::RwLock<Vec<Arc<str>>>,
}

impl Inner {
    /// What the answer of `entry` is to be told: nothing, unless the table asks for the
    /// matched route or has a rejection hook.
    #[inline]
    fn told(&self, entry: &Entry) -> Option<Box<Told>> {
        match self.tell_matched || self.rejection.is_some() {
            false => None,
            true => self.told_slow(entry),
        }
    }

    #[cold]
    fn told_slow(&self, entry: &Entry) -> Option<Box<Told>> {
        Some(Box::new(Told {
            matched: self.tell_matched.then(|| entry.matched.clone()),
            rejection: self.rejection.clone(),
        }))
    }
}

#[cfg(feature = "axum")]
impl Inner {
    /// Remembers the mount `pattern`: one per place the table is mounted at, a few at most.
    fn remember(&self, pattern: &Arc<str>) {
        let known = |mounts: &Vec<Arc<str>>| mounts.iter().any(|m| m == pattern);
        if self.mounts.read().is_ok_and(|m| known(&m)) {
            return;
        }
        if let Ok(mut mounts) = self.mounts.write() {
            if !known(&mounts) && mounts.len() < 16 {
                mounts.push(pattern.clone());
            }
        }
    }

    /// The routes a public path reaches: the one it matches, and the ones it matches
    /// without each remembered mount prefix. Once the table served relative patterns under
    /// a mount, a path that matches a route directly reaches it only when the route is
    /// written with the mount's prefix: its entries are keyed with the prefix.
    fn routes_of(&self, path: &str) -> Vec<usize> {
        let mounts = self.mounts.read().map(|m| m.clone()).unwrap_or_default();
        let mut ids = Vec::new();
        if let Lookup::Found { id, .. } = self.matcher.lookup(path) {
            let url = &self.entries[id].url;
            if mounts.is_empty()
                || mounts
                    .iter()
                    .any(|m| super::mount::written_with_prefix(url, m))
            {
                ids.push(id);
            }
        }
        for stripped in mounts.iter().filter_map(|m| super::mount::strip(m, path)) {
            if let Lookup::Found { id, .. } = self.matcher.lookup(&stripped) {
                ids.push(id);
            }
        }
        ids
    }
}

#[cfg(not(feature = "axum"))]
impl Inner {
    fn routes_of(&self, path: &str) -> Vec<usize> {
        match self.matcher.lookup(path) {
            Lookup::Found { id, .. } => vec![id],
            _ => Vec::new(),
        }
    }
}

impl Reach for Inner {
    /// The cached routes whose pattern matches `path`: the public path, or the path the
    /// table saw under a mount it served relative patterns under.
    fn path(&self, cache: &Shared, path: &str, out: &mut Vec<Arc<str>>) {
        for id in self.routes_of(path) {
            let entry = &self.entries[id];
            if entry.route().is_some_and(|r| r.cached_in(cache).is_some()) {
                out.push(entry.registration.pattern().into());
            }
        }
    }

    fn tag(&self, cache: &Shared, tag: &str, out: &mut Vec<Arc<str>>) {
        for entry in &self.entries {
            let declares = entry
                .route()
                .and_then(|r| r.cached_in(cache))
                .is_some_and(|policy| policy.settings.tags.iter().any(|t| &**t == tag));
            if declares {
                out.push(entry.registration.pattern().into());
            }
        }
    }
}

pub(crate) struct Entry {
    /// The normalised URL pattern (groups removed).
    pub(crate) url: Box<str>,
    /// The canonical path of a pattern without dynamic segments: every path it matches.
    canonical: Option<Arc<CacheContext>>,
    /// Whether the target caches responses, and so keys them on the canonical path.
    cached: bool,
    /// Whether the table answers the route's cache hits itself: a cached route without
    /// layers.
    direct: bool,
    /// What the request and the response are told of the match.
    matched: MatchedRoute,
    pub(crate) registration: Registration,
    target: Target,
}

impl Entry {
    /// The context of a request for `path` that matched this entry with `params`: for a
    /// cached route, with the canonical path, which the cache keys on (a static entry shares
    /// its own).
    #[inline]
    fn context(&self, path: &str, params: Params) -> RouteContext {
        if !self.cached {
            return RouteContext::new(params);
        }
        Matched::new(path, self.canonical.as_ref(), params).into_context()
    }

    /// The route handler, for a route.
    pub(crate) fn route(&self) -> Option<&RouteHandlerService> {
        match &self.target {
            Target::Route(svc) => Some(svc),
            Target::Page(_) => None,
        }
    }
}

/// The route a [`RouteTable`] matched: a request extension for the route's own
/// [layers](RouteHandler::layer) and pages, and, for a table built with
/// [`Routes::matched_route(true)`](Routes::matched_route), a response extension on every
/// answer of a registration, for the layers outside the table (trace spans, metrics by
/// route rather than by raw URI). A path nothing matches gets none.
///
/// ```
/// use http::Request;
/// use route_handlers::{Body, RouteHandler, Routes, routes::MatchedRoute};
/// use tower::ServiceExt;
/// use tower_http::trace::TraceLayer;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let table = Routes::new()
///     .route("/(shop)/api/products/[id]", RouteHandler::new().get(|| async { "tea" }))
///     .matched_route(true)
///     .build();
///
/// // The span is made before the table has matched: record the route when it answers.
/// let traced = tower::ServiceBuilder::new()
///     .layer(
///         TraceLayer::new_for_http()
///             .make_span_with(|req: &Request<Body>| {
///                 tracing::info_span!("request", uri = %req.uri(), route = tracing::field::Empty)
///             })
///             .on_response(|res: &http::Response<Body>, _: std::time::Duration, span: &tracing::Span| {
///                 if let Some(matched) = res.extensions().get::<MatchedRoute>() {
///                     span.record("route", matched.url());
///                 }
///             }),
///     )
///     .service(table.clone());
/// # let _ = traced;
///
/// let res = table.oneshot(Request::get("/api/products/7").body(Body::empty()).unwrap()).await.unwrap();
/// let matched = res.extensions().get::<MatchedRoute>().unwrap();
/// assert_eq!(matched.pattern(), "/(shop)/api/products/[id]");
/// assert_eq!(matched.url(), "/api/products/[id]");
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MatchedRoute(Arc<MatchedNames>);

#[derive(Debug, PartialEq, Eq, Hash)]
struct MatchedNames {
    pattern: Box<str>,
    url: Box<str>,
}

impl MatchedRoute {
    /// The pattern as registered, groups included (`/(shop)/api/products/[id]`): the name
    /// of the route, the path of its `route.ts` folder.
    pub fn pattern(&self) -> &str {
        &self.0.pattern
    }

    /// The URL pattern the route is served at, groups removed (`/api/products/[id]`).
    pub fn url(&self) -> &str {
        &self.0.url
    }
}

/// What [`RouteTable::at`] found for a path.
#[derive(Debug)]
pub struct Match<'a> {
    entry: &'a Entry,
    params: Params,
}

impl<'a> Match<'a> {
    /// The pattern of the matched registration, as it was written.
    pub fn pattern(&self) -> &'a str {
        self.entry.registration.pattern()
    }

    /// Whether a route handler or a page matched.
    pub fn kind(&self) -> RegistrationKind {
        self.entry.registration.kind()
    }

    /// The matched route handler, when a route matched.
    pub fn route(&self) -> Option<&'a RouteHandlerService> {
        self.entry.route()
    }

    /// The path parameters.
    pub fn params(&self) -> &Params {
        &self.params
    }

    /// The path parameters, by value.
    pub fn into_params(self) -> Params {
        self.params
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("url", &self.url)
            .field("registration", &self.registration)
            .finish_non_exhaustive()
    }
}

/// The request path cannot be routed, whatever it would match; the table answers such a
/// request `400 Bad Request` with the `Display` text as a `text/plain` body. That is a path
/// with:
///
/// - a `%` escape that is not two hex digits, or that does not decode to UTF-8;
/// - a `.` or `..` segment, as sent or percent-encoded (`%2E`): RFC 3986 gives dot segments
///   a meaning that capturing them as parameters would replace, and clients remove them
///   before sending, so only crafted requests carry one (`%2F` is data, so the single
///   segment `a%2F..%2Fb` is the parameter `a/../b`);
/// - `%00`, a NUL byte, which truncates paths in C-based file APIs.
///
/// ```
/// use route_handlers::{RouteHandler, Routes};
///
/// let table = Routes::new()
///     .route("/files/[...path]", RouteHandler::new().get(|| async { "" }))
///     .build();
/// let err = table.at("/files/../secret").unwrap_err();
/// assert_eq!(err.to_string(), "the request path has a `.` or `..` segment");
/// let err = table.at("/files/%zz").unwrap_err();
/// assert_eq!(err.to_string(), "invalid percent-encoding in the request path");
/// let err = table.at("/files/a%00.txt").unwrap_err();
/// assert_eq!(err.to_string(), "the request path has an encoded NUL byte (%00)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidPath {
    problem: PathProblem,
}

impl InvalidPath {
    fn message(self) -> &'static str {
        match self.problem {
            PathProblem::BadEscape => "invalid percent-encoding in the request path",
            PathProblem::DotSegment => "the request path has a `.` or `..` segment",
            PathProblem::Nul => "the request path has an encoded NUL byte (%00)",
        }
    }
}

impl fmt::Display for InvalidPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for InvalidPath {}

impl RouteTable {
    /// Finds the registration that answers `path` (a URI path such as `/api/users/7`),
    /// without calling it.
    ///
    /// ```
    /// use route_handlers::{RouteHandler, Routes};
    ///
    /// let table = Routes::new()
    ///     .route("/docs/[[...slug]]", RouteHandler::new().get(|| async { "docs" }))
    ///     .build();
    /// let found = table.at("/docs/a%2Fb/c").unwrap().unwrap();
    /// assert_eq!(found.pattern(), "/docs/[[...slug]]");
    /// assert_eq!(
    ///     found.params().get("slug"),
    ///     Some(&route_handlers::context::ParamValue::Many(vec!["a/b".into(), "c".into()]))
    /// );
    /// assert!(table.at("/docs").unwrap().unwrap().params().is_empty());
    /// assert!(table.at("/elsewhere").unwrap().is_none());
    /// assert!(table.at("/docs/%zz").is_err());
    /// ```
    pub fn at(&self, path: &str) -> Result<Option<Match<'_>>, InvalidPath> {
        match self.inner.matcher.lookup(path) {
            Lookup::Found { id, params } => Ok(Some(Match {
                entry: &self.inner.entries[id],
                params,
            })),
            Lookup::NotFound => Ok(None),
            Lookup::Invalid(problem) => Err(InvalidPath { problem }),
        }
    }

    /// The registrations, in registration order.
    pub fn registrations(&self) -> impl ExactSizeIterator<Item = &Registration> {
        self.inner.entries.iter().map(|e| &e.registration)
    }

    /// The table's cache: the one given with [`Routes::cache`], or the table's own, where
    /// its routes that cache without a cache of their own keep their entries.
    pub fn cache(&self) -> &Cache {
        self.inner.cache.get_or_init(Cache::new)
    }

    /// A revalidator of [the table's cache](Self::cache): its answers name the table's
    /// routes it reached.
    ///
    /// ```
    /// use route_handlers::{RouteHandler, Routes, cache::Dynamic};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let table = Routes::new()
    ///     .route(
    ///         "/api/products/[id]",
    ///         RouteHandler::new().get(|| async { "tea" }).dynamic(Dynamic::ForceStatic),
    ///     )
    ///     .build();
    /// let report = table.revalidator().revalidate_path("/api/products/7").await.unwrap();
    /// assert_eq!(report.routes(), [std::sync::Arc::<str>::from("/api/products/[id]")]);
    /// # }
    /// ```
    pub fn revalidator(&self) -> Revalidator {
        self.cache().revalidator()
    }

    pub(crate) fn entries(&self) -> &[Entry] {
        &self.inner.entries
    }

    /// Answers `req`: the answers that need only the request by reference (a cached
    /// route's hits, the dispatch table's `405` and `204`) are made before its body is
    /// converted or a context made.
    #[inline]
    fn dispatch<B>(&self, req: Request<B>) -> ResponseFuture
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let inner = &*self.inner;
        #[cfg(feature = "axum")]
        let (req, mount) = super::mount::public_uri(req);
        let found = inner.matcher.lookup(req.uri().path());
        #[cfg(feature = "axum")]
        let found = match mount {
            None => found,
            Some(mount) => self.under_mount(found, &mount),
        };
        match found {
            Lookup::Found { id, params } => {
                let entry = &inner.entries[id];
                // Each answer is made in the future it is returned in, not moved there.
                let told = inner.told(entry);
                match &entry.target {
                    Target::Route(route) if entry.direct && !in_outer_fill(&req) => {
                        let own = entry.canonical.as_ref();
                        let matched = Matched::new(req.uri().path(), own, params);
                        let begun = route.begin(&req, Some(matched.path()), || matched.context());
                        ResponseFuture::with(
                            match begun {
                                Begun::Answered(answer) => answer,
                                begun => {
                                    route.finish(begun, req.map(Body::new), matched.into_context())
                                }
                            },
                            told,
                        )
                    }
                    Target::Route(route) => {
                        let ctx = entry.context(req.uri().path(), params);
                        let ctx = match req.extensions().is_empty() {
                            true => ctx,
                            false => filled_from_outside(&req, ctx),
                        };
                        let answer = match route.is_layered() {
                            false => route.call_with_context(req.map(Body::new), ctx),
                            true => layered(route, req.map(Body::new), ctx, &entry.matched),
                        };
                        ResponseFuture::with(answer, told)
                    }
                    Target::Page(page) => {
                        let mut ctx = entry.context(req.uri().path(), params);
                        if !req.extensions().is_empty() {
                            ctx = filled_from_outside(&req, ctx);
                        }
                        let mut req = req.map(Body::new);
                        req.extensions_mut().insert(ctx);
                        req.extensions_mut().insert(entry.matched.clone());
                        let answer = Box::pin(page.clone().oneshot(req));
                        ResponseFuture::with(route::ResponseFuture::later(answer, None), told)
                    }
                }
            }
            Lookup::NotFound => match &inner.not_found {
                Some(service) => {
                    ResponseFuture::service(service.clone().oneshot(req.map(Body::new)))
                }
                None => ResponseFuture::ready(empty(StatusCode::NOT_FOUND)),
            },
            Lookup::Invalid(problem) => {
                let message = InvalidPath { problem }.message();
                let mut res = Response::new(Body::from(message));
                *res.status_mut() = StatusCode::BAD_REQUEST;
                res.headers_mut().insert(
                    CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; charset=utf-8"),
                );
                ResponseFuture::ready(res)
            }
        }
    }
}

#[cfg(feature = "axum")]
impl RouteTable {
    /// The match of a request axum routed through `nest_service`, `found` for its public
    /// path: that one when the route is written with the mount's prefix, otherwise the match
    /// of the stripped path (a table of patterns relative to its mount point). The mount is
    /// remembered, for the revalidator to find the routes of public paths.
    #[cold]
    fn under_mount(&self, found: Lookup, mount: &super::mount::Mount) -> Lookup {
        if let Lookup::Found { id, .. } = &found {
            if super::mount::written_with_prefix(&self.inner.entries[*id].url, &mount.pattern) {
                return found;
            }
        }
        if matches!(found, Lookup::Invalid(_)) {
            return found;
        }
        let stripped = self.inner.matcher.lookup(mount.stripped.path());
        if matches!(stripped, Lookup::Found { .. }) {
            self.inner.remember(&mount.pattern);
        }
        stripped
    }
}

/// Whether `req` is the fill of a cache layer outside the table, which records what the
/// route reads.
#[inline]
fn in_outer_fill<B>(req: &Request<B>) -> bool {
    !req.extensions().is_empty() && outer_fill(req).is_some()
}

#[cold]
fn outer_fill<B>(req: &Request<B>) -> Option<&Arc<CacheContext>> {
    req.extensions()
        .get::<RouteContext>()
        .and_then(RouteContext::fill_tracking)
}

/// `ctx`, recording what the route reads for the fill of a cache layer outside the table,
/// when the request is such a fill.
#[cold]
fn filled_from_outside<B>(req: &Request<B>, ctx: RouteContext) -> RouteContext {
    match outer_fill(req) {
        Some(fill) => ctx.with_path(fill.clone()),
        None => ctx,
    }
}

/// A layered route's answer: its layers get the matched route with the request.
#[cold]
fn layered(
    route: &RouteHandlerService,
    mut req: Request<Body>,
    ctx: RouteContext,
    matched: &MatchedRoute,
) -> route::ResponseFuture {
    req.extensions_mut().insert(matched.clone());
    route.call_with_context(req, ctx)
}

/// The hook of [`Routes::rejection`].
type RejectionHook = Arc<dyn Fn(&RejectionInfo) -> Response<Body> + Send + Sync>;

/// `res`, or the hook's answer when it is a rejection.
fn reshaped(res: Response<Body>, hook: &RejectionHook) -> Response<Body> {
    let Some(info) = res.extensions().get::<RejectionInfo>() else {
        return res;
    };
    let mut answer = hook(info);
    answer.extensions_mut().insert(info.clone());
    answer
}

fn empty(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res
}

impl fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteTable")
            .field("entries", &self.inner.entries)
            .finish_non_exhaustive()
    }
}

impl<B> Service<Request<B>> for RouteTable
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    /// Always ready: the table holds nothing that runs out. Pages and the not-found service
    /// are cloned and driven to readiness inside the response future.
    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.dispatch(req)
    }
}

/// With the `hyper` feature, hyper serves the table by reference: no clone and no `oneshot`
/// per request, as hyper-util's `TowerToHyperService` would make.
///
/// ```
/// # async fn serve(listener: tokio::net::TcpListener) -> std::io::Result<()> {
/// use hyper_util::{rt::{TokioExecutor, TokioIo}, server::conn::auto};
/// use route_handlers::{RouteHandler, Routes};
///
/// let table = Routes::new()
///     .route("/api/hello", RouteHandler::new().get(|| async { "Hello" }))
///     .build();
/// loop {
///     let (stream, _) = listener.accept().await?;
///     let table = table.clone();
///     tokio::spawn(async move {
///         let _ = auto::Builder::new(TokioExecutor::new())
///             .serve_connection(TokioIo::new(stream), table)
///             .await;
///     });
/// }
/// # }
/// ```
#[cfg(feature = "hyper")]
impl<B> hyper::service::Service<Request<B>> for RouteTable
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    #[inline]
    fn call(&self, req: Request<B>) -> Self::Future {
        self.dispatch(req)
    }
}

pin_project! {
    /// The response future of [`RouteTable`]: the route's, which also carries the answers of
    /// pages (boxed) and of the table itself.
    pub struct ResponseFuture {
        #[pin]
        inner: route::ResponseFuture,
        // What the answer is told, when the table asks for anything: boxed, so that a
        // table that asks for nothing pays one word and one test.
        told: Option<Box<Told>>,
    }
}

/// What a registration's answer is told: the route the table matched, and the rejection
/// hook.
struct Told {
    matched: Option<MatchedRoute>,
    rejection: Option<RejectionHook>,
}

impl Told {
    #[cold]
    fn apply(self, mut res: Response<Body>) -> Response<Body> {
        if let Some(hook) = &self.rejection {
            res = reshaped(res, hook);
        }
        if let Some(matched) = self.matched {
            res.extensions_mut().insert(matched);
        }
        res
    }
}

impl ResponseFuture {
    #[inline]
    fn route(inner: route::ResponseFuture) -> Self {
        Self { inner, told: None }
    }

    /// The answer of a registration, and what it is to be told.
    #[inline(always)]
    fn with(inner: route::ResponseFuture, told: Option<Box<Told>>) -> Self {
        Self { inner, told }
    }

    /// A page's or the not-found service's answer. Boxed, so that the future of the common
    /// case, a route, stays small.
    fn service(future: Oneshot<AnyService, Request<Body>>) -> Self {
        Self::route(route::ResponseFuture::later(Box::pin(future), None))
    }

    fn ready(response: Response<Body>) -> Self {
        Self::route(route::ResponseFuture::ready(response, None))
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(res) = std::task::ready!(this.inner.poll(cx));
        Poll::Ready(Ok(match this.told.take() {
            None => res,
            Some(told) => told.apply(res),
        }))
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
