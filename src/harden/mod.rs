//! Telling people what to change, and proving it: over `verify` (verdicts
//! and blame) and the engine it drives.
//!
//! [`needs`] turns what the requirements ask of a tool into edits;
//! [`patch`] makes those edits on the user's own file text and shows them as
//! unified diffs; [`suggest`] proves a set of edits by re-running the
//! database in-process (`verify --suggest`); [`harden`] writes a whole
//! policy that meets the requirements, or refuses to (`gauntlet harden`),
//! with [`surfaces`]' entries for resources and prompts.

// Named after the command it implements, as `suggest` is.
#[allow(clippy::module_inception)]
pub mod harden;
pub mod needs;
pub mod patch;
pub mod suggest;
pub mod surfaces;
