//! Typed path parameters: a serde `Deserializer` over [`Params`], behind
//! [`RouteContext::params`] and the [`Path`] extractor.
//!
//! The data model is the one of Next.js' `params` object: a map from each name to a string
//! (`[id]`) or a list of strings (`[...slug]`, `[[...slug]]`); an absent optional catch-all is
//! absent, so it deserializes into an `Option` field as `None`.
//!
//! - A struct or map reads the parameters by name.
//! - A tuple reads them in pattern order; a single value (`u32`, `String`, ...) reads the one
//!   parameter of a route that has exactly one.
//! - `Vec<T>` reads the segments of a route whose one parameter is a catch-all, else the
//!   parameters in order.
//! - Numbers, `bool` and `char` are parsed from the segment text; unit enum variants are
//!   matched by name.
//!
//! A value that does not parse is a client error: the rejection answers `400 Bad Request`
//! with a message naming the parameter, its value and the expected type. Asking for a
//! number of parameters the route does not have is a server bug and answers `500`.

use std::fmt;

use http::{StatusCode, request::Parts};
use serde::de::{
    self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
    value::BorrowedStrDeserializer,
};

use crate::{
    body::Body,
    context::{ParamValue, Params, RouteContext},
    extract::{FromRequestParts, RequestData},
    response::IntoResponse,
    response::rejection::{RejectionInfo, RejectionKind, rejection_response},
};

impl RouteContext {
    /// The path parameters, deserialized into `T`.
    ///
    /// ```
    /// use route_handlers::context::{ParamValue, Params, RouteContext};
    ///
    /// #[derive(Debug, serde::Deserialize)]
    /// struct Doc {
    ///     id: u32,
    ///     slug: Option<Vec<String>>,
    /// }
    ///
    /// let mut params = Params::new();
    /// params.push("id", ParamValue::One("7".into()));
    /// let ctx = RouteContext::new(params);
    /// let doc: Doc = ctx.params().unwrap();
    /// assert_eq!((doc.id, doc.slug), (7, None));
    ///
    /// let err = RouteContext::new({
    ///     let mut p = Params::new();
    ///     p.push("id", ParamValue::One("seven".into()));
    ///     p
    /// })
    /// .params::<Doc>()
    /// .unwrap_err();
    /// assert_eq!(err.to_string(), "cannot parse path parameter \"id\" with value \"seven\" as u32");
    /// ```
    pub fn params<'de, T: de::Deserialize<'de>>(&'de self) -> Result<T, ParamsError> {
        T::deserialize(ParamsDeserializer {
            params: self.params_raw(),
        })
    }
}

/// The typed path parameters of the matched route, as an extractor (axum's `Path`).
///
/// ```
/// use route_handlers::{RouteHandler, Routes, routes::Path};
///
/// async fn user(Path(id): Path<u64>) -> String {
///     format!("user {id}")
/// }
///
/// let table = Routes::new()
///     .route("/users/[id]", RouteHandler::new().get(user))
///     .build();
/// # let _ = table;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Path<T>(pub T);

impl<T, S: Sync> FromRequestParts<S> for Path<T>
where
    T: de::DeserializeOwned + Send,
{
    type Rejection = ParamsError;
    const READS: RequestData = RequestData::NONE;

    async fn from_request_parts(
        _parts: &mut Parts,
        ctx: &RouteContext,
        _: &S,
    ) -> Result<Self, ParamsError> {
        ctx.params().map(Path)
    }
}

/// Why the path parameters did not deserialize. As a response it is `400 Bad Request`
/// (`500` for [`is_server_error`](Self::is_server_error)) with the message as plain text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamsError {
    kind: ErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum ErrorKind {
    Parse {
        name: String,
        value: String,
        expected: &'static str,
    },
    Shape {
        name: String,
        expected: &'static str,
    },
    WrongCount {
        expected: usize,
        got: usize,
    },
    Message {
        name: Option<String>,
        message: String,
    },
}

impl ParamsError {
    /// Whether the fault is the server's: the type asks for a number of parameters the
    /// route does not have. Every other error comes from the URL.
    pub fn is_server_error(&self) -> bool {
        matches!(self.kind, ErrorKind::WrongCount { .. })
    }

    /// The status of the response: `500` for a server error, else `400`.
    pub fn status(&self) -> StatusCode {
        if self.is_server_error() {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::BAD_REQUEST
        }
    }

    fn with_name(mut self, param: &str) -> Self {
        if let ErrorKind::Message {
            name: name @ None, ..
        } = &mut self.kind
        {
            *name = Some(param.to_owned());
        }
        self
    }
}

