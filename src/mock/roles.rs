//! Field roles: what an argument field is beyond its JSON type. A
//! `destination` says where data, money or an invitation goes (and how to
//! read it: a URL, an address, a path, an account), a `credential` holds a
//! secret, an `amount` is money (in minor units such as cents, or major
//! units such as euros, with its decimals), `content` is free text that
//! leaves. Requirements and attacks address fields by role, so one
//! gauntlet.yaml line covers every tool.
//!
//! A field is named by its path in the arguments: `to`, `payee.iban`
//! (through objects), `attendees[].email` (each element of a list).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::values::Kind;

/// What a field is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Destination,
    Credential,
    Amount,
    Content,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Destination, Role::Credential, Role::Amount, Role::Content];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Destination => "destination",
            Role::Credential => "credential",
            Role::Amount => "amount",
            Role::Content => "content",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which unit an amount is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unit {
    /// The currency's smallest unit (cents): whole numbers.
    Minor,
    /// The currency itself (euros): `decimals` places after the point.
    Major,
}

/// One field's role, as a server file writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FieldRole {
    pub role: Role,
    /// How a destination is read (destinations only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<Kind>,
    /// The unit of an amount (amounts only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<Unit>,
    /// Places after the point in the currency (amounts only; 2 for most).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<u32>,
}

impl FieldRole {
    pub fn destination(kind: Kind) -> FieldRole {
        FieldRole { role: Role::Destination, kind: Some(kind), unit: None, decimals: None }
    }

    pub fn amount(unit: Unit, decimals: u32) -> FieldRole {
        FieldRole { role: Role::Amount, kind: None, unit: Some(unit), decimals: Some(decimals) }
    }

    pub fn plain(role: Role) -> FieldRole {
        FieldRole { role, kind: None, unit: None, decimals: None }
    }

    /// What a hand-written role lacks or has too much of.
    pub fn check(&self) -> Result<(), String> {
        match self.role {
            Role::Destination if self.kind.is_none() => {
                Err("a destination says how it is read: add `kind: url|email|path|iban|host|id`".into())
            }
            Role::Amount if self.unit.is_none() => {
                Err("an amount says its unit: add `unit: minor` (cents, whole numbers) or `unit: major` (currency units), and `decimals`".into())
            }
            Role::Amount if self.decimals.is_some_and(|d| d > 8) => Err("`decimals` above 8: no currency has that many".into()),
            r if r != Role::Destination && self.kind.is_some() => Err(format!("`kind` is for destinations, not a {r}")),
            r if r != Role::Amount && (self.unit.is_some() || self.decimals.is_some()) => {
                Err(format!("`unit` and `decimals` are for amounts, not a {r}"))
            }
            _ => Ok(()),
        }
    }

    /// Decimal places of an amount: minor units have none.
    pub fn places(&self) -> u32 {
        match self.unit {
            Some(Unit::Major) => self.decimals.unwrap_or(2),
            _ => 0,
        }
    }

    /// How many of this field's units a minor unit (cent) is: 1 for minor
    /// units, 0.01 for major units with 2 decimals.
    pub fn per_minor(&self) -> f64 {
        match self.unit {
            Some(Unit::Major) => 10f64.powi(-(self.decimals.unwrap_or(2) as i32)),
            _ => 1.0,
        }
    }

    /// `destination (email)`, `amount (major, 2 decimals)`, for people.
    pub fn describe(&self) -> String {
        match (self.role, self.kind, self.unit) {
            (Role::Destination, Some(k), _) => format!("destination ({k})"),
            (Role::Amount, _, Some(Unit::Minor)) => "amount (minor units)".into(),
            (Role::Amount, _, Some(Unit::Major)) => format!("amount (major units, {} decimals)", self.places()),
            (r, _, _) => r.to_string(),
        }
    }
}

/// The steps of a field path: `a.b` through objects, `a[]` into each element.
fn steps(path: &str) -> Vec<(&str, bool)> {
    path.split('.').map(|s| match s.strip_suffix("[]") {
        Some(k) => (k, true),
        None => (s, false),
    })
    .collect()
}

/// The values at `path` in `args`: `None` when the field is absent (or
/// `null`), else every value reached (one per list element for `[]`).
pub fn values_at<'a>(args: &'a Value, path: &str) -> Option<Vec<&'a Value>> {
    let mut current = vec![args];
    for (key, each) in steps(path) {
        let mut next = Vec::new();
        for v in current {
            match v.get(key) {
                Some(Value::Null) | None => {}
                Some(Value::Array(items)) if each => next.extend(items.iter()),
                Some(found) => next.push(found),
            }
        }
        if next.is_empty() {
            return None;
        }
        current = next;
    }
    Some(current)
}

