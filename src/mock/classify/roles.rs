//! The roles of a tool's fields, guessed from their JSON Schema `format`
//! first (`email`, `uri`, `hostname`), then their names and descriptions,
//! each with its reason. Where a value goes depends on what the tool does:
//! a URL is where a request goes on any tool (a fetch is a read that
//! reaches out), but a path, an address or a channel is a destination only
//! on a tool that writes or sends; a read tool's `path` is where data comes
//! from. Free text is `content` when it leaves: on tools that write, and on
//! read tools that reach the outside world (`openWorldHint`).

use serde_json::Value;

use super::words;
use crate::mock::roles::{FieldRole, Kind, Role, Unit};

/// One field's guessed role and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Inferred {
    pub path: String,
    pub role: FieldRole,
    pub reason: String,
}

const AMOUNT_WORDS: [&str; 5] = ["amount", "price", "fee", "cost", "cents"];
/// Words that name money only when the description speaks of money (`totalThoughts` is a count).
const MAYBE_AMOUNT_WORDS: [&str; 2] = ["total", "sum"];
const MONEY_SAID: [&str; 8] = ["currency", "money", "price", "amount", "cents", "payment", "usd", "eur"];
const SECRET_WORDS: [&str; 10] = ["password", "passwd", "passphrase", "secret", "credential", "credentials", "apikey", "otp", "pin", "token"];
const MAIL_WORDS: [&str; 14] = [
    "email", "emails", "mail", "to", "cc", "bcc", "recipient", "recipients", "attendee", "attendees", "invitee", "invitees",
    "participants", "guests",
];
const URL_WORDS: [&str; 12] = ["url", "urls", "uri", "link", "links", "href", "endpoint", "webhook", "callback", "redirect", "website", "homepage"];
const HOST_WORDS: [&str; 3] = ["host", "hostname", "domain"];
const ACCOUNT_WORDS: [&str; 7] = ["iban", "account", "payee", "beneficiary", "recipient", "creditor", "destination"];
const CHANNEL_WORDS: [&str; 6] = ["channel", "chat", "conversation", "room", "phone", "webhook"];
const REPO_WORDS: [&str; 6] = ["owner", "repo", "repository", "organization", "org", "bucket"];
const PATH_WORDS: [&str; 10] = ["path", "filepath", "filename", "destination", "dest", "target", "output", "directory", "dir", "folder"];
const TEXT_WORDS: [&str; 14] = [
    "body", "content", "text", "message", "subject", "comment", "note", "memo", "description", "title", "summary", "html", "markdown",
    "prompt",
];

/// Every field of `schema` that has a role, in schema order: top-level
/// fields, and one level into objects (`a.b`) and lists of objects (`a[].b`).
pub fn infer(schema: &Value, reads_only: bool, open_world: bool) -> Vec<Inferred> {
    let mut out = Vec::new();
    let siblings: Vec<String> = schema["properties"].as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    let ctx = Context { reads_only, open_world, siblings: &siblings };
    for (name, p) in schema["properties"].as_object().into_iter().flatten() {
        if let Some((role, reason)) = leaf(name, p, &ctx) {
            out.push(Inferred { path: name.clone(), role, reason });
            continue;
        }
        let (nested, prefix) = match p["type"].as_str() {
            Some("object") => (&p["properties"], name.clone()),
            Some("array") => (&p["items"]["properties"], format!("{name}[]")),
            _ => continue,
        };
        let inner: Vec<String> = nested.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
        let ctx = Context { siblings: &inner, ..ctx };
        for (child, q) in nested.as_object().into_iter().flatten() {
            if let Some((role, reason)) = leaf(child, q, &ctx) {
                out.push(Inferred { path: format!("{prefix}.{child}"), role, reason });
            }
        }
    }
    out
}

#[derive(Clone, Copy)]
struct Context<'a> {
    reads_only: bool,
    open_world: bool,
    siblings: &'a [String],
}

/// The JSON type of a field's values: its own, or its items' for a list.
fn value_type(p: &Value) -> Option<&str> {
    let own = match &p["type"] {
        Value::String(t) => Some(t.as_str()),
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).find(|t| *t != "null"),
        _ => p["anyOf"].as_array().and_then(|b| b.iter().filter_map(|b| b["type"].as_str()).find(|t| *t != "null")),
    }?;
    if own == "array" {
        return p["items"]["type"].as_str().filter(|t| *t != "object" && *t != "array");
    }
    Some(own)
}

fn format_of(p: &Value) -> Option<&str> {
    p["format"].as_str().or_else(|| p["items"]["format"].as_str()).or_else(|| {
        p["anyOf"].as_array().and_then(|b| b.iter().find_map(|b| b["format"].as_str()))
    })
}

