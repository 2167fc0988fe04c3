//! A real Xen to run guests on: Xen 4.17 and a Debian dom0 inside QEMU (TCG with nested
//! SVM), where one HVM guest is created with `xl`. The integration tests and `cargo xtask
//! xen-run` use it: a test creates the guest, waits for what it needs and reads what Xen
//! printed ([`run_with`]); `xen-run` puts the guest's console on the terminal
//! ([`run_on_terminal`]).
//!
//! The dom0 image is built once ([`Dom0::build_or_reuse`]) and cached under
//! `<cache>/dom0-<key>/` (`target/xen-cache/` for the commands and the tests):
//! - `rootfs.ext4`: a Debian bookworm minbase made with debootstrap (Xen hypervisor, tools,
//!   device model, SeaBIOS, a kernel), with our `/sbin/hvmrs-init` as PID 1, packed with
//!   `mkfs.ext4 -d` (no loop mounts);
//! - `xen`: the gunzipped hypervisor, an ELF32 with a multiboot header that QEMU's `-kernel`
//!   loads; dom0's kernel and initrd are its multiboot modules:
//! - `vmlinux`: the dom0 kernel, decompressed from Debian's bzImage on the host (saves Xen
//!   about 18 s of XZ under TCG on every boot);
//! - `initrd.img`: a small busybox initramfs of ours that mounts the root disk (Debian's,
//!   with udev, cost about 9 s more).
//!
//! The key is the versions the mirror offers for the packages that matter plus a hash of the
//! recipe (package list, scripts, `RECIPE_REVISION`), so a new Debian point release or a
//! changed recipe builds a new entry and an unchanged one fetches nothing. The entry is
//! built in a private directory and renamed into place: concurrent processes find either a
//! complete entry or none.
//!
//! Per run, the guest's files (the firmware image, the guest config, the script the dom0
//! runs) go on a second small ext4 disk, also made with `mkfs.ext4 -d`. The dom0 runs the
//! script, prints its results between markers after it destroyed the guest, so nothing of
//! the guest interleaves with them, and powers the machine off.
//!
//! A guest may run on the project's Q35 device model instead of the dom0's QEMU
//! ([`GuestExtras::use_q35_device_model`]): it is built once per machine by
//! [`crate::xen_dm`] (`cargo xtask xen-dm`) and copied onto the guest's disk with the
//! wrapper that xl.cfg's `device_model_override` names.

use std::fmt::Write as _;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::guest::CpioWriter;
use crate::{Result, fnv1a, host, write_to_terminal};

/// The one suite everything comes from, so the hypervisor and its tools match.
const SUITE: &str = "bookworm";
/// What debootstrap installs on top of minbase.
const PACKAGES: &[&str] = &[
    "linux-image-amd64",
    "xen-hypervisor-4.17-amd64",
    "xen-utils-4.17",
    "qemu-system-xen",
    "seabios",
    // libxl's OVMF for `bios = "ovmf"`: Debian's libxenlight has /usr/share/ovmf/OVMF.fd
    // built in (xen's `--with-system-ovmf`).
    "ovmf",
    "kmod",
    "procps",
    "iproute2",
    "initramfs-tools",
    // Its static busybox runs our small initramfs (see `initramfs`).
    "busybox-static",
];
/// The packages whose versions name a cache entry: what runs in the test.
const KEYED_PACKAGES: &[&str] = &[
    "xen-hypervisor-4.17-amd64",
    "xen-utils-4.17",
    "qemu-system-xen",
    "seabios",
    "ovmf",
    "linux-image-amd64",
];
/// The hypervisor inside the rootfs.
const XEN_GZ: &str = "boot/xen-4.17-amd64.gz";
/// The modules our initramfs loads, in dependency order, to mount the ext4 root on
/// virtio-blk (Debian builds all of them as modules). crc32c_generic serves ext4's
/// metadata checksums, which the kernel would otherwise ask modprobe for.
const INITRAMFS_MODULES: &[&str] = &[
    "virtio",
    "virtio_ring",
    "virtio_pci_legacy_dev",
    "virtio_pci_modern_dev",
    "virtio_pci",
    "virtio_blk",
    "crc16",
    "mbcache",
    "jbd2",
    "crc32c_generic",
    "ext4",
];
/// Bumped whenever the Rust side of the build changes what goes into a cache entry.
const RECIPE_REVISION: u32 = 2;

/// Markers around the dom0 script's results on the console.
pub const REPORT_BEGIN: &str = "=== hvmrs xen report begin ===";
pub const REPORT_END: &str = "=== hvmrs xen report end ===";
/// Printed by the init once Xen's daemons run, to time the dom0 boot.
pub const DOM0_READY: &str = "hvmrs-init: dom0 ready";

/// Xen's command line: everything on COM1, guest debug output (port 0xE9) included.
const XEN_CMDLINE: &str = "console=com1 com1=115200,8n1 loglvl=all guest_loglvl=all \
                           dom0_mem=1024M,max:1024M dom0_max_vcpus=1 noreboot";
/// Xen and dom0 come up in about 10-25 s under TCG; the rest of a run is the guest's.
const DOM0_BOOT_ALLOWANCE: Duration = Duration::from_secs(120);

/// The name every guest gets (the dom0 script finds it by that name).
pub const GUEST_NAME: &str = "hvmrs-guest";
/// Where the guest's disk (its config, firmware and files) is mounted in dom0.
pub const TEST_MOUNT: &str = "/test";
/// A shell script a test may put on the guest's disk (through [`GuestExtras::files`]): the dom0
/// runs it with the guest's name once the wait is over and before it destroys the guest,
/// and its output is the report's `probe` section ([`XenRun::section`]).
pub const PROBE_SCRIPT: &str = "probe.sh";
/// A shell script a test may put on the guest's disk to act on the guest while it runs (`xl
/// vcpu-set`, `xl qemu-monitor-command`...): the dom0 starts it in the background with the
/// guest's name as soon as `xl create` succeeded; its output is the report's `driver`
/// section. It can follow the guest through its serial log, [`GUEST_SERIAL_LOG`].
pub const DRIVER_SCRIPT: &str = "driver.sh";
/// Where the guest's COM1 goes in dom0 (xl.cfg `serial = "file:..."`).
pub const GUEST_SERIAL_LOG: &str = "/tmp/guest-serial.log";

/// A built dom0 image.
#[derive(Debug)]
pub struct Dom0 {
    pub xen: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    pub rootfs: PathBuf,
    /// `package=version` lines of the keyed packages, for messages.
    pub versions: String,
}

/// Why there is no dom0 image.
#[derive(Clone, Debug)]
pub enum Dom0Error {
    /// This machine cannot build one: a tool, root or the Debian mirror is missing (the
    /// tests skip).
    Unavailable(String),
    /// The build went wrong on a machine that has everything it needs: a bug of the recipe.
    Failed(String),
}

impl std::fmt::Display for Dom0Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Dom0Error::Unavailable(reason) => write!(f, "cannot run Xen on this machine: {reason}"),
            Dom0Error::Failed(reason) => write!(f, "building the dom0 image failed: {reason}"),
        }
    }
}

