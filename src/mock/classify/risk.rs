//! A tool's risk class, guessed from what the server says about it: its
//! annotations first (`readOnlyHint`, `destructiveHint`: a tool the server
//! calls not read-only and not destructive is a write, whatever its name
//! says), then the words of its name, then the first word of its
//! description, then what its fields are ([`super::roles`]): money moves
//! only where an amount does (`git_checkout` is no payment), and a tool that
//! changes a password is a credential change. Every guess carries its
//! reason, which the recorder writes beside the class for a person to
//! check. A tool nothing speaks for counts as `write`: unknown side effects
//! are not assumed harmless.

use serde_json::Value;

use super::roles::Inferred;
use super::words;
use crate::mock::roles::Role;
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
            "money",
            "transaction",
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

/// Nouns that name a credential: a tool doing anything but reading one changes credentials.
const CREDENTIAL_WORDS: [&str; 12] =
    ["password", "passwd", "passphrase", "credential", "credentials", "secret", "secrets", "apikey", "token", "tokens", "mfa", "otp"];

/// The class before fields are looked at, and why; `None` reason parts are filled by [`classify`].
fn by_annotations_and_words(name: &str, description: Option<&str>, annotations: Option<&Value>) -> Guess {
    let hint = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_bool);
    if hint("readOnlyHint") == Some(true) {
        return Guess::fixed(Risk::Read, "annotations: readOnlyHint is true");
    }
    if hint("destructiveHint") == Some(true) && hint("readOnlyHint") == Some(false) {
        return Guess::fixed(Risk::Destructive, "annotations: readOnlyHint false, destructiveHint true");
    }
    if hint("destructiveHint") == Some(true) {
        return Guess::fixed(Risk::Destructive, "annotations: destructiveHint is true");
    }
    let name_words = words(name);
    let credential = credential_word(&name_words);
    if hint("readOnlyHint") == Some(false) && hint("destructiveHint") == Some(false) {
        // The server says: a write that destroys nothing. Only what the words and
        // fields add to that stands (a credential, money), never another class by a word.
        let said = "annotations: readOnlyHint false, destructiveHint false";
        return match credential {
            Some(w) => Guess::fixed(Risk::Credential, &format!("{said}; name word `{w}`: it changes a credential")),
            None => Guess { risk: Risk::Write, reason: format!("{said}: a write"), financial_word: strongest_financial(&name_words), annotated: true },
        };
    }
    // Not read-only by its own word: a read-class word cannot make it `read`.
    let not_read_only = hint("readOnlyHint") == Some(false) || hint("destructiveHint") == Some(false);
    let said = if not_read_only { "annotations say it is not read-only; " } else { "" };
    let strongest_word = strongest(&name_words, not_read_only);
    if let Some(w) = credential {
        if !matches!(strongest_word, Some((Risk::Read, _))) {
            return Guess::fixed(Risk::Credential, &format!("{said}name word `{w}`: it changes a credential"));
        }
    }
    let financial_word = strongest_financial(&name_words);
    if let Some((risk, word)) = strongest_word {
        return Guess { risk, reason: format!("{said}name word `{word}`"), financial_word, annotated: false };
    }
    let first = description.map(words).and_then(|w| w.into_iter().next());
    if let Some((risk, word)) = first.as_ref().and_then(|w| strongest(std::slice::from_ref(w), not_read_only)) {
        return Guess { risk, reason: format!("{said}description starts with `{word}`"), financial_word, annotated: false };
    }
    Guess { risk: Risk::Write, reason: format!("{said}no annotation or telling word: assumed write"), financial_word, annotated: false }
}

/// A class on its way: what the annotations and words say, and a money word held back.
struct Guess {
    risk: Risk,
    reason: String,
    /// A financial word of the name, which makes the tool financial only where an amount moves.
    financial_word: Option<String>,
    /// The class came from annotations.
    annotated: bool,
}

impl Guess {
    fn fixed(risk: Risk, reason: &str) -> Guess {
        Guess { risk, reason: reason.to_string(), financial_word: None, annotated: true }
    }
}

