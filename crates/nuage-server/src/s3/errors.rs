//! The lake's refusals as S3's error documents: AWS's codes and, where AWS
//! documents one, its message.

use axum::http;
use nuage_lake::objects::ObjectError;
use s3s::{S3Error, S3ErrorCode};

pub fn to_s3(error: ObjectError) -> S3Error {
    use S3ErrorCode as C;
    let (code, message): (S3ErrorCode, String) = match &error {
        ObjectError::NoSuchBucket(_) => (
            C::NoSuchBucket,
            "The specified bucket does not exist".into(),
        ),
        ObjectError::BucketAlreadyExists(_) => (
            C::BucketAlreadyOwnedByYou,
            "Your previous request to create the named bucket succeeded and you already own it."
                .into(),
        ),
        ObjectError::BucketNotEmpty(_) => (
            C::BucketNotEmpty,
            "The bucket you tried to delete is not empty".into(),
        ),
        ObjectError::InvalidBucketName { .. } => (
            C::InvalidBucketName,
            "The specified bucket is not valid.".into(),
        ),
        ObjectError::NoSuchKey(_) => (C::NoSuchKey, "The specified key does not exist.".into()),
        ObjectError::NoSuchVersion { .. } => (
            C::NoSuchVersion,
            "The specified version does not exist.".into(),
        ),
        ObjectError::DeleteMarker {
            version_id,
            last_modified,
            asked,
            ..
        } => return delete_marker(version_id, *last_modified, *asked),
        ObjectError::Locked(message) => (C::AccessDenied, message.clone()),
        ObjectError::InvalidBucketState(message) => (C::InvalidBucketState, message.clone()),
        ObjectError::InvalidVersionId(_) => {
            (C::InvalidArgument, "Invalid version id specified".into())
        }
        ObjectError::PreconditionFailed(_) => (
            C::PreconditionFailed,
            "At least one of the pre-conditions you specified did not hold".into(),
        ),
        ObjectError::InvalidKey { .. } | ObjectError::KeyConflict { .. } => {
            (C::InvalidArgument, error.to_string())
        }
        ObjectError::KeyTooLong { .. } => (C::KeyTooLongError, "Your key is too long".into()),
        ObjectError::NoSuchUpload(_) => (
            C::NoSuchUpload,
            "The specified upload does not exist. The upload ID may be invalid, or the upload \
             may have been aborted or completed."
                .into(),
        ),
        ObjectError::InvalidPart(message) => (C::InvalidPart, message.clone()),
        ObjectError::InvalidPartOrder => (
            C::InvalidPartOrder,
            "The list of parts was not in ascending order. The parts list must be specified in \
             order by part number."
                .into(),
        ),
        ObjectError::EntityTooSmall { .. } => (
            C::EntityTooSmall,
            "Your proposed upload is smaller than the minimum allowed object size.".into(),
        ),
        ObjectError::MetadataTooLarge => (C::MetadataTooLarge, error.to_string()),
        ObjectError::BadDigest(message) => (C::BadDigest, message.clone()),
        ObjectError::InvalidRequest(message) => (C::InvalidRequest, message.clone()),
        ObjectError::IncompleteBody(_) => (
            C::IncompleteBody,
            "You did not provide the number of bytes specified by the Content-Length HTTP header"
                .into(),
        ),
        ObjectError::Io { .. } => {
            tracing::error!("s3: {error}");
            (
                C::InternalError,
                format!("nuage could not reach the lake: {error}"),
            )
        }
    };
    S3Error::with_message(code, message)
}

/// A delete marker where an object was asked for: as if deleted (404
/// NoSuchKey) when it is the latest version, 405 MethodNotAllowed when its
/// version was asked for; either way with `x-amz-delete-marker: true` and
/// its version id.
fn delete_marker(version_id: &str, last_modified: std::time::SystemTime, asked: bool) -> S3Error {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-amz-delete-marker",
        http::HeaderValue::from_static("true"),
    );
    if let Ok(id) = http::HeaderValue::from_str(version_id) {
        headers.insert("x-amz-version-id", id);
    }
    let mut error = if asked {
        let mut date = Vec::new();
        let time = s3s::dto::Timestamp::from(last_modified);
        let formatted = time.format(s3s::dto::TimestampFormat::HttpDate, &mut date);
        if formatted.is_ok()
            && let Ok(date) = http::HeaderValue::from_bytes(&date)
        {
            headers.insert(http::header::LAST_MODIFIED, date);
        }
        S3Error::with_message(
            S3ErrorCode::MethodNotAllowed,
            "The specified method is not allowed against this resource.",
        )
    } else {
        S3Error::with_message(S3ErrorCode::NoSuchKey, "The specified key does not exist.")
    };
    error.set_headers(headers);
    error
}

/// `Result` of lake calls, mapped.
pub trait OrS3<T> {
    fn or_s3(self) -> s3s::S3Result<T>;
}

impl<T> OrS3<T> for Result<T, ObjectError> {
    fn or_s3(self) -> s3s::S3Result<T> {
        self.map_err(to_s3)
    }
}

/// An S3 error with AWS's code and our message.
pub fn refuse(code: S3ErrorCode, message: impl Into<String>) -> S3Error {
    S3Error::with_message(code, message.into())
}

/// S3's MalformedXML: a body that is not the document the operation takes.
pub fn malformed_xml() -> S3Error {
    refuse(
        S3ErrorCode::MalformedXML,
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

/// An error code s3s does not list (BadRequest, InvalidPartNumber), with
/// the status S3 answers it with.
pub fn refuse_custom(
    code: &'static str,
    status: axum::http::StatusCode,
    message: impl Into<String>,
) -> S3Error {
    let mut error = S3Error::with_message(S3ErrorCode::Custom(code.into()), message.into());
    error.set_status_code(status);
    error
}

/// A request refused before s3s sees it (keyless signatures, CORS
/// preflights, a remote lake), answered as S3's XML error document.
#[derive(Debug)]
pub struct Refusal {
    pub status: axum::http::StatusCode,
    pub code: &'static str,
    pub message: &'static str,
}

impl axum::response::IntoResponse for Refusal {
    fn into_response(self) -> axum::response::Response {
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message></Error>",
            self.code, self.message
        );
        (
            self.status,
            [(axum::http::header::CONTENT_TYPE, "application/xml")],
            body,
        )
            .into_response()
    }
}