impl fmt::Display for ParamsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::Parse {
                name,
                value,
                expected,
            } => write!(
                f,
                "cannot parse path parameter \"{name}\" with value \"{value}\" as {expected}"
            ),
            ErrorKind::Shape { name, expected } => {
                write!(f, "path parameter \"{name}\" is {expected}")
            }
            ErrorKind::WrongCount { expected, got } => write!(
                f,
                "wrong number of path parameters: the type expects {expected}, the route has {got}"
            ),
            ErrorKind::Message {
                name: Some(name),
                message,
            } => write!(f, "path parameter \"{name}\": {message}"),
            ErrorKind::Message {
                name: None,
                message,
            } => write!(f, "invalid path parameters: {message}"),
        }
    }
}

impl std::error::Error for ParamsError {}

impl de::Error for ParamsError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Self {
            kind: ErrorKind::Message {
                name: None,
                message: msg.to_string(),
            },
        }
    }
}

impl IntoResponse for ParamsError {
    /// Plain text, with a [`RejectionInfo`] extension (kind
    /// [`InvalidPathParams`](RejectionKind::InvalidPathParams), or
    /// [`PathParamsMismatch`](RejectionKind::PathParamsMismatch) for a server error) that a
    /// [rejection hook](crate::Routes::rejection) or an outer layer can reshape.
    fn into_response(self) -> http::Response<Body> {
        let kind = match self.is_server_error() {
            true => RejectionKind::PathParamsMismatch,
            false => RejectionKind::InvalidPathParams,
        };
        let name = match &self.kind {
            ErrorKind::Parse { name, .. } | ErrorKind::Shape { name, .. } => Some(name.clone()),
            ErrorKind::Message { name, .. } => name.clone(),
            ErrorKind::WrongCount { .. } => None,
        };
        let info = RejectionInfo::new(kind, self.to_string());
        let info = match name {
            Some(name) => info.with_path(name),
            None => info,
        };
        rejection_response(info)
    }
}

fn wrong_count(expected: usize, got: usize) -> ParamsError {
    ParamsError {
        kind: ErrorKind::WrongCount { expected, got },
    }
}

/// Deserializes all the parameters of a route.
struct ParamsDeserializer<'de> {
    params: &'de Params,
}

impl<'de> ParamsDeserializer<'de> {
    /// The only parameter, for a type that reads one value.
    fn single(&self) -> Result<ValueDeserializer<'de>, ParamsError> {
        let mut iter = self.params.iter();
        match (iter.next(), self.params.len()) {
            (Some((name, value)), 1) => Ok(ValueDeserializer::new(name, value)),
            _ => Err(wrong_count(1, self.params.len())),
        }
    }
}

macro_rules! forward_to_single {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
                let value = self.single()?;
                let name = value.name;
                value.$method(visitor).map_err(|e| e.with_name(name))
            }
        )*
    };
}

impl<'de> Deserializer<'de> for ParamsDeserializer<'de> {
    type Error = ParamsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_map(visitor)
    }

    forward_to_single! {
        deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char deserialize_str
        deserialize_string deserialize_bytes deserialize_byte_buf
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        if self.params.is_empty() {
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        let mut iter = self.params.iter();
        if let (Some((name, ParamValue::Many(_))), None) = (iter.next(), iter.next()) {
            // The one parameter is a catch-all: the sequence is its segments.
            return self
                .single()?
                .deserialize_seq(visitor)
                .map_err(|e| e.with_name(name));
        }
        visitor.visit_seq(ParamSeq {
            iter: self.params.iter(),
        })
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        if len != self.params.len() {
            return Err(wrong_count(len, self.params.len()));
        }
        visitor.visit_seq(ParamSeq {
            iter: self.params.iter(),
        })
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_map(ParamMap {
            iter: self.params.iter(),
            value: None,
        })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        let value = self.single()?;
        let param = value.name;
        value
            .deserialize_enum(name, variants, visitor)
            .map_err(|e| e.with_name(param))
    }

    forward_to_single! { deserialize_identifier }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }
}

/// The parameters in order, for tuples and sequences.
struct ParamSeq<I> {
    iter: I,
}

impl<'de, I> SeqAccess<'de> for ParamSeq<I>
where
    I: Iterator<Item = (&'de str, &'de ParamValue)>,
{
    type Error = ParamsError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParamsError> {
        match self.iter.next() {
            Some((name, value)) => seed
                .deserialize(ValueDeserializer::new(name, value))
                .map(Some)
                .map_err(|e| e.with_name(name)),
            None => Ok(None),
        }
    }
}

/// The parameters by name, for structs and maps.
struct ParamMap<'de, I> {
    iter: I,
    value: Option<(&'de str, &'de ParamValue)>,
}

