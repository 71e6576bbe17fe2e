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
//! records what its accessors read at run time instead, through the
//! [`RouteContext`] ([`RouteContext::record`]).
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
mod search;

use std::{convert::Infallible, fmt, sync::OnceLock};

use bytes::Bytes;
use http::{
    Extensions, HeaderMap, HeaderValue, Method, Request, Uri, Version,
    header::{AsHeaderName, CONTENT_TYPE},
    request::Parts,
};
use serde::de::DeserializeOwned;

#[doc(inline)]
pub use self::{body::BodyStream, cookies::Cookies, search::SearchParams};
use crate::{
    body::Body,
    context::{ReadTracker, RouteContext},
    extract::{FromRequest, FromRequestParts, RequestData},
    response::Json,
};
#[doc(inline)]
pub use crate::{
    body::BodyLimit,
    response::rejection::{Rejection, RejectionInfo, RejectionKind},
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
/// **Request-time reads are recorded.** Every accessor that reads request data
/// ([`headers`](Self::headers), [`header`](Self::header), [`cookies`](Self::cookies),
/// [`uri`](Self::uri), [`search_params`](Self::search_params), [`query`](Self::query),
/// [`version`](Self::version), [`extensions`](Self::extensions), the body readers and
/// [`into_inner`](Self::into_inner)) records it in the [`RouteContext`] (see
/// [`RouteContext::record`]). When a cache fills a shared entry, the request holds nothing of
/// any client (the path, no query, no headers, no extensions, an empty body), and a recorded
/// read keeps the response out of the cache. [`pathname`](Self::pathname) and
/// [`method`](Self::method) are not request-time data.
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
    /// Set while the handler fills a cache entry: every read of request data is recorded.
    tracker: Option<ReadTracker>,
}

impl NextRequest {
    /// Wraps a request. The body limit (and the read recording of a cache fill) is the one
    /// of a [`RouteContext`] request extension, as a route gives to a tower service handler,
    /// or [`BodyLimit::DEFAULT`].
    pub fn new(req: Request<Body>) -> Self {
        let ctx = req.extensions().get::<RouteContext>().cloned();
        Self::with_context(req, ctx.as_ref().unwrap_or(&RouteContext::default()))
    }

