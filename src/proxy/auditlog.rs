//! Where the standalone proxy writes its audit records: JSONL to `--audit
//! FILE`, or else one short line per denial on stderr (every decision at
//! `--log-level debug`, none at `warn` or `error`). Never stdout, which
//! belongs to the MCP stream.

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::path::Path;

use super::core::{AuditRecord, AuditResult};
use super::log::{enabled, Level};

pub enum AuditLog {
    /// One JSON object per line, appended.
    File(LineWriter<File>),
    /// Denials and refusals only, as human-readable lines on stderr.
    Stderr,
}

impl AuditLog {
    pub fn open(path: Option<&Path>) -> io::Result<AuditLog> {
        match path {
            None => Ok(AuditLog::Stderr),
            Some(p) => {
                let file = std::fs::OpenOptions::new().create(true).append(true).open(p)?;
                Ok(AuditLog::File(LineWriter::new(file)))
            }
        }
    }

    pub fn record(&mut self, record: &AuditRecord) {
        match self {
            AuditLog::File(w) => {
                if let Ok(line) = serde_json::to_string(record) {
                    // An audit file that cannot be written must not stop enforcement.
                    if let Err(e) = writeln!(w, "{line}") {
                        eprintln!("gauntlet proxy: cannot write the audit record: {e}");
                    }
                }
            }
            AuditLog::Stderr => {
                let level = if record.result == AuditResult::Allowed { Level::Debug } else { Level::Info };
                if enabled(level) {
                    let verb = match record.result {
                        AuditResult::Allowed => "allowed",
                        AuditResult::Denied => "denied",
                        AuditResult::Refused => "refused",
                    };
                    eprintln!(
                        "gauntlet proxy: {verb} `{}`: {}",
                        record.tool,
                        record.message.as_deref().unwrap_or("")
                    );
                }
            }
        }
    }
}
