//! gauntlet: an attack-pattern testbench and policy verifier for MCP policy proxies.
//!
//! The flow, one module per part:
//! `policy` (files → typed model) → `engine` (decisions on a given clock);
//! beside them `mcp` (JSON-RPC wire, stdio and Streamable HTTP), and on it
//! `mock` (declarative MCP servers with a ledger); `proxy` (sans-IO core plus
//! thin transport adapters) joins the engine to the wire → `scenario` (the
//! attack database) → `agent` (scripted and seeded drivers) → `verify`
//! (verdicts, blamed on policy lines) → `harden` (proven fixes: `verify
//! --suggest`, `gauntlet harden`) and beside it `prove` (proofs, policy
//! facts and semantic diffs on the engine's admission model) → `report` (table, JSON, JUnit, Markdown,
//! snapshots). `conformance` runs Intercept's test vectors; `cli` dispatches.
//! Below them all: `limits` (the input limits every loader applies), `yaml`
//! (the positioned, yaml.v3-faithful YAML reader loaders share), `gofmt`,
//! `clock`, `caller`, `profile`, `invocation` and `wording`. Imports only point down
//! this list: `layering` (a test) holds the table and checks every one.

pub mod caller;
pub mod clock;
pub mod limits;
pub mod yaml;
pub mod profile;
pub mod invocation;
pub mod wording;
pub mod values;

pub mod policy;
pub mod engine;
pub mod gofmt;
pub mod mcp;
pub mod proxy;
pub mod mock;
pub mod scenario;
pub mod agent;
pub mod verify;
pub mod harden;
pub mod prove;
pub mod report;
pub mod conformance;
pub mod fuzz;
pub mod cli;

#[cfg(test)]
mod layering;
