//! Compiles the attack database (`scenarios/*.yaml`) and the bundled mock
//! servers (`mock-servers/*.yaml`) into the binary, so an installed
//! `gauntlet` works from any directory. Every YAML file in those folders is
//! picked up; adding one re-runs this script (Cargo watches the folders).

use std::fmt::Write as _;
use std::path::Path;

fn table(dir: &str, out: &Path) {
    println!("cargo:rerun-if-changed={dir}");
    let root = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    let mut code = String::from("&[\n");
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().and_then(|n| n.to_str()).expect("UTF-8 file names");
        writeln!(code, "    ({name:?}, include_str!({:?})),", f.display().to_string()).expect("write to a String");
    }
    code.push_str("]\n");
    std::fs::write(out, code).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

fn main() {
    let out = std::path::PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    table("scenarios", &out.join("builtin_scenarios.rs"));
    table("mock-servers", &out.join("bundled_servers.rs"));
}
