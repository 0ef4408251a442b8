//! ListObjects (v1) and ListObjectsV2 over one walk of the bucket
//! ([`nuage_lake::objects::ListQuery`]); ListObjectVersions over the lake's
//! versions ([`nuage_lake::objects::VersionQuery`]: in an unversioned
//! bucket each object is its only version, `null`, as S3 answers).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use nuage_lake::objects::{
    Entry, ListQuery, Listing, Meta, ObjectInfo, VersionEntry, VersionQuery,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::errors::{OrS3, refuse};
use crate::s3::users::object_owner;
use crate::s3::{Answer, NuageS3, timestamp};

/// S3's default and largest page.
const MAX_KEYS: i32 = 1000;

/// What `encoding-type=url` leaves as is: RFC 3986's unreserved
/// characters and '/', which S3 keeps readable (a space is %20, a '+' %2B,
/// as ceph/s3-tests' encoding tests expect).
const KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// How names are written back: as they are, or URL-encoded.
#[derive(Clone, Copy)]
struct Names {
    url: bool,
}

impl Names {
    fn new(encoding: Option<&EncodingType>) -> S3Result<Self> {
        match encoding.map(EncodingType::as_str) {
            None => Ok(Names { url: false }),
            Some(EncodingType::URL) => Ok(Names { url: true }),
            Some(_) => Err(refuse(
                S3ErrorCode::InvalidArgument,
                "Invalid Encoding Method specified in Request",
            )),
        }
    }

    fn write(self, name: &str) -> String {
        if self.url {
            utf8_percent_encode(name, KEEP).to_string()
        } else {
            name.to_string()
        }
    }

    fn opt(self, name: Option<&String>) -> Option<String> {
        name.filter(|n| !n.is_empty()).map(|n| self.write(n))
    }
}

fn max_keys(asked: Option<i32>) -> S3Result<usize> {
    match asked {
        None => Ok(MAX_KEYS as usize),
        Some(n) if n < 0 => Err(refuse(
            S3ErrorCode::InvalidArgument,
            "Provided max-keys not an integer or within integer range",
        )),
        Some(n) => Ok(n.min(MAX_KEYS) as usize),
    }
}

fn object(info: &ObjectInfo, names: Names, owner: Option<Owner>) -> Object {
    Object {
        key: Some(names.write(&info.key)),
        e_tag: Some(ETag::Strong(info.meta.etag.clone())),
        last_modified: Some(timestamp(info.last_modified)),
        size: Some(info.meta.size as i64),
        storage_class: Some(ObjectStorageClass::from_static(
            ObjectStorageClass::STANDARD,
        )),
        owner,
        checksum_algorithm: algorithms(&info.meta),
        ..Default::default()
    }
}

/// The algorithms of the checksums an object keeps, if any.
fn algorithms(meta: &Meta) -> Option<Vec<ChecksumAlgorithm>> {
    (!meta.checksums.is_empty()).then(|| {
        meta.checksums
            .keys()
            .map(|a| ChecksumAlgorithm::from(a.clone()))
            .collect()
    })
}

/// Splits a listing into objects and common prefixes.
fn split(listing: &Listing) -> (Vec<&ObjectInfo>, Vec<&str>) {
    let mut objects = Vec::new();
    let mut prefixes = Vec::new();
    for entry in &listing.entries {
        match entry {
            Entry::Object(info) => objects.push(info.as_ref()),
            Entry::Prefix(prefix) => prefixes.push(prefix.as_str()),
        }
    }
    (objects, prefixes)
}

fn common_prefixes(prefixes: &[&str], names: Names) -> Option<Vec<CommonPrefix>> {
    (!prefixes.is_empty()).then(|| {
        prefixes
            .iter()
            .map(|p| CommonPrefix {
                prefix: Some(names.write(p)),
            })
            .collect()
    })
}

impl NuageS3 {
    async fn walk(
        &self,
        bucket: &str,
        prefix: Option<&String>,
        delimiter: Option<&String>,
        after: Option<String>,
        max: usize,
    ) -> S3Result<Listing> {
        let query = ListQuery {
            prefix: prefix.cloned().unwrap_or_default(),
            delimiter: delimiter.filter(|d| !d.is_empty()).cloned(),
            after: after.filter(|a| !a.is_empty()),
            max,
        };
        self.objects.list(bucket, query).await.or_s3()
    }

