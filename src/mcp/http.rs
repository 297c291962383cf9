//! Streamable HTTP: the server side over any [`MessageHandler`], and a small
//! client for talking to HTTP upstreams.
//!
//! One endpoint, `/mcp`. POST carries one message; requests are answered
//! with JSON or an SSE stream (SSE when the client prefers it or when more
//! than one message goes back), notifications and responses with 202.
//! Handshake-era sessions get a random `Mcp-Session-Id` at initialize and
//! must present it afterwards (404 when unknown); 2026-07-28 requests are
//! stateless and their `Mcp-Method`/`Mcp-Name`/`MCP-Protocol-Version` headers
//! must agree with the body. A present, non-local `Origin` is refused (403).
//! GET gets 405 (no server-initiated stream). This module decides no policy.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures::StreamExt;
use rand::Rng;
use serde_json::Value;

use crate::clock::Clock;
use crate::caller::CallContext;

use super::jsonrpc::{self, codes, Class, Message, RpcError};
use super::stdio::MAX_LINE;
use super::version::{self, ProtocolVersion};
use super::{MessageHandler, Reply};

pub const SESSION_HEADER: &str = "mcp-session-id";
pub const PROTOCOL_VERSION_HEADER: &str = "mcp-protocol-version";
pub const METHOD_HEADER: &str = "mcp-method";
pub const NAME_HEADER: &str = "mcp-name";

/// A bound Streamable HTTP server, ready to run.
pub struct HttpServer {
    listener: tokio::net::TcpListener,
    router: Router,
}

impl HttpServer {
    /// Binds `addr` (use port 0 for any free port). `handler` is shared with
    /// the caller so it can inspect the core (e.g. a mock's ledger) while serving.
    pub async fn bind<H: MessageHandler>(
        addr: SocketAddr,
        handler: Arc<Mutex<H>>,
        clock: Arc<dyn Clock>,
    ) -> std::io::Result<HttpServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        Ok(HttpServer {
            listener,
            router: router(handler, clock),
        })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the task is dropped or the process ends.
    pub async fn run(self) -> std::io::Result<()> {
        axum::serve(self.listener, self.router).await
    }
}

/// The `/mcp` router over a shared handler.
pub fn router<H: MessageHandler>(handler: Arc<Mutex<H>>, clock: Arc<dyn Clock>) -> Router {
    let shared = Arc::new(Shared {
        handler,
        clock,
        sessions: Mutex::new(HashSet::new()),
    });
    Router::new()
        .route(
            "/mcp",
            post(post_mcp::<H>).get(get_mcp).delete(delete_mcp::<H>),
        )
        .layer(DefaultBodyLimit::max(MAX_LINE))
        .with_state(shared)
}

/// State shared by the routes; the caller keeps its own handle on `handler`.
struct Shared<H> {
    handler: Arc<Mutex<H>>,
    clock: Arc<dyn Clock>,
    sessions: Mutex<HashSet<String>>,
}

type St<H> = State<Arc<Shared<H>>>;

fn json_error(status: StatusCode, id: Option<&jsonrpc::Id>, err: RpcError) -> Response {
    let body = jsonrpc::error_response(id, &err);
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// True for an Origin on this machine: `http` or `https`, a loopback host
/// (`localhost`, `127.0.0.1`, `[::1]`, any case), an optional port, and
/// nothing else (no userinfo, path, query or fragment: `http://127.0.0.1:1@evil.com`
/// names evil.com).
pub fn origin_is_local(origin: &str) -> bool {
    let lower = origin.to_ascii_lowercase();
    let Some(authority) = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://")) else {
        return false;
    };
    if authority.contains(['@', '/', '?', '#', '\\']) {
        return false;
    }
    split_host_port(authority).is_some_and(|(host, _)| is_loopback_name(&host))
}

/// `host[:port]` or `[v6][:port]` from a Host header or an Origin's
/// authority; `None` when the port is not a number or the host is empty.
/// The host comes back lower-cased, without brackets.
pub fn split_host_port(authority: &str) -> Option<(String, Option<u16>)> {
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None => None,
        Some(p) if !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse().ok()?),
        Some(_) => return None,
    };
    (!host.is_empty()).then(|| (host.to_ascii_lowercase(), port))
}

/// The names of this machine's loopback interface.
pub fn is_loopback_name(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1")
}

