//! `cargo xtask xen-dm`: the test device model for Q35 guests under Xen (tools/xen-dm/).
//!
//! Debian bookworm's QEMU 7.2 source package (`apt-get source qemu`, which needs a `deb-src`
//! entry), the project's patch on top, only `qemu-system-i386` for Xen with the devices of
//! `tools/xen-dm/devices.mak`. The binary and the `xen-q35-dm` wrapper (xl.cfg
//! `device_model_override=`) are installed together in
//! `${XDG_CACHE_HOME:-$HOME/.cache}/hvmloader-rs/xen-dm/qemu-<version>-<key>/`, where the
//! key hashes the patch, the wrapper, the device list and this build recipe: a machine builds
//! each combination once. The entry is built in a private directory and renamed into place,
//! so a concurrent run finds either a complete entry or none.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::{Result, fnv1a};

/// The wrapper's file name, in tools/xen-dm/ and in every cache entry.
pub const WRAPPER: &str = "xen-q35-dm";
/// The device model's file name in a cache entry (the wrapper runs the one next to it).
pub const QEMU: &str = "qemu-system-i386";
/// The patch against Debian's unpacked source, in tools/xen-dm/.
const PATCH: &str = "qemu-7.2-xen-q35.patch";
/// The device list, in tools/xen-dm/, copied into QEMU's configs/devices/ under this name.
const DEVICES: &str = "devices.mak";
const DEVICES_NAME: &str = "hvmloader-rs-xen-dm";
/// The upstream version the patch is written for.
const UPSTREAM_VERSION: &str = "7.2+dfsg";
/// Bumped whenever this file changes what goes into an entry.
const RECIPE_REVISION: u32 = 1;

/// QEMU's configure options: only the i386 system emulator, with Xen as its only
/// accelerator, no optional features or libraries, no documentation, tools or user-mode
/// emulators, and the devices of `DEVICES` (and what they select) only.
const CONFIGURE_ARGS: &[&str] = &[
    "--target-list=i386-softmmu",
    "--enable-xen",
    "--disable-tcg",
    "--disable-kvm",
    "--without-default-features",
    "--without-default-devices",
    "--disable-docs",
    "--disable-tools",
    "--disable-user",
    "--audio-drv-list=",
    "--disable-install-blobs",
    "--disable-debug-info",
    "--with-git-submodules=ignore",
];

/// Commands the build runs, and the Debian package of each.
const BUILD_COMMANDS: &[(&str, &str)] = &[
    ("apt-get", "apt"),
    ("dpkg-source", "dpkg-dev"),
    ("patch", "patch"),
    ("cc", "gcc"),
    ("python3", "python3"),
    ("meson", "meson"),
    ("ninja", "ninja-build"),
    ("pkg-config", "pkg-config"),
];
/// pkg-config modules QEMU's configure looks for, and the Debian package of each.
const BUILD_MODULES: &[(&str, &str)] = &[
    ("glib-2.0", "libglib2.0-dev"),
    ("pixman-1", "libpixman-1-dev"),
    ("zlib", "zlib1g-dev"),
    ("xencontrol", "libxen-dev"),
    ("xenstore", "libxen-dev"),
    ("xendevicemodel", "libxen-dev"),
    ("xenforeignmemory", "libxen-dev"),
    ("xengnttab", "libxen-dev"),
    ("xenevtchn", "libxen-dev"),
    ("xentoolcore", "libxen-dev"),
];
/// Headers without a pkg-config module (the i386 target needs libfdt).
const BUILD_HEADERS: &[(&str, &str)] = &[("/usr/include/libfdt.h", "libfdt-dev")];

/// The Debian packages the build needs and this machine lacks, sorted, without repeats.
pub fn missing_packages() -> Vec<&'static str> {
    let mut missing: Vec<&str> = Vec::new();
    for (command, package) in BUILD_COMMANDS {
        if find_in_path(command).is_none() {
            missing.push(package);
        }
    }
    let have_pkg_config = find_in_path("pkg-config").is_some();
    for (module, package) in BUILD_MODULES {
        let found = have_pkg_config
            && Command::new("pkg-config")
                .args(["--exists", module])
                .status()
                .is_ok_and(|s| s.success());
        if !found {
            missing.push(package);
        }
    }
    for (header, package) in BUILD_HEADERS {
        if !Path::new(header).is_file() {
            missing.push(package);
        }
    }
    missing.sort_unstable();
    missing.dedup();
    missing
}

