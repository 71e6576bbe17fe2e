//! [`RouteHandler`], the Rust form of one `route.ts` file, and the
//! [`RouteHandlerService`] it becomes.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use futures_util::FutureExt;
use http::{HeaderValue, Method, Request, Response};
use tower::{
    ServiceExt,
    util::{BoxCloneSyncService, Oneshot},
};
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    body::{Body, BodyLimit, BoxError, BoxResponseFuture},
    cache::{
        self, Cache, CacheConfig, ConfigError, Dynamic, Miss, Origin, Policy, Reach, Resolved,
        Revalidate, Served, Shared,
    },
    context::{RequestData, RouteContext},
    guard::Guard,
    handler::{Bound, ErasedHandler, Handler, HandlerFn, ServiceHandler, Unbound},
    method::{self, Action, Dispatch, GET, Head, METHODS, MethodSet},
    response::IntoResponse,
};

/// A page, a not-found service, a layered route: any service a table or route holds besides
/// route handlers, its errors made responses.
pub(crate) type AnyService = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The service a [`RouteHandler::layer`] wraps: the route, its dispatch table and its cache.
/// The route's params reach it as a [`RouteContext`] request extension, and the route
/// table's [`MatchedRoute`](crate::routes::MatchedRoute) with them.
pub type Route = AnyService;

pub(crate) fn erase<S, ResBody>(service: S) -> AnyService
where
    S: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: IntoResponse,
    Response<ResBody>: IntoResponse,
    ResBody: 'static,
{
    BoxCloneSyncService::new(Answering {
        service,
        _body: PhantomData,
    })
}

/// Adapts a service whose errors are responses to `Error = Infallible`. Readiness is
/// awaited on a clone inside the response future, as with a route's `on_service`, so an
/// error from `poll_ready` becomes a response too.
struct Answering<S, B> {
    service: S,
    _body: PhantomData<fn() -> B>,
}

impl<S: Clone, B> Clone for Answering<S, B> {
    fn clone(&self) -> Self {
        Self {
            service: self.service.clone(),
            _body: PhantomData,
        }
    }
}

type Answer<S, B> = futures_util::future::Map<
    Oneshot<S, Request<Body>>,
    fn(
        Result<Response<B>, <S as Service<Request<Body>>>::Error>,
    ) -> Result<Response<Body>, Infallible>,
>;

impl<S, B> Service<Request<Body>> for Answering<S, B>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone,
    S::Error: IntoResponse,
    Response<B>: IntoResponse,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Answer<S, B>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        fn answer<B, E: IntoResponse>(
            result: Result<Response<B>, E>,
        ) -> Result<Response<Body>, Infallible>
        where
            Response<B>: IntoResponse,
        {
            Ok(match result {
                Ok(res) => res.into_response(),
                Err(err) => err.into_response(),
            })
        }
        self.service
            .clone()
            .oneshot(req)
            .map(answer::<B, S::Error> as fn(_) -> _)
    }
}

/// One route's handlers, by method: the Rust form of a Next.js `route.ts` file.
///
/// Build it with one call per method, then turn it into a [`RouteHandlerService`] with
/// [`into_service`](Self::into_service). Methods the route lacks are answered `405` with
/// `Allow`; `HEAD` is derived from `GET` and `OPTIONS` is answered `204` with `Allow`, unless
/// the route has its own handlers for them.
///
/// # Errors and panics
///
/// Built in, around every handler, at no allocation per request:
///
/// - a handler that panics is answered `500` with an empty body; the panic is logged with
///   `tracing` at the error level, naming the route's [`path`](Self::path) and the method,
///   and the server keeps serving (the process's panic hook still runs, as for any panic);
/// - a handler whose error becomes a `500` through
///   [`HttpError`](crate::response::HttpError) (any `std::error::Error` with `?`) has that
///   error logged the same way; the client gets an empty body;
/// - a handler that runs past [`max_duration`](Self::max_duration) is answered `504`, or
///   `408` when it was waiting for the request body (the client is the slow one).
///
/// # Example
///
/// ```
/// use http::{Request, StatusCode};
/// use route_handlers::{Body, RouteContext, RouteHandler};
/// use tower::ServiceExt;
///
/// async fn list(_req: Request<Body>, _ctx: RouteContext) -> &'static str {
///     "[]"
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let svc = RouteHandler::new()
///     .get(list)
///     .post(|req: Request<Body>| async move { (StatusCode::CREATED, "made") })
///     .into_service();
///
/// let req = Request::builder().method("PUT").body(Body::empty()).unwrap();
/// let res = svc.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
/// assert_eq!(res.headers()["allow"], "GET, HEAD, OPTIONS, POST");
/// # }
/// ```
#[must_use]
pub struct RouteHandler<S = ()> {
    handlers: [Option<Box<dyn Unbound<S>>>; 7],
    methods: MethodSet,
    path: Option<Arc<str>>,
    /// The URL the route table serves the route at (its pattern without groups).
    url: Option<Arc<str>>,
    limits: Limits,
    cache_config: CacheConfig,
    cache: Option<Cache>,
    /// Whether a route table serves it: the table then answers for it to the cache's
    /// revalidator.
    in_table: bool,
    /// The layers of [`layer`](Self::layer), innermost first.
    layers: Vec<LayerFn>,
}

