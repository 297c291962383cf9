//! Counter window starts: fixed, epoch-aligned UTC windows.
//!
//! Intercept's `minute`/`hour`/`day` windows are calendar-aligned in UTC;
//! because Unix time has no leap seconds, that is the same as flooring to a
//! multiple of 60, 3600 or 86400 seconds. `Window::Seconds(n)` (catalogue and
//! PolicyLayer forms) floors to a multiple of n seconds since the epoch. There
//! are no sliding windows here, on purpose: they are not what Intercept does.

use crate::clock::{Timestamp, NANOS_PER_SEC};
use crate::policy::model::Window;

/// The start of the window of kind `window` that contains `now`.
pub fn window_start(window: Window, now: Timestamp) -> Timestamp {
    // A zero-length window cannot be expressed by any front end; treating it as
    // one second keeps this total instead of dividing by zero.
    let secs = window.length_secs().clamp(1, (i64::MAX / NANOS_PER_SEC) as u64) as i64;
    let len = secs * NANOS_PER_SEC;
    Timestamp(now.0 - now.0.rem_euclid(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn calendar_windows_floor_to_utc_boundaries() {
        let now = t("2026-03-02T10:59:59.999Z");
        assert_eq!(window_start(Window::Minute, now), t("2026-03-02T10:59:00Z"));
        assert_eq!(window_start(Window::Hour, now), t("2026-03-02T10:00:00Z"));
        assert_eq!(window_start(Window::Day, now), t("2026-03-02T00:00:00Z"));
        assert_eq!(window_start(Window::Hour, t("2026-03-02T11:00:00Z")), t("2026-03-02T11:00:00Z"));
    }

    #[test]
    fn day_window_crosses_year_boundary() {
        assert_eq!(window_start(Window::Day, t("2026-12-31T23:59:59.5Z")), t("2026-12-31T00:00:00Z"));
        assert_eq!(window_start(Window::Day, t("2027-01-01T00:00:00Z")), t("2027-01-01T00:00:00Z"));
    }

    #[test]
    fn second_windows_align_to_epoch_multiples() {
        assert_eq!(window_start(Window::Seconds(7), Timestamp::from_secs(20)), Timestamp::from_secs(14));
        assert_eq!(window_start(Window::Seconds(7), Timestamp::from_secs(-1)), Timestamp::from_secs(-7));
        assert_eq!(window_start(Window::Seconds(0), Timestamp(1_500_000_000)), Timestamp::from_secs(1));
    }

    #[test]
    fn times_before_the_epoch_floor_downwards() {
        assert_eq!(window_start(Window::Minute, t("1969-12-31T23:59:30Z")), t("1969-12-31T23:59:00Z"));
    }
}