    /// Wraps a request a route gives its handler with `ctx`.
    pub(crate) fn with_context(req: Request<Body>, ctx: &RouteContext) -> Self {
        let (head, body) = req.into_parts();
        Self {
            head,
            body: Some(body),
            read: 0,
            limit: ctx.body_limit(),
            cookies: OnceLock::new(),
            tracker: ctx.tracker(),
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

    /// The HTTP version (records a version read).
    pub fn version(&self) -> Version {
        self.record(RequestData::VERSION);
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
    /// `400` when the query does not deserialize into `T`; the message names the field
    /// ([`Rejection::path`]).
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
    /// assert_eq!(err.to_string(), "invalid query string: page: invalid digit found in string");
    /// assert_eq!(err.path(), Some("page"));
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
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// let req = http::Request::get("/").header("x-api-key", "k1").body(Body::empty()).unwrap();
    /// let req = NextRequest::new(req);
    /// assert_eq!(req.header("x-api-key").unwrap(), "k1");
    /// assert_eq!(req.headers().len(), 1);
    /// ```
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

    /// The request extensions (records an extensions read).
    pub fn extensions(&self) -> &Extensions {
        self.record(RequestData::EXTENSIONS);
        &self.head.extensions
    }

    /// The request extensions, mutably (records an extensions read).
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        self.record(RequestData::EXTENSIONS);
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
    /// `415` for another content type, `400` for malformed JSON or JSON of another shape
    /// (the message names the value that does not fit, [`Rejection::path`]), and as
    /// [`bytes`](Self::bytes).
    ///
    /// ```
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Login { user: String, roles: Vec<String> }
    ///
    /// let req = http::Request::post("/")
    ///     .header("content-type", "application/json")
    ///     .body(Body::from(r#"{"user": "ada", "roles": ["admin", 7]}"#))
    ///     .unwrap();
    /// let err = NextRequest::new(req).json::<Login>().await.unwrap_err();
    /// assert_eq!(err.status(), 400);
    /// assert_eq!(
    ///     err.to_string(),
    ///     "the JSON request body does not match the expected shape: \
    ///      roles[1]: invalid type: integer `7`, expected a string at line 1 column 36"
    /// );
    /// assert_eq!(err.path(), Some("roles[1]"));
    /// # }
    /// ```
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, Rejection> {
        check_content_type(&self.head.headers, ContentType::Json)?;
        let bytes = self.bytes().await?;
        parse_json(&bytes)
    }

    /// The body deserialized from `application/x-www-form-urlencoded`, which the request's
    /// content type must be (`multipart/form-data` is not read).
    ///
    /// # Errors
    ///
    /// `415` for another content type, `400` for a form that does not deserialize into `T`
    /// (the message names the field, [`Rejection::path`]), and as [`bytes`](Self::bytes).
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
        parse_urlencoded(&bytes).map_err(Rejection::form)
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
        self.record(RequestData::BODY);
        let Some(body) = self.body.as_mut() else {
            return Err(Rejection::already_read());
        };
        if self.read == 0 {
            body::check_announced(&self.head.headers, body, limit)?;
        }
        let chunk = body::next_chunk(body, &mut self.read, limit).await?;
        if chunk.is_none() {
            self.body = None;
        }
        Ok(chunk)
    }

    /// The rest of the body as a [`Stream`](futures_util::Stream) of chunks under the body
    /// limit, as [`chunk`](Self::chunk) reads them: an item is `Err` once the bytes pass
    /// the limit or the body fails to arrive, and the stream ends after it. A body that was
    /// already read gives an empty stream.
    ///
    /// ```
    /// use futures_util::TryStreamExt;
    /// use route_handlers::{Body, request::NextRequest};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let chunks = futures_util::stream::iter(["ab", "cd", "ef"].map(Ok::<_, std::io::Error>));
    /// let req = http::Request::post("/").body(Body::from_stream(chunks)).unwrap();
    /// let mut stream = NextRequest::new(req).with_body_limit(5).into_body_stream();
    /// assert_eq!(stream.try_next().await.unwrap().unwrap(), "ab");
    /// assert_eq!(stream.try_next().await.unwrap().unwrap(), "cd");
    /// let err = stream.try_next().await.unwrap_err();
    /// assert_eq!(err.status(), 413);
    /// # }
    /// ```
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

    /// The request as it came, body included (unless read), without a limit (records a
    /// read of everything).
    pub fn into_inner(self) -> Request<Body> {
        self.record(RequestData::ALL);
        Request::from_parts(self.head, self.body.unwrap_or_default())
    }

    fn take_body(&mut self) -> Result<Body, Rejection> {
        self.record(RequestData::BODY);
        self.body.take().ok_or_else(Rejection::already_read)
    }

    #[inline]
    fn record(&self, data: RequestData) {
        if let Some(tracker) = &self.tracker {
            tracker.record(data);
        }
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

impl<S: Sync> FromRequest<S> for NextRequest {
    type Rejection = Infallible;
    /// Reads are recorded at run time, through the [`RouteContext`].
    const READS: RequestData = RequestData::NONE;

    async fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(Self::with_context(req, ctx))
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
    parse_urlencoded(uri.query().unwrap_or("").as_bytes()).map_err(Rejection::query)
}

/// `application/x-www-form-urlencoded` into `T` (as `serde_urlencoded::from_bytes`), with
/// the path of the value that did not fit.
fn parse_urlencoded<T: DeserializeOwned>(
    input: &[u8],
) -> Result<T, serde_path_to_error::Error<serde_urlencoded::de::Error>> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(input));
    serde_path_to_error::deserialize(de)
}

/// JSON into `T` (as `serde_json::from_slice`: nothing but whitespace may follow the
/// value), with the path of the value that did not fit.
fn parse_json<T: DeserializeOwned>(input: &[u8]) -> Result<T, Rejection> {
    let mut de = serde_json::Deserializer::from_slice(input);
    let value = serde_path_to_error::deserialize(&mut de).map_err(Rejection::json)?;
    de.end().map_err(Rejection::json_syntax)?;
    Ok(value)
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
/// let route: RouteHandler = RouteHandler::new().post(echo);
/// # let _ = route;
/// ```
impl<T, S: Sync> FromRequest<S> for Json<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Rejection;
    const READS: RequestData = RequestData::BODY;

    async fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
        _: &S,
    ) -> Result<Self, Rejection> {
        let mut req = NextRequest::with_context(req, ctx);
        req.json().await.map(Json)
    }
}

/// The request body as an `application/x-www-form-urlencoded` form: the extractor form of
/// [`NextRequest::form`].
///
/// ```
/// use http::{Request, StatusCode};
/// use route_handlers::{Body, RouteHandler, request::Form};
/// use tower::ServiceExt;
///
/// #[derive(serde::Deserialize)]
/// struct Signup { email: String }
///
/// async fn signup(Form(signup): Form<Signup>) -> String {
///     signup.email
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let svc = RouteHandler::new().post(signup).into_service();
/// let req = Request::post("/")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .body(Body::from("email=ada%40example.com"))
///     .unwrap();
/// let res = svc.oneshot(req).await.unwrap();
/// assert_eq!(res.status(), StatusCode::OK);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Form<T>(pub T);

impl<T, S: Sync> FromRequest<S> for Form<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Rejection;
    const READS: RequestData = RequestData::BODY;