/// A layer of [`RouteHandler::layer`], applied when the route becomes a service.
type LayerFn = Arc<dyn Fn(Route) -> Route + Send + Sync>;

/// Per-route limits applied around every handler call (see [`Guard`]).
#[derive(Clone, Copy, Debug, Default)]
struct Limits {
    max_duration: Option<Duration>,
    body_limit: BodyLimit,
}

impl<S: Clone + Send + Sync + 'static> Default for RouteHandler<S> {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: Clone + Send + Sync + 'static> RouteHandler<S> {
    /// A route with no handlers; every method but `OPTIONS` is answered `405`.
    pub fn new() -> Self {
        Self {
            handlers: Default::default(),
            methods: MethodSet::EMPTY,
            path: None,
            url: None,
            limits: Limits::default(),
            cache_config: CacheConfig::new(),
            cache: None,
            in_table: false,
            layers: Vec::new(),
        }
    }

    /// Sets the `GET` handler, also used for `HEAD` when there is no `HEAD` handler.
    #[track_caller]
    pub fn get<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::GET, handler)
    }

    /// Sets the `HEAD` handler. It wins over the one derived from `GET`.
    #[track_caller]
    pub fn head<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::HEAD, handler)
    }

    /// Sets the `POST` handler.
    #[track_caller]
    pub fn post<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::POST, handler)
    }

    /// Sets the `PUT` handler.
    #[track_caller]
    pub fn put<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::PUT, handler)
    }

    /// Sets the `PATCH` handler.
    #[track_caller]
    pub fn patch<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::PATCH, handler)
    }

    /// Sets the `DELETE` handler.
    #[track_caller]
    pub fn delete<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::DELETE, handler)
    }

    /// Sets the `OPTIONS` handler. It wins over the synthesized `204`.
    #[track_caller]
    pub fn options<H, T>(self, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.on(MethodSet::OPTIONS, handler)
    }

    /// Sets `handler` for every method in `methods`.
    ///
    /// # Panics
    ///
    /// When a method in `methods` already has a handler.
    #[track_caller]
    pub fn on<H, T>(self, methods: MethodSet, handler: H) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        self.insert(methods, || Box::new(HandlerFn::new(handler.clone())))
    }

    /// Sets a tower [`Service`] as the handler of every method in `methods`, as axum's
    /// `get_service` does. The service is cloned for each request it answers; its error
    /// type must convert into a response (`Infallible` does).
    ///
    /// ```
    /// use http::{Request, Response};
    /// use route_handlers::{Body, RouteHandler, method::MethodSet};
    /// use tower::service_fn;
    ///
    /// let svc = service_fn(|_req: Request<Body>| async {
    ///     Ok::<_, std::convert::Infallible>(Response::new(Body::from("from a service")))
    /// });
    /// let route: RouteHandler = RouteHandler::new().on_service(MethodSet::GET, svc);
    /// # let _ = route;
    /// ```
    ///
    /// # Panics
    ///
    /// When a method in `methods` already has a handler.
    #[track_caller]
    pub fn on_service<T, ResBody>(self, methods: MethodSet, service: T) -> Self
    where
        T: Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
        T::Future: Send + 'static,
        T::Error: IntoResponse,
        Response<ResBody>: IntoResponse,
    {
        self.insert(methods, || {
            Box::new(Bound(Box::new(ServiceHandler::new(service.clone()))))
        })
    }

    /// Gives the route its state: the handlers' [`State`](crate::extract::State) arguments
    /// are made from it. The route can then go into a table of any state (a route with its
    /// own state inside a table with another, or none).
    ///
    /// State is not request data: a cached route's fills get it as any request does.
    ///
    /// ```
    /// use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
    /// use route_handlers::{RouteHandler, extract::State};
    ///
    /// let hits = Arc::new(AtomicU32::new(0));
    /// let route = RouteHandler::new()
    ///     .post(|State(hits): State<Arc<AtomicU32>>| async move {
    ///         hits.fetch_add(1, Ordering::Relaxed).to_string()
    ///     })
    ///     .with_state(hits)
    ///     .into_service();
    /// # let _ = route;
    /// ```
    pub fn with_state<S2>(self, state: S) -> RouteHandler<S2> {
        let handlers = self.handlers.map(|handler| {
            handler.map(|h| {
                let bound: Box<dyn Unbound<S2>> = Box::new(Bound(h.bind(state.clone())));
                bound
            })
        });
        RouteHandler {
            handlers,
            methods: self.methods,
            path: self.path,
            url: self.url,
            limits: self.limits,
            cache_config: self.cache_config,
            cache: self.cache,
            in_table: self.in_table,
            layers: self.layers,
        }
    }

    /// Wraps the route in a tower layer: per-route middleware (authentication, rate
    /// limits, metrics) as axum's `MethodRouter::layer`. The layer sees every request of
    /// the route, cache hits and `405`s included: it sits outside the route's dispatch table
    /// and its cache. Layers added later wrap those added before.
    ///
    /// In a route table, the request the layer gets carries the route's params (a
    /// [`RouteContext`] extension) and its [`MatchedRoute`](crate::routes::MatchedRoute).
    /// The layer's errors and response bodies are made responses as a page's are.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use route_handlers::{Body, RouteHandler, cache::Dynamic};
    /// use tower::ServiceExt;
    /// use tower_http::validate_request::ValidateRequestHeaderLayer;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let route = RouteHandler::new()
    ///     .get(|| async { "secret report" })
    ///     .dynamic(Dynamic::ForceStatic)
    ///     // Outside the cache: a hit is not served to a client without the token.
    ///     .layer(ValidateRequestHeaderLayer::custom(|req: &mut Request<Body>| {
    ///         match req.headers().get("authorization") {
    ///             Some(value) if value == "Bearer let-me-in" => Ok(()),
    ///             _ => Err(http::Response::builder().status(401).body(Body::empty()).unwrap()),
    ///         }
    ///     }))
    ///     .into_service();
    /// let res = route.clone().oneshot(Request::new(Body::empty())).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    /// let req = Request::get("/").header("authorization", "Bearer let-me-in").body(Body::empty());
    /// let res = route.oneshot(req.unwrap()).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::OK);
    /// # }
    /// ```
    pub fn layer<L, ResBody>(mut self, layer: L) -> Self
    where
        L: Layer<Route> + Send + Sync + 'static,
        L::Service:
            Service<Request<Body>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
        <L::Service as Service<Request<Body>>>::Error: IntoResponse,
        Response<ResBody>: IntoResponse,
        ResBody: 'static,
    {
        self.layers
            .push(Arc::new(move |route| erase(layer.layer(route))));
        self
    }

    #[track_caller]
    fn insert(mut self, methods: MethodSet, make: impl Fn() -> Box<dyn Unbound<S>>) -> Self {
        for (i, m) in METHODS.iter().enumerate() {
            if methods.has(i) {
                assert!(
                    self.handlers[i].is_none(),
                    "a {m} handler is already registered on this route"
                );
                self.handlers[i] = Some(make());
            }
        }
        self.methods |= methods;
        self
    }

    /// The methods that have handlers.
    pub fn methods(&self) -> MethodSet {
        self.methods
    }

    /// Names the route by its pattern (such as `/api/users/[id]`), for logs and messages.
    /// The route table sets it to the pattern the route is registered under.
    pub fn path(mut self, path: impl Into<Arc<str>>) -> Self {
        self.path = Some(path.into());
        self
    }

    /// The route's pattern, when set.
    pub fn path_name(&self) -> Option<&str> {
        self.path.as_deref()
    }

    /// Cuts off a handler that runs longer than `max`: it is answered `504 Gateway Timeout`
    /// with an empty body, the handler's future is dropped (cancelled at the `.await` it was
    /// waiting on), and the event is logged with `tracing` at the error level, naming the
    /// route and method.
    ///
    /// `504` is what a deployment platform answers when a function exceeds its
    /// `maxDuration`, which is where Next.js's setting of that name is enforced. When the
    /// handler is waiting for the request body at that moment (read with
    /// [`NextRequest`](crate::request::NextRequest) or the [`request`](crate::request)
    /// extractors), the client is the slow one: the answer is then `408 Request Timeout`,
    /// logged at the warning level, and hyper closes an HTTP/1.1 connection whose body was
    /// not read to the end. This is what bounds a client that stalls mid-body; without a
    /// `max_duration` such a client holds its connection until the server's own timeouts
    /// end it. The time is measured from the request's
    /// arrival: the [`ReceivedAt`](crate::request::ReceivedAt) request extension when a server inserts one, otherwise
    /// from the moment the route's service is called. It bounds the handler until it returns
    /// its response; a streaming body (such as server-sent events) is not cut off.
    ///
    /// The route then needs a tokio runtime with time enabled. Routes without a
    /// `max_duration` create no timer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use http::{Request, StatusCode};
    /// use route_handlers::{Body, RouteHandler};
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
    /// let svc = RouteHandler::new()
    ///     .get(|| async {
    ///         tokio::time::sleep(Duration::from_secs(60)).await;
    ///         "too late"
    ///     })
    ///     .max_duration(Duration::from_secs(10))
    ///     .into_service();
    /// let res = svc.oneshot(Request::new(Body::empty())).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::GATEWAY_TIMEOUT);
    /// # }
    /// ```
    pub fn max_duration(mut self, max: Duration) -> Self {
        self.limits.max_duration = Some(max);
        self
    }

    /// Sets the largest request body the route's handlers read, in bytes (the default is
    /// [`BodyLimit::DEFAULT`], 2 MiB). A larger body is answered `413 Payload Too Large` by
    /// the body readers of [`NextRequest`](crate::request::NextRequest) and the
    /// [`request`](crate::request) extractors. The limit travels in the
    /// [`RouteContext`], so it costs nothing per request.
    ///
    /// ```
    /// use http::{Request, StatusCode};
    /// use route_handlers::{Body, RouteHandler, request::NextRequest};
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let svc = RouteHandler::new()
    ///     .post(|mut req: NextRequest| async move { req.text().await.map(|t| t.len().to_string()) })
    ///     .body_limit(4)
    ///     .into_service();
    /// let req = Request::post("/").body(Body::from("12345")).unwrap();
    /// let res = svc.oneshot(req).await.unwrap();
    /// assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    /// # }
    /// ```
    pub fn body_limit(mut self, limit: impl Into<BodyLimit>) -> Self {
        self.limits.body_limit = limit.into();
        self
    }

    /// The request-time data the handler of `method` declares it reads (see
    /// [`Handler::READS`]), or `None` when the route has no handler for it.
    pub fn reads(&self, method: &Method) -> Option<RequestData> {
        let i = method::index_of(method)?;
        self.handlers[i].as_ref().map(|h| h.reads())
    }

    /// The route at `url`, the URL the route table serves it at.
    pub(crate) fn at_url(mut self, url: Arc<str>) -> Self {
        self.url = Some(url);
        self
    }

    /// The route as a table serves it.
    pub(crate) fn in_table(mut self) -> Self {
        self.in_table = true;
        self
    }

    /// The cache the route was given, if any.
    pub(crate) fn own_cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }
}

