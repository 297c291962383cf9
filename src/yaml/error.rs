//! Why a YAML input does not load, with its 1-based place: a character or
//! encoding the reader refuses, a syntax error, or a crossed input limit.
//! Every loader prints it as `FILE:LINE:COL: message` with the same advice;
//! [`Error::intercept_text`] is what yaml.v3 itself says about it.

use std::fmt;
use std::io::Read;
use std::path::Path;

use crate::limits::{LimitError, MAX_DOCUMENT_BYTES};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub line: u32,
    pub column: u32,
    kind: Kind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    Syntax {
        /// yaml.v3's words.
        message: String,
        /// The line yaml.v3 names in its message, if it names one.
        v3_line: Option<u32>,
        /// What gauntlet adds after yaml.v3's words (the character found).
        detail: String,
        help: &'static str,
    },
    Limit(LimitError),
}

impl Error {
    pub fn syntax(line: u32, column: u32, message: String) -> Error {
        let help = "fix the YAML at this place (yaml.v3, which Intercept uses, refuses it too)";
        Error { line, column, kind: Kind::Syntax { message, v3_line: None, detail: String::new(), help } }
    }

    pub fn with_v3_line(mut self, line: u32) -> Error {
        if let Kind::Syntax { v3_line, .. } = &mut self.kind {
            *v3_line = Some(line);
        }
        self
    }

    pub fn with_detail(mut self, found: String, advice: &'static str) -> Error {
        if let Kind::Syntax { detail, help, .. } = &mut self.kind {
            *detail = found;
            *help = advice;
        }
        self
    }

    /// The problem in yaml.v3's words (a limit's own text for a limit).
    pub fn message(&self) -> String {
        match &self.kind {
            Kind::Syntax { message, .. } => message.clone(),
            Kind::Limit(l) => l.to_string(),
        }
    }

    /// yaml.v3's error text after `yaml: ` (`line N: …` when it names a line).
    pub fn intercept_text(&self) -> String {
        match &self.kind {
            Kind::Syntax { message, v3_line: Some(n), .. } => format!("line {n}: {message}"),
            _ => self.message(),
        }
    }

    /// What gauntlet adds to yaml.v3's words (the character found), if anything.
    pub fn detail(&self) -> &str {
        match &self.kind {
            Kind::Syntax { detail, .. } => detail,
            Kind::Limit(_) => "",
        }
    }

    /// What to do about it.
    pub fn help(&self) -> &'static str {
        match &self.kind {
            Kind::Syntax { help, .. } => help,
            Kind::Limit(l) => l.help(),
        }
    }

    pub fn limit(&self) -> Option<&LimitError> {
        match &self.kind {
            Kind::Limit(l) => Some(l),
            Kind::Syntax { .. } => None,
        }
    }
}

impl From<LimitError> for Error {
    fn from(l: LimitError) -> Error {
        Error { line: l.line, column: l.column, kind: Kind::Limit(l) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Syntax { message, detail, .. } => write!(f, "{message}{detail}"),
            Kind::Limit(l) => l.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// Why a file could not be read: the OS said no, or its content is refused
/// before parsing (too large, an encoding or character the reader refuses).
#[derive(Debug)]
pub enum ReadError {
    Io(std::io::Error),
    Input(Error),
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) => e.fmt(f),
            ReadError::Input(e) => e.fmt(f),
        }
    }
}

/// Reads a YAML (or JSON) file as libyaml reads it — UTF-8, or UTF-16 after
/// a byte-order mark — never more than the size limit plus one byte.
pub fn read_file(path: &Path) -> Result<String, ReadError> {
    read_file_within(path, MAX_DOCUMENT_BYTES)
}

/// [`read_file`] for a kind of file whose size limit is `max` bytes.
pub fn read_file_within(path: &Path, max: usize) -> Result<String, ReadError> {
    let file = std::fs::File::open(path).map_err(ReadError::Io)?;
    let mut bytes = Vec::new();
    file.take(max as u64 + 1).read_to_end(&mut bytes).map_err(ReadError::Io)?;
    crate::limits::check_size_within(&bytes, max).map_err(|l| ReadError::Input(l.into()))?;
    let text = super::reader::decode(&bytes).map_err(ReadError::Input)?.into_owned();
    Ok(text)
}