/// Whether a tool of this first guess reads only (its fields' roles depend on it).
pub fn reads_only(name: &str, description: Option<&str>, annotations: Option<&Value>) -> bool {
    by_annotations_and_words(name, description, annotations).risk == Risk::Read
}

/// The class and why, given the roles of the tool's fields.
pub fn classify(name: &str, description: Option<&str>, annotations: Option<&Value>, roles: &[Inferred]) -> (Risk, String) {
    let g = by_annotations_and_words(name, description, annotations);
    let field = |role: Role| roles.iter().find(|r| r.role.role == role);
    if matches!(g.risk, Risk::Write | Risk::Execute) {
        let amount = field(Role::Amount);
        let destination = field(Role::Destination);
        match (amount, &g.financial_word, destination) {
            (Some(a), Some(w), _) => return (Risk::Financial, format!("{}; name word `{w}` and amount field `{}`", g.reason, a.path)),
            (Some(a), None, Some(d)) => {
                return (Risk::Financial, format!("{}; amount field `{}` sent to destination field `{}`", g.reason, a.path, d.path))
            }
            _ => {}
        }
        if let Some(p) = roles.iter().find(|r| r.role.role == Role::Credential && words(&r.path).iter().any(|w| w.starts_with("pass"))) {
            return (Risk::Credential, format!("{}; field `{}` sets a password", g.reason, p.path));
        }
        if let (Some(w), false) = (&g.financial_word, g.annotated) {
            return (g.risk, format!("{} (name word `{w}`, but no amount field: not a payment)", g.reason));
        }
    }
    (g.risk, g.reason)
}

fn credential_word(words: &[String]) -> Option<String> {
    let joined = |a: &str, b: &str| words.windows(2).any(|w| w[0] == a && w[1] == b);
    if let Some(w) = words.iter().find(|w| CREDENTIAL_WORDS.contains(&w.as_str())) {
        // A page token or a cursor is no credential.
        let paging = words.iter().any(|w| ["page", "next", "cursor", "continuation", "sync", "pagination"].contains(&w.as_str()));
        if !(w.starts_with("token") && paging) {
            return Some(w.clone());
        }
    }
    [("api", "key"), ("access", "key"), ("private", "key"), ("ssh", "key")]
        .iter()
        .find(|(a, b)| joined(a, b))
        .map(|(a, b)| format!("{a} {b}"))
}

/// Nouns of data private to the user: a read tool naming one (in its name,
/// or its description's first sentence) reads private data.
const PRIVATE: [&str; 24] = [
    "inbox", "mail", "email", "emails", "mailbox", "message", "messages", "dm", "dms", "profile", "contact", "contacts",
    "calendar", "file", "files", "document", "documents", "note", "notes", "env", "environment", "secret", "secrets",
    "history",
];

/// Why a tool of class `risk` reads private data (a `flows:` source), or
/// `None`: only reads, and only where a word says what they read.
pub fn private(name: &str, description: Option<&str>, risk: Risk) -> Option<String> {
    if risk != Risk::Read {
        return None;
    }
    let hit = |words: Vec<String>| words.into_iter().find(|w| PRIVATE.contains(&w.as_str()));
    if let Some(w) = hit(words(name)) {
        return Some(format!("a read whose name says `{w}`: private data, correct it if not"));
    }
    let first_sentence = description.and_then(|d| d.split(['.', '\n']).next()).unwrap_or_default();
    hit(words(first_sentence)).map(|w| format!("a read whose description says `{w}`: private data, correct it if not"))
}

fn strongest_financial(words: &[String]) -> Option<String> {
    WORDS.iter().find(|(r, _)| *r == Risk::Financial).and_then(|(_, list)| words.iter().find(|w| list.contains(&w.as_str())).cloned())
}

