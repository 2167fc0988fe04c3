//! Linux acceptance (issue 6): a stock Debian cloud kernel, booted directly by the firmware,
//! must take what the firmware built exactly as built. Each configuration boots once; the
//! guest's /init reports what Linux found (full `dmesg`, sysfs, /proc) and powers off, and
//! every check compares that report with the firmware's own log of the same boot:
//!
//! - Linux uses our ACPI tables (RSDP "Xen" at the logged address, every logged table at its
//!   address) and its interpreter has nothing to complain about;
//! - q35: Linux uses our ECAM window for MMCONFIG, and PCIe functions get their 4 KiB
//!   configuration space through it;
//! - every BAR and bridge window Linux holds is the one the firmware logged, and Linux moved,
//!   added or refused nothing;
//! - every vCPU is online; Linux's memory map is the firmware's E820 entry for entry, and
//!   MemTotal fits the RAM in it;
//! - SMBIOS strings are ours;
//! - `poweroff -f` ends QEMU through the DSDT's \_S5.
//!
//! The configurations are few but dense (bridges, root ports, a PCIe switch, multi-function
//! devices, a 1 GiB BAR, RAM above 4 GiB) because each Linux boot costs seconds under TCG.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use common::checks::{Problems, check_tables_found, dmesg_matching, indented};
use common::hex;
use common::linux::{guest, report};
use xtask::mixes::{IVSHMEM_1G, PC_PCI_MIX, Q35_PCI_MIX};
use xtask::qmp::tail;

/// One Linux boot takes 4-10 s under TCG (more with 4 vCPUs on a 2-core host while other
/// tests boot too); the margin is for loaded CI machines.
const LINUX_TIMEOUT: Duration = Duration::from_secs(120);

/// The guest's report: everything the checks below read, one `key: value` per line.
/// `od` dumps the first 256 bytes of each function's configuration space so the test finds
/// PCIe functions by their capability, independently of what Linux made of them.
const REPORT_BODY: &str = r#"echo "=== hvmloader-rs linux report begin ==="
echo "cpu-online: $(cat /sys/devices/system/cpu/online)"
grep MemTotal /proc/meminfo
echo "acpi-tables: $(ls /sys/firmware/acpi/tables | tr '\n' ' ')"
for f in sys_vendor product_name product_uuid bios_vendor bios_version bios_date; do
    echo "dmi: $f $(cat /sys/class/dmi/id/$f)"
