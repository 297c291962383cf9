//! The conformance vector file format (documented in the header of
//! `intercept-vectors.yaml`), read strictly: an unknown key is an error, so
//! a misspelt expectation can never silently pass.

use std::collections::BTreeMap;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorFile {
    pub vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    pub id: String,
    pub kind: VectorKind,
    #[serde(default)]
    pub policy: String,
    pub store_mode: Option<StoreMode>,
    /// gauntlet extension: the agent-side transport (default `stdio_child`).
    pub wire_mode: Option<WireModeName>,
    #[serde(default)]
    pub calls: Vec<Step>,
    pub errors: Option<Vec<String>>,
    pub load_error: Option<String>,
    pub upstream_response: Option<String>,
    pub expect_tools: Option<Vec<String>>,
    pub expect_next_cursor: Option<String>,
    pub expect_body: Option<String>,
    #[serde(default)]
    pub expect_unchanged: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorKind {
    Decision,
    Wire,
    ValidPolicy,
    InvalidPolicy,
    ToolsList,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreMode {
    FailClosed,
    FailOpen,
    ReserveError,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WireModeName {
    StdioChild,
    StdioBridge,
    Http,
}

/// One step: a call, a `reload`, or a `deliver`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub at: Option<String>,
    pub tool: Option<String>,
    /// JSON text of `params.arguments`.
    pub arguments: Option<String>,
    pub raw: Option<String>,
    pub upstream: Option<Upstream>,
    pub label: Option<String>,
    pub expect: Option<Expect>,
    pub text: Option<String>,
    pub response: Option<String>,
    pub state_after: Option<BTreeMap<String, i64>>,
    pub event: Option<BTreeMap<String, String>>,
    pub reload: Option<String>,
    pub deliver: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Upstream {
    #[default]
    Ok,
    JsonrpcError,
    IsError,
    None,
    Deferred,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Allow,
    Deny,
    Passthrough,
}

impl Expect {
    pub fn as_str(self) -> &'static str {
        match self {
            Expect::Allow => "allow",
            Expect::Deny => "deny",
            Expect::Passthrough => "passthrough",
        }
    }
}
