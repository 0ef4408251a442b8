//! The time a signed request says it was made, checked as S3 checks it
//! before the signature. SigV2 (`Authorization: AWS id:signature`) dates a
//! request with `x-amz-date`, else `Date`: one that cannot be read (or
//! lies before 1970) is 403 AccessDenied, one more than 15 minutes from
//! the server's clock 403 RequestTimeTooSkewed; s3s checks neither. SigV4
//! may date a request with `Date` alone (botocore does when the caller
//! sets one); s3s wants `x-amz-date`, so the edge copies the time there.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};

use crate::s3::errors::Refusal;

/// How far a request's time may be from the server's (S3: 15 minutes).
const MAX_SKEW: i64 = 15 * 60;

/// A signed request with its date checked (SigV2) or carried where s3s
/// reads it (SigV4); any other request passes untouched.
pub fn check(mut request: Request) -> Result<Request, Refusal> {
    let auth = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth.starts_with("AWS ") {
        let stated = request
            .headers()
            .get("x-amz-date")
            .or_else(|| request.headers().get(header::DATE));
        let time = stated
            .and_then(|v| v.to_str().ok())
            .and_then(http_date)
            .filter(|t| t.timestamp() >= 0)
            .ok_or(Refusal {
                status: StatusCode::FORBIDDEN,
                code: "AccessDenied",
                message: "AWS authentication requires a valid Date or x-amz-date header",
            })?;
        if (chrono::Utc::now().timestamp() - time.timestamp()).abs() > MAX_SKEW {
            return Err(Refusal {
                status: StatusCode::FORBIDDEN,
                code: "RequestTimeTooSkewed",
                message: "The difference between the request time and the current time is too large.",
            });
        }
    } else if auth.starts_with("AWS4-HMAC-SHA256") && !request.headers().contains_key("x-amz-date")
    {
        let basic = request
            .headers()
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(http_date)
            .map(|t| {
                t.with_timezone(&chrono::Utc)
                    .format("%Y%m%dT%H%M%SZ")
                    .to_string()
            });
        if let Some(value) = basic.and_then(|b| HeaderValue::from_str(&b).ok()) {
            request.headers_mut().insert("x-amz-date", value);
        }
    }
    Ok(request)
}

/// An HTTP date (`Tue, 07 Jul 2010 21:53:04 GMT`), its weekday not
/// checked against the date (S3 does not either).
fn http_date(text: &str) -> Option<chrono::DateTime<chrono::FixedOffset>> {
    let text = text.trim();
    let dated = text.split_once(", ").map_or(text, |(_, rest)| rest);
    chrono::DateTime::parse_from_rfc2822(dated).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn signed(auth: &str, headers: &[(&str, &str)]) -> Request {
        let mut request = Request::builder()
            .uri("/bucket/key")
            .header(header::AUTHORIZATION, auth);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::empty()).unwrap()
    }

    #[test]
    fn sigv2_dates_are_checked_before_the_signature() {
        let now = chrono::Utc::now().to_rfc2822();
        let v2 = "AWS AKID:c2lnbmF0dXJl";
        assert!(check(signed(v2, &[("date", &now)])).is_ok());
        assert!(check(signed(v2, &[("x-amz-date", &now), ("date", "garbage")])).is_ok());
        for (date, code) in [
            ("Bad Date", "AccessDenied"),
            ("", "AccessDenied"),
            ("Tue, 07 Jul 1950 21:53:04 GMT", "AccessDenied"),
            ("Tue, 07 Jul 2010 21:53:04 GMT", "RequestTimeTooSkewed"),
            ("Tue, 07 Jul 9999 21:53:04 GMT", "RequestTimeTooSkewed"),
        ] {
            let refusal = check(signed(v2, &[("x-amz-date", date)])).expect_err(date);
            assert_eq!(
                (refusal.status, refusal.code),
                (StatusCode::FORBIDDEN, code),
                "{date}"
            );
        }
        let refusal = check(signed(v2, &[])).expect_err("no date");
        assert_eq!(refusal.code, "AccessDenied");
    }

    #[test]
    fn a_sigv4_request_dated_by_date_gets_its_x_amz_date() {
        let v4 = "AWS4-HMAC-SHA256 Credential=AKID/20261205/us-east-1/s3/aws4_request, SignedHeaders=date;host, Signature=0";
        let request = check(signed(v4, &[("date", "Sat, 05 Dec 2026 01:30:46 GMT")])).unwrap();
        assert_eq!(request.headers()["x-amz-date"], "20261205T013046Z");
        let unsigned = check(Request::new(Body::empty())).unwrap();
        assert!(!unsigned.headers().contains_key("x-amz-date"));
    }
}
