//! Linux inside a real Xen HVM guest (issue 7): Xen 4.17 runs our firmware in place of
//! hvmloader, it hands off to SeaBIOS, SeaBIOS boots a small ISO (ISOLINUX, Debian's cloud
//! kernel, a busybox initramfs), and what Linux reports from inside the guest is compared
//! with what our firmware logged on Xen's console in the same boot:
//!
//! - Linux uses our ACPI tables: its RSDP is ours ("Xen", v2; SeaBIOS's copy of the one we
//!   logged, or our own copy), every table we logged is where we logged it, and the ACPI
//!   interpreter has nothing to complain about;
//! - every vCPU is online;
//! - the Xen platform device 5853:0001 is there, and every BAR Linux holds is where we put it
//!   (but the IDE function's, which the device model resets when Linux unplugs the emulated
//!   disks);
//! - Linux's memory map is the one SeaBIOS passed on, its RAM fits the guest config, and
//!   MemTotal fits that RAM;
//! - `poweroff -f` goes through our \_S5: the domain ends shut down with reason "poweroff",
//!   not crashed, not rebooted;
//! - with `pci=nomsi`, an NVMe controller and a 16550 (added to the device model's command
//!   line) work on Xen's INTx emulation: in APIC mode in one guest, in PIC mode (`noapic`)
//!   in the other.
//!
//! One boot of Xen, one of Linux (TCG inside TCG: a few minutes). The dom0 image is cached
//! under target/xen-cache (see xtask/src/xen.rs), genisoimage and ISOLINUX under
//! target/linux-cache with the guest (xtask/src/guest.rs).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::checks::{Problems, check_tables_found, dmesg_matching, indented};
use common::hex;
use common::linux::guest;
use common::workloads::{
    UnderTest, check_irq_workload, interrupt_model_ok, irq_workload, nvme, uart,
};
use common::xen::{
    DRIVER_SCRIPT, GUEST_SERIAL_LOG, GuestExtras, PROBE_SCRIPT, Scenario, TEST_MOUNT, XenRun,
    dom0_and_q35_device_model_or_skip, dom0_or_skip, iso_tools, run_with,
};

/// Markers around the report /init prints on the guest's ttyS0.
const REPORT_BEGIN: &str = "=== hvmrs xen-linux report begin ===";
const REPORT_END: &str = "=== hvmrs xen-linux report end ===";

/// The guest's report. The serial port of a Xen guest costs an exit to the device model per
/// access, so dmesg is filtered to what the checks and a reader of a failure need, and
/// unused resource slots (flags 0) are left out.
const REPORT_BODY: &str = r#"echo "=== hvmrs xen-linux report begin ==="
echo "cpu-online: $(cat /sys/devices/system/cpu/online)"
grep MemTotal /proc/meminfo
echo "hypervisor: $(cat /sys/hypervisor/type 2>/dev/null)"
echo "acpi-tables: $(ls /sys/firmware/acpi/tables | tr '\n' ' ')"
for dev in /sys/bus/pci/devices/*; do
    bdf=$(basename $dev)
    echo "pci: $bdf $(cat $dev/vendor):$(cat $dev/device) driver $(basename "$(readlink $dev/driver)")"
    awk -v bdf=$bdf '$3 != "0x0000000000000000" { print "pci-resource: " bdf " " NR-1 " " $0 }' $dev/resource
done
dmesg | grep -E 'ACPI|Firmware|BIOS|e820|smp|CPU|[Xx]en|0000:00:|Memory:|Power|reboot|Kernel command line|DMI|HVM|Hypervisor|MMCONFIG|error|Error|warn|Warn' | sed 's/^/dmesg: /'
echo "=== hvmrs xen-linux report end ==="
"#;

/// Linux's command line: the console on the guest's COM1 (its serial file), and a panic
/// reboots at once (the domain then shows reason "reboot", which the test reports).
/// `quiet`: every console byte is an exit to the device model, and the whole boot log on
/// the console made one run 2-3 minutes longer; dmesg still has it all, and errors still
/// reach the console. `nokaslr`: a register dump Xen prints for the guest (a triple fault)
/// then holds addresses that the kernel's symbols (Debian's -dbg package) resolve.
/// no_timer_check: see tests/linux_accept.rs (TCG runs the IO-APIC timer probe too slowly).
const LINUX_APPEND: &str = "console=ttyS0 panic=-1 no_timer_check nokaslr quiet";

/// The guest: vCPUs, RAM, xl.cfg lines beyond the defaults, and the interrupt workload.
struct Guest {
    vcpus: u32,
    memory_mib: u32,
    config: Vec<String>,
    /// The devices of [`irq_devices`], driven without MSI, in APIC mode (`Some(true)`) or
    /// PIC mode (`noapic`, `Some(false)`).
    intx: Option<bool>,
    /// Q35 on the project's device model (tools/xen-dm) with [`q35_devices`], instead of
    /// Debian's device model's `xenfv` (i440FX).
    q35: bool,
    /// vCPU hot-add and PCI hot-plug while Linux runs ([`HOTPLUG_STEPS`], [`hotplug_driver`]):
    /// started with one vCPU of two (`maxvcpus = 2`).
    hotplug: bool,
    /// The guest prints the ACPI tables it was given ([`TABLE_DUMP`]).
    dump_tables: bool,
}

impl Guest {
    /// xl's defaults with `vcpus` vCPUs and 512 MiB.
    fn default_config(vcpus: u32) -> Self {
        Guest {
            vcpus,
            memory_mib: 512,
            config: Vec::new(),
            intx: None,
            q35: false,
            hotplug: false,
            dump_tables: false,
        }
    }

    /// The kernel's command line.
    fn append(&self) -> String {
        match self.intx {
            None => LINUX_APPEND.to_string(),
            Some(true) => format!("{LINUX_APPEND} pci=nomsi"),
            Some(false) => format!("{LINUX_APPEND} pci=nomsi noapic"),
        }
    }
}

/// The Q35 guest's PCIe devices, each behind a root port of its own: an NVMe controller
/// (driven with MSI-X), an e1000e (extended capabilities from 0x100: AER, DSN) and a 16550
/// (no MSI: its INTx arrives swizzled to its root port's slot). The device model's
/// arguments and the devices' addresses.
const Q35_DEVICES: &[&str] = &[
    "-device",
    "pcie-root-port,id=rp1,chassis=1,addr=2",
    "-blockdev",
    "driver=null-co,node-name=nvme0,size=16777216,read-zeroes=on",
    "-device",
    "nvme,drive=nvme0,serial=xen-q35,bus=rp1",
    "-device",
    "pcie-root-port,id=rp2,chassis=2,addr=3",
    "-device",
    "e1000e,bus=rp2",
    "-device",
    "pcie-root-port,id=rp3,chassis=3,addr=4",
    "-chardev",
    "file,id=uart1,path=/tmp/hvmrs-uart1.log",
    "-device",
    "pci-serial,chardev=uart1,bus=rp3",
];
const Q35_NVME: &str = "01:00.0";
const Q35_E1000E: &str = "02:00.0";
const Q35_UART: &str = "03:00.0";

/// The Q35 guest's report beyond the common one: every PCIe function's configuration space
/// size and the first extended capability header (offset 0x100), the NVMe controller's
/// I/O and its MSI-X interrupts, and the 16550's INTx workload.
fn q35_report() -> String {
    format!(
        r#"for bdf in {Q35_NVME} {Q35_E1000E} {Q35_UART}; do
    dev=/sys/bus/pci/devices/0000:$bdf
    echo "pcie-config: $bdf $(stat -c %s $dev/config) $(od -An -tx4 -j256 -N4 $dev/config | tr -d ' ')"
done
timeout 60 dd if=/dev/nvme0n1 of=/dev/null bs=64k count=32 iflag=direct 2>/dev/null && echo "nvme-io: ok"
grep nvme0q /proc/interrupts | awk '{{ n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print "nvme-irq: " n " " $0 }}'
{}"#,
        irq_workload(&[Q35_UART])
    )
}

/// The tables as the firmware gave them, copied before anything runs: [`TABLE_DUMP`] prints
/// this copy. Xen's hvmloader's AML rewrites its MADT in memory when a vCPU comes (`_MAT`
/// through `MATR`/`MSUM`), and after `xl vcpu-set` here the tables Linux exported through it
/// had bytes one less than hvmloader writes in the HPET, WAET and both SSDTs, with bad
/// checksums; the comparison is of what each firmware built.
const TABLE_SNAPSHOT: &str = "mkdir -p /tmp/acpi-at-boot\n\
    cp /sys/firmware/acpi/tables/* /tmp/acpi-at-boot/ 2>/dev/null\n";

/// The guest's side of the hot-plug steps, before its report: it announces each step on its
/// console (the dom0's driver acts on those lines), and reports what Linux made of it.
/// Every wait is bounded, so a step that never comes costs minutes, not the run.
const HOTPLUG_STEPS: &str = r#"wait_until() {
    i=0
    while ! eval "$1"; do
        i=$((i + 1)); [ $i -ge $(($2 * 2)) ] && return 1; sleep 0.5
    done
}
cpus=/sys/devices/system/cpu
echo "hotplug-step: ready"
if wait_until "[ -e $cpus/cpu1/online ]" 300; then
    echo 1 > $cpus/cpu1/online
    echo "hotplug-cpu-added: online $(cat $cpus/online)"
else
    echo "hotplug-cpu-added: none, present $(cat $cpus/present)"
fi
echo "hotplug-step: cpu added"
if wait_until '[ ! -e $cpus/cpu1 ] || [ "$(cat $cpus/online)" = 0 ]' 30; then
    echo "hotplug-cpu-removed: yes, online $(cat $cpus/online)"
else
    echo "hotplug-cpu-removed: no, online $(cat $cpus/online)"
fi
echo "hotplug-step: cpu removal checked"
known=$(ls /sys/bus/pci/devices | tr '\n' ' ')
new=
# Waits for a function not in $known and reports it as $1 (its IDs, IRQ, driver, BAR 0).
report_added() {
    new=
    if wait_until '[ "$(ls /sys/bus/pci/devices | wc -l)" -gt $(echo $known | wc -w) ]' 300; then
        sleep 2
        for dev in /sys/bus/pci/devices/*; do
            case " $known " in *" ${dev##*/} "*) ;; *) new=$dev ;; esac
        done
        echo "hotplug-pci-added: $1 ${new##*/} $(cat $new/vendor):$(cat $new/device) irq $(cat $new/irq) driver $(basename "$(readlink $new/driver)")"
        echo "hotplug-pci-bar0: $1 $(head -1 $new/resource)"
        known="$known ${new##*/}"
    else
        echo "hotplug-pci-added: $1 none"
    fi
}
report_added disk
echo "hotplug-step: disk added"
report_added serial
echo "hotplug-step: serial added"
if [ -n "$new" ] && wait_until "[ ! -e $new ]" 120; then
    echo "hotplug-pci-removed: serial yes"