impl Dom0 {
    /// The dom0 image in `cache`, built there first if this machine has none for the
    /// current recipe and Debian versions (a few minutes: debootstrap). `progress` gets a
    /// line before and after a build.
    pub fn build_or_reuse(
        cache: &Path,
        progress: &dyn Fn(&str),
    ) -> std::result::Result<Dom0, Dom0Error> {
        host::require(&[
            "debootstrap",
            "mkfs.ext4",
            "qemu-system-x86_64",
            "apt-cache",
            "gzip",
            "xz",
        ])
        .map_err(Dom0Error::Unavailable)?;
        let privileged = Privileged::detect().map_err(Dom0Error::Unavailable)?;
        let mirror = debian_mirror().map_err(Dom0Error::Unavailable)?;
        let versions = keyed_versions(&mirror).map_err(Dom0Error::Unavailable)?;
        let init = init_script();
        let recipe = format!(
            "{RECIPE_REVISION}\n{SUITE}\n{}\n{}\n{init}\n{BUILD_SCRIPT}\n{}",
            PACKAGES.join(","),
            INITRAMFS_MODULES.join(","),
            initramfs_init()
        );
        let xen_version = versions
            .lines()
            .find_map(|l| l.strip_prefix("xen-hypervisor-4.17-amd64="))
            .unwrap_or("unknown")
            .replace([':', '+', '~'], "_");
        std::fs::create_dir_all(cache)
            .map_err(|e| Dom0Error::Failed(format!("create {}: {e}", cache.display())))?;
        let entry = cache.join(format!(
            "dom0-{SUITE}-xen{xen_version}-{:016x}",
            fnv1a(format!("{versions}\n{recipe}").as_bytes())
        ));
        if !entry.join("rootfs.ext4").is_file() {
            build(cache, &entry, &mirror, &versions, &init, &privileged, progress)?;
        }
        let dom0 = Dom0 {
            xen: entry.join("xen"),
            kernel: entry.join("vmlinux"),
            initrd: entry.join("initrd.img"),
            rootfs: entry.join("rootfs.ext4"),
            versions,
        };
        // QEMU's multiboot `-initrd` separates modules with commas and arguments with spaces.
        for path in [&dom0.kernel, &dom0.initrd] {
            let text = path.to_string_lossy();
            if text.contains([',', ' ']) {
                return Err(Dom0Error::Unavailable(format!(
                    "{text}: QEMU's multiboot module list cannot hold ',' or ' '"
                )));
            }
        }
        Ok(dom0)
    }
}

/// How to run the build steps that need root (debootstrap's chroot and device nodes, reading
/// root-only files of the tree into the image).
struct Privileged(Option<&'static str>);

impl Privileged {
    fn detect() -> Result<Self> {
        // SAFETY: getuid has no preconditions and cannot fail.
        if unsafe { getuid() } == 0 {
            return Ok(Privileged(None));
        }
        let sudo_ok = Command::new("sudo")
            .args(["-n", "true"])
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if sudo_ok {
            Ok(Privileged(Some("sudo")))
        } else {
            Err("building the dom0 image needs root (debootstrap), and `sudo -n` is not allowed"
                .to_string())
        }
    }

    fn command(&self, program: &str) -> Command {
        match self.0 {
            None => Command::new(program),
            Some(sudo) => {
                let mut cmd = Command::new(sudo);
                cmd.args(["-n", program]);
                cmd
            }
        }
    }
}

// libc's, which every Rust program on Linux links anyway.
unsafe extern "C" {
    fn getuid() -> u32;
    fn getgid() -> u32;
}

/// The Debian archive this machine's APT uses for `SUITE` main (one-line `.list` or deb822
/// `.sources` files); the build uses no other network.
fn debian_mirror() -> Result<String> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = std::fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    for file in files {
        let Ok(text) = std::fs::read_to_string(&file) else { continue };
        let found = if file.extension().is_some_and(|e| e == "sources") {
            mirror_in_deb822(&text)
        } else {
            mirror_in_one_line_format(&text)
        };
        if let Some(uri) = found {
            return Ok(uri.trim_end_matches('/').to_string());
        }
    }
    Err(format!("no APT source offers Debian {SUITE} main (read /etc/apt/sources.list*)"))
}

fn mirror_in_one_line_format(text: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let mut words = line.split_whitespace().filter(|w| !w.starts_with('['));
        (words.next()? == "deb").then_some(())?;
        let uri = words.next()?;
        let suite = words.next()?;
        (suite == SUITE && words.any(|c| c == "main")).then(|| uri.to_string())
    })
}

fn mirror_in_deb822(text: &str) -> Option<String> {
    text.split("\n\n").find_map(|stanza| {
        let field = |name: &str| {
            stanza.lines().find_map(|l| {
                let (key, value) = l.split_once(':')?;
                key.trim().eq_ignore_ascii_case(name).then(|| value.trim().to_string())
            })
        };
        let types = field("Types")?;
        let suites = field("Suites")?;
        let components = field("Components")?;
        let enabled = field("Enabled").is_none_or(|v| v != "no");
        (enabled
            && types.split_whitespace().any(|t| t == "deb")
            && suites.split_whitespace().any(|s| s == SUITE)
            && components.split_whitespace().any(|c| c == "main"))
        .then(|| field("URIs"))?
        .and_then(|uris| uris.split_whitespace().next().map(str::to_string))
    })
}

/// `package=version` lines: what `SUITE` main on the mirror holds (debootstrap installs from
/// it alone, so candidates from -security or -updates would name the wrong entry).
fn keyed_versions(mirror: &str) -> Result<String> {
    let mut lines = String::new();
    for package in KEYED_PACKAGES {
        let out = Command::new("apt-cache")
            .args(["madison", package])
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| format!("cannot run apt-cache: {e}"))?;
        let text = String::from_utf8_lossy(&out.stdout);
        let wanted_dist = format!("{SUITE}/main");
        let version = text
            .lines()
            .filter_map(|line| {
                // "package | version | URI dist/component arch Packages"
                let mut fields = line.split('|').map(str::trim);
                let (_name, version, source) = (fields.next()?, fields.next()?, fields.next()?);
                let mut words = source.split_whitespace();
                let (uri, dist) = (words.next()?, words.next()?);
                (uri.trim_end_matches('/') == mirror && dist == wanted_dist)
                    .then(|| version.to_string())
            })
            .next()
            .ok_or_else(|| {
                format!(
                    "the APT lists have no {package} from {mirror} {SUITE}/main \
                     (has `apt-get update` run?)"
                )
            })?;
        writeln!(lines, "{package}={version}").unwrap();
    }
    Ok(lines)
}

/// Turns the debootstrapped tree `$1` into the cache entry's raw material in `$2`, as root:
/// install the init script `$3`, drop what a run never reads (package caches, lists,
/// docs), take out Xen (`$5`, relative to the tree), the kernel, busybox and the modules
/// named in `$6`, pack the tree, and hand the results to the invoking user (`$4`, uid:gid).
const BUILD_SCRIPT: &str = r#"set -eu
root=$1 out=$2 init=$3 owner=$4 xen_gz=$5 modules=$6
install -m 0755 "$init" "$root/sbin/hvmrs-init"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* \
    "$root"/usr/share/doc "$root"/usr/share/man "$root"/usr/share/locale
