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


/// Intercept's `args_hash`: `sha256:` + hex SHA-256 of the Go JSON encoding
/// of the decoded arguments (keys sorted, numbers re-rendered from doubles).
/// Absent or empty arguments have no hash (semantics §5).
pub fn args_hash(arguments: Option<&serde_json::Map<String, serde_json::Value>>) -> Option<String> {
    use sha2::{Digest, Sha256};
    let map = arguments.filter(|m| !m.is_empty())?;
    let mut text = String::new();
    crate::gofmt::json::write_object(&mut text, map);
    Some(format!("sha256:{}", hex::encode(Sha256::digest(text.as_bytes()))))
}

fn rfc3339<S: Serializer>(t: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

fn cause_str<S: Serializer>(c: &Option<DenyCause>, s: S) -> Result<S::Ok, S::Error> {
    match c {
        Some(c) => s.serialize_str(c.as_str()),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(text: &str) -> serde_json::Map<String, serde_json::Value> {
        crate::proxy::rawjson::parse(text.as_bytes())
            .ok()
            .and_then(|n| n.to_value().ok())
            .and_then(|v| v.as_object().cloned())
            .unwrap_or_default()
    }

    #[test]
    fn args_hash_matches_intercept_example() {
        let args = map(r#"{"currency":"usd","amount":5000.0}"#);
        assert_eq!(
            args_hash(Some(&args)).as_deref(),
            Some("sha256:a83fe2ed3e1061e675a6c7853233413cadf2d1e71a9aaeb92797f4850fe18060")
        );
    }

    #[test]
    fn args_hash_matches_vector_hashes() {
        assert_eq!(
            args_hash(Some(&map(r#"{"other": 5}"#))).as_deref(),
            Some("sha256:732ff88a1b23a72b6c34a74f34f9ca5c2754e9b022c8c846788ede525ed8c853")
        );
        assert_eq!(
            args_hash(Some(&map(r#"{"safe": true}"#))).as_deref(),
            Some("sha256:13f513fe32a8991557ebf28941b75597641e94717c08569b7723d998c7428423")
        );
    }

    #[test]
    fn no_hash_for_absent_or_empty_arguments() {
        assert_eq!(args_hash(None), None);
        assert_eq!(args_hash(Some(&serde_json::Map::new())), None);
    }

    #[test]
    fn record_serialises_with_rfc3339_time_and_cause_name() {
        let rec = AuditRecord {
            time: Timestamp::from_secs(0),
            tool: "t".into(),
            result: AuditResult::Denied,
            rule: None,
            message: Some("m".into()),
            args_hash: None,
            identity: None,
            session: None,
            cause: Some(DenyCause::Limit),
            counters: BTreeMap::new(),
        };
        assert_eq!(
            serde_json::to_string(&rec).unwrap(),
            r#"{"time":"1970-01-01T00:00:00Z","tool":"t","result":"denied","message":"m","cause":"limit"}"#
        );
    }
}
