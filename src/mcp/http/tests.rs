use super::*;
use crate::clock::{SystemClock, Timestamp};

/// Answers every request with its own bytes wrapped in a result, plus one
/// notification for `two`; counts ended sessions.
#[derive(Default)]
struct Echo {
    seen: Vec<(Option<String>, Vec<u8>)>,
    ended: Vec<String>,
}

impl MessageHandler for Echo {
    fn handle(&mut self, msg: &[u8], ctx: &CallContext, _now: Timestamp) -> Vec<Reply> {
        self.seen.push((ctx.session.clone(), msg.to_vec()));
        let m = Message::parse(msg);
        let Some(id) = m.id() else {
            return match m.class() {
                Class::Unparsable => vec![Reply::now(jsonrpc::error_response(
                    None,
                    &RpcError::parse_error("x"),
                ))],
                _ => Vec::new(),
            };
        };
        let mut out = vec![Reply::now(jsonrpc::result_response(
            id,
            &serde_json::json!({"method": m.method()}),
        ))];
        if m.method() == Some("two") {
            out.insert(
                0,
                Reply::now(jsonrpc::notification(
                    "notifications/tools/list_changed",
                    None,
                )),
            );
        }
        out
    }
    fn end_session(&mut self, session: &str) {
        self.ended.push(session.to_string());
    }
}

async fn start() -> (Arc<Mutex<Echo>>, HttpClient, String) {
    let handler = Arc::new(Mutex::new(Echo::default()));
    let server = HttpServer::bind(
        "127.0.0.1:0".parse().unwrap(),
        handler.clone(),
        Arc::new(SystemClock),
    )
    .await
    .unwrap();
    let url = format!("http://{}/mcp", server.local_addr().unwrap());
    tokio::spawn(server.run());
    (handler, HttpClient::new(&url).unwrap(), url)
}

const INIT: &[u8] =
    br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}"#;

