//! Declarative mock MCP servers: a file in `mock-servers/` becomes a server
//! that real MCP clients can talk to and that records every message reaching
//! it in a [`Ledger`]. What an attack "got through" is measured here.
//!
//! `spec` is the file format (`surface` its resources and prompts), `server` the sans-IO core (bytes in, replies
//! out, virtual latency), `toolset` its shared, indexed tool list, `ledger`
//! the record, `outage` the stall and death a black-box run asks of a mock
//! process. Transports live in `crate::mcp`.

pub mod bundled;
pub mod classify;
pub mod ledger;
pub mod ordered;
pub mod outage;
pub mod record;
pub mod recording;
pub mod roles;
pub mod server;
pub mod spec;
pub mod surface;
pub mod toolset;

pub use ledger::{Ledger, LedgerEntry};
pub use server::{MockServer, Reply, SharedSpec};
pub use ordered::OrderedJson;
pub use spec::{
    Behaviour, Change, DuplicateKeys, MockError, Provenance, ResponseSpec, Risk, RugPull, ServerSpec,
    ToolSpec,
};
pub use surface::{PromptSpec, ResourceSpec, Surface, TemplateSpec};
