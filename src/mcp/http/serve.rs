//! Serving a router on a listening socket with the limits an exposed port
//! needs: a client must finish its request headers within
//! [`Limits::header_read`], a connection with no request in progress for
//! [`Limits::idle`] is closed, and at most [`Limits::max_connections`] are
//! open. At the cap the longest-idle connection is closed to make room, so
//! a thousand clients that connect and say nothing cannot lock real ones
//! out; a new connection is refused only when every open one is busy. Both
//! events are logged (at most once a second).

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
    pub idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_connections: 256, header_read: Duration::from_secs(10), idle: Duration::from_secs(120) }
    }
}

struct Conn {
    /// Requests whose response has not been fully sent.
    busy: usize,
    last_active: Instant,
    close: Arc<Notify>,
}

#[derive(Default)]
struct Registry {
    conns: HashMap<u64, Conn>,
    next: u64,
    last_log: Option<Instant>,
}

type Shared = Arc<Mutex<Registry>>;

fn lock(r: &Shared) -> MutexGuard<'_, Registry> {
    r.lock().unwrap_or_else(|e| e.into_inner())
}

impl Registry {
    /// Logs at most once a second, so a flood cannot flood stderr too.
    fn log(&mut self, line: impl FnOnce() -> String) {
        let now = Instant::now();
        if self.last_log.is_none_or(|t| now.duration_since(t) >= Duration::from_secs(1)) {
            self.last_log = Some(now);
            eprintln!("{}", line());
        }
    }

    /// Makes room for one more connection (closing the longest-idle one at
    /// the cap); `None` when every open connection is busy.
    fn admit(&mut self, limits: &Limits, who: &str) -> Option<(u64, Arc<Notify>)> {
        if self.conns.len() >= limits.max_connections {
            let idle = self.conns.iter().filter(|(_, c)| c.busy == 0).min_by_key(|(_, c)| c.last_active).map(|(id, _)| *id);
            let Some(victim) = idle else {
                let max = limits.max_connections;
                self.log(|| format!("{who}: refused a connection: all {max} connections (the limit) have a request in progress"));
                return None;
            };
            if let Some(c) = self.conns.remove(&victim) {
                c.close.notify_one();
            }
            let max = limits.max_connections;
            self.log(|| format!("{who}: {max} connections open (the limit): closed the longest-idle one to admit a new client"));
        }
        let id = self.next;
        self.next += 1;
        let close = Arc::new(Notify::new());
        self.conns.insert(id, Conn { busy: 0, last_active: Instant::now(), close: close.clone() });
        Some((id, close))
    }
}

/// Marks a connection busy from a request's arrival until its response body is dropped.
struct Busy {
    registry: Shared,
    id: u64,
}

impl Busy {
    fn start(registry: &Shared, id: u64) -> Busy {
        if let Some(c) = lock(registry).conns.get_mut(&id) {
            c.busy += 1;
            c.last_active = Instant::now();
        }
        Busy { registry: registry.clone(), id }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(c) = lock(&self.registry).conns.get_mut(&self.id) {
            c.busy = c.busy.saturating_sub(1);
            c.last_active = Instant::now();
        }
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
                lock(&registry).log(|| format!("{who}: cannot accept a connection: {e}"));
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some((id, close)) = lock(&registry).admit(&limits, who) else {
            drop(stream);
            continue;
        };
        tokio::spawn(connection(stream, router.clone(), registry.clone(), id, close, limits));
    }
}

async fn connection(stream: tokio::net::TcpStream, router: Router, registry: Shared, id: u64, close: Arc<Notify>, limits: Limits) {
    let tower = TowerToHyperService::new(router);
    let busy_registry = registry.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = Busy::start(&busy_registry, id);
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
        let tick = (limits.idle / 4).max(Duration::from_millis(10));
        loop {
            tokio::time::sleep(tick).await;
            let expired = lock(&registry)
                .conns
                .get(&id)
                .is_none_or(|c| c.busy == 0 && c.last_active.elapsed() >= limits.idle);
            if expired {
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
        let router = Router::new().route("/", axum::routing::get(|| async { "ok" }));
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
        let limits = Limits { max_connections: 8, header_read: Duration::from_millis(200), idle: Duration::from_millis(300) };
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
        let limits = Limits { max_connections: 2, header_read: Duration::from_secs(30), idle: Duration::from_secs(30) };
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
}
