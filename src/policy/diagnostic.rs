//! Messages that point into a policy file (`file:line:col: message`, with
//! optional advice), and their construction from Intercept's own errors.

use std::fmt;

use super::detect::Detection;
use super::intercept::raw::{RawConfig, UnknownKey};
use super::InterceptError;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(file: &str, line: u32, column: u32, message: impl Into<String>) -> Diagnostic {
        Diagnostic { file: file.to_string(), line, column, message: message.into(), help: None }
    }

    /// A crossed input limit (size, depth, alias expansion), as every loader words it.
    pub fn over_limit(file: &str, e: &crate::yaml::Error) -> Diagnostic {
        Diagnostic::new(file, e.line, e.column, e.to_string()).with_help(e.help())
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 means the problem is the file as a whole (it cannot be read).
        if self.line == 0 {
            write!(f, "{}: {}", self.file, self.message)?;
        } else {
            write!(f, "{}:{}:{}: {}", self.file, self.line, self.column, self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// One or more diagnostics that stop a policy from loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    pub diagnostics: Vec<Diagnostic>,
    /// Warnings found on the way (a misspelt key is often why a rule is invalid).
    pub warnings: Vec<Diagnostic>,
    /// The file could not be read at all (missing, a directory, no
    /// permission), as opposed to read and found wrong.
    pub unreadable: bool,
    /// The dialect it was read as, and why; `None` when it was not read as one.
    pub read_as: Option<Detection>,
    /// What Intercept says about a file refused before it was parsed (an
    /// encoding or character its reader refuses), for `validate`'s stdout.
    pub intercept: Option<InterceptError>,
}

impl PolicyError {
    pub fn new(diagnostics: Vec<Diagnostic>) -> PolicyError {
        PolicyError { diagnostics, warnings: Vec::new(), unreadable: false, read_as: None, intercept: None }
    }

    pub fn single(d: Diagnostic) -> PolicyError {
        PolicyError::new(vec![d])
    }

    pub fn unreadable(d: Diagnostic) -> PolicyError {
        PolicyError { unreadable: true, ..PolicyError::single(d) }
    }
}

/// What every command prints on stderr about a policy file it read, so the
/// same file gets the same lines from `validate`, `verify`, `replay`,
/// `proxy`, `harden` and `convert`: each warning, each error, and for a file
/// that does not load, which dialect it was read as and why.
pub fn report(result: Result<&super::LoadedPolicy, &PolicyError>) -> String {
    let mut out = String::new();
    let (warnings, errors) = match result {
        Ok(loaded) => (&loaded.warnings, None),
        Err(e) => (&e.warnings, Some(e)),
    };
    for w in warnings {
        out.push_str(&format!("warning: {w}\n"));
    }
    let Some(e) = errors else { return out };
    for d in &e.diagnostics {
        out.push_str(&format!("error: {d}\n"));
    }
    if let (Some(read_as), Some(first)) = (&e.read_as, e.diagnostics.first()) {
        out.push_str(&format!(
            "error: `{}` does not load as {} ({} error(s); {})\n",
            first.file,
            read_as.dialect.title(),
            e.diagnostics.len(),
            read_as.why
        ));
    }
    out
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyError {}

/// The closest expected key, if it is close enough to be a typo.
pub fn did_you_mean<'a>(key: &str, expected: &[&'a str]) -> Option<&'a str> {
    let lower = key.trim().to_lowercase().replace('-', "_");
    crate::wording::closest(&lower, expected.iter().copied())
}

pub fn unknown_key_warnings(keys: &[UnknownKey], file: &str) -> Vec<Diagnostic> {
    keys.iter()
        .map(|k| {
            let d = Diagnostic::new(
                file,
                k.span.line,
                k.span.column,
                format!("unknown key `{}` is ignored by Intercept", k.key),
            );
            match did_you_mean(&k.key, k.expected) {
                Some(m) => d.with_help(format!("did you mean `{m}`? keys are case-sensitive")),
                None => d.with_help(format!("expected one of: {}", k.expected.join(", "))),
            }
        })
        .collect()
}

/// Positions for Intercept's messages: `line N:` for load errors, the tool or
/// rule a validation message names, else the top of the file.
pub fn intercept_error_diagnostics(text: &str, file: &str, err: &InterceptError) -> Vec<Diagnostic> {
    match err {
        InterceptError::Load(msg) => {
            if let Some(rest) = msg.strip_prefix("parsing config file: yaml: unmarshal errors:\n  ") {
                rest.split("\n  ")
                    .map(|line| {
                        let n = line
                            .strip_prefix("line ")
                            .and_then(|r| r.split(':').next())
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(1);
                        Diagnostic::new(file, n, 1, line.to_string())
                    })
                    .collect()
            } else {
                match crate::yaml::parse(text) {
                    Err(e) => vec![Diagnostic::new(file, e.line, e.column, format!("{msg}{}", e.detail())).with_help(e.help())],
                    Ok(_) => {
                        // A decoding error yaml.v3 names no line for (bad `!!binary`, a merge
                        // of a scalar): placed at the node it is about.
                        let at = super::intercept::load_raw(text).err().and_then(|(_, at)| at);
                        let (line, column) = at.unwrap_or((1, 1));
                        vec![Diagnostic::new(file, line, column, msg.clone())]
                    }
                }
            }
        }
        InterceptError::Invalid(msgs) => {
            let raw = super::intercept::load_raw(text).ok();
            msgs.iter()
                .map(|m| {
                    let (line, column) = raw.as_ref().and_then(|r| locate(r, m)).unwrap_or((1, 1));
                    Diagnostic::new(file, line, column, m.clone())
                })
                .collect()
        }
    }
}

fn locate(cfg: &RawConfig, msg: &str) -> Option<(u32, u32)> {
    let rest = msg.strip_prefix("tools.")?;
    let tool = cfg
        .tools
        .iter()
        .filter(|t| rest.starts_with(&format!("{}.rules[", t.name)))
        .max_by_key(|t| t.name.len())?;
    let idx = rest[tool.name.len() + 7..].split(']').next()?.parse::<usize>().ok();
    let span = idx.and_then(|i| tool.rules.get(i)).map_or(tool.span, |r| r.span);
    Some((span.line, span.column))
}
