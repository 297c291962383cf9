//! `gauntlet proxy`: the sans-IO core, the stdio and HTTP adapters as
//! processes, hot reload, shared Redis state and real MCP peers in front of
//! and behind it. Run one topic with `cargo test --test proxy proxy_io::`.

#[allow(dead_code)]
mod proxy_support;

mod proxy_core;
mod proxy_faults;
mod proxy_io;
mod proxy_peers;
mod proxy_pin;
mod proxy_redis;
mod proxy_real;
mod proxy_reload_http;
mod proxy_schemas;
mod proxy_store;

/// Shared with the other test binary.
#[path = "../shared/fault_scenarios.rs"]
mod fault_scenarios;