/// What the client's `Accept` allows, and whether it prefers SSE.
struct Accept {
    json: bool,
    sse: bool,
    prefers_sse: bool,
}

fn accept(headers: &HeaderMap) -> Accept {
    let Some(text) = header_str(headers, "accept") else {
        return Accept {
            json: true,
            sse: true,
            prefers_sse: false,
        };
    };
    let json = text.find("application/json").or_else(|| text.find("*/*"));
    let sse = text.find("text/event-stream").or_else(|| text.find("*/*"));
    Accept {
        json: json.is_some(),
        sse: sse.is_some(),
        prefers_sse: matches!((sse, json), (Some(s), Some(j)) if s < j) || json.is_none(),
    }
}

async fn post_mcp<H: MessageHandler>(
    State(st): St<H>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(origin) = header_str(&headers, "origin") {
        if !origin_is_local(origin) {
            return (StatusCode::FORBIDDEN, "Invalid Origin header").into_response();
        }
    }
    let acc = accept(&headers);
    if !acc.json && !acc.sse {
        let err = RpcError::new(
            -32000,
            "Not Acceptable: accept application/json or text/event-stream",
        );
        return json_error(StatusCode::NOT_ACCEPTABLE, None, err);
    }
    let msg = Message::parse(&body);
    let session_header = header_str(&headers, SESSION_HEADER).map(str::to_string);
    let known = |s: &str| {
        st.sessions
            .lock()
            .map(|set| set.contains(s))
            .unwrap_or(false)
    };

    // Not a message at all: the core still sees it (its ledger records everything).
    if matches!(msg.class(), Class::Unparsable | Class::Invalid(_)) {
        let session = session_header.filter(|s| known(s));
        let replies = call(&st, &body, session);
        return respond_all(StatusCode::BAD_REQUEST, replies);
    }

    if let Some(requested) = version::meta_version(msg.params()) {
        if let Some(resp) = check_stateless_headers(&headers, &msg, requested) {
            return resp;
        }
        return answer(&st, &msg, &body, None, &acc).await;
    }

    let is_initialize = msg.is_request() && msg.method() == Some("initialize");
    let session = match session_header {
        Some(s) if known(&s) => s,
        Some(_) => {
            return json_error(
                StatusCode::NOT_FOUND,
                msg.id(),
                RpcError::invalid_request("unknown or ended session"),
            )
        }
        None if is_initialize => {
            let id = new_session_id();
            let replies = call(&st, &body, Some(id.clone()));
            let ok = replies.first().is_some_and(|r| is_result(&r.bytes));
            if ok {
                if let Ok(mut set) = st.sessions.lock() {
                    set.insert(id.clone());
                }
            }
            let mut resp = deliver(replies, &acc).await;
            if ok {
                if let Ok(v) = HeaderValue::from_str(&id) {
                    resp.headers_mut().insert(SESSION_HEADER, v);
                }
            }
            return resp;
        }
        None => {
            return json_error(
                StatusCode::BAD_REQUEST,
                msg.id(),
                RpcError::invalid_request("missing Mcp-Session-Id header"),
            )
        }
    };
    if let Some(v) = header_str(&headers, PROTOCOL_VERSION_HEADER) {
        if !ProtocolVersion::parse(v).is_some_and(|v| ProtocolVersion::HANDSHAKE.contains(&v)) {
            let err = RpcError::invalid_request(&format!("unsupported MCP-Protocol-Version `{v}`"));
            return json_error(StatusCode::BAD_REQUEST, msg.id(), err);
        }
    }
    answer(&st, &msg, &body, Some(session), &acc).await
}

/// 2026-07-28: the routing headers must say what the body says.
fn check_stateless_headers(
    headers: &HeaderMap,
    msg: &Message,
    requested: &str,
) -> Option<Response> {
    let mismatch = |what: &str| {
        let err = RpcError::new(
            codes::HEADER_MISMATCH,
            format!("{what} header does not match the request body"),
        );
        Some(json_error(StatusCode::BAD_REQUEST, msg.id(), err))
    };
    if header_str(headers, PROTOCOL_VERSION_HEADER).is_some_and(|h| h != requested) {
        return mismatch("MCP-Protocol-Version");
    }
    if header_str(headers, METHOD_HEADER).is_some_and(|h| Some(h) != msg.method()) {
        return mismatch("Mcp-Method");
    }
    let body_name = msg
        .params()
        .and_then(|p| p.get("name"))
        .and_then(Value::as_str);
    if msg.method() == Some("tools/call")
        && header_str(headers, NAME_HEADER).is_some_and(|h| Some(h) != body_name)
    {
        return mismatch("Mcp-Name");
    }
    None
}

