//! Object operations: PUT, GET, HEAD, DELETE, DeleteObjects, CopyObject and
//! tagging, with S3's conditional requests, ranges and stored headers.

use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::http;
use nuage_lake::objects::{Meta, NULL_VERSION, ObjectInfo, Opened, Versioning};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::body::{Incoming, empty, object_body};
use crate::s3::checksums::Checksums;
use crate::s3::errors::{OrS3, malformed_xml, refuse, refuse_custom, to_s3};
use crate::s3::{Answer, NuageS3, timestamp};
use crate::s3::{acl, lock, sse};

/// S3's limit on tags per object.
const MAX_TAGS: usize = 10;

/// The headers S3 stores with an object and sends back on GET and HEAD.
pub(super) struct Stored {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
    pub metadata: Option<Metadata>,
    /// Where the website endpoint sends a request for this object.
    pub website_redirect_location: Option<String>,
}

impl Stored {
    pub fn into_meta(self) -> Meta {
        let mut headers = BTreeMap::new();
        let mut keep = |name: &str, value: Option<String>| {
            if let Some(value) = value.filter(|v| !v.is_empty()) {
                headers.insert(name.to_string(), value);
            }
        };
        keep("cache-control", self.cache_control);
        keep("content-disposition", self.content_disposition);
        // aws-chunked describes the upload, not the object (S3 drops it).
        let encoding = self.content_encoding.map(|e| {
            let chunked = |t: &str| t.trim().eq_ignore_ascii_case("aws-chunked");
            if !e.split(',').any(chunked) {
                return e;
            }
            e.split(',')
                .filter(|t| !chunked(t))
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(", ")
        });
        keep("content-encoding", encoding);
        keep("content-language", self.content_language);
        keep("expires", self.expires.and_then(|t| http_date(&t)));
        keep(
            "x-amz-website-redirect-location",
            self.website_redirect_location,
        );
        Meta {
            content_type: self.content_type,
            headers,
            metadata: self
                .metadata
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v))
                .collect(),
            ..Meta::default()
        }
    }
}

/// The version id a write answers: the new version's in a versioning-enabled
/// bucket; none for the null version a suspended bucket writes.
pub(super) fn written_version(meta: &Meta) -> Option<String> {
    meta.version_id.clone().filter(|id| id != NULL_VERSION)
}

/// An HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub(super) fn http_date(time: &Timestamp) -> Option<String> {
    let mut text = Vec::new();
    time.format(TimestampFormat::HttpDate, &mut text).ok()?;
    String::from_utf8(text).ok()
}

fn header(meta: &Meta, name: &str) -> Option<String> {
    meta.headers.get(name).cloned()
}

/// Tags from the `x-amz-tagging` header (`k1=v1&k2=v2`, URL-encoded).
pub(super) fn header_tags(text: Option<&str>) -> S3Result<Vec<(String, String)>> {
    let Some(text) = text.filter(|t| !t.is_empty()) else {
        return Ok(Vec::new());
    };
    let tags: Vec<(String, String)> = url::form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    check_tags(&tags, "BadRequest")?;
    Ok(tags)
}

/// Tags from a form upload's `tagging` field (`<Tagging><TagSet><Tag>...`).
fn form_tags(xml: &str) -> S3Result<Vec<(String, String)>> {
    use s3s::xml::Deserialize;
    let mut document = s3s::xml::Deserializer::new(xml.as_bytes());
    let tagging = Tagging::deserialize(&mut document).map_err(|_| malformed_xml())?;
    let tags = tag_pairs(tagging.tag_set);
    check_tags(&tags, "BadRequest")?;
    Ok(tags)
}

/// S3's rules for object tags: at most 10 (too many is BadRequest in a
/// write's `x-amz-tagging` header, InvalidTag in PutObjectTagging), then
/// [`check_tag_pairs`].
fn check_tags(tags: &[(String, String)], too_many: &'static str) -> S3Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(refuse_custom(
            too_many,
            http::StatusCode::BAD_REQUEST,
            "Object tags cannot be greater than 10",
        ));
    }
    check_tag_pairs(tags, false)
}