done
for dev in /sys/bus/pci/devices/*; do
    bdf=$(basename $dev)
    echo "pci: $bdf $(cat $dev/vendor):$(cat $dev/device) config-size $(stat -c %s $dev/config)$([ -e $dev/secondary_bus_number ] && echo ' bridge')"
    echo "pci-config: $bdf $(od -An -v -tx1 -N256 $dev/config | tr -d ' \n')"
    awk -v bdf=$bdf '{ print "pci-resource: " bdf " " NR-1 " " $0 }' $dev/resource
done
sed 's/^/iomem: /' /proc/iomem
dmesg | sed 's/^/dmesg: /'
echo "=== hvmloader-rs linux report end ==="
"#;

/// Linux's command line: kernel messages on COM1, and a panic ends the run at once.
/// no_timer_check: Linux's IO-APIC timer probe counts ticks over a short busy-wait and
/// panics ("IO-APIC + timer doesn't work!") when TCG on a loaded host runs that loop too
/// slowly; a timer that really does not work still stops the boot (the timeout catches it).
const LINUX_CMDLINE: &str =
    "name=opt/hvmloader/cmdline,string=console=ttyS0 panic=-1 no_timer_check";

/// One machine to boot Linux on.
struct Config<'a> {
    name: &'static str,
    machine: &'static str,
    smp: u32,
    mem: &'static str,
    devices: &'a [&'a str],
}

/// What the firmware logged about one boot (`loglevel=debug`).
#[derive(Debug, Default)]
struct FirmwareLog {
    rsdp: Option<u64>,
    /// (signature, address) of every table the firmware installed.
    tables: Vec<(String, u64)>,
    /// ECAM base, end (inclusive) and bus range text ("00-3f"), q35 only.
    ecam: Option<(u64, u64, String)>,
    /// (first, last, type) as the firmware names the type: "RAM", "reserved", "ACPI", ...
    e820: Vec<(u64, u64, String)>,
    /// Every function enumerated: bdf ("00:02.0") -> "8086:10d3".
    functions: BTreeMap<String, String>,
    /// (bdf, "BAR0".."BAR5" / "ROM" / "io window" / "mem window" / "prefetchable window")
    /// -> placement.
    placed: BTreeMap<(String, String), Placed>,
    smbios_version: Option<String>,
    /// The release date the banner gives (mm/dd/yyyy).
    release_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Placed {
    base: u64,
    size: u64,
    io: bool,
    prefetchable: bool,
    mem64: bool,
}

impl std::fmt::Display for Placed {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let kind = match (self.io, self.mem64) {
            (true, _) => "io",
            (false, true) => "mem64",
            (false, false) => "mem32",
        };
        let pref = if self.prefetchable { " pref" } else { "" };
        write!(f, "{kind}{pref} [{:#x}-{:#x}]", self.base, self.base + self.size - 1)
    }
}

/// `[0x1000-0x1fff]` -> (0x1000, 0x1fff)
fn range(s: &str) -> (u64, u64) {
    let inner = s.trim_start_matches('[').trim_end_matches(']');
    let (first, last) = inner.split_once('-').unwrap_or_else(|| panic!("not a range: {s}"));
    (hex(first), hex(last))
}

fn parse_firmware_log(serial: &str) -> FirmwareLog {
    let mut log = FirmwareLog::default();
    for line in serial.lines().filter(|l| l.starts_with("hvmrs ")) {
        // "hvmrs LEVEL room: message"
        let message = line.splitn(3, ' ').nth(2).unwrap_or("").trim_start();
        if let Some(rest) = message.strip_prefix("boot: ACPI: RSDP at ") {
            log.rsdp = Some(hex(rest.split(',').next().unwrap()));
        } else if let Some(rest) = message.strip_prefix("boot: ACPI: ") {
            if let Some((signature, rest)) = rest.split_once(" at ") {
                log.tables.push((signature.to_string(), hex(rest.split(',').next().unwrap())));
            }
        } else if let Some(rest) = message.strip_prefix("boot: ECAM (MMCONFIG) at ") {
            // "[0xf0000000-0xf3ffffff] for buses 00-3f, ..."
            let (span, rest) = rest.split_once(' ').unwrap();
            let (base, end) = range(span);
            let buses = rest.strip_prefix("for buses ").unwrap().split(',').next().unwrap();
            log.ecam = Some((base, end, buses.to_string()));
        } else if let Some(rest) = message.strip_prefix("boot: e820: ") {
            let (span, kind) = rest.split_once(' ').unwrap();
            let (first, last) = range(span);
            log.e820.push((first, last, kind.to_string()));
        } else if let Some(rest) = message.strip_prefix("boot: SMBIOS ") {
            // "SMBIOS 3.0: ..." (not "SMBIOS: ... from QEMU").
            if rest.starts_with(|c: char| c.is_ascii_digit()) {
                log.smbios_version = rest.split(':').next().map(str::to_string);
            }
        } else if let Some(rest) = message.strip_prefix("boot: hvmloader-rs ") {
            // "0.1.0 of 12/07/2026 (no_std Rust), ..."
            log.release_date = rest.split(' ').nth(2).map(str::to_string);
        } else if let Some(rest) = message.strip_prefix("pci: ") {
            parse_pci_line(rest, &mut log);
        }
    }
    log
}

/// `00:02.0: 8086:10d3 class 020000` (DEBUG, enumeration) or
/// `00:02.0 8086:10d3 BAR0 mem32 base 0xfad60000 size 0x20000` /
/// `00:03.0 1b36:000c bridge mem window base 0xfaf00000 size 0x100000` (INFO, placement).
fn parse_pci_line(rest: &str, log: &mut FirmwareLog) {
    let words: Vec<&str> = rest.split_whitespace().collect();
    let is_bdf = |w: &str| w.len() == 7 && w.as_bytes()[2] == b':' && w.as_bytes()[5] == b'.';
    if words.len() >= 3 && words[2] == "class" && words[0].ends_with(':') {
        let bdf = words[0].trim_end_matches(':');
        if is_bdf(bdf) {
            log.functions.insert(bdf.to_string(), words[1].to_string());
        }
        return;
    }
    let Some(base_at) = words.iter().position(|w| *w == "base") else { return };
    if words.len() < 2 || !is_bdf(words[0]) || words.get(base_at + 2) != Some(&"size") {
        return;
    }
    let attributes = &words[2..base_at];
    let what = if attributes.first() == Some(&"bridge") {
        // "bridge io window", "bridge mem window", "bridge prefetchable window"
        format!("{} window", attributes[1])
    } else {
        attributes[0].to_string()
    };
    let placed = Placed {
        base: hex(words[base_at + 1]),
        size: hex(words[base_at + 3]),
        io: attributes.contains(&"io"),
        prefetchable: attributes.contains(&"pref") || attributes.contains(&"prefetchable"),
        mem64: attributes.contains(&"mem64"),
    };
    log.placed.insert((words[0].to_string(), what), placed);
}

/// What the guest reported.
#[derive(Debug, Default)]
struct LinuxReport {
    cpu_online: String,
    mem_total_kib: u64,
    acpi_tables: Vec<String>,
    dmi: BTreeMap<String, String>,
    /// bdf without the domain ("00:02.0") -> function.
    pci: BTreeMap<String, LinuxFunction>,
    dmesg: Vec<String>,
}

#[derive(Debug, Default)]
struct LinuxFunction {
    id: String,
    config_size: u64,
    /// Linux's bridge attributes exist (read from sysfs, not from a config space that may
    /// no longer answer).
    bridge: bool,
    config: Vec<u8>,
    /// Lines of the sysfs `resource` file: (start, end, flags).
    resources: Vec<(u64, u64, u64)>,
}

impl LinuxFunction {
    /// Whether the function has a PCI Express capability (ID 0x10) in its capability list.
    fn is_pcie(&self) -> bool {
        let status = u16::from_le_bytes([self.config[6], self.config[7]]);
        if status & 0x10 == 0 {
            return false;
        }
        let mut at = usize::from(self.config[0x34] & 0xfc);
        for _ in 0..48 {
            if at < 0x40 || at + 1 >= self.config.len() {
                return false;
            }
            if self.config[at] == 0x10 {
                return true;
            }
            at = usize::from(self.config[at + 1] & 0xfc);
        }
        false
    }
}

fn parse_report(report: &str) -> LinuxReport {
    let mut out = LinuxReport::default();
    let short = |bdf: &str| bdf.strip_prefix("0000:").unwrap_or(bdf).to_string();
    for line in report.lines() {
        let Some((key, value)) = line.split_once(": ") else { continue };
        match key {
            "cpu-online" => out.cpu_online = value.trim().to_string(),
            "MemTotal" => {
                out.mem_total_kib = value.trim().trim_end_matches("kB").trim().parse().unwrap()
            }
            "acpi-tables" => {
                out.acpi_tables = value.split_whitespace().map(str::to_string).collect()
            }
            "dmi" => {
                let (name, text) = value.split_once(' ').unwrap_or((value, ""));
                out.dmi.insert(name.to_string(), text.trim().to_string());
            }
            "pci" => {
                // "0000:00:02.0 0x8086:0x10d3 config-size 4096"
                let words: Vec<&str> = value.split_whitespace().collect();
                let function = out.pci.entry(short(words[0])).or_default();
                function.id = words[1].replace("0x", "");
                function.config_size = words[3].parse().unwrap();
                function.bridge = words.get(4) == Some(&"bridge");
            }
            "pci-config" => {
                let (bdf, bytes) = value.split_once(' ').unwrap_or((value, ""));
                let bytes = bytes.trim();
                out.pci.entry(short(bdf)).or_default().config = (0..bytes.len() / 2)
                    .map(|i| u8::from_str_radix(&bytes[2 * i..2 * i + 2], 16).unwrap())
                    .collect();
            }
            "pci-resource" => {
                // "0000:00:02.0 <index> <start> <end> <flags>"
                let words: Vec<&str> = value.split_whitespace().collect();
                out.pci.entry(short(words[0])).or_default().resources.push((
                    hex(words[2]),
                    hex(words[3]),
                    hex(words[4]),
                ));
            }
            "dmesg" => out.dmesg.push(value.to_string()),
            _ => {}
        }
    }
    out
}

/// IORESOURCE_* flags of the sysfs `resource` file (include/linux/ioport.h).
const IORESOURCE_IO: u64 = 0x100;
const IORESOURCE_MEM: u64 = 0x200;
const IORESOURCE_PREFETCH: u64 = 0x2000;
const IORESOURCE_MEM_64: u64 = 0x10_0000;
const IORESOURCE_PCI_FIXED: u64 = 0x10;
/// The ROM is the legacy VGA shadow at 0xC0000, not the ROM BAR (arch/x86/pci/fixup.c).
const IORESOURCE_ROM_SHADOW: u64 = 0x2;

/// Linux's messages about one function's BARs, ROM and windows.
fn resource_messages<'a>(dmesg: &'a [String], bdf: &str) -> Vec<&'a str> {
    let prefix = format!("{bdf}: ");
    dmesg
        .iter()
        .filter(|l| l.contains(&prefix))
        .filter(|l| ["BAR", "ROM", "bridge window"].iter().any(|n| l.contains(n)))
        .map(String::as_str)
        .collect()
}

/// Boots Linux on `config`, checks every rule and fails once, listing every broken rule
/// with its evidence and saving the whole serial log.
fn run(config: &Config) {
    let guest = guest();
    let initrd = guest.initrd_with_init(REPORT_BODY);
    let kernel = format!("name=opt/hvmloader/kernel,file={}", guest.kernel.display());
    let initrd = format!("name=opt/hvmloader/initrd,file={}", initrd.display());
    let smp = config.smp.to_string();
    let mut args = vec!["-m", config.mem, "-smp", &smp, "-append", "loglevel=debug"];
    args.extend(["-fw_cfg", &kernel, "-fw_cfg", &initrd, "-fw_cfg", LINUX_CMDLINE]);
    args.extend(config.devices);
    let started = Instant::now();
    let run = common::boot(&common::image("hvmloader-qemu"), config.machine, &args, LINUX_TIMEOUT);
    eprintln!(
        "{}: {} booted, reported and powered off in {:.1?}",
        config.name,
        guest.kernel_package,
        started.elapsed()
    );
    let serial = &run.serial;
    let name = config.name;
    let report = report(serial).unwrap_or_else(|| {
        panic!("{name}: the guest printed no complete report; serial log:\n{}", tail(serial, 120))
    });
    let firmware = parse_firmware_log(serial);
    let linux = parse_report(report);
    assert!(
        !linux.dmesg.is_empty() && !firmware.functions.is_empty() && !firmware.e820.is_empty(),
        "{name}: the firmware log (loglevel=debug) or the report is incomplete:\n{serial}"
    );

    let mut problems = Problems::default();
    check_acpi(&firmware, &linux, &mut problems);
    check_mmconfig(config, &firmware, &linux, &mut problems);
    check_pci(&firmware, &linux, &mut problems);
    check_cpus_and_memory(config, &firmware, &linux, &mut problems);
    check_smbios(config, &firmware, &linux, &mut problems);
    // poweroff -f: Linux prints "reboot: Power down", then writes SLP_TYP/SLP_EN as \_S5
    // says and QEMU exits by itself with 0. (-no-reboot would turn a reset into status 0
    // too, hence the message as well.)
    problems.check(run.status == Some(0) && serial.contains("reboot: Power down"), || {
        format!(
            "poweroff -f did not end QEMU through \\_S5: status {:?}; serial tail:\n{}",
            run.status,
            tail(serial, 10)
        )
    });

    if !problems.0.is_empty() {
        let log = common::scratch(&format!("linux-accept-{name}")).join("serial.log");
        std::fs::write(&log, serial).expect("save the serial log");
        let mut message = format!("{name}: {} problem(s):\n", problems.0.len());
        for problem in &problems.0 {
            let _ = writeln!(message, "  - {problem}");
        }
        panic!("{message}full serial log (firmware, kernel, report): {}", log.display());
    }
}

fn check_acpi(firmware: &FirmwareLog, linux: &LinuxReport, problems: &mut Problems) {
    let rsdp = firmware.rsdp.expect("the firmware logs its RSDP");
    let rsdp_line = dmesg_matching(&linux.dmesg, &["ACPI: RSDP "]);
    problems.check(
        rsdp_line.len() == 1
            && rsdp_line[0].contains(&format!("ACPI: RSDP 0x{rsdp:016X} "))
            && rsdp_line[0].contains("(v02 Xen   )"),
        || format!("Linux's RSDP is not ours (v02 Xen at {rsdp:#x}):{}", indented(&rsdp_line)),
    );
    check_tables_found(problems, &firmware.tables, &linux.dmesg, &linux.acpi_tables);
    problems.check(
        linux.dmesg.iter().any(|l| l.contains("ACPI: SSDT ") && l.contains("Xen    PLATFORM")),
        || "no SSDT \"PLATFORM\" from Xen in Linux's table list".to_string(),
    );
    let complaints = dmesg_matching(
        &linux.dmesg,
        &["ACPI Error", "ACPI BIOS Error", "ACPI Warning", "[Firmware Bug]", "[Firmware Warn]"],
    );
    problems.check(complaints.is_empty(), || {
        format!("Linux complains about the firmware:{}", indented(&complaints))
    });
    // QEMU's etc/system-states enables S4 (and S3, which we leave out: QEMU wakes through
    // the SeaBIOS that started us, which would not find Linux's waking vector in our FACS).
    problems.check(linux.dmesg.iter().any(|l| l.contains("(supports S0 S4 S5)")), || {
        "Linux does not see exactly S0, S4 and S5".to_string()
    });
    problems.check(linux.dmesg.iter().any(|l| l.contains("ACPI: Interpreter enabled")), || {
        "the ACPI interpreter was not enabled".to_string()
    });
}

fn check_mmconfig(
    config: &Config,
    firmware: &FirmwareLog,
    linux: &LinuxReport,
    problems: &mut Problems,
) {
    let mmconfig = dmesg_matching(&linux.dmesg, &["MMCONFIG"]);
    if config.machine != "q35" {
        // No MCFG on i440FX: Linux finds no MMCONFIG (and says so for the root bridge).
        let found = dmesg_matching(&linux.dmesg, &["PCI: MMCONFIG for"]);
        problems.check(firmware.ecam.is_none() && found.is_empty(), || {
            format!("MMCONFIG on a machine without ECAM:{}", indented(&found))
        });
        return;
    }
    let (base, end, buses) = firmware.ecam.clone().expect("q35: the firmware logs its ECAM");
    let window = format!("[mem {base:#010x}-{end:#010x}]");
    let found = format!("PCI: MMCONFIG for domain 0000 [bus {buses}] at {window} (base {base:#x})");
    problems.check(mmconfig.iter().any(|l| l.contains(&found)), || {
        format!("Linux did not find our ECAM (`{found}`):{}", indented(&mmconfig))
    });
    let accepted = [
        format!("PCI: MMCONFIG at {window} reserved in E820"),
        format!("PCI: MMCONFIG at {window} reserved as ACPI motherboard resource"),
    ];
    problems
        .check(mmconfig.iter().any(|l| accepted.iter().any(|a| l.contains(a.as_str()))), || {
            format!("Linux did not accept our ECAM as reserved:{}", indented(&mmconfig))
        });
    // Linux says so when it falls back to CF8 (e.g. "not reserved in ACPI motherboard
    // resources", "MMCONFIG has no entries").
    let refused = dmesg_matching(&linux.dmesg, &["not using MMCONFIG", "MMCONFIG has no"]);
    problems.check(refused.is_empty(), || format!("Linux refused MMCONFIG:{}", indented(&refused)));

    let mut pcie = 0;
    for (bdf, function) in &linux.pci {
        if function.is_pcie() {
            pcie += 1;
            problems.check(function.config_size == 4096, || {
                format!(
                    "{bdf} {} has a PCIe capability but Linux reads {} bytes of config space, \
                     not 4096 through ECAM",
                    function.id, function.config_size
                )
            });
        }
    }
    problems.check(pcie > 0, || "no PCIe function found: the check saw nothing".to_string());
}

fn check_pci(firmware: &FirmwareLog, linux: &LinuxReport, problems: &mut Problems) {
    // The same functions, at the same addresses: bus numbering agrees.
    let ours: BTreeSet<(&String, &String)> = firmware.functions.iter().collect();
    let theirs: BTreeSet<(&String, &String)> = linux.pci.iter().map(|(b, f)| (b, &f.id)).collect();
    problems.check(ours == theirs, || {
        format!(
            "functions differ: only the firmware saw {:?}; only Linux saw {:?}",
            ours.difference(&theirs).collect::<Vec<_>>(),
            theirs.difference(&ours).collect::<Vec<_>>()
        )
    });

    // Every function still answers at the end: its configuration space, read by /init
    // after every driver and port service probed, starts with its vendor ID. A function
    // behind a slot that pciehp powered off reads as all ones.
    let gone: Vec<String> = linux
        .pci
        .iter()
        .filter(|(_, f)| {
            let vendor = f.config.get(..2).map(|b| format!("{:02x}{:02x}", b[1], b[0]));
            vendor.as_deref() != f.id.split(':').next()
        })
        .map(|(bdf, f)| format!("{bdf} {}", f.id))
        .collect();
    problems.check(gone.is_empty(), || {
        format!(
            "functions Linux enumerated no longer answer config reads (all ones): {gone:?}{}",
            indented(&dmesg_matching(&linux.dmesg, &["pciehp", "Card not present"]))
        )
    });

    let mut compared = BTreeSet::new();
    for (bdf, function) in &linux.pci {
        let count = function.resources.len();
        let bridge = function.bridge;
        // sysfs lists 6 BARs and the ROM first; a bridge's 4 window slots come last
        // (io, mem, prefetchable, unused), after the SR-IOV slots when the kernel has them.
        let mut slots: Vec<(usize, String)> =
            (0..6).map(|i| (i, format!("BAR{i}"))).chain([(6, "ROM".to_string())]).collect();
        if bridge {
            assert!(count >= 11, "{bdf}: sysfs resource file too short for a bridge");
            for (i, what) in ["io window", "mem window", "prefetchable window"].iter().enumerate() {
                slots.push((count - 4 + i, what.to_string()));
            }
        }
        for (index, what) in slots {
            let (start, end, flags) = function.resources[index];
            // Legacy-mode IDE: Linux gives the function the fixed ISA-compatible ports
            // (IORESOURCE_PCI_FIXED), which are no BARs the firmware places.
            let legacy = flags & IORESOURCE_PCI_FIXED != 0;
            let holds = !(start == 0 && end == 0);
            let logged = firmware.placed.get(&(bdf.clone(), what.clone()));
            match (holds, logged) {
                (false, None) => {}
                (true, None) if legacy => {}
                (true, None) => problems.0.push(format!(
                    "{bdf} {what}: Linux holds [{start:#x}-{end:#x}] (flags {flags:#x}), \
                     the firmware placed nothing there{}",
                    indented(&resource_messages(&linux.dmesg, bdf))
                )),
                (false, Some(placed)) => problems.0.push(format!(
                    "{bdf} {what}: the firmware placed {:#x} size {:#x}, Linux holds nothing",
                    placed.base, placed.size
                )),
                (true, Some(placed)) if what == "ROM" && flags & IORESOURCE_ROM_SHADOW != 0 => {
                    // The boot VGA device's ROM resource is the legacy shadow copy at
                    // 0xC0000 (Linux's pci_fixup_video), not the ROM BAR; the ROM BAR as
                    // probed is in Linux's enumeration message instead.
                    let probed = format!(
                        "{bdf}: ROM [mem {:#010x}-{:#010x} pref]",
                        placed.base,
                        placed.base + placed.size - 1
                    );
                    problems.check(linux.dmesg.iter().any(|l| l.contains(&probed)), || {
                        format!("{bdf} ROM: no `{probed}` in dmesg")
                    });
                    compared.insert((bdf.clone(), what));
                }
                (true, Some(placed)) => {
                    compared.insert((bdf.clone(), what.clone()));
                    let (base, size) = (placed.base, placed.size);
                    problems.check(start == base && end == base + size - 1, || {
                        format!(
                            "{bdf} {what}: Linux holds [{start:#x}-{end:#x}], the firmware \
                             placed [{base:#x}-{:#x}]",
                            base + size - 1
                        )
                    });
                    let kind_ok = if placed.io {
                        flags & IORESOURCE_IO != 0
                    } else if what == "ROM" {
                        // Linux marks every ROM prefetchable (and read-only).
                        flags & IORESOURCE_MEM != 0
                    } else {
                        flags & IORESOURCE_MEM != 0
                            && (flags & IORESOURCE_PREFETCH != 0) == placed.prefetchable
                            && (!placed.mem64 || flags & IORESOURCE_MEM_64 != 0)
                    };
                    problems.check(kind_ok, || {
                        format!("{bdf} {what}: Linux's flags {flags:#x} disagree with {placed}")
                    });
                }
            }
        }
    }
    let logged: BTreeSet<(String, String)> = firmware.placed.keys().cloned().collect();
    problems.check(compared == logged, || {
        format!(
            "logged placements Linux does not show: {:?}",
            logged.difference(&compared).collect::<Vec<_>>()
        )
    });

    // Linux kept every resource where it was: nothing assigned, resized or refused. Linux
    // adds space to bridge windows for hotplug ("add_size") and then assigns a window the
    // firmware did not open; both count as reassignment.
    let reassigned: Vec<&str> = dmesg_matching(
        &linux.dmesg,
        &[
            ": assigned",
            "no space for",
            "can't claim",
            "failed to assign",
            "add_size",
            "no compatible bridge window",
            "releasing",
        ],
    )
    .into_iter()
    .filter(|l| l.contains("pci"))
    .collect();
    problems.check(reassigned.is_empty(), || {
        format!("Linux changed the firmware's PCI resources:{}", indented(&reassigned))
    });
}

fn check_cpus_and_memory(
    config: &Config,
    firmware: &FirmwareLog,
    linux: &LinuxReport,
    problems: &mut Problems,
) {
    let expected = if config.smp == 1 { "0".to_string() } else { format!("0-{}", config.smp - 1) };
    problems.check(linux.cpu_online == expected, || {
        format!(
            "CPUs online: {:?}, expected {expected:?}:{}",
            linux.cpu_online,
            indented(&dmesg_matching(&linux.dmesg, &["smpboot", "smp: "]))
        )
    });

    // Linux's "BIOS-e820:" lines are the map the firmware handed over, entry for entry.
    let linux_type = |kind: &str| match kind {
        "RAM" => "usable".to_string(),
        "ACPI" => "ACPI data".to_string(),
        other => other.to_string(),
    };
    let ours: Vec<String> = firmware
        .e820
        .iter()
        .map(|(first, last, kind)| {
            format!("BIOS-e820: [mem {first:#018x}-{last:#018x}] {}", linux_type(kind))
        })
        .collect();
    let theirs: Vec<String> = linux
        .dmesg
        .iter()
        .filter_map(|l| l.find("BIOS-e820: ").map(|at| l[at..].trim_end().to_string()))
        .collect();
    problems.check(ours == theirs, || {
        format!("Linux's memory map differs from the firmware's:\n  ours:   {ours:#?}\n  Linux: {theirs:#?}")
    });

    // MemTotal is the RAM minus what the kernel keeps (its image, struct pages, ...):
    // never more than the map's RAM, and not less than seven eighths of it.
    let ram_kib: u64 =
        firmware.e820.iter().filter(|e| e.2 == "RAM").map(|(f, l, _)| (l + 1 - f) >> 10).sum();
    let total = linux.mem_total_kib;
    problems.check(total <= ram_kib && total >= ram_kib - ram_kib / 8, || {
        format!("MemTotal {total} kB does not fit the E820 RAM total {ram_kib} kB")
    });
}

/// SMBIOS settings a configuration passes to QEMU: the UUID (`-uuid`) and a manufacturer
/// (`-smbios type=1,manufacturer=...`).
fn smbios_settings<'a>(config: &Config<'a>) -> (Option<&'a str>, Option<&'a str>) {
    let after = |flag: &str| {
        config.devices.iter().position(|d| *d == flag).and_then(|i| config.devices.get(i + 1))
    };
    let uuid = after("-uuid").copied();
    let manufacturer = after("-smbios").and_then(|d| d.strip_prefix("type=1,manufacturer="));
    (uuid, manufacturer)
}

fn check_smbios(
    config: &Config,
    firmware: &FirmwareLog,
    linux: &LinuxReport,
    problems: &mut Problems,
) {
    let (uuid, manufacturer) = smbios_settings(config);
    // QEMU's identity (its SMBIOS tables), and the firmware's BIOS information: this
    // package, released as its banner says.
    let product = match config.machine {
        "pc" => "Standard PC (i440FX + PIIX, 1996)",
        _ => "Standard PC (Q35 + ICH9, 2009)",
    };
    let Some(release_date) = firmware.release_date.as_deref() else {
        problems.check(false, || "the firmware's banner names no release date".to_string());
        return;
    };
    if let Some(uuid) = uuid {
        let found = linux.dmi.get("product_uuid").map(String::as_str);
        problems.check(found == Some(uuid), || {
            format!("/sys/class/dmi/id/product_uuid is {found:?}, expected {uuid:?} (-uuid)")
        });
    }
    for (name, expected) in [
        ("sys_vendor", manufacturer.unwrap_or("QEMU")),
        ("product_name", product),
        ("bios_vendor", env!("CARGO_PKG_NAME")),
        ("bios_version", env!("CARGO_PKG_VERSION")),
        ("bios_date", release_date),
    ] {
        let found = linux.dmi.get(name).map(String::as_str);
        problems.check(found == Some(expected), || {
            format!("/sys/class/dmi/id/{name} is {found:?}, expected {expected:?}")
        });
    }
    if let Some(version) = &firmware.smbios_version {
        let present = format!("SMBIOS {version}.0 present.");
        problems.check(linux.dmesg.iter().any(|l| l.contains(&present)), || {
            format!(
                "no `{present}`:{}",
                indented(&dmesg_matching(&linux.dmesg, &["SMBIOS", "DMI"]))
            )
        });
    }
}

/// pc, 1 vCPU, 512 MiB, QEMU's default devices only.
#[test]
fn pc_1cpu_512m_plain() {
    run(&Config { name: "pc_1cpu_512m_plain", machine: "pc", smp: 1, mem: "512M", devices: &[] });
}

/// pc, 4 vCPUs: VGA (with its ROM), a bridge behind a bridge, a multi-function slot and a
/// 1 GiB BAR that goes above 4 GiB.
#[test]
fn pc_4cpu_512m_bridges() {
    let devices = [&PC_PCI_MIX[..], &IVSHMEM_1G[..]].concat();
    run(&Config {
        name: "pc_4cpu_512m_bridges",
        machine: "pc",
        smp: 4,
        mem: "512M",
        devices: &devices,
    });
}

/// pc with RAM above 4 GiB (3 GiB below, 1.5 GiB above): the 64-bit window moves above it.
#[test]
fn pc_1cpu_4608m_ram_above_4g() {
    const DEVICES: &[&str] = &[
        "-device",
        "pci-bridge,id=br1,chassis_nr=1",
        "-device",
        "e1000,bus=br1,addr=1",
        IVSHMEM_1G[0],
        IVSHMEM_1G[1],
        IVSHMEM_1G[2],
        IVSHMEM_1G[3],
    ];
    run(&Config {
        name: "pc_1cpu_4608m_ram_above_4g",
        machine: "pc",
        smp: 1,
        mem: "4608M",
        devices: DEVICES,
    });
}

/// q35, 1 vCPU, 512 MiB, QEMU's default devices only (e1000e on the root bus), and SMBIOS
/// settings.
#[test]
fn q35_1cpu_512m_plain() {
    run(&Config {
        name: "q35_1cpu_512m_plain",
        machine: "q35",
        smp: 1,
        mem: "512M",
        // SMBIOS settings from QEMU: the UUID and a string, which the firmware must use.
        devices: &[
            "-uuid",
            "12345678-9abc-def0-1122-334455667788",
            "-smbios",
            "type=1,manufacturer=ACME Virtual",
        ],
    });
}

/// q35, 4 vCPUs: VGA, root ports with virtio-net / NVMe / e1000e, a PCIe-to-PCI bridge
/// (with its SHPC) and a conventional device behind it, a multi-function slot, a 1 GiB BAR.
#[test]
fn q35_4cpu_512m_root_ports() {
    let devices = [&Q35_PCI_MIX[..], &IVSHMEM_1G[..]].concat();
    run(&Config {
        name: "q35_4cpu_512m_root_ports",
        machine: "q35",
        smp: 4,
        mem: "512M",
        devices: &devices,
    });
}

/// q35, 1 vCPU: a PCIe switch (upstream port, two downstream ports) behind a root port,
/// and a multi-function PCIe device behind another.
#[test]
fn q35_1cpu_1g_switch() {
    const DEVICES: &[&str] = &[
        "-device",
        "pcie-root-port,id=rp1,chassis=1,slot=1",
        "-device",
        "x3130-upstream,id=up1,bus=rp1",
        "-device",
        "xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=1",
        "-device",
        "nvme,serial=cafe,bus=dn1",
        "-device",
        "xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=2",
        "-device",
        "e1000e,bus=dn2",
        "-device",
        "pcie-root-port,id=rp2,chassis=4,slot=4",
        "-device",
        "virtio-net-pci,bus=rp2,multifunction=on,addr=0.0",
        "-device",
        "virtio-rng-pci,bus=rp2,addr=0.1",
    ];
    run(&Config {
        name: "q35_1cpu_1g_switch",
        machine: "q35",
        smp: 1,
        mem: "1G",
        devices: DEVICES,
    });
}

/// q35, 4 vCPUs, RAM above 4 GiB (2 GiB below on q35, the rest above) and a 1 GiB BAR.
#[test]
fn q35_4cpu_4608m_ram_above_4g() {
    const DEVICES: &[&str] = &[
        "-device",
        "pcie-root-port,id=rp1,chassis=1,slot=1",
        "-device",
        "nvme,serial=beef,bus=rp1",
        IVSHMEM_1G[0],
        IVSHMEM_1G[1],
        IVSHMEM_1G[2],
        IVSHMEM_1G[3],
    ];
    run(&Config {
        name: "q35_4cpu_4608m_ram_above_4g",
        machine: "q35",
        smp: 4,
        mem: "4608M",
        devices: DEVICES,
    });
}