    async fn from_request(
        req: Request<Body>,
        ctx: &RouteContext,
        _: &S,
    ) -> Result<Self, Rejection> {
        let mut req = NextRequest::with_context(req, ctx);
        req.form().await.map(Form)
    }
}

/// The query string deserialized into `T`: the extractor form of [`NextRequest::query`].
///
/// ```
/// use http::{Request, StatusCode};
/// use route_handlers::{Body, RouteHandler, extract::RequestData, request::Query};
/// use tower::ServiceExt;
///
/// #[derive(serde::Deserialize)]
/// struct Page { page: u32 }
///
/// async fn list(Query(p): Query<Page>) -> String {
///     p.page.to_string()
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let route: RouteHandler = RouteHandler::new().get(list);
/// assert_eq!(route.reads(&http::Method::GET), Some(RequestData::QUERY));
/// let req = Request::get("/?page=x").body(Body::empty()).unwrap();
/// let res = route.into_service().oneshot(req).await.unwrap();
/// assert_eq!(res.status(), StatusCode::BAD_REQUEST);
/// # }
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Query<T>(pub T);

impl<T, S: Sync> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned + Send,
{
    type Rejection = Rejection;
    const READS: RequestData = RequestData::QUERY;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        _: &S,
    ) -> Result<Self, Rejection> {
        parse_query(&parts.uri).map(Query)
    }
}

/// The request's cookies as an argument: the extractor form of [`NextRequest::cookies`].
impl<S: Sync> FromRequestParts<S> for Cookies {
    type Rejection = Infallible;
    const READS: RequestData = RequestData::COOKIES;