set -- "$root"/boot/vmlinuz-*
[ "$#" -eq 1 ] || { echo "expected one kernel in /boot, found: $*" >&2; exit 1; }
cp "$1" "$out/vmlinuz"
mkdir "$out/modules"
for module in $modules; do
    found=$(find "$root/usr/lib/modules/${1##*/vmlinuz-}" -name "$module.ko")
    [ -n "$found" ] || { echo "no $module.ko in the kernel package" >&2; exit 1; }
    cp "$found" "$out/modules/"
done
cp "$root/bin/busybox" "$out/busybox"
gzip -dc "$root/$xen_gz" > "$out/xen"
# Room for the dom0's writes (logs, xenstore) on top of the files; the file is sparse.
size_mib=$(( $(du -sm "$root" | cut -f1) * 5 / 4 + 256 ))
mkfs.ext4 -q -F -L hvmrs-dom0 -d "$root" "$out/rootfs.ext4" "${size_mib}M"
chown -R "$owner" "$out"
rm -rf "$root"
"#;

/// The uncompressed kernel inside a bzImage. Xen accepts either as dom0 kernel, but it
/// decompresses the bzImage's XZ payload itself, which under TCG takes about 18 s of every
/// boot; the host does it once here. `None` when the payload is not XZ (Xen then gets the
/// bzImage).
fn vmlinux_from_bzimage(bzimage: &[u8]) -> Option<Vec<u8>> {
    let u32_at = |at: usize| Some(u32::from_le_bytes(bzimage.get(at..at + 4)?.try_into().ok()?));
    // Boot protocol 2.08+: payload_offset and payload_length, relative to the protected-mode
    // code that follows the setup sectors.
    let setup_sectors = match *bzimage.get(0x1f1)? {
        0 => 4,
        n => usize::from(n),
    };
    let start = (setup_sectors + 1) * 512 + u32_at(0x248)? as usize;
    let payload = bzimage.get(start..start + u32_at(0x24c)? as usize)?;
    if !payload.starts_with(b"\xfd7zXZ\0") {
        return None;
    }
    let mut xz = Command::new("xz")
        // The kernel build appends the uncompressed size after the stream.
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = xz.stdin.take()?;
    let payload = payload.to_vec();
    let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &payload));
    let out = xz.wait_with_output().ok()?;
    feeder.join().ok()?.ok()?;
    (out.status.success() && out.stdout.starts_with(b"\x7fELF")).then_some(out.stdout)
}

/// Our initramfs: busybox and the modules to mount the root disk, then on to the root's
/// init. It replaces Debian's (34 MB, udev probing every device), which cost about 9 s of
/// every boot under TCG.
fn initramfs(busybox: &[u8], modules: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut cpio = CpioWriter::default();
    for dir in ["bin", "dev", "proc", "sys", "root", "modules"] {
        cpio.directory(dir);
    }
    // The kernel opens /dev/console for /init before anything is mounted.
    cpio.char_device("dev/console", 5, 1);
    cpio.file("bin/busybox", 0o755, busybox);
    for (name, data) in modules {
        cpio.file(&format!("modules/{name}.ko"), 0o644, data);
    }
    cpio.file("init", 0o755, initramfs_init().as_bytes());
    cpio.finish()
}

