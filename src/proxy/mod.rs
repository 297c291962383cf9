//! The enforcing proxy: a sans-IO core plus thin transport adapters.
//!
//! `core` takes one agent or upstream message and `now`, and returns what to
//! send where; it never reads a clock, a socket or a file. The decoding
//! (`decode`, over `rawjson`), the denial bytes (`denial`), the `tools/list`
//! filter (`filter`), the pending reservations (`pending`) and the audit
//! record (`audit`) are its parts. Transports (stdio, HTTP, in-process) feed it;
//! the standalone ones call the counter store off the core's lock (`ticket`,
//! `decider`).

pub mod audit;
pub mod core;
pub mod grants;
pub mod sqlite;
pub mod state;
pub mod redis;
pub mod log;
pub mod inprocess;
pub mod decode;
pub mod rawjson;
pub mod auditlog;
pub mod child;
pub mod stdio;
pub mod reload;
pub mod http;
pub mod denial;
pub mod filter;
pub mod pending;
pub mod ticket;
pub mod decider;
pub mod pin;
pub mod schemas;
pub mod record;
