//! A client for one short conversation with a real MCP server: start or
//! reach it (a child process on stdio, or a Streamable HTTP endpoint), open
//! a session in whichever era it speaks, send requests one at a time.
//!
//! The handshake era is tried first (`initialize`, which nearly every server
//! speaks); a server that refuses it is asked `server/discover` in the
//! stateless 2026-07-28 era. Requests are sent with the framing and the
//! builders of [`super::stdio`], [`super::jsonrpc`] and [`super::http`];
//! results come back as their raw JSON text, so callers can keep key order.
//! Server requests on stdio are answered (`ping` with `{}`, anything else
//! with method-not-found); notifications are ignored.

use std::collections::VecDeque;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::http::{HttpClient, METHOD_HEADER, PROTOCOL_VERSION_HEADER, SESSION_HEADER};
use super::jsonrpc::{self, Class, Id, Message, RpcError};
use super::stdio::{write_line, Frame, LineReader};
use super::version::{self, ProtocolVersion};

/// Where the server is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A command to start, speaking MCP on its stdin/stdout.
    Command(Vec<String>),
    /// A Streamable HTTP endpoint, with extra request headers (e.g. auth).
    Http {
        url: String,
        headers: Vec<(String, String)>,
    },
}

/// Why the conversation failed; each says what happened in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("could not start `{program}`: {reason}")]
    Start { program: String, reason: String },
    #[error("the server closed its output before answering `{method}`{}", stderr_note(.stderr))]
    Closed { method: String, stderr: Vec<String> },
    #[error("the server wrote something that is not a JSON-RPC message: {detail}{}", stderr_note(.stderr))]
    Garbage { detail: String, stderr: Vec<String> },
    #[error("the server answered `{method}` with error {}: {}", .error.code, .error.message)]
    Rpc { method: String, error: RpcError },
    #[error("the server answered `{method}` with HTTP {status}{}", body_note(.body))]
    Status {
        method: String,
        status: u16,
        body: String,
    },
    #[error("{0}")]
    Http(#[from] super::http::HttpClientError),
    #[error("could not talk to the server: {0}")]
    Io(String),
}

pub(crate) fn stderr_note(lines: &[String]) -> String {
    if lines.is_empty() {
        String::new()
    } else {
        format!("\n  its last stderr lines:\n    {}", lines.join("\n    "))
    }
}

fn body_note(body: &str) -> String {
    let body = body.trim();
    if body.is_empty() {
        String::new()
    } else {
        format!(": {}", cut(body, 300))
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}

/// What the server said about itself when the session opened.
#[derive(Clone, Debug)]
pub struct Hello {
    pub protocol: ProtocolVersion,
    /// The `initialize` (or `server/discover`) result as sent.
    pub result: Box<RawValue>,
}

/// An open session.
pub struct Session {
    conn: Conn,
    stateless: bool,
    next_id: i64,
    pub hello: Hello,
}

enum Conn {
    Stdio(StdioConn),
    Http(HttpConn),
}

const CLIENT_NAME: &str = "gauntlet";

/// The last lines a stdio server wrote on stderr, readable by whoever holds
/// a clone even after the session is gone (a recording that timed out).
#[derive(Clone, Debug, Default)]
pub struct StderrTail(Arc<Mutex<VecDeque<String>>>);

impl StderrTail {
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default()
    }
}

impl Session {
    /// Starts or reaches the server and opens a session.
    pub async fn open(endpoint: &Endpoint) -> Result<Session, ClientError> {
        Session::open_with(endpoint, StderrTail::default()).await
    }

