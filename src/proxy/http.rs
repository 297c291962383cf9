//! `gauntlet proxy POLICY --upstream URL [--listen ADDR]`: a Streamable HTTP
//! upstream, fronted by stdio (the bridge, default) or by Streamable HTTP.
//!
//! Sessions are passed through, not mapped: the upstream's `Mcp-Session-Id`
//! is the session the agent sees, and it is the `CallContext.session` that
//! session-scoped counters follow. Over the HTTP front each session is bound
//! to the identity that opened it, and a request presenting another
//! identity's session gets 404. The agent's `Authorization` header is never
//! forwarded upstream (no token passthrough). Only `http://` upstreams are
//! supported: there is no TLS stack in this build.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

use crate::clock::{Clock, SystemClock};
use crate::caller::CallContext;
use crate::mcp::http::serve::{self, Limits};
use crate::mcp::http::{is_event_stream, is_loopback_name, origin_is_local, split_host_port, sse_event, HttpClient, HttpClientError, SseParser, PROTOCOL_VERSION_HEADER as PROTOCOL, SESSION_HEADER as SESSION};

use super::auditlog::AuditLog;
use super::core::{Exchange, Output, ProxyCore};
use super::decider::{Decider, StoreCalls};
use super::grants::Grants;
use super::stdio::{split_outputs, SharedPump, Sorted, UpstreamSink};

const LAST_EVENT_ID: &str = "last-event-id";
const BOTH_TYPES: &str = "application/json, text/event-stream";

pub struct HttpConfig {
    pub upstream: String,
    /// Sent with every upstream request (`--header "Name: Value"`), over what the agent sent.
    pub headers: Vec<(String, String)>,
    pub listen: Option<String>,
    pub grants: Option<Grants>,
    pub identity: Option<String>,
    pub max_line: usize,
    /// Requests the upstream has not answered after this long get a JSON-RPC error (`--call-timeout`).
    pub call_timeout: Option<Duration>,
    /// Host names the HTTP front answers to besides loopback and its listen address (`--allow-host`).
    pub allowed_hosts: Vec<String>,
    /// The policy file to watch for hot reload, with its profile.
    pub policy: Option<super::reload::Watched>,
    /// The HTTP front's header-read and idle timeouts and connection cap (`--header-timeout`, `--idle-timeout`, `--max-connections`).
    pub limits: Limits,
}

fn sse_frame(id: Option<&str>, data: &[u8]) -> Bytes {
    Bytes::from(sse_event(id, data))
}

/// A JSON-RPC error for a request the upstream could not answer; it goes
/// through the core like an upstream answer, so the call's reservations roll back.
fn transport_error(id: &serde_json::Value, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": message},
    }))
    .unwrap_or_default()
}

/// The `id` of each request in a message: one for a request, one per
/// request element of a batch, none for notifications and responses.
fn request_ids(bytes: &[u8]) -> Vec<serde_json::Value> {
    let id = |v: &serde_json::Value| v.get("method").and(v.get("id")).cloned();
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Ok(serde_json::Value::Array(items)) => items.iter().filter_map(id).collect(),
        Ok(v) => id(&v).into_iter().collect(),
        Err(_) => Vec::new(),
    }
}

fn is_initialized_notification(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .is_some_and(|v| v.get("method").and_then(|m| m.as_str()) == Some("notifications/initialized"))
}

/// The negotiated protocol version, if this is an initialize result.
fn negotiated_version(bytes: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let result = v.get("result")?;
    result.get("serverInfo")?;
    result.get("protocolVersion")?.as_str().map(String::from)
}

/// The upstream MCP endpoint and what this proxy learnt about its session.
#[derive(Clone)]
struct Upstream {
    client: HttpClient,
    /// The operator's `--header`s.
    extra: HeaderMap,
    /// Used by the bridge only: the front passes each agent's session through.
    session: Arc<Mutex<Option<String>>>,
    version: Arc<Mutex<Option<String>>>,
    /// A request could not connect (the bridge then exits non-zero).
    unreachable: Arc<AtomicBool>,
}

