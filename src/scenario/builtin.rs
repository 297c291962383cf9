//! The attack database compiled into the binary: every `scenarios/*.yaml`
//! of gauntlet's source tree at build time (see `build.rs`), as
//! `(file name, text)` pairs sorted by name.

pub(super) const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/builtin_scenarios.rs"));
