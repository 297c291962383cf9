//! The two behaviours gauntlet can enforce with: Intercept's own, bug for bug,
//! or gauntlet's hardened one. Chosen per run with `--profile`.

use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, PartialOrd, Ord, clap::ValueEnum)]
pub enum Profile {
    /// Predicts production Intercept: same decisions, same wire handling, same gaps (semantics §7).
    #[default]
    Intercept,
    /// Identical decisions on well-formed calls; every §7 gap closed, failing closed.
    Strict,
}

impl Profile {
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Intercept => "intercept",
            Profile::Strict => "strict",
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "intercept" => Ok(Profile::Intercept),
            "strict" => Ok(Profile::Strict),
            other => Err(format!("unknown profile `{other}`: expected `intercept` or `strict`")),
        }
    }
}
