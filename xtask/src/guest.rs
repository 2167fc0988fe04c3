//! The Linux guest that `cargo xtask run`, `cargo xtask xen-run` and the tests boot through
//! the firmware: Debian's cloud kernel and an initramfs around a static busybox, whose /init
//! either gives a shell on the serial console ([`interactive_init`]) or runs a test's script.
//!
//! Packages come from the machine's APT sources (`apt-get update` must have run once; CI
//! does it) with `apt-get download`, nothing is installed, and they are cached under
//! `<cache>/<package>_<version>/` (`target/linux-cache/` for the commands and the tests), so
//! a repeated run fetches nothing. A cache entry is built in a private temporary directory
//! and renamed into place, which is atomic: processes running at once either find a
//! complete entry or build their own and the first rename wins.
//!
//! A BIOS boots the same guest from a CD ([`IsoTools::boot_iso`]: ISOLINUX, made with
//! genisoimage), which is how a Xen HVM guest gets it through SeaBIOS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use crate::{Result, fnv1a, host};

/// Debian's metapackage for the current cloud kernel; it depends on the versioned package.
const KERNEL_METAPACKAGE: &str = "linux-image-cloud-amd64";
const BUSYBOX_PACKAGE: &str = "busybox-static";

/// The kernel command line for a guest whose console is its first serial port. `quiet`
/// keeps the boot log (in `dmesg`) off the console, so the shell's banner follows the
/// firmware's lines.
pub const SERIAL_CONSOLE_APPEND: &str = "console=ttyS0 quiet";

/// The interactive guest's shell prompt (`\w`: the working directory).
pub const PROMPT: &str = "guest:/# ";

/// The kernel and busybox, fetched.
#[derive(Debug)]
pub struct Guest {
    pub kernel: PathBuf,
    /// Package and version of the kernel, for messages.
    pub kernel_package: String,
    /// The static busybox the initramfs images are made of.
    busybox: PathBuf,
}

