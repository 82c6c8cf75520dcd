//! Links the `t1578` binary with the functions a replay runs laid out together, in the order
//! of `link-order.txt` (made by `make link-order`, from the symbols of a release build).
//!
//! Why: the kernel maps a binary's code 64 KiB at a time around each page that runs
//! (fault-around), and every page mapped counts in the process's resident memory. A replay runs
//! about 1.5 MB of the 11 MB of code, scattered over it: a replay of 3 million records, none
//! in scope, had 4.8 MB of it mapped (BENCHMARKS, "Code layout"). Placed together, those
//! functions map in far fewer windows: 3.3 MB less on every replay measured.
//!
//! The order is a hint: a function it does not name is placed as before, and a name that no
//! longer matches (code changed since the file was made) is skipped. The linker must be LLD,
//! the default for `x86_64-unknown-linux-gnu` since Rust 1.90: this script links a probe with
//! the same flags first, and links without the order when another linker refuses them.
//! `T1578_NO_LINK_ORDER=1` turns it off.
//!
//! The binary's relocations are packed too (`-z pack-relative-relocs`, `DT_RELR`). A
//! position-independent binary carries one for every pointer in its read-only data: 16,900
//! entries, 406 KB of `.rela.dyn` here, which the loader reads whole at start, so all of it
//! was resident in every run. Packed, they take 8 KB. The loader must know the format (glibc
//! 2.36 and later), so the probe is linked with it and run; when it does not run (an older
//! glibc, or a build for another target), the binary is linked as before. Only this binary:
//! the function packages run on Lambda's glibc 2.34.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=T1578_NO_LINK_ORDER");
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from) else {
        return;
    };
    let relr = ["-Wl,-z,pack-relative-relocs".to_string()];
    if links_with(&relr, true) {
        println!("cargo:rustc-link-arg-bin=t1578={}", relr[0]);
    }
    let order = dir.join("link-order.txt");
    if std::env::var_os("T1578_NO_LINK_ORDER").is_some() || !order.is_file() {
        return;
    }
    let args = [
        format!("-Wl,--symbol-ordering-file={}", order.display()),
        "-Wl,--no-warn-symbol-ordering".to_string(),
    ];
    if !links_with(&args, false) {
        println!("cargo:warning=the linker does not take LLD's --symbol-ordering-file: t1578 is linked without link-order.txt");
        return;
    }
    for a in args {
        println!("cargo:rustc-link-arg-bin=t1578={a}");
    }
}

/// Whether `rustc`, with this build's target, flags and linker, links an empty program with
/// `args` passed to the linker driver; with `run`, whether that program then runs here too
/// (never, when building for another target).
fn links_with(args: &[String], run: bool) -> bool {
    let (Some(out), Some(rustc)) = (std::env::var_os("OUT_DIR"), std::env::var_os("RUSTC")) else {
        return false;
    };
    let out = Path::new(&out);
    let src = out.join("link_probe.rs");
    if std::fs::write(&src, "fn main() {}\n").is_err() {
        return false;
    }
    let mut cmd = Command::new(rustc);
    if let Ok(target) = std::env::var("TARGET") {
        cmd.args(["--target", &target]);
    }
    if let Ok(flags) = std::env::var("CARGO_ENCODED_RUSTFLAGS") {
        cmd.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    }
    if let Some(linker) = std::env::var_os("RUSTC_LINKER") {
        cmd.arg("-C").arg(format!("linker={}", linker.to_string_lossy()));
    }
    for a in args {
        cmd.arg("-C").arg(format!("link-arg={a}"));
    }
    let probe = out.join("link_probe");
    cmd.arg("-o").arg(&probe).arg(&src);
    if !cmd.output().is_ok_and(|o| o.status.success()) {
        return false;
    }
    let native = std::env::var("TARGET").ok() == std::env::var("HOST").ok();
    !run || (native && Command::new(&probe).output().is_ok_and(|o| o.status.success()))
}
