//! A recorded tool's risk class, guessed from what the server says about it:
//! its annotations first (`readOnlyHint`, `destructiveHint`), then the words
//! of its name, then the first word of its description. Every guess carries
//! its reason, which the recorder writes beside the class for a person to
//! check. A tool nothing speaks for counts as `write`: unknown side effects
//! are not assumed harmless.

use serde_json::Value;

use crate::mock::Risk;

/// Verbs and nouns that mark a class, strongest class first: a name with
/// words of two classes (`get_or_create`) gets the stronger one.
const WORDS: [(Risk, &[&str]); 5] = [
    (
        Risk::Destructive,
        &[
            "delete",
            "remove",
            "drop",
            "destroy",
            "purge",
            "truncate",
            "erase",
            "wipe",
            "revoke",
            "terminate",
            "kill",
            "archive",
            "uninstall",
            "unlink",
            "rm",
            "reset",
            "clear",
        ],
    ),
    (
        Risk::Financial,
        &[
            "charge",
            "payment",
            "payments",
            "pay",
            "refund",
            "invoice",
            "payout",
            "purchase",
            "checkout",
            "billing",
            "subscription",
            "transfer",
            "price",
            "coupon",
        ],
    ),
    (
        Risk::Execute,
        &[
            "exec", "execute", "run", "shell", "command", "eval", "evaluate", "script", "spawn",
            "invoke", "trigger", "deploy", "install", "navigate", "click", "type", "press", "drag",
            "hover", "upload", "fill", "select",
        ],
    ),
    (
        Risk::Write,
        &[
            "create",
            "update",
            "write",
            "edit",
            "set",
            "add",
            "move",
            "rename",
            "send",
            "post",
            "insert",
            "modify",
            "patch",
            "push",
            "merge",
            "comment",
            "fork",
            "put",
            "save",
            "append",
            "replace",
            "upsert",
            "publish",
            "reply",
            "react",
            "assign",
            "close",
            "open",
            "start",
            "stop",
            "enable",
            "disable",
            "mark",
            "store",
            "record",
            "log",
            "schedule",
            "invite",
            "duplicate",
            "copy",
            "import",
            "sync",
            "resize",
            "handle",
        ],
    ),
    (
        Risk::Read,
        &[
            "get",
            "list",
            "read",
            "search",
            "find",
            "fetch",
            "query",
            "describe",
            "show",
            "view",
            "lookup",
            "retrieve",
            "count",
            "check",
            "inspect",
            "browse",
            "tree",
            "info",
            "snapshot",
            "screenshot",
            "download",
            "export",
            "explain",
            "analyze",
            "validate",
            "preview",
            "status",
            "retrieves",
            "returns",
            "gets",
            "lists",
            "reads",
            "searches",
            "finds",
            "fetches",
            "shows",
            "echo",
            "think",
            "thinking",
            "wait",
            "console",
            "messages",
            "requests",
            "tabs",
            "time",
            "convert",
        ],
    ),
];

/// The class and why.
pub fn classify(
    name: &str,
    description: Option<&str>,
    annotations: Option<&Value>,
) -> (Risk, String) {
    let hint = |key: &str| {
        annotations
            .and_then(|a| a.get(key))
            .and_then(Value::as_bool)
    };
    if hint("readOnlyHint") == Some(true) {
        return (Risk::Read, "annotations: readOnlyHint is true".into());
    }
    if hint("destructiveHint") == Some(true) && hint("readOnlyHint") == Some(false) {
        return (
            Risk::Destructive,
            "annotations: readOnlyHint false, destructiveHint true".into(),
        );
    }
    if hint("destructiveHint") == Some(true) {
        return (
            Risk::Destructive,
            "annotations: destructiveHint is true".into(),
        );
    }
    // Not read-only by its own word: a read-class word cannot make it `read`.
    let not_read_only =
        hint("readOnlyHint") == Some(false) || hint("destructiveHint") == Some(false);
    let said = if not_read_only {
        "annotations say it is not read-only; "
    } else {
        ""
    };
    let name_words = words(name);
    if let Some((risk, word)) = strongest(&name_words, not_read_only) {
        return (risk, format!("{said}name word `{word}`"));
    }
    let first = description.map(words).and_then(|w| w.into_iter().next());
    if let Some((risk, word)) = first
        .as_ref()
        .and_then(|w| strongest(std::slice::from_ref(w), not_read_only))
    {
        return (risk, format!("{said}description starts with `{word}`"));
    }
    (
        Risk::Write,
        format!("{said}no annotation or telling word: assumed write"),
    )
}

fn strongest(words: &[String], not_read_only: bool) -> Option<(Risk, String)> {
    WORDS
        .iter()
        .filter(|(risk, _)| !(not_read_only && *risk == Risk::Read))
        .find_map(|(risk, list)| {
            words
                .iter()
                .find(|w| list.contains(&w.as_str()))
                .map(|w| (*risk, w.clone()))
        })
}

/// Lower-case words of a name (`snake_case`, `kebab-case`, `camelCase`, dots) or a sentence.
fn words(text: &str) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn annotations_come_first() {
        let ro = json!({"readOnlyHint": true});
        assert_eq!(classify("delete_everything", None, Some(&ro)).0, Risk::Read);
        let d = json!({"readOnlyHint": false, "destructiveHint": true});
        assert_eq!(classify("write_file", None, Some(&d)).0, Risk::Destructive);
        let w = json!({"readOnlyHint": false, "destructiveHint": false});
        let (risk, why) = classify("get_thing", None, Some(&w));
        assert_eq!(risk, Risk::Write);
        assert!(why.contains("not read-only"), "{why}");
    }

    #[test]
    fn names_then_descriptions() {
        assert_eq!(
            classify("delete_entities", None, None),
            (Risk::Destructive, "name word `delete`".into())
        );
        assert_eq!(classify("createRefund", None, None).0, Risk::Financial);
        assert_eq!(classify("get_or_create", None, None).0, Risk::Write);
        assert_eq!(classify("list_directory", None, None).0, Risk::Read);
        assert_eq!(classify("browser_evaluate", None, None).0, Risk::Execute);
        let (risk, why) = classify("directory", Some("Retrieves a tree."), None);
        assert_eq!(
            (risk, why.as_str()),
            (Risk::Read, "description starts with `retrieves`")
        );
        assert_eq!(classify("frobnicate", Some("A tool."), None).0, Risk::Write);
    }
}