async fn answer<H: MessageHandler>(
    st: &Shared<H>,
    msg: &Message,
    body: &[u8],
    session: Option<String>,
    acc: &Accept,
) -> Response {
    let replies = call(st, body, session);
    match msg.class() {
        Class::Notification | Class::Response | Class::ErrorResponse => {
            StatusCode::ACCEPTED.into_response()
        }
        _ => deliver(replies, acc).await,
    }
}

fn call<H: MessageHandler>(st: &Shared<H>, body: &[u8], session: Option<String>) -> Vec<Reply> {
    let ctx = CallContext {
        identity: None,
        session,
    };
    let now = st.clock.now();
    match st.handler.lock() {
        Ok(mut h) => h.handle(body, &ctx, now),
        Err(_) => vec![Reply::now(jsonrpc::error_response(
            None,
            &RpcError::internal("server state is unusable"),
        ))],
    }
}

fn is_result(bytes: &[u8]) -> bool {
    serde_json::from_slice::<Value>(bytes).is_ok_and(|v| v.get("result").is_some())
}

fn respond_all(status: StatusCode, replies: Vec<Reply>) -> Response {
    match replies.into_iter().next() {
        Some(r) => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            r.bytes,
        )
            .into_response(),
        None => status.into_response(),
    }
}

/// Sends the core's replies: nothing yet (a hang), one JSON body, or an SSE stream.
async fn deliver(replies: Vec<Reply>, acc: &Accept) -> Response {
    if replies.is_empty() {
        // The core chose never to answer (a simulated hang): neither do we.
        std::future::pending::<()>().await;
    }
    let use_sse = acc.sse && (acc.prefers_sse || replies.len() > 1 || !acc.json);
    if !use_sse {
        let last = replies
            .into_iter()
            .last()
            .map(|r| (r.delay_ms, r.bytes))
            .unwrap_or_default();
        tokio::time::sleep(Duration::from_millis(last.0)).await;
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            last.1,
        )
            .into_response();
    }
    let start = Instant::now();
    let events = futures::stream::iter(replies).then(move |r| async move {
        let due = start + Duration::from_millis(r.delay_ms);
        tokio::time::sleep_until(due.into()).await;
        Ok::<_, Infallible>(Bytes::from(sse_event(None, &r.bytes)))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-cache")
        .header("x-accel-buffering", "no")
        .body(Body::from_stream(events))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

async fn get_mcp() -> Response {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::ALLOW, "POST, DELETE")],
    )
        .into_response()
}

async fn delete_mcp<H: MessageHandler>(State(st): St<H>, headers: HeaderMap) -> Response {
    let Some(session) = header_str(&headers, SESSION_HEADER) else {
        return json_error(
            StatusCode::BAD_REQUEST,
            None,
            RpcError::invalid_request("missing Mcp-Session-Id header"),
        );
    };
    let removed = st
        .sessions
        .lock()
        .map(|mut set| set.remove(session))
        .unwrap_or(false);
    if !removed {
        return json_error(
            StatusCode::NOT_FOUND,
            None,
            RpcError::invalid_request("unknown or ended session"),
        );
    }
    if let Ok(mut h) = st.handler.lock() {
        h.end_session(session);
    }
    StatusCode::OK.into_response()
}

/// 32 random hex digits: visible ASCII, unguessable.
fn new_session_id() -> String {
    let bytes: [u8; 16] = rand::thread_rng().gen();
    hex::encode(bytes)
}

/// `"Name: Value"` as a command-line header, split as Intercept splits it: at
/// the first colon, both sides trimmed; `None` when there is no name.
pub fn split_header(raw: &str) -> Option<(String, String)> {
    let (name, value) = raw.split_once(':')?;
    (!name.trim().is_empty()).then(|| (name.trim().to_string(), value.trim().to_string()))
}