/// The initramfs's /init: load the modules, mount `root=` (read-write: the disk is a QEMU
/// snapshot), hand over to `init=`. It stops the machine on failure, as nothing could
/// report from there.
fn initramfs_init() -> String {
    format!(
        r#"#!/bin/busybox sh
bb=/bin/busybox
fail() {{ echo "hvmrs initramfs: $*"; $bb poweroff -f; }}
$bb mount -t proc proc /proc
$bb mount -t devtmpfs devtmpfs /dev
root=/dev/vda init=/sbin/init
for arg in $($bb cat /proc/cmdline); do
    case "$arg" in
        root=*) root=${{arg#root=}} ;;
        init=*) init=${{arg#init=}} ;;
    esac
done
for module in {modules}; do
    $bb insmod /modules/$module.ko || fail "insmod $module failed"
done
# The disk appears once virtio-blk has probed it.
tries=0
while [ ! -b "$root" ]; do
    tries=$((tries + 1))
    [ "$tries" -le 100 ] || fail "$root did not appear"
    $bb sleep 0.1
done
$bb mount -t ext4 -o rw "$root" /root || fail "cannot mount $root"
$bb umount /dev /proc
exec $bb switch_root /root "$init"
"#,
        modules = INITRAMFS_MODULES.join(" ")
    )
}

/// Debootstraps, packs and publishes the entry. A failing debootstrap (most often an
/// unreachable mirror, a property of the machine) makes the image unavailable; anything
/// failing after it is a bug of the recipe.
fn build(
    cache: &Path,
    entry: &Path,
    mirror: &str,
    versions: &str,
    init: &str,
    privileged: &Privileged,
    progress: &dyn Fn(&str),
) -> std::result::Result<(), Dom0Error> {
    let work = cache.join(format!(".build.{}", std::process::id()));
    let remove_work = || {
        let _ = privileged.command("rm").arg("-rf").arg(&work).status();
    };
    remove_work();
    let failed = |message: String| {
        remove_work();
        Dom0Error::Failed(message)
    };
    let out = work.join("out");
    let root = work.join("root");
    std::fs::create_dir_all(&out).map_err(|e| failed(format!("create {}: {e}", out.display())))?;
    let init_file = work.join("hvmrs-init");
    std::fs::write(&init_file, init).map_err(|e| failed(format!("write init: {e}")))?;

    let started = Instant::now();
    progress(&format!(
        "xen: building the dom0 image from {mirror} {SUITE} with debootstrap (once; a few \
         minutes; cached in {})",
        cache.display()
    ));
    let log = work.join("debootstrap.log");
    let log_file = std::fs::File::create(&log)
        .map_err(|e| failed(format!("create {}: {e}", log.display())))?;
    let log_copy = log_file.try_clone().map_err(|e| failed(format!("{}: {e}", log.display())))?;
    let status = privileged
        .command("debootstrap")
        .arg("--variant=minbase")
        .arg(format!("--include={}", PACKAGES.join(",")))
        .arg(SUITE)
        .arg(&root)
        .arg(mirror)
        .stdin(Stdio::null())
        .stdout(log_copy)
        .stderr(log_file)
        .status()
        .map_err(|e| failed(format!("cannot run debootstrap: {e}")))?;
    if !status.success() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(8).collect();
        remove_work();
        return Err(Dom0Error::Unavailable(format!(
            "debootstrap {SUITE} from {mirror} failed ({status}); last lines:\n{}",
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        )));
    }
    let debootstrap_time = started.elapsed();

    // SAFETY: getuid and getgid have no preconditions and cannot fail.
    let owner = unsafe { format!("{}:{}", getuid(), getgid()) };
    let output = privileged
        .command("sh")
        .arg("-c")
        .arg(BUILD_SCRIPT)
        .arg("hvmrs-build")
        .args([&root, &out, &init_file])
        .args([&owner, XEN_GZ, &INITRAMFS_MODULES.join(" ")])
        .output()
        .map_err(|e| failed(format!("cannot run sh: {e}")))?;
    if !output.status.success() {
        return Err(failed(format!(
            "packing the dom0 image: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    let read = |name: &str| {
        std::fs::read(out.join(name)).map_err(|e| failed(format!("read {name} of the build: {e}")))
    };
    let write = |name: &str, data: &[u8]| {
        std::fs::write(out.join(name), data).map_err(|e| failed(format!("write {name}: {e}")))
    };
    let bzimage = read("vmlinuz")?;
    let kernel = vmlinux_from_bzimage(&bzimage).unwrap_or(bzimage);
    write("vmlinux", &kernel)?;
    let modules = INITRAMFS_MODULES
        .iter()
        .map(|m| Ok((*m, read(&format!("modules/{m}.ko"))?)))
        .collect::<std::result::Result<Vec<(&str, Vec<u8>)>, Dom0Error>>()?;
    write("initrd.img", &initramfs(&read("busybox")?, &modules))?;
    write("versions.txt", versions.as_bytes())?;
    for leftover in ["vmlinuz", "busybox"] {
        let _ = std::fs::remove_file(out.join(leftover));
    }
    let _ = std::fs::remove_dir_all(out.join("modules"));
    if std::fs::rename(&out, entry).is_err() && !entry.join("rootfs.ext4").is_file() {
        return Err(failed(format!("cannot move {} to {}", out.display(), entry.display())));
    }
    remove_work();
    let size = |name: &str| {
        use std::os::unix::fs::MetadataExt;
        // The rootfs is sparse: its length and what it occupies differ.
        let (len, used) = std::fs::metadata(entry.join(name))
            .map_or((0, 0), |m| (m.len() >> 20, (m.blocks() * 512) >> 20));
        format!("{name} {len} MiB ({used} MiB used)")
    };
    progress(&format!(
        "xen: built {} in {:.0} s (debootstrap {:.0} s): {}, {}, {}, {}",
        entry.display(),
        started.elapsed().as_secs_f64(),
        debootstrap_time.as_secs_f64(),
        size("rootfs.ext4"),
        size("xen"),
        size("vmlinux"),
        size("initrd.img")
    ));
    Ok(())
}

/// PID 1 of the dom0: bring up what `xl` needs, run the guest's script from the second disk,
/// print its results between the markers, power off. Every step reports failures on the
/// console but carries on, so a broken dom0 still ends with a report to read.
fn init_script() -> String {
    format!(
        r#"#!/bin/sh
# hvmloader-rs Xen dom0: PID 1 (written by xtask/src/xen.rs).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
step() {{ "$@" || echo "hvmrs-init: FAILED: $*"; }}
step mount -t proc proc /proc
step mount -t sysfs sysfs /sys
step mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
step mount -t devpts devpts /dev/pts
step mount -t tmpfs tmpfs /run
step mount -t tmpfs tmpfs /tmp
# Kernel messages share hvc0 with the report; keep them off it.
dmesg -n 1
for module in xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd; do
    step modprobe "$module"
done
step mount -t xenfs xenfs /proc/xen
mkdir -p /var/log/xen /var/lib/xen /run/xen
# xenstored, xenconsoled, xen-init-dom0.
step /etc/init.d/xen start >/dev/null
mkdir -p {TEST_MOUNT}
step mount -o ro /dev/vdb {TEST_MOUNT}
echo "{DOM0_READY} after $(cut -d' ' -f1 /proc/uptime) s of dom0 uptime"
sh {TEST_MOUNT}/run.sh > /tmp/report 2>&1
echo "{REPORT_BEGIN}"
cat /tmp/report
echo "{REPORT_END}"
echo o > /proc/sysrq-trigger
# PID 1 must not exit; the power-off is asynchronous.
while :; do sleep 1; done
"#
    )
}

/// One guest to create and watch: its firmware, its size, and when the watch ends.
pub struct Scenario {
    /// A short name for messages.
    pub name: &'static str,
    /// Bytes to put on the guest's disk and point `firmware_override` at; `None` runs Xen's
    /// own hvmloader.
    pub firmware_override: Option<Vec<u8>>,
    /// Guest memory in MiB and vCPUs.
    pub memory_mib: u32,
    pub vcpus: u32,
    /// An extended regular expression (`grep -E`) over `xl dmesg`: once it matches, the guest
    /// got as far as the test needs and the dom0 stops waiting. The wait also ends when the
    /// domain shuts down or crashes.
    pub wait_for: &'static str,
    /// How long the dom0 waits for that.
    pub guest_timeout: Duration,
}

/// What one Xen boot produced.
pub struct XenRun {
    /// Everything on Xen's serial console (Xen, dom0's hvc0, guests' `(dN)` lines), no CRs.
    pub console: String,
    /// The dom0 script's results between the markers, `None` if they never came.
    pub report: Option<String>,
    /// From QEMU's start to the dom0's ready line (Xen and dom0 booted), if it came.
    pub dom0_ready: Option<Duration>,
    /// From QEMU's start to its exit.
    pub elapsed: Duration,
}

impl XenRun {
    /// One `--- name ---` section of the report.
    pub fn section(&self, name: &str) -> Option<&str> {
        let report = self.report.as_deref()?;
        let header = format!("--- {name} ---\n");
        let start = report.find(&header)? + header.len();
        let len = report[start..].find("\n--- ").map_or(report.len() - start, |n| n + 1);
        Some(report[start..start + len].trim_end())
    }

    /// `xl create`'s exit status, `None` when the report does not have it.
    pub fn create_status(&self) -> Option<i32> {
        let text = self.section("xl-create")?;
        text.lines().find_map(|l| l.strip_prefix("exit "))?.trim().parse().ok()
    }

    /// `xl create`'s output.
    pub fn create_output(&self) -> Option<&str> {
        let text = self.section("xl-create")?;
        Some(text.split_once('\n').map_or("", |(_, rest)| rest))
    }

    /// Why the dom0 stopped waiting: `matched`, `state <xl state>`, `gone`, `timeout` or
    /// `not created`.
    pub fn wait_outcome(&self) -> Option<&str> {
        Some(self.section("wait")?.trim())
    }

    /// Seconds from `xl create` to SeaBIOS's banner on Xen's console and to the end of the
    /// wait (a shutdown, for a guest that shuts down), as the dom0 measured them (polling
    /// every half second).
    pub fn timing(&self) -> (Option<f64>, Option<f64>) {
        let Some(text) = self.section("timing") else { return (None, None) };
        let value =
            |key: &str| text.lines().find_map(|l| l.strip_prefix(key)?.trim().parse::<f64>().ok());
        (value("seabios "), value("ended "))
    }

    /// The guest's domain ID, if it was created.
    pub fn domid(&self) -> Option<u32> {
        self.section("domid")?.trim().parse().ok()
    }

    /// What the guest's firmware wrote to port 0xE9, from Xen's `(dN) ` console lines.
    pub fn guest_lines(&self) -> Vec<&str> {
        let Some(domid) = self.domid() else { return Vec::new() };
        let prefix = format!("(d{domid}) ");
        self.console.lines().filter_map(|l| l.strip_prefix(prefix.as_str())).collect()
    }

    /// Our firmware's log lines among them.
    pub fn firmware_lines(&self) -> Vec<&str> {
        self.guest_lines().into_iter().filter(|l| l.starts_with("hvmrs ")).collect()
    }

    /// Xen's line when it stopped the guest for a fault (a triple fault, or `domain_crash`
    /// for something Xen could not handle), if it did.
    pub fn xen_fault(&self) -> Option<&str> {
        let domid = self.domid()?;
        // "d1v0 Triple fault - invoking HVM shutdown action ..." and, after "domain_crash
        // called from ...", "Domain 1 (vcpu#0) crashed on cpu#1:". A guest that ends itself
        // with SCHEDOP_shutdown(crash) makes Xen print neither.
        let triple_fault = format!("(XEN) d{domid}v");
        let crashed = format!("(XEN) Domain {domid} (vcpu");
        self.console.lines().find(|l| {
            (l.starts_with(&triple_fault) && l.contains("Triple fault"))
                || (l.starts_with(&crashed) && l.contains(") crashed on cpu"))
        })
    }

    /// The guest's state in the `xl list` taken before the dom0 destroyed it ("--ps--",
    /// "---s--", ...), `None` when the list did not show it.
    pub fn listed_state(&self) -> Option<&str> {
        self.section("xl-list")?.lines().find_map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words.first() == Some(&GUEST_NAME)).then(|| words.get(4).copied()).flatten()
        })
    }

    /// The shutdown reason code xl's daemon logged for the guest (0 poweroff, 1 reboot,
    /// 2 suspend, 3 crash, 4 watchdog), if it logged one.
    pub fn shutdown_reason(&self) -> Option<u32> {
        self.section("xl-log")?.lines().find_map(|l| {
            let rest = l.split_once("has shut down, reason code ")?.1;
            rest.split_whitespace().next()?.parse().ok()
        })
    }
}

impl std::fmt::Display for XenRun {
    /// The console and the report, for failure messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "--- Xen console ({:?}) ---\n{}", self.elapsed, self.console)?;
        match &self.report {
            Some(report) => writeln!(f, "--- dom0 report ---\n{report}"),
            None => writeln!(f, "--- no dom0 report ---"),
        }
    }
}

