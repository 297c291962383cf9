//! Go renderings that leak into strings Intercept shows (semantics Appendix A):
//! `%q` quoting, `%v` of values and doubles, and `encoding/json` output.
//! Matching them byte for byte is what lets gauntlet predict Intercept's
//! messages, denial lines and argument hashes.

pub mod json;
pub mod quote;
pub mod value;