    /// [`Session::open`], keeping a stdio server's stderr tail in `tail`.
    pub async fn open_with(endpoint: &Endpoint, tail: StderrTail) -> Result<Session, ClientError> {
        let conn = match endpoint {
            Endpoint::Command(argv) => Conn::Stdio(StdioConn::spawn(argv, tail)?),
            Endpoint::Http { url, headers } => Conn::Http(HttpConn::new(url, headers)?),
        };
        let mut session = Session {
            conn,
            stateless: false,
            next_id: 1,
            hello: Hello {
                protocol: ProtocolVersion::LATEST_HANDSHAKE,
                result: RawValue::from_string("{}".into())
                    .map_err(|e| ClientError::Io(e.to_string()))?,
            },
        };
        let init = json!({
            "protocolVersion": ProtocolVersion::LATEST_HANDSHAKE.as_str(),
            "capabilities": {},
            "clientInfo": {"name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")},
        });
        match session.request("initialize", init).await {
            Ok(result) => {
                #[derive(Deserialize)]
                struct Init {
                    #[serde(rename = "protocolVersion")]
                    protocol: String,
                }
                let init: Init =
                    serde_json::from_str(result.get()).map_err(|e| ClientError::Garbage {
                        detail: format!(
                            "an `initialize` result without a usable `protocolVersion` ({e})"
                        ),
                        stderr: session.conn.stderr(),
                    })?;
                session.hello.protocol = ProtocolVersion::parse(&init.protocol)
                    .filter(|v| ProtocolVersion::HANDSHAKE.contains(v))
                    .ok_or_else(|| ClientError::Garbage {
                        detail: format!("`initialize` chose protocol version `{}`, which this client does not speak", init.protocol),
                        stderr: session.conn.stderr(),
                    })?;
                session.hello.result = result;
                session.notify("notifications/initialized").await?;
            }
            // Refused outright: perhaps a server of the stateless era.
            Err(first @ (ClientError::Rpc { .. } | ClientError::Status { .. })) => {
                session.stateless = true;
                session.hello.protocol = ProtocolVersion::V2026_07_28;
                match session.request("server/discover", json!({})).await {
                    Ok(result) => session.hello.result = result,
                    Err(_) => return Err(first),
                }
            }
            Err(e) => return Err(e),
        }
        Ok(session)
    }

    /// Sends one request and waits for its answer; the raw `result` on success.
    pub async fn request(
        &mut self,
        method: &str,
        mut params: Value,
    ) -> Result<Box<RawValue>, ClientError> {
        if self.stateless {
            params["_meta"] = json!({
                version::META_PROTOCOL_VERSION: ProtocolVersion::V2026_07_28.as_str(),
                "io.modelcontextprotocol/clientCapabilities": {},
                "io.modelcontextprotocol/clientInfo": {"name": CLIENT_NAME, "version": env!("CARGO_PKG_VERSION")},
            });
        }
        let id = Id::number(self.next_id);
        self.next_id += 1;
        let line = jsonrpc::request(&id, method, Some(&params));
        let protocol = self.hello.protocol;
        let answer = match &mut self.conn {
            Conn::Stdio(c) => c.exchange(&line, &id, method).await?,
            Conn::Http(c) => {
                c.exchange(&line, &id, method, protocol, method != "initialize")
                    .await?
            }
        };
        result_of(&answer, method)
    }

    async fn notify(&mut self, method: &str) -> Result<(), ClientError> {
        let line = jsonrpc::notification(method, None);
        let protocol = self.hello.protocol;
        match &mut self.conn {
            Conn::Stdio(c) => write_line(&mut c.stdin, &line)
                .await
                .map_err(|e| c.io_error(e)),
            Conn::Http(c) => c.send_notification(&line, protocol).await,
        }
    }

    /// Ends the session: closes the child's stdin and waits briefly before
    /// killing it, or DELETEs the HTTP session.
    pub async fn close(self) {
        match self.conn {
            Conn::Stdio(c) => c.shut_down().await,
            Conn::Http(c) => {
                if let Some(session) = &c.session {
                    let _ = c.client.delete_session(session).await;
                }
            }
        }
    }
}

impl Conn {
    fn stderr(&self) -> Vec<String> {
        match self {
            Conn::Stdio(c) => c.stderr_tail(),
            Conn::Http(_) => Vec::new(),
        }
    }
}

