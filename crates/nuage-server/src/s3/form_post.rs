//! Browser form uploads (POST Object) as S3 takes and answers them. s3s
//! parses the form, verifies its signature and checks its signed policy;
//! around it the edge does what S3 does and s3s does not:
//!
//! - before: reads the form's fields (they come before the file, which
//!   S3 requires to be the last field) and refuses a policy without a
//!   signature (400), an `expiration` that is not an ISO 8601 time (400)
//!   and a `bucket` field naming another bucket than the URL (403); and
//!   puts the file's name in place of `${filename}` in the key, before the
//!   policy sees the key; without access keys takes the signature field
//!   off (as the keyless edge takes signatures off headers: the policy's
//!   conditions are still checked); hands the `tagging` field (S3's XML tag set,
//!   which s3s does not read) to the PUT as a request extension
//!   ([`FormTagging`]) ([`prepare`]);
//! - after: a failed policy condition, which s3s reports as 400
//!   InvalidPolicyDocument, is S3's 403 AccessDenied ("Invalid according
//!   to Policy: ..."), and the ETag appended to a `success_action_redirect`
//!   URL keeps its quotes (`etag=%22...%22`) ([`as_s3_answers`]).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use crate::s3::errors::Refusal;

/// The most form bytes read ahead looking for the file field; a form whose
/// fields are longer goes to s3s as it is (and s3s refuses it).
const FIELDS_LIMIT: usize = 64 << 10;

/// A form field read ahead: its name, value, and where its value lies in
/// the bytes read.
struct Field {
    name: String,
    value: String,
    at: std::ops::Range<usize>,
    /// The whole part: from its delimiter to the next one.
    part: std::ops::Range<usize>,
}

/// A form's `tagging` field: the object's tags as S3's `<Tagging>` XML.
#[derive(Debug, Clone)]
pub struct FormTagging(pub String);

/// The form's boundary, from its Content-Type.
fn boundary(headers: &HeaderMap) -> Option<String> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    let (_, rest) = content_type.split_once("boundary=")?;
    let boundary = rest.split(';').next()?.trim().trim_matches('"');
    (!boundary.is_empty()).then(|| boundary.to_string())
}

