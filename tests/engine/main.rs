//! Policy loading and the engine: loaders, validation, Intercept's
//! conformance vectors, decisions, counters and replay. One test binary (with
//! `tests/proxy` and `tests/verify`) so the suite links three times, not
//! twenty; run one topic with `cargo test --test engine engine_counters::`.

#[allow(dead_code)]
mod engine_support;

mod admission;
mod conformance;
mod engine_counters;
mod engine_operators;
mod engine_properties;
mod engine_replay;
mod engine_vectors;
mod policy_cli;
mod policy_loading;
mod policy_vectors;
