//! The one way a command reads the policy file it is given: every command
//! (`validate`, `verify`, `replay`, `proxy`, `harden`, `convert`) prints the
//! same lines about the same file ([`crate::policy::report`]) and exits the
//! same way when it does not load: 1 for a file that was read and is wrong
//! (it does not parse, breaks a rule, crosses an input limit, mixes two
//! dialects), 2 for a file that cannot be read at all.

use std::path::Path;

use super::Exit;
use crate::policy::{self, model::Dialect, LoadedPolicy, PolicyError};

/// `--dialect`: read the policy as this dialect instead of detecting it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DialectFlag {
    Intercept,
    Catalogue,
    Policylayer,
}

impl From<DialectFlag> for Dialect {
    fn from(d: DialectFlag) -> Dialect {
        match d {
            DialectFlag::Intercept => Dialect::Intercept,
            DialectFlag::Catalogue => Dialect::Catalogue,
            DialectFlag::Policylayer => Dialect::PolicyLayer,
        }
    }
}

/// Loads `path` (in `dialect`, or the one its content shows), printing its
/// warnings and errors on stderr; on failure, the exit code to end with.
pub fn policy(path: &Path, dialect: Option<DialectFlag>) -> Result<LoadedPolicy, Exit> {
    let loaded = policy::load_file(path, dialect.map(Dialect::from));
    eprint!("{}", policy::report(loaded.as_ref()));
    loaded.map_err(|e| exit_for(&e))
}

/// The exit code for a policy that does not load.
pub fn exit_for(e: &PolicyError) -> Exit {
    if e.unreadable {
        Exit::CouldNotRun
    } else {
        Exit::CheckFailed
    }
}