else
    echo "hotplug-pci-removed: serial no"
fi
dmesg | grep -iE 'cpu1|cpu 1|hotplug|acpiphp|eject|1b36' | sed 's/^/hotplug-dmesg: /'
"#;

/// Every ACPI table Linux found, gzipped and in base64 between markers, for the comparison
/// with Xen's own hvmloader's (about 4 KiB of console output).
const TABLE_DUMP: &str = r#"# Keep the kernel's console quiet while the tables go out (dmesg keeps everything), then
# give it back: the test waits for Linux's power-off line there.
read console_level rest < /proc/sys/kernel/printk
echo 0 > /proc/sys/kernel/printk
for table in /tmp/acpi-at-boot/*; do
    [ -f "$table" ] || continue
    echo "acpi-table-begin: ${table##*/}"
    gzip -c "$table" | base64
    echo "acpi-table-end: ${table##*/}"
done
echo "$console_level" > /proc/sys/kernel/printk
"#;

/// The dom0's side: once the guest says it is ready, `xl vcpu-set` to two vCPUs, then back
/// to one, then through the device model's monitor (the ACPI hot-plug path `xl pci-attach`
/// also takes) `device_add` of an NVMe controller and of a PCI 16550, and `device_del` of
/// the 16550. Not of the NVMe controller: Debian's device model (QEMU 7.2) aborts while
/// removing it (`memory_region_del_subregion: Assertion 'subregion->container == mr'`),
/// under Xen's own hvmloader as under ours.
fn hotplug_driver() -> String {
    format!(
        r#"guest=$1
step() {{
    i=0
    until grep -q "hotplug-step: $1" {GUEST_SERIAL_LOG} 2>/dev/null; do
        i=$((i + 1)); [ $i -ge 1200 ] && {{ echo "driver: no '$1' from the guest"; exit 0; }}
        sleep 0.5
    done
    echo "driver: guest $1; $2"
    shift 2
    "$@"; echo "driver: exit $?"
}}
step ready "vcpu-set 2" xl vcpu-set "$guest" 2
step "cpu added" "vcpu-set 1" xl vcpu-set "$guest" 1
step "cpu removal checked" "device_add nvme" xl qemu-monitor-command "$guest" "device_add nvme,id=hp1,serial=hotplug"
step "disk added" "device_add pci-serial" xl qemu-monitor-command "$guest" "device_add pci-serial,id=hp2"
step "serial added" "device_del pci-serial" xl qemu-monitor-command "$guest" "device_del hp2"
"#
    )
}

/// Where the device model writes the 16550's output in dom0 (the probe script reads it).
const UART_LOG: &str = "/tmp/hvmrs-uart1.log";

/// Devices whose drivers need their INTx, added to the device model's command line: an
/// NVMe controller and a 16550, both on bus 0. Not behind a bridge: Debian's device model
/// (QEMU 7.2) hands Xen's configuration-space requests to a function by the bus number it
/// had when created, 0 for everything behind a bridge (hw/i386/xen/xen-hvm.c), so such a
/// function is never found (and aliases a bus-0 function). The xl.cfg line and what to
/// check.
fn irq_devices() -> (String, Vec<UnderTest>) {
    let args = [
        "-blockdev",
        "driver=null-co,node-name=nvme0,size=16777216,read-zeroes=on",
        "-device",
        "nvme,drive=nvme0,serial=xen-intx,addr=4",
        "-chardev",
        &format!("file,id=uart1,path={UART_LOG}"),
        "-device",
        "pci-serial,chardev=uart1,addr=5",
    ];
    let quoted: Vec<String> = args.iter().map(|a| format!("\"{a}\"")).collect();
    (
        format!("device_model_args_hvm = [ {} ]", quoted.join(", ")),
        vec![nvme("00:04.0", "NVMe on bus 0"), uart("00:05.0", "16550 on bus 0", 1)],
    )
}
/// From `xl create` to the power-off took 100-400 s here (TCG inside TCG): ISOLINUX reading
/// the 14 MB kernel through SeaBIOS's ATAPI PIO alone took 120-265 s, depending on what
/// else the 2-core machine ran.
const GUEST_TIMEOUT: Duration = Duration::from_secs(600);
/// The same for a guest that goes through the hot-plug steps.
const HOTPLUG_GUEST_TIMEOUT: Duration = Duration::from_secs(900);

