//! The mock servers compiled into the binary: every `mock-servers/*.yaml` of
//! gauntlet's source tree at build time (see `build.rs`). A bundled server is
//! named by its file stem (`aksjah`), so `--server aksjah` and `gauntlet mock
//! aksjah` work from any directory.

use std::path::{Path, PathBuf};

use super::{MockError, ServerSpec};

const FILES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/bundled_servers.rs"));

fn stem(file: &str) -> &str {
    file.rsplit_once('.').map_or(file, |(s, _)| s)
}

/// The bundled servers' names, sorted.
pub fn names() -> Vec<&'static str> {
    FILES.iter().map(|(f, _)| stem(f)).collect()
}

/// The bundled server `name`: its path in gauntlet's source tree (for messages) and its text.
pub fn text(name: &str) -> Option<(PathBuf, &'static str)> {
    FILES.iter().find(|(f, _)| stem(f) == name).map(|(f, t)| (Path::new("mock-servers").join(f), *t))
}

/// Loads a bundled server by name.
pub fn load(name: &str) -> Option<Result<ServerSpec, MockError>> {
    text(name).map(|(path, text)| ServerSpec::parse(text, &path))
}

/// Every bundled server as `(name, spec)`, sorted by name.
pub fn all() -> Result<Vec<(String, ServerSpec)>, MockError> {
    FILES.iter().map(|(f, t)| Ok((stem(f).to_string(), ServerSpec::parse(t, &Path::new("mock-servers").join(f))?))).collect()
}

/// Whether `arg` reads as a file path rather than a bundled server's name.
fn looks_like_path(arg: &Path) -> bool {
    arg.components().count() > 1 || arg.extension().is_some() || arg.is_file()
}

/// The bundled server, or server file here or under `mock-servers/`, whose name `name` is a typo of.
fn typo_of(name: &str) -> Option<String> {
    let mut known: Vec<String> = names().into_iter().map(str::to_string).collect();
    for dir in [".", "mock-servers"] {
        let files = std::fs::read_dir(dir).into_iter().flatten().flatten().map(|e| e.path());
        let servers = files.filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json"));
        known.extend(servers.filter_map(|p| p.strip_prefix(".").unwrap_or(&p).to_str().map(str::to_string)));
    }
    let stem_of = |k: &str| Path::new(k).file_stem().and_then(|s| s.to_str()).unwrap_or(k).to_string();
    let stems: Vec<String> = known.iter().map(|k| stem_of(k)).collect();
    let hit = crate::wording::closest(name, stems.iter().map(String::as_str))?;
    known.into_iter().zip(&stems).find(|(_, s)| s.as_str() == hit).map(|(k, _)| k)
}

/// A `--server` argument: a server file, or the name of a bundled server.
/// Returns the server's name (file stem) and its spec.
pub fn resolve(arg: &Path) -> Result<(String, ServerSpec), MockError> {
    let name_of = |p: &Path| p.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_string();
    if looks_like_path(arg) {
        return ServerSpec::load(arg).map(|s| (name_of(arg), s));
    }
    let name = arg.to_str().unwrap_or_default();
    match load(name) {
        Some(spec) => spec.map(|s| (name.to_string(), s)),
        None => Err(MockError {
            path: arg.to_path_buf(),
            line: None,
            column: None,
            message: "no such file and no bundled server of that name".into(),
            help: Some(match typo_of(name) {
                Some(m) => format!("did you mean `{m}`? (bundled servers: {}; or pass the path of a server file)", names().join(", ")),
                None => format!("bundled servers: {}; or pass the path of a server file", names().join(", ")),
            }),
        }),
    }
}
