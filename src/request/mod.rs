//! Reading the request: [`NextRequest`], and thin extractors for the same data.
//!
//! The primary style is [`NextRequest`], the Rust form of Next.js's `NextRequest`: take it
//! as the handler's argument (optionally followed by the [`RouteContext`]) and read what the
//! handler needs from it: [`cookies`](NextRequest::cookies),
//! [`pathname`](NextRequest::pathname), [`search_params`](NextRequest::search_params), a
//! typed [`query`](NextRequest::query), [`headers`](NextRequest::headers), and the body
//! with [`json`](NextRequest::json), [`form`](NextRequest::form),
//! [`text`](NextRequest::text), [`bytes`](NextRequest::bytes) or chunk by chunk with
//! [`chunk`](NextRequest::chunk). Its body readers enforce the route's
//! [`BodyLimit`] and answer a bad body with a [`Rejection`] (`400`, `413` or `415` with a
//! message), which converts with `?` into an [`HttpError`](crate::response::HttpError).
//!
//! The same data is also available as extractors, for handlers that prefer to declare their
//! inputs in their signature: [`Json`], [`Form`], [`Query`] and [`Cookies`]. They declare
//! what request data they read ([`FromRequest::READS`]), so a cache can tell when the route
//! is built whether a handler depends on the request. `NextRequest` declares nothing and
//! records what its accessors read at run time instead, in the request's
//! [`ReadTracker`].
//!
//! # Example
//!
//! ```
//! use http::{Request, StatusCode};
//! use route_handlers::{
//!     Body, RouteContext, RouteHandler,
//!     request::NextRequest,
//!     response::{self, HttpError},
//! };
//! use tower::ServiceExt;
//!
//! #[derive(serde::Deserialize)]
//! struct NewTodo {
//!     title: String,
//! }
//!
//! async fn create(mut req: NextRequest, _ctx: RouteContext) -> Result<http::Response<Body>, HttpError> {
//!     let user = req.cookies().value("user").ok_or_else(response::unauthorized)?.to_owned();
//!     let todo: NewTodo = req.json().await?;
//!     Ok(response::json(serde_json::json!({ "by": user, "title": todo.title })))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let svc = RouteHandler::new().post(create).into_service();
//!
//! let req = Request::post("/api/todos")
//!     .header("cookie", "user=ada")
//!     .header("content-type", "application/json")
//!     .body(Body::from(r#"{"title":"write docs"}"#))
//!     .unwrap();
//! let res = svc.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::OK);
//!
//! let req = Request::post("/api/todos")
//!     .header("cookie", "user=ada")
//!     .header("content-type", "application/json")
//!     .body(Body::from("{not json"))
//!     .unwrap();
//! let res = svc.clone().oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::BAD_REQUEST);
//!
//! let req = Request::post("/api/todos").body(Body::empty()).unwrap();
//! let res = svc.oneshot(req).await.unwrap();
//! assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

mod body;
mod cookies;
mod rejection;
mod search;

use std::{convert::Infallible, fmt, future::Future, sync::OnceLock};

use bytes::Bytes;
use http::{
    Extensions, HeaderMap, HeaderValue, Method, Request, Response, Uri, Version,
    header::{AsHeaderName, CONTENT_TYPE},
    request::Parts,
};
use serde::de::DeserializeOwned;

#[doc(inline)]
pub use self::{
    body::{BodyLimit, BodyStream},
    cookies::Cookies,
    rejection::Rejection,
    search::SearchParams,
};
use crate::{
    body::Body,
    context::RouteContext,
    extract::{FromRequest, FromRequestParts, ReadTracker, RequestData},
    handler::{Handler, RequestFirst},
    response::{IntoResponse, Json},
};

/// When a request arrived, for [`RouteHandler::max_duration`](crate::RouteHandler::max_duration).
///
/// A server that accepts requests itself can insert one into the request's extensions as
/// soon as the request head is read, so that the time spent before the route is called
/// (queued behind a concurrency limit, in other middleware) counts too. Without it, the
/// time is measured from the moment the route's service is called.
///
/// ```
/// use route_handlers::request::ReceivedAt;
///
/// let mut req = http::Request::new(());
/// req.extensions_mut().insert(ReceivedAt(tokio::time::Instant::now()));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceivedAt(pub tokio::time::Instant);