/// Sets the field at `path` to `value`: through objects (made on the way),
/// and into each element already there for `a[].b`.
pub fn set_at(args: &mut Value, path: &str, value: Value) {
    fn walk(node: &mut Value, steps: &[(&str, bool)], value: &Value) {
        let Some(((key, each), rest)) = steps.split_first() else { return };
        if !node.is_object() {
            *node = Value::Object(Default::default());
        }
        let Value::Object(map) = node else { return };
        if rest.is_empty() {
            map.insert(key.to_string(), value.clone());
            return;
        }
        let child = map.entry(key.to_string()).or_insert_with(|| if *each { Value::Array(Vec::new()) } else { Value::Null });
        match child {
            Value::Array(items) if *each => items.iter_mut().for_each(|i| walk(i, rest, value)),
            other => walk(other, rest, value),
        }
    }
    walk(args, &steps(path), &value);
}

/// Removes the field at `path` (each element's, for `a[].b`).
pub fn remove_at(args: &mut Value, path: &str) {
    let steps = steps(path);
    let Some(((last, _), parents)) = steps.split_last() else { return };
    let mut nodes = vec![args];
    for (key, each) in parents {
        let mut next = Vec::new();
        for n in nodes {
            let Some(v) = n.get_mut(*key) else { continue };
            if *each && v.is_array() {
                next.extend(v.as_array_mut().into_iter().flatten());
            } else {
                next.push(v);
            }
        }
        nodes = next;
    }
    for n in nodes {
        if let Value::Object(m) = n {
            m.remove(*last);
        }
    }
}

/// The schema of the field at `path` in an object schema (`None`: not declared).
pub fn schema_at<'a>(schema: &'a Value, path: &str) -> Option<&'a Value> {
    let mut node = schema;
    for (key, each) in steps(path) {
        node = node.get("properties")?.get(key)?;
        if each {
            node = node.get("items")?;
        }
    }
    Some(node)
}

/// Whether the top-level field of `path` is required by the schema.
pub fn required(schema: &Value, path: &str) -> bool {
    let top = steps(path).first().map(|(k, _)| *k).unwrap_or(path);
    schema["required"].as_array().is_some_and(|r| r.iter().any(|v| v == top)) && !path.contains('.')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_reach_through_objects_and_lists() {
        let args = json!({"to": ["a@x.com", "b@y.com"], "payee": {"iban": "DE89"}, "attendees": [{"email": "c@z.com"}, {"name": "n"}], "cc": null});
        assert_eq!(values_at(&args, "to").unwrap(), [&json!(["a@x.com", "b@y.com"])]);
        assert_eq!(values_at(&args, "payee.iban").unwrap(), [&json!("DE89")]);
        assert_eq!(values_at(&args, "attendees[].email").unwrap(), [&json!("c@z.com")]);
        assert_eq!(values_at(&args, "cc"), None);
        assert_eq!(values_at(&args, "bcc"), None);
        let schema = json!({"type": "object", "properties": {"attendees": {"type": "array", "items": {"type": "object", "properties": {"email": {"type": "string", "format": "email"}}}}}, "required": ["attendees"]});
        assert_eq!(schema_at(&schema, "attendees[].email").unwrap()["format"], "email");
        assert!(schema_at(&schema, "attendees[].phone").is_none());
        assert!(required(&schema, "attendees") && !required(&schema, "attendees[].email"));
        let mut a = json!({"attendees": [{"email": "x"}, {"email": "y"}]});
        set_at(&mut a, "attendees[].email", json!("z"));
        set_at(&mut a, "payee.iban", json!("DE89"));
        assert_eq!(a, json!({"attendees": [{"email": "z"}, {"email": "z"}], "payee": {"iban": "DE89"}}));
        remove_at(&mut a, "attendees[].email");
        assert_eq!(a["attendees"], json!([{}, {}]));
    }

    #[test]
    fn hand_written_roles_say_what_they_need() {
        assert!(FieldRole::plain(Role::Destination).check().unwrap_err().contains("kind"));
        assert!(FieldRole::plain(Role::Amount).check().unwrap_err().contains("unit"));
        assert!(FieldRole { kind: Some(Kind::Url), ..FieldRole::plain(Role::Content) }.check().is_err());
        assert!(FieldRole::amount(Unit::Major, 2).check().is_ok());
        assert_eq!(FieldRole::amount(Unit::Major, 2).per_minor(), 0.01);
        assert_eq!(FieldRole::amount(Unit::Minor, 2).per_minor(), 1.0);
    }
}
