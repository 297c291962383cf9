//! Newline-delimited framing over any byte stream (stdio, pipes, sockets).
//!
//! One message per line. A line longer than the limit is not buffered: the
//! reader reports it as [`Frame::TooLong`], skips to the next newline and goes
//! on, so one hostile line can neither exhaust memory nor end the session.
//!
//! Readers do not agree on where a line ends ([`LineEnds`]): this one ends
//! it at `\n` only, as the TypeScript SDK and Go's `bufio.Scanner` do, while
//! the Python SDK's stdio server also ends it at a bare `\r`. The proxy's
//! strict profile refuses what the two would read differently; the mock can
//! read either way, so attacks on the difference show up in its ledger.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

use crate::clock::Clock;
use crate::caller::CallContext;

use super::jsonrpc::{self, RpcError};
use super::MessageHandler;

/// Longest accepted line, newline excluded.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

/// How much of an over-long line is kept: JSON-RPC envelopes put their `id`
/// before a large `result`, so an answer too large to pass on can still be
/// matched to its request.
pub const HEAD: usize = 4096;

/// Where a stdio reader ends a line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LineEnds {
    /// At `\n` only, one `\r` before it dropped: the TypeScript SDK, Go's
    /// `bufio.Scanner` (Intercept) and [`LineReader`].
    #[default]
    Lf,
    /// At `\n`, `\r\n` and a bare `\r`: Python's universal newlines, which
    /// the Python SDK's stdio server reads its input with (a `TextIOWrapper`
    /// with `newline=None`), as do Java's and .NET's `readLine`.
    Universal,
}

impl LineEnds {
    /// The non-blank lines a reader with these line ends makes of one line
    /// that [`LineReader`] read (its `\n` and a trailing `\r` removed).
    pub fn split(self, line: &[u8]) -> impl Iterator<Item = &[u8]> {
        let pieces: Box<dyn Iterator<Item = &[u8]>> = match self {
            LineEnds::Lf => Box::new(std::iter::once(line)),
            LineEnds::Universal => Box::new(line.split(|&b| b == b'\r')),
        };
        pieces.filter(|piece| !is_blank(piece))
    }
}

/// A line of nothing but ASCII whitespace, which readers skip.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// One line without its `\n` (and without a trailing `\r`).
    Line(Vec<u8>),
    /// A line over the limit was skipped; `length` is its full length in
    /// bytes, `head` its first [`HEAD`] bytes (enough to read an id from).
    TooLong { length: usize, head: Vec<u8> },
}

/// Reads frames from a buffered byte stream: a tokio one with
/// [`LineReader::next_frame`], a blocking `std` one with
/// [`LineReader::next_frame_blocking`]; both split lines the same way.
pub struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader {
            inner,
            max: MAX_LINE,
        }
    }

    pub fn with_max(inner: R, max: usize) -> Self {
        LineReader { inner, max }
    }
}

/// The next frame being read, across as many buffer fills as it takes.
#[derive(Default)]
struct Partial {
    /// The current line's bytes, dropped once it is over the limit.
    line: Vec<u8>,
    /// The current line's full length.
    length: usize,
    /// `Some` once the frame is known: `Some(None)` is the end of the stream.
    done: Option<Option<Frame>>,
}

impl Partial {
    /// Takes bytes from what is buffered (empty at end of stream); returns
    /// how many to consume. Blank lines are skipped.
    fn feed(&mut self, buf: &[u8], max: usize) -> usize {
        if buf.is_empty() {
            // A last line without a newline still counts.
            self.done = Some(self.take_line(max));
            return 0;
        }
        let (chunk, used) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        self.length += chunk.len();
        if self.length <= max {
            self.line.extend_from_slice(chunk);
        } else {
            let room = HEAD.saturating_sub(self.line.len());
            self.line.extend_from_slice(&chunk[..room.min(chunk.len())]);
            self.line.truncate(HEAD);
        }
        let Some(used) = used else {
            return buf.len();
        };
        if let Some(frame) = self.take_line(max) {
            self.done = Some(Some(frame));
        }
        used
    }

    /// The frame the line read so far makes (`None` when blank); the next
    /// line starts empty.
    fn take_line(&mut self, max: usize) -> Option<Frame> {
        let length = std::mem::take(&mut self.length);
        let mut line = std::mem::take(&mut self.line);
        if length > max {
            line.truncate(HEAD);
            return Some(Frame::TooLong { length, head: line });
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if is_blank(&line) {
            return None;
        }
        Some(Frame::Line(line))
    }
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    /// The next non-blank line, `None` at end of stream. A last line without
    /// a newline still counts.
    pub async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        let mut next = Partial::default();
        loop {
            let buf = self.inner.fill_buf().await?;
            let used = next.feed(buf, self.max);
            self.inner.consume(used);
            if let Some(frame) = next.done.take() {
                return Ok(frame);
            }
        }
    }
}

