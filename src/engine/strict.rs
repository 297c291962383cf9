//! Where the `strict` profile deviates from Intercept, and nothing else.
//!
//! `Profile::Strict` makes the same decisions as `Profile::Intercept` on
//! well-formed calls; it differs only where Intercept's behaviour is a gap
//! (semantics §7). Each deviation, with the gap it closes:
//!
//! - **G-9, negative / fractional / huge `increment_from`.** Intercept
//!   truncates the argument toward zero (0.9 → 0, free), accepts negatives
//!   (which lower the counter) and turns values outside int64 into
//!   −9223372036854775808 (x86-64). Strict denies the call instead, with
//!   cause `Internal` and the message
//!   ``increment_from value <v> for rule "<rule>" rejected: must be a non-negative integer``
//!   (`<v>` in Go `%v` form, `<rule>` Go-quoted). A missing or non-number
//!   value is denied as in Intercept, with the clearer message
//!   ``increment_from value for rule "<rule>" is missing or not a number``.
//! - **§2.6 / G-11, infinite and out-of-range limits.** Intercept converts
//!   `lte .inf` (and any limit beyond int64) to −9223372036854775808, so every
//!   reservation is refused, and `lt .inf` wraps around to +9223372036854775807.
//!   Strict treats `lt`/`lte .inf` as unlimited and saturates finite
//!   out-of-range limits instead of wrapping.
//!
//! Everything else (operators, coercions, messages, windows, rollback) is
//! shared with the Intercept profile.

use crate::gofmt;
use crate::profile::Profile;

/// Go's `int64(x)` for a float64 on x86-64: truncation toward zero, and the
/// "integer indefinite" value −2⁶³ for NaN and anything outside int64.
pub(crate) fn go_f64_to_i64(x: f64) -> i64 {
    // 2^63 is exactly representable; anything at or above it does not fit.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if x.is_nan() || !(-TWO_63..TWO_63).contains(&x) {
        i64::MIN
    } else {
        x as i64
    }
}

/// The reservation limit of an `lte v` (or, with `lt`, `lt v`) condition (§2.6).
pub(crate) fn limit(profile: Profile, v: f64, lt: bool) -> i64 {
    match profile {
        Profile::Intercept => {
            let base = go_f64_to_i64(v);
            if lt {
                base.wrapping_sub(1)
            } else {
                base
            }
        }
        Profile::Strict => {
            if v == f64::INFINITY {
                return i64::MAX;
            }
            // `as` saturates (NaN → 0, but a NaN limit never gets here: its
            // engine-phase comparison already denied the call).
            let base = v as i64;
            if lt {
                base.saturating_sub(1)
            } else {
                base
            }
        }
    }
}

/// Why an `increment_from` argument was not turned into an amount.
#[derive(Debug, PartialEq)]
pub(crate) enum IncrementError {
    /// Missing path or a non-number (both profiles).
    NotANumber,
    /// A number the strict profile refuses (G-9): carries the value.
    Rejected(f64),
}

impl IncrementError {
    /// The denial text for this error under `profile` (rule = the counting rule's name).
    pub(crate) fn message(&self, profile: Profile, rule: &str) -> String {
        match (profile, self) {
            (Profile::Intercept, _) => "Internal policy error".to_string(),
            (Profile::Strict, IncrementError::NotANumber) => format!(
                "increment_from value for rule {} is missing or not a number",
                gofmt::quote::quote(rule)
            ),
            (Profile::Strict, IncrementError::Rejected(v)) => format!(
                "increment_from value {} for rule {} rejected: must be a non-negative integer",
                gofmt::value::float(*v),
                gofmt::quote::quote(rule)
            ),
        }
    }
}

/// Turns an `increment_from` number into an amount (§2.7 vs. G-9).
pub(crate) fn increment(profile: Profile, v: f64) -> Result<i64, IncrementError> {
    match profile {
        Profile::Intercept => Ok(go_f64_to_i64(v)),
        Profile::Strict => {
            const TWO_63: f64 = 9_223_372_036_854_775_808.0;
            if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < TWO_63 {
                Ok(v as i64)
            } else {
                Err(IncrementError::Rejected(v))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_conversion_truncates_and_uses_integer_indefinite() {
        assert_eq!(go_f64_to_i64(99.9), 99);
        assert_eq!(go_f64_to_i64(0.5), 0);
        assert_eq!(go_f64_to_i64(-2.7), -2);
        assert_eq!(go_f64_to_i64(1e19), i64::MIN);
        assert_eq!(go_f64_to_i64(-1e19), i64::MIN);
        assert_eq!(go_f64_to_i64(f64::INFINITY), i64::MIN);
        assert_eq!(go_f64_to_i64(f64::NAN), i64::MIN);
        assert_eq!(go_f64_to_i64(-(2f64.powi(63))), i64::MIN);
    }

    #[test]
    fn intercept_limits_wrap_and_strict_ones_saturate() {
        assert_eq!(limit(Profile::Intercept, 2.5, true), 1);
        assert_eq!(limit(Profile::Intercept, 2.5, false), 2);
        assert_eq!(limit(Profile::Intercept, 10.0, true), 9);
        assert_eq!(limit(Profile::Intercept, f64::INFINITY, false), i64::MIN);
        assert_eq!(limit(Profile::Intercept, f64::INFINITY, true), i64::MAX);
        assert_eq!(limit(Profile::Strict, f64::INFINITY, false), i64::MAX);
        assert_eq!(limit(Profile::Strict, f64::INFINITY, true), i64::MAX);
        assert_eq!(limit(Profile::Strict, 1e19, false), i64::MAX);
        assert_eq!(limit(Profile::Strict, 2.5, true), 1);
    }

    #[test]
    fn strict_increment_rejects_what_intercept_accepts() {
        assert_eq!(increment(Profile::Intercept, -900000.0), Ok(-900000));
        assert_eq!(increment(Profile::Intercept, 0.9), Ok(0));
        assert_eq!(increment(Profile::Strict, 500.0), Ok(500));
        assert_eq!(increment(Profile::Strict, 0.0), Ok(0));
        assert_eq!(increment(Profile::Strict, -1.0), Err(IncrementError::Rejected(-1.0)));
        assert_eq!(increment(Profile::Strict, 0.9), Err(IncrementError::Rejected(0.9)));
        assert_eq!(increment(Profile::Strict, 1e19), Err(IncrementError::Rejected(1e19)));
        assert_eq!(
            IncrementError::Rejected(-900000.0).message(Profile::Strict, "daily spend"),
            "increment_from value -900000 for rule \"daily spend\" rejected: must be a non-negative integer"
        );
        assert_eq!(IncrementError::Rejected(1.0).message(Profile::Intercept, "x"), "Internal policy error");
    }
}
