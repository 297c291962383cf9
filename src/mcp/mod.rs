//! The MCP wire: JSON-RPC messages that keep their raw bytes, newline-framed
//! stdio, Streamable HTTP, and protocol versions with the session lifecycle.
//!
//! Used by the mock servers and by the proxy. This module never decides
//! policy; it only says what a message is and moves bytes.

pub mod client;
pub mod handler;
pub mod http;
pub mod jsonrpc;
pub mod stdio;
pub mod version;

pub use handler::{MessageHandler, Reply};
pub use jsonrpc::{Class, DuplicatePolicy, Id, Invalid, KeyIssue, KeyIssueKind, Message, RpcError};
pub use version::{Gate, Lifecycle, ProtocolVersion};