impl Upstream {
    fn new(url: &str, headers: &[(String, String)]) -> Result<Upstream, String> {
        let mut extra = HeaderMap::new();
        for (name, value) in headers {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("`{name}` is not a valid HTTP header name"))?;
            let value = HeaderValue::from_str(value).map_err(|_| format!("the value of header `{name}` is not valid in HTTP"))?;
            extra.append(name, value);
        }
        Ok(Upstream {
            client: HttpClient::new(url).map_err(|e| e.to_string())?,
            extra,
            session: Arc::new(Mutex::new(None)),
            version: Arc::new(Mutex::new(None)),
            unreachable: Arc::new(AtomicBool::new(false)),
        })
    }

    async fn request(&self, method: Method, body: Vec<u8>, headers: &HeaderMap) -> Result<Response<Incoming>, String> {
        let with_extra;
        let headers = if self.extra.is_empty() {
            headers
        } else {
            let mut h = headers.clone();
            h.extend(self.extra.clone());
            with_extra = h;
            &with_extra
        };
        self.client.open(method, body, headers).await.map_err(|e| match e {
            HttpClientError::Connect(e) => {
                self.unreachable.store(true, Ordering::SeqCst);
                format!("upstream unreachable: {e}")
            }
            e => e.to_string(),
        })
    }

    /// Headers for the bridge, from what it learnt.
    fn bridge_headers(&self, accept: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(v) = HeaderValue::from_str(accept) {
            h.insert(ACCEPT, v);
        }
        let session = self.session.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(v) = session.and_then(|s| HeaderValue::from_str(&s).ok()) {
            h.insert(SESSION, v);
        }
        let version = self.version.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if let Some(v) = version.and_then(|s| HeaderValue::from_str(&s).ok()) {
            h.insert(PROTOCOL, v);
        }
        h
    }
}

/// Reads a response body as the messages it carries, calling `each` as they arrive.
async fn for_each_message(resp: Response<Incoming>, mut each: impl FnMut(Option<String>, Vec<u8>)) {
    let sse = is_event_stream(resp.headers());
    let mut body = resp.into_body();
    let mut parser = SseParser::default();
    let mut whole = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else { break };
        let Ok(data) = frame.into_data() else { continue };
        if sse {
            // Priming events (an id with empty data) carry no message.
            for ev in parser.push(&data).into_iter().filter(|ev| !ev.data.trim().is_empty()) {
                each(ev.id, ev.data.into_bytes());
            }
        } else {
            whole.extend_from_slice(&data);
        }
    }
    if !sse && !whole.iter().all(u8::is_ascii_whitespace) {
        each(None, whole);
    }
}

// ---------------------------------------------------------------- the stdio bridge

struct Poster(Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>);

impl UpstreamSink for Poster {
    fn send(&mut self, bytes: Vec<u8>) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(bytes);
        }
    }
    fn close(&mut self) {
        self.0 = None;
    }
}

/// Posts one agent message upstream and feeds what comes back through the core.
async fn bridge_one(upstream: Upstream, pump: SharedPump, ctx: CallContext, bytes: Vec<u8>) {
    let ids = request_ids(&bytes);
    let headers = upstream.bridge_headers(BOTH_TYPES);
    let resp = match upstream.request(Method::POST, bytes, &headers).await {
        Ok(resp) => resp,
        Err(e) => {
            for id in &ids {
                pump.from_upstream(&transport_error(id, &e), &ctx);
            }
            eprintln!("gauntlet proxy: {e}");
            return;
        }
    };
    if let Some(s) = resp.headers().get(SESSION).and_then(|v| v.to_str().ok()) {
        *upstream.session.lock().unwrap_or_else(|e| e.into_inner()) = Some(s.to_string());
    }
    let status = resp.status();
    let mut answered = false;
    for_each_message(resp, |_, msg| {
        if let Some(v) = negotiated_version(&msg) {
            *upstream.version.lock().unwrap_or_else(|e| e.into_inner()) = Some(v);
        }
        answered = true;
        pump.from_upstream(&msg, &ctx);
    })
    .await;
    if !answered {
        for id in &ids {
            pump.from_upstream(&transport_error(id, &format!("upstream answered HTTP {status} without a message")), &ctx);
        }
    }
}

