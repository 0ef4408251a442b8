//! S3 Select's timestamps and date functions on DataFusion.
//!
//! - Ion timestamp text (`2010T`, `2010-05T`, `2010-05-06`,
//!   `2010-05-06T12:30Z`, `2010-05-06T12:30:15.123-08:00`): backtick
//!   literals, `TO_TIMESTAMP(text)` and `CAST(text AS TIMESTAMP)`.
//! - `DATE_ADD(part, n, t)`, `DATE_DIFF(part, t1, t2)`, `TO_STRING(t,
//!   pattern)` with year, month, day, hour, minute and second as parts and
//!   Java-style patterns (`MMMM d, y`).
//!
//! A backtick literal keeps its offset (EXTRACT(HOUR ...) reads its local
//! hour, as S3 does); what the functions compute is a UTC instant.

use std::sync::Arc;

use super::SelectError;
use crate::functions::{Formatter, udf};
use chrono::{DateTime, Datelike, Months, NaiveDate, NaiveTime, TimeDelta, Timelike, Utc};
use datafusion::arrow::array::TimestampNanosecondArray;
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type, TimeUnit, TimestampNanosecondType};
use datafusion::common::{DataFusionError, Result};
use datafusion::logical_expr::Volatility;
use datafusion::prelude::SessionContext;

/// The parts DATE_ADD and DATE_DIFF take.
pub const PARTS: [&str; 6] = ["year", "month", "day", "hour", "minute", "second"];

/// What the functions answer: UTC instants.
fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some(Arc::from("+00:00")))
}

/// Registers `s3_to_timestamp`, `s3_date_add`, `s3_date_diff` and
/// `s3_to_string`, the names the rewrite gives S3 Select's calls.
pub fn register(ctx: &SessionContext) {
    let immutable = Volatility::Immutable;
    for f in [
        udf("s3_to_timestamp", &[1], immutable, utc(), to_timestamp),
        udf("s3_date_add", &[3], immutable, utc(), date_add),
        udf("s3_date_diff", &[3], immutable, DataType::Int64, date_diff),
        udf("s3_to_string", &[2], immutable, DataType::Utf8, to_string),
    ] {
        ctx.register_udf(f);
    }
}

/// An Ion timestamp: the instant, and the offset it was written with in
/// seconds east of UTC (a time without an offset is UTC).
pub fn parse_ion(text: &str) -> Option<(DateTime<Utc>, i32)> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut fields = date.split('-');
    let year = number(fields.next()?, 4)?;
    let month = fields.next().map(|m| number(m, 2)).unwrap_or(Some(1))?;
    let day = fields.next().map(|d| number(d, 2));
    if fields.next().is_some() || (day.is_none() && time.is_none()) {
        // `2010` and `2010-05` need their `T`.
        return None;
    }
    let date = NaiveDate::from_ymd_opt(year as i32, month, day.unwrap_or(Some(1))?)?;
    let (clock, offset) = match time {
        None | Some("") => (NaiveTime::MIN, 0),
        Some(_) if day.is_none() => return None,
        Some(time) => {
            let (clock, offset) = split_offset(time)?;
            let format = if clock.len() == 5 {
                "%H:%M"
            } else {
                "%H:%M:%S%.f"
            };
            (NaiveTime::parse_from_str(clock, format).ok()?, offset)
        }
    };
    let local = date.and_time(clock).and_utc();
    Some((local - TimeDelta::seconds(offset as i64), offset))
}