/// A request as a Next.js handler sees it: the head, lazily parsed cookies, the URL's parts,
/// and body readers under the route's size limit.
///
/// Take it as a handler argument (alone, or as `(NextRequest, RouteContext)`, the Next.js
/// order), or wrap a request with [`NextRequest::new`].
///
/// **Request-time reads are recorded.** [`headers`](Self::headers),
/// [`header`](Self::header), [`cookies`](Self::cookies), [`uri`](Self::uri),
/// [`search_params`](Self::search_params), [`query`](Self::query) and the body readers
/// record what they read in the request's [`ReadTracker`] when a cache put one there, so a
/// response built from them is not stored under a key shared by every client.
/// [`pathname`](Self::pathname) and [`method`](Self::method) are not request-time data.
///
/// **The body** is read once: by [`bytes`](Self::bytes), [`text`](Self::text),
/// [`json`](Self::json), [`form`](Self::form), or piece by piece with
/// [`chunk`](Self::chunk) (after which `bytes` and the others read the rest). Reading it
/// again is a bug, answered `500`.
///
/// ```
/// use route_handlers::{Body, request::NextRequest};
///
/// let req = http::Request::get("/shop/items?sort=price&tag=a&tag=b")
///     .header("cookie", "cart=3")
///     .body(Body::empty())
///     .unwrap();
/// let req = NextRequest::new(req);
/// assert_eq!(req.pathname(), "/shop/items");
/// assert_eq!(req.search_params().get("sort").as_deref(), Some("price"));
/// assert_eq!(req.search_params().get_all("tag").count(), 2);
/// assert_eq!(req.cookies().value("cart"), Some("3"));
/// ```
pub struct NextRequest {
    head: Parts,
    body: Option<Body>,
    read: usize,
    limit: BodyLimit,
    cookies: OnceLock<Cookies>,
}

impl NextRequest {
    /// Wraps a request. The body limit is the one in a [`RouteContext`] request extension
    /// (as a route gives to a tower service handler), or [`BodyLimit::DEFAULT`].
    pub fn new(req: Request<Body>) -> Self {
        let (head, body) = req.into_parts();
        let limit = head
            .extensions
            .get::<RouteContext>()
            .map_or(BodyLimit::DEFAULT, RouteContext::body_limit);
        Self {
            head,
            body: Some(body),
            read: 0,
            limit,
            cookies: OnceLock::new(),
        }
    }

    /// Uses `limit` for the body readers instead of the route's.
    pub fn with_body_limit(mut self, limit: impl Into<BodyLimit>) -> Self {
        self.limit = limit.into();
        self
    }

    /// The body limit the readers enforce.
    pub fn body_limit(&self) -> BodyLimit {
        self.limit
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The HTTP version.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The request target, query included (records a query read).
    pub fn uri(&self) -> &Uri {
        self.record(RequestData::QUERY);
        &self.head.uri
    }

    /// The path of the URL, as sent (percent-encoded), like `nextUrl.pathname`. Not a
    /// request-time read: the path is what a cache keys on.
    pub fn pathname(&self) -> &str {
        self.head.uri.path()
    }

    /// The query string as a multi-map, like `nextUrl.searchParams`.
    pub fn search_params(&self) -> SearchParams<'_> {
        self.record(RequestData::QUERY);
        SearchParams::new(self.head.uri.query().unwrap_or(""))
    }