impl<R: io::BufRead> LineReader<R> {
    /// [`LineReader::next_frame`] for a blocking reader (the proxy's threads).
    pub fn next_frame_blocking(&mut self) -> io::Result<Option<Frame>> {
        let mut next = Partial::default();
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let used = next.feed(buf, self.max);
            self.inner.consume(used);
            if let Some(frame) = next.done.take() {
                return Ok(frame);
            }
        }
    }
}

impl<R: io::Read> LineReader<io::BufReader<R>> {
    /// More input is already read and waiting: the caller may defer flushing
    /// its outputs (a pipelining peer gets them in one write, not one each).
    pub fn has_buffered(&self) -> bool {
        !self.inner.buffer().is_empty()
    }
}

/// Writes one message and its newline, then flushes. A message holding a raw
/// newline would split into two frames, so it is refused.
pub async fn write_line<W: AsyncWrite + Unpin>(w: &mut W, msg: &[u8]) -> io::Result<()> {
    if msg.contains(&b'\n') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "a stdio message must not contain a newline",
        ));
    }
    w.write_all(msg).await?;
    w.write_all(b"\n").await?;
    w.flush().await
}

/// Why [`serve`] stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// The peer closed its end.
    Eof,
    /// The core said it will never answer again (a simulated crash).
    HandlerDead,
}

