//! (being written)
use super::{LoadedPolicy, PolicyError, Diagnostic};
pub fn load(_text: &str, file: &str) -> Result<LoadedPolicy, PolicyError> {
    Err(PolicyError::single(Diagnostic::new(file, 1, 1, "the catalogue dialect is not supported yet")))
}
