//! Hive's date and time functions: Java date patterns (from_unixtime,
//! date_format, unix_timestamp), days arithmetic (to_date, date_add,
//! date_sub, datediff). All in UTC.

use super::*;

/// `text` in a chrono format; a format without a time gives midnight.
pub fn parse_with_format(text: &str, format: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(text, format)
        .ok()
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(text, format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// Java SimpleDateFormat letters to chrono's strftime, for parsing text.
pub fn java_to_strftime(format: &str) -> Result<String> {
    Ok(java_pattern(format, Flavor::Simple)?.to_strftime())
}

/// A Java date pattern, compiled; a pattern Java refuses is a query error.
pub fn java_pattern(format: &str, flavor: Flavor) -> Result<JavaPattern> {
    JavaPattern::parse(format, flavor).map_err(|e| DataFusionError::Execution(e.to_string()))
}

/// Formats instants with per-row patterns (usually one constant), compiling
/// each distinct pattern once.
pub(crate) struct Formatter {
    last: Option<(String, JavaPattern)>,
}

impl Formatter {
    pub(crate) fn new() -> Self {
        Self { last: None }
    }

    pub(crate) fn format(
        &mut self,
        pattern: &str,
        t: chrono::DateTime<chrono::Utc>,
    ) -> Result<String> {
        if self.last.as_ref().is_none_or(|(p, _)| p != pattern) {
            self.last = Some((pattern.to_string(), java_pattern(pattern, Flavor::Simple)?));
        }
        let (_, compiled) = self.last.as_ref().expect("set above");
        Ok(compiled.format(t))
    }
}

/// `from_unixtime(seconds[, format])`: text, `yyyy-MM-dd HH:mm:ss` by default.
pub(super) fn from_unixtime(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let seconds = cast(&args[0], &DataType::Int64)?;
    let seconds = seconds.as_primitive::<Int64Type>();
    let formats = args.get(1).map(strings).transpose()?;
    let mut formatter = Formatter::new();
    let out: StringArray = (0..seconds.len())
        .map(|i| {
            if seconds.is_null(i) {
                return Ok(None);
            }
            let Some(dt) = chrono::DateTime::from_timestamp(seconds.value(i), 0) else {
                return Ok(None);
            };
            match &formats {
                Some(f) if f.is_null(i) => None,
                Some(f) => Some(formatter.format(f.as_string::<i32>().value(i), dt)),
                None => Some(Ok(dt.format("%Y-%m-%d %H:%M:%S").to_string())),
            }
            .transpose()
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

/// `date_format(date|timestamp|text, 'yyyy-MM-dd')`: Java SimpleDateFormat letters.
pub(super) fn date_format(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let nanos: Vec<Option<i64>> = match args[0].data_type() {
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => {
            let ts = cast(&args[0], &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
            ts.as_primitive::<TimestampNanosecondType>()
                .iter()
                .collect()
        }
        _ => {
            let text = strings(&args[0])?;
            text.as_string::<i32>()
                .iter()
                .map(|v| v.and_then(|v| nuage_format::parse::parse_timestamp(v.as_bytes())))
                .collect()
        }
    };
    let formats = strings(&args[1])?;
    let formats = formats.as_string::<i32>();
    let mut formatter = Formatter::new();
    let out: StringArray = nanos
        .iter()
        .enumerate()
        .map(|(i, n)| match n {
            Some(n) if !formats.is_null(i) => formatter
                .format(formats.value(i), chrono::DateTime::from_timestamp_nanos(*n))
                .map(Some),
            _ => Ok(None),
        })
        .collect::<Result<_>>()?;
    Ok(Arc::new(out))
}

/// `unix_timestamp()`, `unix_timestamp(text|timestamp[, format])`: seconds since the epoch (UTC).
pub(super) fn unix_timestamp(args: &[ArrayRef], rows: usize) -> Result<ArrayRef> {
    if args.is_empty() {
        let now = chrono::Utc::now().timestamp();
        return Ok(Arc::new(Int64Array::from(vec![now; rows])));
    }
    if matches!(
        args[0].data_type(),
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
    ) {
        let ts = cast(&args[0], &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
        let ts = ts.as_primitive::<TimestampNanosecondType>();
        let out: Int64Array = ts
            .iter()
            .map(|v| v.map(|n| n.div_euclid(1_000_000_000)))
            .collect();
        return Ok(Arc::new(out));
    }
    let text = strings(&args[0])?;
    let text = text.as_string::<i32>();
    let formats = args.get(1).map(strings).transpose()?;
    let out: Int64Array = (0..text.len())
        .map(|i| {
            if text.is_null(i) {
                return None;
            }
            let value = text.value(i).trim();
            match &formats {
                Some(f) if f.is_null(i) => None,
                Some(f) => {
                    let format = java_to_strftime(f.as_string::<i32>().value(i)).ok()?;
                    parse_with_format(value, &format).map(|dt| dt.and_utc().timestamp())
                }
                None => nuage_format::parse::parse_timestamp(value.as_bytes())
                    .map(|n| n.div_euclid(1_000_000_000)),
            }
        })
        .collect();
    Ok(Arc::new(out))
}

/// Days since the epoch of a date, timestamp or `yyyy-MM-dd...` text; NULL if unparsable.
pub(super) fn days(array: &ArrayRef) -> Result<Vec<Option<i32>>> {
    match array.data_type() {
        DataType::Date32 => Ok(array.as_primitive::<Date32Type>().iter().collect()),
        DataType::Timestamp(_, _) | DataType::Date64 => {
            let ts = cast(array, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
            Ok(ts
                .as_primitive::<TimestampNanosecondType>()
                .iter()
                .map(|v| v.map(|n| n.div_euclid(86_400_000_000_000) as i32))
                .collect())
        }
        _ => {
            let text = strings(array)?;
            Ok(text
                .as_string::<i32>()
                .iter()
                .map(|v| {
                    let v = v?;
                    nuage_format::parse::parse_timestamp(v.as_bytes())
                        .map(|n| n.div_euclid(86_400_000_000_000) as i32)
                })
                .collect())
        }
    }
}

pub(super) fn to_date(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    Ok(Arc::new(Date32Array::from(days(&args[0])?)))
}

pub(super) fn shift_days(args: &[ArrayRef], sign: i32) -> Result<ArrayRef> {
    let start = days(&args[0])?;
    let n = cast(&args[1], &DataType::Int64)?;
    let n = n.as_primitive::<Int64Type>();
    let out: Date32Array = start
        .iter()
        .zip(n.iter())
        .map(|(d, n)| Some((*d)? + sign * i32::try_from(n?).ok()?))
        .collect();
    Ok(Arc::new(out))
}

pub(super) fn date_add(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    shift_days(args, 1)
}

pub(super) fn date_sub(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    shift_days(args, -1)
}

pub(super) fn datediff(args: &[ArrayRef], _rows: usize) -> Result<ArrayRef> {
    let (a, b) = (days(&args[0])?, days(&args[1])?);
    let out: Int32Array = a.iter().zip(&b).map(|(a, b)| Some((*a)? - (*b)?)).collect();
    Ok(Arc::new(out))
}
