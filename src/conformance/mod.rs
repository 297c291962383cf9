//! Intercept's conformance vectors, run against gauntlet's own loader,
//! engine and proxy core (`gauntlet conformance`).
//!
//! `format` reads the vector file strictly, `run` executes one vector; this
//! module runs a whole file and tallies. It never rewrites expectations:
//! under `--profile strict` the wire vectors that record Intercept's
//! bypasses are reported as differing, not as passing.

pub mod format;
pub mod run;

use std::fmt;
use std::path::Path;

use crate::profile::Profile;
pub use run::{run_vector, Verdict, VectorResult};

/// Why a vector file could not be run at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileError(pub String);

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Every result of one run, in file order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub profile: Profile,
    pub results: Vec<VectorResult>,
}

impl Summary {
    fn count(&self, f: impl Fn(&Verdict) -> bool) -> usize {
        self.results.iter().filter(|r| f(&r.verdict)).count()
    }

    pub fn passed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Pass))
    }

    pub fn failed(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Fail(_)))
    }

    pub fn differing(&self) -> usize {
        self.count(|v| matches!(v, Verdict::Differs(_)))
    }

    /// One line per vector: `PASS id`, `FAIL id: …`, `DIFFERS (strict) id: …`.
    pub fn lines(&self) -> Vec<String> {
        self.results
            .iter()
            .map(|r| match &r.verdict {
                Verdict::Pass => format!("PASS {}", r.id),
                Verdict::Fail(why) => format!("FAIL {}: {why}", r.id),
                Verdict::Differs(why) => format!("DIFFERS ({}) {}: {why}", self.profile, r.id),
            })
            .collect()
    }

    /// `N passed, N failed`, plus `, N differ under strict` under the strict profile.
    pub fn closing_line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.profile == Profile::Strict {
            line.push_str(&format!(", {} differ under strict", self.differing()));
        }
        line
    }
}

/// Parses a vector file; errors name `file:line:column`.
pub fn parse(text: &str, file: &str) -> Result<format::VectorFile, FileError> {
    crate::yaml::check_within(text, crate::limits::MAX_VECTOR_FILE_BYTES).map_err(|e| FileError(format!("{file}:{}:{}: {e}", e.line, e.column)))?;
    serde_yaml::from_str(text).map_err(|e| match e.location() {
        Some(loc) => FileError(format!("{file}:{}:{}: {e}", loc.line(), loc.column())),
        None => FileError(format!("{file}: {e}")),
    })
}

/// Runs the vectors of `text` whose id contains `only` (all when `None`).
pub fn run_text(text: &str, file: &str, profile: Profile, only: Option<&str>) -> Result<Summary, FileError> {
    let vectors = parse(text, file)?;
    let results = vectors
        .vectors
        .iter()
        .filter(|v| only.is_none_or(|o| v.id.contains(o)))
        .map(|v| run_vector(v, profile))
        .collect();
    Ok(Summary { profile, results })
}

pub fn run_file(path: &Path, profile: Profile, only: Option<&str>) -> Result<Summary, FileError> {
    let name = path.display().to_string();
    let text = crate::yaml::read_file_within(path, crate::limits::MAX_VECTOR_FILE_BYTES).map_err(|e| match e {
        crate::yaml::ReadError::Input(e) => FileError(format!("{name}:{}:{}: {e}", e.line, e.column)),
        crate::yaml::ReadError::Io(e) => FileError(format!("{name}: cannot read the vector file: {e}")),
    })?;
    run_text(&text, &name, profile, only)
}
