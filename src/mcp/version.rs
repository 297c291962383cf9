//! Protocol versions and the session lifecycle.
//!
//! Two eras: the handshake era (`initialize`, then `notifications/initialized`)
//! and the stateless 2026-07-28 era (no handshake; every request names its
//! version in `params._meta`). The lifecycle is a small state machine so that
//! "a call before initialize" is an outcome a test can name, not a log line.

use std::fmt;

use serde_json::Value;

/// The `_meta` key carrying a 2026-07-28 request's protocol version.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key carrying a 2026-07-28 result's server info.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProtocolVersion {
    V2024_11_05,
    V2025_03_26,
    V2025_06_18,
    V2025_11_25,
    V2026_07_28,
}

impl ProtocolVersion {
    /// Handshake-era versions this implementation answers `initialize` with, newest first.
    pub const HANDSHAKE: [ProtocolVersion; 4] = [
        ProtocolVersion::V2025_11_25,
        ProtocolVersion::V2025_06_18,
        ProtocolVersion::V2025_03_26,
        ProtocolVersion::V2024_11_05,
    ];
    pub const LATEST_HANDSHAKE: ProtocolVersion = ProtocolVersion::V2025_11_25;
    /// Versions served without a handshake.
    pub const STATELESS: [ProtocolVersion; 1] = [ProtocolVersion::V2026_07_28];

    pub fn as_str(self) -> &'static str {
        match self {
            ProtocolVersion::V2024_11_05 => "2024-11-05",
            ProtocolVersion::V2025_03_26 => "2025-03-26",
            ProtocolVersion::V2025_06_18 => "2025-06-18",
            ProtocolVersion::V2025_11_25 => "2025-11-25",
            ProtocolVersion::V2026_07_28 => "2026-07-28",
        }
    }

    pub fn parse(text: &str) -> Option<ProtocolVersion> {
        [
            ProtocolVersion::V2024_11_05,
            ProtocolVersion::V2025_03_26,
            ProtocolVersion::V2025_06_18,
            ProtocolVersion::V2025_11_25,
            ProtocolVersion::V2026_07_28,
        ]
        .into_iter()
        .find(|v| v.as_str() == text)
    }

    /// Only 2025-03-26 let a message be a JSON-RPC batch.
    pub fn allows_batches(self) -> bool {
        self == ProtocolVersion::V2025_03_26
    }

    pub fn is_stateless(self) -> bool {
        self >= ProtocolVersion::V2026_07_28
    }

    /// Whether a method exists in this version (server side, client → server).
    pub fn knows_method(self, method: &str) -> bool {
        match method {
            "initialize" | "notifications/initialized" | "ping" | "logging/setLevel" => {
                !self.is_stateless()
            }
            "server/discover" | "subscriptions/listen" => self.is_stateless(),
            "tools/list" | "tools/call" | "notifications/cancelled" => true,
            "resources/list" | "resources/read" | "resources/templates/list" | "prompts/list" | "prompts/get" => true,
            _ => false,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The handshake answer: echo the client's version when it is a handshake
/// version we speak, otherwise offer our latest (the client then decides).
pub fn negotiate(requested: Option<&str>) -> ProtocolVersion {
    requested
        .and_then(ProtocolVersion::parse)
        .filter(|v| ProtocolVersion::HANDSHAKE.contains(v))
        .unwrap_or(ProtocolVersion::LATEST_HANDSHAKE)
}

/// The version a stateless request names in `params._meta`, as written.
pub fn meta_version(params: Option<&Value>) -> Option<&str> {
    params?.get("_meta")?.get(META_PROTOCOL_VERSION)?.as_str()
}

/// Where a handshake-era session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lifecycle {
    /// Nothing but `initialize` (and `ping`) is in order yet.
    AwaitingInitialize,
    /// `initialize` answered; `notifications/initialized` not yet received.
    Initializing(ProtocolVersion),
    Ready(ProtocolVersion),
    Closed,
}

/// What the lifecycle says about one incoming request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Handle it under this version.
    Proceed(ProtocolVersion),
    /// Perform the handshake.
    Initialize,
    /// A second `initialize` on a session that already has one.
    AlreadyInitialized,
    /// A request other than `initialize`/`ping` before the handshake.
    BeforeInitialize,
    /// The session was closed.
    SessionClosed,
}

impl Lifecycle {
    pub fn version(self) -> Option<ProtocolVersion> {
        match self {
            Lifecycle::Initializing(v) | Lifecycle::Ready(v) => Some(v),
            Lifecycle::AwaitingInitialize | Lifecycle::Closed => None,
        }
    }

    /// Judges one request by method.
    pub fn gate(self, method: &str) -> Gate {
        match (self, method) {
            (Lifecycle::Closed, _) => Gate::SessionClosed,
            (Lifecycle::AwaitingInitialize, "initialize") => Gate::Initialize,
            (_, "initialize") => Gate::AlreadyInitialized,
            // ping is allowed before the handshake completes (lifecycle rules).
            (Lifecycle::AwaitingInitialize, "ping") => {
                Gate::Proceed(ProtocolVersion::LATEST_HANDSHAKE)
            }
            (Lifecycle::AwaitingInitialize, _) => Gate::BeforeInitialize,
            // Clients may send requests right after the initialize response,
            // before `initialized` reaches us; real servers accept them.
            (Lifecycle::Initializing(v) | Lifecycle::Ready(v), _) => Gate::Proceed(v),
        }
    }

    pub fn initialized(self, version: ProtocolVersion) -> Lifecycle {
        match self {
            Lifecycle::AwaitingInitialize => Lifecycle::Initializing(version),
            other => other,
        }
    }

    /// `notifications/initialized` arrived.
    pub fn ready(self) -> Lifecycle {
        match self {
            Lifecycle::Initializing(v) => Lifecycle::Ready(v),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negotiation_echoes_supported_versions_and_offers_latest_otherwise() {
        assert_eq!(negotiate(Some("2025-06-18")), ProtocolVersion::V2025_06_18);
        assert_eq!(negotiate(Some("2025-11-25")), ProtocolVersion::V2025_11_25);
        assert_eq!(negotiate(Some("2026-07-28")), ProtocolVersion::V2025_11_25);
        assert_eq!(negotiate(Some("1999-01-01")), ProtocolVersion::V2025_11_25);
        assert_eq!(negotiate(None), ProtocolVersion::V2025_11_25);
    }

    #[test]
    fn lifecycle_names_a_call_before_initialize() {
        let l = Lifecycle::AwaitingInitialize;
        assert_eq!(l.gate("tools/call"), Gate::BeforeInitialize);
        assert_eq!(l.gate("initialize"), Gate::Initialize);
        let l = l.initialized(ProtocolVersion::V2025_06_18);
        assert_eq!(
            l.gate("tools/list"),
            Gate::Proceed(ProtocolVersion::V2025_06_18)
        );
        assert_eq!(l.gate("initialize"), Gate::AlreadyInitialized);
        let l = l.ready();
        assert_eq!(l, Lifecycle::Ready(ProtocolVersion::V2025_06_18));
        assert_eq!(Lifecycle::Closed.gate("tools/list"), Gate::SessionClosed);
    }

    #[test]
    fn methods_belong_to_eras() {
        assert!(!ProtocolVersion::V2025_11_25.knows_method("server/discover"));
        assert!(ProtocolVersion::V2026_07_28.knows_method("server/discover"));
        assert!(!ProtocolVersion::V2026_07_28.knows_method("ping"));
        assert!(ProtocolVersion::V2025_03_26.allows_batches());
        assert!(!ProtocolVersion::V2025_06_18.allows_batches());
    }
}
