//! Serving a router on a listening socket with the limits an exposed port
//! needs: a client must finish its request headers within
//! [`Limits::header_read`] and its request body within [`Limits::body_read`]
//! of the headers, a connection with no request in progress for
//! [`Limits::idle`] is closed, and at most [`Limits::max_connections`] are
//! open. At the cap one connection is closed to make room for the new one:
//! the longest-idle, else the one that has been sending its request body the
//! longest, else the one busy the longest. So clients that connect and say
//! nothing, or that send a body one byte at a time, cannot lock real ones
//! out. Each of these events is logged (at most once a second).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::Router;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Notify;

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_read: Duration,
    /// From a request's headers to the last byte of its body.
    pub body_read: Duration,
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 256,
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
            idle: Duration::from_secs(120),
        }
    }
}

struct Conn {
    /// Requests whose response has not been fully sent.
    busy: usize,
    /// When `busy` last rose from zero.
    busy_since: Instant,
    /// When the request whose body is still arriving came in.
    body_since: Option<Instant>,
    last_active: Instant,
    close: Arc<Notify>,
}

/// Which open connection gives way to a new one at the cap, and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Victim {
    Idle,
    SlowBody,
    Busy,
}

#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Conn>,
    next: u64,
    /// When each kind of event was last logged.
    last_log: HashMap<&'static str, Instant>,
}

type Shared = Arc<Mutex<Registry>>;

fn lock(r: &Shared) -> MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    /// Logs each kind of event at most once a second, so a flood cannot flood stderr too.
    fn log(&mut self, kind: &'static str, line: impl FnOnce() -> String) {
        let now = Instant::now();
        if self.last_log.get(kind).is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(1)) {
            self.last_log.insert(kind, now);
            eprintln!("{}", line());
        }
    }

    /// The connection that gives way at the cap: the longest-idle one, else
    /// the one sending its body the longest, else the one busy the longest.
    fn victim(&self) -> Option<(u64, Victim)> {
        let oldest = |kind: Victim, since: fn(&Conn) -> Option<Instant>| {
            self.conns.iter().filter_map(|(id, c)| since(c).map(|t| (t, *id))).min().map(|(_, id)| (id, kind))
        };
        oldest(Victim::Idle, |c| (c.busy == 0).then_some(c.last_active))
            .or_else(|| oldest(Victim::SlowBody, |c| c.body_since))
            .or_else(|| oldest(Victim::Busy, |c| Some(c.busy_since)))
    }

    /// Makes room for one more connection, closing one at the cap ([`Registry::victim`]).
    fn admit(&mut self, limits: &Limits, who: &str) -> (u64, Arc<Notify>) {
        if self.conns.len() >= limits.max_connections {
            if let Some((id, kind)) = self.victim() {
                if let Some(c) = self.conns.remove(&id) {
                    c.close.notify_one();
                }
                let max = limits.max_connections;
                let which = match kind {
                    Victim::Idle => "the longest-idle one",
                    Victim::SlowBody => "the one sending its request body the longest",
                    Victim::Busy => "the one busy the longest (every connection had a request in progress)",
                };
                self.log("cap", || format!("{who}: {max} connections open (the limit): closed {which} to admit a new client"));
            }
        }
        let id = self.next;
        self.next += 1;
        let close = Arc::new(Notify::new());
        let now = Instant::now();
        self.conns.insert(id, Conn { busy: 0, busy_since: now, body_since: None, last_active: now, close: close.clone() });
        (id, close)
    }
}

/// Marks a connection busy from a request's arrival until its response body is dropped.
struct Busy {
    registry: Shared,
    id: u64,
}

impl Busy {
    /// `body`: the request's body is still to arrive.
    fn start(registry: &Shared, id: u64, body: bool) -> Busy {
        if let Some(c) = lock(registry).conns.get_mut(&id) {
            let now = Instant::now();
            if c.busy == 0 {
                c.busy_since = now;
            }
            c.busy += 1;
            c.last_active = now;
            if body {
                c.body_since = Some(now);
            }
        }
        Busy { registry: registry.clone(), id }
    }
}

/// The body has arrived whole, or nobody waits for it any more.
fn body_done(registry: &Shared, id: u64) {
    if let Some(c) = lock(registry).conns.get_mut(&id) {
        c.body_since = None;
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(c) = lock(&self.registry).conns.get_mut(&self.id) {
            c.busy = c.busy.saturating_sub(1);
            c.last_active = Instant::now();
            c.body_since = None;
        }
    }
}

/// A request body that tells the registry when its last byte has arrived.
struct Arriving {
    inner: Incoming,
    registry: Shared,
    id: u64,
    done: bool,
}

