//! Guessing what a tool is from what its server says about it: its risk
//! class ([`risk`]) and the roles of its fields ([`roles`]), each guess
//! with a reason a person can check and correct in the server file. `mock
//! record` writes both; a server file written by hand without `roles:`
//! gets them inferred the same way when it is loaded.

pub mod risk;
pub mod roles;

use serde_json::Value;

use super::roles::FieldRole;
use super::Risk;
pub use roles::Inferred;

/// A tool's class and field roles, each with its reason.
#[derive(Clone, Debug, PartialEq)]
pub struct Classified {
    pub risk: Risk,
    pub reason: String,
    pub roles: Vec<Inferred>,
}

/// Classifies one tool from its name, description, annotations and input schema.
pub fn tool(name: &str, description: Option<&str>, annotations: Option<&Value>, schema: &Value) -> Classified {
    let reads_only = risk::reads_only(name, description, annotations);
    let roles = roles::infer(schema, reads_only, open_world(annotations));
    let (risk, reason) = risk::classify(name, description, annotations, &roles);
    Classified { risk, reason, roles }
}

/// The roles of a tool whose class is already known (a hand-written file).
pub fn roles_of(risk: Risk, annotations: Option<&Value>, schema: &Value) -> Vec<Inferred> {
    roles::infer(schema, risk == Risk::Read, open_world(annotations))
}

/// `openWorldHint: true`: the tool reaches beyond the server (the web, other people).
pub fn open_world(annotations: Option<&Value>) -> bool {
    annotations.and_then(|a| a.get("openWorldHint")).and_then(Value::as_bool) == Some(true)
}

/// The roles as a server file writes them.
pub fn as_map(roles: &[Inferred]) -> std::collections::BTreeMap<String, FieldRole> {
    roles.iter().map(|r| (r.path.clone(), r.role.clone())).collect()
}

/// Lower-case words of a name (`snake_case`, `kebab-case`, `camelCase`, dots) or a sentence.
pub(crate) fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}
