//! Policy files → one typed [`model::Policy`].
//!
//! Stages, each its own module: YAML/JSON text → a positioned document →
//! dialect-specific raw structs → normalisation → validation (Intercept's
//! exact messages, all at once) → lowering into the model.

pub mod model;