impl RouteHandler {
    /// Turns the route into a tower service.
    ///
    /// # Panics
    ///
    /// When the route's cache settings are rejected; see
    /// [`try_into_service`](Self::try_into_service).
    #[track_caller]
    pub fn into_service(self) -> RouteHandlerService {
        match self.try_into_service() {
            Ok(svc) => svc,
            Err(err) => panic!("{err}"),
        }
    }

    /// Turns the route into a tower service, or reports every problem in its cache
    /// settings (see [`cache`](crate::cache)).
    pub fn try_into_service(self) -> Result<RouteHandlerService, ConfigError> {
        let cache = self.cached_get()?;
        let inner = Arc::new(Inner {
            dispatch: Dispatch::new(self.methods),
            handlers: self.handlers.map(|handler| handler.map(|h| h.bind(()))),
            path: self.path,
            limits: self.limits,
            cache,
            layered: None,
        });
        if let Some(policy) = inner.cache.as_ref().filter(|_| !self.in_table) {
            let reach: Arc<dyn Reach> = inner.clone();
            policy.cache.shared.register(Arc::downgrade(&reach));
        }
        let route = RouteHandlerService { inner };
        if self.layers.is_empty() {
            return Ok(route);
        }
        // The layers wrap the whole route; the service handed out answers through them, and
        // tells what the route is as the route itself does.
        let service = self
            .layers
            .iter()
            .fold(erase(route.clone()), |service, layer| layer(service));
        let core = &route.inner;
        Ok(RouteHandlerService {
            inner: Arc::new(Inner {
                handlers: Default::default(),
                dispatch: core.dispatch.clone(),
                path: core.path.clone(),
                limits: core.limits,
                cache: core.cache.clone(),
                layered: Some(service),
            }),
        })
    }