#[tokio::test]
async fn sessions_are_issued_at_initialize_and_required_after() {
    let (handler, client, _) = start().await;
    let r = client.post(INIT, &[]).await.unwrap();
    assert_eq!(r.status, 200);
    let sid = r.session_id.clone().unwrap();
    assert_eq!(sid.len(), 32);
    assert!(sid.bytes().all(|b| (0x21..=0x7e).contains(&b)));

    let ping = br#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#;
    assert_eq!(client.post(ping, &[]).await.unwrap().status, 400);
    assert_eq!(
        client
            .post(ping, &[("mcp-session-id", "nope")])
            .await
            .unwrap()
            .status,
        404
    );
    let ok = client
        .post(
            ping,
            &[
                ("mcp-session-id", &sid),
                ("mcp-protocol-version", "2025-11-25"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.messages,
        vec![br#"{"jsonrpc":"2.0","id":2,"result":{"method":"ping"}}"#.to_vec()]
    );
    let bad_version = client
        .post(
            ping,
            &[
                ("mcp-session-id", &sid),
                ("mcp-protocol-version", "1999-01-01"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(bad_version.status, 400);

    let note = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let r = client
        .post(note, &[("mcp-session-id", &sid)])
        .await
        .unwrap();
    assert_eq!((r.status, r.messages.len()), (202, 0));

    assert_eq!(client.delete_session(&sid).await.unwrap(), 200);
    assert_eq!(
        client
            .post(ping, &[("mcp-session-id", &sid)])
            .await
            .unwrap()
            .status,
        404
    );
    let h = handler.lock().unwrap();
    assert_eq!(h.ended, vec![sid.clone()]);
    assert_eq!(h.seen[1].0.as_deref(), Some(sid.as_str()));
}

#[tokio::test]
async fn several_replies_come_as_sse_events() {
    let (_, client, _) = start().await;
    let sid = client.post(INIT, &[]).await.unwrap().session_id.unwrap();
    let r = client
        .post(
            br#"{"jsonrpc":"2.0","id":"x","method":"two"}"#,
            &[("mcp-session-id", &sid)],
        )
        .await
        .unwrap();
    assert_eq!(r.messages.len(), 2);
    assert_eq!(
        r.messages[0],
        br#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#.to_vec()
    );
}

#[tokio::test]
async fn foreign_origins_bad_json_get_and_stateless_header_mismatch_are_refused() {
    let (_, client, url) = start().await;
    assert_eq!(
        client
            .post(INIT, &[("origin", "http://evil.example")])
            .await
            .unwrap()
            .status,
        403
    );
    assert_eq!(
        client
            .post(INIT, &[("origin", "http://localhost:5173")])
            .await
            .unwrap()
            .status,
        200
    );
    let r = client.post(b"not json", &[]).await.unwrap();
    assert_eq!(r.status, 400);
    let v: Value = serde_json::from_slice(&r.messages[0]).unwrap();
    assert_eq!(v["error"]["code"], -32700);

    let modern = br#"{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"a","_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
    let mismatch = client
        .post(modern, &[("mcp-method", "tools/call"), ("mcp-name", "b")])
        .await
        .unwrap();
    assert_eq!(mismatch.status, 400);
    let v: Value = serde_json::from_slice(&mismatch.messages[0]).unwrap();
    assert_eq!(v["error"]["code"], -32020);
    let fine = client
        .post(
            modern,
            &[
                ("mcp-method", "tools/call"),
                ("mcp-name", "a"),
                ("mcp-protocol-version", "2026-07-28"),
            ],
        )
        .await
        .unwrap();
    assert_eq!(fine.status, 200);
    assert!(fine.session_id.is_none());

    let get = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<Bytes>>()
        .get(url.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
}

#[test]
fn origins_on_this_machine_are_local() {
    assert!(origin_is_local("http://localhost:3000"));
    assert!(origin_is_local("http://127.0.0.1"));
    assert!(origin_is_local("http://[::1]:8080"));
    assert!(!origin_is_local("http://localhost.evil.example"));
    assert!(!origin_is_local("null"));
    // Parsed as a URL: userinfo, other schemes and trailing parts are refused; case does not matter.
    for foreign in ["http://127.0.0.1:1@evil.com", "http://localhost@evil.com", "evil://localhost", "file://localhost", "http://localhost/x", "http://localhost:", "http://localhost:99999", "http://[::1]x"] {
        assert!(!origin_is_local(foreign), "{foreign}");
    }
    for local in ["http://LOCALHOST", "HTTPS://LocalHost:8443", "http://[::1]"] {
        assert!(origin_is_local(local), "{local}");
    }
}

#[test]
fn sse_parsing_skips_priming_events_and_joins_lines() {
    let text =
        "id: 0\ndata:\n\nevent: message\ndata: {\"a\":\ndata: 1}\n\n: keepalive\n\ndata: {}\n";
    assert_eq!(
        sse_data(text),
        vec![b"{\"a\":\n1}".to_vec(), b"{}".to_vec()]
    );
}

#[test]
fn sse_events_split_across_chunks() {
    let mut p = SseParser::default();
    assert!(p.push(b"event: message\nid: 7\nda").is_empty());
    let evs = p.push(b"ta: {\"a\":1}\n\n: comment\n\ndata: x\r\ndata: y\r\n\r\n");
    assert_eq!(
        evs,
        vec![
            SseEvent {
                id: Some("7".into()),
                data: "{\"a\":1}".into()
            },
            SseEvent {
                id: None,
                data: "x\ny".into()
            },
        ]
    );
    assert_eq!(p.finish(), None);
}

#[test]
fn sse_parser_holds_an_unterminated_event_until_finish() {
    let mut p = SseParser::default();
    assert!(p.push(b"id: 3\ndata: {}").is_empty());
    assert_eq!(
        p.finish(),
        Some(SseEvent {
            id: Some("3".into()),
            data: "{}".into()
        })
    );
}

/// The SSE format ends a line at `\r\n`, `\n` or a bare `\r`; a reader that
/// split on `\n` alone would see a comment where the agent's client sees the
/// event (issue 19's framing audit).
#[test]
fn sse_lines_end_at_a_bare_carriage_return_too_even_across_chunks() {
    let mut p = SseParser::default();
    let evs = p.push(b": comment\rdata: {\"a\":1}\r\r");
    assert_eq!(evs, vec![SseEvent { id: None, data: "{\"a\":1}".into() }]);
    // A `\r\n` split between two chunks is one line end, not a blank line.
    assert!(p.push(b"id: 4\r").is_empty());
    assert!(p.push(b"\ndata: x\r").is_empty());
    assert_eq!(p.push(b"\n\r\n"), vec![SseEvent { id: Some("4".into()), data: "x".into() }]);
    assert_eq!(p.finish(), None);
}

#[test]
fn an_sse_event_gives_every_line_of_its_data_its_own_data_field() {
    let data = b"{\r\n \"a\": 1,\r\"b\":\n2}";
    let event = sse_event(Some("9"), data);
    assert_eq!(event, b"event: message\nid: 9\ndata: {\ndata:  \"a\": 1,\ndata: \"b\":\ndata: 2}\n\n".to_vec());
    let mut p = SseParser::default();
    let evs = p.push(&event);
    assert_eq!(evs, vec![SseEvent { id: Some("9".into()), data: "{\n \"a\": 1,\n\"b\":\n2}".into() }]);
    let back: serde_json::Value = serde_json::from_str(&evs[0].data).unwrap();
    assert_eq!(back, serde_json::json!({"a": 1, "b": 2}));
}
