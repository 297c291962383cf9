//! `gauntlet proxy POLICY --upstream URL [--listen ADDR]`: a Streamable HTTP
//! upstream, fronted by stdio (the bridge) or by Streamable HTTP.

use std::path::PathBuf;

use crate::profile::Profile;

use super::auditlog::AuditLog;
use super::core::ProxyCore;
use super::grants::Grants;

pub struct HttpConfig {
    pub upstream: String,
    pub listen: Option<String>,
    pub grants: Option<Grants>,
    pub identity: Option<String>,
    pub max_line: usize,
    /// The policy file to watch for hot reload, with its profile.
    pub policy: Option<(PathBuf, Profile)>,
}

pub fn run(config: HttpConfig, core: ProxyCore, audit: AuditLog) -> Result<(), String> {
    let _ = (core, audit);
    Err(format!("the HTTP upstream `{}` is not supported yet", config.upstream))
}
