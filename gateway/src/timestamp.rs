//! Time as the store keeps it (milliseconds since the Unix epoch) and as the API
//! shows it (RFC 3339, UTC, millisecond precision).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 text of a stored timestamp, e.g. `2026-11-25T04:49:21.123Z`.
pub fn format_ms(ms: i64) -> String {
    let at =
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    let at = at.replace_nanosecond((ms.rem_euclid(1000) as u32) * 1_000_000).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_else(|_| ms.to_string())
}

/// Parses RFC 3339 text into stored milliseconds; `None` when it isn't RFC 3339.
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    let at = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some((at.unix_timestamp_nanos() / 1_000_000) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_rfc3339() {
        let ms = 1_764_046_161_123;
        let text = format_ms(ms);
        assert_eq!(text, "2025-11-25T04:49:21.123Z");
        assert_eq!(parse_rfc3339(&text), Some(ms));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
