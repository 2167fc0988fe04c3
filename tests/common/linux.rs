//! Linux guests for the hand-off tests: the guest of `xtask::guest` (Debian's cloud kernel,
//! a busybox initramfs), here with an /init that reports what Linux found and powers off.
//! Within one test binary a `OnceLock` fetches the guest once; the cache in
//! `target/linux-cache/` is shared with `cargo xtask run` and between test binaries.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use xtask::guest::INIT_PRELUDE;

use super::{image, target_dir};

/// Markers around the report /init prints on the serial console.
pub const REPORT_BEGIN: &str = "=== hvmloader-rs linux report begin ===";
pub const REPORT_END: &str = "=== hvmloader-rs linux report end ===";

/// The guest's files.
#[derive(Debug)]
pub struct Guest {
    pub kernel: PathBuf,
    /// The initramfs of the default /init (the report below).
    pub initrd: PathBuf,
    /// Package and version of the kernel, for messages.
    pub kernel_package: String,
    linux: xtask::guest::Guest,
}

/// The guest, fetched and built on first use.
pub fn guest() -> &'static Guest {
    static GUEST: OnceLock<Guest> = OnceLock::new();
    GUEST.get_or_init(|| {
        let cache = target_dir().join("linux-cache");
        let linux = xtask::guest::Guest::fetch(&cache, &|line| eprintln!("{line}"))
            .unwrap_or_else(|e| panic!("the Linux guest: {e}"));
        let initrd = linux.initrd_with_init(&init_script()).unwrap_or_else(|e| panic!("{e}"));
        Guest {
            kernel: linux.kernel.clone(),
            initrd,
            kernel_package: linux.kernel_package.clone(),
            linux,
        }
    })
}

impl Guest {
    /// An initramfs whose /init runs [`INIT_PRELUDE`], then `body` (a busybox `sh` script),
    /// then `poweroff -f`; written once per distinct body.
    pub fn initrd_with_init(&self, body: &str) -> PathBuf {
        let script = format!("{INIT_PRELUDE}{body}\npoweroff -f\n");
        self.linux.initrd_with_init(&script).unwrap_or_else(|e| panic!("{e}"))
    }
}

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
