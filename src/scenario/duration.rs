//! Virtual durations written the way people say them (`500ms`, `59s`, `1m`, `1h`, `1d`).
//!
//! Stored as nanoseconds so they add straight onto a [`crate::clock::Timestamp`].
//! Refuses negative and fractional-nanosecond durations.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::NANOS_PER_SEC;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Duration(pub i64);

impl Duration {
    pub fn from_secs(secs: i64) -> Self {
        Duration(secs * NANOS_PER_SEC)
    }

    pub fn nanos(self) -> i64 {
        self.0
    }

    /// Parses `<number><unit>` with unit `ms`, `s`, `m`, `h` or `d`; a bare number is seconds.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (num, unit) = t.split_at(split);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("invalid duration `{text}`: expected a number followed by ms, s, m, h or d"))?;
        let unit_nanos = match unit {
            "ms" => 1_000_000.0,
            "" | "s" => NANOS_PER_SEC as f64,
            "m" => 60.0 * NANOS_PER_SEC as f64,
            "h" => 3600.0 * NANOS_PER_SEC as f64,
            "d" => 86_400.0 * NANOS_PER_SEC as f64,
            other => return Err(format!("invalid duration unit `{other}` in `{text}`: use ms, s, m, h or d")),
        };
        let nanos = value * unit_nanos;
        if !nanos.is_finite() || nanos > i64::MAX as f64 / 4.0 {
            return Err(format!("duration `{text}` is too long"));
        }
        Ok(Duration(nanos.round() as i64))
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        let ms = 1_000_000;
        let s = NANOS_PER_SEC;
        if n != 0 && n % (86_400 * s) == 0 {
            write!(f, "{}d", n / (86_400 * s))
        } else if n != 0 && n % (3600 * s) == 0 {
            write!(f, "{}h", n / (3600 * s))
        } else if n != 0 && n % (60 * s) == 0 && n / (60 * s) < 60 {
            write!(f, "{}m", n / (60 * s))
        } else if n % s == 0 {
            write!(f, "{}s", n / s)
        } else if n % ms == 0 {
            write!(f, "{}ms", n / ms)
        } else {
            write!(f, "{}s", n as f64 / s as f64)
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(u64),
            Float(f64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(n) => Duration::parse(&n.to_string()).map_err(serde::de::Error::custom),
            Raw::Float(x) => Duration::parse(&x.to_string()).map_err(serde::de::Error::custom),
            Raw::Text(t) => Duration::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units_and_round_trips_display() {
        assert_eq!(Duration::parse("500ms").unwrap().nanos(), 500_000_000);
        assert_eq!(Duration::parse("59.5s").unwrap().nanos(), 59_500_000_000);
        assert_eq!(Duration::parse("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(Duration::parse("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(Duration::parse("1d").unwrap().to_string(), "1d");
        assert_eq!(Duration::from_secs(90).to_string(), "90s");
        assert_eq!(Duration::from_secs(60).to_string(), "1m");
        assert_eq!(Duration::parse("250ms").unwrap().to_string(), "250ms");
    }

    #[test]
    fn rejects_unknown_units() {
        let e = Duration::parse("5 weeks").unwrap_err();
        assert!(e.contains("`"), "{e}");
        assert!(Duration::parse("-1s").is_err());
    }
}
