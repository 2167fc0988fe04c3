//! Linux guests for the hand-off tests: Debian's cloud kernel and an initramfs with a static
//! busybox whose /init reports what Linux found and powers off.
//!
//! Packages come from the machine's APT sources (`apt-get update` must have run once; CI
//! does it) and are cached under `target/linux-cache/<package>_<version>/`, so a repeated
//! run fetches nothing. A cache entry is built in a private temporary directory and renamed
//! into place, which is atomic: test binaries running at once either find a complete entry
//! or build their own and the first rename wins. Within one test binary a `OnceLock` builds
//! the guest once.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use super::{image, target_dir};

/// Markers around the report /init prints on the serial console.
pub const REPORT_BEGIN: &str = "=== hvmloader-rs linux report begin ===";
pub const REPORT_END: &str = "=== hvmloader-rs linux report end ===";

/// Debian's metapackage for the current cloud kernel; it depends on the versioned package.
const KERNEL_METAPACKAGE: &str = "linux-image-cloud-amd64";
const BUSYBOX_PACKAGE: &str = "busybox-static";

/// The guest's files.
#[derive(Debug)]
pub struct Guest {
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Package and version of the kernel, for messages.
    pub kernel_package: String,
    /// The static busybox the initramfs images are made of.
    busybox: PathBuf,
}

/// The guest, fetched and built on first use.
pub fn guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let cache = target_dir().join("linux-cache");
        std::fs::create_dir_all(&cache).expect("create target/linux-cache");
        let kernel_package = kernel_package();
        let kernel_dir = cached_package(&cache, &kernel_package, |extracted, out| {
            let boot = extracted.join("boot");
            let vmlinuz = std::fs::read_dir(&boot)
                .unwrap_or_else(|e| panic!("{}: {e}", boot.display()))
                .map(|entry| entry.expect("read boot/").path())
                .find(|path| path.file_name().unwrap().to_string_lossy().starts_with("vmlinuz-"))
                .unwrap_or_else(|| panic!("{kernel_package} has no boot/vmlinuz-*"));
            std::fs::copy(vmlinuz, out.join("vmlinuz")).expect("copy vmlinuz");
        });
        let busybox_dir = cached_package(&cache, BUSYBOX_PACKAGE, |extracted, out| {
            std::fs::copy(extracted.join("bin/busybox"), out.join("busybox"))
                .expect("copy busybox");
        });
        let busybox = busybox_dir.join("busybox");
        let initrd = busybox_dir.join("initramfs.cpio");
        publish_initramfs(&busybox, &init_script(), &initrd);
        Guest {
            kernel: kernel_dir.join("vmlinuz"),
            initrd,
            kernel_package: kernel_dir.file_name().unwrap().to_string_lossy().into_owned(),
            busybox,
        }
    })
}

impl Guest {
    /// An initramfs whose /init runs [`INIT_PRELUDE`], then `body` (a busybox `sh` script),
    /// then `poweroff -f`. Kept next to busybox under a name derived from `body`, so each
    /// distinct /init is written once and tests sharing one reuse it.
    pub fn initrd_with_init(&self, body: &str) -> PathBuf {
        let script = format!("{INIT_PRELUDE}{body}\npoweroff -f\n");
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        script.hash(&mut hasher);
        let initrd =
            self.busybox.with_file_name(format!("initramfs-{:016x}.cpio", hasher.finish()));
        if !initrd.exists() {
            publish_initramfs(&self.busybox, &script, &initrd);
        }
        initrd
    }
}

/// Writes the initramfs with `init` as /init to `path`. Same inputs, same bytes: concurrent
/// writers (test threads or binaries) race harmlessly to the rename.
fn publish_initramfs(busybox: &Path, init: &str, path: &Path) {
    static SEQUENCE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let busybox = std::fs::read(busybox).expect("read busybox");
    let unique = SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let partial = path.with_extension(format!("partial.{}.{unique}", std::process::id()));
    std::fs::write(&partial, initramfs(&busybox, init)).expect("write initramfs");
    std::fs::rename(&partial, path).expect("publish initramfs");
}

/// The versioned kernel package the metapackage depends on.
fn kernel_package() -> String {
    let out = command_output(Command::new("apt-cache").args(["depends", KERNEL_METAPACKAGE]));
    out.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends: "))
        .find(|dep| dep.starts_with("linux-image-"))
        .unwrap_or_else(|| {
            panic!("`apt-cache depends {KERNEL_METAPACKAGE}` names no linux-image package:\n{out}")
        })
        .to_string()
}

