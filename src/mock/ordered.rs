//! JSON that keeps its object keys in the order they were written.
//!
//! `serde_json::Value` sorts object keys, so a schema read from a real
//! server and served back by a mock would come out reordered. A recorded
//! tool must be served exactly as the real server listed it, so the mock
//! file keeps these parts as [`OrderedJson`]: written order in, the same
//! order out (YAML or JSON), with a sorted [`Value`] beside it for the code
//! that only reads the schema.

use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::sync::Arc;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Number, Value};

/// A JSON value with its key order; derefs to the (sorted) [`Value`]. A
/// clone shares both forms (tools with one schema hold it once, see
/// [`crate::mock::ServerSpec::share_equal_schemas`]).
#[derive(Clone, Debug)]
pub struct OrderedJson {
    node: Arc<Node>,
    /// Shared with whoever reads it as a plain value (a tool's schema in the verifier's catalogue).
    value: Arc<Value>,
}

/// The value in written order. Object keys are unique (duplicates keep the last).
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl OrderedJson {
    pub fn node(&self) -> &Node {
        &self.node
    }

    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The value, shared rather than copied.
    pub fn shared(&self) -> Arc<Value> {
        self.value.clone()
    }

    /// Compact JSON text in written order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&*self.node).unwrap_or_else(|_| "null".into())
    }

    /// Parses JSON text, keeping its key order.
    pub fn from_json(text: &str) -> serde_json::Result<OrderedJson> {
        serde_json::from_str(text)
    }
}

impl From<Node> for OrderedJson {
    fn from(node: Node) -> OrderedJson {
        let value = serde_json::to_value(&node).unwrap_or(Value::Null);
        OrderedJson { node: Arc::new(node), value: Arc::new(value) }
    }
}

/// A value built in code has no written order: it keeps `Value`'s (sorted) one.
impl From<Value> for OrderedJson {
    fn from(value: Value) -> OrderedJson {
        OrderedJson {
            node: Arc::new(Node::from(&value)),
            value: Arc::new(value),
        }
    }
}

impl From<&Value> for Node {
    fn from(v: &Value) -> Node {
        match v {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => Node::Number(n.clone()),
            Value::String(s) => Node::String(s.clone()),
            Value::Array(a) => Node::Array(a.iter().map(Node::from).collect()),
            Value::Object(m) => {
                Node::Object(m.iter().map(|(k, v)| (k.clone(), Node::from(v))).collect())
            }
        }
    }
}

impl Deref for OrderedJson {
    type Target = Value;
    fn deref(&self) -> &Value {
        &self.value
    }
}

/// Equal when written the same way, key order included.
impl PartialEq for OrderedJson {
    fn eq(&self, other: &OrderedJson) -> bool {
        self.node == other.node
    }
}

impl Serialize for OrderedJson {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.node.serialize(s)
    }
}

impl<'de> Deserialize<'de> for OrderedJson {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<OrderedJson, D::Error> {
        Node::deserialize(d).map(OrderedJson::from)
    }
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => s.serialize_unit(),
            Node::Bool(b) => s.serialize_bool(*b),
            Node::Number(n) => n.serialize(s),
            Node::String(t) => s.serialize_str(t),
            Node::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Object(entries) => {
                let mut map = s.serialize_map(Some(entries.len()))?;
                for (k, v) in entries {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, b: bool) -> Result<Node, E> {
        Ok(Node::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Node, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Node, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Node, E> {
        Number::from_f64(n)
            .map(Node::Number)
            .ok_or_else(|| E::custom(format!("{n} is not a JSON number")))
    }
    fn visit_str<E>(self, s: &str) -> Result<Node, E> {
        Ok(Node::String(s.to_string()))
    }
    fn visit_string<E>(self, s: String) -> Result<Node, E> {
        Ok(Node::String(s))
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Node>()? {
            match entries.iter_mut().find(|(seen, _)| *seen == k) {
                Some(slot) => slot.1 = v,
                None => entries.push((k, v)),
            }
        }
        Ok(Node::Object(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keeps_written_order_and_numbers() {
        let text = r#"{"type":"object","properties":{"z":{"type":"number","minimum":1.0},"a":{"type":"string"}},"required":["z"],"$schema":"x"}"#;
        let j = OrderedJson::from_json(text).unwrap();
        assert_eq!(j.to_json(), text);
        assert_eq!(j["properties"]["z"]["minimum"], serde_json::json!(1.0));
    }

    #[test]
    fn yaml_keeps_written_order() {
        let j: OrderedJson = serde_yaml::from_str("b: 1\na: [x, {d: null, c: true}]\n").unwrap();
        assert_eq!(j.to_json(), r#"{"b":1,"a":["x",{"d":null,"c":true}]}"#);
        let sorted = OrderedJson::from(serde_json::json!({"b": 1, "a": 2}));
        assert_eq!(sorted.to_json(), r#"{"a":2,"b":1}"#);
        assert_ne!(j, OrderedJson::from(j.value().clone()));
    }
}