    async fn from_request_parts(
        parts: &mut Parts,
        _: &RouteContext,
        _: &S,
    ) -> Result<Self, Infallible> {
        Ok(Cookies::from_headers(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::StatusCode;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;
    use crate::response::IntoResponse;
    use crate::{RouteHandler, response::HttpError};
    use http::Response;

    fn post(content_type: Option<&str>, body: impl Into<Body>) -> Request<Body> {
        let mut req = Request::post("/api/echo?x=1").body(body.into()).unwrap();
        if let Some(ct) = content_type {
            req.headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        req
    }

    fn chunked(chunks: &[&'static str]) -> Body {
        let chunks: Vec<Result<Bytes, Infallible>> = chunks
            .iter()
            .map(|c| Ok(Bytes::from_static(c.as_bytes())))
            .collect();
        Body::from_stream(futures_util::stream::iter(chunks))
    }

    #[derive(Debug, serde::Deserialize, serde::Serialize, PartialEq)]
    struct Item {
        name: String,
        qty: u32,
    }

    async fn status_and_text(res: Response<Body>) -> (StatusCode, String) {
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    /// The bad-body cases, each with its status and message, through a route.
    #[tokio::test]
    async fn bad_bodies_through_a_route() {
        let svc = RouteHandler::new()
            .post(|mut req: NextRequest| async move {
                let item: Item = req.json().await?;
                Ok::<_, HttpError>(crate::response::Json(item))
            })
            .put(|mut req: NextRequest| async move { req.text().await })
            .patch(|Form(item): Form<Item>| async move { item.name })
            .body_limit(32)
            .into_service();
        let big = "x".repeat(40);
        let cases: Vec<(Request<Body>, StatusCode, String)> =
            vec![
            (
                post(Some("application/json"), r#"{"name":"a","qty":2}"#),
                StatusCode::OK,
                r#"{"name":"a","qty":2}"#.into(),
            ),
            (
                post(Some("application/json"), big.clone()),
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is larger than the limit of 32 bytes".into(),
            ),
            (
                // No Content-Length and no size hint: counted while streaming.
                post(
                    Some("application/json"),
                    chunked(&["{\"name\":\"", "xxxxxxxxxxxxxxxxxxxx", "xxxxxxxxxxxxxxxxxxxx\"}"]),
                ),
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body is larger than the limit of 32 bytes".into(),
            ),
            (
                post(Some("application/json"), r#"{"name":"a","#),
                StatusCode::BAD_REQUEST,
                "malformed JSON in the request body: EOF while parsing a value at line 1 column 12"
                    .into(),
            ),
            (
                post(Some("application/json"), r#"{"name":"a","qty":-1}"#),
                StatusCode::BAD_REQUEST,
                "the JSON request body does not match the expected shape: qty: invalid value: \
                 integer `-1`, expected u32 at line 1 column 20"
                    .into(),
            ),
            (
                post(Some("text/plain"), "{}"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request body with `content-type: application/json`, got `text/plain`"
                    .into(),
            ),
            (
                post(None, "{}"),
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request body with `content-type: application/json`, got none".into(),
            ),
            (
                {
                    let mut req = post(None, &b"ok \xff\xfe"[..]);
                    *req.method_mut() = Method::PUT;
                    req
                },
                StatusCode::BAD_REQUEST,
                "request body is not valid UTF-8: invalid utf-8 sequence of 1 bytes from index 3"
                    .into(),
            ),
            (
                {
                    let mut req = post(Some("application/x-www-form-urlencoded"), "name=a&qty=x");
                    *req.method_mut() = Method::PATCH;
                    req
                },
                StatusCode::BAD_REQUEST,
                "invalid form in the request body: qty: invalid digit found in string".into(),
            ),
            (
                {
                    let mut req = post(Some("multipart/form-data; boundary=x"), "--x--");
                    *req.method_mut() = Method::PATCH;
                    req
                },
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "expected a request body with `content-type: application/x-www-form-urlencoded`, \
                 got `multipart/form-data; boundary=x`"
                    .into(),
            ),
        ];
        for (req, status, message) in cases {
            let what = format!("{} {:?}", req.method(), req.headers().get(CONTENT_TYPE));
            let res = svc.clone().oneshot(req).await.unwrap();
            let ct = res.headers().get(CONTENT_TYPE).cloned();
            assert_eq!(status_and_text(res).await, (status, message), "{what}");
            if status != StatusCode::OK {
                assert_eq!(ct.unwrap(), "text/plain; charset=utf-8");
            }
        }
    }

    /// Each reader names the value that did not fit, as `serde_path_to_error` writes it.
    #[test]
    fn parse_errors_name_the_field() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Line {
            sku: String,
            price: f64,
        }
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Order {
            id: u32,
            items: Vec<Line>,
            note: Option<String>,
        }
        let json = |body: &str| {
            let err = parse_json::<Order>(body.as_bytes()).unwrap_err();
            (err.kind(), err.path().map(str::to_owned), err.to_string())
        };
        let shape = "the JSON request body does not match the expected shape: ";
        let cases = [
            (
                r#"{"id":1,"items":[{"sku":"a","price":1},{"sku":"b","price":2},{"sku":"c","price":"x"}]}"#,
                RejectionKind::InvalidJson,
                Some("items[2].price"),
                format!(
                    "{shape}items[2].price: invalid type: string \"x\", expected f64 at line 1 column 83"
                ),
            ),
            (
                r#"{"id":1,"items":[{"sku":"a"}]}"#,
                RejectionKind::InvalidJson,
                Some("items[0]"),
                format!("{shape}items[0]: missing field `price` at line 1 column 28"),
            ),
            (
                r#"{"items":[]}"#,
                RejectionKind::InvalidJson,
                None,
                format!("{shape}missing field `id` at line 1 column 12"),
            ),
            (
                r#"{"id":1,"items":[],"note":false}"#,
                RejectionKind::InvalidJson,
                Some("note"),
                format!(
                    "{shape}note: invalid type: boolean `false`, expected a string at line 1 column 31"
                ),
            ),
            (
                r#"{"id":1,"items":[]} x"#,
                RejectionKind::MalformedJson,
                None,
                "malformed JSON in the request body: trailing characters at line 1 column 21"
                    .to_owned(),
            ),
            (
                r#"{"id":1,"items":[{"sku":"#,
                RejectionKind::MalformedJson,
                None,
                "malformed JSON in the request body: EOF while parsing a value at line 1 column 24"
                    .to_owned(),
            ),
        ];
        for (body, kind, path, message) in cases {
            assert_eq!(
                json(body),
                (kind, path.map(str::to_owned), message),
                "{body}"
            );
        }

        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Filter {
            page: u32,
            #[serde(default)]
            open: bool,
        }
        let urlencoded = |input: &str| {
            let err = parse_urlencoded::<Filter>(input.as_bytes()).unwrap_err();
            (
                Rejection::query(err).to_string(),
                Rejection::form(parse_urlencoded::<Filter>(input.as_bytes()).unwrap_err())
                    .to_string(),
            )
        };
        assert_eq!(
            urlencoded("page=1&open=maybe"),
            (
                "invalid query string: open: provided string was not `true` or `false`".into(),
                "invalid form in the request body: open: provided string was not `true` or \
                 `false`"
                    .into()
            )
        );
        assert_eq!(
            urlencoded("open=true").0,
            "invalid query string: missing field `page`"
        );
        let uri: Uri = "/?page=%34%32".parse().unwrap();
        assert_eq!(parse_query::<Filter>(&uri).unwrap().page, 42);
    }

    #[tokio::test]
    async fn json_content_types() {
        for (ct, ok) in [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/merge-patch+json", true),
            ("application/jsonx", false),
            ("text/json", false),
            ("application/+json", true),
        ] {
            let mut req = NextRequest::new(post(Some(ct), "{}"));
            let got = req.json::<serde_json::Value>().await;
            assert_eq!(got.is_ok(), ok, "{ct}");
        }
    }

    #[tokio::test]
    async fn content_length_over_the_limit_is_refused_before_reading() {
        // The body would fail if it were polled: the refusal must come from the header.
        let failing = Body::from_stream(futures_util::stream::once(async {
            Err::<Bytes, _>(std::io::Error::other("must not be read"))
        }));
        let mut req = post(Some("application/json"), failing);
        req.headers_mut().insert(
            http::header::CONTENT_LENGTH,
            HeaderValue::from_static("100"),
        );
        let err = NextRequest::new(req)
            .with_body_limit(99)
            .json::<Item>()
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(err.is_too_large());
    }

    #[tokio::test]
    async fn a_body_that_fails_to_arrive_is_400() {
        let failing = Body::from_stream(futures_util::stream::iter([
            Ok(Bytes::from_static(b"{")),
            Err(std::io::Error::other("connection reset")),
        ]));
        let err = NextRequest::new(post(None, failing))
            .bytes()
            .await
            .unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            err.to_string(),
            "failed to read the request body: connection reset"
        );
    }

    #[tokio::test]
    async fn chunks_then_the_rest_and_reading_twice() {
        let mut req = NextRequest::new(post(None, chunked(&["ab", "", "cd", "ef"])));
        assert_eq!(req.chunk().await.unwrap().unwrap(), "ab");
        assert_eq!(req.chunk().await.unwrap().unwrap(), "cd");
        assert!(!req.body_used());
        assert_eq!(req.bytes().await.unwrap(), "ef");
        assert!(req.body_used());
        let err = req.bytes().await.unwrap_err();
        assert_eq!(err.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(err.to_string(), "the request body has already been read");
        let res = err.into_response();
        assert_eq!(
            status_and_text(res).await,
            (StatusCode::INTERNAL_SERVER_ERROR, String::new())
        );

        // Chunks count against the limit.
        let mut req = NextRequest::new(post(None, chunked(&["abc", "def"]))).with_body_limit(5);
        assert_eq!(req.chunk().await.unwrap().unwrap(), "abc");
        assert!(req.chunk().await.unwrap_err().is_too_large());
    }

    #[tokio::test]
    async fn body_stream() {
        use futures_util::TryStreamExt;
        let req = NextRequest::new(post(None, chunked(&["ab", "cd"])));
        let chunks: Vec<Bytes> = req.into_body_stream().try_collect().await.unwrap();
        assert_eq!(chunks, ["ab", "cd"]);

        let req = NextRequest::new(post(None, chunked(&["ab", "cd"]))).with_body_limit(3);
        let mut stream = req.into_body_stream();
        assert_eq!(stream.try_next().await.unwrap().unwrap(), "ab");
        assert!(stream.try_next().await.unwrap_err().is_too_large());
        assert!(stream.try_next().await.unwrap().is_none());
    }

    #[tokio::test]
    async fn one_chunk_is_not_copied() {
        let bytes = Bytes::from(vec![7u8; 1000]);
        let ptr = bytes.as_ptr();
        let mut req = NextRequest::new(post(None, bytes));
        assert_eq!(req.bytes().await.unwrap().as_ptr(), ptr);
    }

    #[test]
    fn accessors_record_what_they_read() {
        type Read = fn(&NextRequest);
        let cases: [(&str, Read, RequestData); 11] = [
            (
                "pathname",
                |r| {
                    let _ = r.pathname();
                },
                RequestData::NONE,
            ),
            (
                "method",
                |r| {
                    let _ = r.method();
                },
                RequestData::NONE,
            ),
            (
                "uri",
                |r| {
                    let _ = r.uri();
                },
                RequestData::QUERY,
            ),
            (
                "search_params",
                |r| {
                    let _ = r.search_params();
                },
                RequestData::QUERY,
            ),
            (
                "query",
                |r| drop(r.query::<Vec<(String, String)>>()),
                RequestData::QUERY,
            ),
            (
                "headers",
                |r| {
                    let _ = r.headers();
                },
                RequestData::HEADERS.union(RequestData::COOKIES),
            ),
            (
                "header",
                |r| {
                    let _ = r.header("x-a");
                },
                RequestData::HEADERS,
            ),
            (
                "cookies",
                |r| {
                    let _ = r.cookies();
                },
                RequestData::COOKIES,
            ),
            (
                "extensions",
                |r| {
                    let _ = r.extensions();
                },
                RequestData::EXTENSIONS,
            ),
            (
                "version",
                |r| {
                    let _ = r.version();
                },
                RequestData::VERSION,
            ),
            (
                "body_used",
                |r| {
                    let _ = r.body_used();
                },
                RequestData::NONE,
            ),
        ];
        for (what, read, want) in cases {
            let (ctx, tracker) = RouteContext::default().tracking();
            read(&NextRequest::with_context(post(None, ""), &ctx));
            assert_eq!(tracker.reads(), want, "{what}");
        }
        let (ctx, tracker) = RouteContext::default().tracking();
        drop(NextRequest::with_context(post(None, ""), &ctx).into_inner());
        assert_eq!(tracker.reads(), RequestData::ALL, "into_inner");
    }

    #[tokio::test]
    async fn body_reads_are_recorded() {
        let (ctx, tracker) = RouteContext::default().tracking();
        NextRequest::with_context(post(None, "x"), &ctx)
            .bytes()
            .await
            .unwrap();
        assert_eq!(tracker.reads(), RequestData::BODY);
        // A service handler gets the context as a request extension.
        let (ctx, tracker) = RouteContext::default().tracking();
        let mut req = post(None, "x");
        req.extensions_mut().insert(ctx);
        NextRequest::new(req).into_body_stream();
        assert_eq!(tracker.reads(), RequestData::BODY);
    }

    #[test]
    fn extractors_declare_what_they_read() {
        let route: RouteHandler = RouteHandler::new()
            .get(|_: Query<Vec<(String, String)>>| async { "" })
            .post(|_: crate::response::Json<Item>| async { "" })
            .put(|_: Cookies, _: Form<Item>| async { "" })
            .patch(|_: NextRequest| async { "" })
            .delete(|_: NextRequest, _: RouteContext| async { "" });
        assert_eq!(route.reads(&Method::GET), Some(RequestData::QUERY));
        assert_eq!(route.reads(&Method::POST), Some(RequestData::BODY));
        assert_eq!(
            route.reads(&Method::PUT),
            Some(RequestData::COOKIES | RequestData::BODY)
        );
        assert_eq!(route.reads(&Method::PATCH), Some(RequestData::NONE));
        assert_eq!(route.reads(&Method::DELETE), Some(RequestData::NONE));
    }

    #[tokio::test]
    async fn extractors_through_a_route() {
        #[derive(serde::Deserialize)]
        struct Page {
            page: u32,
        }
        let svc = RouteHandler::new()
            .get(|Query(p): Query<Page>, cookies: Cookies| async move {
                format!("page {} theme {:?}", p.page, cookies.value("theme"))
            })
            .post(|req: NextRequest, ctx: RouteContext| async move {
                format!("{} {:?}", req.pathname(), ctx.body_limit())
            })
            .into_service();
        let req = Request::get("/?page=3")
            .header("cookie", "theme=dark")
            .body(Body::empty())
            .unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(
            status_and_text(res).await,
            (StatusCode::OK, "page 3 theme Some(\"dark\")".into())
        );
        let req = Request::get("/?page=x").body(Body::empty()).unwrap();
        let res = svc.clone().oneshot(req).await.unwrap();
        assert_eq!(
            status_and_text(res).await,
            (
                StatusCode::BAD_REQUEST,
                "invalid query string: page: invalid digit found in string".into()
            )
        );
        let res = svc.oneshot(post(None, "")).await.unwrap();
        assert_eq!(
            status_and_text(res).await,
            (StatusCode::OK, "/api/echo BodyLimit(2097152 bytes)".into())
        );
    }
}