/// S3's rules for each tag of an object or bucket: a key of 1-128
/// characters (not starting with `aws:` where `reserved` says so), a value
/// of at most 256, no key twice.
pub(super) fn check_tag_pairs(tags: &[(String, String)], reserved: bool) -> S3Result<()> {
    for (i, (key, value)) in tags.iter().enumerate() {
        if key.is_empty() || key.chars().count() > 128 {
            return Err(refuse(
                S3ErrorCode::InvalidTag,
                "The TagKey you have provided is invalid",
            ));
        }
        if reserved && key.starts_with("aws:") {
            return Err(refuse(
                S3ErrorCode::InvalidTag,
                "User-defined tag keys can't start with \"aws:\". This prefix is reserved for system tags.",
            ));
        }
        if value.chars().count() > 256 {
            return Err(refuse(
                S3ErrorCode::InvalidTag,
                "The TagValue you have provided is invalid",
            ));
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return Err(refuse(
                S3ErrorCode::InvalidTag,
                "Cannot provide multiple Tags with the same key",
            ));
        }
    }
    Ok(())
}

/// A request's tag set as (key, value) pairs.
pub(super) fn tag_pairs(set: TagSet) -> Vec<(String, String)> {
    set.into_iter()
        .map(|t| (t.key.unwrap_or_default(), t.value.unwrap_or_default()))
        .collect()
}

/// (key, value) pairs as an answer's tag set.
/// Tags as S3 answers them: ordered by key.
pub(super) fn tag_set(mut pairs: Vec<(String, String)>) -> TagSet {
    pairs.sort();
    pairs
        .into_iter()
        .map(|(key, value)| Tag {
            key: Some(key),
            value: Some(value),
        })
        .collect()
}

fn etag_of(meta: &Meta) -> ETag {
    ETag::Strong(meta.etag.clone())
}

/// Whether an If-Match / If-None-Match condition holds for `meta`.
fn matches(condition: &ETagCondition, meta: &Meta) -> bool {
    match condition {
        ETagCondition::Any => true,
        ETagCondition::ETag(etag) => etag.value() == meta.etag,
    }
}

/// HTTP dates have whole seconds: compare at that precision.
fn secs(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn timestamp_secs(time: &Timestamp) -> u64 {
    let time: time::OffsetDateTime = time.clone().into();
    u64::try_from(time.unix_timestamp()).unwrap_or(0)
}

/// A write's If-Match and If-None-Match (PutObject,
/// CompleteMultipartUpload), checked when the object is published.
pub(super) fn write_condition(
    if_match: Option<&ETagCondition>,
    if_none_match: Option<&ETagCondition>,
) -> nuage_lake::objects::WriteCondition {
    let text = |c: &ETagCondition| match c {
        ETagCondition::Any => "*".to_string(),
        ETagCondition::ETag(etag) => etag.value().to_string(),
    };
    nuage_lake::objects::WriteCondition {
        if_match: if_match.map(text),
        if_none_match: if_none_match.map(text),
    }
}

/// The conditions of a GET or HEAD, or of a copy's source.
pub(super) struct Conditions<'a> {
    pub if_match: Option<&'a ETagCondition>,
    pub if_none_match: Option<&'a ETagCondition>,
    pub if_modified_since: Option<&'a Timestamp>,
    pub if_unmodified_since: Option<&'a Timestamp>,
}

