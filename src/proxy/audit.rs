//! The audit record: one per evaluated call (and one per strict-profile
//! refusal), the gauntlet-side superset of Intercept's `tool_call` event line.
//!
//! It never carries the arguments themselves, only their hash (semantics §5).

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use crate::clock::Timestamp;
use crate::engine::DenyCause;

/// What happened to the call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditResult {
    /// Evaluated and forwarded to the upstream.
    Allowed,
    /// Evaluated and answered by the proxy with a denial.
    Denied,
    /// Strict profile only: the message did not decode strictly (or was a
    /// batch / a notification call) and was refused before any evaluation.
    /// Intercept has no such result; it would have forwarded it (semantics §7).
    Refused,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AuditRecord {
    #[serde(serialize_with = "rfc3339")]
    pub time: Timestamp,
    pub tool: String,
    pub result: AuditResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub args_hash: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", serialize_with = "cause_str")]
    pub cause: Option<DenyCause>,
    /// Counters the decision read or reserved (`key` or `key@partition`), value after the decision.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub counters: BTreeMap<String, i64>,
}

/// The wire name of a denial cause in audit lines.
pub fn cause_name(cause: DenyCause) -> &'static str {
    match cause {
        DenyCause::Hidden => "hidden",
        DenyCause::DefaultDeny => "default_deny",
        DenyCause::Rule => "rule",
        DenyCause::Limit => "limit",
        DenyCause::Internal => "internal",
    }
}

fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn cause_str<S: Serializer>(c: &Option<DenyCause>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(cause_name(*c)),
        None => s.serialize_none(),
    }
}
