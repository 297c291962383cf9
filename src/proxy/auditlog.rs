//! Where the standalone proxy writes its audit records: JSONL to `--audit
//! FILE`, or else one short line per denial on stderr (every decision at
//! `--log-level debug`, none at `warn` or `error`). Never stdout, which
//! belongs to the MCP stream.

use std::fs::File;
use std::io::{self, LineWriter, Write};
use std::path::Path;

use super::core::{AuditRecord, AuditResult};
use super::log::{enabled, Level};

pub struct AuditLog {
    audit: Audit,
    /// `--record FILE`: one trace line per evaluated call.
    traffic: Option<LineWriter<File>>,
}

enum Audit {
    /// One JSON object per line, appended.
    File(LineWriter<File>),
    /// Denials and refusals only, as human-readable lines on stderr.
    Stderr,
}

fn append(path: &Path) -> io::Result<LineWriter<File>> {
    Ok(LineWriter::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?))
}

impl AuditLog {
    pub fn open(path: Option<&Path>) -> io::Result<AuditLog> {
        let audit = match path {
            None => Audit::Stderr,
            Some(p) => Audit::File(append(p)?),
        };
        Ok(AuditLog { audit, traffic: None })
    }

    /// Also write the traffic lines of [`AuditLog::traffic`] to `path` (appended).
    pub fn with_traffic(mut self, path: &Path) -> io::Result<AuditLog> {
        self.traffic = Some(append(path)?);
        Ok(self)
    }

    /// One line of the traffic recording; dropped unless recording.
    pub fn traffic(&mut self, line: &[u8]) {
        if let Some(w) = &mut self.traffic {
            // A recording that cannot be written must not stop enforcement.
            if let Err(e) = w.write_all(line).and_then(|()| w.write_all(b"\n")) {
                eprintln!("gauntlet proxy: cannot write the traffic recording: {e}");
            }
        }
    }

    pub fn record(&mut self, record: &AuditRecord) {
        match &mut self.audit {
            Audit::File(w) => {
                if let Ok(line) = serde_json::to_string(record) {
                    // An audit file that cannot be written must not stop enforcement.
                    if let Err(e) = writeln!(w, "{line}") {
                        eprintln!("gauntlet proxy: cannot write the audit record: {e}");
                    }
                }
            }
            Audit::Stderr => {
                let level = if record.result == AuditResult::Allowed { Level::Debug } else { Level::Info };
                if enabled(level) {
                    let verb = match record.result {
                        AuditResult::Allowed => "allowed",
                        AuditResult::Denied => "denied",
                        AuditResult::Refused => "refused",
                    };
                    eprintln!("gauntlet proxy: {}", line(verb, record));
                }
            }
        }
    }
}

/// The stderr line of one record: the tool when the message named one.
fn line(verb: &str, record: &AuditRecord) -> String {
    let message = record.message.as_deref().unwrap_or("");
    if record.tool.is_empty() {
        format!("{verb} a message that names no tool: {message}")
    } else {
        format!("{verb} `{}`: {message}", record.tool)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_without_a_tool_says_so_instead_of_empty_quotes() {
        let mut r = AuditRecord {
            time: crate::clock::Timestamp(0),
            tool: String::new(),
            result: AuditResult::Refused,
            rule: None,
            message: Some("invalid request: `jsonrpc` is missing".into()),
            args_hash: None,
            identity: None,
            session: None,
            cause: None,
            counters: Default::default(),
        };
        assert_eq!(line("refused", &r), "refused a message that names no tool: invalid request: `jsonrpc` is missing");
        r.tool = "git_reset".into();
        assert_eq!(line("refused", &r), "refused `git_reset`: invalid request: `jsonrpc` is missing");
    }
}