impl Conditions<'_> {
    /// As S3 evaluates them (RFC 9110's order): If-Match, else
    /// If-Unmodified-Since, fails with 412; If-None-Match, else
    /// If-Modified-Since, answers 304 Not Modified.
    pub fn check(&self, info: &ObjectInfo) -> S3Result<()> {
        if !self.hold(info) {
            return Err(precondition_failed());
        }
        if self.unchanged(info) {
            let mut error = refuse(S3ErrorCode::NotModified, "Not Modified");
            error.set_status_code(http::StatusCode::NOT_MODIFIED);
            // A 304 names the version the client has (RFC 9110 15.4.5).
            let mut headers = http::HeaderMap::new();
            let etag = format!("\"{}\"", info.meta.etag);
            let modified = http_date(&super::timestamp(info.last_modified));
            for (name, value) in [("etag", Some(etag)), ("last-modified", modified)] {
                if let Some(value) = value.and_then(|v| http::HeaderValue::from_str(&v).ok()) {
                    headers.insert(name, value);
                }
            }
            error.set_headers(headers);
            return Err(error);
        }
        Ok(())
    }

    /// A copy's source: every failed condition is 412.
    pub fn check_source(&self, info: &ObjectInfo) -> S3Result<()> {
        if !self.hold(info) || self.unchanged(info) {
            return Err(precondition_failed());
        }
        Ok(())
    }

    fn hold(&self, info: &ObjectInfo) -> bool {
        match (self.if_match, self.if_unmodified_since) {
            (Some(condition), _) => matches(condition, &info.meta),
            (None, Some(since)) => secs(info.last_modified) <= timestamp_secs(since),
            _ => true,
        }
    }

    fn unchanged(&self, info: &ObjectInfo) -> bool {
        match (self.if_none_match, self.if_modified_since) {
            (Some(condition), _) => matches(condition, &info.meta),
            (None, Some(since)) => secs(info.last_modified) <= timestamp_secs(since),
            _ => false,
        }
    }
}

fn precondition_failed() -> s3s::S3Error {
    refuse(
        S3ErrorCode::PreconditionFailed,
        "At least one of the pre-conditions you specified did not hold",
    )
}

/// The byte range a GET or HEAD asks for: a part, a Range, or everything.
/// Returns (range, Content-Range when partial).
pub(super) fn resolve_range(
    meta: &Meta,
    part_number: Option<i32>,
    range: Option<&Range>,
) -> S3Result<(std::ops::Range<u64>, Option<String>)> {
    if let Some(number) = part_number {
        if range.is_some() {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                "Cannot specify both Range header and partNumber query parameter",
            ));
        }
        let part = u32::try_from(number)
            .ok()
            .filter(|n| *n >= 1)
            .and_then(|n| meta.part_range(n));
        let Some(part) = part else {
            return Err(refuse_custom(
                "InvalidPartNumber",
                http::StatusCode::RANGE_NOT_SATISFIABLE,
                "The requested partnumber is not satisfiable",
            ));
        };
        let content_range = meta.part_count().map(|_| {
            format!(
                "bytes {}-{}/{}",
                part.start,
                part.end.saturating_sub(1),
                meta.size
            )
        });
        return Ok((part, content_range));
    }
    let Some(range) = range else {
        return Ok((0..meta.size, None));
    };
    match range.check(meta.size) {
        Ok(r) => {
            let content_range = format!(
                "bytes {}-{}/{}",
                r.start,
                r.end.saturating_sub(1),
                meta.size
            );
            Ok((r, Some(content_range)))
        }
        Err(_) => {
            let mut error = refuse(
                S3ErrorCode::InvalidRange,
                "The requested range is not satisfiable",
            );
            let mut headers = http::HeaderMap::new();
            if let Ok(value) = http::HeaderValue::from_str(&format!("bytes */{}", meta.size)) {
                headers.insert(http::header::CONTENT_RANGE, value);
            }
            error.set_headers(headers);
            Err(error)
        }
    }
}

/// The response-* parameters of a GET or HEAD.
pub(super) struct Overrides {
    pub content_type: Option<String>,
    pub cache_control: Option<String>,
    pub content_disposition: Option<String>,
    pub content_encoding: Option<String>,
    pub content_language: Option<String>,
    pub expires: Option<Timestamp>,
}

/// What a GET or HEAD says about an object besides its bytes.
struct Described {
    content_type: String,
    cache_control: Option<String>,
    content_disposition: Option<String>,
    content_encoding: Option<String>,
    content_language: Option<String>,
    expires: Option<Timestamp>,
    e_tag: ETag,
    last_modified: Timestamp,
    metadata: Option<Metadata>,
    parts_count: Option<i32>,
    sums: Checksums,
}