    /// Whether the route's `GET` responses are cached, by its settings.
    pub(crate) fn wants_cache(&self) -> bool {
        let reads = self.reads(&Method::GET);
        reads.is_some()
            && matches!(
                self.cache_config
                    .resolve(self.path_name(), reads.unwrap_or(RequestData::NONE)),
                Ok(Resolved::Cached(_))
            )
    }

    /// Checks the cache settings; `None` when the `GET` responses are not cached.
    fn cached_get(&self) -> Result<Option<Arc<Policy>>, ConfigError> {
        let get_reads = self.reads(&Method::GET);
        let reads = get_reads.unwrap_or(RequestData::NONE);
        let resolved = self.cache_config.resolve(self.path_name(), reads)?;
        for warning in self.cache_config.warnings(self.path_name(), reads) {
            tracing::warn!("{warning}");
        }
        if get_reads.is_none() {
            return Ok(None);
        }
        match resolved {
            Resolved::Uncached => Ok(None),
            Resolved::ReadsRequestData { reads } => {
                let name = self.path_name().unwrap_or("<unnamed>");
                tracing::warn!(
                    "Route {name} couldn't be rendered statically because it used {reads}; \
                     its GET responses are not cached"
                );
                Ok(None)
            }
            Resolved::Cached(settings) => {
                // A route given no cache has one of its own, which its service's
                // `revalidator` reaches; a table gives its routes the table's.
                let cache = self.cache.clone().unwrap_or_default();
                let literal = self.url.as_deref().or(self.path_name());
                Ok(Some(Arc::new(Policy::new(settings, cache, literal))))
            }
        }
    }
}

