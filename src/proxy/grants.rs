//! Who is calling: bearer tokens → grant names (`--grants FILE`), and the
//! per-process session of a stdio proxy.
//!
//! Grant-scoped counters are partitioned by the identity found here, so an
//! unknown token must never fall back to a shared identity: it is refused
//! with HTTP 401. This module only maps tokens; it does not authenticate
//! anything beyond an exact token match.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use rand::RngCore;

/// A grants file failed to load; Display names `file:line:column` where known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantsError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub help: &'static str,
}

impl fmt::Display for GrantsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(col) = self.column {
                write!(f, ":{col}")?;
            }
        }
        write!(f, ": {}\n  help: {}", self.message, self.help)
    }
}

const HELP: &str = "a grants file looks like `tokens: {\"<bearer token>\": \"<grant name>\"}`";

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantsFile {
    tokens: HashMap<String, String>,
}

/// Bearer token → grant name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grants {
    tokens: HashMap<String, String>,
}

/// Why a request's credentials were refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthError {
    /// No `Authorization: Bearer …` header.
    Missing,
    /// A bearer token the grants file does not know.
    Unknown,
}

impl AuthError {
    pub fn message(self) -> &'static str {
        match self {
            AuthError::Missing => "missing bearer token: send `Authorization: Bearer <token>`",
            AuthError::Unknown => "unknown bearer token",
        }
    }

    /// The JSON-RPC error body sent with HTTP 401.
    pub fn body(self) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32001, "message": self.message()},
        }))
        .unwrap_or_default()
    }
}

/// The line (1-based) of the first occurrence of `needle` in `text`.
fn line_of(text: &str, needle: &str) -> Option<usize> {
    text.lines().position(|l| l.contains(needle)).map(|i| i + 1)
}

impl Grants {
    pub fn load(path: &Path) -> Result<Grants, GrantsError> {
        let err = |line, column, message: String| GrantsError { path: path.to_path_buf(), line, column, message, help: HELP };
        let text = crate::yaml::read_file(path).map_err(|e| match e {
            crate::yaml::ReadError::Input(l) => err(Some(l.line as usize), Some(l.column as usize), l.to_string()),
            crate::yaml::ReadError::Io(e) => err(None, None, format!("cannot read grants file: {e}")),
        })?;
        Grants::parse(&text).map_err(|(line, column, message)| err(line, column, message))
    }

    /// Parses the YAML text; errors carry (line, column, message).
    pub fn parse(text: &str) -> Result<Grants, (Option<usize>, Option<usize>, String)> {
        crate::yaml::check(text).map_err(|l| (Some(l.line as usize), Some(l.column as usize), l.to_string()))?;
        let file: GrantsFile = serde_yaml::from_str(text).map_err(|e| {
            let loc = e.location();
            (loc.as_ref().map(|l| l.line()), loc.as_ref().map(|l| l.column()), e.to_string())
        })?;
        for (token, grant) in &file.tokens {
            if token.trim().is_empty() {
                return Err((line_of(text, "\"\""), None, "a bearer token must not be empty".into()));
            }
            if grant.trim().is_empty() {
                return Err((line_of(text, token), None, format!("token `{}…` maps to an empty grant name", token_prefix(token))));
            }
        }
        Ok(Grants { tokens: file.tokens })
    }

    pub fn from_map(tokens: HashMap<String, String>) -> Grants {
        Grants { tokens }
    }

    /// The grant of an `Authorization` header value (`Bearer <token>`, scheme case-insensitive).
    pub fn identify(&self, authorization: Option<&str>) -> Result<String, AuthError> {
        let value = authorization.ok_or(AuthError::Missing)?.trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Missing);
        }
        self.tokens.get(token.trim()).cloned().ok_or(AuthError::Unknown)
    }
}

/// Never echo a whole secret into an error message.
fn token_prefix(token: &str) -> String {
    token.chars().take(4).collect()
}

/// A random session id for one stdio proxy process (visible ASCII, 128 bits).
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens_map_to_grants() {
        let g = Grants::parse("tokens:\n  \"tok-a\": alice\n  tok-b: bob\n").unwrap();
        assert_eq!(g.identify(Some("Bearer tok-a")), Ok("alice".into()));
        assert_eq!(g.identify(Some("bearer tok-b")), Ok("bob".into()));
        assert_eq!(g.identify(Some("Bearer tok-c")), Err(AuthError::Unknown));
        assert_eq!(g.identify(Some("Basic dG9r")), Err(AuthError::Missing));
        assert_eq!(g.identify(None), Err(AuthError::Missing));
    }

    #[test]
    fn errors_name_the_line() {
        let (line, _, msg) = Grants::parse("tokens:\n  a: alice\n  b: [x]\n").unwrap_err();
        assert_eq!(line, Some(3), "{msg}");
        let (line, _, msg) = Grants::parse("tokens:\n  a: alice\n  secret-b: \"\"\n").unwrap_err();
        assert_eq!(line, Some(3));
        assert!(msg.contains("`secr…`") && !msg.contains("secret-b"), "{msg}");
        let (line, _, msg) = Grants::parse("tokenz: {}\n").unwrap_err();
        assert_eq!(line, Some(1));
        assert!(msg.contains("tokenz"), "{msg}");
    }

    #[test]
    fn auth_error_body_is_json_rpc() {
        let v: serde_json::Value = serde_json::from_slice(&AuthError::Unknown.body()).unwrap();
        assert_eq!(v["error"]["message"], "unknown bearer token");
        assert_eq!(v["id"], serde_json::Value::Null);
    }

    #[test]
    fn session_ids_are_fresh_visible_ascii() {
        let a = new_session_id();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| (0x21..=0x7e).contains(&b)));
        assert_ne!(a, new_session_id());
    }
}