fn describe(
    info: &ObjectInfo,
    asked: Overrides,
    part_number: Option<i32>,
    checksums_too: bool,
) -> Described {
    let meta = &info.meta;
    Described {
        content_type: asked
            .content_type
            .unwrap_or_else(|| meta.content_type().to_string()),
        cache_control: asked
            .cache_control
            .or_else(|| header(meta, "cache-control")),
        content_disposition: asked
            .content_disposition
            .or_else(|| header(meta, "content-disposition")),
        content_encoding: asked
            .content_encoding
            .or_else(|| header(meta, "content-encoding")),
        content_language: asked
            .content_language
            .or_else(|| header(meta, "content-language")),
        expires: asked.expires.or_else(|| parse_expires(meta)),
        e_tag: etag_of(meta),
        last_modified: timestamp(info.last_modified),
        metadata: non_empty(meta.metadata.clone(), |m| m.into_iter().collect()),
        parts_count: part_number.and(meta.part_count()).map(|c| c as i32),
        // A part's own checksum comes with it, asked for or not.
        sums: part_number
            .and_then(|n| Checksums::part(meta, u32::try_from(n).ok()?))
            .unwrap_or_else(|| Checksums::object(meta, checksums_too)),
    }
}

fn parse_expires(meta: &Meta) -> Option<Timestamp> {
    Timestamp::parse(TimestampFormat::HttpDate, meta.headers.get("expires")?).ok()
}

fn non_empty<T>(
    map: BTreeMap<String, String>,
    wrap: impl FnOnce(BTreeMap<String, String>) -> T,
) -> Option<T> {
    (!map.is_empty()).then(|| wrap(map))
}

/// See [`NuageS3::read_extras`].
struct ReadExtras {
    expiration: Option<String>,
    website_redirect_location: Option<String>,
}