/// The dom0 side of a scenario: create the guest, wait, destroy it, report in sections.
fn run_script(scenario: &Scenario) -> String {
    let timeout = scenario.guest_timeout.as_secs().max(1);
    let pattern = scenario.wait_for.replace('\'', r"'\''");
    format!(
        r#"# The guest's script (written by xtask/src/xen.rs), run by /sbin/hvmrs-init.
section() {{ echo "--- $1 ---"; }}
now() {{ cut -d' ' -f1 /proc/uptime; }}
created=$(now)
timeout 60 xl create {TEST_MOUNT}/guest.cfg > /tmp/create.out 2>&1
status=$?
section xl-create
echo "exit $status"
cat /tmp/create.out
section domid
xl domid {GUEST_NAME} 2>/dev/null
if [ "$status" -eq 0 ] && [ -f {TEST_MOUNT}/{DRIVER_SCRIPT} ]; then
    sh {TEST_MOUNT}/{DRIVER_SCRIPT} {GUEST_NAME} > /tmp/driver.out 2>&1 &
fi
outcome=timeout
if [ "$status" -eq 0 ]; then
    deadline=$(( $(date +%s) + {timeout} ))
    while [ "$(date +%s)" -lt "$deadline" ]; do
        xl dmesg > /tmp/xl-dmesg
        # When SeaBIOS took over, for the timing section (within the 0.5 s of a poll).
        if [ -z "${{seabios:-}}" ] && grep -q 'SeaBIOS (version' /tmp/xl-dmesg; then
            seabios=$(now)
        fi
        if grep -Eq '{pattern}' /tmp/xl-dmesg; then outcome=matched; break; fi
        state=$(xl list {GUEST_NAME} 2>/dev/null | awk 'NR == 2 {{ print $5 }}')
        case "$state" in
            "") outcome=gone; break ;;
            *s*|*c*) outcome="state $state"; break ;;
        esac
        sleep 0.5
    done
else
    outcome="not created"
fi
ended=$(now)
section wait
echo "$outcome"
section timing
echo "seabios $(awk -v a=$created -v b=${{seabios:-}} 'BEGIN {{ if (b != "") print b - a; else print "none" }}')"
echo "ended $(awk -v a=$created -v b=$ended 'BEGIN {{ print b - a }}')"
# A test that needs more than the console (the guest's registers, a later state) puts a
# probe on the test disk: it runs while the guest still exists, with the guest's name.
if [ -f {TEST_MOUNT}/{PROBE_SCRIPT} ]; then
    section probe
    sh {TEST_MOUNT}/{PROBE_SCRIPT} {GUEST_NAME} 2>&1
fi
if [ -f {TEST_MOUNT}/{DRIVER_SCRIPT} ]; then
    section driver
    cat /tmp/driver.out 2>/dev/null
fi
section xl-list
xl list
section xl-log
# xl's daemon for the guest: "Domain N has shut down, reason code R ..." (0 poweroff,
# 1 reboot, 2 suspend, 3 crash, 4 watchdog, 5 soft reset).
tail -n 20 /var/log/xen/xl-{GUEST_NAME}.log 2>/dev/null
xl destroy {GUEST_NAME} > /dev/null 2>&1
section guest-serial
cat {GUEST_SERIAL_LOG} 2>/dev/null
section device-model-log
tail -n 30 /var/log/xen/qemu-dm-{GUEST_NAME}.log 2>/dev/null
"#
    )
}

/// What a guest needs beyond its firmware, memory and vCPUs: more files on its disk and more
/// lines in its xl.cfg (a boot disk, a boot order, a device model).
#[derive(Debug, Default)]
pub struct GuestExtras {
    /// Files copied onto the guest's disk, by the name they get there (the dom0 sees them as
    /// `{TEST_MOUNT}/<name>`).
    pub files: Vec<(String, PathBuf)>,
    /// Lines appended to the guest's xl.cfg.
    pub config: Vec<String>,
}

