//! Policy files → one typed [`model::Policy`].
//!
//! Stages, each its own module: YAML/JSON text → a positioned document
//! ([`crate::yaml`], shared with the other loaders) → dialect-specific raw
//! structs, read with yaml.v3's decoding rules ([`decode`]) → normalisation → validation
//! (Intercept's exact messages, all at once) → lowering into the model.
//! Dialects: [`intercept`] (Intercept's YAML), [`catalogue`] (the catalogue
//! `rate_limit: {max, window}` form), [`policylayer`] (`policy.json`);
//! [`detect`] picks one, [`to_intercept`] writes Intercept YAML back out.

pub mod catalogue;
pub mod decode;
pub mod detect;
pub mod diagnostic;
pub mod intercept;
pub mod model;
pub mod policylayer;
pub mod regex;
pub mod shape;
pub mod to_intercept;

use std::fmt;

pub use diagnostic::{report, Diagnostic, PolicyError};

/// Intercept's own behaviour: load error text, or the validation messages in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterceptError {
    Load(String),
    Invalid(Vec<String>),
}

impl fmt::Display for InterceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InterceptError::Load(m) => f.write_str(m),
            InterceptError::Invalid(ms) => f.write_str(&ms.join("\n")),
        }
    }
}

/// Loads Intercept YAML exactly as Intercept does: `Ok` only when Intercept
/// would load and accept the file.
pub fn load_intercept(text: &str) -> Result<model::Policy, InterceptError> {
    intercept::load(text).map(|(_, policy)| policy)
}

/// A policy in the model, with gauntlet's warnings and Intercept's verdict.
#[derive(Clone, Debug)]
pub struct LoadedPolicy {
    pub policy: model::Policy,
    pub warnings: Vec<Diagnostic>,
    /// Ok when Intercept itself would load and accept the file; Err(messages) otherwise.
    pub intercept_verdict: Result<(), InterceptError>,
}

/// Any dialect, detected from the content (or forced), with file positions
/// and warnings. [`report`] says the outcome as every command prints it.
pub fn load_file(path: &std::path::Path, dialect: Option<model::Dialect>) -> Result<LoadedPolicy, PolicyError> {
    let text = read_file(path)?;
    load_str(&text, &path.display().to_string(), dialect)
}

/// The text of a policy file, within the input limits.
pub fn read_file(path: &std::path::Path) -> Result<String, PolicyError> {
    let name = path.display().to_string();
    crate::yaml::read_file(path).map_err(|e| match e {
        crate::yaml::ReadError::Input(e) if e.limit().is_some() => PolicyError::single(Diagnostic::over_limit(&name, &e)),
        // Refused by the reader (a NUL, a control character, malformed
        // UTF-8): a load error, worded as the dialect the name suggests.
        crate::yaml::ReadError::Input(e) => {
            let read_as = detect::Detection::by_name(&name, "the file cannot be decoded");
            let load = format!("parsing config file: yaml: {}", e.intercept_text());
            let message = match read_as.dialect {
                model::Dialect::Intercept => format!("{load}{}", e.detail()),
                _ => format!("invalid YAML: {e}"),
            };
            PolicyError {
                read_as: Some(read_as),
                intercept: Some(InterceptError::Load(load)),
                ..PolicyError::single(Diagnostic::new(&name, e.line, e.column, message).with_help(e.help()))
            }
        }
        crate::yaml::ReadError::Io(e) => {
            PolicyError::unreadable(Diagnostic::new(&name, 0, 0, format!("cannot read the policy file: {e}")))
        }
    })
}

pub fn load_str(text: &str, source_name: &str, dialect: Option<model::Dialect>) -> Result<LoadedPolicy, PolicyError> {
    // A crossed limit stops here; a refused character or a syntax error is
    // the dialect loader's to word.
    if let Err(e) = crate::yaml::check(text) {
        if e.limit().is_some() {
            return Err(PolicyError::single(Diagnostic::over_limit(source_name, &e)));
        }
    }
    let detection = match dialect {
        Some(d) => detect::Detection::forced(d),
        None => detect::detect(text, source_name).map_err(PolicyError::single)?,
    };
    let loaded = match detection.dialect {
        model::Dialect::Intercept => load_intercept_file(text, source_name),
        model::Dialect::Catalogue => catalogue::load(text, source_name),
        model::Dialect::PolicyLayer => policylayer::load(text, source_name),
    };
    loaded.map_err(|e| PolicyError { read_as: Some(detection), ..e })
}

fn load_intercept_file(text: &str, file: &str) -> Result<LoadedPolicy, PolicyError> {
    match intercept::load(text) {
        Ok((raw, policy)) => Ok(LoadedPolicy {
            policy,
            warnings: diagnostic::unknown_key_warnings(&raw.unknown_keys, file),
            intercept_verdict: Ok(()),
        }),
        Err(err) => Err(PolicyError {
            warnings: intercept_warnings(text, file),
            ..PolicyError::new(diagnostic::intercept_error_diagnostics(text, file, &err))
        }),
    }
}

/// Gauntlet's warnings for an Intercept file (unknown keys Intercept ignores).
pub fn intercept_warnings(text: &str, file: &str) -> Vec<Diagnostic> {
    match intercept::load_raw(text) {
        Ok(raw) => diagnostic::unknown_key_warnings(&raw.unknown_keys, file),
        Err(_) => Vec::new(),
    }
}
