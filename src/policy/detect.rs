//! Which dialect a policy file is written in (overridable with `--dialect`).
//!
//! `.json` → PolicyLayer; YAML with a rule whose `rate_limit` is a mapping
//! or whose `action` is `allow` → the catalogue form; anything else →
//! Intercept (whose loader then says what is wrong with it).

use super::model::Dialect;
use super::yaml::{self, Kind, Node};

pub fn detect(text: &str, source_name: &str) -> Dialect {
    if source_name.to_ascii_lowercase().ends_with(".json") {
        return Dialect::PolicyLayer;
    }
    match yaml::parse(text) {
        Ok(Some(root)) if looks_like_catalogue(&root) => Dialect::Catalogue,
        _ => Dialect::Intercept,
    }
}

fn get<'n>(n: &'n Node, key: &str) -> Option<&'n Node> {
    let Kind::Map(entries) = &n.kind else { return None };
    entries.iter().find(|(k, _)| matches!(&k.kind, Kind::Scalar { text, .. } if text == key)).map(|(_, v)| v)
}

fn looks_like_catalogue(root: &Node) -> bool {
    let Some(Kind::Map(tools)) = get(root, "tools").map(|t| &t.kind) else { return false };
    tools.iter().any(|(_, tool)| {
        let Some(Kind::Seq(rules)) = get(tool, "rules").map(|r| &r.kind) else { return false };
        rules.iter().any(|r| {
            get(r, "rate_limit").is_some_and(|v| matches!(v.kind, Kind::Map(_)))
                || get(r, "action").is_some_and(|v| matches!(&v.kind, Kind::Scalar { text, .. } if text == "allow"))
        })
    })
}