impl GuestExtras {
    /// Runs the guest on the project's Q35 device model: the files of `entry` (a directory
    /// of [`crate::xen_dm::build_or_reuse`]) go on the guest's disk, xl.cfg's
    /// `device_model_override` names its wrapper, and `args` (PCIe root ports and the
    /// devices behind them, say) are appended to the device model's command line through
    /// `device_model_args_hvm`.
    pub fn use_q35_device_model(&mut self, entry: &Path, args: &[&str]) {
        for name in [crate::xen_dm::WRAPPER, crate::xen_dm::QEMU] {
            self.files.push((name.to_string(), entry.join(name)));
        }
        self.config
            .push(format!(r#"device_model_override = "{TEST_MOUNT}/{}""#, crate::xen_dm::WRAPPER));
        if !args.is_empty() {
            let quoted: Vec<String> = args.iter().map(|a| format!(r#""{a}""#)).collect();
            self.config.push(format!("device_model_args_hvm = [ {} ]", quoted.join(", ")));
        }
    }
}

/// The text between two marker lines, if both came.
fn between<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = text.find(begin)? + begin.len();
    let len = text[start..].find(end)?;
    Some(text[start..start + len].trim_matches('\n'))
}

/// The guest's xl.cfg (the configuration the platform facts record as working). `serial` is
/// xl's `serial=` value; `on_end` what becomes of the domain when it powers off, reboots or
/// crashes.
/// The xl.cfg of an HVM guest named [`GUEST_NAME`] into SeaBIOS: its size, COM1 (`serial`,
/// an xl.cfg value: `file:...`, `pty`, `none`), what a shutdown does (`on_end`), and
/// `firmware_override` pointing at the disk's [`FIRMWARE_FILE`] when asked.
pub fn guest_config(
    memory_mib: u32,
    vcpus: u32,
    firmware_override: bool,
    serial: &str,
    on_end: &str,
    extras: &GuestExtras,
) -> String {
    let mut cfg = format!(
        r#"name = "{GUEST_NAME}"
type = "hvm"
memory = {memory_mib}
vcpus = {vcpus}
bios = "seabios"
device_model_version = "qemu-xen"
vga = "none"
vnc = 0
serial = "{serial}"
on_poweroff = "{on_end}"
on_reboot = "{on_end}"
on_crash = "{on_end}"
"#
    );
    if firmware_override {
        writeln!(cfg, r#"firmware_override = "{TEST_MOUNT}/{FIRMWARE_FILE}""#).unwrap();
    }
    for line in &extras.config {
        writeln!(cfg, "{line}").unwrap();
    }
    cfg
}

/// The firmware image's name on the guest's disk.
pub const FIRMWARE_FILE: &str = "hvmloader";

/// Boots Xen with the dom0, runs `scenario` (create the guest, wait as it says, destroy it)
/// and returns everything Xen's console showed. `work` holds the guest's disk and, afterwards,
/// `console.log` (the console with each line's arrival time). An error is a machine that
/// failed: QEMU not starting or failing, no power-off within the scenario's bounds.
pub fn run_with(
    dom0: &Dom0,
    scenario: &Scenario,
    extras: &GuestExtras,
    work: &Path,
) -> Result<XenRun> {
    let config = guest_config(
        scenario.memory_mib,
        scenario.vcpus,
        scenario.firmware_override.is_some(),
        &format!("file:{GUEST_SERIAL_LOG}"),
        "preserve",
        extras,
    );
    let disk = guest_disk(
        work,
        Some(&config),
        &run_script(scenario),
        scenario.firmware_override.as_deref(),
        extras,
    )?;
    let mut qemu = xen_qemu(dom0, &disk, "stdio");
    let child = qemu
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    let limit = DOM0_BOOT_ALLOWANCE + scenario.guest_timeout + Duration::from_secs(60);
    let run = watch(child, work, Some(limit), Forward::Nothing)?;
    Ok(run)
}

/// Boots Xen with the dom0 and runs `script` (sh) as the dom0's whole job, for a tool that
/// creates several guests in one Xen boot (`cargo xtask bench --only xen`). The guest's disk
/// holds `firmware` as [`FIRMWARE_FILE`] and `files`; the script's output is the report.
/// `limit` bounds the whole run, Xen's boot included.
pub fn run_dom0_script(
    dom0: &Dom0,
    script: &str,
    firmware: Option<&[u8]>,
    files: &[(String, PathBuf)],
    work: &Path,
    limit: Duration,
) -> Result<XenRun> {
    let extras = GuestExtras { files: files.to_vec(), config: Vec::new() };
    let disk = guest_disk(work, None, script, firmware, &extras)?;
    let child = xen_qemu(dom0, &disk, "stdio")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    watch(child, work, Some(limit), Forward::Nothing)
}

/// A guest for a person at a terminal (`cargo xtask xen-run`).
#[derive(Debug, Default)]
pub struct ConsoleGuest {
    /// Bytes to put on the guest's disk and point `firmware_override` at; `None` runs Xen's
    /// own hvmloader.
    pub firmware_override: Option<Vec<u8>>,
    pub memory_mib: u32,
    pub vcpus: u32,
    pub extras: GuestExtras,
    /// xenstore entries (path relative to the guest's domain path, value) written while the
    /// guest is paused, before its firmware runs.
    pub xenstore: Vec<(String, String)>,
}

/// Where the firmware takes its command line from under Xen, relative to the domain's
/// xenstore path: `xen-run --cmdline` writes it while the guest is paused.
///
/// PENDING (issue 16): the firmware does not read this key yet; the key name is to be
/// settled with that work, and changes here only.
pub const FIRMWARE_CMDLINE_KEY: &str = "hvmloader/cmdline";

/// What the dom0 says when the guest ended, on a line of its own: `<prefix><how>`.
pub const GUEST_ENDED: &str = "dom0: guest ended: ";

/// How a terminal run went.
pub struct ConsoleRun {
    /// How the guest ended, as the dom0 reported it (`poweroff`, `reboot`, `crash`, ...),
    /// `None` if it never said.
    pub guest_ended: Option<String>,
    pub dom0_ready: Option<Duration>,
    pub elapsed: Duration,
}

/// Boots Xen with the dom0 and gives the terminal to `guest`: this process's stdin goes to
/// Xen's console, which hands it to dom0, whose `xl console` passes it to the guest's
/// serial port; stdout shows, from the moment the dom0 is up, the guest's serial console and
/// Xen's own lines (the firmware's `(dN)` lines among them). Xen's and the dom0's boot
/// messages go to `work/console.log` only (`progress` says what is happening meanwhile).
/// The run ends when the guest ends (or `xl console` is left with Ctrl-]): the dom0 destroys
/// it and powers off.
pub fn run_on_terminal(
    dom0: &Dom0,
    guest: &ConsoleGuest,
    work: &Path,
    progress: &dyn Fn(&str),
) -> Result<ConsoleRun> {
    let config = guest_config(
        guest.memory_mib,
        guest.vcpus,
        guest.firmware_override.is_some(),
        "pty",
        "destroy",
        &guest.extras,
    );
    let disk = guest_disk(
        work,
        Some(&config),
        &console_script(&guest.xenstore),
        guest.firmware_override.as_deref(),
        &guest.extras,
    )?;
    // `mon:` multiplexes QEMU's monitor: Ctrl-A X ends QEMU at once, Ctrl-A C is the monitor,
    // and Ctrl-C goes to the guest.
    let child = xen_qemu(dom0, &disk, "mon:stdio")
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start qemu-system-x86_64: {e}"))?;
    progress(&format!(
        "xen: booting Xen and the dom0 in QEMU (TCG, nested SVM; about 10-30 s); their \
         messages go to {}",
        work.join("console.log").display()
    ));
    let run = watch(child, work, None, Forward::AfterDom0(progress))?;
    let guest_ended = run
        .console
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(GUEST_ENDED))
        .map(|how| how.trim().to_string());
    Ok(ConsoleRun { guest_ended, dom0_ready: run.dom0_ready, elapsed: run.elapsed })
}

/// The dom0 side of a terminal run: create the guest paused, write `xenstore`, attach the
/// console to the dom0's (Xen's) console, unpause, and once the console ends say how the
/// guest ended. Its own lines go to the console directly; the report stays empty.
fn console_script(xenstore: &[(String, String)]) -> String {
    let quote = |s: &str| format!("'{}'", s.replace('\'', r"'\''"));
    let mut writes = String::new();
    for (key, value) in xenstore {
        writeln!(
            writes,
            "xenstore-write \"/local/domain/$domid/\"{} {} || say \"cannot write xenstore {}\"",
            quote(key),
            quote(value),
            key.replace(['"', '$', '`', '\\'], "")
        )
        .unwrap();
    }
    format!(
        r#"# xen-run's script (written by xtask/src/xen.rs), run by /sbin/hvmrs-init.
exec > /dev/console 2>&1
say() {{ echo "dom0: $*"; }}
# xenconsole locks /var/lock/xenconsole.<domid>; /var/lock is /run/lock, on a fresh tmpfs.
mkdir -p /run/lock
if ! xl create -p {TEST_MOUNT}/guest.cfg > /tmp/create.out 2>&1; then
    say "xl create failed:"
    cat /tmp/create.out
    echo "{GUEST_ENDED}not created"
    exit 0
fi
domid=$(xl domid {GUEST_NAME})
{writes}say "guest d$domid created (paused); its serial console follows, Xen's (d$domid) lines \
among it. 'poweroff -f' in the guest ends the run; Ctrl-] leaves the console and ends it too."
# The device model drops what the guest writes to a serial port nobody has open: unpause
# only once xl console (xenconsole) holds it.
(
    tries=0
    while ! pidof xenconsole > /dev/null && [ "$tries" -lt 100 ]; do
        sleep 0.1
        tries=$((tries + 1))
    done
    sleep 0.5
    xl unpause {GUEST_NAME}
) &
xl console {GUEST_NAME} < /dev/console
wait
# xl's daemon for the guest: "Domain N has shut down, reason code R ..."
reason=$(sed -n 's/.*has shut down, reason code \([0-9]*\).*/\1/p' \
    /var/log/xen/xl-{GUEST_NAME}.log 2>/dev/null | tail -n 1)
case "$reason" in
    0) how=poweroff ;;
    1) how=reboot ;;
    2) how=suspend ;;
    3) how=crash ;;
    4) how=watchdog ;;
    5) how="soft reset" ;;
    "") how="still running (the console was left); destroying it" ;;
    *) how="reason code $reason" ;;