impl Guest {
    /// The guest's packages from `cache`, fetched there first if missing. `progress` gets
    /// a line before each download.
    pub fn fetch(cache: &Path, progress: &dyn Fn(&str)) -> Result<Guest> {
        host::require(&["apt-get", "apt-cache", "dpkg-deb"])?;
        std::fs::create_dir_all(cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
        let kernel_package = kernel_package()?;
        let kernel_dir = cached_package(cache, &kernel_package, progress, |extracted, out| {
            let boot = extracted.join("boot");
            let vmlinuz = std::fs::read_dir(&boot)
                .map_err(|e| format!("{}: {e}", boot.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .find(|p| {
                    p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("vmlinuz-"))
                })
                .ok_or_else(|| format!("{kernel_package} has no boot/vmlinuz-*"))?;
            copy(&vmlinuz, &out.join("vmlinuz"))
        })?;
        let busybox_dir = cached_package(cache, BUSYBOX_PACKAGE, progress, |extracted, out| {
            copy(&extracted.join("bin/busybox"), &out.join("busybox"))
        })?;
        Ok(Guest {
            kernel: kernel_dir.join("vmlinuz"),
            kernel_package: kernel_dir.file_name().unwrap_or_default().to_string_lossy().into(),
            busybox: busybox_dir.join("busybox"),
        })
    }

    /// An initramfs with busybox and `init` (a whole script) as /init. Kept next to busybox
    /// under a name derived from the script, so each distinct /init is written once and
    /// every user of the same one shares it.
    pub fn initrd_with_init(&self, init: &str) -> Result<PathBuf> {
        let initrd =
            self.busybox.with_file_name(format!("initramfs-{:016x}.cpio", fnv1a(init.as_bytes())));
        if !initrd.exists() {
            publish_initramfs(&self.busybox, init, &initrd)?;
        }
        Ok(initrd)
    }

    /// The initramfs of [`interactive_init`].
    pub fn interactive_initrd(&self) -> Result<PathBuf> {
        self.initrd_with_init(&interactive_init())
    }
}

/// The kernel and initramfs a command boots: `kernel` and `initrd` where the user gave
/// them, the project's guest's otherwise (fetched into `cache`; its initramfs is the
/// interactive one, which works with any x86-64 kernel that unpacks an initramfs).
pub fn kernel_and_initrd(
    kernel: Option<&Path>,
    initrd: Option<&Path>,
    cache: &Path,
    progress: &dyn Fn(&str),
) -> Result<(PathBuf, PathBuf)> {
    for path in kernel.iter().chain(&initrd) {
        if !path.is_file() {
            return Err(format!("{}: no such file", path.display()));
        }
    }
    if let (Some(kernel), Some(initrd)) = (kernel, initrd) {
        return Ok((kernel.to_path_buf(), initrd.to_path_buf()));
    }
    let guest = Guest::fetch(cache, progress)?;
    let initrd = match initrd {
        Some(initrd) => initrd.to_path_buf(),
        None => guest.interactive_initrd()?,
    };
    Ok((kernel.map_or(guest.kernel, Path::to_path_buf), initrd))
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to)
        .map(drop)
        .map_err(|e| format!("copy {} to {}: {e}", from.display(), to.display()))
}

/// Writes the initramfs with `init` as /init to `path`. Same inputs, same bytes: concurrent
/// writers (threads or processes) race harmlessly to the rename.
fn publish_initramfs(busybox: &Path, init: &str, path: &Path) -> Result<()> {
    static SEQUENCE: AtomicU32 = AtomicU32::new(0);
    let busybox = std::fs::read(busybox).map_err(|e| format!("{}: {e}", busybox.display()))?;
    let unique = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let partial = path.with_extension(format!("partial.{}.{unique}", std::process::id()));
    std::fs::write(&partial, initramfs(&busybox, init))
        .map_err(|e| format!("write {}: {e}", partial.display()))?;
    std::fs::rename(&partial, path).map_err(|e| format!("rename to {}: {e}", path.display()))
}

/// The versioned kernel package the metapackage depends on.
fn kernel_package() -> Result<String> {
    let out = command_output(Command::new("apt-cache").args(["depends", KERNEL_METAPACKAGE]))?;
    out.lines()
        .filter_map(|line| line.trim().strip_prefix("Depends: "))
        .find(|dep| dep.starts_with("linux-image-"))
        .map(str::to_string)
        .ok_or_else(|| {
            format!(
                "`apt-cache depends {KERNEL_METAPACKAGE}` names no linux-image package (has \
                 `apt-get update` run?)"
            )
        })
}

/// The version `apt-get download` fetches: APT's candidate.
pub fn candidate_version(package: &str) -> Result<String> {
    let out = command_output(Command::new("apt-cache").args(["policy", package]))?;
    out.lines()
        .filter_map(|line| line.trim().strip_prefix("Candidate: "))
        .find(|version| *version != "(none)")
        .map(str::to_string)
        .ok_or_else(|| {
            format!("APT has no candidate version of {package} (has `apt-get update` run?)")
        })
}

/// The cache directory of `package` at its candidate version, made by downloading and
/// extracting it and letting `keep` copy what is needed from the extracted tree (`keep`
/// gets the extracted tree and the directory to fill).
pub fn cached_package(
    cache: &Path,
    package: &str,
    progress: &dyn Fn(&str),
    keep: impl FnOnce(&Path, &Path) -> Result<()>,
) -> Result<PathBuf> {
    let version = candidate_version(package)?;
    // Versions may hold ':' (epochs), which is fine in a file name on Linux but not pretty.
    let dir = cache.join(format!("{package}_{}", version.replace(':', "%3a")));
    if dir.is_dir() {
        return Ok(dir);
    }
    progress(&format!(
        "guest: fetching {package} {version} (apt-get download, once; cached in {})",
        cache.display()
    ));
    let work = cache.join(format!(".{package}.{}.tmp", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let out = work.join("out");
    std::fs::create_dir_all(&out).map_err(|e| format!("create {}: {e}", out.display()))?;
    let started = Instant::now();
    command_output(
        Command::new("apt-get")
            .args(["download", "-q", &format!("{package}={version}")])
            .current_dir(&work),
    )?;
    let deb = std::fs::read_dir(&work)
        .map_err(|e| format!("{}: {e}", work.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"))
        .ok_or_else(|| format!("apt-get download {package} left no .deb"))?;
    let extracted = work.join("extracted");
    command_output(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&extracted))?;
    keep(&extracted, &out)?;
    // Atomic publication; losing the race to another process is fine.
    if std::fs::rename(&out, &dir).is_err() && !dir.is_dir() {
        return Err(format!("cannot move {} to {}", out.display(), dir.display()));
    }
    let _ = std::fs::remove_dir_all(&work);
    progress(&format!(
        "guest: fetched {package} {version} in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(dir)
}

/// Stdout of a command that must succeed, in the C locale (APT's output is parsed).
pub fn command_output(cmd: &mut Command) -> Result<String> {
    let out = cmd.env("LC_ALL", "C").output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
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

/// The /init of a guest to use by hand: a banner saying what to type, a busybox shell on
/// the console (`cttyhack` makes the console its controlling terminal, so Ctrl-C and job
/// control work), and a power-off when the shell ends.
pub fn interactive_init() -> String {
    format!(
        r#"{INIT_PRELUDE}export HOME=/ PS1='guest:\w# '
cd /
cat <<EOF

hvmloader-rs: Linux $(uname -r) is up, booted through the firmware.
A busybox shell on $(cat /sys/class/tty/console/active). To look around:
  ls /sys/firmware/acpi/tables     the ACPI tables the firmware built
  dmesg | grep -e ACPI -e e820     what Linux made of them and of the memory map
  cat /proc/iomem                  where the firmware put the PCI devices' memory
'poweroff -f' (or leaving the shell) powers the machine off.
EOF
setsid cttyhack sh
poweroff -f
"#
    )
}

/// A newc cpio archive (the format the kernel unpacks as initramfs) with busybox and /init.
pub fn initramfs(busybox: &[u8], init: &str) -> Vec<u8> {
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

/// The packages a BIOS-bootable ISO is made with: genisoimage and ISOLINUX. genisoimage links
/// libmagic, which a minimal Debian may lack, so it comes along too.
const ISO_PACKAGES: &[&str] = &["genisoimage", "libmagic1", "isolinux", "syslinux-common"];

/// genisoimage and ISOLINUX from Debian, fetched with `apt-get download` and unpacked with
/// `dpkg-deb -x` under `<cache>/iso-tools-<key>/` (nothing installed system-wide; the key is
/// the candidate versions, so an unchanged archive fetches nothing).
#[derive(Debug)]
pub struct IsoTools {
    dir: PathBuf,
}

impl IsoTools {
    /// The tools from `cache`, fetched there first if missing.
    pub fn fetch(cache: &Path, progress: &dyn Fn(&str)) -> Result<IsoTools> {
        host::require(&["apt-get", "apt-cache", "dpkg-deb"])?;
        let versions = ISO_PACKAGES
            .iter()
            .map(|p| Ok(format!("{p}={}", candidate_version(p)?)))
            .collect::<Result<Vec<String>>>()?;
        std::fs::create_dir_all(cache).map_err(|e| format!("create {}: {e}", cache.display()))?;
        let entry = cache.join(format!("iso-tools-{:016x}", fnv1a(versions.join("\n").as_bytes())));
        if !entry.join("genisoimage").is_file() {
            progress(&format!(
                "guest: fetching genisoimage and ISOLINUX (apt-get download, once; cached in {})",
                cache.display()
            ));
            fetch_iso_tools(cache, &entry, &versions)?;
        }
        Ok(IsoTools { dir: entry })
    }

    /// Writes `iso`: a BIOS-bootable ISO 9660 image (El Torito, no emulation, ISOLINUX) that
    /// boots `kernel` with `initrd` and the command line `append`. ISOLINUX also talks on
    /// COM1, so a serial console shows the boot loader's progress. `work` is a scratch
    /// directory for the image's tree.
    pub fn boot_iso(
        &self,
        kernel: &Path,
        initrd: &Path,
        append: &str,
        work: &Path,
        iso: &Path,
    ) -> Result<()> {
        let tree = work.join("iso-tree");
        let _ = std::fs::remove_dir_all(&tree);
        for dir in ["isolinux", "boot"] {
            let dir = tree.join(dir);
            std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        }
        // genisoimage writes the boot info table into its copy of isolinux.bin.
        copy(&self.dir.join("isolinux.bin"), &tree.join("isolinux/isolinux.bin"))?;
        copy(&self.dir.join("ldlinux.c32"), &tree.join("isolinux/ldlinux.c32"))?;
        copy(kernel, &tree.join("boot/vmlinuz"))?;
        copy(initrd, &tree.join("boot/initrd.img"))?;
        let config = format!(
            "SERIAL 0 115200\nDEFAULT linux\nPROMPT 0\nTIMEOUT 0\nLABEL linux\n  KERNEL \
             /boot/vmlinuz\n  INITRD /boot/initrd.img\n  APPEND {append}\n"
        );
        std::fs::write(tree.join("isolinux/isolinux.cfg"), config)
            .map_err(|e| format!("write isolinux.cfg: {e}"))?;
        checked(
            Command::new(self.dir.join("genisoimage"))
                .env("LD_LIBRARY_PATH", self.dir.join("lib"))
                .args(["-quiet", "-R", "-V", "HVMRS_LINUX", "-o"])
                .arg(iso)
                .args(["-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat"])
                .args(["-no-emul-boot", "-boot-load-size", "4", "-boot-info-table"])
                .arg(&tree),
        )?;
        let _ = std::fs::remove_dir_all(&tree);
        Ok(())
    }
}

fn checked(cmd: &mut Command) -> Result<()> {
    let out = cmd.output().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    Err(format!(
        "{cmd:?} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    ))
}

fn fetch_iso_tools(cache: &Path, entry: &Path, versions: &[String]) -> Result<()> {
    let work = cache.join(format!(".iso-tools.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    let (debs, tree, out) = (work.join("debs"), work.join("tree"), work.join("out"));
    for dir in [&debs, &tree, &out.join("lib")] {
        std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    }
    checked(Command::new("apt-get").args(["download", "-q"]).args(versions).current_dir(&debs))?;
    for deb in std::fs::read_dir(&debs).map_err(|e| format!("{}: {e}", debs.display()))? {
        let deb = deb.map_err(|e| format!("{}: {e}", debs.display()))?.path();
        checked(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&tree))?;
    }
    let take = |from: &str, to: &str| copy(&tree.join(from), &out.join(to));
    take("usr/bin/genisoimage", "genisoimage")?;
    // A symbolic link to the versioned library; the copy is the library under the soname.
    take("usr/lib/x86_64-linux-gnu/libmagic.so.1", "lib/libmagic.so.1")?;
    take("usr/lib/ISOLINUX/isolinux.bin", "isolinux.bin")?;
    take("usr/lib/syslinux/modules/bios/ldlinux.c32", "ldlinux.c32")?;
    if std::fs::rename(&out, entry).is_err() && !entry.join("genisoimage").is_file() {
        return Err(format!("cannot move {} to {}", out.display(), entry.display()));
    }
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fields of the first newc header: magic, then 13 eight-digit hex numbers.
    fn header_fields(archive: &[u8]) -> Vec<u32> {
        assert_eq!(&archive[..6], b"070701");
        (0..13)
            .map(|i| {
                let field = std::str::from_utf8(&archive[6 + 8 * i..14 + 8 * i]).unwrap();
                u32::from_str_radix(field, 16).unwrap()
            })
            .collect()
    }

    #[test]
    fn cpio_members_are_padded_to_four_bytes_and_end_with_the_trailer() {
        let mut cpio = CpioWriter::default();
        cpio.file("init", 0o755, b"#!/bin/sh\n");
        let archive = cpio.finish();
        let fields = header_fields(&archive);
        assert_eq!(fields[1], S_IFREG | 0o755, "mode");
        assert_eq!(fields[6], 10, "file size");
        assert_eq!(fields[11], 5, "name size with its NUL");
        // 110-byte header + "init\0" padded to 116, data padded to 12 bytes.
        let trailer = &archive[116 + 12..];
        assert_eq!(header_fields(trailer)[11], 11);
        assert_eq!(&trailer[110..120], b"TRAILER!!!");
        assert_eq!(archive.len() % 4, 0);
    }

    #[test]
    fn the_interactive_init_gives_a_shell_and_powers_off_after_it() {
        let init = interactive_init();
        assert!(init.starts_with(INIT_PRELUDE));
        let shell = init.find("setsid cttyhack sh\n").expect("a shell on the console");
        assert!(init[shell..].contains("poweroff -f"), "{init}");
        // The prompt the tests wait for is the one the script sets.
        assert!(init.contains(r"PS1='guest:\w# '") && PROMPT == "guest:/# ");
    }
}
