//! The proxy's stderr verbosity (`--log-level`, as Intercept names it).
//!
//! One process-wide level, set once at start-up: the transports write their
//! notices from several threads and would otherwise all need a handle.
//! stdout is never touched here; it carries only MCP messages.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, clap::ValueEnum)]
pub enum Level {
    /// Also every allowed call.
    Debug,
    /// Start-up notices and one line per denial (the default).
    Info,
    /// Dropped messages and other trouble the proxy survives.
    Warn,
    /// Only what stops the proxy or loses a record.
    Error,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Info as u8);

pub fn set_level(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

/// Whether messages of `level` are written.
pub fn enabled(level: Level) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_filter_upwards() {
        set_level(Level::Warn);
        assert!(!enabled(Level::Debug) && !enabled(Level::Info));
        assert!(enabled(Level::Warn) && enabled(Level::Error));
        set_level(Level::Info);
        assert!(enabled(Level::Info) && !enabled(Level::Debug));
    }
}