impl<'de, I> MapAccess<'de> for ParamMap<'de, I>
where
    I: Iterator<Item = (&'de str, &'de ParamValue)>,
{
    type Error = ParamsError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, ParamsError> {
        match self.iter.next() {
            Some((name, value)) => {
                self.value = Some((name, value));
                seed.deserialize(BorrowedStrDeserializer::new(name))
                    .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, ParamsError> {
        let (name, value) = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was asked for before its key"))?;
        seed.deserialize(ValueDeserializer::new(name, value))
            .map_err(|e| e.with_name(name))
    }

    fn size_hint(&self) -> Option<usize> {
        self.iter.size_hint().1
    }
}

/// Deserializes the value of one parameter: one segment, or the segments of a catch-all.
struct ValueDeserializer<'de> {
    name: &'de str,
    value: Value<'de>,
}

#[derive(Clone, Copy)]
enum Value<'de> {
    One(&'de str),
    Many(&'de [String]),
}

impl<'de> ValueDeserializer<'de> {
    fn new(name: &'de str, value: &'de ParamValue) -> Self {
        let value = match value {
            ParamValue::One(s) => Value::One(s),
            ParamValue::Many(v) => Value::Many(v),
        };
        Self { name, value }
    }

    /// The segment of a single parameter.
    fn one(&self) -> Result<&'de str, ParamsError> {
        match self.value {
            Value::One(s) => Ok(s),
            Value::Many(_) => Err(ParamsError {
                kind: ErrorKind::Shape {
                    name: self.name.to_owned(),
                    expected: "a list of segments, not one value",
                },
            }),
        }
    }

    /// The segments of a catch-all.
    fn many(&self) -> Result<&'de [String], ParamsError> {
        match self.value {
            Value::Many(v) => Ok(v),
            Value::One(_) => Err(ParamsError {
                kind: ErrorKind::Shape {
                    name: self.name.to_owned(),
                    expected: "one segment, not a list",
                },
            }),
        }
    }

    fn parse<T: std::str::FromStr>(&self, expected: &'static str) -> Result<T, ParamsError> {
        let s = self.one()?;
        s.parse().map_err(|_| ParamsError {
            kind: ErrorKind::Parse {
                name: self.name.to_owned(),
                value: s.to_owned(),
                expected,
            },
        })
    }

    fn segments(&self, v: &'de [String]) -> SegmentSeq<'de> {
        SegmentSeq {
            name: self.name,
            iter: v.iter(),
        }
    }
}

macro_rules! parse_value {
    ($($method:ident => $visit:ident($ty:ty);)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
                visitor.$visit(self.parse::<$ty>(stringify!($ty))?)
            }
        )*
    };
}