/// Route segment config, as a Next.js `route.ts` exports it. See the
/// [`cache`](crate::cache) module for what each setting does.
impl<S> RouteHandler<S> {
    /// Sets `dynamic` (Next.js `export const dynamic`).
    ///
    /// ```
    /// use route_handlers::{RouteHandler, cache::Dynamic};
    ///
    /// let route = RouteHandler::new()
    ///     .get(|| async { "static" })
    ///     .dynamic(Dynamic::ForceStatic)
    ///     .into_service();
    /// # let _ = route;
    /// ```
    pub fn dynamic(mut self, dynamic: Dynamic) -> Self {
        self.cache_config = self.cache_config.dynamic(dynamic);
        self
    }

    /// Sets `revalidate` (Next.js `export const revalidate`): seconds, a `Duration`, or
    /// [`Revalidate::Never`].
    ///
    /// ```
    /// use route_handlers::{RouteHandler, cache::Dynamic};
    ///
    /// // Contradictory settings are rejected when the route is built.
    /// let err = RouteHandler::new()
    ///     .get(|| async { "x" })
    ///     .path("/x")
    ///     .dynamic(Dynamic::ForceDynamic)
    ///     .revalidate(60)
    ///     .try_into_service()
    ///     .unwrap_err();
    /// assert!(err.to_string().starts_with(
    ///     "route /x: `dynamic = \"force-dynamic\"` contradicts `revalidate = 60`"
    /// ));
    /// ```
    pub fn revalidate(mut self, revalidate: impl Into<Revalidate>) -> Self {
        self.cache_config = self.cache_config.revalidate(revalidate);
        self
    }

    /// Adds cache tags, for [`Revalidator::revalidate_tag`](crate::cache::Revalidator::revalidate_tag).
    pub fn tags<I>(mut self, tags: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<Arc<str>>,
    {
        self.cache_config = self.cache_config.tags(tags);
        self
    }

    /// Stores `GET` responses that carry `Set-Cookie` (see
    /// [`CacheConfig::cache_set_cookie`]).
    pub fn cache_set_cookie(mut self, enabled: bool) -> Self {
        self.cache_config = self.cache_config.cache_set_cookie(enabled);
        self
    }

    /// Stores this route's entries in `cache` rather than in a cache of its own (see
    /// [`RouteHandlerService::revalidator`]). A route table gives its routes its own cache
    /// (see [`Routes::cache`](crate::Routes::cache)).
    pub fn cache(mut self, cache: &Cache) -> Self {
        self.cache = Some(cache.clone());
        self
    }

    /// The cache settings collected so far.
    pub fn cache_config(&self) -> &CacheConfig {
        &self.cache_config
    }
}

impl<S> fmt::Debug for RouteHandler<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteHandler")
            .field("path", &self.path)
            .field("methods", &self.methods)
            .finish_non_exhaustive()
    }
}

impl From<RouteHandler> for RouteHandlerService {
    fn from(route: RouteHandler) -> Self {
        route.into_service()
    }
}

/// The tower [`Service`] a [`RouteHandler`] becomes.
///
/// It is `Clone` (an `Arc` clone), `Send` and `Sync`, and accepts requests with any body of
/// [`Bytes`]. It answers every request with a response and never fails (`Error =
/// Infallible`): `405` with `Allow` for a method the route lacks, `204` with `Allow` for
/// `OPTIONS` without a handler, the `GET` handler's response without its body for `HEAD`
/// without a handler (the handler sees the method `HEAD`, as in Next.js and axum, so it may
/// skip work on the body). These rules are the route's dispatch table, the one the layers of
/// [`method`](crate::method) and [`synth`](crate::synth) use too.
///
/// When the route's `GET` responses are cached, the cache sits below the table: it answers
/// the `GET` (and a `HEAD` without a handler, as a `GET` whose answer then loses its body),
/// and fills its entries with requests it makes from the cache key, never with a client's.
///
/// `poll_ready` is always ready: the service holds no resource that could run out; each
/// request runs its handler in its own future. Backpressure belongs to layers around it
/// (tower's `ConcurrencyLimitLayer`, for instance).
///
/// The route's path parameters come from [`call_with_context`](Self::call_with_context), as
/// the route table calls it, or from a [`RouteContext`] in the request's extensions.
#[derive(Clone)]
pub struct RouteHandlerService {
    inner: Arc<Inner>,
}

struct Inner {
    handlers: [Option<Box<dyn ErasedHandler>>; 7],
    dispatch: Dispatch,
    path: Option<Arc<str>>,
    limits: Limits,
    /// The cache of the route's `GET` responses, when they are cached.
    cache: Option<Arc<Policy>>,
    /// The route inside its [layers](RouteHandler::layer), when it has some: every request
    /// goes through it.
    layered: Option<AnyService>,
}

