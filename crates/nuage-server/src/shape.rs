//! Request shapes, declared once per operation: each member's wire name,
//! type and constraints (required, lengths, value ranges, patterns, enums),
//! in the order AWS's model lists them. From one declaration come the typed
//! request (serde) and AWS's validation: every member checked in that order,
//! each failure in AWS's words (`Value 'x' at 'streamName' failed to satisfy
//! constraint: ...`), paths into lists as AWS writes them
//! (`records.1.member.partitionKey`), and AWS's cap of 10 errors.
//!
//! ```ignore
//! shape! {
//!     pub struct DeleteStream {
//!         stream_name "StreamName": String [NotNullWithout("StreamARN"), Pattern(&NAME), MinLength(1), MaxLength(128)],
//!         stream_arn "StreamARN": String [MinLength(1), MaxLength(2048), Pattern(&ARN)],
//!         enforce_consumer_deletion "EnforceConsumerDeletion": bool,
//!     }
//! }
//! ```
//!
//! The checks read the typed request (no second parse of the body) and build
//! a member's path only when it fails, so a valid PutRecords pays for
//! comparisons and nothing else.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Deserializer};

use crate::wire::{ApiError, Blob, ErrorCode, Timestamp};

/// One constraint of a member, as AWS's models state it.
#[derive(Debug, Clone, Copy)]
pub enum Rule {
    /// `Member must not be null`.
    NotNull,
    /// Must not be null unless the member with this wire name is given
    /// (StreamName, when a request may name the stream by StreamARN).
    NotNullWithout(&'static str),
    Pattern(&'static Pattern),
    /// Characters of a string, bytes of a blob, items of a list or map.
    MinLength(usize),
    MaxLength(usize),
    /// The largest record data this server takes (`--max-record-bytes`).
    MaxRecordBytes,
    Min(i64),
    Max(i64),
    OneOf(&'static [&'static str]),
    /// Every string of a list.
    ItemLengths(usize, usize),
    /// Rules each string of a list must pass on its own (named
    /// `list.N.member` when it fails).
    Items(&'static [Rule]),
    /// Every key, and every value, of a string map.
    KeyLengths(usize, usize),
    ValueLengths(usize, usize),
}

/// A regular expression as AWS prints it, and the check that implements it.
#[derive(Debug)]
pub struct Pattern {
    pub text: &'static str,
    pub matches: fn(&str) -> bool,
}

/// A resource name (Kinesis streams and consumers, Firehose delivery
/// streams): `[a-zA-Z0-9_.-]+`.
pub static NAME: Pattern = Pattern {
    text: "[a-zA-Z0-9_.-]+",
    matches: |s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
    },
};

/// What the checks need beyond the request.
#[derive(Debug, Clone, Copy)]
pub struct Context {
    pub max_record_bytes: usize,
}

/// Where a member sits, built into text only when it fails.
#[derive(Clone, Copy)]
pub enum Path<'a> {
    Root,
    /// A member of the structure at `parent`.
    Member(&'a Path<'a>, &'static str),
    /// Item `index` (from 1) of the list at `parent`: `parent.index.member`.
    Item(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn write(&self, out: &mut String) {
        match self {
            Path::Root => {}
            Path::Member(parent, wire) => {
                parent.write(out);
                if !out.is_empty() {
                    out.push('.');
                }
                // AWS names members lower camel case: StreamARN -> streamARN.
                let mut chars = wire.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_lowercase());
                    out.push_str(chars.as_str());
                }
            }
            Path::Item(parent, index) => {
                parent.write(out);
                let _ = write!(out, ".{index}.member");
            }
        }
    }

    fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }
}

/// AWS lists at most 10 constraint failures, and counts no further.
const MAX_LISTED: usize = 10;

/// The failures found so far.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    pub fn full(&self) -> bool {
        self.0.len() >= MAX_LISTED
    }

    /// Records `Value 'shown' at 'path' failed to satisfy constraint: ...`
    /// (`Value null` without quotes).
    pub fn fail(&mut self, shown: Option<&str>, path: &Path<'_>, constraint: &str) {
        if self.full() {
            return;
        }
        let value = match shown {
            Some(v) => format!("'{v}'"),
            None => "null".to_string(),
        };
        self.0.push(format!(
            "Value {value} at '{}' failed to satisfy constraint: {constraint}",
            path.text()
        ));
    }

    /// `N validation error(s) detected: ` and the failures, if any.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.0.len() {
            0 => Ok(()),
            n => Err(validation_error(n, &self.0)),
        }
    }
}