impl<'de> Deserializer<'de> for ValueDeserializer<'de> {
    type Error = ParamsError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        match self.value {
            Value::One(s) => visitor.visit_borrowed_str(s),
            Value::Many(v) => visitor.visit_seq(self.segments(v)),
        }
    }

    parse_value! {
        deserialize_bool => visit_bool(bool);
        deserialize_i8 => visit_i8(i8);
        deserialize_i16 => visit_i16(i16);
        deserialize_i32 => visit_i32(i32);
        deserialize_i64 => visit_i64(i64);
        deserialize_i128 => visit_i128(i128);
        deserialize_u8 => visit_u8(u8);
        deserialize_u16 => visit_u16(u16);
        deserialize_u32 => visit_u32(u32);
        deserialize_u64 => visit_u64(u64);
        deserialize_u128 => visit_u128(u128);
        deserialize_f32 => visit_f32(f32);
        deserialize_f64 => visit_f64(f64);
        deserialize_char => visit_char(char);
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_borrowed_str(self.one()?)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_borrowed_bytes(self.one()?.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_some(self)
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        let v = self.many()?;
        visitor.visit_seq(self.segments(v))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        let v = self.many()?;
        if v.len() != len {
            return Err(de::Error::custom(format_args!(
                "expected {len} segments, got {}",
                v.len()
            )));
        }
        visitor.visit_seq(self.segments(v))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ParamsError> {
        BorrowedStrDeserializer::<ParamsError>::new(self.one()?)
            .deserialize_enum(name, variants, visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ParamsError> {
        visitor.visit_unit()
    }
}

/// The segments of a catch-all, each deserialized as one value.
struct SegmentSeq<'de> {
    name: &'de str,
    iter: std::slice::Iter<'de, String>,
}

impl<'de> SeqAccess<'de> for SegmentSeq<'de> {
    type Error = ParamsError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, ParamsError> {
        match self.iter.next() {
            Some(segment) => seed
                .deserialize(ValueDeserializer {
                    name: self.name,
                    value: Value::One(segment),
                })
                .map(Some),
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.iter.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::HashMap;

    fn ctx(entries: &[(&str, Option<&[&str]>, &str)]) -> RouteContext {
        let mut params = Params::new();
        for (name, many, one) in entries {
            let value = match many {
                Some(v) => ParamValue::Many(v.iter().map(|s| s.to_string()).collect()),
                None => ParamValue::One(one.to_string()),
            };
            params.push(*name, value);
        }
        RouteContext::new(params)
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Doc<'a> {
        id: u32,
        #[serde(borrow)]
        lang: &'a str,
        slug: Option<Vec<String>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        Post,
        Page,
    }

    #[test]
    fn structs_tuples_and_single_values() {
        let c = ctx(&[
            ("id", None, "7"),
            ("lang", None, "en"),
            ("slug", Some(&["a", "b"]), ""),
        ]);
        assert_eq!(
            c.params::<Doc<'_>>().unwrap(),
            Doc {
                id: 7,
                lang: "en",
                slug: Some(vec!["a".into(), "b".into()])
            }
        );
        let c = ctx(&[("id", None, "7"), ("lang", None, "en")]);
        assert_eq!(c.params::<Doc<'_>>().unwrap().slug, None);
        assert_eq!(c.params::<(u8, String)>().unwrap(), (7, "en".to_string()));
        let map = c.params::<HashMap<String, String>>().unwrap();
        assert_eq!(map["lang"], "en");

        let c = ctx(&[("id", None, "-3")]);
        assert_eq!(c.params::<i64>().unwrap(), -3);
        assert_eq!(c.params::<Option<i64>>().unwrap(), Some(-3));
        assert_eq!(ctx(&[]).params::<Option<i64>>().unwrap(), None);
        assert_eq!(
            ctx(&[("k", None, "post")]).params::<Kind>().unwrap(),
            Kind::Post
        );
        assert_eq!(ctx(&[("k", None, "é")]).params::<char>().unwrap(), 'é');
        assert!(ctx(&[("b", None, "true")]).params::<bool>().unwrap());

        let c = ctx(&[("slug", Some(&["x", "1"]), "")]);
        assert_eq!(c.params::<Vec<String>>().unwrap(), ["x", "1"]);
        assert_eq!(
            c.params::<(String, u8)>().unwrap_err().to_string(),
            "wrong number of path parameters: the type expects 2, the route has 1"
        );
        assert_eq!(c.params::<((String, u8),)>().unwrap(), (("x".into(), 1),));
    }

    #[test]
    fn errors_name_the_parameter() {
        let cases: Vec<(ParamsError, &str, StatusCode)> = vec![
            (
                ctx(&[("id", None, "x7")]).params::<u32>().unwrap_err(),
                "cannot parse path parameter \"id\" with value \"x7\" as u32",
                StatusCode::BAD_REQUEST,
            ),
            (
                ctx(&[("id", None, "7"), ("lang", None, "en")])
                    .params::<u32>()
                    .unwrap_err(),
                "wrong number of path parameters: the type expects 1, the route has 2",
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            (
                ctx(&[("lang", None, "en")])
                    .params::<Doc<'_>>()
                    .unwrap_err(),
                "invalid path parameters: missing field `id`",
                StatusCode::BAD_REQUEST,
            ),
            (
                ctx(&[("k", None, "video")]).params::<Kind>().unwrap_err(),
                "path parameter \"k\": unknown variant `video`, expected `post` or `page`",
                StatusCode::BAD_REQUEST,
            ),
            (
                ctx(&[("slug", Some(&["a", "b"]), "")])
                    .params::<String>()
                    .unwrap_err(),
                "path parameter \"slug\" is a list of segments, not one value",
                StatusCode::BAD_REQUEST,
            ),
            (
                ctx(&[("id", None, "7"), ("tags", Some(&["1", "x"]), "")])
                    .params::<(u8, Vec<u8>)>()
                    .unwrap_err(),
                "cannot parse path parameter \"tags\" with value \"x\" as u8",
                StatusCode::BAD_REQUEST,
            ),
            (
                ctx(&[("id", None, "7"), ("n", None, "1")])
                    .params::<(u8, Vec<u8>)>()
                    .unwrap_err(),
                "path parameter \"n\" is one segment, not a list",
                StatusCode::BAD_REQUEST,
            ),
        ];
        for (err, text, status) in cases {
            assert_eq!((err.to_string().as_str(), err.status()), (text, status));
        }
    }

    #[tokio::test]
    async fn rejection_is_a_plain_text_response() {
        use http_body_util::BodyExt;
        let err = ctx(&[("id", None, "abc")]).params::<u16>().unwrap_err();
        let res = err.into_response();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            res.headers()[http::header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let body = res.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(
            body,
            "cannot parse path parameter \"id\" with value \"abc\" as u16"
        );
    }
}