/// Feeds each line to `handler` and writes its replies, honouring their
/// delays without blocking later lines (answers may come out of order, as
/// with real servers). An over-long line is answered with -32600 and skipped.
pub async fn serve<R, W, H>(
    reader: R,
    mut writer: W,
    handler: Arc<Mutex<H>>,
    clock: Arc<dyn Clock>,
    ctx: CallContext,
) -> io::Result<Ended>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
    H: MessageHandler,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
    let write_task = tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            write_line(&mut writer, &bytes).await?;
        }
        Ok::<_, io::Error>(())
    });
    let mut delayed = tokio::task::JoinSet::new();
    let mut lines = LineReader::new(reader);
    let mut ended = Ended::Eof;
    while let Some(frame) = lines.next_frame().await? {
        let (replies, dead) = match frame {
            Frame::TooLong { length, .. } => {
                let err = RpcError::invalid_request(&format!(
                    "message of {length} bytes exceeds the {MAX_LINE}-byte line limit"
                ));
                (
                    vec![super::Reply::now(jsonrpc::error_response(None, &err))],
                    false,
                )
            }
            Frame::Line(line) => match handler.lock() {
                Ok(mut h) => (h.handle_line(&line, &ctx, clock.now()), h.is_dead()),
                Err(_) => return Err(io::Error::other("the message handler panicked")),
            },
        };
        for reply in replies {
            if reply.delay_ms == 0 {
                let _ = tx.send(reply.bytes);
            } else {
                let tx = tx.clone();
                delayed.spawn(async move {
                    tokio::time::sleep(Duration::from_millis(reply.delay_ms)).await;
                    let _ = tx.send(reply.bytes);
                });
            }
        }
        if dead {
            ended = Ended::HandlerDead;
            break;
        }
    }
    // Answers still on their (simulated) way are delivered before we stop.
    while delayed.join_next().await.is_some() {}
    drop(tx);
    write_task.await.map_err(io::Error::other)??;
    Ok(ended)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8], max: usize) -> Vec<Frame> {
        // A tiny buffer makes lines straddle many reads.
        let mut r = LineReader::with_max(tokio::io::BufReader::with_capacity(3, input), max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame().await.unwrap() {
            out.push(f);
        }
        out
    }

    #[tokio::test]
    async fn splits_lines_skips_blanks_and_keeps_a_last_unterminated_line() {
        let got = frames(b"{\"a\":1}\r\n\n  \n{\"b\":2}\n{\"c\":3}", 100).await;
        assert_eq!(
            got,
            vec![
                Frame::Line(b"{\"a\":1}".to_vec()),
                Frame::Line(b"{\"b\":2}".to_vec()),
                Frame::Line(b"{\"c\":3}".to_vec())
            ]
        );
    }

    #[tokio::test]
    async fn an_over_long_line_is_reported_and_the_reader_resynchronises() {
        let mut input = vec![b'x'; 25];
        input.extend_from_slice(b"\nok\n");
        let got = frames(&input, 10).await;
        assert_eq!(
            got,
            vec![Frame::TooLong { length: 25, head: vec![b'x'; 25] }, Frame::Line(b"ok".to_vec())]
        );
        assert_eq!(
            frames(&[b'y'; 11], 10).await,
            vec![Frame::TooLong { length: 11, head: vec![b'y'; 11] }]
        );
        assert_eq!(
            frames(&[b'y'; 10], 10).await,
            vec![Frame::Line(vec![b'y'; 10])]
        );
    }

    fn frames_blocking(input: &[u8], max: usize) -> Vec<Frame> {
        let mut r = LineReader::with_max(io::BufReader::with_capacity(7, input), max);
        let mut out = Vec::new();
        while let Some(f) = r.next_frame_blocking().unwrap() {
            out.push(f);
        }
        out
    }

    #[test]
    fn blocking_reader_splits_lines_and_skips_blank_ones() {
        assert_eq!(
            frames_blocking(b"{\"a\":1}\r\n\n  \n{\"b\":2}", 100),
            vec![
                Frame::Line(b"{\"a\":1}".to_vec()),
                Frame::Line(b"{\"b\":2}".to_vec())
            ]
        );
    }

    #[test]
    fn blocking_reader_skips_an_over_long_line_and_resynchronises() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\n{\"ok\":true}\n");
        assert_eq!(
            frames_blocking(&input, 20),
            vec![
                Frame::TooLong { length: 50, head: vec![b'x'; 50] },
                Frame::Line(b"{\"ok\":true}".to_vec())
            ]
        );
        assert_eq!(
            frames_blocking(&[b'y'; 21], 20),
            vec![Frame::TooLong { length: 21, head: vec![b'y'; 21] }]
        );
        assert_eq!(
            frames_blocking(&[b'y'; 20], 20),
            vec![Frame::Line(vec![b'y'; 20])]
        );
    }

    #[test]
    fn has_buffered_says_whether_a_pipelined_line_is_waiting() {
        let mut r = LineReader::with_max(io::BufReader::new(&b"a\nb\n"[..]), 10);
        assert_eq!(
            r.next_frame_blocking().unwrap(),
            Some(Frame::Line(b"a".to_vec()))
        );
        assert!(r.has_buffered());
        assert_eq!(
            r.next_frame_blocking().unwrap(),
            Some(Frame::Line(b"b".to_vec()))
        );
        assert!(!r.has_buffered());
    }

    /// Answers each request with its id, a call of `slow` 30 ms later; counts what reached it.
    #[derive(Default)]
    struct Echo {
        reached: usize,
    }

    impl MessageHandler for Echo {
        fn handle(&mut self, msg: &[u8], _: &CallContext, _: crate::clock::Timestamp) -> Vec<crate::mcp::Reply> {
            let v: serde_json::Value = serde_json::from_slice(msg).unwrap();
            self.reached += 1;
            let delay_ms = if v["params"]["name"] == "slow" { 30 } else { 0 };
            let bytes = format!(r#"{{"jsonrpc":"2.0","id":{},"result":{{}}}}"#, v["id"]).into_bytes();
            vec![crate::mcp::Reply { delay_ms, bytes }]
        }
    }

    #[tokio::test]
    async fn serve_answers_every_line_in_order_of_due_time_and_survives_huge_lines() {
        use crate::clock::VirtualClock;
        let server = Arc::new(Mutex::new(Echo::default()));
        let mut input = Vec::new();
        input.extend_from_slice(br#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25"}}"#);
        input.push(b'\n');
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 1));
        input.push(b'\n');
        input.extend_from_slice(
            br#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow"}}"#,
        );
        input.push(b'\n');
        input.extend_from_slice(
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"fast"}}"#,
        );
        let (client, server_end) = tokio::io::duplex(1 << 16);
        let clock: Arc<dyn Clock> = Arc::new(VirtualClock::default());
        let run = tokio::spawn(serve(
            std::io::Cursor::new(input),
            server_end,
            server.clone(),
            clock,
            CallContext::default(),
        ));
        let mut out = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut tokio::io::BufReader::new(client), &mut out)
            .await
            .unwrap();
        assert_eq!(run.await.unwrap().unwrap(), Ended::Eof);
        let ids: Vec<String> = out
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].to_string())
            .collect();
        assert_eq!(ids, ["1", "null", "3", "2"]);
        assert!(out.contains("-32600"));
        assert_eq!(server.lock().unwrap().reached, 3, "the huge line never reaches the handler");
    }

    #[test]
    fn universal_line_ends_split_at_a_bare_carriage_return_as_python_does() {
        let line = b"{\"a\":\r{\"b\":1}\r \r}";
        assert_eq!(LineEnds::Lf.split(line).collect::<Vec<_>>(), vec![&line[..]]);
        assert_eq!(
            LineEnds::Universal.split(line).collect::<Vec<_>>(),
            vec![&b"{\"a\":"[..], b"{\"b\":1}", b"}"]
        );
    }

    #[tokio::test]
    async fn write_line_refuses_embedded_newlines() {
        let mut out = Vec::new();
        write_line(&mut out, b"{}").await.unwrap();
        assert_eq!(out, b"{}\n");
        assert!(write_line(&mut out, b"{\n}").await.is_err());
    }
}