/// The candidate version APT would download.
fn package_version(package: &str) -> String {
    let out = command_output(Command::new("apt-cache").args(["policy", package]));
    out.lines()
        .filter_map(|line| line.trim().strip_prefix("Candidate: "))
        .find(|version| *version != "(none)")
        .unwrap_or_else(|| {
            panic!("no candidate version of {package} (has `apt-get update` run?):\n{out}")
        })
        .to_string()
}

/// The cache directory of `package` at its candidate version, made by downloading and
/// extracting it and letting `keep` copy what is needed from the extracted tree.
fn cached_package(cache: &Path, package: &str, keep: impl FnOnce(&Path, &Path)) -> PathBuf {
    let version = package_version(package);
    // Versions may hold ':' (epochs), which is fine in a file name on Linux but not pretty.
    let dir = cache.join(format!("{package}_{}", version.replace(':', "%3a")));
    if dir.is_dir() {
        return dir;
    }
    let work = cache.join(format!(".{package}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let out = work.join("out");
    std::fs::create_dir_all(&out).expect("create cache work dir");
    let started = Instant::now();
    run_checked(
        Command::new("apt-get")
            .args(["download", "-q", &format!("{package}={version}")])
            .current_dir(&work),
    );
    let deb = std::fs::read_dir(&work)
        .expect("read cache work dir")
        .map(|entry| entry.expect("read entry").path())
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .unwrap_or_else(|| panic!("apt-get download {package} left no .deb"));
    let extracted = work.join("extracted");
    run_checked(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&extracted));
    keep(&extracted, &out);
    // Atomic publication; losing the race to another test binary is fine.
    if std::fs::rename(&out, &dir).is_err() && !dir.is_dir() {
        panic!("cannot move {} to {}", out.display(), dir.display());
    }
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("linux-cache: fetched {package} {version} in {:?}", started.elapsed());
    dir
}

fn command_output(cmd: &mut Command) -> String {
    // The parsers above read APT's English output.
    let out = cmd.env("LC_ALL", "C").output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn run_checked(cmd: &mut Command) {
    command_output(cmd);
}

/// How every /init starts: busybox's applets installed, the pseudo file systems mounted, and
/// kernel messages kept off the console so they do not interleave with what /init prints
/// (`dmesg` still has them all).
pub const INIT_PRELUDE: &str = r#"#!/bin/busybox sh
/bin/busybox mkdir -p /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
dmesg -n 1
"#;

/// The default /init: the prelude, the report between the markers, power off.
fn init_script() -> String {
    format!(
        r#"{INIT_PRELUDE}echo "{REPORT_BEGIN}"
echo "cpus: $(grep -c ^processor /proc/cpuinfo)"
grep MemTotal /proc/meminfo
echo "acpi-tables: $(ls /sys/firmware/acpi/tables | tr '\n' ' ')"
for dev in /sys/bus/pci/devices/*; do
    echo "pci: $(basename $dev) $(cat $dev/vendor):$(cat $dev/device) config-size $(stat -c %s $dev/config)"
    grep -v '^0x0000000000000000 0x0000000000000000' $dev/resource | sed 's/^/pci-resource: /'
done
sed 's/^/iomem: /' /proc/iomem
dmesg | grep -i acpi | sed 's/^/dmesg: /'
echo "{REPORT_END}"
poweroff -f
"#
    )
}

/// A newc cpio archive (the format the kernel unpacks as initramfs) with busybox and /init.
fn initramfs(busybox: &[u8], init: &str) -> Vec<u8> {
    let mut cpio = CpioWriter::default();
    for dir in ["bin", "dev", "proc", "sys", "sbin", "usr", "usr/bin", "usr/sbin"] {
        cpio.directory(dir);
    }
    // The kernel opens /dev/console for init before devtmpfs is mounted.
    cpio.char_device("dev/console", 5, 1);
    cpio.file("bin/busybox", 0o755, busybox);
    cpio.file("init", 0o755, init.as_bytes());
    cpio.finish()
}

/// Writes newc ("070701") cpio archives: ASCII-hex headers, names and data padded to 4.
#[derive(Default)]
pub struct CpioWriter {
    out: Vec<u8>,
    next_inode: u32,
}

const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFCHR: u32 = 0o020000;

impl CpioWriter {
    pub fn directory(&mut self, name: &str) {
        self.entry(name, S_IFDIR | 0o755, 2, (0, 0), &[]);
    }

    pub fn file(&mut self, name: &str, permissions: u32, data: &[u8]) {
        self.entry(name, S_IFREG | permissions, 1, (0, 0), data);
    }

    pub fn char_device(&mut self, name: &str, major: u32, minor: u32) {
        self.entry(name, S_IFCHR | 0o600, 1, (major, minor), &[]);
    }

    /// The archive with its trailer.
    pub fn finish(mut self) -> Vec<u8> {
        self.next_inode = 0;
        self.entry("TRAILER!!!", 0, 1, (0, 0), &[]);
        self.out
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        self.next_inode += 1;
        let fields = [
            self.next_inode,
            mode,
            0, // uid
            0, // gid
            nlink,
            0, // mtime
            u32::try_from(data.len()).expect("cpio member under 4 GiB"),
            0, // devmajor
            0, // devminor
            rdev.0,
            rdev.1,
            name.len() as u32 + 1,
            0, // check (only for the "070702" format)
        ];
        self.out.extend_from_slice(b"070701");
        for field in fields {
            self.out.extend_from_slice(format!("{field:08x}").as_bytes());
        }
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        self.pad();
        self.out.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while !self.out.len().is_multiple_of(4) {
            self.out.push(0);
        }
    }
}

/// The report between the markers, or `None` if the guest never printed it completely.
pub fn report(serial: &str) -> Option<&str> {
    let start = serial.find(REPORT_BEGIN)? + REPORT_BEGIN.len();
    let len = serial[start..].find(REPORT_END)?;
    Some(serial[start..start + len].trim())
}

/// A QEMU running the firmware and a Linux guest, watched while it runs (xtask's QMP
/// client): the serial console goes to `scratch/serial.log`, QMP acts on the machine.
pub type LiveVm = xtask::qmp::Vm;

/// Starts `hvmloader-qemu` on `machine` (TCG, 512 MiB unless `extra` says otherwise) with
/// `extra` arguments.
pub fn start_live(machine: &str, extra: &[&str], scratch: &Path) -> LiveVm {
    let image = image("hvmloader-qemu");
    let mut args: Vec<&str> = xtask::qmp::HEADLESS_TCG.to_vec();
    args.extend(["-machine", machine, "-m", "512M", "-monitor", "none", "-kernel"]);
    args.push(image.to_str().expect("a UTF-8 image path"));
    args.extend(extra);
    LiveVm::start(&args, scratch).unwrap_or_else(|e| panic!("{e}"))
}

/// Which firmware starts the guest's kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Firmware {
    /// Ours (`hvmloader-qemu`), with the kernel, initramfs and command line as fw_cfg files.
    Ours,
    /// QEMU's own path, the control: SeaBIOS and QEMU's tables, `-kernel`/`-initrd`.
    Stock,
}

impl std::fmt::Display for Firmware {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(match self {
            Firmware::Ours => "our firmware",
            Firmware::Stock => "QEMU's SeaBIOS path",
        })
    }
}

impl Firmware {
    /// What QEMU's `-kernel` loads, and the arguments that give the guest `initrd` and
    /// `cmdline`.
    pub fn kernel_args(self, initrd: &Path, cmdline: &str) -> (PathBuf, Vec<String>) {
        let guest = guest();
        match self {
            Firmware::Ours => (
                image("hvmloader-qemu"),
                vec![
                    "-fw_cfg".into(),
                    format!("name=opt/hvmloader/kernel,file={}", guest.kernel.display()),
                    "-fw_cfg".into(),
                    format!("name=opt/hvmloader/initrd,file={}", initrd.display()),
                    "-fw_cfg".into(),
                    // fw_cfg's option parser splits at commas; QEMU's doubled comma escapes.
                    format!("name=opt/hvmloader/cmdline,string={}", cmdline.replace(',', ",,")),
                ],
            ),
            Firmware::Stock => (
                guest.kernel.clone(),
                vec![
                    "-initrd".into(),
                    initrd.display().to_string(),
                    "-append".into(),
                    cmdline.to_string(),
                ],
            ),
        }
    }
}
