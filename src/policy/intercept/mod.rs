//! The Intercept dialect: load (yaml.v3 rules) → normalise → validate →
//! lower, reproducing `intercept validate`'s verdict and messages exactly.

pub mod lower;
pub mod normalise;
pub mod raw;
pub mod validate;

use super::decode::Decoder;
use crate::yaml;
use super::InterceptError;
use raw::RawConfig;

/// A file as Intercept loads it: the normalised config, or its load error text.
pub fn load_raw(text: &str) -> Result<RawConfig, (String, Option<(u32, u32)>)> {
    let root = yaml::parse(text).map_err(|e| {
        (format!("parsing config file: yaml: {}", e.intercept_text()), Some((e.line, e.column)))
    })?;
    let mut d = Decoder::default();
    let mut cfg = raw::decode(&mut d, root.as_ref());
    if let Some(fatal) = d.fatal {
        return Err((format!("parsing config file: yaml: {}", fatal.message), Some((fatal.line, fatal.column))));
    }
    if !d.errors.is_empty() {
        return Err((format!("parsing config file: yaml: unmarshal errors:\n  {}", d.errors.join("\n  ")), d.first_error_at));
    }
    normalise::normalise(&mut cfg);
    Ok(cfg)
}

/// Load, normalise and validate; the model only when Intercept accepts the file.
pub fn load(text: &str) -> Result<(RawConfig, crate::policy::model::Policy), InterceptError> {
    let cfg = load_raw(text).map_err(|(msg, _)| InterceptError::Load(msg))?;
    let mut patterns = crate::policy::regex::Cache::default();
    let errs = validate::validate(&cfg, &mut patterns);
    if !errs.is_empty() {
        return Err(InterceptError::Invalid(errs));
    }
    let policy = lower::lower(&cfg, &mut patterns);
    Ok((cfg, policy))
}