fn strongest(words: &[String], not_read_only: bool) -> Option<(Risk, String)> {
    WORDS
        .iter()
        .filter(|(risk, _)| !(not_read_only && *risk == Risk::Read) && *risk != Risk::Financial)
        .find_map(|(risk, list)| words.iter().find(|w| list.contains(&w.as_str())).map(|w| (*risk, w.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::roles::{FieldRole, Kind, Unit};
    use serde_json::json;

    fn class(name: &str, description: Option<&str>, annotations: Option<&Value>) -> (Risk, String) {
        classify(name, description, annotations, &[])
    }

    fn role(path: &str, role: FieldRole) -> Inferred {
        Inferred { path: path.into(), role, reason: String::new() }
    }

    #[test]
    fn annotations_come_first() {
        let ro = json!({"readOnlyHint": true});
        assert_eq!(class("delete_everything", None, Some(&ro)).0, Risk::Read);
        let d = json!({"readOnlyHint": false, "destructiveHint": true});
        assert_eq!(class("write_file", None, Some(&d)).0, Risk::Destructive);
        let w = json!({"readOnlyHint": false, "destructiveHint": false});
        let (risk, why) = class("get_thing", None, Some(&w));
        assert_eq!(risk, Risk::Write);
        assert!(why.contains("destructiveHint false"), "{why}");
        // A non-destructive write is never financial or execute by a word.
        assert_eq!(class("git_checkout", None, Some(&w)).0, Risk::Write);
        assert_eq!(class("run_checkout", None, Some(&w)).0, Risk::Write);
    }

    #[test]
    fn reads_of_private_data_say_which_word_marks_them() {
        assert_eq!(private("read_inbox", None, Risk::Read).as_deref(), Some("a read whose name says `inbox`: private data, correct it if not"));
        assert!(private("get-env", None, Risk::Read).is_some());
        assert!(private("lookup", Some("Returns the user's profile. Not their files."), Risk::Read).unwrap().contains("`profile`"));
        assert_eq!(private("search_docs", Some("Search the public documentation."), Risk::Read), None);
        assert_eq!(private("send_email", None, Risk::Write), None, "only reads are sources");
    }

    #[test]
    fn names_then_descriptions() {
        assert_eq!(class("delete_entities", None, None), (Risk::Destructive, "name word `delete`".into()));
        assert_eq!(class("get_or_create", None, None).0, Risk::Write);
        assert_eq!(class("list_directory", None, None).0, Risk::Read);
        assert_eq!(class("browser_evaluate", None, None).0, Risk::Execute);
        let (risk, why) = class("directory", Some("Retrieves a tree."), None);
        assert_eq!((risk, why.as_str()), (Risk::Read, "description starts with `retrieves`"));
        assert_eq!(class("frobnicate", Some("A tool."), None).0, Risk::Write);
    }

    #[test]
    fn money_moves_only_where_an_amount_does() {
        let amount = role("amount", FieldRole::amount(Unit::Minor, 2));
        assert_eq!(classify("createRefund", None, None, std::slice::from_ref(&amount)).0, Risk::Financial);
        let (risk, why) = class("git_checkout", None, None);
        assert_eq!(risk, Risk::Write);
        assert!(why.contains("no amount field"), "{why}");
        let to = role("recipient", FieldRole::destination(Kind::Iban));
        let (risk, why) = classify("send_money", None, None, &[amount.clone(), to]);
        assert_eq!(risk, Risk::Financial, "{why}");
    }

    #[test]
    fn credential_changes_are_their_own_class() {
        assert_eq!(class("update_password", None, None).0, Risk::Credential);
        assert_eq!(class("reset_password", None, None).0, Risk::Credential);
        assert_eq!(class("create_api_key", None, None).0, Risk::Credential);
        assert_eq!(class("rotate_token", None, None).0, Risk::Credential);
        assert_eq!(class("list_api_keys", None, None).0, Risk::Read);
        assert_eq!(class("get_next_page_token", None, None).0, Risk::Read);
        let pw = role("new_password", FieldRole::plain(Role::Credential));
        assert_eq!(classify("update_user", None, None, &[pw]).0, Risk::Credential);
        let w = json!({"readOnlyHint": false, "destructiveHint": false});
        assert_eq!(class("change_password", None, Some(&w)).0, Risk::Credential);
    }
}
