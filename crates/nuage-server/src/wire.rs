//! The AWS JSON 1.1 protocol and its CBOR twin: bodies in, bodies out, and
//! errors as `{"__type": ..., "message": ...}` with HTTP 400 (500 for ours).
//!
//! Requests are deserialised into typed structs. JSON goes straight through
//! serde_json; a CBOR body is first turned into the same JSON shape (byte
//! strings to base64, tag-1 timestamps to epoch seconds), which keeps one
//! definition of every request. Responses serialise [`Blob`] and
//! [`Timestamp`] per format: base64 and epoch seconds in JSON, byte strings
//! and tag 1 with epoch milliseconds in CBOR (what the Java SDK expects).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Value, json};

pub use crate::error::ErrorCode;

pub const JSON: &str = "application/x-amz-json-1.1";
pub const CBOR: &str = "application/x-amz-cbor-1.1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Cbor,
}

impl Format {
    pub fn from_content_type(content_type: &str) -> Self {
        if content_type.contains("cbor") {
            Format::Cbor
        } else {
            Format::Json
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => JSON,
            Format::Cbor => CBOR,
        }
    }
}

/// An error as AWS reports it: its type (which fixes the HTTP status, see
/// [`ErrorCode`]) and message.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalFailure, message)
    }

    /// `{"__type": ..., "message": ...}`; SerializationException spells it
    /// `Message`, and an error without a text has neither, as in AWS.
    pub fn into_response(self, format: Format) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("__type".into(), Value::from(self.code.as_str()));
        if !self.message.is_empty() {
            let key = match self.code {
                ErrorCode::Serialization => "Message",
                _ => "message",
            };
            body.insert(key.into(), Value::from(self.message));
        }
        let mut response = reply(format, &body);
        *response.status_mut() = self.code.status();
        if let Ok(value) = HeaderValue::from_str(self.code.as_str()) {
            response.headers_mut().insert("x-amzn-ErrorType", value);
        }
        response
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// Parses a request body of either format into `T`.
pub fn parse<T: DeserializeOwned>(format: Format, body: &Bytes) -> Result<T, ApiError> {
    let body: &[u8] = if body.is_empty() { b"{}" } else { body };
    let serialization = |e: String| ApiError::new(ErrorCode::Serialization, e);
    match format {
        Format::Json => serde_json::from_slice(body).map_err(|e| {
            // A body that is not a JSON object: AWS names no reason.
            let object = body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
            if e.is_syntax() || e.is_eof() || !object {
                serialization(String::new())
            } else {
                serialization(aws_type_error(&e.to_string()))
            }
        }),
        Format::Cbor => {
            let value: ciborium::Value = if body == b"{}" {
                ciborium::Value::Map(Vec::new())
            } else {
                ciborium::from_reader(body)
                    .map_err(|e| serialization(format!("malformed CBOR: {e}")))?
            };
            serde_json::from_value(cbor_to_json(value, false))
                .map_err(|e| serialization(aws_type_error(&e.to_string())))
        }
    }
}

/// The class Coral's JSON reader gives every number.
const NUMBER: &str = "com.amazon.coral.value.json.numbers.TruncatingBigNumber";

/// A member of the wrong JSON type, in the words of AWS's JSON protocol
/// (its Java deserialiser's), from serde's `invalid type: X, expected Y`.
/// Other texts (a Blob's, already AWS's) pass through without serde's
/// position.
fn aws_type_error(serde: &str) -> String {
    let text = match serde.rfind(" at line ") {
        Some(at) => &serde[..at],
        None => serde,
    };
    // serde reads a list into a struct by position; AWS never does.
    if text.starts_with("invalid length ") && text.contains(", expected struct ") {
        return "Start of list found where not expected".into();
    }
    let Some((found, expected)) = text
        .strip_prefix("invalid type: ")
        .and_then(|t| t.split_once(", expected "))
    else {
        return text.to_string();
    };
    // What AWS's shape calls the member that was expected.
    let expected = match expected {
        "a string" | "a borrowed string" => "String",
        "a boolean" => "Boolean",
        "base64 text" => "Blob",
        "milliseconds since epoch" => "Timestamp",
        // Kinesis and Firehose requests have no Long members: every whole
        // number (read as i64 here, to see values past i32) is an Integer.
        "i8" | "i16" | "i32" | "u8" | "u16" | "u32" | "i64" | "u64" | "usize" | "isize" => {
            "Integer"
        }
        "f32" | "f64" => "Double",
        "a sequence" => "List",
        "a map" => "Map",
        _ => "Structure",
    };
    // Coral's phrase for the target type (its grammar kept).
    let target = match expected {
        "Blob" => "a Blob".to_string(),
        "Timestamp" => "milliseconds since epoch".to_string(),
        _ => format!("an {expected}"),
    };
    let class = |name: &str| format!("class {name} can not be converted to {target}");
    let list = "Start of list found where not expected".to_string();
    let map = "Start of structure or map found where not expected.".to_string();
    let number = found.starts_with("integer") || found.starts_with("floating point");
    match expected {
        "List" if found == "map" => map,
        "List" => "Expected list or null".into(),
        "Map" if found == "sequence" => list,
        "Map" => "Expected map or null".into(),
        "Structure" if found == "sequence" => list,
        "Structure" => "Expected null".into(),
        _ if found == "sequence" => list,
        _ if found == "map" => map,
        "Boolean" if number => class(NUMBER),
        "Boolean" => match found.strip_prefix("string ") {
            Some(value) => format!(
                "'{}' can not be converted to an Boolean",
                value.trim_matches('"').to_uppercase()
            ),
            None => text.to_string(),
        },
        _ if found.starts_with("boolean") => class("java.lang.Boolean"),
        _ if found.starts_with("string ") => class("java.lang.String"),
        _ if number => class(NUMBER),
        _ => text.to_string(),
    }
}