/// The raw `result` of a response, or its error.
fn result_of(answer: &Message, method: &str) -> Result<Box<RawValue>, ClientError> {
    #[derive(Deserialize)]
    struct Envelope {
        result: Option<Box<RawValue>>,
        error: Option<Value>,
    }
    let garbage = |detail: String| ClientError::Garbage {
        detail,
        stderr: Vec::new(),
    };
    let envelope: Envelope = serde_json::from_slice(answer.raw())
        .map_err(|e| garbage(format!("the answer to `{method}` does not parse ({e})")))?;
    match (envelope.result, envelope.error) {
        (Some(result), None) => Ok(result),
        (None, Some(error)) => Err(ClientError::Rpc {
            method: method.to_string(),
            error: RpcError {
                code: error.get("code").and_then(Value::as_i64).unwrap_or(0),
                message: error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                data: error.get("data").cloned(),
            },
        }),
        _ => Err(garbage(format!(
            "the answer to `{method}` has neither a `result` nor an `error`: {}",
            cut(&String::from_utf8_lossy(answer.raw()), 200)
        ))),
    }
}

/// A child process speaking newline-delimited JSON-RPC.
struct StdioConn {
    child: Child,
    stdin: ChildStdin,
    stdout: LineReader<BufReader<ChildStdout>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    /// The task collecting stderr; it ends when the child's stderr closes.
    stderr_task: tokio::task::JoinHandle<()>,
}

/// Stderr lines kept for error messages.
const STDERR_TAIL: usize = 12;

impl StdioConn {
    fn spawn(argv: &[String], tail: StderrTail) -> Result<StdioConn, ClientError> {
        let Some((program, args)) = argv.split_first() else {
            return Err(ClientError::Start {
                program: String::new(),
                reason: "no command given".into(),
            });
        };
        let mut child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| ClientError::Start {
                program: program.clone(),
                reason: e.to_string(),
            })?;
        let missing = |what: &str| ClientError::Start {
            program: program.clone(),
            reason: format!("no {what} pipe"),
        };
        let stdin = child.stdin.take().ok_or_else(|| missing("stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| missing("stdout"))?;
        let stderr_pipe = child.stderr.take().ok_or_else(|| missing("stderr"))?;
        let stderr = tail.0.clone();
        let tail = tail.0;
        let stderr_task = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr_pipe).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if let Ok(mut t) = tail.lock() {
                    if t.len() == STDERR_TAIL {
                        t.pop_front();
                    }
                    t.push_back(cut(&line, 300));
                }
            }
        });
        Ok(StdioConn {
            child,
            stdin,
            stdout: LineReader::new(BufReader::new(stdout)),
            stderr,
            stderr_task,
        })
    }

    fn stderr_tail(&self) -> Vec<String> {
        self.stderr
            .lock()
            .map(|t| t.iter().cloned().collect())
            .unwrap_or_default()
    }

    fn io_error(&self, e: std::io::Error) -> ClientError {
        ClientError::Io(format!("{e}{}", stderr_note(&self.stderr_tail())))
    }

    async fn exchange(
        &mut self,
        line: &[u8],
        id: &Id,
        method: &str,
    ) -> Result<Message, ClientError> {
        if let Err(e) = write_line(&mut self.stdin, line).await {
            // A child that died before reading shows up as a broken pipe: say so plainly.
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Err(self.closed(method).await);
            }
            return Err(self.io_error(e));
        }
        loop {
            let frame = self
                .stdout
                .next_frame()
                .await
                .map_err(|e| self.io_error(e))?;
            let bytes = match frame {
                None => return Err(self.closed(method).await),
                Some(Frame::TooLong { length, .. }) => {
                    return Err(ClientError::Garbage {
                        detail: format!("a line of {length} bytes, over the limit"),
                        stderr: self.stderr_tail(),
                    })
                }
                Some(Frame::Line(bytes)) => bytes,
            };
            let msg = Message::parse(&bytes);
            match msg.class() {
                Class::Response | Class::ErrorResponse if msg.id() == Some(id) => return Ok(msg),
                Class::Response | Class::ErrorResponse | Class::Notification => {}
                Class::Request => {
                    let reply = match (msg.id(), msg.method()) {
                        (Some(rid), Some("ping")) => jsonrpc::result_response(rid, &json!({})),
                        (rid, m) => jsonrpc::error_response(
                            rid,
                            &RpcError::method_not_found(m.unwrap_or_default()),
                        ),
                    };
                    write_line(&mut self.stdin, &reply)
                        .await
                        .map_err(|e| self.io_error(e))?;
                }
                _ => {
                    let why = msg
                        .parse_error()
                        .map(str::to_string)
                        .unwrap_or_else(|| "not a JSON-RPC message".into());
                    return Err(ClientError::Garbage {
                        detail: format!("{why}: {}", cut(&String::from_utf8_lossy(&bytes), 200)),
                        stderr: self.stderr_tail(),
                    });
                }
            }
        }
    }

    /// The output ended: wait a moment for the exit status and stderr.
    async fn closed(&mut self, method: &str) -> ClientError {
        let moment = std::time::Duration::from_millis(500);
        let _ = tokio::time::timeout(moment, self.child.wait()).await;
        let _ = tokio::time::timeout(moment, &mut self.stderr_task).await;
        ClientError::Closed {
            method: method.to_string(),
            stderr: self.stderr_tail(),
        }
    }

    async fn shut_down(mut self) {
        drop(self.stdin);
        let waited =
            tokio::time::timeout(std::time::Duration::from_secs(2), self.child.wait()).await;
        if waited.is_err() {
            let _ = self.child.kill().await;
        }
    }
}