/// What our firmware logged on Xen's console.
#[derive(Debug, Default)]
struct FirmwareLog {
    rsdp: Option<u64>,
    rsdp_copy: Option<u64>,
    /// (signature, address) of every table installed.
    tables: Vec<(String, u64)>,
    /// (bdf, "BARn") -> (base, size, io, prefetchable)
    placed: BTreeMap<(String, String), (u64, u64, bool, bool)>,
    /// RAM in the memory map Xen gave, in bytes.
    xen_ram: u64,
    /// The ECAM window (Q35): base and last byte.
    ecam: Option<(u64, u64)>,
    /// The low MMIO window the firmware declared: base and last byte.
    low_window: Option<(u64, u64)>,
}

fn parse_firmware(lines: &[&str]) -> FirmwareLog {
    let mut log = FirmwareLog::default();
    for line in lines {
        // "hvmrs LEVEL room: message"
        let message = line.splitn(3, ' ').nth(2).unwrap_or("").trim_start();
        if let Some(rest) = message.strip_prefix("boot: ACPI: RSDP at ") {
            // "0xffdd590, copy at 0xf0000"
            let mut parts = rest.split(", copy at ");
            log.rsdp = parts.next().map(|a| hex(a.trim()));
            log.rsdp_copy = parts.next().map(|a| hex(a.split_whitespace().next().unwrap()));
        } else if let Some(rest) = message.strip_prefix("boot: ACPI: ") {
            if let Some((signature, rest)) = rest.split_once(" at ") {
                log.tables.push((signature.to_string(), hex(rest.split(',').next().unwrap())));
            }
        } else if let Some(rest) = message.strip_prefix("boot: ECAM (MMCONFIG) at [") {
            // "0xf0000000-0xf3ffffff] for buses 00-3f, ..."
            let (first, last) = rest.split_once(']').unwrap().0.split_once('-').unwrap();
            log.ecam = Some((hex(first), hex(last)));
        } else if let Some(rest) = message.strip_prefix("boot: low window [") {
            // "0xe0000000-0xfbffffff] (used ...), 64-bit window ..."
            let (first, last) = rest.split_once(']').unwrap().0.split_once('-').unwrap();
            log.low_window = Some((hex(first), hex(last)));
        } else if let Some(rest) = message.strip_prefix("boot: memory map: [") {
            if let Some(range) = rest.strip_suffix("] RAM") {
                let (first, last) = range.split_once('-').unwrap();
                log.xen_ram += hex(last) + 1 - hex(first);
            }
        } else if let Some(rest) = message.strip_prefix("pci: ") {
            // "00:02.0 5853:0001 BAR1 mem32 pref base 0xfb000000 size 0x1000000"
            let words: Vec<&str> = rest.split_whitespace().collect();
            let Some(at) = words.iter().position(|w| *w == "base") else { continue };
            if words.len() < at + 4 || !words[2].starts_with("BAR") || words[at + 2] != "size" {
                continue;
            }
            let attributes = &words[3..at];
            log.placed.insert(
                (words[0].to_string(), words[2].to_string()),
                (
                    hex(words[at + 1]),
                    hex(words[at + 3]),
                    attributes.contains(&"io"),
                    attributes.contains(&"pref"),
                ),
            );
        }
    }
    log
}

/// What Linux reported.
#[derive(Debug, Default)]
struct LinuxReport {
    cpu_online: String,
    mem_total_kib: u64,
    hypervisor: String,
    acpi_tables: Vec<String>,
    /// bdf ("00:02.0") -> (vendor:device, driver)
    pci: BTreeMap<String, (String, String)>,
    /// (bdf, index) -> (start, end, flags)
    resources: BTreeMap<(String, usize), (u64, u64, u64)>,
    dmesg: Vec<String>,
    /// The tables of [`TABLE_DUMP`]: name, base64 of the gzipped table.
    table_dumps: Vec<(String, String)>,
    /// What the hot-plug steps reported (before the report).
    hotplug: HotplugSteps,
}

fn parse_report(report: &str) -> LinuxReport {
    let mut out = LinuxReport::default();
    let short = |bdf: &str| bdf.strip_prefix("0000:").unwrap_or(bdf).to_string();
    let mut table: Option<(String, String)> = None;
    for line in report.lines() {
        if let Some((name, text)) = table.as_mut() {
            let line = line.trim();
            if line.strip_prefix("acpi-table-end: ") == Some(name.as_str()) {
                out.table_dumps.extend(table.take());
                continue;
            }
            // The kernel's console may cut into a line (a soft-lockup warning did, after
            // "[  349.966335] "): its message runs to the end of that line, and the table's
            // text goes on on the next. Base64 has no '['.
            let data = line.split('[').next().unwrap_or_default();
            if data.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b)) {
                text.push_str(data);
            }
            continue;
        }
        let Some((key, value)) = line.split_once(": ") else { continue };
        match key {
            "acpi-table-begin" => table = Some((value.trim().to_string(), String::new())),
            "cpu-online" => out.cpu_online = value.trim().to_string(),
            "MemTotal" => {
                out.mem_total_kib = value.trim().trim_end_matches("kB").trim().parse().unwrap()
            }
            "hypervisor" => out.hypervisor = value.trim().to_string(),
            "acpi-tables" => {
                out.acpi_tables = value.split_whitespace().map(str::to_string).collect()
            }
            "pci" => {
                // "0000:00:02.0 0x5853:0x0001 driver xen-platform-pci"
                let words: Vec<&str> = value.split_whitespace().collect();
                let driver = words.get(3).copied().unwrap_or("").to_string();
                out.pci.insert(short(words[0]), (words[1].replace("0x", ""), driver));
            }
            "pci-resource" => {
                let words: Vec<&str> = value.split_whitespace().collect();
                out.resources.insert(
                    (short(words[0]), words[1].parse().unwrap()),
                    (hex(words[2]), hex(words[3]), hex(words[4])),
                );
            }
            "dmesg" => out.dmesg.push(value.to_string()),
            _ => {}
        }
    }
    out
}

/// The e820 map SeaBIOS printed last ("  3: 0000000000100000 - 000000000ffdb000 = 1 RAM"),
/// as Linux prints it ("BIOS-e820: [mem 0x...-0x...] usable").
fn seabios_e820(guest_lines: &[&str]) -> Vec<String> {
    let Some(start) = guest_lines.iter().rposition(|l| l.starts_with("e820 map has ")) else {
        return Vec::new();
    };
    guest_lines[start + 1..]
        .iter()
        .map_while(|l| {
            let (_, entry) = l.trim().split_once(": ")?;
            let (range, kind) = entry.split_once(" = ")?;
            let (first, end) = range.split_once(" - ")?;
            let kind = match kind.split_whitespace().next()? {
                "1" => "usable",
                "2" => "reserved",
                "3" => "ACPI data",
                "4" => "ACPI NVS",
                "5" => "unusable",
                _ => return None,
            };
            Some(format!("BIOS-e820: [mem {:#018x}-{:#018x}] {kind}", hex(first), hex(end) - 1))
        })
        .collect()
}

/// The text between two markers, if both came.
fn between<'a>(text: &'a str, begin: &str, end: &str) -> Option<&'a str> {
    let start = text.find(begin)? + begin.len();
    let len = text[start..].find(end)?;
    Some(text[start..start + len].trim_matches('\n'))
}