/// AWS's ValidationException: `N validation error(s) detected: ` and the
/// constraint messages listed, joined by `; `.
pub fn validation_error(count: usize, listed: &[String]) -> ApiError {
    ApiError::new(
        ErrorCode::Validation,
        format!(
            "{count} validation error{} detected: {}",
            if count == 1 { "" } else { "s" },
            listed.join("; ")
        ),
    )
}

/// A request or nested structure declared with [`shape!`].
pub trait Shape {
    /// How Java prints one (a list of them is shown as these).
    const JAVA: &'static str = "";
    fn check(&self, cx: &Context, path: &Path<'_>, out: &mut Failures);
}

/// A member's value as the constraints see it.
pub trait Member {
    /// Characters, bytes or items, whichever the type's length counts.
    fn length(&self) -> usize;
    fn number(&self) -> Option<i64> {
        None
    }
    fn text(&self) -> Option<&str> {
        None
    }
    /// The value as AWS prints it in a constraint message.
    fn shown(&self) -> String;
    /// A list's items or a map's entries, for the rules over them.
    fn strings(&self) -> Vec<(&str, Option<&str>)> {
        Vec::new()
    }
    /// Checks nested structures (a list of them, or one).
    fn check_inside(&self, _cx: &Context, _path: &Path<'_>, _out: &mut Failures) {}
}

/// Java's `String.length()`: UTF-16 code units.
fn java_length(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.encode_utf16().count()
    }
}

impl Member for str {
    fn length(&self) -> usize {
        java_length(self)
    }
    fn text(&self) -> Option<&str> {
        Some(self)
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Member for String {
    fn length(&self) -> usize {
        self.as_str().length()
    }
    fn text(&self) -> Option<&str> {
        self.as_str().text()
    }
    fn shown(&self) -> String {
        self.as_str().shown()
    }
}

impl Member for bool {
    fn length(&self) -> usize {
        0
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Member for Timestamp {
    fn length(&self) -> usize {
        0
    }
    fn shown(&self) -> String {
        self.0.to_string()
    }
}

impl Member for Blob {
    fn length(&self) -> usize {
        self.0.len()
    }
    fn shown(&self) -> String {
        let n = self.0.len();
        format!("java.nio.HeapByteBuffer[pos=0 lim={n} cap={n}]")
    }
}

impl Member for Int {
    fn length(&self) -> usize {
        0
    }
    fn number(&self) -> Option<i64> {
        Some(self.0)
    }
    fn shown(&self) -> String {
        self.0.to_string()
    }
}

/// A plain integer member of a structure shared with another crate.
impl Member for i64 {
    fn length(&self) -> usize {
        0
    }
    fn number(&self) -> Option<i64> {
        Some(*self)
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

/// A member nuage takes as given JSON (a destination kind it does not
/// deliver to, say): no constraints of its own.
impl Member for serde_json::Value {
    fn length(&self) -> usize {
        0
    }
    fn shown(&self) -> String {
        self.to_string()
    }
}

impl Member for Vec<String> {
    fn length(&self) -> usize {
        self.len()
    }
    fn shown(&self) -> String {
        format!("[{}]", self.join(", "))
    }
    fn strings(&self) -> Vec<(&str, Option<&str>)> {
        self.iter().map(|s| (s.as_str(), None)).collect()
    }
}

impl Member for BTreeMap<String, String> {
    fn length(&self) -> usize {
        self.len()
    }
    fn shown(&self) -> String {
        let entries: Vec<String> = self.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{{{}}}", entries.join(", "))
    }
    fn strings(&self) -> Vec<(&str, Option<&str>)> {
        self.iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_str())))
            .collect()
    }
}

/// The most items of a list of structures a message shows.
const SHOWN_ITEMS: usize = 1000;

impl<T: Shape> Member for Vec<T> {
    fn length(&self) -> usize {
        self.len()
    }
    fn shown(&self) -> String {
        // AWS prints every item; past SHOWN_ITEMS nuage writes "..." so a
        // body of millions of `{}` cannot make a message 20 times its size.
        let mut items: Vec<&str> = vec![T::JAVA; self.len().min(SHOWN_ITEMS)];
        if self.len() > SHOWN_ITEMS {
            items.push("...");
        }
        format!("[{}]", items.join(", "))
    }
    fn check_inside(&self, cx: &Context, path: &Path<'_>, out: &mut Failures) {
        for (i, item) in self.iter().enumerate() {
            if out.full() {
                return;
            }
            item.check(cx, &Path::Item(path, i + 1), out);
        }
    }
}

/// An Integer member: AWS reads a fractional number as its floor and a
/// number out of range as the nearest Java int.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Int(pub i64);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Whole;
        impl serde::de::Visitor<'_> for Whole {
            type Value = Int;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("i32")
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<Int, E> {
                Ok(Int(n.clamp(i32::MIN.into(), i32::MAX.into())))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Int, E> {
                Ok(Int(n.min(i32::MAX as u64) as i64))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Int, E> {
                Ok(Int(n.floor().clamp(i32::MIN.into(), i32::MAX.into()) as i64))
            }
        }
        d.deserialize_any(Whole)
    }
}

/// Checks one member against its rules, in their order, then what is
/// inside it. `given` tells whether another member (by wire name) is set.
pub fn member<T: Member + ?Sized>(
    cx: &Context,
    path: &Path<'_>,
    value: Option<&T>,
    rules: &[Rule],
    given: &dyn Fn(&str) -> bool,
    out: &mut Failures,
) {
    for rule in rules {
        if out.full() {
            return;
        }
        let Some(v) = value else {
            match rule {
                Rule::NotNull => out.fail(None, path, "Member must not be null"),
                Rule::NotNullWithout(other) if !given(other) => {
                    out.fail(None, path, "Member must not be null")
                }
                _ => {}
            }
            continue;
        };
        let mut fail = |constraint: String| out.fail(Some(&v.shown()), path, &constraint);
        match *rule {
            Rule::NotNull | Rule::NotNullWithout(_) => {}
            Rule::Pattern(p) if v.text().is_some_and(|t| !(p.matches)(t)) => fail(format!(
                "Member must satisfy regular expression pattern: {}",
                p.text
            )),
            Rule::MinLength(min) if v.length() < min => fail(format!(
                "Member must have length greater than or equal to {min}"
            )),
            Rule::MaxLength(max) if v.length() > max => fail(format!(
                "Member must have length less than or equal to {max}"
            )),
            Rule::MaxRecordBytes if v.length() > cx.max_record_bytes => fail(format!(
                "Member must have length less than or equal to {}",
                cx.max_record_bytes
            )),
            Rule::Min(min) if v.number().is_some_and(|n| n < min) => fail(format!(
                "Member must have value greater than or equal to {min}"
            )),
            Rule::Max(max) if v.number().is_some_and(|n| n > max) => fail(format!(
                "Member must have value less than or equal to {max}"
            )),
            Rule::OneOf(allowed) if v.text().is_some_and(|t| !allowed.contains(&t)) => {
                fail(format!(
                    "Member must satisfy enum value set: [{}]",
                    allowed.join(", ")
                ))
            }
            Rule::ItemLengths(min, max)
                if !v.strings().iter().all(|(s, _)| within(s, min, max)) =>
            {
                fail(format!(
                    "Member must satisfy constraint: [Member must have length less than or equal to {max}, Member must have length greater than or equal to {min}]"
                ));
            }
            Rule::Items(rules) => {
                for (i, (item, _)) in v.strings().into_iter().enumerate() {
                    member(cx, &Path::Item(path, i + 1), Some(item), rules, given, out);
                }
            }
            Rule::KeyLengths(min, max) if !v.strings().iter().all(|(k, _)| within(k, min, max)) => {
                fail(format!(
                    "Map keys must satisfy constraint: [Member must have length less than or equal to {max}, Member must have length greater than or equal to {min}]"
                ));
            }
            Rule::ValueLengths(min, max) => {
                let ok = |v: &Option<&str>| v.is_none_or(|v| within(v, min, max));
                if !v.strings().iter().all(|(_, v)| ok(v)) {
                    fail(format!(
                        "Map value must satisfy constraint: [Member must have length less than or equal to {max}, Member must have length greater than or equal to {min}]"
                    ));
                }
            }
            _ => {}
        }
    }
    if let Some(v) = value {
        v.check_inside(cx, path, out);
    }
}

fn within(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&java_length(s))
}

/// Parses a request of shape `T` and checks it: a SerializationException
/// for a body of the wrong types, a ValidationException listing what breaks
/// the constraints.
pub fn parse_checked<T>(
    format: crate::wire::Format,
    body: &bytes::Bytes,
    cx: &Context,
) -> Result<T, ApiError>
where
    T: Shape + serde::de::DeserializeOwned,
{
    let request: T = crate::wire::parse(format, body)?;
    let mut out = Failures::default();
    request.check(cx, &Path::Root, &mut out);
    out.finish()?;
    Ok(request)
}

/// Declares a request shape: the struct (every member optional, as on the
/// wire) and its [`Shape`] checks. Members are listed in AWS's order.
///
/// `shape! { impl Type { member "Wire" [rules], ... } }` declares the checks
/// of an existing type whose fields (or whose `Deref` target's fields) are
/// `Option`s with those names: a structure shared with another crate.
#[macro_export]
macro_rules! shape {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident $(as $java:literal)? {
            $($field:ident $wire:literal : $ty:ty $([$($rule:expr),* $(,)?])?),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default)]
        $vis struct $name {
            $(pub $field: Option<$ty>,)*
        }

