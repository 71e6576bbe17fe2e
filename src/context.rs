//! The route context: what a handler gets besides the request.
//!
//! In Next.js a route handler's second argument is `{ params }`. Here it is
//! [`RouteContext`], which carries the path parameters that the route table matched.
//! A single parameter (`[id]`) is one string, a catch-all (`[...slug]`) is a list, and an
//! absent optional catch-all (`[[...slug]]`) is absent.

use std::sync::Arc;

use crate::request::BodyLimit;

/// The value of one path parameter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamValue {
    /// A single segment, from `[name]`, percent-decoded.
    One(String),
    /// The segments of a catch-all, from `[...name]` or `[[...name]]`, each percent-decoded.
    Many(Vec<String>),
}

/// The path parameters of a matched route, in the order they appear in its pattern.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    entries: Vec<(Arc<str>, ParamValue)>,
}

impl Params {
    /// No parameters. Does not allocate.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// No parameters, with room for `capacity` of them.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds a parameter.
    pub fn push(&mut self, name: impl Into<Arc<str>>, value: ParamValue) {
        self.entries.push((name.into(), value));
    }

    /// The value of `name`, if the route has it and it matched.
    pub fn get(&self, name: &str) -> Option<&ParamValue> {
        self.entries
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }

    /// The parameters, in pattern order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &ParamValue)> {
        self.entries.iter().map(|(n, v)| (&**n, v))
    }

    /// The number of parameters.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// What a route handler gets besides the request: the matched path parameters, and the
/// route's request body limit.
///
/// ```
/// use route_handlers::context::{ParamValue, Params, RouteContext};
///
/// let mut params = Params::new();
/// params.push("id", ParamValue::One("42".into()));
/// let ctx = RouteContext::new(params);
/// assert_eq!(ctx.param("id"), Some("42"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct RouteContext {
    params: Params,
    body_limit: BodyLimit,
}

impl RouteContext {
    /// A context with these parameters and the default body limit.
    pub fn new(params: Params) -> Self {
        Self {
            params,
            body_limit: BodyLimit::DEFAULT,
        }
    }

    /// The context with another request body limit. A route sets the one it was built with
    /// ([`RouteHandler::body_limit`](crate::RouteHandler::body_limit)) before it calls a
    /// handler.
    pub fn with_body_limit(mut self, limit: BodyLimit) -> Self {
        self.body_limit = limit;
        self
    }

    /// The largest request body the handler's body readers accept.
    pub fn body_limit(&self) -> BodyLimit {
        self.body_limit
    }

    /// The path parameters.
    pub fn params_raw(&self) -> &Params {
        &self.params
    }

    /// The value of a single parameter (`[name]`), or `None` when absent or a catch-all.
    pub fn param(&self, name: &str) -> Option<&str> {
        match self.params.get(name)? {
            ParamValue::One(v) => Some(v),
            ParamValue::Many(_) => None,
        }
    }

    /// The segments of a catch-all parameter (`[...name]` or `[[...name]]`), or `None` when
    /// absent or a single parameter.
    pub fn catch_all(&self, name: &str) -> Option<&[String]> {
        match self.params.get(name)? {
            ParamValue::Many(v) => Some(v),
            ParamValue::One(_) => None,
        }
    }
}