/// Server-initiated messages arrive on a GET stream once the session exists.
async fn bridge_listen(upstream: Upstream, pump: SharedPump, ctx: CallContext) {
    let headers = upstream.bridge_headers("text/event-stream");
    let Ok(resp) = upstream.request(Method::GET, Vec::new(), &headers).await else { return };
    if resp.status() != StatusCode::OK || !is_event_stream(resp.headers()) {
        return;
    }
    for_each_message(resp, |_, msg| pump.from_upstream(&msg, &ctx)).await;
}

async fn run_bridge(config: HttpConfig, upstream: Upstream, core: ProxyCore, audit: AuditLog, calls: StoreCalls) -> Result<(), String> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let reload = config.policy.as_ref().and_then(super::reload::watch_or_warn);
    let pump = SharedPump::new(core, audit, Box::new(std::io::stdout()), Box::new(Poster(Some(tx))), calls).with_reload(reload);
    let ctx = CallContext { identity: config.identity.clone(), session: Some(super::grants::new_session_id()) };

    let agent_pump = pump.clone();
    let agent_ctx = ctx.clone();
    let max_line = config.max_line;
    std::thread::spawn(move || agent_pump.run_agent_side(std::io::stdin(), max_line, &agent_ctx));
    if let Some(timeout) = config.call_timeout {
        pump.expire_calls_every(timeout);
    }

    let mut tasks = tokio::task::JoinSet::new();
    let mut listening = false;
    while let Some(bytes) = rx.recv().await {
        let starts_listening = !listening && is_initialized_notification(&bytes);
        let job = bridge_one(upstream.clone(), pump.clone(), ctx.clone(), bytes);
        // Until the upstream has issued a session, later messages must wait for its headers.
        if upstream.session.lock().unwrap_or_else(|e| e.into_inner()).is_none() {
            job.await;
        } else {
            tasks.spawn(job);
        }
        if starts_listening {
            listening = true;
            tasks.spawn(bridge_listen(upstream.clone(), pump.clone(), ctx.clone()));
        }
        while tasks.try_join_next().is_some() {}
    }
    // The agent hung up: let calls in flight finish, but not the endless GET stream.
    let deadline = tokio::time::sleep(std::time::Duration::from_secs(10));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            next = tasks.join_next() => if next.is_none() || tasks.len() <= usize::from(listening) { break },
            _ = &mut deadline => break,
        }
    }
    let session = upstream.session.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if session.is_some() {
        let _ = upstream.request(Method::DELETE, Vec::new(), &upstream.bridge_headers(BOTH_TYPES)).await;
    }
    if upstream.unreachable.load(Ordering::SeqCst) {
        return Err(format!("the upstream `{}` was unreachable", config.upstream));
    }
    Ok(())
}

// ---------------------------------------------------------------- the HTTP front

struct Front {
    core: Mutex<(ProxyCore, AuditLog)>,
    /// The policy file's watch, when the policy is reloaded.
    reload: Option<Arc<super::reload::Reloader>>,
    /// Decides the calls that need the store, off the core's lock.
    decider: Decider,
    upstream: Upstream,
    grants: Option<Grants>,
    identity: Option<String>,
    /// Session id → the identity that opened it.
    sessions: Mutex<HashMap<String, Option<String>>>,
    hosts: AllowedHosts,
    call_timeout: Option<Duration>,
    /// Numbers POSTs: each is its own exchange in the core (0 is the GET stream's).
    next_exchange: AtomicU64,
}

/// DNS-rebinding guard: the Host header must name this machine's loopback,
/// the address the front listens on, or a name given with `--allow-host`.
struct AllowedHosts {
    listen: String,
    extra: Vec<String>,
}

impl AllowedHosts {
    fn allows(&self, headers: &HeaderMap) -> bool {
        let Some(host) = headers.get(hyper::header::HOST).and_then(|v| v.to_str().ok()) else {
            return false;
        };
        let Some((name, _)) = split_host_port(host) else {
            return false;
        };
        is_loopback_name(&name) || name == self.listen || self.extra.iter().any(|h| h.eq_ignore_ascii_case(&name))
    }
}

