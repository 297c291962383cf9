//! A mock server that also appends its ledger to a JSONL file as it goes,
//! for process runs (`gauntlet mock --ledger FILE`): a test can read the file
//! while the server is still running.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use crate::clock::Timestamp;
use crate::caller::CallContext;
use crate::mcp::{MessageHandler, Reply};

use super::MockServer;

pub struct Recording {
    server: MockServer,
    file: Option<File>,
    written: usize,
}

impl Recording {
    /// Opens `ledger` for appending (created if missing).
    pub fn new(server: MockServer, ledger: Option<&Path>) -> std::io::Result<Recording> {
        let file = match ledger {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            None => None,
        };
        Ok(Recording {
            server,
            file,
            written: 0,
        })
    }

    pub fn server(&self) -> &MockServer {
        &self.server
    }

    fn flush_ledger(&mut self) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        let mut text = String::new();
        for e in &self.server.ledger().entries[self.written..] {
            text.push_str(&e.to_json_line());
            text.push('\n');
        }
        self.written = self.server.ledger().entries.len();
        if let Err(e) = file.write_all(text.as_bytes()).and_then(|_| file.flush()) {
            eprintln!("gauntlet mock: could not append to the ledger file: {e}");
            self.file = None;
        }
    }
}

impl MessageHandler for Recording {
    fn handle(&mut self, msg: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        let replies = self.server.handle(msg, ctx, now);
        self.flush_ledger();
        replies
    }

    fn handle_line(&mut self, line: &[u8], ctx: &CallContext, now: Timestamp) -> Vec<Reply> {
        let replies = self.server.handle_line(line, ctx, now);
        self.flush_ledger();
        replies
    }

    fn end_session(&mut self, session: &str) {
        MessageHandler::end_session(&mut self.server, session);
    }

    fn is_dead(&self) -> bool {
        self.server.is_crashed()
    }
}