    /// The query string deserialized into `T` with `serde_urlencoded`.
    ///
    /// # Errors
    ///
    /// `400` when the query does not deserialize into `T`.
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Page { page: u32, per: Option<u32> }
    ///
    /// let req = NextRequest::new(http::Request::get("/?page=2").body(Body::empty()).unwrap());
    /// let page: Page = req.query().unwrap();
    /// assert_eq!((page.page, page.per), (2, None));
    ///
    /// let req = NextRequest::new(http::Request::get("/?page=two").body(Body::empty()).unwrap());
    /// let err = req.query::<Page>().unwrap_err();
    /// assert_eq!(err.to_string(), "malformed query string: invalid digit found in string");
    /// ```
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, Rejection> {
        self.record(RequestData::QUERY);
        parse_query(&self.head.uri)
    }

    /// The request headers (records a header and cookie read).
    pub fn headers(&self) -> &HeaderMap {
        self.record(RequestData::HEADERS | RequestData::COOKIES);
        &self.head.headers
    }

    /// One request header (records a header read).
    pub fn header(&self, name: impl AsHeaderName) -> Option<&HeaderValue> {
        self.record(RequestData::HEADERS);
        self.head.headers.get(name)
    }

    /// The request's cookies, parsed on first use (records a cookie read).
    pub fn cookies(&self) -> &Cookies {
        self.record(RequestData::COOKIES);
        self.cookies
            .get_or_init(|| Cookies::from_headers(&self.head.headers))
    }

    /// The request extensions.
    pub fn extensions(&self) -> &Extensions {
        &self.head.extensions
    }

    /// The request extensions, mutably.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.head.extensions
    }

    /// Whether the body has been read to its end (or taken).
    pub fn body_used(&self) -> bool {
        self.body.is_none()
    }

    /// The rest of the body as bytes.
    ///
    /// # Errors
    ///
    /// `413` over the limit, `400` when the body fails to arrive.
    pub async fn bytes(&mut self) -> Result<Bytes, Rejection> {
        let limit = self.limit;
        let mut body = self.take_body()?;
        body::check_announced(&self.head.headers, &body, limit)?;
        body::read_to_end(&mut body, &mut self.read, limit).await
    }

    /// The rest of the body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// `400` when it is not UTF-8, and as [`bytes`](Self::bytes).
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let req = http::Request::post("/").body(Body::from(&b"caf\xe9"[..])).unwrap();
    /// let err = NextRequest::new(req).text().await.unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// assert_eq!(
    ///     err.to_string(),
    ///     "request body is not valid UTF-8: incomplete utf-8 byte sequence from index 3"
    /// );
    /// # }
    /// ```
    pub async fn text(&mut self) -> Result<String, Rejection> {
        let bytes = self.bytes().await?;
        match String::from_utf8(Vec::from(bytes)) {
            Ok(text) => Ok(text),
            Err(err) => Err(Rejection::utf8(err.utf8_error())),
        }
    }

    /// The body deserialized from JSON. The request must have `content-type:
    /// application/json` (or `application/<anything>+json`).
    ///
    /// # Errors
    ///
    /// `415` for another content type, `400` for malformed JSON or JSON of another shape,
    /// and as [`bytes`](Self::bytes).
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Login { user: String }
    ///
    /// let req = http::Request::post("/")
    ///     .header("content-type", "application/json")
    ///     .body(Body::from(r#"{"user": 7}"#))
    ///     .unwrap();
    /// let err = NextRequest::new(req).json::<Login>().await.unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the JSON request body does not match the expected shape: \
    ///      invalid type: integer `7`, expected a string at line 1 column 10"
    /// );
    /// # }
    /// ```
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, Rejection> {
        check_content_type(&self.head.headers, ContentType::Json)?;
        let bytes = self.bytes().await?;
        serde_json::from_slice(&bytes).map_err(Rejection::json)
    }

    /// The body deserialized from `application/x-www-form-urlencoded`, which the request's
    /// content type must be (`multipart/form-data` is not read).
    ///
    /// # Errors
    ///
    /// `415` for another content type, `400` for a malformed form, and as
    /// [`bytes`](Self::bytes).
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// #[derive(serde::Deserialize)]
    /// struct Search { q: String }
    ///
    /// let req = http::Request::post("/")
    ///     .header("content-type", "application/x-www-form-urlencoded")
    ///     .body(Body::from("q=rust+tower"))
    ///     .unwrap();
    /// let form: Search = NextRequest::new(req).form().await.unwrap();
    /// assert_eq!(form.q, "rust tower");
    /// # }
    /// ```
    pub async fn form<T: DeserializeOwned>(&mut self) -> Result<T, Rejection> {
        check_content_type(&self.head.headers, ContentType::Form)?;
        let bytes = self.bytes().await?;
        serde_urlencoded::from_bytes(&bytes).map_err(Rejection::form)
    }

    /// The next chunk of the body as it arrives, or `None` at its end; the bytes count
    /// against the limit.
    ///
    /// # Errors
    ///
    /// `413` once the bytes read pass the limit, `400` when the body fails to arrive.
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let chunks = futures_util::stream::iter(["ab", "cd"].map(Ok::<_, std::io::Error>));
    /// let req = http::Request::post("/").body(Body::from_stream(chunks)).unwrap();
    /// let mut req = NextRequest::new(req);
    /// let mut total = 0;
    /// while let Some(chunk) = req.chunk().await.unwrap() {
    ///     total += chunk.len();
    /// }
    /// assert_eq!(total, 4);
    /// # }
    /// ```
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, Rejection> {
        let limit = self.limit;
        let Some(body) = self.body.as_mut() else {
            return Err(Rejection::already_read());
        };
        if self.read == 0 {
            ReadTracker::record_in(&self.head.extensions, RequestData::BODY);
            body::check_announced(&self.head.headers, body, limit)?;
        }
        let chunk = body::next_chunk(body, &mut self.read, limit).await?;
        if chunk.is_none() {
            self.body = None;
        }
        Ok(chunk)
    }

    /// The rest of the body as a [`Stream`](futures_util::Stream) of chunks under the body
    /// limit, as [`chunk`](Self::chunk) reads them.
    ///
    /// # Errors
    ///
    /// An empty stream that yields the rejection when the body has already been read.
    pub fn into_body_stream(mut self) -> BodyStream {
        let body = self.take_body();
        let (body, done) = match body {
            Ok(body) => (body, false),
            Err(_) => (Body::empty(), true),
        };
        BodyStream {
            body,
            read: self.read,
            limit: self.limit,
            done,
        }
    }

    /// The request as it came, body included (unless read), without a limit.
    pub fn into_inner(self) -> Request<Body> {
        Request::from_parts(self.head, self.body.unwrap_or_default())
    }

    fn take_body(&mut self) -> Result<Body, Rejection> {
        ReadTracker::record_in(&self.head.extensions, RequestData::BODY);
        self.body.take().ok_or_else(Rejection::already_read)
    }

    #[inline]
    fn record(&self, data: RequestData) {
        ReadTracker::record_in(&self.head.extensions, data);
    }
}