impl Front {
    /// Runs one core step; audits inline and hands its rollbacks to the decider.
    fn step(&self, f: impl FnOnce(&mut ProxyCore) -> Vec<Output>) -> Sorted {
        let mut sorted = {
            let mut guard = self.core.lock().unwrap_or_else(|e| e.into_inner());
            let (core, audit) = &mut *guard;
            if let Some(reload) = &self.reload {
                reload.apply_to(core);
            }
            split_outputs(f(core), audit)
        };
        if !sorted.rollback.is_empty() {
            self.decider.rollback(std::mem::take(&mut sorted.rollback));
        }
        sorted
    }

    /// One agent message through the core; (to upstream, to agent). A call
    /// that needs the store is decided off the core's lock first, while
    /// other POSTs go on.
    async fn from_agent(self: &Arc<Front>, body: &[u8], ctx: &CallContext, exchange: Exchange) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        // Blocks only while a changed policy loads: no call is decided under a version replaced on disk.
        if let Some(reload) = &self.reload {
            reload.catch_up();
        }
        let sorted = self.settle(self.step(|core| core.from_agent_on(body, ctx, exchange, SystemClock.now()))).await;
        (sorted.to_upstream, sorted.to_agent)
    }

    /// A step's outputs, its ticket (if any) decided off the core's lock and finished.
    async fn settle(self: &Arc<Front>, mut sorted: Sorted) -> Sorted {
        if let Some(ticket) = sorted.decide.pop() {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let front = self.clone();
            self.decider.decide(
                ticket,
                Box::new(move |ticket, decisions| {
                    let _ = tx.send(front.step(|core| core.finish(ticket, decisions)));
                }),
            );
            // The decider always finishes a ticket; a closure dropped unrun means a panic there.
            sorted = rx.await.unwrap_or_else(|_| Sorted {
                to_agent: vec![super::denial::jsonrpc_error(None, -32603, "the proxy could not decide this call")],
                ..Sorted::default()
            });
        }
        sorted
    }

    /// Under `strict`, a call held for the upstream's tool list (its tool's
    /// schema is not known yet): the proxy's own `tools/list` is asked on
    /// this POST's behalf, every page, and the core's answer to it (the call
    /// released to be forwarded, or refused) replaces it. `None`: the list
    /// outlived `--call-timeout`.
    async fn ask_own_lists(
        self: &Arc<Front>,
        up: &mut Vec<Vec<u8>>,
        to_agent: &mut Vec<Vec<u8>>,
        ctx: &CallContext,
        forward: &HeaderMap,
        exchange: Exchange,
        deadline: Option<tokio::time::Instant>,
    ) -> Option<()> {
        let own = |m: &Vec<u8>| request_ids(m).iter().any(|id| super::pin::Pin::is_own(&serde_json::to_vec(id).unwrap_or_default()));
        while let Some(at) = up.iter().position(own) {
            let list = up.remove(at);
            let ids = request_ids(&list);
            let got = match until(deadline, post_collecting(&self.upstream, list, forward)).await? {
                Ok(got) => got,
                // Through the core like an answer: the held call is refused, saying why.
                Err(e) => ids.iter().map(|id| transport_error(id, &e)).collect(),
            };
            for msg in got {
                let sorted = self.settle(self.step(|core| core.from_upstream_on(&msg, ctx, exchange, SystemClock.now()))).await;
                up.extend(sorted.to_upstream);
                to_agent.extend(sorted.to_agent);
            }
        }
        Some(())
    }

    fn relay_upstream(&self, bytes: &[u8], ctx: &CallContext, exchange: Exchange) -> Vec<Vec<u8>> {
        self.step(|core| core.from_upstream_on(bytes, ctx, exchange, SystemClock.now())).to_agent
    }

    /// The answer to a POST whose upstream outlived `--call-timeout`.
    fn timed_out(&self, exchange: Exchange, timeout: Duration) -> FrontResponse {
        let errors = self.step(|core| core.give_up_exchange(exchange, timeout, SystemClock.now())).to_agent;
        if errors.is_empty() {
            return error_response(StatusCode::GATEWAY_TIMEOUT, -32603, "the upstream did not answer in time");
        }
        json_response(StatusCode::GATEWAY_TIMEOUT, join_messages(&errors))
    }
}

