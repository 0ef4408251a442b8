//! The lifetime of a presigned URL, checked before any signature: SigV4's
//! `X-Amz-Date` + `X-Amz-Expires` (a whole number of seconds, at most a
//! week, as S3 requires) and SigV2's `Expires` (a Unix time). With access
//! keys s3s then verifies the signature; without them the keyless edge
//! drops the parameters ([`crate::s3::keyless`]).

use std::time::{Duration, SystemTime};

use axum::http::{StatusCode, Uri};

use crate::s3::errors::Refusal;

/// A week, the longest a SigV4 presigned URL may live.
const MAX_EXPIRES: i64 = 604_800;

/// Refuses a presigned URL that has expired or asks for a lifetime S3
/// never grants; any other request passes.
pub fn check_expiry(uri: &Uri) -> Result<(), Refusal> {
    let Some(query) = uri.query() else {
        return Ok(());
    };
    let mut date = None;
    let mut expires = None;
    let mut v2_expires = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "X-Amz-Date" => date = Some(value.into_owned()),
            "X-Amz-Expires" => expires = Some(value.into_owned()),
            "Expires" => v2_expires = Some(value.into_owned()),
            _ => {}
        }
    }
    let now = SystemTime::now();
    if let Some(expires) = expires {
        let seconds: i64 = expires.parse().map_err(|_| {
            denied(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires should be a number",
            )
        })?;
        if seconds < 0 {
            return Err(denied(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be non-negative",
            ));
        }
        if seconds > MAX_EXPIRES {
            return Err(denied(
                "AuthorizationQueryParametersError",
                "X-Amz-Expires must be less than a week (in seconds); that is, the given \
                 X-Amz-Expires must be less than 604800 seconds",
            ));
        }
        let Some(date) = date else {
            return Ok(());
        };
        let signed = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
            .map_err(|_| Refusal {
                status: StatusCode::BAD_REQUEST,
                code: "AuthorizationQueryParametersError",
                message: "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
            })?
            .and_utc();
        let until = SystemTime::from(signed).checked_add(Duration::from_secs(seconds as u64));
        if until.is_none_or(|until| now > until) {
            return Err(denied("AccessDenied", "Request has expired"));
        }
    } else if let Some(expires) = v2_expires.and_then(|e| e.parse::<i64>().ok())
        && SystemTime::UNIX_EPOCH
            .checked_add(Duration::from_secs(expires.max(0) as u64))
            .is_none_or(|until| now > until)
    {
        return Err(denied("AccessDenied", "Request has expired"));
    }
    Ok(())
}

/// S3 answers a presigned URL it will not honour with 403.
fn denied(code: &'static str, message: &'static str) -> Refusal {
    Refusal {
        status: StatusCode::FORBIDDEN,
        code,
        message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(query: &str) -> Uri {
        format!("/bucket/key?{query}").parse().unwrap()
    }

    fn now_amz() -> String {
        chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string()
    }

    #[test]
    fn lifetimes_outside_a_week_are_refused_with_403() {
        let date = now_amz();
        assert!(check_expiry(&uri(&format!("X-Amz-Date={date}&X-Amz-Expires=3600"))).is_ok());
        assert!(check_expiry(&uri(&format!("X-Amz-Date={date}&X-Amz-Expires=604800"))).is_ok());
        for bad in ["604801", "609901", "-7", "soon"] {
            let refusal = check_expiry(&uri(&format!("X-Amz-Date={date}&X-Amz-Expires={bad}")))
                .expect_err(bad);
            assert_eq!(refusal.status, StatusCode::FORBIDDEN, "{bad}");
            assert_eq!(refusal.code, "AuthorizationQueryParametersError", "{bad}");
        }
    }

    #[test]
    fn expired_urls_are_refused_and_others_pass() {
        let refusal = check_expiry(&uri("X-Amz-Date=20200101T000000Z&X-Amz-Expires=60"))
            .expect_err("expired");
        assert_eq!(refusal.code, "AccessDenied");
        let refusal = check_expiry(&uri("Expires=1000&Signature=x")).expect_err("v2 expired");
        assert_eq!(refusal.message, "Request has expired");
        let later = chrono::Utc::now().timestamp() + 600;
        assert!(check_expiry(&uri(&format!("Expires={later}&Signature=x"))).is_ok());
        assert!(check_expiry(&uri("prefix=a&max-keys=3")).is_ok());
        // The largest Unix time is far off, not an overflow.
        assert!(check_expiry(&uri("Expires=9223372036854775807&Signature=x")).is_ok());
        assert!(check_expiry(&"/bucket".parse().unwrap()).is_ok());
    }
}