impl fmt::Debug for NextRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NextRequest")
            .field("method", &self.head.method)
            .field("uri", &self.head.uri)
            .field("version", &self.head.version)
            .field("limit", &self.limit)
            .field("body_used", &self.body_used())
            .finish_non_exhaustive()
    }
}

impl From<Request<Body>> for NextRequest {
    fn from(req: Request<Body>) -> Self {
        Self::new(req)
    }
}

impl FromRequest for NextRequest {
    type Rejection = Infallible;
    /// Reads are recorded at run time, in the request's [`ReadTracker`].
    const READS: RequestData = RequestData::NONE;

    async fn from_request(req: Request<Body>, ctx: &RouteContext) -> Result<Self, Infallible> {
        Ok(Self::new(req).with_body_limit(ctx.body_limit()))
    }
}

/// `async fn(NextRequest, RouteContext)`, the Next.js order.
impl<F, Fut, R> Handler<(RequestFirst, NextRequest, RouteContext)> for F
where
    F: Fn(NextRequest, RouteContext) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = R> + Send + 'static,
    R: IntoResponse,
{
    const READS: RequestData = RequestData::NONE;

    fn call(
        &self,
        req: Request<Body>,
        ctx: RouteContext,
    ) -> impl Future<Output = Response<Body>> + Send + 'static {
        let req = NextRequest::new(req).with_body_limit(ctx.body_limit());
        let fut = self(req, ctx);
        async move { fut.await.into_response() }
    }
}