impl Inner {
    /// Calls handler `i` inside the route's guard, for a request that came with the method
    /// at index `method` of [`METHODS`].
    #[inline]
    fn call(
        &self,
        i: usize,
        method: usize,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> BoxResponseFuture {
        let handler = self.handlers[i]
            .as_ref()
            .expect("the dispatch table calls only handlers the route has");
        if ctx.fill_tracking().is_some() {
            record_declared(handler.as_ref(), &ctx);
        }
        let guard = Guard {
            route: self.path.clone(),
            method,
            max_duration: self.limits.max_duration,
            body_limit: self.limits.body_limit,
        };
        handler.call_guarded(req, ctx, guard)
    }
}

impl RouteHandlerService {
    /// The methods that have handlers.
    pub fn methods(&self) -> MethodSet {
        self.inner.dispatch.methods()
    }

    /// The route's pattern, when set (see [`RouteHandler::path`]).
    pub fn path(&self) -> Option<&str> {
        self.inner.path.as_deref()
    }

    /// The `Allow` header value this route sends.
    pub fn allow(&self) -> &HeaderValue {
        self.inner.dispatch.allow()
    }

    /// Answers `req` with the path parameters in `ctx`.
    ///
    /// The request goes through the route's dispatch table: a method without a handler is
    /// answered `405` (or `204` for `OPTIONS`); a `HEAD` without a handler runs the `GET`
    /// handler, which sees the method `HEAD`, and loses its body. A cached `GET` (or such a
    /// `HEAD`) is answered by the cache, which fills entries with requests of its own.
    #[inline]
    pub fn call_with_context(&self, req: Request<Body>, ctx: RouteContext) -> ResponseFuture {
        if let Some(layered) = &self.inner.layered {
            return through_with(layered, req, ctx);
        }
        let canonical = ctx.path().map(|path| &**path);
        match self.begin(&req, canonical, || ctx.clone()) {
            Begun::Answered(answer) => answer,
            begun => self.finish(begun, req, ctx),
        }
    }

    /// The first step of a request, taken with the request by reference: the answers of
    /// the dispatch table and the cache's hits are made here, before the request's body is
    /// converted or its context made. `canonical` is its canonical path, when known, and
    /// `ctx` makes its context, for a fill that starts here.
    #[inline]
    pub(crate) fn begin<R>(
        &self,
        req: &Request<R>,
        canonical: Option<&str>,
        ctx: impl FnOnce() -> RouteContext,
    ) -> Begun {
        let call = match self.decide(req.method(), req.headers()) {
            Decision::Answer(action, head) => return Begun::Answered(self.answer(action, head)),
            Decision::Call(call) => call,
        };
        match &self.inner.cache {
            Some(policy) if call.handler == GET => {
                self.begin_cached(policy, call, req, canonical, ctx)
            }
            _ => Begun::Run(call),
        }
    }

    /// The cached `GET`: a hit is answered at once. Out of line, so that the uncached path
    /// stays small.
    #[inline]
    fn begin_cached<R>(
        &self,
        policy: &Arc<Policy>,
        call: Call,
        req: &Request<R>,
        canonical: Option<&str>,
        ctx: impl FnOnce() -> RouteContext,
    ) -> Begun {
        match cache::serve(policy, req, canonical, || (GetHandler(self.clone()), ctx())) {
            Served::Ready(hit) => {
                Begun::Answered(ResponseFuture::ready(hit.response(req), call.head))
            }
            Served::Miss(miss) => Begun::Miss(call, miss),
            Served::Bypass => Begun::Run(call),
        }
    }

