//! A `gauntlet.yaml` that names a field the servers do not have is refused
//! alike by every command that reads it (`verify`, `prove`, `harden`), at
//! the line and column of the key, with exit 2: a typo'd workload field was
//! silently ignored, and the over-blocking it should have shown went unseen.

use std::path::Path;
use std::process::{Command, Output};

fn gauntlet(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gauntlet")).args(args).current_dir(dir).env_remove("CI").output().expect("the binary runs")
}

#[test]
fn verify_prove_and_harden_refuse_a_workload_field_the_tool_lacks_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    std::fs::copy(data.join("policies/git.yaml"), dir.path().join("policy.yaml")).unwrap();
    std::fs::copy(data.join("servers/git.yaml"), dir.path().join("git.yaml")).unwrap();
    std::fs::write(dir.path().join("gauntlet.yaml"), "tools:\n  git_commit:\n    workload:\n      sizes: {mesage: 1500}\n").unwrap();
    for args in [
        &["verify", "policy.yaml", "--server", "git.yaml"][..],
        &["prove", "policy.yaml", "--server", "git.yaml"],
        &["harden", "policy.yaml", "--server", "git.yaml", "-o", "out.yaml"],
    ] {
        let out = gauntlet(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains("gauntlet.yaml:4:15: tools.git_commit.workload.sizes: tool `git_commit` has no field `mesage` (its fields: message, repo_path)"),
            "{args:?}: {stderr}"
        );
    }
    assert!(!dir.path().join("out.yaml").exists(), "harden wrote a policy for requirements it could not read");
}