/// Boots the report ISO in a Xen HVM guest whose firmware is `firmware` (`None`: Xen's own
/// hvmloader) and prints how the domain ended.
fn boot_linux(
    test: &str,
    name: &'static str,
    shape: &Guest,
    firmware: Option<Vec<u8>>,
) -> Option<XenRun> {
    let (dom0, device_model) = if shape.q35 {
        let (dom0, entry) = dom0_and_q35_device_model_or_skip(test)?;
        (dom0, Some(entry))
    } else {
        (dom0_or_skip(test)?, None)
    };
    // One Xen at a time: each is a TCG QEMU running a nested hypervisor.
    static ONE_XEN_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _only_one = ONE_XEN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());

    // The boot ISO: ISOLINUX, the cloud kernel, an initramfs whose /init reports.
    let started = Instant::now();
    let linux = guest();
    let (devices, under_test) = irq_devices();
    // Workloads go in the report, before its end marker.
    let workload = match (shape.q35, shape.intx) {
        (true, _) => q35_report(),
        (false, Some(_)) => irq_workload(&under_test.iter().map(|d| d.bdf).collect::<Vec<_>>()),
        (false, None) => String::new(),
    };
    let end = format!("echo \"{REPORT_END}\"");
    let mut body = REPORT_BODY.replace(&end, &format!("{workload}{end}"));
    if shape.hotplug {
        body.insert_str(0, HOTPLUG_STEPS);
    }
    if shape.dump_tables {
        body.insert_str(0, TABLE_SNAPSHOT);
        body = body.replace(&end, &format!("{TABLE_DUMP}{end}"));
    }
    let initrd = linux.initrd_with_init(&body);
    let iso_dir = common::scratch(&format!("xen-{name}-iso"));
    let iso = iso_dir.join("linux.iso");
    iso_tools()
        .boot_iso(&linux.kernel, &initrd, &shape.append(), &iso_dir, &iso)
        .unwrap_or_else(|e| panic!("{test}: the boot ISO: {e}"));
    eprintln!(
        "{test}: {} KiB ISO with {} in {:?}",
        std::fs::metadata(&iso).map_or(0, |m| m.len() >> 10),
        linux.kernel_package,
        started.elapsed()
    );

    let scenario = Scenario {
        name,
        firmware_override: firmware,
        memory_mib: shape.memory_mib,
        vcpus: shape.vcpus,
        // Only our fatal error ends the wait early; otherwise it lasts until the domain
        // shuts down (Linux powered off, rebooted after a panic, or crashed).
        wait_for: r"hvmrs .*fatal: ",
        // The hot-plug steps add about 2 minutes (and a 30 s wait for a removal that
        // does not come) to a boot that alone takes up to 400 s on a loaded machine.
        guest_timeout: if shape.hotplug { HOTPLUG_GUEST_TIMEOUT } else { GUEST_TIMEOUT },
    };
    let mut extras = GuestExtras {
        files: vec![("linux.iso".to_string(), iso.clone())],
        config: vec![
            format!(
                "disk = ['format=raw,vdev=hdc,access=ro,devtype=cdrom,target={TEST_MOUNT}/linux.iso']"
            ),
            r#"boot = "d""#.to_string(),
        ]
        .into_iter()
        .chain(shape.config.iter().cloned())
        .collect(),
    };
    match device_model {
        Some(entry) => extras.use_q35_device_model(entry, Q35_DEVICES),
        None if shape.intx.is_some() => extras.config.push(devices),
        None => {}
    }
    if shape.hotplug {
        extras.config.push(format!("maxvcpus = {}", shape.vcpus + 1));
        let driver = iso_dir.join(DRIVER_SCRIPT);
        std::fs::write(&driver, hotplug_driver()).expect("write the driver script");
        extras.files.push((DRIVER_SCRIPT.to_string(), driver));
    }
    if shape.q35 || shape.intx.is_some() {
        // What the 16550 sent, read in dom0 once the guest is done.
        let probe = iso_dir.join(PROBE_SCRIPT);
        std::fs::write(&probe, format!("cat {UART_LOG}\n")).expect("write the probe script");
        extras.files.push((PROBE_SCRIPT.to_string(), probe));
    }
    let mut run = run_with(dom0, &scenario, &extras);
    // A guest with a second vCPU triple-faults now and then in this nested setup (QEMU's
    // TCG emulation of SVM under Xen): through Xen's own hvmloader as through ours, in the
    // firmware or in Linux, at no fixed place (see the README). Such a guest gets one more
    // try; the first fault is printed, and a second one fails the test.
    if (shape.vcpus > 1 || shape.hotplug)
        && let Some(fault) = run.xen_fault().filter(|l| l.contains("Triple fault"))
    {
        let registers: Vec<&str> =
            run.console.lines().filter(|l| l.starts_with("(XEN) RIP:")).collect();
        eprintln!("{test}: {fault} ({}); once more", registers.join(" "));
        run = run_with(dom0, &scenario, &extras);
    }
    let (seabios, ended) = run.timing();
    eprintln!(
        "{test}: from xl create: SeaBIOS after {seabios:?} s, power-off after {ended:?} s; \
         Xen boot, guest and power-off took {:?}; wait {:?}, xl list state {:?}, \
         shutdown reason {:?}, Xen fault {:?}",
        run.elapsed,
        run.section("wait"),
        run.listed_state(),
        run.shutdown_reason(),
        run.xen_fault()
    );
    Some(run)
}

/// A table dump survives the kernel's console cutting into it, as a soft-lockup warning did.
#[test]
fn a_kernel_message_inside_a_table_dump_is_left_out() {
    let report = "acpi-table-begin: FACP\n\
                  H4sIAAAA\n\
                  AAAB[  349.966335] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [poweroff:9]\n\
                  CCDD==\n\
                  [  350.000001] a whole line of the kernel's\n\
                  acpi-table-end: FACP\n";
    let dumps = parse_report(report).table_dumps;
    assert_eq!(dumps, [("FACP".to_string(), "H4sIAAAAAAABCCDD==".to_string())]);
}

/// The control for the tests below: the same ISO and a 2-vCPU guest with Xen's own
/// hvmloader. Here it triple-faults as often as ours does (see the 2-vCPU test).
#[test]
#[ignore = "a diagnostic: 3-8 minutes of TCG; run with --ignored"]
fn linux_in_a_xen_guest_with_xens_own_hvmloader() {
    const TEST: &str = "linux_in_a_xen_guest_with_xens_own_hvmloader";
    let Some(run) = boot_linux(TEST, "linux-stock", &Guest::default_config(2), None) else {
        return;
    };
    let serial = run.section("guest-serial").unwrap_or("");
    assert!(between(serial, REPORT_BEGIN, REPORT_END).is_some(), "no report\n{run}");
    assert_eq!(run.shutdown_reason(), Some(0), "not powered off\n{run}");
}

/// The proof under Xen: one vCPU, every check, and INTx in APIC mode.
#[test]
fn linux_in_a_xen_guest_uses_our_firmware_and_powers_off() {
    linux_through_our_firmware(
        "linux_in_a_xen_guest_uses_our_firmware_and_powers_off",
        "linux",
        &Guest { intx: Some(true), ..Guest::default_config(1) },
    );
}

/// `mmio_hole = 3584` with 1 GiB: the PCI hole starts at 512 MiB and Xen puts the other
/// 512 MiB above 4 GiB. Linux must get all of it from our memory map and keep every BAR
/// where we placed it in the moved hole.
#[test]
fn linux_in_a_xen_guest_with_ram_above_4_gib_and_a_large_mmio_hole() {
    let shape = Guest {
        memory_mib: 1024,
        config: vec!["mmio_hole = 3584".into()],
        // And INTx in PIC mode.
        intx: Some(false),
        ..Guest::default_config(1)
    };
    let linux = linux_through_our_firmware(
        "linux_in_a_xen_guest_with_ram_above_4_gib_and_a_large_mmio_hole",
        "linux-high-ram",
        &shape,
    );
    let Some(linux) = linux else { return };
    let high_ram = linux
        .dmesg
        .iter()
        .filter_map(|l| l.split_once("BIOS-e820: [mem ")?.1.split_once("] usable"))
        .filter_map(|(range, _)| range.split_once('-'))
        .any(|(first, _)| hex(first) >= 1 << 32);
    assert!(high_ram, "Linux has no usable RAM above 4 GiB:\n{}", linux.dmesg.join("\n"));
}