/// The fields before the file in `bytes` and the file's name, once the
/// file's part headers are in `bytes` (`None` before that).
fn fields_before_file(bytes: &[u8], boundary: &str) -> Option<(Vec<Field>, String)> {
    let delimiter = format!("--{boundary}");
    let finder = memchr::memmem::Finder::new(delimiter.as_bytes());
    let mut fields = Vec::new();
    let mut part_start = finder.find(bytes)?;
    loop {
        // After a delimiter: CRLF, the part's headers, a blank line.
        let part = part_start + delimiter.len() + 2;
        let headers_end = memchr::memmem::find(bytes.get(part..)?, b"\r\n\r\n")? + part;
        let headers = String::from_utf8_lossy(&bytes[part..headers_end]);
        let disposition = headers
            .split("\r\n")
            .find(|h| h.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let name = parameter(disposition, "name")?;
        if name.eq_ignore_ascii_case("file") {
            let filename = parameter(disposition, "filename").unwrap_or_default();
            return Some((fields, filename));
        }
        let start = headers_end + 4;
        let next = finder.find(&bytes[start..])? + start;
        let end = next.checked_sub(2).filter(|&e| e >= start)?;
        fields.push(Field {
            name,
            value: String::from_utf8_lossy(&bytes[start..end]).into_owned(),
            at: start..end,
            part: part_start..next,
        });
        part_start = next;
    }
}

/// A Content-Disposition parameter (`name="key"`).
fn parameter(disposition: &str, wanted: &str) -> Option<String> {
    disposition.split(';').skip(1).find_map(|p| {
        let (name, value) = p.trim().split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case(wanted)
            .then(|| value.trim().trim_matches('"').to_string())
    })
}

/// Reads a form upload's fields ahead and applies S3's rules s3s does not
/// (see the module); any other request passes untouched.
pub async fn prepare(
    request: Request,
    url_bucket: Option<&str>,
    keyless: bool,
) -> Result<Request, Refusal> {
    let Some(boundary) = boundary(request.headers()) else {
        return Ok(request);
    };
    let (mut parts, body) = request.into_parts();
    let mut stream = body.into_data_stream();
    let mut read = BytesMut::new();
    let mut found = None;
    while read.len() <= FIELDS_LIMIT {
        if let Some(fields) = fields_before_file(&read, &boundary) {
            found = Some(fields);
            break;
        }
        match stream.next().await {
            Some(Ok(chunk)) => read.extend_from_slice(&chunk),
            Some(Err(_)) | None => break,
        }
    }
    let mut read = read.freeze();
    if let Some((fields, filename)) = found {
        check(&fields, url_bucket)?;
        if let Some(tagging) = fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case("tagging"))
        {
            parts.extensions.insert(FormTagging(tagging.value.clone()));
        }
        // Edits of the bytes read: (range, replacement), in form order.
        let mut edits: Vec<(std::ops::Range<usize>, Vec<u8>)> = Vec::new();
        for field in &fields {
            if field.name.eq_ignore_ascii_case("key") && field.value.contains("${filename}") {
                let named = field.value.replace("${filename}", &filename);
                edits.push((field.at.clone(), named.into_bytes()));
            }
            // Without keys the server verifies no signature (as it takes
            // them off headers): the form goes on unsigned, its policy
            // still checked.
            let signature = field.name.eq_ignore_ascii_case("signature")
                || field.name.eq_ignore_ascii_case("x-amz-signature");
            if keyless && signature {
                edits.push((field.part.clone(), Vec::new()));
            }
        }
        if !edits.is_empty() {
            let mut rewritten = BytesMut::with_capacity(read.len());
            let mut from = 0;
            for (range, replacement) in &edits {
                rewritten.extend_from_slice(&read[from..range.start]);
                rewritten.extend_from_slice(replacement);
                from = range.end;
            }
            rewritten.extend_from_slice(&read[from..]);
            let grown = rewritten.len() as i64 - read.len() as i64;
            if let Some(length) = parts
                .headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
            {
                parts
                    .headers
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(length + grown));
            }
            read = rewritten.freeze();
        }
    }
    let rest = futures::stream::once(async move { Ok::<Bytes, axum::Error>(read) }).chain(stream);
    Ok(Request::from_parts(parts, Body::from_stream(rest)))
}

/// S3's refusals of a form's fields that s3s lets through.
fn check(fields: &[Field], url_bucket: Option<&str>) -> Result<(), Refusal> {
    let field = |name: &str| {
        fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    };
    if let Some(policy) = field("policy") {
        if field("signature").is_none() && field("x-amz-signature").is_none() {
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidArgument",
                message: "Bucket POST must contain a field named 'Signature'.  If it is \
                          specified, please check the order of the fields.",
            });
        }
        let document = base64::engine::general_purpose::STANDARD
            .decode(policy.trim())
            .ok()
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok());
        let expiration = document
            .as_ref()
            .and_then(|d| d.get("expiration"))
            .and_then(|e| e.as_str());
        if let Some(expiration) = expiration
            && !is_iso8601(expiration)
        {
            return Err(Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "InvalidPolicyDocument",
                message: "Invalid Policy: Invalid 'expiration' value: it must be an ISO 8601 \
                          time such as 2007-12-01T12:00:00.000Z",
            });
        }
    }
    if let (Some(named), Some(url_bucket)) = (field("bucket"), url_bucket)
        && named != url_bucket
    {
        return Err(Refusal {
            status: StatusCode::FORBIDDEN,
            code: "AccessDenied",
            message: "Invalid according to Policy: the form's bucket field names another \
                      bucket than the one it is posted to",
        });
    }
    Ok(())
}

