//! Newline-delimited framing over any byte stream (stdio, pipes, sockets).
//!
//! One message per line. A line longer than the limit is not buffered: the
//! reader reports it as [`Frame::TooLong`], skips to the next newline and goes
//! on, so one hostile line can neither exhaust memory nor end the session.

use std::io;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// Longest accepted line, newline excluded.
pub const MAX_LINE: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// One line without its `\n` (and without a trailing `\r`).
    Line(Vec<u8>),
    /// A line over the limit was skipped; `length` is its full length in bytes.
    TooLong { length: usize },
}

/// Reads frames from a buffered byte stream.
pub struct LineReader<R> {
    inner: R,
    max: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(inner: R) -> Self {
        LineReader { inner, max: MAX_LINE }
    }

    pub fn with_max(inner: R, max: usize) -> Self {
        LineReader { inner, max }
    }

    /// The next non-blank line, `None` at end of stream. A last line without
    /// a newline still counts.
    pub async fn next_frame(&mut self) -> io::Result<Option<Frame>> {
        loop {
            let mut line = Vec::new();
            let mut length = 0usize;
            let mut saw_any = false;
            loop {
                let buf = self.inner.fill_buf().await?;
                if buf.is_empty() {
                    break;
                }
                saw_any = true;
                let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[..i], Some(i + 1)),
                    None => (buf, None),
                };
                length += chunk.len();
                if length <= self.max {
                    line.extend_from_slice(chunk);
                } else {
                    line = Vec::new();
                }
                let used = done.unwrap_or(buf.len());
                self.inner.consume(used);
                if done.is_some() {
                    break;
                }
            }
            if !saw_any {
                return Ok(None);
            }
            if length > self.max {
                return Ok(Some(Frame::TooLong { length }));
            }
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Ok(Some(Frame::Line(line)));
        }
    }
}

/// Writes one message and its newline, then flushes. A message holding a raw
/// newline would split into two frames, so it is refused.
pub async fn write_line<W: AsyncWrite + Unpin>(w: &mut W, msg: &[u8]) -> io::Result<()> {
    if msg.contains(&b'\n') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "a stdio message must not contain a newline"));
    }
    w.write_all(msg).await?;
    w.write_all(b"\n").await?;
    w.flush().await
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
        assert_eq!(got, vec![Frame::TooLong { length: 25 }, Frame::Line(b"ok".to_vec())]);
        assert_eq!(frames(&[b'y'; 11], 10).await, vec![Frame::TooLong { length: 11 }]);
        assert_eq!(frames(&[b'y'; 10], 10).await, vec![Frame::Line(vec![b'y'; 10])]);
    }

    #[tokio::test]
    async fn write_line_refuses_embedded_newlines() {
        let mut out = Vec::new();
        write_line(&mut out, b"{}").await.unwrap();
        assert_eq!(out, b"{}\n");
        assert!(write_line(&mut out, b"{\n}").await.is_err());
    }
}