impl NuageS3 {
    pub(super) async fn put_object_(
        &self,
        req: S3Request<PutObjectInput>,
    ) -> Answer<PutObjectOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let condition = write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
        let mut expected = expected!(input, &req.headers)?;
        let mut meta = stored!(input).into_meta();
        meta.tags = match req.extensions.get::<crate::s3::form_post::FormTagging>() {
            Some(form) if input.tagging.is_none() => form_tags(&form.0)?,
            _ => header_tags(input.tagging.as_deref())?,
        };
        let chosen = self.choose_encryption(&input.bucket, sse_asked!(input))?;
        meta.encryption = chosen.record;
        expected.encrypted = chosen.cipher.is_some();
        let grants = acl::object_grants!(self, input, req.credentials.as_ref(), &mut meta)?;
        self.guard_new_object(&input.bucket, grants, lock_asked!(input), &mut meta)
            .await?;
        let (body, incoming) = Incoming::new(
            req.trailing_headers,
            &req.extensions,
            input.body,
            input.content_length,
            expected,
        );
        let body = sse::encrypt(body, chosen.cipher, 1);
        let info = self
            .objects
            .put(
                &input.bucket,
                &input.key,
                body,
                meta,
                &condition,
                |written, meta| incoming.finish(written, meta),
            )
            .await
            .or_s3()?;
        let sums = Checksums::object(&info.meta, true);
        let sse = sse::answered(info.meta.encryption.as_ref());
        Ok(S3Response::new(PutObjectOutput {
            e_tag: Some(etag_of(&info.meta)),
            server_side_encryption: sse.server_side_encryption,
            sse_customer_algorithm: sse.sse_customer_algorithm,
            sse_customer_key_md5: sse.sse_customer_key_md5,
            ssekms_key_id: sse.ssekms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
            checksum_type: sums.kind,
            version_id: written_version(&info.meta),
            expiration: self.expiration_of(&input.bucket, &info),
            ..Default::default()
        }))
    }

    /// What a GET or HEAD answers besides the object's own record: its
    /// lifecycle expiry (for the current version) and website redirect.
    fn read_extras(&self, bucket: &str, version_id: Option<&str>, info: &ObjectInfo) -> ReadExtras {
        ReadExtras {
            expiration: version_id
                .is_none()
                .then(|| self.expiration_of(bucket, info))
                .flatten(),
            website_redirect_location: info
                .meta
                .headers
                .get("x-amz-website-redirect-location")
                .cloned(),
        }
    }

    /// The version id a GET or HEAD answers: the object's, or `null` for
    /// an object written before its bucket was versioned (none in a bucket
    /// that never was).
    fn version_of(&self, bucket: &str, meta: &Meta) -> Option<String> {
        meta.version_id.clone().or_else(|| {
            let state = self.objects.versioning(bucket).ok()?;
            (state != Versioning::Unversioned).then(|| NULL_VERSION.to_string())
        })
    }

    pub(super) async fn get_object_(
        &self,
        req: S3Request<GetObjectInput>,
    ) -> Answer<GetObjectOutput> {
        let input = req.input;
        sse::refuse_on_read(&req.headers)?;
        let Opened { info, file, .. } = self
            .objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?;
        let cipher = sse::open(&info.meta, customer!(input).key()?)?;
        conditions!(input).check(&info)?;
        let (range, content_range) =
            resolve_range(&info.meta, input.part_number, input.range.as_ref())?;
        let asked = overrides!(input);
        let whole = content_range.is_none() && input.checksum_mode.is_some();
        let d = describe(&info, asked, input.part_number, whole);
        let lock = lock::fields(&info.meta);
        let sse = sse::answered(info.meta.encryption.as_ref());
        let length = range.end - range.start;
        let body = match file {
            Some(file) if length > 0 => object_body(file, range, &info.meta, cipher),
            _ => empty(),
        };
        let partial = input.part_number.is_some() || input.range.is_some();
        let current = self.read_extras(&input.bucket, input.version_id.as_deref(), &info);
        let mut response = S3Response::new(GetObjectOutput {
            body: Some(body),
            accept_ranges: Some("bytes".into()),
            content_length: Some(length as i64),
            content_range,
            content_type: Some(d.content_type),
            cache_control: d.cache_control,
            content_disposition: d.content_disposition,
            content_encoding: d.content_encoding,
            content_language: d.content_language,
            expires: d.expires,
            e_tag: Some(d.e_tag),
            last_modified: Some(d.last_modified),
            metadata: d.metadata,
            parts_count: d.parts_count,
            tag_count: (!info.meta.tags.is_empty()).then_some(info.meta.tags.len() as i32),
            checksum_crc32: d.sums.crc32,
            checksum_crc32c: d.sums.crc32c,
            checksum_crc64nvme: d.sums.crc64nvme,
            checksum_sha1: d.sums.sha1,
            checksum_sha256: d.sums.sha256,
            checksum_type: d.sums.kind,
            version_id: self.version_of(&input.bucket, &info.meta),
            object_lock_mode: lock.mode,
            object_lock_retain_until_date: lock.until,
            object_lock_legal_hold_status: lock.legal_hold,
            server_side_encryption: sse.server_side_encryption,
            sse_customer_algorithm: sse.sse_customer_algorithm,
            sse_customer_key_md5: sse.sse_customer_key_md5,
            ssekms_key_id: sse.ssekms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            expiration: current.expiration,
            website_redirect_location: current.website_redirect_location,
            ..Default::default()
        });
        if partial {
            response.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(response)
    }

    pub(super) async fn head_object_(
        &self,
        req: S3Request<HeadObjectInput>,
    ) -> Answer<HeadObjectOutput> {
        let input = req.input;
        sse::refuse_on_read(&req.headers)?;
        let info = self
            .objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?
            .info;
        sse::open(&info.meta, customer!(input).key()?)?;
        conditions!(input).check(&info)?;
        let (range, content_range) =
            resolve_range(&info.meta, input.part_number, input.range.as_ref())?;
        let asked = overrides!(input);
        let whole = content_range.is_none() && input.checksum_mode.is_some();
        let d = describe(&info, asked, input.part_number, whole);
        let lock = lock::fields(&info.meta);
        let sse = sse::answered(info.meta.encryption.as_ref());
        let partial = input.part_number.is_some() && info.meta.part_count().is_some()
            || input.range.is_some();
        let current = self.read_extras(&input.bucket, input.version_id.as_deref(), &info);
        let mut response = S3Response::new(HeadObjectOutput {
            accept_ranges: Some("bytes".into()),
            content_length: Some((range.end - range.start) as i64),
            content_range,
            content_type: Some(d.content_type),
            cache_control: d.cache_control,
            content_disposition: d.content_disposition,
            content_encoding: d.content_encoding,
            content_language: d.content_language,
            expires: d.expires,
            e_tag: Some(d.e_tag),
            last_modified: Some(d.last_modified),
            metadata: d.metadata,
            parts_count: d.parts_count,
            checksum_crc32: d.sums.crc32,
            checksum_crc32c: d.sums.crc32c,
            checksum_crc64nvme: d.sums.crc64nvme,
            checksum_sha1: d.sums.sha1,
            checksum_sha256: d.sums.sha256,
            checksum_type: d.sums.kind,
            version_id: self.version_of(&input.bucket, &info.meta),
            object_lock_mode: lock.mode,
            object_lock_retain_until_date: lock.until,
            object_lock_legal_hold_status: lock.legal_hold,
            server_side_encryption: sse.server_side_encryption,
            sse_customer_algorithm: sse.sse_customer_algorithm,
            sse_customer_key_md5: sse.sse_customer_key_md5,
            ssekms_key_id: sse.ssekms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            expiration: current.expiration,
            website_redirect_location: current.website_redirect_location,
            ..Default::default()
        });
        if !info.meta.tags.is_empty() {
            // S3 counts the tags on a HEAD too (s3s's output has no field).
            response
                .headers
                .insert("x-amz-tagging-count", info.meta.tags.len().into());
        }
        if partial {
            response.status = Some(http::StatusCode::PARTIAL_CONTENT);
        }
        Ok(response)
    }

    /// The attributes asked for (ETag, Checksum, ObjectParts, StorageClass,
    /// ObjectSize) in one answer; ObjectParts only for a multipart object,
    /// one page of its parts after PartNumberMarker.
    pub(super) async fn get_object_attributes_(
        &self,
        req: S3Request<GetObjectAttributesInput>,
    ) -> Answer<GetObjectAttributesOutput> {
        let input = req.input;
        // One header, `ETag,ObjectSize`, may reach s3s as one item.
        let names: Vec<String> = input
            .object_attributes
            .iter()
            .flat_map(|a| a.as_str().split(','))
            .map(|a| a.trim().to_string())
            .collect();
        const KNOWN: [&str; 5] = [
            ObjectAttributes::ETAG,
            ObjectAttributes::CHECKSUM,
            ObjectAttributes::OBJECT_PARTS,
            ObjectAttributes::STORAGE_CLASS,
            ObjectAttributes::OBJECT_SIZE,
        ];
        if names.is_empty() || names.iter().any(|n| !KNOWN.contains(&n.as_str())) {
            return Err(refuse(
                S3ErrorCode::InvalidArgument,
                "Invalid attribute name specified.",
            ));
        }
        let info = self
            .objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?
            .info;
        sse::open(&info.meta, customer!(input).key()?)?;
        let meta = &info.meta;
        let asked = |name: &str| names.iter().any(|n| n == name);
        let checksum = (asked(ObjectAttributes::CHECKSUM) && !meta.checksums.is_empty())
            .then(|| Checksums::object(meta, true).into_dto());
        let parts = meta
            .part_count()
            .filter(|_| asked(ObjectAttributes::OBJECT_PARTS))
            .map(|count| {
                let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as u32;
                let marker = input.part_number_marker.unwrap_or(0).max(0) as u32;
                let numbers: Vec<u32> = (marker + 1..=count).take(max as usize).collect();
                let truncated = numbers.last().is_some_and(|last| *last < count);
                GetObjectAttributesParts {
                    total_parts_count: Some(count as i32),
                    part_number_marker: input.part_number_marker,
                    next_part_number_marker: numbers.last().map(|n| *n as i32),
                    max_parts: Some(max as i32),
                    is_truncated: Some(truncated),
                    parts: Some(
                        numbers
                            .iter()
                            .map(|&n| {
                                let range = meta.part_range(n).unwrap_or(0..0);
                                let sums = Checksums::part(meta, n).unwrap_or_default();
                                ObjectPart {
                                    part_number: Some(n as i32),
                                    size: Some((range.end - range.start) as i64),
                                    checksum_crc32: sums.crc32,
                                    checksum_crc32c: sums.crc32c,
                                    checksum_crc64nvme: sums.crc64nvme,
                                    checksum_sha1: sums.sha1,
                                    checksum_sha256: sums.sha256,
                                }
                            })
                            .collect(),
                    ),
                }
            });
        Ok(S3Response::new(GetObjectAttributesOutput {
            e_tag: asked(ObjectAttributes::ETAG).then(|| etag_of(meta)),
            checksum,
            object_parts: parts,
            storage_class: asked(ObjectAttributes::STORAGE_CLASS)
                .then(|| StorageClass::from_static(StorageClass::STANDARD)),
            object_size: asked(ObjectAttributes::OBJECT_SIZE).then_some(meta.size as i64),
            last_modified: Some(timestamp(info.last_modified)),
            version_id: self.version_of(&input.bucket, meta),
            ..Default::default()
        }))
    }

    pub(super) async fn delete_object_(
        &self,
        req: S3Request<DeleteObjectInput>,
    ) -> Answer<DeleteObjectOutput> {
        let input = req.input;
        let deleted = self
            .objects
            .delete_object(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                input.bypass_governance_retention.unwrap_or(false),
            )
            .await
            .or_s3()?;
        let mut response = S3Response::new(DeleteObjectOutput {
            delete_marker: deleted.delete_marker.then_some(true),
            version_id: deleted.version_id,
            ..Default::default()
        });
        response.status = Some(http::StatusCode::NO_CONTENT);
        Ok(response)
    }

    pub(super) async fn delete_objects_(
        &self,
        req: S3Request<DeleteObjectsInput>,
    ) -> Answer<DeleteObjectsOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let objects = input.delete.objects;
        if objects.is_empty() || objects.len() > 1000 {
            return Err(malformed_xml());
        }
        let quiet = input.delete.quiet.unwrap_or(false);
        let bypass = input.bypass_governance_retention.unwrap_or(false);
        let mut deleted = Vec::new();
        let mut errors = Vec::new();
        for object in objects {
            let asked = object.version_id.as_deref();
            match self
                .objects
                .delete_object(&input.bucket, &object.key, asked, bypass)
                .await
            {
                Ok(done) => {
                    if !quiet {
                        // A marker added or removed is named as such; a
                        // version removed is named by the id asked for.
                        let marker = done.delete_marker.then(|| done.version_id.clone());
                        deleted.push(DeletedObject {
                            key: Some(object.key),
                            version_id: object.version_id,
                            delete_marker: done.delete_marker.then_some(true),
                            delete_marker_version_id: marker.flatten(),
                        });
                    }
                }
                Err(e) => {
                    let error = to_s3(e);
                    errors.push(Error {
                        code: Some(error.code().as_str().to_string()),
                        message: error.message().map(str::to_string),
                        key: Some(object.key),
                        version_id: object.version_id,
                    });
                }
            }
        }
        Ok(S3Response::new(DeleteObjectsOutput {
            deleted: Some(deleted),
            errors: (!errors.is_empty()).then_some(errors),
            ..Default::default()
        }))
    }

    pub(super) async fn copy_object_(
        &self,
        req: S3Request<CopyObjectInput>,
    ) -> Answer<CopyObjectOutput> {
        let input = req.input;
        self.existing(&input.bucket)?;
        let conditions = conditions!(source input);
        let Opened { info, file, .. } = self.open_source(&input.copy_source, &conditions).await?;
        let source_cipher = sse::open(&info.meta, customer!(source input).key()?)?;
        let chosen = self.choose_encryption(&input.bucket, sse_asked!(input))?;
        let CopySource::Bucket {
            bucket: source_bucket,
            key: source_key,
            ..
        } = &input.copy_source
        else {
            unreachable!("open_source takes buckets only")
        };
        let replace = input
            .metadata_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == MetadataDirective::REPLACE);
        let replace_tags = input
            .tagging_directive
            .as_ref()
            .is_some_and(|d| d.as_str() == TaggingDirective::REPLACE);
        let same = *input.bucket == **source_bucket && *input.key == **source_key;
        let encrypts =
            input.server_side_encryption.is_some() || input.sse_customer_algorithm.is_some();
        if same && !replace && !replace_tags && !encrypts {
            return Err(refuse(
                S3ErrorCode::InvalidRequest,
                "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
            ));
        }
        let mut meta = if replace {
            stored!(input).into_meta()
        } else {
            Meta {
                content_type: info.meta.content_type.clone(),
                headers: info.meta.headers.clone(),
                metadata: info.meta.metadata.clone(),
                ..Meta::default()
            }
        };
        meta.tags = if replace_tags {
            header_tags(input.tagging.as_deref())?
        } else {
            info.meta.tags.clone()
        };
        meta.encryption = chosen.record;
        let grants = acl::object_grants!(self, input, req.credentials.as_ref(), &mut meta)?;
        self.guard_new_object(&input.bucket, grants, lock_asked!(input), &mut meta)
            .await?;
        let body = match file {
            Some(file) if info.meta.size > 0 => {
                object_body(file, 0..info.meta.size, &info.meta, source_cipher)
            }
            _ => empty(),
        };
        let body = sse::encrypt(body, chosen.cipher, 1);
        let copied = self
            .objects
            .put(
                &input.bucket,
                &input.key,
                body,
                meta,
                &Default::default(),
                |_, _| Ok(()),
            )
            .await
            .or_s3()?;
        let sse = sse::answered(copied.meta.encryption.as_ref());
        Ok(S3Response::new(CopyObjectOutput {
            server_side_encryption: sse.server_side_encryption,
            sse_customer_algorithm: sse.sse_customer_algorithm,
            sse_customer_key_md5: sse.sse_customer_key_md5,
            ssekms_key_id: sse.ssekms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            copy_object_result: Some(CopyObjectResult {
                e_tag: Some(etag_of(&copied.meta)),
                last_modified: Some(timestamp(copied.last_modified)),
                ..Default::default()
            }),
            copy_source_version_id: self.version_of(source_bucket, &info.meta),
            version_id: written_version(&copied.meta),
            expiration: self.expiration_of(&input.bucket, &copied),
            ..Default::default()
        }))
    }

    /// Opens a copy's source, if its conditions hold.
    pub(super) async fn open_source(
        &self,
        source: &CopySource,
        conditions: &Conditions<'_>,
    ) -> S3Result<Opened> {
        let CopySource::Bucket {
            bucket,
            key,
            version_id,
        } = source
        else {
            return Err(refuse(
                S3ErrorCode::NotImplemented,
                "nuage copies only from buckets, not access points",
            ));
        };
        let opened = self
            .objects
            .open_version(bucket, key, version_id.as_deref())
            .await
            .or_s3()?;
        conditions.check_source(&opened.info)?;
        Ok(opened)
    }

    pub(super) async fn get_object_tagging_(
        &self,
        req: S3Request<GetObjectTaggingInput>,
    ) -> Answer<GetObjectTaggingOutput> {
        let input = req.input;
        let info = self
            .objects
            .open_version(&input.bucket, &input.key, input.version_id.as_deref())
            .await
            .or_s3()?
            .info;
        Ok(S3Response::new(GetObjectTaggingOutput {
            version_id: self.version_of(&input.bucket, &info.meta),
            tag_set: tag_set(info.meta.tags),
        }))
    }

    pub(super) async fn put_object_tagging_(
        &self,
        req: S3Request<PutObjectTaggingInput>,
    ) -> Answer<PutObjectTaggingOutput> {
        let input = req.input;
        let tags = tag_pairs(input.tagging.tag_set);
        check_tags(&tags, "InvalidTag")?;
        self.objects
            .set_tags(&input.bucket, &input.key, input.version_id.as_deref(), tags)
            .await
            .or_s3()?;
        Ok(S3Response::new(PutObjectTaggingOutput {
            version_id: input.version_id,
        }))
    }

    pub(super) async fn delete_object_tagging_(
        &self,
        req: S3Request<DeleteObjectTaggingInput>,
    ) -> Answer<DeleteObjectTaggingOutput> {
        let input = req.input;
        self.objects
            .set_tags(
                &input.bucket,
                &input.key,
                input.version_id.as_deref(),
                Vec::new(),
            )
            .await
            .or_s3()?;
        let mut response = S3Response::new(DeleteObjectTaggingOutput {
            version_id: input.version_id,
        });
        response.status = Some(http::StatusCode::NO_CONTENT);
        Ok(response)
    }
}