fn leaf(name: &str, p: &Value, ctx: &Context<'_>) -> Option<(FieldRole, String)> {
    let ty = value_type(p)?;
    if p.get("enum").is_some() || p.get("const").is_some() || ty == "boolean" {
        return None;
    }
    let w = words(name);
    let has = |list: &[&str]| w.iter().find(|x| list.contains(&x.as_str())).cloned();
    let description = p["description"].as_str().unwrap_or("").to_lowercase();
    let says = |needle: &str| description.contains(needle);
    let writes = !ctx.reads_only;
    let dest = |kind: Kind, why: String| Some((FieldRole::destination(kind), why));

    if ty == "string" {
        match format_of(p) {
            Some("email" | "idn-email") if writes => return dest(Kind::Email, "format `email`".into()),
            Some("uri" | "url" | "iri" | "uri-reference" | "iri-reference") => {
                return dest(Kind::Url, "format `uri`: where a request goes".into());
            }
            Some("hostname" | "idn-hostname" | "ipv4" | "ipv6") if writes || ctx.open_world => {
                return dest(Kind::Host, format!("format `{}`", format_of(p).unwrap_or("")));
            }
            Some("date" | "date-time" | "time" | "duration" | "uuid") => return None,
            _ => {}
        }
        if let Some(word) = secret(&w) {
            return Some((FieldRole::plain(Role::Credential), format!("name word `{word}`: a secret")));
        }
    }
    if matches!(ty, "number" | "integer") {
        let money = MONEY_SAID.iter().any(|m| says(m));
        let word = has(&AMOUNT_WORDS).or_else(|| has(&MAYBE_AMOUNT_WORDS).filter(|_| money))?;
        let minor_said = ["cent", "smallest currency unit", "minor unit", "pence", "smallest unit"].iter().find(|s| says(s));
        return Some(match (minor_said, word.as_str(), ty) {
            (Some(s), _, _) => (FieldRole::amount(Unit::Minor, 2), format!("name word `{word}`; the description says `{s}`")),
            (None, "cents", _) => (FieldRole::amount(Unit::Minor, 2), "name word `cents`".into()),
            (None, _, "integer") => (FieldRole::amount(Unit::Minor, 2), format!("name word `{word}`, an integer: assumed minor units (cents)")),
            _ => (FieldRole::amount(Unit::Major, 2), format!("name word `{word}`, a number: assumed major units (currency units) with 2 decimals")),
        });
    }
    if ty != "string" {
        return None;
    }
    if let Some(word) = has(&URL_WORDS) {
        return dest(Kind::Url, format!("name word `{word}`: where a request goes"));
    }
    if writes || ctx.open_world {
        if let Some(word) = has(&HOST_WORDS) {
            return dest(Kind::Host, format!("name word `{word}`"));
        }
    }
    if writes {
        if w.iter().any(|x| x == "iban") || says("iban") {
            return dest(Kind::Iban, if says("iban") { "the description says IBAN".into() } else { "name word `iban`".into() });
        }
        let mail_context = says("email") || says("e-mail") || ctx.siblings.iter().any(|s| ["subject", "body", "cc", "bcc"].contains(&s.as_str()));
        if let Some(word) = has(&MAIL_WORDS) {
            let dated = says("date") || says("time");
            if word.contains("mail") || word == "cc" || word == "bcc" || (mail_context && !dated) {
                return dest(Kind::Email, format!("name word `{word}`: where the mail goes"));
            }
            if word != "to" && !dated {
                return dest(Kind::Id, format!("name word `{word}`: who it goes to"));
            }
        }
        if let Some(word) = has(&ACCOUNT_WORDS).filter(|w| w != "destination") {
            return dest(Kind::Id, format!("name word `{word}`: where money goes"));
        }
        if let Some(word) = has(&CHANNEL_WORDS) {
            return dest(Kind::Id, format!("name word `{word}`: where the message goes"));
        }
        if let Some(word) = has(&REPO_WORDS) {
            return dest(Kind::Id, format!("name word `{word}`: where the change is written"));
        }
        if let Some(word) = has(&PATH_WORDS) {
            // A `destination` beside a `source` is where a file moves to.
            let pathy = ["path", "filepath", "filename", "directory", "dir", "folder"].contains(&word.as_str())
                || ctx.siblings.iter().any(|s| s == "source")
                || says("path")
                || says("file")
                || says("directory");
            let source = w.iter().any(|x| x == "source" || x == "src");
            if pathy && !source {
                return dest(Kind::Path, format!("name word `{word}`: where the file is written"));
            }
            // A `target` or `output` not described as a file is something else (a click's element).
            if !source && ["destination", "dest"].contains(&word.as_str()) {
                return dest(Kind::Id, format!("name word `{word}`"));
            }
        }
    }
    if writes || ctx.open_world {
        if let Some(word) = has(&TEXT_WORDS).or_else(|| if ctx.open_world { has(&["query", "q"]) } else { None }) {
            let leaves = if writes { "text the tool writes or sends" } else { "text sent to the outside world (openWorldHint)" };
            return Some((FieldRole::plain(Role::Content), format!("name word `{word}`: {leaves}")));
        }
    }
    None
}

