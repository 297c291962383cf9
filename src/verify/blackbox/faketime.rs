//! `--clock-rate N`: a proxy's clock accelerated from outside.
//!
//! libfaketime, preloaded into the proxy process (`LD_PRELOAD`), answers its
//! libc `clock_gettime(CLOCK_REALTIME)` and `gettimeofday` with a clock
//! running N times as fast, so the calendar windows it counts in pass N
//! times sooner and gauntlet plays each plan N times faster ([`ProxyClock`]).
//! Only the calendar clock is faked (`FAKETIME_DONT_FAKE_MONOTONIC`): a
//! monotonic clock N times as fast turns a Rust program's futex timeouts,
//! which the kernel reads on the real clock, into waits N times too long.
//! The mock behind the proxy is started with the preload removed, so its
//! answers and its ledger stay on the wall clock.
//!
//! It cannot reach a program that reads the clock without libc: a static
//! binary loads nothing, and Go's runtime reads the vDSO itself even when
//! the binary is linked with libc. Such a proxy is refused, not run on a
//! clock that would not move as planned.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::timing::ProxyClock;

/// The fastest rate allowed: a call's wall lateness (50 ms) is then 5 s on the proxy's clock.
pub const MAX_RATE: u32 = 100;

/// Where Debian's `libfaketime` package (and a `make install`) put the library.
fn candidates() -> Vec<PathBuf> {
    let arch = std::env::consts::ARCH;
    [format!("/usr/lib/{arch}-linux-gnu/faketime"), "/usr/lib/faketime".into(), "/usr/local/lib/faketime".into()]
        .into_iter()
        .map(|d| Path::new(&d).join("libfaketime.so.1"))
        .collect()
}

/// The environment variables that carry the fake clock to a process.
const VARS: [&str; 3] = ["LD_PRELOAD", "FAKETIME", "FAKETIME_DONT_FAKE_MONOTONIC"];

#[derive(Clone, Debug)]
pub struct Faketime {
    lib: PathBuf,
    rate: u32,
}

impl Faketime {
    /// Checks the rate, finds libfaketime and checks that `program` (the
    /// proxy command's first word) reads its clock through libc.
    pub fn new(rate: u32, program: &str) -> Result<Faketime, String> {
        if !(2..=MAX_RATE).contains(&rate) {
            return Err(format!("--clock-rate {rate}: give a whole number from 2 to {MAX_RATE} (leave it out to run the proxy on the wall clock)"));
        }
        let tried = candidates();
        let lib = tried.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
            let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
            format!("--clock-rate needs libfaketime, found at none of {}\n  help: install Debian's `libfaketime` package", list.join(", "))
        })?;
        let path = resolve(program).ok_or_else(|| format!("--clock-rate: cannot find the proxy program `{program}` to check how it reads the clock"))?;
        honours(&path).map_err(|why| format!("--clock-rate cannot accelerate `{}`: {why}; run it without --clock-rate", path.display()))?;
        Ok(Faketime { lib, rate })
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The environment of a proxy process started at the wall instant
    /// `now`, so that its clock reads as `clock` says (set
    /// [`ProxyClock::ahead`] of it). libfaketime anchors the speed-up at the
    /// process's own start, so the offset moves that anchor back to the
    /// clock's: every process of a run reads one clock.
    pub fn env(&self, clock: &ProxyClock, now: i64) -> Vec<(String, String)> {
        let offset = clock.proxy(now) - now + clock.ahead();
        vec![
            ("LD_PRELOAD".into(), self.lib.display().to_string()),
            ("FAKETIME".into(), format!("{:+.6} x{}", offset as f64 / 1e9, clock.rate())),
            ("FAKETIME_DONT_FAKE_MONOTONIC".into(), "1".into()),
        ]
    }
}

/// `argv` run without the fake clock its parent (the proxy) carries.
pub fn unfaked(argv: Vec<String>) -> Vec<String> {
    let mut out = vec!["/usr/bin/env".to_string()];
    for var in VARS {
        out.extend(["-u".to_string(), var.to_string()]);
    }
    out.extend(argv);
    out
}

