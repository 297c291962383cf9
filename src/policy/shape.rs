//! Strict reading of gauntlet's own dialects (catalogue YAML, PolicyLayer
//! JSON) from the positioned tree: every key known, no duplicates, types
//! checked, each mistake a diagnostic at its file:line:column.
//!
//! Unlike the Intercept loader it does not imitate yaml.v3's leniency: these
//! formats have no reference loader to be bug-compatible with.

use super::diagnostic::{did_you_mean, Diagnostic};
use crate::yaml::resolve::{resolve, Scalar};
use crate::yaml::{Kind, Node, Style};

pub struct Reader<'f> {
    pub file: &'f str,
    pub errors: Vec<Diagnostic>,
}

impl<'f> Reader<'f> {
    pub fn new(file: &'f str) -> Reader<'f> {
        Reader { file, errors: Vec::new() }
    }

    pub fn error(&mut self, n: &Node, message: String, help: Option<String>) {
        let d = Diagnostic::new(self.file, n.line, n.column, message);
        self.errors.push(match help {
            Some(h) => d.with_help(h),
            None => d,
        });
    }

    /// The entries of a mapping whose keys are all in `known` (or any key
    /// when `known` is empty), each key once.
    pub fn object<'n>(&mut self, n: &'n Node, what: &str, known: &[&str]) -> Vec<(String, &'n Node, &'n Node)> {
        let Kind::Map(entries) = &n.kind else {
            self.error(n, format!("{what} must be a mapping"), None);
            return Vec::new();
        };
        let mut out: Vec<(String, &Node, &Node)> = Vec::new();
        for (k, v) in entries {
            let Kind::Scalar { text, .. } = &k.kind else {
                self.error(k, format!("{what} has a key that is not a string"), None);
                continue;
            };
            if let Some((_, first, _)) = out.iter().find(|(t, _, _)| t == text) {
                let line = first.line;
                self.error(k, format!("duplicate key `{text}` in {what}"), Some(format!("it is already defined at line {line}; remove one")));
                continue;
            }
            if !known.is_empty() && !known.contains(&text.as_str()) {
                let help = match did_you_mean(text, known) {
                    Some(m) => format!("did you mean `{m}`?"),
                    None => format!("expected one of: {}", known.join(", ")),
                };
                self.error(k, format!("unknown key `{text}` in {what}"), Some(help));
                continue;
            }
            out.push((text.clone(), k, v));
        }
        out
    }

    pub fn string(&mut self, n: &Node, what: &str) -> Option<String> {
        match &n.kind {
            Kind::Scalar { text, style } if *style == Style::Quoted || matches!(resolve(text, false, None), Ok(Scalar::Str(_))) => {
                Some(text.clone())
            }
            _ => {
                self.error(n, format!("{what} must be a string"), None);
                None
            }
        }
    }

    pub fn integer(&mut self, n: &Node, what: &str) -> Option<i64> {
        match &n.kind {
            Kind::Scalar { text, style: Style::Plain } => match resolve(text, false, None) {
                Ok(Scalar::Int(i)) => Some(i),
                _ => {
                    self.error(n, format!("{what} must be a whole number, got `{text}`"), None);
                    None
                }
            },
            Kind::Scalar { text, .. } => {
                self.error(n, format!("{what} must be a number, not the string `{text}`"), Some("remove the quotes".into()));
                None
            }
            _ => {
                self.error(n, format!("{what} must be a number"), None);
                None
            }
        }
    }

    pub fn list<'n>(&mut self, n: &'n Node, what: &str) -> &'n [Node] {
        match &n.kind {
            Kind::Seq(items) => items,
            _ => {
                self.error(n, format!("{what} must be a list"), None);
                &[]
            }
        }
    }
}