/// Awaits `fut` until `deadline` (forever with `None`); `None` when it passed first.
async fn until<T>(deadline: Option<tokio::time::Instant>, fut: impl std::future::Future<Output = T>) -> Option<T> {
    match deadline {
        Some(at) => tokio::time::timeout_at(at, fut).await.ok(),
        None => Some(fut.await),
    }
}

type FrontResponse = Response<axum::body::Body>;

fn json_response(status: StatusCode, body: Vec<u8>) -> FrontResponse {
    let mut resp = Response::new(axum::body::Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp
}

fn error_response(status: StatusCode, code: i64, message: &str) -> FrontResponse {
    let body = serde_json::to_vec(&serde_json::json!({
        "jsonrpc": "2.0", "id": null, "error": {"code": code, "message": message},
    }))
    .unwrap_or_default();
    json_response(status, body)
}

/// Several messages in one JSON body: one object, or an array of them.
fn join_messages(messages: &[Vec<u8>]) -> Vec<u8> {
    match messages {
        [one] => one.clone(),
        many => {
            let mut out = b"[".to_vec();
            out.extend_from_slice(&many.join(&b","[..]));
            out.push(b']');
            out
        }
    }
}

/// DNS-rebinding guard: a present Origin must be a loopback one.
fn origin_allowed(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin") else { return true };
    origin.to_str().is_ok_and(origin_is_local)
}

/// Headers the agent sent that the upstream should see (never `Authorization`).
fn forwarded_headers(headers: &HeaderMap) -> HeaderMap {
    let mut out = HeaderMap::new();
    for name in [ACCEPT, CONTENT_TYPE] {
        if let Some(v) = headers.get(&name) {
            out.insert(name, v.clone());
        }
    }
    for name in [SESSION, PROTOCOL, LAST_EVENT_ID] {
        if let Some(v) = headers.get(name) {
            out.insert(name, v.clone());
        }
    }
    out
}

async fn front_handler(
    axum::extract::State(front): axum::extract::State<Arc<Front>>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> FrontResponse {
    if !front.hosts.allows(&headers) {
        return error_response(StatusCode::FORBIDDEN, -32000, "invalid Host header");
    }
    if !origin_allowed(&headers) {
        return error_response(StatusCode::FORBIDDEN, -32000, "invalid Origin header");
    }
    let identity = match &front.grants {
        None => front.identity.clone(),
        Some(grants) => match grants.identify(headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())) {
            Ok(grant) => Some(grant),
            Err(e) => return json_response(StatusCode::UNAUTHORIZED, e.body()),
        },
    };
    let session = headers.get(SESSION).and_then(|v| v.to_str().ok()).map(String::from);
    if let Some(s) = &session {
        let sessions = front.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.get(s).is_some_and(|owner| *owner != identity) {
            return error_response(StatusCode::NOT_FOUND, -32001, "unknown session");
        }
    }
    let ctx = CallContext { identity, session };
    let forward = forwarded_headers(&headers);
    match method {
        Method::POST => front_post(front, ctx, forward, body).await,
        Method::GET | Method::DELETE => {
            let resp = match front.upstream.request(method.clone(), Vec::new(), &forward).await {
                Ok(resp) => resp,
                Err(e) => return error_response(StatusCode::BAD_GATEWAY, -32603, &e),
            };
            if method == Method::DELETE {
                if let Some(s) = &ctx.session {
                    front.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(s);
                }
            }
            relay(front, ctx, 0, None, resp, Vec::new()).await
        }
        _ => error_response(StatusCode::METHOD_NOT_ALLOWED, -32000, "method not allowed"),
    }
}

/// Posts one message upstream and collects every message of its response.
async fn post_collecting(upstream: &Upstream, bytes: Vec<u8>, forward: &HeaderMap) -> Result<Vec<Vec<u8>>, String> {
    let resp = upstream.request(Method::POST, bytes, forward).await?;
    let mut got = Vec::new();
    for_each_message(resp, |_, msg| got.push(msg)).await;
    Ok(got)
}

async fn front_post(front: Arc<Front>, ctx: CallContext, forward: HeaderMap, body: Bytes) -> FrontResponse {
    let exchange = front.next_exchange.fetch_add(1, Ordering::Relaxed);
    let deadline = front.call_timeout.map(|t| tokio::time::Instant::now() + t);
    let (mut up, mut denials) = front.from_agent(&body, &ctx, exchange).await;
    if front.ask_own_lists(&mut up, &mut denials, &ctx, &forward, exchange, deadline).await.is_none() {
        return front.timed_out(exchange, front.call_timeout.unwrap_or_default());
    }
    if up.is_empty() {
        return if denials.is_empty() {
            let mut resp = Response::new(axum::body::Body::empty());
            *resp.status_mut() = StatusCode::ACCEPTED;
            resp
        } else {
            json_response(StatusCode::OK, join_messages(&denials))
        };
    }
    if up.len() == 1 {
        let bytes = up.into_iter().next().unwrap_or_default();
        let ids = request_ids(&bytes);
        let answer = async {
            match front.upstream.request(Method::POST, bytes, &forward).await {
                Ok(resp) => Ok(relay(front.clone(), ctx.clone(), exchange, deadline, resp, denials.clone()).await),
                Err(e) => Err(e),
            }
        };
        let Some(answer) = until(deadline, answer).await else {
            return front.timed_out(exchange, front.call_timeout.unwrap_or_default());
        };
        return match answer {
            Ok(resp) => resp,
            Err(e) => {
                let mut answers: Vec<Vec<u8>> =
                    ids.iter().flat_map(|id| front.relay_upstream(&transport_error(id, &e), &ctx, exchange)).collect();
                answers.extend(denials);
                json_response(StatusCode::BAD_GATEWAY, join_messages(&answers))
            }
        };
    }
    // Several forwarded elements (a batch split by the core): collect every answer into one array.
    let mut answers = Vec::new();
    for bytes in up {
        let ids = request_ids(&bytes);
        match until(deadline, post_collecting(&front.upstream, bytes, &forward)).await {
            Some(Ok(got)) => {
                for msg in got {
                    answers.extend(front.relay_upstream(&msg, &ctx, exchange));
                }
            }
            Some(Err(e)) => {
                for id in &ids {
                    answers.extend(front.relay_upstream(&transport_error(id, &e), &ctx, exchange));
                }
            }
            None => {
                let timeout = front.call_timeout.unwrap_or_default();
                answers.extend(front.step(|core| core.give_up_exchange(exchange, timeout, SystemClock.now())).to_agent);
                break;
            }
        }
    }
    answers.extend(denials);
    json_response(StatusCode::OK, join_messages(&answers))
}

/// Sends an upstream response back to the agent, each message through the
/// core; an SSE stream still open at `deadline` ends with the core's timeout errors.
async fn relay(
    front: Arc<Front>,
    ctx: CallContext,
    exchange: Exchange,
    deadline: Option<tokio::time::Instant>,
    resp: Response<Incoming>,
    denials: Vec<Vec<u8>>,
) -> FrontResponse {
    let status = resp.status();
    let mut headers = HeaderMap::new();
    if let Some(v) = resp.headers().get(SESSION) {
        headers.insert(SESSION, v.clone());
        if let Ok(s) = v.to_str() {
            front.sessions.lock().unwrap_or_else(|e| e.into_inner()).insert(s.to_string(), ctx.identity.clone());
        }
    }
    // Answers are settled in the session their request was sent in, even an
    // initialize answer that opens a session: that is where the core filed the request.
    if is_event_stream(resp.headers()) {
        let (tx, rx) = futures::channel::mpsc::unbounded::<Result<Bytes, Infallible>>();
        tokio::spawn(async move {
            let stream = for_each_message(resp, |id, msg| {
                for out in front.relay_upstream(&msg, &ctx, exchange) {
                    let _ = tx.unbounded_send(Ok(sse_frame(id.as_deref(), &out)));
                }
            });
            if until(deadline, stream).await.is_none() {
                let timeout = front.call_timeout.unwrap_or_default();
                for error in front.step(|core| core.give_up_exchange(exchange, timeout, SystemClock.now())).to_agent {
                    let _ = tx.unbounded_send(Ok(sse_frame(None, &error)));
                }
            }
            for denial in denials {
                let _ = tx.unbounded_send(Ok(sse_frame(None, &denial)));
            }
        });
        let mut out = Response::new(axum::body::Body::from_stream(rx));
        *out.status_mut() = status;
        *out.headers_mut() = headers;
        out.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        out.headers_mut().insert("cache-control", HeaderValue::from_static("no-cache"));
        return out;
    }
    let mut answers = Vec::new();
    let mut raw = Vec::new();
    for_each_message(resp, |_, msg| raw.push(msg)).await;
    for msg in raw {
        answers.extend(front.relay_upstream(&msg, &ctx, exchange));
    }
    answers.extend(denials);
    let mut out = if answers.is_empty() {
        Response::new(axum::body::Body::empty())
    } else {
        json_response(status, join_messages(&answers))
    };
    *out.status_mut() = status;
    for (k, v) in headers {
        if let Some(k) = k {
            out.headers_mut().insert(k, v);
        }
    }
    out
}

/// `PORT` alone means `127.0.0.1:PORT`: never listen beyond loopback unless asked.
fn listen_addr(listen: &str) -> String {
    if listen.chars().all(|c| c.is_ascii_digit()) {
        format!("127.0.0.1:{listen}")
    } else {
        listen.to_string()
    }
}

async fn run_front(
    config: HttpConfig,
    listen: String,
    upstream: Upstream,
    core: ProxyCore,
    audit: AuditLog,
    calls: StoreCalls,
) -> Result<(), String> {
    let addr = listen_addr(&listen);
    let listener = tokio::net::TcpListener::bind(&addr).await.map_err(|e| format!("cannot listen on `{addr}`: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let reload = config.policy.as_ref().and_then(super::reload::watch_or_warn);
    let front = Arc::new(Front {
        core: Mutex::new((core, audit)),
        reload,
        decider: Decider::start(calls, || {}),
        upstream,
        grants: config.grants,
        identity: config.identity,
        sessions: Mutex::new(HashMap::new()),
        hosts: AllowedHosts { listen: local.ip().to_string(), extra: config.allowed_hosts.clone() },
        call_timeout: config.call_timeout,
        next_exchange: AtomicU64::new(1),
    });
    eprintln!("gauntlet proxy: listening on http://{local}/mcp");
    let app = axum::Router::new().route("/mcp", axum::routing::any(front_handler)).with_state(front);
    serve::serve(listener, app, config.limits, "gauntlet proxy").await;
    Ok(())
}

pub fn run(config: HttpConfig, core: ProxyCore, audit: AuditLog, calls: StoreCalls) -> Result<(), String> {
    let upstream = Upstream::new(&config.upstream, &config.headers)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the async runtime: {e}"))?;
    match config.listen.clone() {
        Some(listen) => runtime.block_on(run_front(config, listen, upstream, core, audit, calls)),
        None => {
            let result = runtime.block_on(run_bridge(config, upstream, core, audit, calls));
            // The agent reader thread may still be parked on stdin.
            runtime.shutdown_background();
            result
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_check_allows_only_loopback() {
        let mut h = HeaderMap::new();
        assert!(origin_allowed(&h));
        h.insert("origin", HeaderValue::from_static("http://localhost:3000"));
        assert!(origin_allowed(&h));
        h.insert("origin", HeaderValue::from_static("http://127.0.0.1"));
        assert!(origin_allowed(&h));
        h.insert("origin", HeaderValue::from_static("http://evil.example"));
        assert!(!origin_allowed(&h));
        h.insert("origin", HeaderValue::from_static("http://localhost.evil.example:80"));
        assert!(!origin_allowed(&h));
    }

    #[test]
    fn authorization_is_never_forwarded() {
        let mut h = HeaderMap::new();
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer secret"));
        h.insert(SESSION, HeaderValue::from_static("s1"));
        let f = forwarded_headers(&h);
        assert!(f.get(AUTHORIZATION).is_none());
        assert_eq!(f.get(SESSION).unwrap(), "s1");
    }

    #[test]
    fn joined_messages() {
        assert_eq!(join_messages(&[b"{}".to_vec()]), b"{}");
        assert_eq!(join_messages(&[b"{}".to_vec(), b"[]".to_vec()]), b"[{},[]]");
        assert_eq!(listen_addr("8080"), "127.0.0.1:8080");
        assert_eq!(listen_addr("0.0.0.0:1"), "0.0.0.0:1");
    }
}
