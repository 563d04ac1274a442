//! UTC timestamps as seconds since the epoch, and the text forms AWS writes. Civil-date arithmetic
//! (Howard Hinnant's algorithm) instead of a date crate: the simulator needs only these four forms.

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Seconds in an hour.
pub const HOUR: i64 = 3_600;

/// (year, month, day, hour, minute, second) of a timestamp.
pub fn civil(t: i64) -> (i64, u32, u32, u32, u32, u32) {
    let days = t.div_euclid(DAY);
    let secs = t.rem_euclid(DAY);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        y,
        m,
        d,
        (secs / 3600) as u32,
        (secs % 3600 / 60) as u32,
        (secs % 60) as u32,
    )
}

/// The timestamp of a civil date and time.
pub fn from_civil(y: i64, m: u32, d: u32, hh: u32, mm: u32, ss: u32) -> i64 {
    let y = y - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe - 719_468) * DAY
        + i64::from(hh) * 3600
        + i64::from(mm) * 60
        + i64::from(ss)
}

/// `2026-11-22T12:00:00Z`: the sync's captureTime and most time fields.
pub fn iso(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}Z")
}

/// `2026-11-22T12:00:00.000Z`: AWS Config's capture times.
pub fn iso_millis(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(t);
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}.000Z")
}

/// `20261122T120000Z`: timestamps inside Config object names.
pub fn compact(t: i64) -> String {
    let (y, m, d, hh, mm, ss) = civil(t);
    format!("{y:04}{m:02}{d:02}T{hh:02}{mm:02}{ss:02}Z")
}

/// `2026/11/2`: Config's date folders, month and day not zero-padded.
pub fn config_folder(t: i64) -> String {
    let (y, m, d, ..) = civil(t);
    format!("{y}/{m}/{d}")
}

/// Parses `yyyy-mm-ddThh:mm:ssZ` (fractional seconds ignored).
pub fn parse_iso(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || !text.ends_with('Z') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| text.get(r)?.parse::<u32>().ok();
    let (m, d, hh, mm, ss) = (
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    Some(from_civil(i64::from(num(0..4)?), m, d, hh, mm, ss))
}

/// The current time, whole seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
        ] {
            assert_eq!(parse_iso(bad), None, "{bad}");
        }
        for t in (-DAY * 800..DAY * 40_000).step_by(7_777_777) {
            let (y, m, d, hh, mm, ss) = civil(t);
            assert_eq!(from_civil(y, m, d, hh, mm, ss), t);
        }
    }
}
