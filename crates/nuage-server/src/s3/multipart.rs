//! Multipart uploads: create, upload (or copy) parts, list, complete with
//! S3's `md5-of-part-md5s-N` ETag, abort.

use nuage_lake::objects::{Opened, Upload};
use s3s::dto::*;
use s3s::{S3ErrorCode, S3Request, S3Response, S3Result};

use crate::s3::body::{Incoming, empty, object_body};
use crate::s3::checksums::{self, Checksums, Listed};
use crate::s3::errors::{OrS3, malformed_xml, refuse};
use crate::s3::objects::{header_tags, written_version};
use crate::s3::sse;
use crate::s3::users::object_owner;
use crate::s3::{Answer, NuageS3, timestamp};

/// S3's part numbers: 1 to 10,000.
fn part_number(number: i32) -> S3Result<u32> {
    u32::try_from(number)
        .ok()
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            refuse(
                S3ErrorCode::InvalidArgument,
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

/// `bytes=first-last` of UploadPartCopy, inside an object of `size` bytes.
fn copy_range(text: Option<&str>, size: u64) -> S3Result<std::ops::Range<u64>> {
    let Some(text) = text else {
        return Ok(0..size);
    };
    let invalid = || {
        refuse(
            S3ErrorCode::InvalidArgument,
            "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy",
        )
    };
    let (first, last) = text
        .trim()
        .strip_prefix("bytes=")
        .and_then(|r| r.split_once('-'))
        .ok_or_else(invalid)?;
    let first: u64 = first.parse().map_err(|_| invalid())?;
    let last: u64 = last.parse().map_err(|_| invalid())?;
    if first > last {
        return Err(invalid());
    }
    if last >= size {
        return Err(refuse(
            S3ErrorCode::InvalidRange,
            "The requested range is not satisfiable",
        ));
    }
    Ok(first..last + 1)
}

fn multipart_upload(s3: &NuageS3, upload: &Upload) -> MultipartUpload {
    let owner = s3.owner_named(object_owner(&upload.meta));
    MultipartUpload {
        key: Some(upload.key.clone()),
        upload_id: Some(upload.id.clone()),
        initiated: Some(timestamp(upload.initiated())),
        initiator: Some(Initiator {
            display_name: owner.display_name.clone(),
            id: owner.id.clone(),
        }),
        owner: Some(owner),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
    }
}

impl NuageS3 {
    pub(super) async fn create_multipart_upload_(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> Answer<CreateMultipartUploadOutput> {
        let input = req.input;
        let checksum = checksums::upload_checksum(
            input.checksum_algorithm.as_ref(),
            input.checksum_type.as_ref(),
        )?;
        let mut meta = stored!(input).into_meta();
        meta.tags = header_tags(input.tagging.as_deref())?;
        let chosen = self.choose_encryption(&input.bucket, sse_asked!(input))?;
        if chosen.cipher.is_some()
            && checksum
                .as_ref()
                .is_some_and(|(_, kind)| kind == "FULL_OBJECT")
        {
            return Err(refuse(
                S3ErrorCode::NotImplemented,
                "nuage cannot compute a FULL_OBJECT checksum over an SSE-C upload: use a COMPOSITE checksum or none",
            ));
        }
        meta.encryption = chosen.record;
        let answered = sse::answered(meta.encryption.as_ref());
        let grants =
            crate::s3::acl::object_grants!(self, input, req.credentials.as_ref(), &mut meta)?;
        self.guard_new_object(&input.bucket, grants, lock_asked!(input), &mut meta)
            .await?;
        let id = self
            .objects
            .create_upload(&input.bucket, &input.key, meta, checksum.clone())
            .await
            .or_s3()?;
        let (checksum_algorithm, checksum_type) = checksum
            .map(|(name, kind)| (ChecksumAlgorithm::from(name), ChecksumType::from(kind)))
            .unzip();
        Ok(S3Response::new(CreateMultipartUploadOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(id),
            checksum_algorithm,
            checksum_type,
            server_side_encryption: answered.server_side_encryption,
            sse_customer_algorithm: answered.sse_customer_algorithm,
            sse_customer_key_md5: answered.sse_customer_key_md5,
            ssekms_key_id: answered.ssekms_key_id,
            bucket_key_enabled: answered.bucket_key_enabled,
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_(
        &self,
        req: S3Request<UploadPartInput>,
    ) -> Answer<UploadPartOutput> {
        let input = req.input;
        let number = part_number(input.part_number)?;
        let upload = self
            .objects
            .upload(&input.bucket, &input.key, &input.upload_id)
            .await
            .or_s3()?;
        let cipher = sse::part_cipher(&upload.meta, customer!(input).key()?)?;
        let mut expected = expected!(input, &req.headers)?;
        expected.encrypted = cipher.is_some();
        let sent: Vec<&str> = expected
            .headers
            .iter()
            .map(|(n, _)| *n)
            .chain(expected.trailer)
            .collect();
        checksums::check_part_algorithm(&upload, &sent)?;
        if let Some((name, _)) = &upload.checksum {
            // Every part of the upload carries its algorithm's checksum.
            expected.requested = crate::s3::body::algorithm(name);
        }
        let (body, incoming) = Incoming::new(
            req.trailing_headers,
            &req.extensions,
            input.body,
            input.content_length,
            expected,
        );
        let body = sse::encrypt(body, cipher, number);
        let part = self
            .objects
            .put_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                number,
                body,
                |written, meta| incoming.finish(written, meta),
            )
            .await
            .or_s3()?;
        let sums = Checksums::of(&part.checksums, None);
        let sse = sse::answered(upload.meta.encryption.as_ref());
        Ok(S3Response::new(UploadPartOutput {
            e_tag: Some(ETag::Strong(part.etag)),
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
            ..Default::default()
        }))
    }

    pub(super) async fn upload_part_copy_(
        &self,
        req: S3Request<UploadPartCopyInput>,
    ) -> Answer<UploadPartCopyOutput> {
        let input = req.input;
        let number = part_number(input.part_number)?;
        let conditions = conditions!(source input);
        let Opened { info, file, .. } = self.open_source(&input.copy_source, &conditions).await?;
        let source_cipher = sse::open(&info.meta, customer!(source input).key()?)?;
        let upload = self
            .objects
            .upload(&input.bucket, &input.key, &input.upload_id)
            .await
            .or_s3()?;
        let cipher = sse::part_cipher(&upload.meta, customer!(input).key()?)?;
        let range = copy_range(input.copy_source_range.as_deref(), info.meta.size)?;
        let body = match file {
            Some(file) if range.end > range.start => {
                object_body(file, range, &info.meta, source_cipher)
            }
            _ => empty(),
        };
        let body = sse::encrypt(body, cipher, number);
        let part = self
            .objects
            .put_part(
                &input.bucket,
                &input.key,
                &input.upload_id,
                number,
                body,
                |_, _| Ok(()),
            )
            .await
            .or_s3()?;
        let sse = sse::answered(upload.meta.encryption.as_ref());
        Ok(S3Response::new(UploadPartCopyOutput {
            server_side_encryption: sse.server_side_encryption,
            sse_customer_algorithm: sse.sse_customer_algorithm,
            sse_customer_key_md5: sse.sse_customer_key_md5,
            ssekms_key_id: sse.ssekms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            copy_part_result: Some(CopyPartResult {
                e_tag: Some(ETag::Strong(part.etag)),
                last_modified: Some(timestamp(part.last_modified)),
                ..Default::default()
            }),
            ..Default::default()
        }))
    }

    pub(super) async fn complete_multipart_upload_(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> Answer<CompleteMultipartUploadOutput> {
        let input = req.input;
        // An SSE-C upload completes with its key, as S3 asks (a Complete
        // repeated after success finds no upload and answers as before).
        if let Ok(upload) = self
            .objects
            .upload(&input.bucket, &input.key, &input.upload_id)
            .await
        {
            sse::part_cipher(&upload.meta, customer!(input).key()?)?;
        }
        let parts = input
            .multipart_upload
            .and_then(|u| u.parts)
            .unwrap_or_default();
        if parts.is_empty() {
            return Err(malformed_xml());
        }
        let mut listed = Vec::with_capacity(parts.len());
        let mut sums = Listed {
            object: checksums::claims(
                input.checksum_crc32.as_ref(),
                input.checksum_crc32c.as_ref(),
                input.checksum_crc64nvme.as_ref(),
                input.checksum_sha1.as_ref(),
                input.checksum_sha256.as_ref(),
            ),
            ..Listed::default()
        };
        for part in parts {
            let number = part_number(part.part_number.unwrap_or(0))?;
            let etag = part
                .e_tag
                .map(|e| e.value().to_string())
                .unwrap_or_default();
            listed.push((number, etag));
            let given = checksums::claims(
                part.checksum_crc32.as_ref(),
                part.checksum_crc32c.as_ref(),
                part.checksum_crc64nvme.as_ref(),
                part.checksum_sha1.as_ref(),
                part.checksum_sha256.as_ref(),
            );
            sums.parts.insert(number, given);
        }
        let condition =
            super::objects::write_condition(input.if_match.as_ref(), input.if_none_match.as_ref());
        let info = self
            .objects
            .complete(
                &input.bucket,
                &input.key,
                &input.upload_id,
                listed,
                &condition,
                move |upload, parts, joined, meta| sums.seal(upload, parts, joined, meta),
            )
            .await
            .or_s3()?;
        let sums = Checksums::object(&info.meta, true);
        let version_id = written_version(&info.meta);
        let sse = sse::answered(info.meta.encryption.as_ref());
        let expiration = self.expiration_of(&input.bucket, &info);
        let mut response = S3Response::new(CompleteMultipartUploadOutput {
            server_side_encryption: sse.server_side_encryption,
            ssekms_key_id: sse.ssekms_key_id,
            bucket_key_enabled: sse.bucket_key_enabled,
            location: Some(format!("/{}/{}", input.bucket, input.key)),
            bucket: Some(input.bucket),
            key: Some(input.key),
            e_tag: Some(ETag::Strong(info.meta.etag)),
            checksum_crc32: sums.crc32,
            checksum_crc32c: sums.crc32c,
            checksum_crc64nvme: sums.crc64nvme,
            checksum_sha1: sums.sha1,
            checksum_sha256: sums.sha256,
            checksum_type: sums.kind,
            version_id,
            expiration,
            ..Default::default()
        });
        // S3 names an SSE-C object's key here too (s3s's output has no field).
        let customer = [
            (
                "x-amz-server-side-encryption-customer-algorithm",
                sse.sse_customer_algorithm,
            ),
            (
                "x-amz-server-side-encryption-customer-key-md5",
                sse.sse_customer_key_md5,
            ),
        ];
        for (name, value) in customer {
            if let Some(value) = value.and_then(|v| axum::http::HeaderValue::from_str(&v).ok()) {
                response.headers.insert(name, value);
            }
        }
        Ok(response)
    }

    pub(super) async fn abort_multipart_upload_(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> Answer<AbortMultipartUploadOutput> {
        let input = req.input;
        self.objects
            .abort(&input.bucket, &input.key, &input.upload_id)
            .await
            .or_s3()?;
        let mut response = S3Response::new(AbortMultipartUploadOutput::default());
        response.status = Some(axum::http::StatusCode::NO_CONTENT);
        Ok(response)
    }

    pub(super) async fn list_parts_(
        &self,
        req: S3Request<ListPartsInput>,
    ) -> Answer<ListPartsOutput> {
        let input = req.input;
        let (upload, parts) = self
            .objects
            .parts(&input.bucket, &input.key, &input.upload_id)
            .await
            .or_s3()?;
        let max = input.max_parts.unwrap_or(1000).clamp(0, 1000) as usize;
        let marker = input
            .part_number_marker
            .and_then(|m| u32::try_from(m).ok())
            .unwrap_or(0);
        let after: Vec<_> = parts.into_iter().filter(|p| p.number > marker).collect();
        let truncated = after.len() > max;
        let page: Vec<_> = after.into_iter().take(max).collect();
        let next = truncated
            .then(|| page.last().map(|p| p.number as i32))
            .flatten();
        let (checksum_algorithm, checksum_type) = upload
            .checksum
            .clone()
            .map(|(name, kind)| (ChecksumAlgorithm::from(name), ChecksumType::from(kind)))
            .unzip();
        Ok(S3Response::new(ListPartsOutput {
            bucket: Some(input.bucket),
            key: Some(input.key),
            upload_id: Some(upload.id.clone()),
            part_number_marker: input.part_number_marker,
            next_part_number_marker: next,
            max_parts: Some(max as i32),
            is_truncated: Some(truncated),
            initiator: multipart_upload(self, &upload).initiator,
            owner: Some(self.owner_named(object_owner(&upload.meta))),
            storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
            checksum_algorithm,
            checksum_type,
            parts: Some(
                page.into_iter()
                    .map(|p| {
                        let sums = Checksums::of(&p.checksums, None);
                        Part {
                            part_number: Some(p.number as i32),
                            e_tag: Some(ETag::Strong(p.etag)),
                            size: Some(p.size as i64),
                            last_modified: Some(timestamp(p.last_modified)),
                            checksum_crc32: sums.crc32,
                            checksum_crc32c: sums.crc32c,
                            checksum_crc64nvme: sums.crc64nvme,
                            checksum_sha1: sums.sha1,
                            checksum_sha256: sums.sha256,
                        }
                    })
                    .collect(),
            ),
            ..Default::default()
        }))
    }

    pub(super) async fn list_multipart_uploads_(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> Answer<ListMultipartUploadsOutput> {
        let input = req.input;
        let max = input.max_uploads.unwrap_or(1000).clamp(0, 1000) as usize;
        let prefix = input.prefix.clone().unwrap_or_default();
        let key_marker = input.key_marker.clone().unwrap_or_default();
        let id_marker = input.upload_id_marker.clone().unwrap_or_default();
        let uploads: Vec<Upload> = self
            .objects
            .uploads(&input.bucket)
            .await
            .or_s3()?
            .into_iter()
            .filter(|u| u.key.starts_with(&prefix))
            .filter(|u| {
                key_marker.is_empty()
                    || u.key > key_marker
                    || (u.key == key_marker && !id_marker.is_empty() && u.id > id_marker)
            })
            .collect();
        let truncated = uploads.len() > max;
        let page: Vec<_> = uploads.into_iter().take(max).collect();
        let last = page.last().filter(|_| truncated);
        Ok(S3Response::new(ListMultipartUploadsOutput {
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            next_key_marker: last.map(|u| u.key.clone()),
            next_upload_id_marker: last.map(|u| u.id.clone()),
            max_uploads: Some(max as i32),
            is_truncated: Some(truncated),
            delimiter: input.delimiter,
            encoding_type: input.encoding_type,
            uploads: Some(page.iter().map(|u| multipart_upload(self, u)).collect()),
            ..Default::default()
        }))
    }
}
