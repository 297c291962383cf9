//! libyaml's scanner and parser (the `unsafe-libyaml` port, the same C code
//! yaml.v3 was ported from) as a safe stream of positioned events. All of
//! the module's `unsafe` is here: one parser per input, events copied out
//! and freed at once, the parser freed on drop.
//!
//! Errors carry libyaml's problem and both marks, and are worded the way
//! yaml.v3 words them ([`v3_line`]: the context mark's line before the
//! problem's, one added for scanner errors only, none when it is 0).

use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::MaybeUninit;

use unsafe_libyaml as sys;

use super::Error;

/// A 1-based position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Mark {
    pub line: u32,
    pub column: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    StreamStart,
    StreamEnd,
    /// `version`: the `%YAML` directive's (major, minor), if any.
    DocumentStart { version: Option<(i32, i32)> },
    DocumentEnd,
    Alias(String),
    Scalar { value: String, plain: bool, anchor: Option<String>, tag: Option<String> },
    SequenceStart { anchor: Option<String>, tag: Option<String> },
    SequenceEnd,
    MappingStart { anchor: Option<String>, tag: Option<String> },
    MappingEnd,
}

/// The events of one input, in order, until the first error.
pub struct Events<'a> {
    parser: Box<MaybeUninit<sys::yaml_parser_t>>,
    input: PhantomData<&'a [u8]>,
    failed: bool,
}

impl<'a> Events<'a> {
    pub fn new(input: &'a [u8]) -> Events<'a> {
        let mut parser = Box::new(MaybeUninit::<sys::yaml_parser_t>::uninit());
        // SAFETY: the parser lives in a box that never moves and outlives
        // every call; `input` outlives the parser (the lifetime 'a).
        unsafe {
            let p = parser.as_mut_ptr();
            assert!(!sys::yaml_parser_initialize(p).fail, "libyaml could not allocate a parser");
            sys::yaml_parser_set_input_string(p, input.as_ptr(), input.len() as u64);
        }
        Events { parser, input: PhantomData, failed: false }
    }

    /// The next event and where it starts; after an error, the same error's
    /// kind again is not guaranteed, so callers stop at the first.
    pub fn next_event(&mut self) -> Result<(Event, Mark), Error> {
        if self.failed {
            return Err(Error::syntax(1, 1, "the YAML parser already failed".into()));
        }
        let mut raw = MaybeUninit::<sys::yaml_event_t>::uninit();
        // SAFETY: the parser was initialised in `new`; a successful parse
        // fills `raw`, which is copied out and deleted before returning.
        unsafe {
            let p = self.parser.as_mut_ptr();
            if sys::yaml_parser_parse(p, raw.as_mut_ptr()).fail {
                self.failed = true;
                return Err(error(&*p));
            }
            let raw = raw.assume_init_mut();
            let mark = Mark { line: raw.start_mark.line as u32 + 1, column: raw.start_mark.column as u32 + 1 };
            let event = convert(raw);
            sys::yaml_event_delete(raw);
            Ok((event, mark))
        }
    }
}

impl Drop for Events<'_> {
    fn drop(&mut self) {
        // SAFETY: initialised in `new`, deleted once.
        unsafe { sys::yaml_parser_delete(self.parser.as_mut_ptr()) }
    }
}

/// SAFETY: `p` must be null or a NUL-terminated string libyaml owns.
unsafe fn text(p: *const u8) -> Option<String> {
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p.cast()) }.to_string_lossy().into_owned())
}