    pub(super) async fn list_objects_(
        &self,
        req: S3Request<ListObjectsInput>,
    ) -> Answer<ListObjectsOutput> {
        let input = req.input;
        let names = Names::new(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let listing = self
            .walk(
                &input.bucket,
                input.prefix.as_ref(),
                input.delimiter.as_ref(),
                input.marker.clone(),
                max,
            )
            .await?;
        let (objects, prefixes) = split(&listing);
        // S3 sends NextMarker only with a delimiter; without one clients
        // continue from the last key.
        let next_marker = (listing.truncated && input.delimiter.is_some())
            .then(|| listing.entries.last().map(|e| names.write(e.name())))
            .flatten();
        Ok(S3Response::new(ListObjectsOutput {
            name: Some(input.bucket),
            // ListObjects (v1) echoes its prefix as given, even under
            // encoding-type=url (the SDKs decode every other name but this).
            prefix: Some(input.prefix.clone().unwrap_or_default()),
            marker: Some(names.opt(input.marker.as_ref()).unwrap_or_default()),
            max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
            is_truncated: Some(listing.truncated),
            contents: Some(
                objects
                    .iter()
                    .map(|o| object(o, names, Some(self.owner_named(object_owner(&o.meta)))))
                    .collect(),
            ),
            common_prefixes: common_prefixes(&prefixes, names),
            delimiter: names.opt(input.delimiter.as_ref()),
            next_marker,
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }

    pub(super) async fn list_objects_v2_(
        &self,
        req: S3Request<ListObjectsV2Input>,
    ) -> Answer<ListObjectsV2Output> {
        let input = req.input;
        let names = Names::new(input.encoding_type.as_ref())?;
        let max = max_keys(input.max_keys)?;
        let token = match &input.continuation_token {
            None => None,
            Some(token) => Some(decode_token(token)?),
        };
        // A continuation goes on from where the last page ended; StartAfter
        // matters on the first page.
        let after = token.or_else(|| input.start_after.clone());
        let listing = self
            .walk(
                &input.bucket,
                input.prefix.as_ref(),
                input.delimiter.as_ref(),
                after,
                max,
            )
            .await?;
        let (objects, prefixes) = split(&listing);
        let next = listing
            .truncated
            .then(|| listing.entries.last().map(|e| encode_token(e.name())))
            .flatten();
        let with_owner = input.fetch_owner.unwrap_or(false);
        Ok(S3Response::new(ListObjectsV2Output {
            name: Some(input.bucket),
            prefix: Some(names.opt(input.prefix.as_ref()).unwrap_or_default()),
            max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
            key_count: Some(listing.entries.len() as i32),
            continuation_token: input.continuation_token,
            is_truncated: Some(listing.truncated),
            next_continuation_token: next,
            contents: Some(
                objects
                    .iter()
                    .map(|o| {
                        let owner = with_owner.then(|| self.owner_named(object_owner(&o.meta)));
                        object(o, names, owner)
                    })
                    .collect(),
            ),
            common_prefixes: common_prefixes(&prefixes, names),
            delimiter: names.opt(input.delimiter.as_ref()),
            encoding_type: input.encoding_type,
            start_after: names.opt(input.start_after.as_ref()),
            ..Default::default()
        }))
    }

    /// Every version of every key, newest first within a key; delete
    /// markers apart from versions, as S3 lists them.
    pub(super) async fn list_object_versions_(
        &self,
        req: S3Request<ListObjectVersionsInput>,
    ) -> Answer<ListObjectVersionsOutput> {
        let input = req.input;
        let names = Names::new(input.encoding_type.as_ref())?;
        let query = VersionQuery {
            prefix: input.prefix.clone().unwrap_or_default(),
            delimiter: input.delimiter.clone().filter(|d| !d.is_empty()),
            key_marker: input.key_marker.clone(),
            version_id_marker: input.version_id_marker.clone(),
            max: max_keys(input.max_keys)?,
        };
        let listing = self
            .objects
            .list_versions(&input.bucket, query)
            .await
            .or_s3()?;
        let mut versions = Vec::new();
        let mut markers = Vec::new();
        let mut prefixes = Vec::new();
        for entry in &listing.entries {
            match entry {
                VersionEntry::Prefix(prefix) => prefixes.push(prefix.as_str()),
                VersionEntry::Version(v) if v.info.meta.delete_marker => {
                    markers.push(DeleteMarkerEntry {
                        key: Some(names.write(&v.info.key)),
                        version_id: Some(v.id().to_string()),
                        is_latest: Some(v.latest),
                        last_modified: Some(timestamp(v.info.last_modified)),
                        owner: Some(self.owner_named(object_owner(&v.info.meta))),
                    })
                }
                VersionEntry::Version(v) => versions.push(ObjectVersion {
                    key: Some(names.write(&v.info.key)),
                    version_id: Some(v.id().to_string()),
                    is_latest: Some(v.latest),
                    e_tag: Some(ETag::Strong(v.info.meta.etag.clone())),
                    last_modified: Some(timestamp(v.info.last_modified)),
                    size: Some(v.info.meta.size as i64),
                    storage_class: Some(ObjectVersionStorageClass::from_static(
                        ObjectVersionStorageClass::STANDARD,
                    )),
                    owner: Some(self.owner_named(object_owner(&v.info.meta))),
                    checksum_algorithm: algorithms(&v.info.meta),
                    ..Default::default()
                }),
            }
        }
        let truncated = listing.truncated;
        Ok(S3Response::new(ListObjectVersionsOutput {
            name: Some(input.bucket),
            prefix: Some(names.opt(input.prefix.as_ref()).unwrap_or_default()),
            key_marker: Some(names.opt(input.key_marker.as_ref()).unwrap_or_default()),
            version_id_marker: Some(input.version_id_marker.unwrap_or_default()),
            max_keys: Some(input.max_keys.unwrap_or(MAX_KEYS)),
            is_truncated: Some(truncated),
            next_key_marker: listing
                .next_key_marker
                .filter(|_| truncated)
                .map(|k| names.write(&k)),
            next_version_id_marker: listing.next_version_id_marker.filter(|_| truncated),
            versions: (!versions.is_empty()).then_some(versions),
            delete_markers: (!markers.is_empty()).then_some(markers),
            common_prefixes: common_prefixes(&prefixes, names),
            delimiter: names.opt(input.delimiter.as_ref()),
            encoding_type: input.encoding_type,
            ..Default::default()
        }))
    }
}

/// Continuation tokens are opaque to clients: the last name, in base64.
fn encode_token(name: &str) -> String {
    URL_SAFE_NO_PAD.encode(name)
}

fn decode_token(token: &str) -> S3Result<String> {
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            refuse(
                S3ErrorCode::InvalidArgument,
                "The continuation token provided is incorrect",
            )
        })
}
