//! Policy files → one typed [`model::Policy`].
//!
//! Stages, each its own module: YAML/JSON text → a positioned document
//! ([`yaml`]) → dialect-specific raw structs → normalisation → validation
//! (Intercept's exact messages, all at once) → lowering into the model.
//! Dialects: [`intercept`] (Intercept's YAML), [`catalogue`] (the catalogue
//! `rate_limit: {max, window}` form), [`policylayer`] (`policy.json`);
//! [`detect`] picks one, [`to_intercept`] writes Intercept YAML back out.

pub mod catalogue;
pub mod detect;
pub mod diagnostic;
pub mod intercept;
pub mod model;
pub mod policylayer;
pub mod regex;
pub mod shape;
pub mod to_intercept;
pub mod yaml;

use std::fmt;

pub use diagnostic::{Diagnostic, PolicyError};

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

/// Any dialect, detected (or forced), with file positions and warnings.
pub fn load_file(path: &std::path::Path, dialect: Option<model::Dialect>) -> Result<LoadedPolicy, PolicyError> {
    let name = path.display().to_string();
    let text = crate::limits::read_to_string(path).map_err(|e| match e {
        crate::limits::ReadError::Limit(e) => PolicyError::single(Diagnostic::over_limit(&name, &e)),
        crate::limits::ReadError::Io(e) => {
            PolicyError::single(Diagnostic::new(&name, 0, 0, format!("cannot read the policy file: {e}")))
        }
    })?;
    load_str(&text, &name, dialect)
}

pub fn load_str(text: &str, source_name: &str, dialect: Option<model::Dialect>) -> Result<LoadedPolicy, PolicyError> {
    crate::limits::check(text).map_err(|e| PolicyError::single(Diagnostic::over_limit(source_name, &e)))?;
    let dialect = dialect.unwrap_or_else(|| detect::detect(text, source_name));
    match dialect {
        model::Dialect::Intercept => load_intercept_file(text, source_name),
        model::Dialect::Catalogue => catalogue::load(text, source_name),
        model::Dialect::PolicyLayer => policylayer::load(text, source_name),
    }
}

fn load_intercept_file(text: &str, file: &str) -> Result<LoadedPolicy, PolicyError> {
    match intercept::load(text) {
        Ok((raw, policy)) => Ok(LoadedPolicy {
            policy,
            warnings: diagnostic::unknown_key_warnings(&raw.unknown_keys, file),
            intercept_verdict: Ok(()),
        }),
        Err(err) => Err(PolicyError { diagnostics: diagnostic::intercept_error_diagnostics(text, file, &err) }),
    }
}

/// Gauntlet's warnings for an Intercept file (unknown keys Intercept ignores).
pub fn intercept_warnings(text: &str, file: &str) -> Vec<Diagnostic> {
    match intercept::load_raw(text) {
        Ok(raw) => diagnostic::unknown_key_warnings(&raw.unknown_keys, file),
        Err(_) => Vec::new(),
    }
}
