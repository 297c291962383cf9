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
    /// What this profile lets through, for the proxy's start-up line.
    pub fn lets_through(self) -> &'static str {
        match self {
            Profile::Intercept => {
                "Intercept's own behaviour, its gaps included: a tools/call whose envelope does not strictly decode (a decoy or case-variant `name`, a wrong JSON type) and a JSON-RPC batch on stdio are forwarded unevaluated, so such a call can reach a hidden or denied tool; resources and prompts are never gated; and a reused request id lets an upstream error refund another call's quota. `--profile strict` closes these gaps (it fails closed; decisions on well-formed calls are the same); `gauntlet verify POLICY --profile strict` shows what changes"
            }
            Profile::Strict => {
                "Intercept's decisions on well-formed calls, every gap closed: malformed envelopes, decoy and case-variant keys, batches, tools/call notifications and reused request ids are refused, never forwarded, and so is a call whose arguments the tool's listed inputSchema rejects (an undeclared field included) and every resources, prompts or completion request the policy does not govern"
            }
        }
    }

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