fn find_in_path(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join(command)).find(|c| c.is_file())
}

/// Where the entries live: `${XDG_CACHE_HOME:-$HOME/.cache}/hvmloader-rs/xen-dm`.
pub fn cache_root() -> Result<PathBuf> {
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| PathBuf::from(home).join(".cache"))
            .ok_or("neither XDG_CACHE_HOME nor HOME is set: no cache directory")?,
    };
    Ok(base.join("hvmloader-rs").join("xen-dm"))
}

/// What this machine lacks to build the device model (Debian packages, a qemu source
/// package in APT), as one line; otherwise the version of Debian's QEMU source it builds.
pub fn prerequisites() -> Result<String> {
    let missing = missing_packages();
    if !missing.is_empty() {
        return Err(format!(
            "building the Xen device model needs the Debian packages {} \
             (`bash .ci/run` installs them)",
            missing.join(" ")
        ));
    }
    source_version()
}

/// The entry for the current tools/xen-dm/ and Debian's current QEMU source, built first if
/// this machine has none. `progress` receives one line per slow step.
pub fn build_or_reuse(root: &Path, progress: &dyn Fn(&str)) -> Result<PathBuf> {
    let version = prerequisites()?;
    let tools = root.join("tools/xen-dm");
    let read = |name: &str| {
        let path = tools.join(name);
        std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))
    };
    let (patch, wrapper, devices) = (read(PATCH)?, read(WRAPPER)?, read(DEVICES)?);
    let mut recipe = Vec::new();
    for part in [&patch, &wrapper, &devices] {
        recipe.extend_from_slice(part);
        recipe.push(0);
    }
    recipe.extend_from_slice(
        format!("{RECIPE_REVISION} {DEVICES_NAME} {}", CONFIGURE_ARGS.join(" ")).as_bytes(),
    );
    let cache = cache_root()?;
    let entry = cache.join(format!("qemu-{}-{:016x}", version.replace(':', "_"), fnv1a(&recipe)));
    if entry.join(QEMU).is_file() && entry.join(WRAPPER).is_file() {
        progress(&format!("xen-dm: reusing {}", entry.display()));
        return Ok(entry);
    }
    std::fs::create_dir_all(&cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
    let work = cache.join(format!(".build.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("create {}: {e}", work.display()))?;
    let built = build(&work, &tools, &version, progress);
    match built {
        Ok(out) => {
            if std::fs::rename(&out, &entry).is_err() && !entry.join(QEMU).is_file() {
                return Err(format!("cannot move {} to {}", out.display(), entry.display()));
            }
            let _ = std::fs::remove_dir_all(&work);
            Ok(entry)
        }
        // The work directory stays for the logs the message names.
        Err(message) => Err(message),
    }
}

/// The version `apt-get source qemu` fetches, from the name of its .dsc.
fn source_version() -> Result<String> {
    let out = Command::new("apt-get")
        .args(["source", "--print-uris", "qemu"])
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run apt-get: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let version = text
        .split_whitespace()
        .find_map(|word| word.strip_prefix("qemu_")?.strip_suffix(".dsc"))
        .ok_or_else(|| {
            let stderr = String::from_utf8_lossy(&out.stderr);
            format!(
                "APT offers no qemu source package ({}): add a `deb-src` entry for Debian \
                 bookworm main and run `apt-get update` (`bash .ci/run` does)",
                stderr.lines().find(|l| l.starts_with("E: ")).unwrap_or("no .dsc listed")
            )
        })?;
    if !version.starts_with(UPSTREAM_VERSION) {
        return Err(format!(
            "APT's qemu source is version {version}; the patch in tools/xen-dm is for \
             Debian bookworm's {UPSTREAM_VERSION}"
        ));
    }
    Ok(version.to_string())
}

/// Fetches, patches, configures and builds in `work`; returns the directory to install.
fn build(work: &Path, tools: &Path, version: &str, progress: &dyn Fn(&str)) -> Result<PathBuf> {
    let started = Instant::now();
    progress(&format!("xen-dm: fetching Debian's QEMU source {version} (apt-get source)"));
    // Not `qemu=VERSION`: the .dsc name the version comes from has no epoch.
    run_logged(
        Command::new("apt-get").args(["source", "-q", "qemu"]),
        work,
        &work.join("apt-get-source.log"),
    )?;
    let source = work.join(format!("qemu-{UPSTREAM_VERSION}"));
    if !work.join(format!("qemu_{version}.dsc")).is_file() || !source.join("configure").is_file() {
        return Err(format!(
            "apt-get source qemu did not leave qemu_{version}.dsc and {} (did the archive \
             change meanwhile?)",
            source.display()
        ));
    }

    progress(&format!("xen-dm: applying tools/xen-dm/{PATCH}"));
    run_logged(
        Command::new("patch").args(["-p1", "--batch", "--forward", "-i"]).arg(tools.join(PATCH)),
        &source,
        &work.join("patch.log"),
    )?;
    let devices = source.join(format!("configs/devices/i386-softmmu/{DEVICES_NAME}.mak"));
    std::fs::copy(tools.join(DEVICES), &devices)
        .map_err(|e| format!("copy {DEVICES} to {}: {e}", devices.display()))?;

    progress("xen-dm: configuring (i386-softmmu, Xen only)");
    let build_dir = source.join("build");
    std::fs::create_dir_all(&build_dir).map_err(|e| format!("create build dir: {e}"))?;
    run_logged(
        Command::new("../configure")
            .args(CONFIGURE_ARGS)
            .arg(format!("--with-devices-i386={DEVICES_NAME}")),
        &build_dir,
        &work.join("configure.log"),
    )?;

    let jobs = std::thread::available_parallelism().map_or(1, |n| n.get());
    progress(&format!(
        "xen-dm: building {QEMU} with {jobs} job(s) at nice 10 (about 2 minutes on 2 cores)"
    ));
    let compiled = Instant::now();
    let mut ninja = Command::new("nice");
    ninja.args(["-n", "10", "ninja", "-j"]).arg(jobs.to_string()).arg(QEMU);
    run_logged(&mut ninja, &build_dir, &work.join("build.log"))?;
    let compile_time = compiled.elapsed();

    let out = work.join("out");
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let install = |from: &Path, name: &str| {
        std::fs::copy(from, out.join(name))
            .map(drop)
            .map_err(|e| format!("copy {} to {}: {e}", from.display(), out.display()))
    };
    install(&build_dir.join(QEMU), QEMU)?;
    install(&tools.join(WRAPPER), WRAPPER)?;
    set_executable(&out.join(WRAPPER))?;
    let info = format!(
        "Debian QEMU source: qemu {version}\npatch: tools/xen-dm/{PATCH}\nconfigure: {} \
         --with-devices-i386={DEVICES_NAME}\nbuild time: {:.0} s (compile {:.0} s, {jobs} \
         jobs)\n",
        CONFIGURE_ARGS.join(" "),
        started.elapsed().as_secs_f64(),
        compile_time.as_secs_f64()
    );
    std::fs::write(out.join("build-info.txt"), &info).map_err(|e| format!("write info: {e}"))?;
    progress(&format!(
        "xen-dm: built in {:.0} s (compile {:.0} s)",
        started.elapsed().as_secs_f64(),
        compile_time.as_secs_f64()
    ));
    Ok(out)
}

/// Runs `cmd` in `dir` with its output in `log`; a failure names the step and the log, with
/// the log's last lines.
fn run_logged(cmd: &mut Command, dir: &Path, log: &Path) -> Result<()> {
    let file = std::fs::File::create(log).map_err(|e| format!("create {}: {e}", log.display()))?;
    let status = cmd
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file)
        .status()
        .map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() {
        return Ok(());
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Err(format!(
        "{cmd:?} failed ({status}); log {}, last lines:\n{}",
        log.display(),
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    ))
}

fn set_executable(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("chmod {}: {e}", path.display()))
}