/// Why `text` is not a Blob, as AWS says it.
fn not_base64(text: &str) -> String {
    let head = format!("'{text}' can not be converted to a Blob: ");
    if !text.len().is_multiple_of(4) {
        return format!(
            "{head}Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        );
    }
    let bad = text.char_indices().find(|&(i, c)| {
        !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '=')
            || (c == '=' && text[i + 1..].chars().any(|n| n != '='))
    });
    match bad {
        Some((_, c)) => format!("{head}Invalid Base64 character: '{c}'"),
        // AWS's own spelling.
        None => format!("{head}Invalid last non-pad Base64 character dectected"),
    }
}

/// A CBOR value as the JSON the AWS JSON protocol would have carried.
fn cbor_to_json(value: ciborium::Value, timestamp: bool) -> serde_json::Value {
    use ciborium::Value as C;
    use serde_json::Value as J;
    match value {
        C::Integer(i) => {
            let i = i128::from(i);
            if timestamp && i.abs() > 100_000_000_000 {
                // Epoch milliseconds (the Java SDK's tag-1 timestamps).
                serde_json::Number::from_f64(i as f64 / 1000.0).map_or(J::Null, J::Number)
            } else if let Ok(u) = u64::try_from(i) {
                J::from(u)
            } else {
                i64::try_from(i).map_or(J::Null, J::from)
            }
        }
        C::Float(f) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        C::Bytes(b) => J::String(STANDARD.encode(b)),
        C::Text(t) => J::String(t),
        C::Bool(b) => J::Bool(b),
        C::Null => J::Null,
        C::Tag(tag, inner) => cbor_to_json(*inner, tag == 1),
        C::Array(items) => J::Array(items.into_iter().map(|v| cbor_to_json(v, false)).collect()),
        C::Map(entries) => J::Object(
            entries
                .into_iter()
                .filter_map(|(k, v)| match k {
                    C::Text(k) => Some((k, cbor_to_json(v, false))),
                    _ => None,
                })
                .collect(),
        ),
        _ => J::Null,
    }
}

/// A 200 response with `value` in the request's format.
/// Serialises `value` in `format` (a response body, or an event's payload).
pub fn encode<T: Serialize>(format: Format, value: &T) -> Result<Vec<u8>, String> {
    match format {
        Format::Json => serde_json::to_vec(value).map_err(|e| e.to_string()),
        Format::Cbor => {
            let mut out = Vec::new();
            ciborium::into_writer(value, &mut out)
                .map(|_| out)
                .map_err(|e| e.to_string())
        }
    }
}

pub fn reply<T: Serialize>(format: Format, value: &T) -> Response {
    match encode(format, value) {
        Ok(body) => reply_encoded(format, body),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
    }
}

/// Sends a body already encoded in `format`.
pub fn reply_encoded(format: Format, body: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// Sends a response built as JSON. In CBOR, every `...Timestamp` field
/// (epoch seconds in JSON) becomes tag 1 with epoch milliseconds, as typed
/// [`Timestamp`] fields do.
pub fn reply_value(format: Format, value: &Value) -> Response {
    match format {
        Format::Json => reply(format, value),
        Format::Cbor => reply(format, &json_to_cbor(value, false)),
    }
}

/// `{}`: what Firehose answers when it has nothing to say.
pub fn empty_object(format: Format) -> Response {
    reply_value(format, &json!({}))
}

/// The answer of a Kinesis operation that returns nothing: a 200 with an empty
/// body, as AWS sends it (CreateStream, AddTagsToStream, ...).
pub fn empty(format: Format) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        Vec::new(),
    )
        .into_response()
}

