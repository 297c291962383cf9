//! Who sent a message: the identity and session a transport saw it arrive
//! with. The wire (`mcp`), the servers behind it (`mock`) and the decisions
//! (`engine`, which partitions grant- and session-scoped counters by it) all
//! speak of it, so it lives below them.

/// Who is calling: selects the partition of grant- and session-scoped counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CallContext {
    pub identity: Option<String>,
    pub session: Option<String>,
}
