//! One text field as a value of a Hive type, with Hive's rules: LazyLong
//! integers, Java floats, the timestamp formats Hive reads; anything that does
//! not parse is `None` (NULL), never an error. And the escapes and
//! separators of LazySimpleSerDe fields.

use datafusion::arrow::datatypes::Decimal128Type;

/// Hive's LazyLong: optional sign, digits, and an ignored fractional part
/// (`"12.7"` reads as 12). Anything else, including spaces, is NULL.
pub fn parse_int(field: &[u8]) -> Option<i64> {
    let (negative, digits) = match field.first()? {
        b'-' => (true, &field[1..]),
        b'+' => (false, &field[1..]),
        _ => (false, field),
    };
    let (int_part, frac) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    if int_part.is_empty() || !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut value: i64 = 0;
    for &b in int_part {
        if !b.is_ascii_digit() {
            return None;
        }
        let digit = (b - b'0') as i64;
        value = value.checked_mul(10)?;
        value = if negative {
            value.checked_sub(digit)?
        } else {
            value.checked_add(digit)?
        };
    }
    Some(value)
}

/// Java's Double.parseDouble: surrounding whitespace allowed, NaN and Infinity too.
pub fn parse_float(field: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(field).ok()?.trim();
    let text = text.strip_suffix(['d', 'D', 'f', 'F']).unwrap_or(text);
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" | "+Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ if text
            .bytes()
            .any(|b| b.is_ascii_alphabetic() && b != b'e' && b != b'E') =>
        {
            None
        }
        _ => text.parse().ok(),
    }
}

pub(crate) fn parse_bool(field: &[u8]) -> Option<bool> {
    if field.eq_ignore_ascii_case(b"true") {
        Some(true)
    } else if field.eq_ignore_ascii_case(b"false") {
        Some(false)
    } else {
        None
    }
}

pub(crate) fn parse_decimal(field: &[u8], precision: u8, scale: i8) -> Option<i128> {
    let text = std::str::from_utf8(field).ok()?.trim();
    datafusion::arrow::compute::kernels::cast_utils::parse_decimal::<Decimal128Type>(
        text, precision, scale,
    )
    .ok()
}

pub(crate) fn parse_date(field: &[u8]) -> Option<i32> {
    let text = std::str::from_utf8(field).ok()?.trim();
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?;
    i32::try_from((date - epoch).num_days()).ok()
}

/// `yyyy-MM-dd HH:mm:ss[.fffffffff]`, also with `T`, ISO 8601 with a zone
/// (`Z`, `+02:00`; read as UTC), or a bare date (midnight).
pub fn parse_timestamp(field: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(field).ok()?.trim();
    plain_timestamp(text.as_bytes()).or_else(|| parse_timestamp_by_formats(text))
}

/// The common shapes `yyyy-MM-dd`, `yyyy-MM-dd[ T]HH:mm` and
/// `yyyy-MM-dd[ T]HH:mm:ss[.f]` (1 to 9 fraction digits) read directly;
/// None for any other shape, which [`parse_timestamp_by_formats`] then
/// reads (with the same answer for these shapes, only slower).
pub(crate) fn plain_timestamp(text: &[u8]) -> Option<i64> {
    fn number(digits: &[u8]) -> Option<u32> {
        digits.iter().try_fold(0u32, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    }
    if text.len() < 10 || text[4] != b'-' || text[7] != b'-' {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(
        number(&text[..4])? as i32,
        number(&text[5..7])?,
        number(&text[8..10])?,
    )?;
    let (mut hour, mut minute, mut second, mut nanos) = (0, 0, 0, 0);
    let time = &text[10..];
    if !time.is_empty() {
        if time.len() < 6 || !matches!(time[0], b' ' | b'T') || time[3] != b':' {
            return None;
        }
        hour = number(&time[1..3])?;
        minute = number(&time[4..6])?;
        let rest = &time[6..];
        if !rest.is_empty() {
            if rest.len() < 3 || rest[0] != b':' {
                return None;
            }
            second = number(&rest[1..3])?;
            let fraction = &rest[3..];
            if !fraction.is_empty() {
                if !(2..=10).contains(&fraction.len()) || fraction[0] != b'.' {
                    return None;
                }
                let digits = &fraction[1..];
                nanos = number(digits)? * 10u32.pow(9 - digits.len() as u32);
            }
        }
    }
    let time = chrono::NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)?;
    date.and_time(time).and_utc().timestamp_nanos_opt()
}

pub(crate) fn parse_timestamp_by_formats(text: &str) -> Option<i64> {
    if text.len() > 19
        && let Ok(ts) = chrono::DateTime::parse_from_rfc3339(text)
    {
        return ts.naive_utc().and_utc().timestamp_nanos_opt();
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(ts) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return ts.and_utc().timestamp_nanos_opt();
        }
    }
    let date = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
    date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt()
}

/// Removes escape bytes: `\,` becomes `,` and `\\` becomes `\`.
pub fn unescape(field: &[u8], escape: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut bytes = field.iter();
    while let Some(&b) = bytes.next() {
        if b == escape {
            match bytes.next() {
                Some(b'n') if escape == b'\\' => out.push(b'\n'),
                Some(b'r') if escape == b'\\' => out.push(b'\r'),
                Some(&next) => out.push(next),
                None => out.push(b),
            }
        } else {
            out.push(b);
        }
    }
    out
}

/// Splits on `sep`, leaving escaped separators in place.
pub fn split_escaped(field: &[u8], sep: u8, escape: Option<u8>) -> Vec<&[u8]> {
    let Some(escape) = escape else {
        return field.split(|&b| b == sep).collect();
    };
    let mut parts = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < field.len() {
        if field[i] == escape {
            i += 2;
            continue;
        }
        if field[i] == sep {
            parts.push(&field[start..i]);
            start = i + 1;
        }
        i += 1;
    }
    parts.push(&field[start..]);
    parts
}