#[derive(Clone, Copy)]
enum ContentType {
    Json,
    Form,
}

impl ContentType {
    fn expected(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Form => "application/x-www-form-urlencoded",
        }
    }

    /// Whether `essence` (a media type without parameters, lowercase) is this one.
    fn matches(self, essence: &str) -> bool {
        match self {
            Self::Json => {
                essence == "application/json"
                    || essence
                        .strip_prefix("application/")
                        .is_some_and(|sub| sub.ends_with("+json"))
            }
            Self::Form => essence == "application/x-www-form-urlencoded",
        }
    }
}

fn check_content_type(headers: &HeaderMap, expected: ContentType) -> Result<(), Rejection> {
    let value = headers.get(CONTENT_TYPE);
    let essence = value.and_then(|v| v.to_str().ok()).map(|v| {
        v.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    });
    match essence {
        Some(essence) if expected.matches(&essence) => Ok(()),
        _ => Err(Rejection::content_type(expected.expected(), value)),
    }
}

fn parse_query<T: DeserializeOwned>(uri: &Uri) -> Result<T, Rejection> {
    serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(Rejection::query)
}

/// The request body as JSON: the extractor form of [`NextRequest::json`], with the same
/// content-type check, limit and rejections. The type is the response [`Json`], so one type
/// reads and writes JSON.
///
/// ```
/// use route_handlers::{RouteHandler, response::Json};
///
/// #[derive(serde::Deserialize, serde::Serialize)]
/// struct Item { name: String }
///
/// async fn echo(Json(item): Json<Item>) -> Json<Item> {
///     Json(item)
/// }
/// let route = RouteHandler::new().post(echo);
/// # let _ = route;
/// ```
impl<T> FromRequest for Json<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Rejection;
    const READS: RequestData = RequestData::BODY;

    async fn from_request(req: Request<Body>, ctx: &RouteContext) -> Result<Self, Rejection> {
        let mut req = NextRequest::new(req).with_body_limit(ctx.body_limit());
        req.json().await.map(Json)
    }
}

/// The request body as an `application/x-www-form-urlencoded` form: the extractor form of
/// [`NextRequest::form`].
///
/// ```
/// use route_handlers::{RouteHandler, request::Form};
///
/// #[derive(serde::Deserialize)]
/// struct Signup { email: String }
///
/// async fn signup(Form(signup): Form<Signup>) -> String {
///     signup.email
/// }
/// let route = RouteHandler::new().post(signup);
/// # let _ = route;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Form<T>(pub T);

impl<T> FromRequest for Form<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Rejection;
    const READS: RequestData = RequestData::BODY;

    async fn from_request(req: Request<Body>, ctx: &RouteContext) -> Result<Self, Rejection> {
        let mut req = NextRequest::new(req).with_body_limit(ctx.body_limit());
        req.form().await.map(Form)
    }
}

/// The query string deserialized into `T`: the extractor form of [`NextRequest::query`].
///
/// ```
/// use route_handlers::{RouteHandler, request::Query};
///
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32 }
///
/// async fn list(Query(p): Query<Page>) -> String {
///     p.page.to_string()
/// }
/// let route = RouteHandler::new().get(list);
/// # let _ = route;
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<T>(pub T);

impl<T> FromRequestParts for Query<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Rejection;
    const READS: RequestData = RequestData::QUERY;

    fn from_request_parts(parts: &mut Parts, _: &RouteContext) -> Result<Self, Rejection> {
        parse_query(&parts.uri).map(Query)
    }
}

/// The request's cookies as an argument: the extractor form of [`NextRequest::cookies`].
impl FromRequestParts for Cookies {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::COOKIES;

    fn from_request_parts(parts: &mut Parts, _: &RouteContext) -> Result<Self, Infallible> {
        Ok(Cookies::from_headers(&parts.headers))
    }
}
