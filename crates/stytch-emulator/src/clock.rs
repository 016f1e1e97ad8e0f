//! The emulator's clock: system time plus an offset that tests move forward.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use time::OffsetDateTime;

/// Largest total offset accepted, so `now()` can never overflow (about 1000 years).
const MAX_OFFSET: Duration = Duration::from_secs(1000 * 366 * 24 * 3600);

/// Clones share the offset.
#[derive(Debug, Default, Clone)]
pub(crate) struct Clock {
    offset: Arc<Mutex<Duration>>,
}

impl Clock {
    /// Emulator time, truncated to microseconds like Stytch's API timestamps.
    pub(crate) fn now(&self) -> OffsetDateTime {
        let offset = *self.offset.lock().unwrap_or_else(|e| e.into_inner());
        let t = OffsetDateTime::now_utc()
            .checked_add(time::Duration::try_from(offset).unwrap_or(time::Duration::ZERO))
            .unwrap_or_else(OffsetDateTime::now_utc);
        t.replace_nanosecond(t.nanosecond() / 1000 * 1000)
            .unwrap_or(t)
    }

    pub(crate) fn advance(&self, by: Duration) {
        let mut offset = self.offset.lock().unwrap_or_else(|e| e.into_inner());
        *offset = offset.saturating_add(by).min(MAX_OFFSET);
    }
}

/// RFC 3339 with the fractional seconds the API uses (`2021-08-28T00:41:58.935673Z`).
pub(crate) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// RFC 3339 in whole seconds, as inside session JWTs (`2024-07-16T20:38:53Z`).
pub(crate) fn rfc3339_seconds(t: OffsetDateTime) -> String {
    rfc3339(t.replace_nanosecond(0).unwrap_or(t))
}

/// Parses an RFC 3339 timestamp (any precision).
pub(crate) fn parse_rfc3339(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_and_formats() {
        let c = Clock::default();
        let before = c.now();
        c.advance(Duration::from_secs(600));
        assert!(c.now() - before >= time::Duration::seconds(600));
        c.advance(Duration::MAX);
        let _ = c.now();
        let t = time::macros::datetime!(2021-08-28 00:41:58.935673 UTC);
        assert_eq!(rfc3339(t), "2021-08-28T00:41:58.935673Z");
        assert_eq!(rfc3339_seconds(t), "2021-08-28T00:41:58Z");
        assert_eq!(
            parse_rfc3339("2021-08-28T00:41:58Z").map(|t| t.unix_timestamp()),
            Some(1630111318)
        );
    }
}
