//! The entries that gate resources and prompts, for the strict profile.
//!
//! Intercept forwards `resources/read`, `prompts/get` and their lists
//! unevaluated and ignores `tools` entries named by those methods; gauntlet's
//! proxy under `--profile strict` decides each such request by the entry
//! named by its method and refuses it when there is none. A hardened policy
//! without these entries would, under strict, refuse every resource and
//! prompt the servers offer. So for each surface a server offers, harden
//! admits exactly the items the servers list that the requirements permit
//! (an `in` list: a case, `%`, `./` or trailing-space variant of a name is
//! not on it, and neither is a URI only a resource template serves), caps
//! the reads or gets with the surface's `rate` requirement, and lets the
//! agent list the surface only when the requirements hide nothing on it:
//! the strict proxy does not filter a list answer, so with something hidden
//! the list stays refused.

use serde_json::Value;

use super::needs::{self, calendar_limit};
use super::patch::{Edit, Limit, NewCondition, NewRule, Note};
use crate::mock::Surface;
use crate::policy::model::Policy;
use crate::scenario::requirements::Requirements;
use crate::verify::inprocess::NamedServer;

/// The surface entries `policy` lacks, as edits; `gaps` says where a list
/// stays refused, or a rate cannot be kept, and why.
pub fn surface_edits(policy: &Policy, servers: &[NamedServer], reqs: &Requirements, gaps: &mut Vec<String>) -> Vec<Edit> {
    let mut edits = Vec::new();
    for surface in [Surface::Resource, Surface::Prompt] {
        let offered: Vec<&str> = servers
            .iter()
            .flat_map(|s| match surface {
                Surface::Resource => s.spec.resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
                _ => s.spec.prompts.iter().map(|p| p.name.as_str()).collect(),
            })
            .collect();
        if offered.is_empty() {
            continue;
        }
        let Some(req) = reqs.surface(surface) else { continue };
        let mut permitted: Vec<&str> = Vec::new();
        for item in offered.into_iter().filter(|i| !req.for_item(i).is_denied()) {
            if !permitted.contains(&item) {
                permitted.push(item);
            }
        }
        let (method, list) = (surface.method(), surface.list_method());
        let (key, used) = match surface {
            Surface::Resource => ("resources", "read"),
            _ => ("prompts", "got"),
        };
        // The user's own gate (or a rule refusing it outright) stands as written.
        if !permitted.is_empty() && policy.tool(method).is_none() && !needs::refuses_every_call(policy, method) {
            let field = format!("args.{}", surface.key_member());
            let whose = if req.is_empty() { format!("every one (gauntlet.yaml sets no `{key}:`)") } else { format!("those `{key}:` in gauntlet.yaml permits") };
            edits.push(Edit::AddRule {
                tool: method.to_string(),
                rule: NewRule {
                    name: format!("listed {key}"),
                    rate_limit: None,
                    on_deny: Some(format!("Only listed {key} may be {used}")),
                    conditions: vec![NewCondition {
                        path: field,
                        op: "in",
                        value: Value::from(permitted.iter().map(|s| Value::from(*s)).collect::<Vec<_>>()),
                        note: Note::new(format!(
                            "the {key} the servers list, {whose}; Intercept ignores this entry, `gauntlet proxy --profile strict` decides `{method}` by it"
                        )),
                    }],
                    state: None,
                    note: Note::default(),
                },
            });
            if let Some(rate) = req.rate {
                match calendar_limit(rate.count, rate.window, rate.calendar) {
                    Some((k, w)) => edits.push(Edit::AddRule {
                        tool: method.to_string(),
                        rule: NewRule {
                            name: format!("rate per {w}"),
                            rate_limit: Some(Limit { max: k, window: w }),
                            on_deny: None,
                            conditions: Vec::new(),
                            state: None,
                            note: Note::new(format!(
                                "{k}/{w}: gauntlet.yaml's `{key}.rate` is ≤{} per {} {} of one item; counted over every item together, which a calendar {w} keeps at {k}",
                                rate.count,
                                if rate.calendar { "calendar" } else { "sliding" },
                                rate.window
                            )),
                        },
                    }),
                    None => gaps.push(format!(
                        "`{method}`: no Intercept rate limit keeps ≤{} per {} (windows are calendar minutes, hours or days)",
                        rate.count, rate.window
                    )),
                }
            }
        }
        if policy.tool(list).is_some() {
            continue;
        }
        if req.hidden.is_empty() {
            edits.push(Edit::AddTool(list.to_string()));
        } else {
            gaps.push(format!(
                "`{list}`: no entry, so `--profile strict` refuses it: the proxy does not filter a list answer, and gauntlet.yaml's `{key}.hidden` ({}) must never be listed",
                req.hidden.join(", ")
            ));
        }
    }
    edits
}