/// SAFETY: `e` must be an event libyaml filled.
unsafe fn convert(e: &sys::yaml_event_t) -> Event {
    unsafe {
        match e.type_ {
            sys::YAML_STREAM_START_EVENT => Event::StreamStart,
            sys::YAML_STREAM_END_EVENT => Event::StreamEnd,
            sys::YAML_DOCUMENT_START_EVENT => {
                let v = e.data.document_start.version_directive;
                Event::DocumentStart { version: (!v.is_null()).then(|| ((*v).major, (*v).minor)) }
            }
            sys::YAML_DOCUMENT_END_EVENT => Event::DocumentEnd,
            sys::YAML_ALIAS_EVENT => Event::Alias(text(e.data.alias.anchor).unwrap_or_default()),
            sys::YAML_SCALAR_EVENT => {
                let s = &e.data.scalar;
                let bytes = std::slice::from_raw_parts(s.value, s.length as usize);
                Event::Scalar {
                    // libyaml hands out UTF-8 it decoded itself.
                    value: String::from_utf8_lossy(bytes).into_owned(),
                    plain: s.style == sys::YAML_PLAIN_SCALAR_STYLE,
                    anchor: text(s.anchor),
                    tag: text(s.tag),
                }
            }
            sys::YAML_SEQUENCE_START_EVENT => Event::SequenceStart {
                anchor: text(e.data.sequence_start.anchor),
                tag: text(e.data.sequence_start.tag),
            },
            sys::YAML_SEQUENCE_END_EVENT => Event::SequenceEnd,
            sys::YAML_MAPPING_START_EVENT => Event::MappingStart {
                anchor: text(e.data.mapping_start.anchor),
                tag: text(e.data.mapping_start.tag),
            },
            _ => Event::MappingEnd,
        }
    }
}

/// The parser's error: gauntlet's place is the problem mark; yaml.v3's
/// message line is its own rule.
///
/// SAFETY: `p` must be a parser whose last call failed.
unsafe fn error(p: &sys::yaml_parser_t) -> Error {
    let problem = unsafe { text(p.problem.cast()) }.unwrap_or_else(|| "unknown problem parsing YAML content".into());
    let (line, column) = (p.problem_mark.line as u32 + 1, p.problem_mark.column as u32 + 1);
    let e = Error::syntax(line, column, problem);
    let scanner = p.error == sys::YAML_SCANNER_ERROR;
    // Reader errors cannot happen here: every input passed
    // [`super::reader`]'s checks first.
    match v3_line(p.context_mark.line as u32, p.problem_mark.line as u32, scanner) {
        Some(n) => e.with_v3_line(n),
        None => e,
    }
}

/// The line yaml.v3 prints for a parser failure, from 0-based marks: the
/// context mark's line if not 0, else the problem mark's if not 0; plus one
/// for a scanner error (its marks are 0-based, and yaml.v3 corrects only
/// those); `None` (no `line N:` at all) when both are 0.
pub fn v3_line(context: u32, problem: u32, scanner: bool) -> Option<u32> {
    let line = if context != 0 { context } else { problem };
    (line != 0).then_some(line + u32::from(scanner))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(text: &str) -> Result<Vec<Event>, Error> {
        let mut ev = Events::new(text.as_bytes());
        let mut out = Vec::new();
        loop {
            let (e, _) = ev.next_event()?;
            if e == Event::StreamEnd {
                return Ok(out);
            }
            out.push(e);
        }
    }

    #[test]
    fn events_carry_values_styles_anchors_and_full_tags() {
        let events = all("a: &x !!str 'b'\nc: *x\n").unwrap();
        assert!(events.contains(&Event::Scalar {
            value: "b".into(),
            plain: false,
            anchor: Some("x".into()),
            tag: Some("tag:yaml.org,2002:str".into())
        }));
        assert!(events.contains(&Event::Alias("x".into())));
        let version = all("%YAML 1.1\n---\na\n").unwrap();
        assert!(version.contains(&Event::DocumentStart { version: Some((1, 1)) }));
    }

    #[test]
    fn errors_are_worded_and_placed_like_yaml_v3() {
        let e = all("version: \"1\"\nx: &a.b 1\n").unwrap_err();
        assert_eq!((e.intercept_text().as_str(), e.line, e.column), ("line 2: did not find expected alphabetic or numeric character", 2, 6));
        let e = all("%FOO bar\n---\na\n").unwrap_err();
        assert_eq!(e.intercept_text(), "found unknown directive name");
        assert_eq!(v3_line(0, 4, false), Some(4));
        assert_eq!(v3_line(2, 4, true), Some(3));
    }
}
