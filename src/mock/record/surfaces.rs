//! The resources, resource templates and prompts of a recorded server.
//!
//! A server that declares `resources` is asked for every page of
//! `resources/list` and `resources/templates/list`, and each listed
//! resource is read once; one that declares `prompts` is asked for every
//! page of `prompts/list`, and each prompt that needs no argument is got
//! once. Entries and answers are kept exactly as sent, so the mock lists
//! and answers them byte for byte. A list, read or get the server refuses
//! (with a JSON-RPC error) is not a failure of the recording: the mock then
//! lists nothing there or answers with placeholder text, and the file says so.

use serde_json::value::RawValue;
use serde_json::json;

use super::{cut, list_all, RecordError};
use crate::mcp::client::{ClientError, Session};
use crate::mcp::jsonrpc::codes::METHOD_NOT_FOUND;
use crate::mock::ordered::Node;
use crate::mock::surface::{PROMPT_MEMBERS, RESOURCE_MEMBERS, TEMPLATE_MEMBERS};
use crate::mock::{OrderedJson, PromptSpec, ResourceSpec, Risk, TemplateSpec};

/// What was recorded, with a note per item for the file's comments.
#[derive(Clone, Debug, Default)]
pub struct Recorded {
    pub resources: Vec<ResourceSpec>,
    pub templates: Vec<TemplateSpec>,
    pub prompts: Vec<PromptSpec>,
    pub notes: Notes,
}

/// Why each item has its risk class, and what became of its read or get.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Notes {
    pub resources: Vec<String>,
    pub templates: Vec<String>,
    pub prompts: Vec<String>,
    /// Lists the server refused when recorded: the mock serves none of those.
    pub refused: Vec<String>,
}

/// Every page of a list, or none (with a note) when the server refuses the
/// list itself, as a server whose resources need a backend it cannot reach does.
async fn listed(session: &mut Session, method: &str, member: &str, notes: &mut Notes) -> Result<Vec<Box<RawValue>>, RecordError> {
    match list_all(session, method, member).await {
        Ok((items, _)) => Ok(items),
        // A server need not have every list of a capability (templates, say).
        Err(RecordError::Client(ClientError::Rpc { error, .. })) if error.code == METHOD_NOT_FOUND => Ok(Vec::new()),
        Err(RecordError::Client(e @ ClientError::Rpc { .. })) => {
            notes.refused.push(format!("`{method}` failed when recorded ({}): the mock lists none", one_line(&e.to_string())));
            Ok(Vec::new())
        }
        Err(e) => Err(e),
    }
}

/// Records the surfaces the server declared.
pub async fn record(session: &mut Session, resources: bool, prompts: bool) -> Result<Recorded, RecordError> {
    let mut out = Recorded::default();
    if resources {
        for raw in listed(session, "resources/list", "resources", &mut out.notes).await? {
            let mut r: ResourceSpec = from_members(&raw, "resource", &RESOURCE_MEMBERS)?;
            if out.resources.iter().any(|seen| seen.uri == r.uri) {
                return Err(RecordError::Unrecordable(format!("`resources/list` lists `{}` twice", r.uri)));
            }
            let note = match session.request("resources/read", json!({"uri": r.uri})).await {
                Ok(answer) => {
                    r.answer = Some(ordered(&answer)?);
                    "reading a resource has no side effect".to_string()
                }
                Err(e) => format!("reading a resource has no side effect; its read failed when recorded ({}): the mock answers with placeholder text", one_line(&e.to_string())),
            };
            out.resources.push(r);
            out.notes.resources.push(note);
        }
        for raw in listed(session, "resources/templates/list", "resourceTemplates", &mut out.notes).await? {
            out.templates.push(from_members(&raw, "resource template", &TEMPLATE_MEMBERS)?);
            out.notes.templates.push("reading a resource has no side effect; reads of matching URIs are answered with placeholder text".into());
        }
    }
    if prompts {
        for raw in listed(session, "prompts/list", "prompts", &mut out.notes).await? {
            let mut p: PromptSpec = from_members(&raw, "prompt", &PROMPT_MEMBERS)?;
            if out.prompts.iter().any(|seen| seen.name == p.name) {
                return Err(RecordError::Unrecordable(format!("`prompts/list` lists `{}` twice", p.name)));
            }
            let note = if !p.required_arguments().is_empty() {
                "getting a prompt has no side effect; it needs arguments, so the mock answers with placeholder text".to_string()
            } else {
                match session.request("prompts/get", json!({"name": p.name})).await {
                    Ok(answer) => {
                        p.answer = Some(ordered(&answer)?);
                        "getting a prompt has no side effect".to_string()
                    }
                    Err(e) => format!("getting a prompt has no side effect; its get failed when recorded ({}): the mock answers with placeholder text", one_line(&e.to_string())),
                }
            };
            out.prompts.push(p);
            out.notes.prompts.push(note);
        }
    }
    Ok(out)
}