/// `hh:mm[:ss[.f]]` and its offset (`Z`, `+hh:mm`, `-hh:mm`; none is UTC).
fn split_offset(time: &str) -> Option<(&str, i32)> {
    if let Some(clock) = time.strip_suffix('Z') {
        return Some((clock, 0));
    }
    let Some(at) = time.rfind(['+', '-']) else {
        return Some((time, 0));
    };
    let (clock, offset) = time.split_at(at);
    let sign = if offset.starts_with('-') { -1 } else { 1 };
    let (hours, minutes) = offset[1..].split_once(':')?;
    let (hours, minutes) = (number(hours, 2)?, number(minutes, 2)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let seconds = hours * 3600 + minutes * 60;
    Some((clock, sign * seconds as i32))
}

fn number(text: &str, width: usize) -> Option<u32> {
    (text.len() == width && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// The offset as Arrow names a fixed time zone (`+08:00`).
pub fn offset_name(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

fn failure(code: &'static str, message: String) -> DataFusionError {
    DataFusionError::External(Box::new(SelectError::new(code, message)))
}

/// Each row's instant in nanoseconds: text is read as an Ion timestamp,
/// dates and timestamps are cast.
fn instants(array: &ArrayRef) -> Result<TimestampNanosecondArray> {
    match array.data_type() {
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => {
            let text = cast(array, &DataType::Utf8)?;
            text.as_string::<i32>()
                .iter()
                .map(|value| match value {
                    None => Ok(None),
                    Some(value) => match parse_ion(value.trim()) {
                        Some((instant, _)) => Ok(instant.timestamp_nanos_opt()),
                        None => Err(failure(
                            "CastFailed",
                            format!(
                                "'{value}' is not a timestamp; S3 Select reads Ion timestamps such as 2010T, 2010-05-06T or 2010-05-06T12:30:15Z"
                            ),
                        )),
                    },
                })
                .collect()
        }
        _ => {
            let cast = cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
            Ok(cast.as_primitive::<TimestampNanosecondType>().clone())
        }
    }
}

fn instant(nanos: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_nanos(nanos)
}

fn in_utc(array: TimestampNanosecondArray) -> ArrayRef {
    Arc::new(array.with_timezone("+00:00"))
}

/// The date parts of the first argument (the rewrite made each a
/// lower-case name of [`PARTS`]).
fn parts(array: &ArrayRef) -> Result<ArrayRef> {
    Ok(cast(array, &DataType::Utf8)?)
}

/// `TO_TIMESTAMP(text)`, and `CAST(text AS TIMESTAMP)`.
fn to_timestamp(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(in_utc(instants(&args[0])?))
}

/// `DATE_ADD(part, quantity, timestamp)`; months past the end of a month
/// land on its last day.
fn date_add(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let parts = parts(&args[0])?;
    let parts = parts.as_string::<i32>();
    let quantities = cast(&args[1], &DataType::Int64)?;
    let quantities = quantities.as_primitive::<Int64Type>();
    let times = instants(&args[2])?;
    let out: TimestampNanosecondArray = (0..times.len())
        .map(|row| {
            if times.is_null(row) || quantities.is_null(row) || parts.is_null(row) {
                return Ok(None);
            }
            let (t, n) = (instant(times.value(row)), quantities.value(row));
            let months = |m: i64| {
                let m = Months::new(m.unsigned_abs().min(u32::MAX as u64) as u32);
                if n < 0 {
                    t.checked_sub_months(m)
                } else {
                    t.checked_add_months(m)
                }
            };
            let moved = match parts.value(row) {
                "year" => months(n.saturating_mul(12)),
                "month" => months(n),
                "day" => TimeDelta::try_days(n).and_then(|d| t.checked_add_signed(d)),
                "hour" => TimeDelta::try_hours(n).and_then(|d| t.checked_add_signed(d)),
                "minute" => TimeDelta::try_minutes(n).and_then(|d| t.checked_add_signed(d)),
                _ => TimeDelta::try_seconds(n).and_then(|d| t.checked_add_signed(d)),
            };
            moved
                .and_then(|t| t.timestamp_nanos_opt())
                .map(Some)
                .ok_or_else(|| {
                    failure(
                        "EvaluatorTimestampOverflow",
                        "DATE_ADD went past the timestamps S3 Select can hold".to_string(),
                    )
                })
        })
        .collect::<Result<_>>()?;
    Ok(in_utc(out))
}

/// `DATE_DIFF(part, t1, t2)`: whole parts from t1 to t2 (negative when t2
/// is earlier); a month or year counts once its day and time are reached.
fn date_diff(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let parts = parts(&args[0])?;
    let parts = parts.as_string::<i32>();
    let (from, to) = (instants(&args[1])?, instants(&args[2])?);
    let out: Int64Array = (0..from.len())
        .map(|row| {
            if from.is_null(row) || to.is_null(row) || parts.is_null(row) {
                return None;
            }
            let (from, to) = (from.value(row), to.value(row));
            let per = |unit: i128| ((to as i128 - from as i128) / unit) as i64;
            Some(match parts.value(row) {
                "year" => whole_months(from, to) / 12,
                "month" => whole_months(from, to),
                "day" => per(86_400_000_000_000),
                "hour" => per(3_600_000_000_000),
                "minute" => per(60_000_000_000),
                _ => per(1_000_000_000),
            })
        })
        .collect();
    Ok(Arc::new(out))
}

fn whole_months(from: i64, to: i64) -> i64 {
    let (a, b) = (instant(from), instant(to));
    let mut months = (b.year() as i64 - a.year() as i64) * 12 + b.month() as i64 - a.month() as i64;
    // Where each instant is within its month.
    let within = |t: DateTime<Utc>| (t.day(), t.num_seconds_from_midnight(), t.nanosecond());
    if months > 0 && within(b) < within(a) {
        months -= 1;
    } else if months < 0 && within(b) > within(a) {
        months += 1;
    }
    months
}

/// `TO_STRING(timestamp, pattern)` with Java's pattern letters, in UTC.
fn to_string(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let times = instants(&args[0])?;
    let patterns = cast(&args[1], &DataType::Utf8)?;
    let patterns = patterns.as_string::<i32>();
    let mut formatter = Formatter::new();
    let out: StringArray = (0..times.len())
        .map(|row| {
            if times.is_null(row) || patterns.is_null(row) {
                return Ok(None);
            }
            formatter
                .format(patterns.value(row), instant(times.value(row)))
                .map(Some)
                .map_err(|e| failure("EvaluatorInvalidTimestampFormatPattern", e.to_string()))
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}