esac
echo
echo "{GUEST_ENDED}$how"
xl destroy {GUEST_NAME} > /dev/null 2>&1
"#
    )
}

/// Writes the guest's files (config as `guest.cfg`, dom0 script, firmware, extras) and packs
/// them as the ext4 image the dom0 mounts at [`TEST_MOUNT`]; returns the image's path.
fn guest_disk(
    work: &Path,
    config: Option<&str>,
    script: &str,
    firmware: Option<&[u8]>,
    extras: &GuestExtras,
) -> Result<PathBuf> {
    let files = work.join("files");
    let _ = std::fs::remove_dir_all(&files);
    std::fs::create_dir_all(&files).map_err(|e| format!("create {}: {e}", files.display()))?;
    let write = |name: &str, bytes: &[u8]| {
        std::fs::write(files.join(name), bytes).map_err(|e| format!("write {name}: {e}"))
    };
    if let Some(config) = config {
        write("guest.cfg", config.as_bytes())?;
    }
    write("run.sh", script.as_bytes())?;
    if let Some(image) = firmware {
        write(FIRMWARE_FILE, image)?;
    }
    for (name, source) in &extras.files {
        std::fs::copy(source, files.join(name))
            .map_err(|e| format!("copy {} to the guest's disk: {e}", source.display()))?;
    }
    let mut payload = 0;
    for entry in std::fs::read_dir(&files).map_err(|e| format!("{}: {e}", files.display()))? {
        let metadata = entry.and_then(|e| e.metadata());
        payload += metadata.map_err(|e| format!("{}: {e}", files.display()))?.len();
    }
    let size_mib = (payload >> 20) + 16;
    let disk = work.join("guest-disk.ext4");
    let mkfs = host::find("mkfs.ext4").ok_or("mkfs.ext4 not found (Debian package e2fsprogs)")?;
    let out = Command::new(mkfs)
        .args(["-q", "-F", "-L", "hvmrs-guest", "-d"])
        .arg(&files)
        .arg(&disk)
        .arg(format!("{size_mib}M"))
        .output()
        .map_err(|e| format!("cannot run mkfs.ext4: {e}"))?;
    if !out.status.success() {
        return Err(format!("mkfs.ext4 failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(disk)
}

/// QEMU running Xen with the dom0 and the guest's disk, its serial port (Xen's console) on
/// the chardev `serial` names; stdio is left to the caller.
fn xen_qemu(dom0: &Dom0, disk: &Path, serial: &str) -> Command {
    let modules = format!(
        "{} root=/dev/vda rw console=hvc0 init=/sbin/hvmrs-init,{}",
        dom0.kernel.display(),
        dom0.initrd.display()
    );
    let drive = |path: &Path, options: &str| {
        let mut arg = std::ffi::OsString::from("file=");
        arg.push(path);
        arg.push(options);
        arg
    };
    let mut cmd = Command::new("qemu-system-x86_64");
    cmd.args(["-accel", "tcg", "-machine", "pc", "-cpu", "qemu64,+svm,+npt"])
        .args(["-smp", "2", "-m", "3072", "-nic", "none", "-display", "none"])
        .args(["-serial", serial, "-monitor", "none", "-no-reboot"])
        .arg("-kernel")
        .arg(&dom0.xen)
        .args(["-initrd", &modules, "-append", XEN_CMDLINE])
        .arg("-drive")
        .arg(drive(&dom0.rootfs, ",format=raw,if=virtio,snapshot=on"))
        .arg("-drive")
        .arg(drive(disk, ",format=raw,if=virtio,readonly=on"));
    cmd
}

/// What [`watch`] shows on this process's stdout while QEMU runs.
enum Forward<'a> {
    Nothing,
    /// Everything after the dom0's ready line, but the report's markers; `progress` says
    /// when the dom0 is up.
    AfterDom0(&'a dyn Fn(&str)),
}

/// Reads QEMU's console until QEMU exits (or `limit` passes: an error), keeps it in
/// `work/console.log` with each line's arrival time, and forwards it as `forward` says.
fn watch(
    mut child: Child,
    work: &Path,
    limit: Option<Duration>,
    forward: Forward,
) -> Result<XenRun> {
    let started = Instant::now();
    let console = Arc::new(Mutex::new(Vec::new()));
    let mut stdout = child.stdout.take().ok_or("QEMU's stdout is not piped")?;
    let to_terminal = matches!(forward, Forward::AfterDom0(_));
    // The reader also keeps a copy with each line's arrival time, for console.log: it shows
    // where a slow run spent its time.
    let reader = {
        let console = Arc::clone(&console);
        std::thread::spawn(move || {
            let mut stamped = Vec::new();
            let mut at_line_start = true;
            let mut terminal = TerminalFilter::default();
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut chunk) {
                let bytes = &chunk[..n];
                console.lock().unwrap().extend_from_slice(bytes);
                for &byte in bytes {
                    if at_line_start {
                        let t = started.elapsed().as_secs_f64();
                        stamped.extend_from_slice(format!("[{t:8.3}] ").as_bytes());
                    }
                    if byte != b'\r' {
                        stamped.push(byte);
                    }
                    at_line_start = byte == b'\n';
                }
                if to_terminal {
                    write_to_terminal(&terminal.pass(bytes));
                }
            }
            if to_terminal {
                write_to_terminal(&terminal.finish());
            }
            stamped
        })
    };
    let text = || String::from_utf8_lossy(&console.lock().unwrap()).replace('\r', "");
    let mut dom0_ready = None;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting for QEMU: {e}"))? {
            let mut stderr = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut stderr);
            }
            let stamped = reader.join().unwrap_or_default();
            let console = text();
            // Kept for reading after the run, next to the disk it ran with.
            let _ = std::fs::write(work.join("console.log"), stamped);
            if !status.success() {
                return Err(format!(
                    "QEMU failed ({status}): {}\n--- Xen console ---\n{console}",
                    stderr.trim()
                ));
            }
            let report = between(&console, REPORT_BEGIN, REPORT_END).map(str::to_string);
            return Ok(XenRun { report, console, dom0_ready, elapsed: started.elapsed() });
        }
        if dom0_ready.is_none() && text().contains(DOM0_READY) {
            dom0_ready = Some(started.elapsed());
            if let Forward::AfterDom0(progress) = forward {
                progress(&format!(
                    "xen: Xen and the dom0 are up after {:.0} s; creating the guest",
                    started.elapsed().as_secs_f64()
                ));
            }
        }
        if let Some(limit) = limit.filter(|limit| started.elapsed() > *limit) {
            let _ = child.kill();
            let _ = child.wait();
            let _ = reader.join();
            return Err(format!(
                "Xen did not power off within {limit:?} ({}); console:\n{}",
                if dom0_ready.is_some() { "dom0 came up" } else { "dom0 never came up" },
                text()
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What of Xen's console a person sees: nothing until the dom0's ready line, then every
/// byte as it comes (a shell prompt has no newline to wait for), but the lines of the
/// dom0 report's markers, which only the harness reads.
#[derive(Default)]
struct TerminalFilter {
    dom0_up: bool,
    /// The current line so far, while it may still turn out to be hidden.
    held: Vec<u8>,
    /// Whether part of the current line has been shown already (it is no marker then).
    line_shown: bool,
}

impl TerminalFilter {
    /// The part of `bytes` to show now.
    fn pass(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut shown = Vec::new();
        for &byte in bytes {
            self.held.push(byte);
            if byte == b'\n' {
                let line = String::from_utf8_lossy(&self.held);
                let line = line.trim_end_matches(['\r', '\n']);
                let marker = !self.line_shown && (line == REPORT_BEGIN || line == REPORT_END);
                if !self.dom0_up && line.starts_with(DOM0_READY) {
                    // The ready line itself is Xen's boot too; what follows is shown.
                    self.dom0_up = true;
                } else if self.dom0_up && !marker {
                    shown.append(&mut self.held);
                }
                self.held.clear();
                self.line_shown = false;
            } else if self.dom0_up && (self.line_shown || !self.may_be_marker()) {
                shown.append(&mut self.held);
                self.line_shown = true;
            }
        }
        shown
    }

    /// What is still held when the console ends.
    fn finish(&mut self) -> Vec<u8> {
        if self.dom0_up { std::mem::take(&mut self.held) } else { Vec::new() }
    }

    /// Whether the held bytes could still become a marker line (CRs may end it: the dom0's
    /// terminal and Xen's console each turn a newline into CR LF).
    fn may_be_marker(&self) -> bool {
        let end = self.held.iter().rposition(|&b| b != b'\r').map_or(0, |i| i + 1);
        let (text, crs) = self.held.split_at(end);
        [REPORT_BEGIN, REPORT_END].iter().any(|marker| {
            let marker = marker.as_bytes();
            if crs.is_empty() { marker.starts_with(text) } else { marker == text }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(chunks: &[&str]) -> String {
        let mut filter = TerminalFilter::default();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(filter.pass(chunk.as_bytes()));
        }
        out.extend(filter.finish());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_terminal_shows_nothing_before_the_dom0_is_up() {
        let out = shown(&[
            "(XEN) Xen version 4.17\r\n[    1.0] Linux version\r\n",
            "hvmrs-init: dom0 ready after 9 s of dom0 uptime\r\n(d1) hvmrs INFO  boot: x\r\n",
        ]);
        assert_eq!(out, "(d1) hvmrs INFO  boot: x\r\n");
    }

    #[test]
    fn a_prompt_without_newline_is_shown_at_once() {
        let mut filter = TerminalFilter::default();
        filter.pass(format!("{DOM0_READY} after 1 s\n").as_bytes());
        assert_eq!(filter.pass(b"guest:/# "), b"guest:/# ");
        assert_eq!(filter.pass(b"echo\r\n"), b"echo\r\n");
        // "=" could start a marker line: held until the line shows otherwise.
        assert_eq!(filter.pass(b"="), b"");
        assert_eq!(filter.pass(b"= x"), b"== x");
    }

    #[test]
    fn the_report_markers_are_hidden_split_or_whole() {
        let out = shown(&[
            &format!("{DOM0_READY}\n"),
            "dom0: guest ended: poweroff\n=== hvmrs xen rep",
            "ort begin ===\r\r\n",
            &format!("{REPORT_END}\nafter"),
        ]);
        assert_eq!(out, "dom0: guest ended: poweroff\nafter");
        // A line that only ends like a marker is shown whole.
        let tail = format!("x{REPORT_END}\n");
        assert_eq!(shown(&[&format!("{DOM0_READY}\n"), "x", &tail[1..]]), tail);
    }

    #[test]
    fn the_console_script_writes_each_xenstore_entry_quoted() {
        let script = console_script(&[("hvmloader/cmdline".into(), "loglevel=debug it's".into())]);
        assert!(
            script.contains(
                r#"xenstore-write "/local/domain/$domid/"'hvmloader/cmdline' 'loglevel=debug it'\''s'"#
            ),
            "{script}"
        );
        // Created paused, unpaused only after the console is attached.
        let create = script.find("xl create -p").unwrap();
        let write = script.find("xenstore-write").unwrap();
        let unpause = script.find("xl unpause").unwrap();
        assert!(create < write && write < unpause, "{script}");
    }

    #[test]
    fn guest_config_lists_the_extras_after_the_defaults() {
        let extras = GuestExtras { files: Vec::new(), config: vec![r#"boot = "d""#.into()] };
        let cfg = guest_config(512, 2, true, "pty", "destroy", &extras);
        for line in [
            "memory = 512",
            "vcpus = 2",
            r#"serial = "pty""#,
            r#"on_crash = "destroy""#,
            r#"firmware_override = "/test/hvmloader""#,
        ] {
            assert!(cfg.lines().any(|l| l == line), "`{line}` missing:\n{cfg}");
        }
        assert!(cfg.ends_with("boot = \"d\"\n"), "{cfg}");
        assert!(
            !guest_config(128, 1, false, "pty", "destroy", &extras).contains("firmware_override")
        );
    }
}