fn one_line(s: &str) -> String {
    cut(&s.replace('\n', " "))
}

fn ordered(raw: &RawValue) -> Result<OrderedJson, RecordError> {
    OrderedJson::from_json(raw.get()).map_err(|e| RecordError::Unrecordable(format!("an answer does not parse: {e}")))
}

/// An item from its listed members: each one the file keeps, in the order
/// sent (a member the file cannot keep is an error, never dropped).
fn from_members<T: serde::de::DeserializeOwned + Ordered>(raw: &RawValue, what: &str, members: &[&str]) -> Result<T, RecordError> {
    let json = ordered(raw)?;
    let Node::Object(entries) = json.node() else {
        return Err(RecordError::Unrecordable(format!("a listed {what} is not an object: {}", cut(&json.to_json()))));
    };
    if let Some((other, _)) = entries.iter().find(|(k, _)| !members.contains(&k.as_str())) {
        return Err(RecordError::Unrecordable(format!(
            "a {what} has a member `{other}` a mock server file cannot keep (it keeps {}): {}",
            members.join(", "),
            cut(&json.to_json())
        )));
    }
    // Read from the text, so nested members keep the order sent; plus the
    // risk class every read-only surface has.
    let text = json.to_json();
    let with_risk = format!("{},\"risk\":\"{}\"}}", &text[..text.len() - 1], Risk::Read.as_str());
    let mut item: T = serde_json::from_str(&with_risk)
        .map_err(|e| RecordError::Unrecordable(format!("a listed {what} cannot be kept: {e}: {}", cut(&json.to_json()))))?;
    item.set_order(entries.iter().map(|(k, _)| k.clone()).collect());
    Ok(item)
}

/// Items that remember the order their members were sent in.
pub trait Ordered {
    fn set_order(&mut self, order: Vec<String>);
}

impl Ordered for ResourceSpec {
    fn set_order(&mut self, order: Vec<String>) {
        self.order = order;
    }
}

impl Ordered for TemplateSpec {
    fn set_order(&mut self, order: Vec<String>) {
        self.order = order;
    }
}

impl Ordered for PromptSpec {
    fn set_order(&mut self, order: Vec<String>) {
        self.order = order;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::surface::Listed;

    #[test]
    fn members_a_file_cannot_keep_are_errors() {
        let raw = RawValue::from_string(r#"{"uri":"a://b","name":"b","weird":1}"#.into()).unwrap();
        let e = from_members::<ResourceSpec>(&raw, "resource", &RESOURCE_MEMBERS).unwrap_err().to_string();
        assert!(e.contains("member `weird`"), "{e}");
        let raw = RawValue::from_string(r#"{"name":"p","arguments":[{"required":true,"name":"x"}],"title":"P"}"#.into()).unwrap();
        let p = from_members::<PromptSpec>(&raw, "prompt", &PROMPT_MEMBERS).unwrap();
        assert_eq!(p.order, ["name", "arguments", "title"]);
        assert_eq!(p.list_entry(true), r#"{"name":"p","arguments":[{"required":true,"name":"x"}],"title":"P"}"#);
    }
}