/// The file `program` names: a path, or the first match on `PATH`.
fn resolve(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        return Some(PathBuf::from(program)).filter(|p| p.is_file());
    }
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(program)).find(|p| p.is_file())
}

/// Whether the executable at `path` reads its clock through a dynamically
/// linked libc (`Err` says why not). A script is run by its interpreter,
/// which does.
fn honours(path: &Path) -> Result<(), String> {
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut head = [0u8; 64];
    let n = f.read(&mut head).map_err(|e| format!("cannot read it: {e}"))?;
    if head[..n].starts_with(b"#!") {
        return Ok(());
    }
    if n < 64 || !head.starts_with(b"\x7fELF") {
        return Err("it is neither a script nor an ELF executable".into());
    }
    if head[4] != 2 || head[5] != 1 {
        return Err("only 64-bit little-endian ELF executables are checked".into());
    }
    let elf = Elf::read(&mut f, &head).map_err(|e| format!("cannot read its ELF headers: {e}"))?;
    if elf.sections.iter().any(|s| s == ".note.go.buildid" || s == ".go.buildinfo") {
        return Err("it is a Go program, and Go's runtime reads the clock from the vDSO itself, never through libc".into());
    }
    if !elf.interpreter {
        return Err("it is statically linked, so nothing can be preloaded into it".into());
    }
    Ok(())
}

/// What [`honours`] reads of an ELF file: whether it names a dynamic loader, and its section names.
struct Elf {
    interpreter: bool,
    sections: Vec<String>,
}

