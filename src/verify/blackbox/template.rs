//! The proxy command and policy templates of black-box mode.
//!
//! `--proxy-command` is split into words as a shell would, then each
//! placeholder is filled in: `{policy}`, `{upstream}` (the words of a command
//! that serves the run's mock server over stdio with its ledger; a word that
//! is exactly `{upstream}` becomes those words, inside a longer word they are
//! shell-quoted and joined), `{upstream_url}` (the same mock over Streamable
//! HTTP), `{state_dir}` (fresh per run). Peers that name their upstream inside
//! their own config file get the same placeholders in the policy file, plus
//! `{upstream_command}` and `{upstream_args_json}` (a JSON array, which is
//! also a YAML flow sequence). A proxy that listens (`--proxy-url`) gets
//! `{port}`: a free loopback port per run, in its command, its URL and its
//! config alike. `{state_dsn}` is the DSN of a Redis gauntlet starts for
//! the run (the store fault scenarios fail and hang it).

use std::path::Path;

/// The values of one run's placeholders.
pub struct Fill<'a> {
    pub policy: Option<&'a Path>,
    pub upstream: &'a [String],
    pub upstream_url: Option<&'a str>,
    pub state_dir: &'a Path,
    pub port: Option<u16>,
    pub state_dsn: Option<&'a str>,
}

/// Placeholders that need the mock served over HTTP.
pub fn wants_url(text: &str) -> bool {
    text.contains("{upstream_url}")
}

/// Placeholders that need a free port per run.
pub fn wants_port(text: &str) -> bool {
    text.contains("{port}")
}

/// Placeholders that need a state store (Redis) per run.
pub fn wants_store(text: &str) -> bool {
    text.contains("{state_dsn}")
}

/// Whether a policy file is a template (names the run's upstream, state or port).
pub fn is_template(text: &str) -> bool {
    ["{upstream", "{state_dir}", "{state_dsn}", "{port}"].iter().any(|p| text.contains(p))
}

/// Checks a template (`what`: the proxy command or URL) once, before any
/// run: words split, placeholders known.
pub fn check(command: &str, what: &str) -> Result<Vec<String>, String> {
    let words = shlex::split(command).ok_or_else(|| format!("cannot split the {what} `{command}` into words (an unclosed quote?)"))?;
    if words.is_empty() {
        return Err(format!("the {what} is empty"));
    }
    for w in &words {
        let mut rest = w.as_str();
        while let Some(i) = rest.find('{') {
            let Some(j) = rest[i..].find('}') else { break };
            let name = &rest[i + 1..i + j];
            if !["policy", "upstream", "upstream_url", "state_dir", "state_dsn", "port"].contains(&name) && name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && !name.is_empty() {
                return Err(format!(
                    "unknown placeholder `{{{name}}}` in the {what}\n  help: the placeholders are {{policy}}, {{upstream}}, {{upstream_url}}, {{state_dir}}, {{state_dsn}} and {{port}}"
                ));
            }
            rest = &rest[i + j + 1..];
        }
    }
    Ok(words)
}

fn joined(words: &[String]) -> String {
    shlex::try_join(words.iter().map(String::as_str)).unwrap_or_else(|_| words.join(" "))
}

fn fill_text(text: &str, f: &Fill<'_>) -> String {
    let mut out = text
        .replace("{upstream_args_json}", &serde_json::to_string(&f.upstream.get(1..).unwrap_or_default()).unwrap_or_default())
        .replace("{upstream_command}", f.upstream.first().map(String::as_str).unwrap_or_default())
        .replace("{upstream_url}", f.upstream_url.unwrap_or_default())
        .replace("{upstream}", &joined(f.upstream))
        .replace("{state_dir}", &f.state_dir.display().to_string());
    if let Some(port) = f.port {
        out = out.replace("{port}", &port.to_string());
    }
    if let Some(dsn) = f.state_dsn {
        out = out.replace("{state_dsn}", dsn);
    }
    if let Some(p) = f.policy {
        out = out.replace("{policy}", &p.display().to_string());
    }
    out
}

/// The argv of one proxy process.
pub fn argv(words: &[String], f: &Fill<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for w in words {
        if w == "{upstream}" {
            out.extend(f.upstream.iter().cloned());
        } else {
            out.push(fill_text(w, f));
        }
    }
    out
}

/// A policy template (or the proxy's URL) with this run's values filled in.
pub fn policy(text: &str, f: &Fill<'_>) -> String {
    fill_text(text, f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstream_becomes_words_alone_and_a_quoted_string_inside_a_word() {
        let up = vec!["/opt/g auntlet".to_string(), "mock".into(), "/r/server.json".into()];
        let f = Fill { policy: Some(Path::new("/p/policy.yaml")), upstream: &up, upstream_url: None, state_dir: Path::new("/r/state"), port: Some(4100), state_dsn: Some("redis://127.0.0.1:4200/0") };
        let words = check("proxy {policy} --state-dir {state_dir} -- {upstream}", "proxy command").unwrap();
        assert_eq!(
            argv(&words, &f),
            ["proxy", "/p/policy.yaml", "--state-dir", "/r/state", "--", "/opt/g auntlet", "mock", "/r/server.json"]
        );
        let words = check("guard --upstream-cmd={upstream}", "proxy command").unwrap();
        assert_eq!(argv(&words, &f), ["guard", "--upstream-cmd='/opt/g auntlet' mock /r/server.json"]);
        assert_eq!(
            policy("command: {upstream_command}\nargs: {upstream_args_json}\n", &f),
            "command: /opt/g auntlet\nargs: [\"mock\",\"/r/server.json\"]\n"
        );
        let words = check("guard run --listen 127.0.0.1:{port}", "proxy command").unwrap();
        assert_eq!(argv(&words, &f), ["guard", "run", "--listen", "127.0.0.1:4100"]);
        assert!(is_template("port = {port}\n") && wants_port("http://127.0.0.1:{port}/mcp"));
        let words = check("proxy --state-dsn {state_dsn}", "proxy command").unwrap();
        assert_eq!(argv(&words, &f), ["proxy", "--state-dsn", "redis://127.0.0.1:4200/0"]);
        assert!(wants_store("x {state_dsn}") && !wants_store("x {state_dir}"));
    }

    #[test]
    fn unknown_placeholders_and_bad_quoting_are_refused() {
        assert!(check("proxy {polcy}", "proxy command").unwrap_err().contains("unknown placeholder `{polcy}`"));
        assert!(check("proxy 'open", "proxy command").unwrap_err().contains("unclosed quote"));
        assert!(check("  ", "proxy command").is_err());
        // JSON in a word is not a placeholder.
        assert!(check(r#"proxy --opts {"a":1}"#, "proxy command").is_ok());
    }
}