    /// The rest of a request [`begin`](Self::begin) did not answer: the handler runs, or
    /// the request waits on the cache's fill.
    #[inline(always)]
    pub(crate) fn finish(
        &self,
        begun: Begun,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> ResponseFuture {
        match begun {
            Begun::Answered(answer) => answer,
            Begun::Run(call) => ResponseFuture::later(
                self.inner.call(call.handler, call.method, req, ctx),
                call.head,
            ),
            Begun::Miss(call, miss) => self.wait(call, miss, req, ctx),
        }
    }

    #[inline(never)]
    fn wait(
        &self,
        call: Call,
        miss: Miss,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> ResponseFuture {
        let policy = self
            .inner
            .cache
            .as_ref()
            .expect("a miss is of the route's cache");
        let future = miss.wait(policy, req, ctx, GetHandler(self.clone()));
        ResponseFuture::later(future, call.head)
    }

    /// What the dispatch table says of `req`, decided from its method alone.
    #[inline(always)]
    fn decide(&self, m: &Method, headers: &http::HeaderMap) -> Decision {
        let action = self.inner.dispatch.action(m);
        let head = Head::of(m, action, headers);
        match action {
            Action::Call(handler) => Decision::Call(Call {
                handler,
                // For logs: the method the request came with (`HEAD` when it runs the `GET`
                // handler).
                method: method::index_of(m).unwrap_or(handler),
                head,
            }),
            action => Decision::Answer(action, head),
        }
    }

    /// A `204` or `405` with `Allow`.
    #[inline(always)]
    fn answer(&self, action: Action, head: Option<Head>) -> ResponseFuture {
        ResponseFuture::ready(self.inner.dispatch.answer(action), head)
    }

    /// The cache of the route's `GET` responses, when they are cached.
    pub fn cache(&self) -> Option<&Cache> {
        self.inner.cache.as_ref().map(|policy| &policy.cache)
    }

    /// A revalidator of the cache of the route's `GET` responses, when they are cached: the
    /// one cache the route uses, whether it was given one or made its own.
    ///
    /// ```
    /// use route_handlers::{RouteHandler, cache::Dynamic};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let route = RouteHandler::new()
    ///     .get(|| async { "[]" })
    ///     .dynamic(Dynamic::ForceStatic)
    ///     .tags(["products"])
    ///     .into_service();
    /// let report = route.revalidator().unwrap().revalidate_tag("products").await.unwrap();
    /// assert_eq!(report.routes(), [std::sync::Arc::<str>::from("(route)")]);
    /// # }
    /// ```
    pub fn revalidator(&self) -> Option<crate::cache::Revalidator> {
        self.cache().map(Cache::revalidator)
    }

    /// The route's policy when its `GET` responses are cached in `cache`.
    pub(crate) fn cached_in(&self, cache: &Shared) -> Option<&Policy> {
        self.inner.cached_in(cache)
    }

    /// Whether the route has [layers](RouteHandler::layer): every request goes through
    /// them, so a table does not answer its cache hits by itself.
    pub(crate) fn is_layered(&self) -> bool {
        self.inner.layered.is_some()
    }

    /// `None` when the route's `GET` responses are not cached; otherwise the revalidate
    /// window, `None` for an entry kept until it is invalidated.
    pub(crate) fn cached_window(&self) -> Option<Option<std::time::Duration>> {
        self.inner.cache.as_ref().map(|c| c.settings.revalidate)
    }
}

impl Inner {
    fn cached_in(&self, cache: &Shared) -> Option<&Policy> {
        self.cache
            .as_deref()
            .filter(|policy| std::ptr::eq(&*policy.cache.shared, cache))
    }

    fn name(&self) -> Arc<str> {
        self.path.clone().unwrap_or_else(|| "(route)".into())
    }
}

/// A route outside any table: any path may be its own.
impl Reach for Inner {
    fn path(&self, cache: &Shared, _path: &str, out: &mut Vec<Arc<str>>) {
        if self.cached_in(cache).is_some() {
            out.push(self.name());
        }
    }

    fn tag(&self, cache: &Shared, tag: &str, out: &mut Vec<Arc<str>>) {
        if self
            .cached_in(cache)
            .is_some_and(|policy| policy.settings.tags.iter().any(|t| &**t == tag))
        {
            out.push(self.name());
        }
    }
}

/// Records what a handler's arguments declare they read, when a cache fills an entry around
/// the route (a layer outside a route table): it learns of these reads as of those of
/// `NextRequest`.
#[cold]
fn record_declared(handler: &dyn ErasedHandler, ctx: &RouteContext) {
    ctx.record(handler.reads());
}

/// How far [`RouteHandlerService::begin`] took a request.
pub(crate) enum Begun {
    /// Answered: `405`, `204`, or from the cache.
    Answered(ResponseFuture),
    /// A handler runs, with the request.
    Run(Call),
    /// The cached `GET` waits on the cache's fill, or runs alone.
    Miss(Call, Miss),
}

/// What the dispatch table says of a request.
enum Decision {
    /// Run a handler.
    Call(Call),
    /// Answer `204` or `405` without one.
    Answer(Action, Option<Head>),
}

/// A handler to run: its index, the index of the method the request came with, and how
/// the answer loses its body for a `HEAD`.
#[derive(Clone, Copy)]
pub(crate) struct Call {
    handler: usize,
    method: usize,
    head: Option<Head>,
}

/// The route's `GET` handler as the origin its cache fills entries from.
#[derive(Clone)]
struct GetHandler(RouteHandlerService);

impl Origin<Body> for GetHandler {
    type Error = Infallible;

    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Result<Response<Body>, Infallible>> + Send + 'static {
        self.0.inner.call(GET, GET, req, ctx)
    }
}

impl fmt::Debug for RouteHandlerService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouteHandlerService")
            .field("path", &self.inner.path)
            .field("methods", &self.inner.dispatch.methods())
            .finish_non_exhaustive()
    }
}

impl<B> Service<Request<B>> for RouteHandlerService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    #[inline]
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    #[inline]
    fn call(&mut self, req: Request<B>) -> Self::Future {
        self.serve(req)
    }
}

