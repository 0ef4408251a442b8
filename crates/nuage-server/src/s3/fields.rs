//! Fields that several s3s inputs carry under the same names, read once
//! here rather than copied out field by field in each operation (s3s's
//! inputs are distinct types with no trait in common).

/// The headers stored with an object (PutObject, CopyObject,
/// CreateMultipartUpload), as [`crate::s3::objects::Stored`].
macro_rules! stored {
    ($input:expr) => {
        $crate::s3::objects::Stored {
            content_type: $input.content_type.map(|c| c.to_string()),
            cache_control: $input.cache_control,
            content_disposition: $input.content_disposition,
            content_encoding: $input.content_encoding,
            content_language: $input.content_language,
            expires: $input.expires,
            metadata: $input.metadata,
            website_redirect_location: $input.website_redirect_location,
        }
    };
}

/// A write's `x-amz-object-lock-*` headers, as [`crate::s3::lock::LockAsked`].
macro_rules! lock_asked {
    ($input:expr) => {
        $crate::s3::lock::LockAsked {
            mode: $input.object_lock_mode.as_ref(),
            until: $input.object_lock_retain_until_date.as_ref(),
            legal_hold: $input.object_lock_legal_hold_status.as_ref(),
        }
    };
}

/// The conditions of a GET or HEAD (`if_*`), or of a copy's source
/// (`copy_source_if_*`), as [`crate::s3::objects::Conditions`].
macro_rules! conditions {
    ($input:expr) => {
        $crate::s3::objects::Conditions {
            if_match: $input.if_match.as_ref(),
            if_none_match: $input.if_none_match.as_ref(),
            if_modified_since: $input.if_modified_since.as_ref(),
            if_unmodified_since: $input.if_unmodified_since.as_ref(),
        }
    };
    (source $input:expr) => {
        $crate::s3::objects::Conditions {
            if_match: $input.copy_source_if_match.as_ref(),
            if_none_match: $input.copy_source_if_none_match.as_ref(),
            if_modified_since: $input.copy_source_if_modified_since.as_ref(),
            if_unmodified_since: $input.copy_source_if_unmodified_since.as_ref(),
        }
    };
}

/// The digests an upload (PutObject, UploadPart) must match, as
/// [`crate::s3::body::Expected`].
macro_rules! expected {
    ($input:expr, $headers:expr) => {
        $crate::s3::body::Expected::from_request(
            $input.content_md5.as_deref(),
            [
                $input.checksum_crc32.as_ref(),
                $input.checksum_crc32c.as_ref(),
                $input.checksum_crc64nvme.as_ref(),
                $input.checksum_sha1.as_ref(),
                $input.checksum_sha256.as_ref(),
            ],
            $input.checksum_algorithm.as_ref(),
            $headers,
        )
    };
}

/// The response-* parameters of a GET or HEAD.
macro_rules! overrides {
    ($input:expr) => {
        $crate::s3::objects::Overrides {
            content_type: $input.response_content_type,
            cache_control: $input.response_cache_control,
            content_disposition: $input.response_content_disposition,
            content_encoding: $input.response_content_encoding,
            content_language: $input.response_content_language,
            expires: $input.response_expires,
        }
    };
}

/// The SSE-C headers of an input (`sse_customer_*`, or a copy's source
/// `copy_source_sse_customer_*`), as [`crate::s3::sse::CustomerHeaders`].
macro_rules! customer {
    ($input:expr) => {
        $crate::s3::sse::CustomerHeaders {
            algorithm: $input.sse_customer_algorithm.as_deref(),
            key: $input.sse_customer_key.as_deref(),
            key_md5: $input.sse_customer_key_md5.as_deref(),
        }
    };
    (source $input:expr) => {
        $crate::s3::sse::CustomerHeaders {
            algorithm: $input.copy_source_sse_customer_algorithm.as_deref(),
            key: $input.copy_source_sse_customer_key.as_deref(),
            key_md5: $input.copy_source_sse_customer_key_md5.as_deref(),
        }
    };
}

/// The encryption headers of a write (PutObject, CopyObject,
/// CreateMultipartUpload), as [`crate::s3::sse::Asked`].
macro_rules! sse_asked {
    ($input:expr) => {
        $crate::s3::sse::Asked {
            method: $input.server_side_encryption.as_ref().map(|s| s.as_str()),
            kms_key_id: $input.ssekms_key_id.as_deref(),
            kms_context: $input.ssekms_encryption_context.as_deref(),
            bucket_key: $input.bucket_key_enabled,
            customer: customer!($input),
        }
    };
}
