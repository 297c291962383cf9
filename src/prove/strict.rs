//! What `--profile strict` holds that the policy alone does not.
//!
//! A strict proxy checks every call's arguments against the `inputSchema`
//! the upstream lists for the tool (see [`crate::proxy::schemas`]): each
//! field present is validated and a required one may not be missing, and a
//! call of a tool whose schema it has not seen waits for the upstream's
//! list. So under strict the `schema` requirement (each required field
//! keeps its schema's type, enum, bounds, length and pattern) holds for
//! every call whatever the policy admits: the requirement asks less than
//! the schema's validity, and a schema the proxy cannot compile refuses
//! every call. A refutation of it becomes a proof only when that same check
//! refuses the counterexample, so the two readers of the schema are seen to
//! agree; an answer prove could not decide of the policy alone becomes one
//! with that said.

use serde_json::json;

use super::{Context, Proof, Status};
use crate::profile::Profile;
use crate::proxy::schemas::Schemas;

/// `p`, a `schema` answer, as the deployment holds it under the profile in force.
pub fn schema(ctx: &Context<'_>, p: Proof) -> Proof {
    if p.status == Status::Proved || ctx.s.engine.profile() != Profile::Strict {
        return p;
    }
    let Some(cex) = &p.counterexample else {
        let reason = format!("held by `--profile strict` whatever the policy admits: the proxy refuses every call whose arguments break the tool's listed inputSchema (of the policy alone: {})", p.reason);
        return Proof { status: Status::Proved, reason, ..p };
    };
    let mut schemas = Schemas::default();
    schemas.learn(&[json!({"name": ctx.tool.name, "inputSchema": &*ctx.tool.input_schema})]);
    let refusals: Option<Vec<String>> = cex.calls.iter().map(|c| schemas.refusal(&c.tool, Some(&c.arguments))).collect();
    let Some(refusals) = refusals else { return p };
    let reason = format!(
        "held by `--profile strict`, not by the policy: the proxy refuses every call whose arguments break the tool's listed inputSchema, and refused the call the policy admits ({}: {})",
        p.reason,
        refusals.join("; ")
    );
    Proof { status: Status::Proved, reason, counterexample: None, proxy: false, ..p }
}