/// With the `hyper` feature, hyper serves the route by reference: no clone and no
/// `oneshot` per request, as hyper-util's `TowerToHyperService` would make.
#[cfg(feature = "hyper")]
impl<B> hyper::service::Service<Request<B>> for RouteHandlerService
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = ResponseFuture;

    #[inline]
    fn call(&self, req: Request<B>) -> Self::Future {
        self.serve(req)
    }
}

impl RouteHandlerService {
    /// Answers a request with any body, its context taken from its extensions.
    #[inline]
    fn serve<B>(&self, req: Request<B>) -> ResponseFuture
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        if let Some(layered) = &self.inner.layered {
            return through(layered, req.map(Body::new));
        }
        #[cfg(feature = "axum")]
        let req = match with_axum_captures(req) {
            Ok(req) => req,
            Err(rejection) => return ResponseFuture::ready(*rejection, None),
        };
        // Answers (`405`, `204`, hits) are made before the request is touched.
        let given = req.extensions().get::<RouteContext>();
        let canonical = given.and_then(RouteContext::path).map(|path| &**path);
        let begun = self.begin(&req, canonical, || given.cloned().unwrap_or_default());
        if let Begun::Answered(answer) = begun {
            return answer;
        }
        let mut req = req.map(Body::new);
        let ctx = req
            .extensions_mut()
            .remove::<RouteContext>()
            .unwrap_or_default();
        self.finish(begun, req, ctx)
    }
}

/// A layered route's answer, through its layers, with the params in `ctx`.
#[cold]
fn through_with(layered: &AnyService, mut req: Request<Body>, ctx: RouteContext) -> ResponseFuture {
    req.extensions_mut().insert(ctx);
    through(layered, req)
}

/// A layered route's answer, through its layers.
#[cold]
fn through(layered: &AnyService, req: Request<Body>) -> ResponseFuture {
    ResponseFuture::later(Box::pin(layered.clone().oneshot(req)), None)
}

/// With the `axum` feature, a route that axum's router matched (`route_service("/p/{id}",
/// route)`) gets the params axum captured, as a table's route gets its own; a capture that
/// is not UTF-8 is answered as axum answers it (`400`).
#[cfg(feature = "axum")]
#[inline]
fn with_axum_captures<B>(mut req: Request<B>) -> Result<Request<B>, Box<Response<Body>>> {
    if !req.extensions().is_empty() && req.extensions().get::<RouteContext>().is_none() {
        if let Some(params) = axum_captures(&mut req)? {
            req.extensions_mut().insert(RouteContext::new(params));
        }
    }
    Ok(req)
}

#[cfg(feature = "axum")]
#[cold]
fn axum_captures<B>(
    req: &mut Request<B>,
) -> Result<Option<crate::context::Params>, Box<Response<Body>>> {
    use ::axum::extract::{FromRequestParts, RawPathParams, rejection::RawPathParamsRejection};
    use futures_util::FutureExt;

    // axum's captures are read through its own extractor, which wants the request head.
    let (mut parts, ()) = Request::new(()).into_parts();
    std::mem::swap(&mut parts.extensions, req.extensions_mut());
    let raw = RawPathParams::from_request_parts(&mut parts, &()).now_or_never();
    std::mem::swap(&mut parts.extensions, req.extensions_mut());
    let raw = match raw {
        Some(Ok(raw)) => raw,
        // Not under axum's router, or a route without captures.
        Some(Err(RawPathParamsRejection::MissingPathParams(_))) | None => return Ok(None),
        Some(Err(rejection)) => {
            let res = ::axum::response::IntoResponse::into_response(rejection);
            return Err(Box::new(res.map(Body::new)));
        }
    };
    // The route's cache keys the canonical path, which has no trailing slash: a capture
    // that ends the path ends without it too (`/files/a/` is `/files/a`, as in a table).
    let trailing = req.uri().path().len() > 1 && req.uri().path().ends_with('/');
    let mut params = crate::context::Params::new();
    let count = raw.iter().count();
    for (i, (name, value)) in raw.iter().enumerate() {
        let value = match trailing && i + 1 == count {
            true => value.trim_end_matches('/'),
            false => value,
        };
        params.push(name, crate::context::ParamValue::One(value.to_owned()));
    }
    Ok(Some(params).filter(|p| !p.is_empty()))
}

pin_project_lite::pin_project! {
    /// The response future of [`RouteHandlerService`].
    pub struct ResponseFuture {
        #[pin]
        inner: method::ResponseFuture<BoxResponseFuture, Body>,
    }
}

impl ResponseFuture {
    #[inline]
    pub(crate) fn ready(res: Response<Body>, head: Option<Head>) -> Self {
        Self {
            inner: method::ResponseFuture::ready(res, head),
        }
    }

    #[inline]
    pub(crate) fn later(future: BoxResponseFuture, head: Option<Head>) -> Self {
        Self {
            inner: method::ResponseFuture::inner(future, head),
        }
    }
}

impl Future for ResponseFuture {
    type Output = Result<Response<Body>, Infallible>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

impl fmt::Debug for ResponseFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