/// A Streamable HTTP endpoint and the session it issued.
struct HttpConn {
    client: HttpClient,
    headers: Vec<(String, String)>,
    session: Option<String>,
}

impl HttpConn {
    fn new(url: &str, headers: &[(String, String)]) -> Result<HttpConn, ClientError> {
        Ok(HttpConn {
            client: HttpClient::new(url)?,
            headers: headers.to_vec(),
            session: None,
        })
    }

    fn headers<'a>(
        &'a self,
        protocol: &'a str,
        method: &'a str,
        with_version: bool,
    ) -> Vec<(&'a str, &'a str)> {
        let mut h: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        if let Some(s) = &self.session {
            h.push((SESSION_HEADER, s));
        }
        if with_version {
            h.push((PROTOCOL_VERSION_HEADER, protocol));
        }
        if protocol == ProtocolVersion::V2026_07_28.as_str() {
            h.push((METHOD_HEADER, method));
        }
        h
    }

    async fn exchange(
        &mut self,
        line: &[u8],
        id: &Id,
        method: &str,
        protocol: ProtocolVersion,
        with_version: bool,
    ) -> Result<Message, ClientError> {
        // `server/discover` is the stateless era's first request: it names its version.
        let protocol = if method == "server/discover" {
            ProtocolVersion::V2026_07_28
        } else {
            protocol
        };
        let with_version = with_version || method == "server/discover";
        let headers = self.headers(protocol.as_str(), method, with_version);
        let reply = self.client.post(line, &headers).await?;
        let body = || {
            reply
                .messages
                .iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect::<Vec<_>>()
                .join("\n")
        };
        if reply.status >= 300 {
            return Err(ClientError::Status {
                method: method.to_string(),
                status: reply.status,
                body: body(),
            });
        }
        if method == "initialize" {
            self.session = reply.session_id.clone();
        }
        for m in &reply.messages {
            let msg = Message::parse(m);
            if matches!(msg.class(), Class::Response | Class::ErrorResponse) && msg.id() == Some(id)
            {
                return Ok(msg);
            }
        }
        Err(ClientError::Garbage {
            detail: format!(
                "HTTP {} without an answer to `{method}`: {}",
                reply.status,
                cut(&body(), 200)
            ),
            stderr: Vec::new(),
        })
    }

    async fn send_notification(
        &mut self,
        line: &[u8],
        protocol: ProtocolVersion,
    ) -> Result<(), ClientError> {
        let method = "notifications/initialized";
        let headers = self.headers(protocol.as_str(), method, true);
        let reply = self.client.post(line, &headers).await?;
        if reply.status >= 300 {
            let body = reply
                .messages
                .iter()
                .map(|m| String::from_utf8_lossy(m).into_owned())
                .collect::<Vec<_>>()
                .join("\n");
            return Err(ClientError::Status {
                method: method.to_string(),
                status: reply.status,
                body,
            });
        }
        Ok(())
    }
}