        /// Read from a JSON object (CBOR map) only: serde's derive would
        /// also read a list into a struct by position, which AWS refuses
        /// ("Start of list found where not expected").
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                #[derive(serde::Deserialize)]
                struct Wire {
                    $(#[serde(rename = $wire)] $field: Option<$ty>,)*
                }
                struct Object;
                impl<'de> serde::de::Visitor<'de> for Object {
                    type Value = Wire;
                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str("a structure")
                    }
                    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Wire, A::Error> {
                        serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    }
                }
                let wire = d.deserialize_map(Object)?;
                Ok(Self { $($field: wire.$field,)* })
            }
        }

        $crate::shape! {
            impl $name $(as $java)? {
                $($field $wire $([$($rule),*])?),*
            }
        }
    };
    (
        impl $name:path $(as $java:literal)? {
            $($field:ident $wire:literal $([$($rule:expr),* $(,)?])?),* $(,)?
        }
    ) => {
        impl $crate::shape::Shape for $name {
            $(const JAVA: &'static str = $java;)?
            #[allow(unused_imports)]
            fn check(
                &self,
                cx: &$crate::shape::Context,
                path: &$crate::shape::Path<'_>,
                out: &mut $crate::shape::Failures,
            ) {
                use $crate::shape::Rule::*;
                let given = |wire: &str| match wire {
                    $($wire => self.$field.is_some(),)*
                    _ => false,
                };
                $(
                    $crate::shape::member(
                        cx,
                        &$crate::shape::Path::Member(path, $wire),
                        self.$field.as_ref(),
                        &[$($($rule),*)?],
                        &given,
                        out,
                    );
                )*
            }
        }

        /// A structure inside another: shown as Java prints it, checked
        /// member by member under its parent's path.
        impl $crate::shape::Member for $name {
            fn length(&self) -> usize {
                0
            }
            fn shown(&self) -> String {
                <Self as $crate::shape::Shape>::JAVA.to_string()
            }
            fn check_inside(
                &self,
                cx: &$crate::shape::Context,
                path: &$crate::shape::Path<'_>,
                out: &mut $crate::shape::Failures,
            ) {
                $crate::shape::Shape::check(self, cx, path, out);
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Format;
    use bytes::Bytes;

    static DIGITS: Pattern = Pattern {
        text: "0|([1-9]\\d{0,38})",
        matches: |s| s == "0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit())),
    };

    shape! {
        struct Entry as "com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310" {
            partition_key "PartitionKey": String [NotNull, MinLength(1), MaxLength(256)],
            explicit_hash_key "ExplicitHashKey": String [Pattern(&DIGITS)],
            data "Data": Blob [NotNull, MaxRecordBytes],
        }
    }

    shape! {
        struct Put {
            records "Records": Vec<Entry> [NotNull, MinLength(1), MaxLength(500)],
            stream_name "StreamName": String [NotNullWithout("StreamARN"), MinLength(1), MaxLength(128)],
            stream_arn "StreamARN": String [MinLength(1)],
            limit "Limit": Int [Min(1), Max(10000)],
        }
    }

    shape! {
        struct Keys {
            keys "TagKeys": Vec<String> [NotNull, Items(&[MinLength(1), MaxLength(3)])],
        }
    }

    /// Each item of a list is named `list.N.member`, as AWS names the items
    /// of PutRecords' Records.
    #[test]
    fn items_of_a_list_are_checked_one_by_one() {
        let cx = Context {
            max_record_bytes: 4,
        };
        let body = Bytes::from_static(br#"{"TagKeys": ["ok", "", "long"]}"#);
        let error = parse_checked::<Keys>(Format::Json, &body, &cx).unwrap_err();
        assert_eq!(
            error.message,
            "2 validation errors detected: Value '' at 'tagKeys.2.member' failed to satisfy constraint: Member must have length greater than or equal to 1; Value 'long' at 'tagKeys.3.member' failed to satisfy constraint: Member must have length less than or equal to 3"
        );
    }

    fn message(body: &str) -> String {
        let cx = Context {
            max_record_bytes: 4,
        };
        parse_checked::<Put>(Format::Json, &Bytes::from(body.to_string()), &cx)
            .map(|_| String::new())
            .unwrap_or_else(|e| e.message)
    }

    /// The texts are AWS's, as recorded against Kinesis (kinesalite's
    /// recordings): paths `records.N.member.x`, blobs shown as Java
    /// buffers, a list of structures shown by Java's toString, 10 at most.
    #[test]
    fn failures_are_listed_in_member_order_in_aws_words() {
        assert_eq!(
            message("{}"),
            "2 validation errors detected: Value null at 'records' failed to satisfy constraint: Member must not be null; Value null at 'streamName' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(
            message(r#"{"Records": [{"PartitionKey": "a", "Data": ""}], "StreamARN": "x"}"#),
            ""
        );
        assert_eq!(
            message(
                r#"{"Records": [{"PartitionKey": "", "Data": "aGVsbG8=", "ExplicitHashKey": "01"}], "StreamName": "s", "Limit": 0.5}"#
            ),
            "4 validation errors detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '01' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38}); Value 'java.nio.HeapByteBuffer[pos=0 lim=5 cap=5]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to 4; Value '0' at 'limit' failed to satisfy constraint: Member must have value greater than or equal to 1"
        );
        let many = vec![r#"{"PartitionKey": "", "Data": ""}"#; 501].join(",");
        let text = message(&format!(r#"{{"Records": [{many}], "StreamName": ""}}"#));
        assert!(text.starts_with("10 validation errors detected: Value '[com.amazonaws.kinesis.v20131202.PutRecordsRequestEntry@c965e310, "), "{text}");
        assert!(text.ends_with("Value '' at 'records.9.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1"), "{text}");
        // Past 1000 items nuage stops writing them out (its own limit).
        let many = vec!["{}"; 1001].join(",");
        let text = message(&format!(r#"{{"Records": [{many}], "StreamName": "s"}}"#));
        assert!(
            text.contains("PutRecordsRequestEntry@c965e310, ...]' at 'records'"),
            "{text}"
        );
        assert_eq!(text.matches("PutRecordsRequestEntry").count(), 1000);
        assert_eq!(
            message(r#"{"StreamName": "s", "Records": [], "Limit": 100000000000}"#),
            "2 validation errors detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1; Value '2147483647' at 'limit' failed to satisfy constraint: Member must have value less than or equal to 10000"
        );
    }
}