fn json_to_cbor(value: &Value, timestamp: bool) -> ciborium::Value {
    use ciborium::Value as C;
    match value {
        Value::Number(n) if timestamp => {
            let ms = (n.as_f64().unwrap_or(0.0) * 1000.0).round() as i64;
            C::Tag(1, Box::new(C::Integer(ms.into())))
        }
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => C::Integer(i.into()),
            (_, Some(u)) => C::Integer(u.into()),
            _ => C::Float(n.as_f64().unwrap_or(0.0)),
        },
        Value::Null => C::Null,
        Value::Bool(b) => C::Bool(*b),
        Value::String(s) => C::Text(s.clone()),
        Value::Array(items) => C::Array(items.iter().map(|v| json_to_cbor(v, false)).collect()),
        Value::Object(fields) => C::Map(
            fields
                .iter()
                .map(|(k, v)| {
                    (
                        C::Text(k.clone()),
                        json_to_cbor(v, k.ends_with("Timestamp")),
                    )
                })
                .collect(),
        ),
    }
}

/// Binary data: base64 in JSON, a byte string in CBOR.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blob(pub Bytes);

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            // Encode into a reused buffer: one allocation per thread, not per record.
            thread_local! {
                static BUFFER: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
            }
            BUFFER.with_borrow_mut(|buffer| {
                buffer.clear();
                STANDARD.encode_string(&self.0, buffer);
                s.serialize_str(buffer)
            })
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Decodes straight from the request text (no intermediate String).
        struct Base64;
        impl serde::de::Visitor<'_> for Base64 {
            type Value = Blob;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("base64 text")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Blob, E> {
                STANDARD
                    .decode(text.as_bytes())
                    .map(|b| Blob(Bytes::from(b)))
                    .map_err(|_| E::custom(not_base64(text)))
            }
        }
        d.deserialize_str(Base64)
    }
}