/// A word naming a secret; a page token or a cursor is none.
fn secret(w: &[String]) -> Option<String> {
    let paging = w.iter().any(|x| ["page", "next", "cursor", "continuation", "sync", "pagination"].contains(&x.as_str()));
    if let Some(x) = w.iter().find(|x| SECRET_WORDS.contains(&x.as_str())) {
        if !(paging && x == "token") && !(x == "pin" && w.len() > 1) {
            return Some(x.clone());
        }
    }
    let pair = |a: &str, b: &str| w.windows(2).any(|p| p[0] == a && p[1] == b);
    [("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key")].iter().find(|(a, b)| pair(a, b)).map(|(a, b)| format!("{a}_{b}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn roles(schema: Value, reads_only: bool, open_world: bool) -> Vec<(String, String)> {
        infer(&schema, reads_only, open_world).into_iter().map(|r| (r.path, r.role.describe())).collect()
    }

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
    }

    #[test]
    fn a_mail_tool() {
        let s = json!({"type": "object", "properties": {
            "to": {"type": "array", "items": {"type": "string"}},
            "cc": {"type": "array", "items": {"type": "string", "format": "email"}},
            "subject": {"type": "string"}, "body": {"type": "string"},
            "attachments": {"type": "array", "items": {"type": "object", "properties": {"url": {"type": "string"}, "name": {"type": "string"}}}}
        }});
        assert_eq!(
            roles(s, false, false),
            pairs(&[("attachments[].url", "destination (url)"), ("body", "content"), ("cc", "destination (email)"), ("subject", "content"), ("to", "destination (email)")])
        );
    }

    #[test]
    fn a_bank_tool_with_amounts_in_both_units() {
        let s = json!({"type": "object", "properties": {
            "recipient": {"type": "string", "description": "IBAN of the recipient"},
            "amount": {"type": "number"}, "fee_cents": {"type": "integer"},
            "date": {"type": "string"}, "new_password": {"type": "string"}
        }});
        assert_eq!(
            roles(s, false, false),
            pairs(&[("amount", "amount (major units, 2 decimals)"), ("fee_cents", "amount (minor units)"), ("new_password", "credential"), ("recipient", "destination (iban)")])
        );
        let counts = json!({"type": "object", "properties": {"totalThoughts": {"type": "integer"}, "total": {"type": "number", "description": "Order total in the account's currency"}}});
        assert_eq!(roles(counts, false, false), pairs(&[("total", "amount (major units, 2 decimals)")]));
        let clicks = json!({"type": "object", "properties": {"target": {"type": "string", "description": "Element reference"}, "search_lang": {"type": "string"}}});
        assert!(roles(clicks.clone(), false, false).is_empty());
        assert!(roles(clicks, true, true).is_empty());
        let stripe = json!({"type": "object", "properties": {"amount": {"type": "integer", "description": "Amount in cents"}}});
        assert_eq!(infer(&stripe, false, false)[0].reason, "name word `amount`; the description says `cent`");
    }

    #[test]
    fn where_a_value_goes_depends_on_what_the_tool_does() {
        let s = json!({"type": "object", "properties": {"path": {"type": "string"}, "url": {"type": "string"}, "query": {"type": "string"}, "page_token": {"type": "string"}}});
        assert_eq!(roles(s.clone(), true, false), pairs(&[("url", "destination (url)")]));
        assert_eq!(roles(s.clone(), true, true), pairs(&[("query", "content"), ("url", "destination (url)")]));
        assert_eq!(roles(s, false, false), pairs(&[("path", "destination (path)"), ("url", "destination (url)")]));
        let dates = json!({"type": "object", "properties": {"from": {"type": "string"}, "to": {"type": "string", "description": "end date"}}});
        assert!(roles(dates, false, false).is_empty());
        let moves = json!({"type": "object", "properties": {"source": {"type": "string"}, "destination": {"type": "string", "description": "new path"}}});
        assert_eq!(roles(moves, false, false), pairs(&[("destination", "destination (path)")]));
    }
}
