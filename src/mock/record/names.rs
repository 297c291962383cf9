//! Whether the recorded server resolves tool names leniently (`GIT_STATUS`
//! or `git_status ` running `git_status`): a property of the server, which
//! the tool-name-variant verdicts depend on.
//!
//! The probe calls a name no server has and then a variant spelling of a
//! listed tool, both with empty arguments, and compares the two answers with
//! the called name blanked out: a server that resolves names exactly (what
//! the MCP SDKs do) answers the variant as it answers an unknown name; a
//! lenient one runs the tool or complains about its arguments. The tool
//! probed is one with required arguments (so that even a lenient server
//! refuses the empty call instead of running it), the least risky first, else
//! a read; a server whose tools are all writes without required arguments is
//! not probed, since a lenient one would run the write.

use serde_json::json;

use crate::mcp::client::{ClientError, Session};
use crate::mock::{Risk, ToolSpec};

/// A name no server lists.
pub const UNKNOWN: &str = "gauntlet_probe_no_such_tool";

/// What the probe found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Names {
    /// The variant was answered as an unknown name is.
    Exact { variant: String },
    /// The variant was answered otherwise: the server resolved it to `tool`.
    Lenient { variant: String, tool: String },
    /// No probe: `--no-probe`, no tool to probe, or the answers said nothing.
    NotProbed { why: String },
}

impl Names {
    pub fn lenient(&self) -> bool {
        matches!(self, Names::Lenient { .. })
    }

    /// The comment beside `lenient_names` in the written file.
    pub fn note(&self) -> String {
        match self {
            Names::Exact { variant } => format!("probed: `{variant}` was answered as an unknown name is"),
            Names::Lenient { variant, tool } => format!("probed: `{variant}` was answered as `{tool}`, not as an unknown name"),
            Names::NotProbed { why } => format!("not probed ({why}): exact, as the MCP SDKs resolve names"),
        }
    }
}

/// The tool to probe: one with required arguments, the least risky first (a
/// lenient server then refuses the empty call rather than running it), else
/// a read; never a write the empty call could run.
pub fn candidate(tools: &[ToolSpec]) -> Option<&ToolSpec> {
    let required = |t: &ToolSpec| t.input_schema.get("required").and_then(|r| r.as_array().map(|a| !a.is_empty())).unwrap_or(false);
    let safe = |t: &&ToolSpec| variant(&t.name).is_some() && (required(t) || t.risk == Risk::Read);
    let rank = |t: &&ToolSpec| (!required(t), t.risk);
    tools.iter().filter(safe).min_by_key(rank)
}

/// A spelling of `name` a lenient server still resolves to it: upper case,
/// else lower case, else with a trailing space.
pub fn variant(name: &str) -> Option<String> {
    [name.to_uppercase(), name.to_lowercase(), format!("{name} ")].into_iter().find(|v| v != name)
}

/// The answer to a call with the called name blanked out.
fn shape(answer: &Result<Box<serde_json::value::RawValue>, ClientError>, called: &str) -> Option<String> {
    let text = match answer {
        Ok(result) => result.get().to_string(),
        Err(ClientError::Rpc { error, .. }) => format!("error {} {} {:?}", error.code, error.message, error.data),
        // The server failed: the answers say nothing about names.
        Err(_) => return None,
    };
    let escaped = serde_json::to_string(called).unwrap_or_default();
    let inner = escaped.trim_matches('"');
    Some(text.replace(inner, "\u{1}").replace(called, "\u{1}"))
}

/// Calls [`UNKNOWN`] and a variant of `tool` and compares the answers.
pub async fn probe(session: &mut Session, tool: &ToolSpec) -> Names {
    let Some(variant) = variant(&tool.name) else {
        return Names::NotProbed { why: "no tool name has a variant spelling".into() };
    };
    let call = |name: &str| json!({"name": name, "arguments": {}});
    let unknown = session.request("tools/call", call(UNKNOWN)).await;
    let varied = session.request("tools/call", call(&variant)).await;
    match (shape(&unknown, UNKNOWN), shape(&varied, &variant)) {
        (Some(u), Some(v)) if u == v => Names::Exact { variant },
        (Some(_), Some(_)) => Names::Lenient { variant, tool: tool.name.clone() },
        _ => Names::NotProbed { why: "the server failed on the probe's calls".into() },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_differ_from_the_name() {
        assert_eq!(variant("git_status").as_deref(), Some("GIT_STATUS"));
        assert_eq!(variant("PING").as_deref(), Some("ping"));
        assert_eq!(variant("42").as_deref(), Some("42 "));
    }

    #[test]
    fn an_unknown_name_answered_the_same_way_reads_as_exact() {
        let err = |m: &str| -> Result<Box<serde_json::value::RawValue>, ClientError> {
            Err(ClientError::Rpc { method: "tools/call".into(), error: crate::mcp::RpcError::new(-32602, m) })
        };
        let u = shape(&err(&format!("Unknown tool: {UNKNOWN}")), UNKNOWN);
        let v = shape(&err("Unknown tool: GIT_STATUS"), "GIT_STATUS");
        assert_eq!(u, v);
        let ran = shape(&err("Invalid arguments for tool git_status: repo_path required"), "GIT_STATUS");
        assert_ne!(u, ran);
    }
}