impl hyper::body::Body for Arriving {
    type Data = bytes::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let polled = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        let ended = matches!(polled, std::task::Poll::Ready(None | Some(Err(_)))) || self.inner.is_end_stream();
        if ended && !self.done {
            self.done = true;
            body_done(&self.registry, self.id);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

/// Serves `router` on `listener` until the process ends; `who` prefixes log lines.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, who: &'static str) {
    let registry: Shared = Arc::default();
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of descriptors, most likely: wait for connections to close rather than spin.
                lock(&registry).log("accept", || format!("{who}: cannot accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (id, close) = lock(&registry).admit(&limits, who);
        tokio::spawn(connection(stream, router.clone(), registry.clone(), id, close, limits, who));
    }
}

async fn connection(stream: tokio::net::TcpStream, router: Router, registry: Shared, id: u64, close: Arc<Notify>, limits: Limits, who: &'static str) {
    let tower = TowerToHyperService::new(router);
    let busy_registry = registry.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let arriving = !hyper::body::Body::is_end_stream(req.body());
        let busy = Busy::start(&busy_registry, id, arriving);
        let registry = busy_registry.clone();
        let req = req.map(|inner| Arriving { inner, registry, id, done: !arriving });
        let answer = hyper::service::Service::call(&tower, req);
        async move {
            let resp = answer.await?;
            // The connection stays busy while the body streams (an SSE answer), not only until its headers.
            Ok::<_, std::convert::Infallible>(resp.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &busy;
                    frame
                }))
            }))
        }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read)
        .serve_connection(TokioIo::new(stream), service);
    let idle = async {
        let tick = (limits.idle.min(limits.body_read) / 4).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(tick).await;
            let mut registry = lock(&registry);
            let Some(c) = registry.conns.get(&id) else { break };
            if c.busy == 0 && c.last_active.elapsed() >= limits.idle {
                break;
            }
            if c.body_since.is_some_and(|t| t.elapsed() >= limits.body_read) {
                let after = limits.body_read;
                registry.log("body", || format!("{who}: closed a connection whose request body did not arrive within {after:?} (--body-timeout)"));
                break;
            }
        }
    };
    tokio::select! {
        _ = conn => {}
        _ = close.notified() => {}
        _ = idle => {}
    }
    lock(&registry).conns.remove(&id);
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    async fn start(limits: Limits) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new()
            .route("/", axum::routing::get(|| async { "ok" }))
            .route("/echo", axum::routing::post(|body: axum::body::Bytes| async move { format!("{} bytes", body.len()) }));
        tokio::spawn(serve(listener, router, limits, "test"));
        addr
    }

    /// Reads until the server closes the connection; everything read, or `None` if it stayed open past `limit`.
    async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<String> {
        let mut all = Vec::new();
        let read = async {
            let mut buf = [0u8; 4096];
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => all.extend_from_slice(&buf[..n]),
                }
            }
        };
        tokio::time::timeout(limit, read).await.ok()?;
        Some(String::from_utf8_lossy(&all).into_owned())
    }

    #[tokio::test]
    async fn unfinished_headers_and_idle_connections_are_closed() {
        let limits = Limits { max_connections: 8, header_read: Duration::from_millis(200), idle: Duration::from_millis(300), ..Limits::default() };
        let addr = start(limits).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        assert!(closed_within(&mut slow, Duration::from_secs(3)).await.is_some(), "a request whose headers never end is dropped");
        let mut kept = TcpStream::connect(addr).await.unwrap();
        kept.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let seen = closed_within(&mut kept, Duration::from_secs(3)).await.expect("an idle keep-alive connection is closed");
        assert!(seen.starts_with("HTTP/1.1 200") && seen.ends_with("ok"), "{seen}");
    }

    #[tokio::test]
    async fn at_the_cap_the_longest_idle_connection_makes_room() {
        let limits = Limits { max_connections: 2, header_read: Duration::from_secs(30), idle: Duration::from_secs(30), ..Limits::default() };
        let addr = start(limits).await;
        let mut oldest = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut newer = TcpStream::connect(addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
        let seen = closed_within(&mut client, Duration::from_secs(3)).await.expect("the new client is served");
        assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
        assert!(closed_within(&mut oldest, Duration::from_secs(2)).await.is_some(), "the longest-idle connection made room");
        assert!(closed_within(&mut newer, Duration::from_millis(300)).await.is_none(), "the other one stays");
    }

    /// Headers, then one byte of a 100-byte body: a slow-body (slowloris) client.
    async fn slow_body(addr: std::net::SocketAddr) -> TcpStream {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nx").await.unwrap();
        s
    }

    /// Issue 19: a body sent one byte now and then kept its connection open forever.
    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_closes_its_connection() {
        let limits = Limits { body_read: Duration::from_millis(300), ..Limits::default() };
        let addr = start(limits).await;
        let mut slow = slow_body(addr).await;
        assert!(closed_within(&mut slow, Duration::from_secs(3)).await.is_some(), "the slow body's connection is closed");
        let mut whole = TcpStream::connect(addr).await.unwrap();
        whole.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc").await.unwrap();
        let seen = closed_within(&mut whole, Duration::from_secs(3)).await.unwrap();
        assert!(seen.ends_with("3 bytes"), "{seen}");
    }

    /// Issue 19: with every connection busy sending a slow body, a new client
    /// was refused until they stopped; now the slowest body gives way.
    #[tokio::test]
    async fn at_the_cap_the_longest_slow_body_makes_room_for_a_new_client() {
        let limits = Limits { max_connections: 4, ..Limits::default() };
        let addr = start(limits).await;
        let mut slow = std::collections::VecDeque::new();
        for _ in 0..4 {
            slow.push_back(slow_body(addr).await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        for round in 0..3 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            client.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await.unwrap();
            let seen = closed_within(&mut client, Duration::from_secs(3)).await.expect("the new client is served");
            assert!(seen.starts_with("HTTP/1.1 200"), "round {round}: {seen:?}");
            let mut oldest = slow.pop_front().unwrap();
            assert!(closed_within(&mut oldest, Duration::from_secs(2)).await.is_some(), "round {round}: the oldest slow body made room");
            assert!(closed_within(&mut slow[0], Duration::from_millis(200)).await.is_none(), "round {round}: only one gave way");
            // The attacker reconnects: the table is full of slow bodies again.
            slow.push_back(slow_body(addr).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