/// A point in time: epoch seconds in JSON, tag 1 + epoch ms in CBOR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp(pub i64);

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_f64(self.0 as f64 / 1000.0)
        } else {
            ciborium::tag::Required::<i64, 1>(self.0).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Epoch seconds, whole or fractional; nothing else (not a string).
        struct Seconds;
        impl serde::de::Visitor<'_> for Seconds {
            type Value = Timestamp;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("milliseconds since epoch")
            }
            fn visit_f64<E: serde::de::Error>(self, seconds: f64) -> Result<Timestamp, E> {
                Ok(Timestamp((seconds * 1000.0).round() as i64))
            }
            fn visit_i64<E: serde::de::Error>(self, seconds: i64) -> Result<Timestamp, E> {
                Ok(Timestamp(seconds.saturating_mul(1000)))
            }
            fn visit_u64<E: serde::de::Error>(self, seconds: u64) -> Result<Timestamp, E> {
                Ok(Timestamp(
                    i64::try_from(seconds)
                        .unwrap_or(i64::MAX)
                        .saturating_mul(1000),
                ))
            }
        }
        d.deserialize_any(Seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;
    use proptest::sample::Index;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Sample {
        data: Blob,
        timestamp: Option<Timestamp>,
    }

    #[test]
    fn cbor_and_json_carry_the_same_request() {
        let json = br#"{"Data":"aGVsbG8=","Timestamp":1763800000.5}"#;
        let from_json: Sample = parse(Format::Json, &Bytes::from_static(json)).unwrap();
        let mut cbor = Vec::new();
        ciborium::into_writer(
            &ciborium::Value::Map(vec![
                ("Data".into(), ciborium::Value::Bytes(b"hello".to_vec())),
                (
                    "Timestamp".into(),
                    ciborium::Value::Tag(
                        1,
                        Box::new(ciborium::Value::Integer(1_763_800_000_500i64.into())),
                    ),
                ),
            ]),
            &mut cbor,
        )
        .unwrap();
        let from_cbor: Sample = parse(Format::Cbor, &Bytes::from(cbor)).unwrap();
        assert_eq!(from_json, from_cbor);
        assert_eq!(&from_json.data.0[..], b"hello");
        assert_eq!(from_json.timestamp, Some(Timestamp(1_763_800_000_500)));
    }

    #[test]
    fn malformed_bodies_are_serialization_errors() {
        for body in [
            &b"{"[..],
            b"[1,2]",
            b"\xff\xfe",
            b"{\"Data\": 3}",
            b"{\"Data\": \"%%%\"}",
        ] {
            let err = parse::<Sample>(Format::Json, &Bytes::copy_from_slice(body)).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization);
            let err = parse::<Sample>(Format::Cbor, &Bytes::copy_from_slice(body)).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization);
        }
    }

    /// AWS's texts for members of the wrong JSON type (as its JSON protocol
    /// answers them, recorded against Kinesis).
    #[test]
    fn wrong_member_types_are_answered_in_aws_words() {
        #[derive(Debug, Deserialize)]
        #[serde(rename_all = "PascalCase")]
        #[allow(dead_code)]
        struct Request {
            stream_name: Option<String>,
            shard_count: Option<i64>,
            enforce_consumer_deletion: Option<bool>,
            data: Option<Blob>,
            records: Option<Vec<Sample>>,
            tags: Option<std::collections::HashMap<String, String>>,
            shard_filter: Option<Sample>,
        }
        let message = |body: &str| {
            let err = parse::<Request>(Format::Json, &Bytes::from(body.to_string())).unwrap_err();
            assert_eq!(err.code, ErrorCode::Serialization, "{body}");
            err.message
        };
        let cases = [
            (
                r#"{"StreamName": true}"#,
                "class java.lang.Boolean can not be converted to an String",
            ),
            (
                r#"{"StreamName": 12}"#,
                "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an String",
            ),
            (
                r#"{"StreamName": ["a"]}"#,
                "Start of list found where not expected",
            ),
            (
                r#"{"StreamName": {}}"#,
                "Start of structure or map found where not expected.",
            ),
            (
                r#"{"ShardCount": "1"}"#,
                "class java.lang.String can not be converted to an Integer",
            ),
            (
                r#"{"ShardCount": false}"#,
                "class java.lang.Boolean can not be converted to an Integer",
            ),
            (
                r#"{"EnforceConsumerDeletion": "yes please"}"#,
                "'YES PLEASE' can not be converted to an Boolean",
            ),
            (
                r#"{"EnforceConsumerDeletion": 1}"#,
                "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to an Boolean",
            ),
            (
                r#"{"Data": true}"#,
                "class java.lang.Boolean can not be converted to a Blob",
            ),
            (
                r#"{"Data": 5}"#,
                "class com.amazon.coral.value.json.numbers.TruncatingBigNumber can not be converted to a Blob",
            ),
            (
                r#"{"Data": "abc"}"#,
                "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3",
            ),
            (
                r#"{"Data": "ab~d"}"#,
                "'ab~d' can not be converted to a Blob: Invalid Base64 character: '~'",
            ),
            (
                r#"{"Data": "YQ=a"}"#,
                "'YQ=a' can not be converted to a Blob: Invalid Base64 character: '='",
            ),
            (
                r#"{"Data": "YR=="}"#,
                "'YR==' can not be converted to a Blob: Invalid last non-pad Base64 character dectected",
            ),
            (r#"{"Records": "x"}"#, "Expected list or null"),
            (
                r#"{"Records": {}}"#,
                "Start of structure or map found where not expected.",
            ),
            (r#"{"Tags": 1}"#, "Expected map or null"),
            (r#"{"Tags": []}"#, "Start of list found where not expected"),
            (r#"{"ShardFilter": "x"}"#, "Expected null"),
            (
                r#"{"ShardFilter": []}"#,
                "Start of list found where not expected",
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(message(body), expected, "{body}");
        }
    }

    /// Any body parses to an answer or to a SerializationException, never a panic.
    fn parses_or_refuses(body: Vec<u8>) {
        let body = Bytes::from(body);
        for format in [Format::Json, Format::Cbor] {
            if let Err(e) = parse::<Sample>(format, &body) {
                assert_eq!(e.code, ErrorCode::Serialization);
            }
        }
    }

    /// A valid body with one byte replaced and the tail cut off.
    fn mutated(valid: &[u8], at: Index, byte: u8, cut: Index) -> Vec<u8> {
        let mut body = valid.to_vec();
        let at = at.index(body.len());
        body[at] = byte;
        body.truncate(cut.index(body.len() + 1));
        body
    }

    fn valid_cbor() -> Vec<u8> {
        let mut cbor = Vec::new();
        ciborium::into_writer(
            &ciborium::Value::Map(vec![
                ("Data".into(), ciborium::Value::Bytes(b"hello".to_vec())),
                ("Timestamp".into(), ciborium::Value::Float(1.5)),
            ]),
            &mut cbor,
        )
        .unwrap();
        cbor
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]

        #[test]
        fn random_bodies_never_panic(body in vec(any::<u8>(), 0..64)) {
            parses_or_refuses(body);
        }

        #[test]
        fn mutated_json_never_panics(at: Index, byte: u8, cut: Index) {
            let json = br#"{"Data":"aGVsbG8=","Timestamp":1763800000.5}"#;
            parses_or_refuses(mutated(json, at, byte, cut));
        }

        #[test]
        fn mutated_cbor_never_panics(at: Index, byte: u8, cut: Index) {
            parses_or_refuses(mutated(&valid_cbor(), at, byte, cut));
        }
    }
}