impl Elf {
    fn read(f: &mut std::fs::File, head: &[u8; 64]) -> std::io::Result<Elf> {
        let u16_at = |o: usize| u16::from_le_bytes([head[o], head[o + 1]]) as u64;
        let u64_at = |b: &[u8], o: usize| b.get(o..o + 8).map_or(0, |s| u64::from_le_bytes(s.try_into().unwrap_or_default()));
        let (phoff, shoff) = (u64_at(head, 0x20), u64_at(head, 0x28));
        let (phentsize, phnum, shentsize, shnum, shstrndx) = (u16_at(0x36), u16_at(0x38), u16_at(0x3A), u16_at(0x3C), u16_at(0x3E));
        let mut table = |off: u64, size: u64, count: u64| -> std::io::Result<Vec<u8>> {
            let mut buf = vec![0u8; (size * count).min(1 << 20) as usize];
            f.seek(SeekFrom::Start(off))?;
            f.read_exact(&mut buf)?;
            Ok(buf)
        };
        const PT_INTERP: u32 = 3;
        let phdrs = table(phoff, phentsize, phnum)?;
        let interpreter =
            phdrs.chunks(phentsize.max(1) as usize).any(|p| p.get(..4).is_some_and(|t| u32::from_le_bytes(t.try_into().unwrap_or_default()) == PT_INTERP));
        let shdrs = table(shoff, shentsize, shnum)?;
        let shdr = |i: u64| shdrs.get((i * shentsize) as usize..((i + 1) * shentsize) as usize).unwrap_or_default();
        let names_hdr = shdr(shstrndx);
        let names = table(u64_at(names_hdr, 0x18), u64_at(names_hdr, 0x20), 1)?;
        let sections = (0..shnum)
            .filter_map(|i| {
                let at = u32::from_le_bytes(shdr(i).get(..4)?.try_into().ok()?) as usize;
                let name = names.get(at..)?.split(|&b| b == 0).next()?;
                Some(String::from_utf8_lossy(name).into_owned())
            })
            .collect();
        Ok(Elf { interpreter, sections })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_offset_moves_each_process_onto_the_run_clock() {
        let s = crate::clock::NANOS_PER_SEC;
        let ft = Faketime { lib: "/lib/libfaketime.so.1".into(), rate: 10 };
        let clock = ProxyClock::new(1_000 * s, 10);
        // Started 2.5 s after the anchor: the clock already reads 25 s past it, 22.5 s ahead of the wall,
        // and the proxy's is set 0.9 s further ahead (nine times a start-up lag of 100 ms).
        let env = ft.env(&clock, 1_000 * s + 2_500_000_000);
        assert_eq!(env[1], ("FAKETIME".to_string(), "+23.400000 x10".to_string()));
        assert_eq!(env[0].1, "/lib/libfaketime.so.1");
        assert_eq!(env[2], ("FAKETIME_DONT_FAKE_MONOTONIC".to_string(), "1".to_string()));
        assert_eq!(unfaked(vec!["gauntlet".into(), "mock".into()])[..3], ["/usr/bin/env", "-u", "LD_PRELOAD"]);
    }

    /// A minimal ELF64 file: one program header (the loader's when
    /// `interpreter`), and sections named `sections` plus the name table.
    fn elf(interpreter: bool, sections: &[&str]) -> Vec<u8> {
        let mut names = vec![0u8];
        let mut at = Vec::new();
        for n in sections.iter().chain([&".shstrtab"]) {
            at.push(names.len() as u32);
            names.extend(n.as_bytes());
            names.push(0);
        }
        let (phoff, strtab) = (64u64, 64 + 56u64);
        let shoff = strtab + names.len() as u64;
        let shnum = at.len() as u16 + 1;
        let mut b = vec![0u8; 64];
        b[..6].copy_from_slice(b"\x7fELF\x02\x01");
        b[0x20..0x28].copy_from_slice(&phoff.to_le_bytes());
        b[0x28..0x30].copy_from_slice(&shoff.to_le_bytes());
        b[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
        b[0x38..0x3A].copy_from_slice(&1u16.to_le_bytes());
        b[0x3A..0x3C].copy_from_slice(&64u16.to_le_bytes());
        b[0x3C..0x3E].copy_from_slice(&shnum.to_le_bytes());
        b[0x3E..0x40].copy_from_slice(&(shnum - 1).to_le_bytes());
        let mut ph = vec![0u8; 56];
        ph[..4].copy_from_slice(&(if interpreter { 3u32 } else { 1 }).to_le_bytes());
        b.extend(ph);
        b.extend(&names);
        b.extend(vec![0u8; 64]);
        for (i, name) in at.iter().enumerate() {
            let mut sh = vec![0u8; 64];
            sh[..4].copy_from_slice(&name.to_le_bytes());
            if i + 1 == at.len() {
                sh[0x18..0x20].copy_from_slice(&strtab.to_le_bytes());
                sh[0x20..0x28].copy_from_slice(&(names.len() as u64).to_le_bytes());
            }
            b.extend(sh);
        }
        b
    }

    #[test]
    fn only_a_program_that_reads_the_clock_through_libc_is_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        // The test binary itself is a dynamically linked Rust program.
        assert_eq!(honours(&std::env::current_exe().unwrap()), Ok(()));
        assert_eq!(honours(&file("dynamic", &elf(true, &[".text", ".dynamic"]))), Ok(()));
        assert_eq!(honours(&file("proxy.sh", b"#!/bin/sh\nexec cat\n")), Ok(()));
        let go = honours(&file("go-cgo", &elf(true, &[".text", ".note.go.buildid"]))).unwrap_err();
        assert!(go.contains("Go program"), "{go}");
        assert!(honours(&file("go-static", &elf(false, &[".go.buildinfo"]))).unwrap_err().contains("Go program"));
        assert!(honours(&file("static", &elf(false, &[".text"]))).unwrap_err().contains("statically linked"));
        assert!(honours(&file("notes.txt", b"hello")).unwrap_err().contains("neither a script nor an ELF"));
    }

    #[test]
    fn a_rate_out_of_range_is_refused() {
        assert!(Faketime::new(1, "sh").unwrap_err().contains("from 2 to 100"));
        assert!(Faketime::new(1000, "sh").unwrap_err().contains("from 2 to 100"));
    }
}