/// What an HTTP upstream answered to one POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpReply {
    pub status: u16,
    /// `Mcp-Session-Id`, when the server issued or echoed one.
    pub session_id: Option<String>,
    /// The JSON-RPC messages in the body: one for a JSON body, one per SSE event.
    pub messages: Vec<Vec<u8>>,
}

/// Why a POST to an upstream failed before any HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum HttpClientError {
    #[error("invalid upstream URL `{0}`")]
    Url(String),
    #[error("invalid upstream URL `{url}`: {reason}")]
    UrlSyntax { url: String, reason: String },
    #[error("unsupported upstream URL `{0}`: only `http://` upstreams are supported")]
    Scheme(String),
    #[error("could not reach the upstream: {0}")]
    Connect(String),
    #[error("could not read the upstream's answer: {0}")]
    Body(String),
}

/// A minimal Streamable HTTP client for one endpoint (plain `http://` only).
#[derive(Clone)]
pub struct HttpClient {
    url: axum::http::Uri,
    inner: hyper_util::client::legacy::Client<
        hyper_util::client::legacy::connect::HttpConnector,
        http_body_util::Full<Bytes>,
    >,
}

impl HttpClient {
    pub fn new(url: &str) -> Result<HttpClient, HttpClientError> {
        let uri: axum::http::Uri =
            url.parse().map_err(
                |e: axum::http::uri::InvalidUri| HttpClientError::UrlSyntax {
                    url: url.to_string(),
                    reason: e.to_string(),
                },
            )?;
        if uri.scheme_str() != Some("http") {
            return Err(HttpClientError::Scheme(url.to_string()));
        }
        let inner =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        Ok(HttpClient { url: uri, inner })
    }

    /// A client that opens a fresh connection per request. A pooled
    /// keep-alive connection the server has since closed (an idle or header
    /// timeout) fails the next request mid-send, and a request that may or
    /// may not have been written cannot be retried by a client that counts
    /// what reached the server.
    pub fn unpooled(url: &str) -> Result<HttpClient, HttpClientError> {
        let mut client = HttpClient::new(url)?;
        client.inner =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_max_idle_per_host(0)
                .build_http();
        Ok(client)
    }

    /// POSTs one message with the MCP headers; `headers` adds e.g. the session
    /// id and protocol version. Reads a JSON or SSE answer to the end.
    pub async fn post(
        &self,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<HttpReply, HttpClientError> {
        let mut req = axum::http::Request::post(self.url.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::ACCEPT, "application/json, text/event-stream");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(http_body_util::Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| HttpClientError::Url(e.to_string()))?;
        self.send(req).await
    }

    /// Ends a session with DELETE; returns the status.
    pub async fn delete_session(&self, session: &str) -> Result<u16, HttpClientError> {
        let req = axum::http::Request::delete(self.url.clone())
            .header(SESSION_HEADER, session)
            .body(http_body_util::Full::new(Bytes::new()))
            .map_err(|e| HttpClientError::Url(e.to_string()))?;
        Ok(self.send(req).await?.status)
    }

    /// Sends `method` with exactly `headers` (nothing added) and returns the
    /// response unread, for callers that stream its body (the proxy relays
    /// SSE events as they come).
    pub async fn open(
        &self,
        method: axum::http::Method,
        body: Vec<u8>,
        headers: &HeaderMap,
    ) -> Result<axum::http::Response<hyper::body::Incoming>, HttpClientError> {
        let mut req = axum::http::Request::builder()
            .method(method)
            .uri(self.url.clone());
        if let Some(h) = req.headers_mut() {
            for (name, value) in headers {
                h.insert(name, value.clone());
            }
        }
        let req = req
            .body(http_body_util::Full::new(Bytes::from(body)))
            .map_err(|e| HttpClientError::Url(e.to_string()))?;
        self.request(req).await
    }

    async fn request(
        &self,
        req: axum::http::Request<http_body_util::Full<Bytes>>,
    ) -> Result<axum::http::Response<hyper::body::Incoming>, HttpClientError> {
        self.inner
            .request(req)
            .await
            .map_err(|e| HttpClientError::Connect(e.to_string()))
    }

    async fn send(
        &self,
        req: axum::http::Request<http_body_util::Full<Bytes>>,
    ) -> Result<HttpReply, HttpClientError> {
        use http_body_util::BodyExt;
        let resp = self.request(req).await?;
        let status = resp.status().as_u16();
        let session_id = header_str(resp.headers(), SESSION_HEADER).map(str::to_string);
        let is_sse = is_event_stream(resp.headers());
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| HttpClientError::Body(e.to_string()))?
            .to_bytes();
        let messages = if is_sse {
            sse_data(&String::from_utf8_lossy(&body))
        } else if body.iter().all(u8::is_ascii_whitespace) {
            Vec::new()
        } else {
            vec![body.to_vec()]
        };
        Ok(HttpReply {
            status,
            session_id,
            messages,
        })
    }
}