/// `2007-12-01T12:00:00Z` or with fractions of a second
/// (`2007-12-01T12:00:00.000Z`), as S3 wants a policy's expiration.
fn is_iso8601(time: &str) -> bool {
    let Some(body) = time.strip_suffix('Z') else {
        return false;
    };
    let (seconds, fraction) = body.split_once('.').unwrap_or((body, "0"));
    chrono::NaiveDateTime::parse_from_str(seconds, "%Y-%m-%dT%H:%M:%S").is_ok()
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Is this a form upload: a multipart POST (to a bucket)?
pub fn is_form_post(method: &Method, headers: &HeaderMap) -> bool {
    method == Method::POST
        && headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The answer to a form upload, in S3's words (see the module).
pub async fn as_s3_answers(response: Response) -> Response {
    match response.status() {
        StatusCode::SEE_OTHER => quoted_redirect_etag(response),
        StatusCode::BAD_REQUEST => policy_refusal(response).await,
        _ => response,
    }
}

fn quoted_redirect_etag(mut response: Response) -> Response {
    let Some(location) = response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| url::Url::parse(v).ok())
    else {
        return response;
    };
    let pairs: Vec<(String, String)> = location
        .query_pairs()
        .map(|(k, v)| {
            let quoted = k == "etag" && !v.starts_with('"');
            let v = if quoted {
                format!("\"{v}\"")
            } else {
                v.into_owned()
            };
            (k.into_owned(), v)
        })
        .collect();
    let mut location = location;
    location.query_pairs_mut().clear().extend_pairs(pairs);
    if let Ok(value) = HeaderValue::from_str(location.as_str()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn policy_refusal(response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let text = String::from_utf8_lossy(&bytes);
    let message = text
        .split_once("<Message>")
        .and_then(|(_, rest)| rest.split_once("</Message>"))
        .map(|(message, _)| message);
    let Some(message) = message.filter(|m| {
        text.contains("<Code>InvalidPolicyDocument</Code>") && m.starts_with("Policy condition")
    }) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    // `message` is already XML-escaped: it goes back in as it is.
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>\
         <Message>Invalid according to Policy: {message}</Message></Error>"
    );
    parts.status = StatusCode::FORBIDDEN;
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(document))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(fields: &[(&str, &str)], filename: &str, file: &str) -> Request {
        let mut body = String::new();
        for (name, value) in fields {
            body += &format!(
                "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            );
        }
        body += &format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n\
             Content-Type: text/plain\r\n\r\n{file}\r\n--XyZ--\r\n"
        );
        Request::builder()
            .method(Method::POST)
            .uri("/bucket")
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XyZ")
            .header(header::CONTENT_LENGTH, body.len())
            .body(Body::from(body))
            .unwrap()
    }

    /// The prepared form's body, which its Content-Length must count.
    async fn body_of(prepared: Request) -> String {
        let length: usize = prepared.headers()[header::CONTENT_LENGTH]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let body = axum::body::to_bytes(prepared.into_body(), usize::MAX)
            .await
            .unwrap();
        assert_eq!(body.len(), length);
        String::from_utf8(body.to_vec()).unwrap()
    }

    fn policy(expiration: &str) -> String {
        let json = format!(r#"{{"expiration": "{expiration}", "conditions": []}}"#);
        base64::engine::general_purpose::STANDARD.encode(json)
    }

    #[tokio::test]
    async fn the_file_name_takes_the_place_of_filename_in_the_key() {
        let tagging = "<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>";
        let request = form(
            &[
                ("key", "uploads/${filename}"),
                ("tagging", tagging),
                ("acl", "private"),
            ],
            "foo.txt",
            "bar",
        );
        let prepared = prepare(request, Some("bucket"), false).await.unwrap();
        let handed = prepared
            .extensions()
            .get::<FormTagging>()
            .map(|t| t.0.clone());
        assert_eq!(handed.as_deref(), Some(tagging));
        let body = body_of(prepared).await;
        assert!(
            body.contains("name=\"key\"\r\n\r\nuploads/foo.txt\r\n--XyZ"),
            "{body}"
        );
        assert!(body.ends_with(
            "filename=\"foo.txt\"\r\nContent-Type: text/plain\r\n\r\nbar\r\n--XyZ--\r\n"
        ));
    }

    #[tokio::test]
    async fn without_keys_a_signed_form_goes_on_unsigned_with_its_policy() {
        let policy = policy("2030-01-01T00:00:00.000Z");
        let request = form(
            &[
                ("key", "k"),
                ("policy", &policy),
                ("x-amz-signature", "abc123"),
                ("acl", "private"),
            ],
            "f",
            "x",
        );
        let prepared = prepare(request, Some("bucket"), true).await.unwrap();
        let body = body_of(prepared).await;
        assert!(
            !body.contains("x-amz-signature") && !body.contains("abc123"),
            "{body}"
        );
        assert!(
            body.contains(&format!("name=\"policy\"\r\n\r\n{policy}\r\n--XyZ\r\n")),
            "{body}"
        );
        assert!(
            body.contains("name=\"acl\"\r\n\r\nprivate\r\n--XyZ\r\n"),
            "{body}"
        );
        let fields = fields_before_file(body.as_bytes(), "XyZ").unwrap().0;
        let names: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["key", "policy", "acl"]);
    }

    #[tokio::test]
    async fn forms_s3_refuses_are_refused() {
        let good = policy("2030-01-01T00:00:00.000Z");
        let unsigned = form(&[("key", "k"), ("policy", &good)], "f", "x");
        let refusal = prepare(unsigned, Some("bucket"), false).await.unwrap_err();
        assert_eq!(
            (refusal.status, refusal.code),
            (StatusCode::BAD_REQUEST, "InvalidArgument")
        );

        let loose = policy("2030-01-01 00:00:00+00:00");
        let dated = form(
            &[("key", "k"), ("policy", &loose), ("signature", "s")],
            "f",
            "x",
        );
        let refusal = prepare(dated, Some("bucket"), false).await.unwrap_err();
        assert_eq!(refusal.code, "InvalidPolicyDocument");

        let elsewhere = form(&[("key", "k"), ("bucket", "other")], "f", "x");
        let refusal = prepare(elsewhere, Some("bucket"), false).await.unwrap_err();
        assert_eq!(
            (refusal.status, refusal.code),
            (StatusCode::FORBIDDEN, "AccessDenied")
        );

        let fine = form(
            &[
                ("key", "k"),
                ("bucket", "bucket"),
                ("policy", &good),
                ("x-amz-signature", "s"),
            ],
            "f",
            "x",
        );
        assert!(prepare(fine, Some("bucket"), false).await.is_ok());
        assert!(is_iso8601("2030-01-01T00:00:00Z"));
        assert!(!is_iso8601("2030-01-01T00:00:00"));
    }

    #[tokio::test]
    async fn a_failed_policy_condition_is_access_denied() {
        let refused = Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InvalidPolicyDocument</Code>\
                 <Message>Policy condition &apos;eq&apos; for field &apos;bucket&apos; failed</Message></Error>",
            ))
            .unwrap();
        let answer = as_s3_answers(refused).await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("<Code>AccessDenied</Code>"), "{body}");
        assert!(
            body.contains("<Message>Invalid according to Policy: Policy condition &apos;eq&apos;"),
            "{body}"
        );

        // Other refusals keep their words.
        let malformed = Response::builder()
            .status(StatusCode::BAD_REQUEST)
            .body(Body::from(
                "<Error><Code>MalformedPOSTRequest</Code><Message>x</Message></Error>",
            ))
            .unwrap();
        assert_eq!(
            as_s3_answers(malformed).await.status(),
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn the_redirect_carries_the_quoted_etag() {
        let redirect = Response::builder()
            .status(StatusCode::SEE_OTHER)
            .header(
                header::LOCATION,
                "http://example.com/done?x=1&bucket=b&key=foo.txt&etag=37b51d194a7513e45b56f6524f2d51f2",
            )
            .body(Body::empty())
            .unwrap();
        let answer = as_s3_answers(redirect).await;
        assert_eq!(
            answer.headers()[header::LOCATION],
            "http://example.com/done?x=1&bucket=b&key=foo.txt&etag=%2237b51d194a7513e45b56f6524f2d51f2%22"
        );
    }
}
