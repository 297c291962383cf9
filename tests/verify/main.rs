//! Mock servers, scenarios, `verify` (its verdict snapshots live in
//! `snapshots/`), `harden`, and the CLI around them. Run one topic with
//! `cargo test --test verify verify_snapshots::`.

mod classes;
mod definitions;
mod flows;
mod faults;
mod harden;
mod mock_interop;
mod mock_malformed;
mod mock_servers;
mod prove_cli;
mod requirements_cli;
mod scenario_check;
mod scenario_cli;
mod values_flow;
mod verify_snapshots;

/// Shared with the other test binary.
#[path = "../shared/fault_scenarios.rs"]
mod fault_scenarios;