/// True when a response's body is an SSE stream.
pub fn is_event_stream(headers: &HeaderMap) -> bool {
    header_str(headers, "content-type").is_some_and(|c| c.starts_with("text/event-stream"))
}

/// The `data` of each SSE event (multi-line data joined with `\n`); events
/// without data (priming events, comments) are skipped. A last event without
/// its blank line still counts.
pub fn sse_data(text: &str) -> Vec<Vec<u8>> {
    let mut parser = SseParser::default();
    let mut events = parser.push(text.as_bytes());
    events.extend(parser.finish());
    events
        .into_iter()
        .filter(|ev| !ev.data.is_empty())
        .map(|ev| ev.data.into_bytes())
        .collect()
}

/// One SSE event that carried at least one `data` line.
#[derive(Debug, PartialEq, Eq)]
pub struct SseEvent {
    pub id: Option<String>,
    pub data: String,
}

/// One SSE `message` event carrying `data`, optionally with an `id`. Each
/// line of `data` gets its own `data:` line, at every line end the SSE
/// format knows (`\r\n`, `\n`, a bare `\r`): a reader joins them with
/// `\n`, so a JSON message reads back as the same value, and no byte of it
/// can end the event early or start a field of its own.
pub fn sse_event(id: Option<&str>, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 32);
    out.extend_from_slice(b"event: message\n");
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    let mut rest = data;
    loop {
        let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&rest[..end]);
        out.push(b'\n');
        if end == rest.len() {
            break;
        }
        let step = if rest[end..].starts_with(b"\r\n") { 2 } else { 1 };
        rest = &rest[end + step..];
    }
    out.push(b'\n');
    out
}

/// Incremental `text/event-stream` parsing: feed body chunks as they come,
/// get each complete event (its `data` lines joined with `\n`, its `id`).
/// Lines end at `\r\n`, `\n` or a bare `\r`, as the SSE format (and every
/// browser and SDK client that follows it) says: a reader that ended lines
/// at `\n` alone would see other events than the agent behind it.
#[derive(Default)]
pub struct SseParser {
    /// Bytes after the last complete line.
    rest: Vec<u8>,
    /// The last chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    data: Vec<String>,
    id: Option<String>,
}

impl SseParser {
    /// The events completed by `chunk`; an event ends at a blank line.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<SseEvent> {
        let chunk = match chunk.split_first() {
            Some((b'\n', tail)) if self.after_cr => tail,
            _ => chunk,
        };
        self.after_cr = false;
        self.rest.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        while let Some(i) = memchr::memchr2(b'\r', b'\n', &self.rest[start..]) {
            let end = start + i;
            let line = String::from_utf8_lossy(&self.rest[start..end]).into_owned();
            start = end + 1;
            if self.rest[end] == b'\r' {
                match self.rest.get(start) {
                    Some(b'\n') => start += 1,
                    Some(_) => {}
                    None => self.after_cr = true,
                }
            }
            if line.is_empty() {
                events.extend(self.dispatch());
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((&line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "data" => self.data.push(value.to_string()),
                "id" => self.id = Some(value.to_string()),
                _ => {}
            }
        }
        self.rest.drain(..start);
        events
    }

    /// The end of the stream: an event still waiting for its blank line.
    pub fn finish(&mut self) -> Option<SseEvent> {
        if !self.rest.is_empty() {
            let mut last = self.push(b"\n");
            if let Some(ev) = last.pop() {
                return Some(ev);
            }
        }
        self.dispatch()
    }

    fn dispatch(&mut self) -> Option<SseEvent> {
        let id = self.id.take();
        if self.data.is_empty() {
            return None;
        }
        let data = std::mem::take(&mut self.data).join("\n");
        Some(SseEvent { id, data })
    }
}

pub mod serve;
#[cfg(test)]
mod tests;
