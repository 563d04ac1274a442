//! UTC timestamps as seconds since the epoch, and the text forms AWS writes, through the `time`
//! crate. The simulator counts in whole seconds (`i64`) because every quantity it derives (scan
//! times, ages, windows) is arithmetic on them; these functions turn them into AWS's formats.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, format_description::BorrowedFormatItem};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

const ISO: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const ISO_MILLIS: &[BorrowedFormatItem<'_>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
const COMPACT: &[BorrowedFormatItem<'_>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
const CONFIG_FOLDER: &[BorrowedFormatItem<'_>] =
    format_description!("[year]/[month padding:none]/[day padding:none]");
const DATE: &[BorrowedFormatItem<'_>] = format_description!("[year]-[month]-[day]");

/// The instant of a timestamp. The simulator's timestamps lie within a few years of now, far
/// inside the `time` crate's range (years -9999 to 9999); outside it is a bug in the caller.
fn at(t: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(t)
        .unwrap_or_else(|e| panic!("timestamp {t} is outside the supported range: {e}"))
}

fn format(t: i64, layout: &[BorrowedFormatItem<'_>]) -> String {
    at(t)
        .format(layout)
        .unwrap_or_else(|e| panic!("a UTC instant formats with a fixed layout: {e}"))
}

/// `2026-11-22T12:00:00Z`: the sync's captureTime and most time fields.
pub fn iso(t: i64) -> String {
    format(t, ISO)
}

/// `2026-11-22T12:00:00.000Z`: AWS Config's capture times.
pub fn iso_millis(t: i64) -> String {
    format(t, ISO_MILLIS)
}

/// `20261122T120000Z`: timestamps inside Config object names.
pub fn compact(t: i64) -> String {
    format(t, COMPACT)
}

/// `2026/11/2`: Config's date folders, month and day not zero-padded.
pub fn config_folder(t: i64) -> String {
    format(t, CONFIG_FOLDER)
}

/// `2026-11-22`: a day, as the Config table's `dt` partition names it.
pub fn date(t: i64) -> String {
    format(t, DATE)
}

/// Parses an RFC 3339 time in UTC, `yyyy-mm-ddThh:mm:ssZ` (fractional seconds dropped).
pub fn parse_iso(text: &str) -> Option<i64> {
    // RFC 3339 also allows a space between date and time; AWS writes the `T` form only.
    if !text.ends_with('Z') || text.as_bytes().get(10) != Some(&b'T') {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(OffsetDateTime::unix_timestamp)
}

/// The current time, whole seconds.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_formats() {
        let t = parse_iso("2024-02-29T23:59:07Z").expect("valid");
        assert_eq!(iso(t), "2024-02-29T23:59:07Z");
        assert_eq!(iso_millis(t), "2024-02-29T23:59:07.000Z");
        assert_eq!(compact(t), "20240229T235907Z");
        assert_eq!(config_folder(t), "2024/2/29");
        assert_eq!(date(t), "2024-02-29");
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            parse_iso("2026-11-22T12:00:00.123Z").map(iso).as_deref(),
            Some("2026-11-22T12:00:00Z")
        );
        for bad in [
            "2026-13-01T00:00:00Z",
            "2026-11-22 12:00:00Z",
            "yesterday",
            "2026-11-22T12:00:00",
            "2026-11-22T12:00:00+01:00",
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        for t in (-DAY * 800..DAY * 40_000).step_by(7_777_777) {
            assert_eq!(parse_iso(&iso(t)), Some(t));
        }
    }
}