/// Q35 on the project's device model (tools/xen-dm): 1 GiB, three PCIe root ports with an
/// NVMe controller, an e1000e and a 16550 behind them, the CD on AHCI. Beyond every check of
/// the i440FX guests: Linux uses MMCONFIG at our ECAM window (reserved), reads 4 KiB of
/// configuration space and the extended capabilities of the PCIe functions, drives the
/// NVMe with MSI-X and the 16550 with its INTx (Xen's wiring, swizzled to the root port),
/// and binds xen-platform-pci.
#[test]
fn linux_in_a_q35_xen_guest_uses_our_firmware_and_powers_off() {
    let shape = Guest { memory_mib: 1024, q35: true, ..Guest::default_config(1) };
    linux_through_our_firmware(
        "linux_in_a_q35_xen_guest_uses_our_firmware_and_powers_off",
        "linux-q35",
        &shape,
    );
}

/// vCPU hot-add, PCI hot-plug and the ACPI tables under Xen, in one Linux boot (a guest with
/// one vCPU of two): `xl vcpu-set` to two and back to one, then `device_add` and
/// `device_del` of an NVMe controller through the device model; then the tables Linux got.
/// Xen's own hvmloader on the same guest is the control, and its tables are the reference
/// the README's comparison explains difference by difference.
#[test]
fn hot_plug_of_a_vcpu_and_a_pci_device_under_xen() {
    const TEST: &str = "hot_plug_of_a_vcpu_and_a_pci_device_under_xen";
    let shape = Guest {
        hotplug: true,
        dump_tables: true,
        // Both vCPUs on one of the two physical CPUs: QEMU runs each of them in a TCG thread
        // of its own, and a guest whose two vCPUs run at once has triple-faulted and hung
        // here now and then (see the README).
        config: vec![r#"cpus = "1""#.to_string()],
        ..Guest::default_config(1)
    };
    let Some(ours) = linux_through_our_firmware(TEST, "linux-hotplug", &shape) else { return };
    let Some(stock) = boot_linux(TEST, "linux-hotplug-stock", &shape, None) else { return };
    let serial = stock.section("guest-serial").unwrap_or("");
    let Some(report) = between(serial, REPORT_BEGIN, REPORT_END) else {
        panic!("{TEST}: Linux printed no complete report with Xen's hvmloader\n{stock}");
    };
    let control = parse_report(report);
    let control_steps = HotplugSteps::parse(serial);
    eprintln!("{TEST}: with Xen's own hvmloader: {control_steps:#?}");

    let mut problems = Problems::default();
    // Neither firmware can take a vCPU away from a running HVM guest: libxl (4.17) hot-adds
    // vCPUs through the device model and only writes cpu/N/availability to xenstore for a
    // removal, which Linux watches in PV and PVH guests only. The guest must keep the vCPU
    // as it does with hvmloader.
    problems.check(ours.hotplug.after_vcpu_removal == control_steps.after_vcpu_removal, || {
        format!(
            "after `xl vcpu-set 1`: CPUs online {:?} with our firmware, {:?} with hvmloader",
            ours.hotplug.after_vcpu_removal, control_steps.after_vcpu_removal
        )
    });
    let scratch = common::scratch("xen-hotplug-acpi");
    match compare_with_hvmloader(&ours.table_dumps, &control.table_dumps, &scratch) {
        Ok(unexplained) => problems.0.extend(unexplained),
        Err(e) => problems.0.push(format!("the comparison with hvmloader's tables failed: {e}")),
    }
    assert!(
        problems.0.is_empty(),
        "{TEST}: {} problem(s):\n  - {}",
        problems.0.len(),
        problems.0.join("\n  - ")
    );
}

/// What the guest's hot-plug steps ([`HOTPLUG_STEPS`]) reported.
#[derive(Debug, Default)]
struct HotplugSteps {
    /// The CPUs online once the added vCPU was brought up (`None`: it never appeared).
    after_vcpu_add: Option<String>,
    /// The CPUs online after `xl vcpu-set 1`.
    after_vcpu_removal: Option<String>,
    /// The functions that appeared after each `device_add`, by label (`disk`, `serial`).
    added: BTreeMap<String, HotAdded>,
    /// The labels of those gone after `device_del`.
    removed: Vec<String>,
}

/// A hot-added PCI function as Linux saw it.
#[derive(Debug)]
struct HotAdded {
    bdf: String,
    ids: String,
    irq: u32,
    driver: String,
    /// BAR 0: first and last address, flags.
    bar0: (u64, u64, u64),
}

impl HotplugSteps {
    fn parse(serial: &str) -> Self {
        let mut steps = HotplugSteps::default();
        for line in serial.lines().map(str::trim) {
            let Some((key, value)) = line.split_once(": ") else { continue };
            let words: Vec<&str> = value.split_whitespace().collect();
            match (key, words.as_slice()) {
                ("hotplug-cpu-added", ["online", cpus]) => {
                    steps.after_vcpu_add = Some(cpus.to_string())
                }
                ("hotplug-cpu-removed", [_, "online", cpus]) => {
                    steps.after_vcpu_removal = Some(cpus.to_string())
                }
                ("hotplug-pci-added", [label, bdf, ids, "irq", irq, "driver", driver]) => {
                    let added = HotAdded {
                        bdf: bdf.trim_start_matches("0000:").to_string(),
                        ids: ids.replace("0x", ""),
                        irq: irq.parse().unwrap_or(0),
                        driver: driver.to_string(),
                        bar0: (0, 0, 0),
                    };
                    steps.added.insert(label.to_string(), added);
                }
                ("hotplug-pci-bar0", [label, first, last, flags]) => {
                    if let Some(added) = steps.added.get_mut(*label) {
                        added.bar0 = (hex(first), hex(last), hex(flags));
                    }
                }
                ("hotplug-pci-removed", [label, "yes"]) => steps.removed.push(label.to_string()),
                _ => {}
            }
        }
        steps
    }
}

/// Our firmware's part in the hot-plug steps: the vCPU came online; the NVMe controller
/// and the 16550 came with BAR 0 in the windows our firmware declared (memory: the low
/// window; I/O: PCI0's 0x0D00-0xFFFF) and an interrupt their drivers took; the 16550 went
/// again after `device_del`.
fn check_hotplug(fw: &FirmwareLog, steps: &HotplugSteps, problems: &mut Problems) {
    problems.check(steps.after_vcpu_add.as_deref() == Some("0-1"), || {
        format!("after `xl vcpu-set 2` Linux has CPUs {:?} online, not 0-1", steps.after_vcpu_add)
    });
    /// The I/O window of PCI0's `_CRS` above the configuration ports.
    const IO_WINDOW: (u64, u64) = (0x0D00, 0xFFFF);
    /// Linux's resource flags: I/O, memory.
    const IORESOURCE_IO: u64 = 0x100;
    const IORESOURCE_MEM: u64 = 0x200;
    for (label, driver, kind) in
        [("disk", "nvme", IORESOURCE_MEM), ("serial", "serial", IORESOURCE_IO)]
    {
        let Some(added) = steps.added.get(label) else {
            problems.check(false, || {
                format!("Linux found no new PCI function after the {label}'s device_add")
            });
            continue;
        };
        let window = if kind == IORESOURCE_IO { Some(IO_WINDOW) } else { fw.low_window };
        let (first, last, flags) = added.bar0;
        let placed = flags & kind != 0
            && first <= last
            && window.is_some_and(|(start, end)| first >= start && last <= end);
        problems.check(placed, || {
            format!(
                "the hot-added {label} {} ({}) has BAR 0 at [{first:#x}-{last:#x}] flags {flags:#x}, \
                 not in the window {window:x?}",
                added.bdf, added.ids
            )
        });
        problems.check(added.driver == driver && added.irq != 0, || {
            format!(
                "the hot-added {label} {} ({}) has driver {:?} and IRQ {}, not {driver} with an \
                 interrupt",
                added.bdf, added.ids, added.driver, added.irq
            )
        });
    }
    problems.check(steps.removed.iter().any(|l| l == "serial"), || {
        "the 16550 was still there after device_del (Linux did not eject it)".to_string()
    });
}

/// Decodes the tables of [`TABLE_DUMP`] (name, base64 of the gzipped table).
fn decode_tables(dumps: &[(String, String)]) -> Result<Vec<(String, Vec<u8>)>, String> {
    dumps
        .iter()
        .map(|(name, text)| {
            let mut child = std::process::Command::new("sh")
                .args(["-c", "base64 -d | gzip -dc"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("base64 | gzip: {e}"))?;
            let mut stdin = child.stdin.take().expect("piped");
            let input = text.clone();
            let writer = std::thread::spawn(move || {
                use std::io::Write as _;
                stdin.write_all(input.as_bytes())
            });
            let out = child.wait_with_output().map_err(|e| format!("base64 | gzip: {e}"))?;
            writer.join().expect("writer").map_err(|e| format!("base64 | gzip: {e}"))?;
            if !out.status.success() {
                return Err(format!("{name}: {}", String::from_utf8_lossy(&out.stderr).trim()));
            }
            Ok((name.clone(), out.stdout))
        })
        .collect()
}

/// The README's section listing every difference between our tables and Xen's hvmloader's.
const COMPARISON_HEADING: &str = "### Compared with Xen's hvmloader";

/// Compares the tables Linux got from our firmware with those it got from Xen's hvmloader,
/// and each difference with the README's table under [`COMPARISON_HEADING`]: every
/// difference must match a row's pattern, and every pattern a difference. Returns what is
/// unexplained or stale.
fn compare_with_hvmloader(
    ours: &[(String, String)],
    theirs: &[(String, String)],
    scratch: &std::path::Path,
) -> Result<Vec<String>, String> {
    use xtask::acpi_dump::compare::{Summary, differences, glob};
    let mut summaries = Vec::new();
    for (label, dumps) in [("ours", ours), ("hvmloader", theirs)] {
        let tables = decode_tables(dumps)?;
        if tables.is_empty() {
            return Err(format!("the guest printed no ACPI table ({label})"));
        }
        let raw = scratch.join(format!("{label}-tables"));
        std::fs::create_dir_all(&raw).map_err(|e| e.to_string())?;
        for (name, bytes) in &tables {
            std::fs::write(raw.join(format!("{name}.aml")), bytes).map_err(|e| e.to_string())?;
        }
        let dump = xtask::acpi_dump::dump_reference(&raw, &scratch.join(label))?;
        summaries.push(Summary::load(label, &dump.masked_dir())?);
    }
    let found = differences(&summaries[0], &summaries[1]);
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .map_err(|e| format!("README.md: {e}"))?;
    let rows = comparison_rows(&readme)?;
    let mut problems: Vec<String> = found
        .iter()
        .filter(|d| !rows.iter().any(|(patterns, _)| patterns.iter().any(|p| glob(p, d))))
        .map(|d| format!("unexplained difference from hvmloader's tables: {d}"))
        .collect();
    for (patterns, _) in &rows {
        for pattern in patterns.iter().filter(|p| !found.iter().any(|d| glob(p, d))) {
            problems.push(format!("README row `{pattern}` matches no difference (stale)"));
        }
    }
    let listed = scratch.join("differences.txt");
    std::fs::write(&listed, found.join("\n")).map_err(|e| format!("{}: {e}", listed.display()))?;
    eprintln!(
        "our tables and hvmloader's: {} differences (in {}), {} README rows",
        found.len(),
        listed.display(),
        rows.len()
    );
    Ok(problems)
}

/// The rows of the README's comparison table: the backticked patterns of the first cell and
/// the reason in the second.
fn comparison_rows(readme: &str) -> Result<Vec<(Vec<String>, String)>, String> {
    let section = readme
        .split_once(COMPARISON_HEADING)
        .ok_or_else(|| format!("README.md has no `{COMPARISON_HEADING}` section"))?
        .1;
    let mut rows = Vec::new();
    for line in
        section.lines().skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'))
    {
        let cells: Vec<&str> = line.trim_matches('|').split(" | ").map(str::trim).collect();
        let [first, why] = cells.as_slice() else { continue };
        let patterns: Vec<String> =
            first.split('`').skip(1).step_by(2).map(str::to_string).collect();
        if !patterns.is_empty() {
            rows.push((patterns, why.to_string()));
        }
    }
    if rows.is_empty() {
        return Err(format!("README.md's `{COMPARISON_HEADING}` has no table rows"));
    }
    Ok(rows)
}

/// Two vCPUs: the AP our firmware started with VCPUOP and took down again is started by
/// Linux. Ignored: it takes about 8 minutes here, and Linux in a 2-vCPU guest of this nested
/// setup (Xen on QEMU TCG with emulated SVM) triple-faults now and then at the same kernel
/// address with our firmware and with Xen's own hvmloader (the control above), so it is the
/// setup's, not ours.
#[test]
#[ignore = "about 8 minutes, and an intermittent triple fault of Linux in 2-vCPU guests of \
            nested TCG, with Xen's hvmloader too (see the README); run with --ignored"]
fn linux_in_a_two_vcpu_xen_guest_uses_our_firmware_and_powers_off() {
    linux_through_our_firmware(
        "linux_in_a_two_vcpu_xen_guest_uses_our_firmware_and_powers_off",
        "linux-2-vcpus",
        &Guest::default_config(2),
    );
}

/// Boots Linux through our firmware in a guest of `shape` and checks everything; returns
/// what Linux reported (`None`: the machine cannot run Xen).
fn linux_through_our_firmware(
    test: &str,
    name: &'static str,
    shape: &Guest,
) -> Option<LinuxReport> {
    let firmware = std::fs::read(common::image("hvmloader")).expect("read target/hvmloader");
    let run = boot_linux(test, name, shape, Some(firmware))?;
    let serial = run.section("guest-serial").unwrap_or("");
    let Some(report) = between(serial, REPORT_BEGIN, REPORT_END) else {
        panic!(
            "{test}: Linux printed no complete report (shutdown reason {:?}, Xen fault {:?})\n{run}",
            run.shutdown_reason(),
            run.xen_fault()
        );
    };
    let ours = run.firmware_lines();
    let guest_lines = run.guest_lines();
    let fw = parse_firmware(&ours);
    let mut linux = parse_report(report);
    eprintln!("{test}: Linux reported:\n{report}");
    assert!(
        fw.rsdp.is_some() && !fw.tables.is_empty(),
        "our firmware logged no ACPI tables\n{run}"
    );

    if shape.hotplug {
        linux.hotplug = HotplugSteps::parse(serial);
    }
    let mut problems = Problems::default();
    check_boot(&run, &ours, &mut problems);
    check_acpi(&fw, &guest_lines, &linux, &mut problems);
    // The report comes after the hot-plug steps: with the added vCPU.
    let online = shape.vcpus + u32::from(shape.hotplug);
    check_cpus_and_platform_device(&fw, &linux, online, &mut problems);
    check_memory(&fw, &guest_lines, &linux, shape.memory_mib, &mut problems);
    check_poweroff(&run, serial, &mut problems);
    if shape.q35 {
        check_q35(&fw, &run, report, &linux, &mut problems);
    }
    if shape.hotplug {
        eprintln!(
            "{test}: hot-plug: {:#?}\ndriver:\n{}",
            linux.hotplug,
            run.section("driver").unwrap_or("")
        );
        check_hotplug(&fw, &linux.hotplug, &mut problems);
    }
    if let Some(apic) = shape.intx.filter(|_| !shape.q35) {
        let (_, under_test) = irq_devices();
        let sent = run.section("probe").unwrap_or("").to_string();
        check_irq_workload(&mut problems, &under_test, report, |_| sent.clone());
        problems.check(interrupt_model_ok(linux.dmesg.iter().map(String::as_str), apic), || {
            format!(
                "Linux did not route interrupts through the {}:{}",
                if apic { "IOAPIC" } else { "PIC" },
                indented(&dmesg_matching(&linux.dmesg, &["interrupt routing", "noapic"]))
            )
        });
    }

    if !problems.0.is_empty() {
        let mut message = format!("{test}: {} problem(s):\n", problems.0.len());
        for problem in &problems.0 {
            let _ = writeln!(message, "  - {problem}");
        }
        panic!("{message}the whole Xen console: target/test-scratch/xen-{name}/console.log\n{run}");
    }
    Some(linux)
}

/// What the Q35 guest adds: MMCONFIG, extended configuration space, MSI-X and INTx.
fn check_q35(
    fw: &FirmwareLog,
    run: &XenRun,
    report: &str,
    linux: &LinuxReport,
    problems: &mut Problems,
) {
    let Some((base, end)) = fw.ecam else {
        problems.check(false, || "our firmware logged no ECAM window".to_string());
        return;
    };
    let mmconfig = dmesg_matching(&linux.dmesg, &["MMCONFIG"]);
    let window = format!("[mem {base:#010x}-{end:#010x}]");
    let found = format!("PCI: MMCONFIG for domain 0000 [bus 00-3f] at {window} (base {base:#x})");
    problems.check(mmconfig.iter().any(|l| l.contains(&found)), || {
        format!("Linux did not take our ECAM (`{found}`):{}", indented(&mmconfig))
    });
    let reserved = [
        format!("PCI: MMCONFIG at {window} reserved in E820"),
        format!("PCI: MMCONFIG at {window} reserved as ACPI motherboard resource"),
    ];
    problems
        .check(mmconfig.iter().any(|l| reserved.iter().any(|r| l.contains(r.as_str()))), || {
            format!("Linux did not accept our ECAM as reserved:{}", indented(&mmconfig))
        });
    // The 16550 is a conventional PCI function: 256 bytes.
    for (bdf, expected) in [(Q35_NVME, "4096"), (Q35_E1000E, "4096"), (Q35_UART, "256")] {
        let line = report.lines().find_map(|l| l.strip_prefix(&format!("pcie-config: {bdf} ")));
        let (size, header) = line.and_then(|l| l.split_once(' ')).unwrap_or(("", ""));
        problems.check(size == expected, || {
            format!("{bdf}: Linux reads {size:?} bytes of configuration space, not {expected}")
        });
        if bdf == Q35_E1000E {
            // e1000e's first extended capability: AER (ID 0x0001).
            problems.check(header.len() == 8 && header.ends_with("0001"), || {
                format!("{bdf}: the extended capability at 0x100 reads {header:?}, not AER")
            });
        }
    }
    problems.check(report.contains("nvme-io: ok"), || "the NVMe controller did no I/O".into());
    let msi: Vec<&str> = report.lines().filter_map(|l| l.strip_prefix("nvme-irq: ")).collect();
    // Under Xen, MSI-X vectors are Xen pirqs: "xen-pirq -msi-x nvme0q1".
    let counted = msi.iter().any(|l| {
        l.to_ascii_lowercase().contains("msi")
            && l.split_whitespace().next().is_some_and(|n| n != "0")
    });
    problems.check(counted, || format!("no NVMe interrupt counted on MSI-X: {msi:?}"));
    let sent = run.section("probe").unwrap_or("").to_string();
    let uart = [uart(Q35_UART, "16550 behind a PCIe root port", 1)];
    check_irq_workload(problems, &uart, report, |_| sent.clone());
    problems.check(linux.pci.get("00:01.0").is_some_and(|(_, d)| d == "xen-platform-pci"), || {
        format!("xen-platform-pci is not bound to the platform device: {:?}", linux.pci)
    });
}

fn check_boot(run: &XenRun, ours: &[&str], problems: &mut Problems) {
    problems
        .check(run.create_status() == 0, || format!("xl create failed: {}", run.create_output()));
    let fatal: Vec<&str> = ours
        .iter()
        .copied()
        .filter(|l| l.contains("fatal: ") || l.starts_with("hvmrs ERROR"))
        .collect();
    problems.check(fatal.is_empty(), || format!("our firmware logged errors:{}", indented(&fatal)));
    problems.check(run.xen_fault().is_none(), || {
        format!("Xen stopped the guest for a fault: {:?}", run.xen_fault())
    });
    let guest = run.guest_lines();
    let handoff = guest.iter().position(|l| l.contains("handoff: SeaBIOS: "));
    let booting = guest.iter().position(|l| l.contains("Booting from DVD/CD"));
    problems.check(handoff.is_some() && booting > handoff, || {
        "our firmware did not hand off to SeaBIOS, or SeaBIOS did not boot the CD".to_string()
    });
}

fn check_acpi(fw: &FirmwareLog, guest: &[&str], linux: &LinuxReport, problems: &mut Problems) {
    let rsdp = fw.rsdp.unwrap();
    // SeaBIOS copies the RSDP it is handed into its F segment: "Copying ACPI RSDP from
    // 0x0ffdd590 to 0x000f5cd0". Linux scans the BIOS area and takes the first it finds.
    let seabios_copy = guest.iter().find_map(|l| {
        let rest = l.strip_prefix("Copying ACPI RSDP from ")?;
        let (from, to) = rest.split_once(" to ")?;
        (hex(from) == rsdp).then(|| hex(to))
    });
    problems.check(seabios_copy.is_some(), || {
        format!("SeaBIOS did not copy the RSDP we logged ({rsdp:#x})")
    });
    let expected: Vec<u64> =
        [Some(rsdp), fw.rsdp_copy, seabios_copy].into_iter().flatten().collect();
    let rsdp_lines = dmesg_matching(&linux.dmesg, &["ACPI: RSDP "]);
    let found = rsdp_lines.first().and_then(|l| {
        let at = l.split("ACPI: RSDP ").nth(1)?.split_whitespace().next()?;
        Some(hex(at))
    });
    problems.check(
        rsdp_lines.len() == 1
            && rsdp_lines[0].contains("(v02 Xen   )")
            && found.is_some_and(|a| expected.contains(&a)),
        || {
            format!(
                "Linux's RSDP is not ours (v02 Xen at one of {expected:x?}):{}",
                indented(&rsdp_lines)
            )
        },
    );
    check_tables_found(problems, &fw.tables, &linux.dmesg, &linux.acpi_tables);
    let complaints = dmesg_matching(
        &linux.dmesg,
        &["ACPI Error", "ACPI BIOS Error", "ACPI Warning", "[Firmware Bug]", "[Firmware Warn]"],
    );
    problems.check(complaints.is_empty(), || {
        format!("Linux complains about the firmware:{}", indented(&complaints))
    });
    problems.check(linux.dmesg.iter().any(|l| l.contains("ACPI: Interpreter enabled")), || {
        "the ACPI interpreter was not enabled".to_string()
    });
    // xl's defaults (acpi_s3 = acpi_s4 = 1) ask for both sleep states, as hvmloader's
    // optional SSDTs give them.
    problems.check(linux.dmesg.iter().any(|l| l.contains("(supports S0 S3 S4 S5)")), || {
        format!(
            "Linux does not see S3 and S4:{}",
            indented(&dmesg_matching(&linux.dmesg, &["supports S0"]))
        )
    });
}

fn check_cpus_and_platform_device(
    fw: &FirmwareLog,
    linux: &LinuxReport,
    vcpus: u32,
    problems: &mut Problems,
) {
    let expected = if vcpus == 1 { "0".to_string() } else { format!("0-{}", vcpus - 1) };
    problems.check(linux.cpu_online == expected, || {
        format!(
            "CPUs online: {:?}, expected {expected:?}:{}",
            linux.cpu_online,
            indented(&dmesg_matching(&linux.dmesg, &["smpboot", "smp: ", "CPU"]))
        )
    });
    problems.check(linux.hypervisor == "xen", || {
        format!("/sys/hypervisor/type is {:?}, not xen", linux.hypervisor)
    });

    let platform = linux.pci.iter().find(|(_, (id, _))| id == "5853:0001");
    problems.check(platform.is_some(), || {
        format!("no Xen platform device 5853:0001 among {:?}", linux.pci)
    });
    problems
        .check(fw.placed.keys().any(|(bdf, _)| platform.is_some_and(|(b, _)| b == bdf)), || {
            "our firmware logged no BAR of the Xen platform device".to_string()
        });
    // Linux unplugs QEMU's emulated disks when it has blkfront (it says so at once), and
    // the device model then resets the PIIX3 IDE function: its bus-master BAR4 reads 0 when
    // Linux enumerates, and Linux assigns it anew. Nothing we placed survives that reset, so
    // that BAR is reported, not compared.
    let unplugged = linux.dmesg.iter().any(|l| l.contains("unplug emulated disks"));
    let reset_by_unplug = |bdf: &str, index: usize| {
        unplugged
            && linux.pci.get(bdf).is_some_and(|(id, _)| id == "8086:7010")
            && index == 4
            && linux
                .dmesg
                .iter()
                .any(|l| l.contains(&format!("pci 0000:{bdf}: BAR 4 [io  0x0000-0x000f]")))
    };
    // Every BAR we placed is the one Linux holds, of the same kind.
    for ((bdf, bar), &(base, size, io, pref)) in &fw.placed {
        let index: usize = bar.trim_start_matches("BAR").parse().unwrap();
        if reset_by_unplug(bdf, index) {
            eprintln!(
                "note: {bdf} {bar}: we placed [{base:#x}-{:#x}]; the device model's unplug of the \
                 emulated disks reset the IDE function, and Linux found the BAR at 0: {:x?}",
                base + size - 1,
                linux.resources.get(&(bdf.clone(), index))
            );
            continue;
        }
        let held = linux.resources.get(&(bdf.clone(), index));
        let ok = held.is_some_and(|&(start, end, flags)| {
            start == base
                && end == base + size - 1
                && if io {
                    flags & 0x100 != 0
                } else {
                    flags & 0x200 != 0 && (flags & 0x2000 != 0) == pref
                }
        });
        problems.check(ok, || {
            format!(
                "{bdf} {bar}: we placed [{base:#x}-{:#x}]{}{}, Linux holds {held:x?}{}",
                base + size - 1,
                if io { " io" } else { " mem" },
                if pref { " pref" } else { "" },
                indented(&dmesg_matching(&linux.dmesg, &[&format!("{bdf}: ")]))
            )
        });
    }
    let reassigned: Vec<&str> = dmesg_matching(
        &linux.dmesg,
        &[": assigned", "no space for", "can't claim", "failed to assign"],
    )
    .into_iter()
    .filter(|l| l.contains("pci"))
    // A hot-added function's BARs are the OS's to assign: no firmware runs then.
    .filter(|l| !linux.hotplug.added.values().any(|a| l.contains(&format!("0000:{}: ", a.bdf))))
    .filter(|l| {
        !(0..6).any(|i| {
            linux
                .pci
                .keys()
                .any(|bdf| reset_by_unplug(bdf, i) && l.contains(&format!("{bdf}: BAR {i} ")))
        })
    })
    .collect();
    problems.check(reassigned.is_empty(), || {
        format!("Linux changed the firmware's PCI resources:{}", indented(&reassigned))
    });
}

fn check_memory(
    fw: &FirmwareLog,
    guest: &[&str],
    linux: &LinuxReport,
    memory_mib: u32,
    problems: &mut Problems,
) {
    // The RAM Xen gave: the config size less Xen's special pages and the legacy hole.
    let config = u64::from(memory_mib) << 20;
    problems.check((config - (16 << 20)..=config).contains(&fw.xen_ram), || {
        format!(
            "our firmware's memory map holds {:#x} bytes of RAM for {memory_mib} MiB",
            fw.xen_ram
        )
    });
    // Linux's map is the one SeaBIOS passed on (built from the one we handed it).
    let seabios = seabios_e820(guest);
    let theirs: Vec<String> = linux
        .dmesg
        .iter()
        .filter_map(|l| l.find("BIOS-e820: ").map(|at| l[at..].trim_end().to_string()))
        .collect();
    problems.check(!seabios.is_empty() && seabios == theirs, || {
        format!("Linux's memory map differs from SeaBIOS's:\n  SeaBIOS: {seabios:#?}\n  Linux: {theirs:#?}")
    });
    let ram_kib: u64 = theirs
        .iter()
        .filter(|l| l.ends_with("] usable"))
        .filter_map(|l| {
            let range = l.split_once("[mem ")?.1.split_once(']')?.0;
            let (first, last) = range.split_once('-')?;
            Some((hex(last) + 1 - hex(first)) >> 10)
        })
        .sum();
    problems.check(ram_kib <= config >> 10 && ram_kib >= (fw.xen_ram >> 10) - 1024, || {
        format!("Linux's usable RAM {ram_kib} kB does not fit the {:#x} bytes Xen gave", fw.xen_ram)
    });
    let total = linux.mem_total_kib;
    problems.check(total <= ram_kib && total >= ram_kib - ram_kib / 8, || {
        format!("MemTotal {total} kB does not fit the E820 RAM total {ram_kib} kB")
    });
}

fn check_poweroff(run: &XenRun, serial: &str, problems: &mut Problems) {
    // poweroff -f: Linux prints "reboot: Power down" and writes SLP_TYP/SLP_EN as \_S5 says;
    // the device model turns that into a domain shutdown with reason poweroff (0), which
    // on_poweroff="preserve" keeps listed as "s".
    problems.check(serial.contains("reboot: Power down"), || {
        "Linux never printed `reboot: Power down`".to_string()
    });
    problems.check(
        run.wait_outcome().starts_with("state ")
            && run.listed_state().is_some_and(|s| s.contains('s') && !s.contains('c')),
        || {
            format!(
                "the domain did not end shut down: wait {:?}, xl list state {:?}",
                run.wait_outcome(),
                run.listed_state()
            )
        },
    );
    problems.check(run.shutdown_reason() == Some(0), || {
        format!(
            "the domain's shutdown reason is {:?}, not 0 (poweroff); xl log:\n{}",
            run.shutdown_reason(),
            run.section("xl-log").unwrap_or("")
        )
    });
}
