//! What a guest depends on, proven by a Linux guest that depends on it, with QEMU's own
//! SeaBIOS path (SeaBIOS and QEMU's tables) on the same command line as the control:
//!
//! - interrupts: NVMe controllers and PCI 16550 UARTs with MSI off (`pci=nomsi`), so that
//!   each driver works only if its INTx arrives: on bus 0, behind a PCI bridge and behind a
//!   PCIe root port, in APIC mode and in PIC mode (`noapic`), on `pc` and `q35`. Each does
//!   I/O, its line in /proc/interrupts counts up, and no driver times out;
//! - reboot: `reboot -f` three times, each boot coming back through the firmware (a counter
//!   on a disk tells the boots apart), then a power-off;
//! - SMBIOS: what `-smbios type=1/2/3/11` sets reaches /sys/class/dmi/id, and without it
//!   the machine says it is QEMU's;
//! - SR-IOV: the VFs of an NVMe controller behind a root port, enabled in Linux, get the
//!   BARs the firmware placed inside the port's windows, and Linux reassigns nothing.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use common::checks::Problems;
use common::linux::{Firmware, guest};
use common::workloads::{
    UnderTest, check_irq_workload, interrupt_model_ok, irq_workload, nvme, uart,
};
use common::{OnReset, Run, boot_with, hex, scratch};
use xtask::qmp::tail;

/// One Linux boot takes 4-10 s under TCG; several run at once on a 2-core CI machine, and a
/// driver whose interrupt never comes waits out its timeouts before the guest moves on.
const LINUX_TIMEOUT: Duration = Duration::from_secs(150);
/// Kernel messages on COM1, a panic ends the run, NVMe commands time out after 15 s (the
/// default 60 s would make a broken interrupt cost minutes; a working one answers in ms).
/// `no_timer_check`: see tests/linux_accept.rs.
const BASE_CMDLINE: &str =
    "console=ttyS0 panic=-1 no_timer_check nvme_core.admin_timeout=15 nvme_core.io_timeout=15";

const REPORT_BEGIN: &str = "=== workload report begin ===";
const REPORT_END: &str = "=== workload report end ===";

/// Boots Linux with `init` (a busybox script run after the common prelude) through
/// `firmware`, and returns the run.
fn boot_linux(
    firmware: Firmware,
    machine: &str,
    cmdline: &str,
    init: &str,
    devices: &[String],
    on_reset: OnReset,
    done: impl Fn(&str) -> bool,
) -> Run {
    let guest = guest();
    let initrd = guest.initrd_with_init(init);
    let (kernel, mut args) = firmware.kernel_args(&initrd, cmdline);
    args.extend(devices.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    boot_with(&kernel, machine, &args, LINUX_TIMEOUT, on_reset, done)
}

/// The lines between the report markers.
fn report(serial: &str) -> Option<&str> {
    let start = serial.find(REPORT_BEGIN)? + REPORT_BEGIN.len();
    let len = serial[start..].find(REPORT_END)?;
    Some(serial[start..start + len].trim())
}

/// Panics with every problem and the serial log saved for a look.
fn conclude(name: &str, problems: Problems, serial: &str) {
    if problems.0.is_empty() {
        return;
    }
    let log = scratch(&format!("workload-{name}")).join("serial.log");
    std::fs::write(&log, serial).expect("save the serial log");
    let mut message = format!("{name}: {} problem(s):\n", problems.0.len());
    for problem in &problems.0 {
        let _ = writeln!(message, "  - {problem}");
    }
    panic!("{message}serial log tail:\n{}\nfull log: {}", tail(serial, 40), log.display());
}

// ---------------------------------------------------------------------------------------
// Interrupts
// ---------------------------------------------------------------------------------------

/// One interrupt configuration: its QEMU devices and the functions they become.
struct IrqMachine {
    devices: Vec<String>,
    under_test: Vec<UnderTest>,
}

/// A null block device of 16 MiB for an NVMe controller, reading zeroes.
fn null_drive(id: &str) -> [String; 2] {
    ["-blockdev".into(), format!("driver=null-co,node-name={id},size=16777216,read-zeroes=on")]
}

fn irq_machine(machine: &'static str, dir: &Path) -> IrqMachine {
    let uart_log = |n: u8| dir.join(format!("uart{n}.log")).display().to_string();
    let mut devices: Vec<String> = Vec::new();
    for id in ["nvme0", "nvme1"] {
        devices.extend(null_drive(id));
    }
    for n in [0, 1] {
        devices.extend(["-chardev".into(), format!("file,id=uart{n},path={}", uart_log(n))]);
    }
    let add =
        |devices: &mut Vec<String>, spec: &str| devices.extend(["-device".into(), spec.into()]);
    let under_test = match machine {
        "pc" => {
            add(&mut devices, "nvme,drive=nvme0,serial=bus0,addr=4");
            add(&mut devices, "pci-serial,chardev=uart0,addr=5");
            add(&mut devices, "pci-bridge,id=br1,chassis_nr=1,addr=6");
            add(&mut devices, "nvme,drive=nvme1,serial=bridge,bus=br1,addr=1");
            add(&mut devices, "pci-serial,chardev=uart1,bus=br1,addr=2");
            vec![
                nvme("00:04.0", "NVMe on bus 0"),
                uart("00:05.0", "16550 on bus 0", 0),
                nvme("01:01.0", "NVMe behind a PCI bridge"),
                uart("01:02.0", "16550 behind a PCI bridge", 1),
            ]
        }
        _ => {
            add(&mut devices, "nvme,drive=nvme0,serial=bus0,addr=4");
            add(&mut devices, "pci-serial,chardev=uart0,addr=5");
            add(&mut devices, "pcie-root-port,id=rp1,chassis=1,addr=6");
            add(&mut devices, "nvme,drive=nvme1,serial=rootport,bus=rp1");
            add(&mut devices, "pcie-pci-bridge,id=pb,addr=7");
            add(&mut devices, "pci-serial,chardev=uart1,bus=pb,addr=1");
            vec![
                nvme("00:04.0", "NVMe on bus 0"),
                uart("00:05.0", "16550 on bus 0", 0),
                nvme("01:00.0", "NVMe behind a PCIe root port"),
                uart("02:01.0", "16550 behind a PCIe-to-PCI bridge", 1),
            ]
        }
    };
    IrqMachine { devices, under_test }
}

/// Boots the interrupt workload on `machine` in APIC or PIC mode through `firmware`.
fn check_interrupts(firmware: Firmware, machine: &'static str, apic: bool) {
    let mode = if apic { "apic" } else { "pic" };
    let name = format!(
        "irq-{machine}-{mode}-{}",
        if firmware == Firmware::Ours { "ours" } else { "stock" }
    );
    let dir = scratch(&name);
    let config = irq_machine(machine, &dir);
    let bdfs: Vec<&str> = config.under_test.iter().map(|d| d.bdf).collect();
    let init = format!("echo \"{REPORT_BEGIN}\"\n{}echo \"{REPORT_END}\"\n", irq_workload(&bdfs));
    let mut cmdline = format!("{BASE_CMDLINE} pci=nomsi");
    if !apic {
        cmdline.push_str(" noapic");
    }
    let started = Instant::now();
    let run =
        boot_linux(firmware, machine, &cmdline, &init, &config.devices, OnReset::Exit, |_| false);
    eprintln!("{name}: Linux booted, did its I/O and powered off in {:.1?}", started.elapsed());

    let serial = &run.serial;
    let mut problems = Problems::default();
    let Some(report) = report(serial) else {
        problems.check(false, || "the guest printed no complete report".to_string());
        return conclude(&name, problems, serial);
    };
    check_irq_workload(&mut problems, &config.under_test, report, |n| {
        std::fs::read_to_string(dir.join(format!("uart{n}.log"))).unwrap_or_default()
    });
    problems.check(interrupt_model_ok(serial.lines(), apic), || {
        format!(
            "Linux did not route interrupts through the {}",
            if apic { "IOAPIC" } else { "PIC" }
        )
    });
    problems.check(run.status == Some(0), || {
        format!("QEMU ended with {:?}, not a power-off", run.status)
    });
    conclude(&name, problems, serial);
}

#[test]
fn intx_on_pc_in_apic_mode() {
    check_interrupts(Firmware::Ours, "pc", true);
    check_interrupts(Firmware::Stock, "pc", true);
}

#[test]
fn intx_on_pc_in_pic_mode() {
    check_interrupts(Firmware::Ours, "pc", false);
    check_interrupts(Firmware::Stock, "pc", false);
}

#[test]
fn intx_on_q35_in_apic_mode() {
    check_interrupts(Firmware::Ours, "q35", true);
    check_interrupts(Firmware::Stock, "q35", true);
}

#[test]
fn intx_on_q35_in_pic_mode() {
    check_interrupts(Firmware::Ours, "q35", false);
    check_interrupts(Firmware::Stock, "q35", false);
}

// ---------------------------------------------------------------------------------------
// Reboot
// ---------------------------------------------------------------------------------------

/// Boots counted on the disk's first bytes: read, count up, write back, and reboot until
/// the fourth boot, which powers off.
const REBOOT_INIT: &str = r#"
ns=/dev/$(ls /sys/class/nvme)n1
boot=$(dd if=$ns bs=16 count=1 2>/dev/null | tr -dc 0-9)
boot=$(( ${boot:-0} + 1 ))
printf '%-15s\n' $boot | dd of=$ns bs=16 count=1 conv=notrunc,fsync 2>/dev/null
echo "=== guest boot $boot"
if [ $boot -lt 4 ]; then reboot -f; fi
"#;

fn check_reboots(firmware: Firmware, machine: &str) {
    let name =
        format!("reboot-{machine}-{}", if firmware == Firmware::Ours { "ours" } else { "stock" });
    let dir = scratch(&name);
    let disk = dir.join("counter.img");
    std::fs::write(&disk, vec![0u8; 1 << 20]).expect("write the counter disk");
    let devices = [
        "-drive".to_string(),
        format!("file={},if=none,id=counter,format=raw", disk.display()),
        "-device".into(),
        "nvme,drive=counter,serial=counter".into(),
    ];
    let started = Instant::now();
    let run =
        boot_linux(firmware, machine, BASE_CMDLINE, REBOOT_INIT, &devices, OnReset::Reboot, |_| {
            false
        });
    eprintln!("{name}: four boots and a power-off in {:.1?}", started.elapsed());
    let serial = &run.serial;
    let mut problems = Problems::default();
    let boots: Vec<&str> =
        serial.lines().filter_map(|l| l.strip_prefix("=== guest boot ")).collect();
    problems.check(boots == ["1", "2", "3", "4"], || format!("the guest's boots were {boots:?}"));
    let resets = serial.matches("reboot: Restarting system").count();
    problems.check(resets == 3, || format!("{resets} restarts, expected 3"));
    problems.check(run.status == Some(0), || format!("QEMU ended with {:?}", run.status));
    if firmware == Firmware::Ours {
        // Every boot went through the firmware from its banner to the hand-off to Linux.
        let banners = serial.matches("boot: hvmloader-rs ").count();
        let handoffs = serial.matches("handoff: Linux: zero page at ").count();
        let resets_installed = serial.matches("handoff: reset: ").count();
        problems.check(banners == 4 && handoffs == 4 && resets_installed == 4, || {
            format!("{banners} firmware banners, {handoffs} hand-offs, {resets_installed} reset paths for 4 boots")
        });
        problems.check(!serial.contains("ERROR"), || "the firmware logged an error".into());
    }
    conclude(&name, problems, serial);
}

#[test]
fn reboots_come_back_on_pc() {
    check_reboots(Firmware::Ours, "pc");
    check_reboots(Firmware::Stock, "pc");
}

#[test]
fn reboots_come_back_on_q35() {
    check_reboots(Firmware::Ours, "q35");
    check_reboots(Firmware::Stock, "q35");
}

// ---------------------------------------------------------------------------------------
// SMBIOS
// ---------------------------------------------------------------------------------------

/// /sys/class/dmi/id and the raw OEM strings structure (type 11), as Linux found them.
const DMI_REPORT: &str = r#"
echo "=== workload report begin ==="
for f in sys_vendor product_name product_version product_serial product_uuid board_vendor board_name board_serial chassis_vendor chassis_asset_tag bios_vendor bios_version bios_date; do
    echo "dmi $f=$(cat /sys/class/dmi/id/$f)"
done
[ -e /sys/firmware/dmi/entries/11-0/raw ] && echo "oem-strings $(tr '\0' '|' < /sys/firmware/dmi/entries/11-0/raw | cut -c6-)"
echo "=== workload report end ==="
"#;

fn dmi(report: &str) -> BTreeMap<&str, &str> {
    report.lines().filter_map(|l| l.strip_prefix("dmi ")?.split_once('=')).collect()
}

const SMBIOS_SETTINGS: [&str; 10] = [
    "-smbios",
    "type=1,manufacturer=ACME Cloud,product=Instance,version=7,serial=ds=nocloud;s=http://10.0.2.2:8000/",
    "-smbios",
    "type=2,manufacturer=BoardCo,product=B-1,serial=BRD42",
    "-smbios",
    "type=3,manufacturer=ChassisCo,asset=TAG-0042",
    "-smbios",
    "type=11,value=cloud-init:first,value=second",
    "-uuid",
    "5b3e1c62-1d4f-4d8c-9c1a-0123456789ab",
];

fn check_smbios(firmware: Firmware, machine: &str, settings: &[&str]) -> BTreeMap<String, String> {
    let name =
        format!("smbios-{machine}-{}", if firmware == Firmware::Ours { "ours" } else { "stock" });
    let devices: Vec<String> = settings.iter().map(|s| s.to_string()).collect();
    let run =
        boot_linux(firmware, machine, BASE_CMDLINE, DMI_REPORT, &devices, OnReset::Exit, |_| false);
    let Some(report) = report(&run.serial) else {
        panic!("{name}: no complete report; serial log tail:\n{}", tail(&run.serial, 40));
    };
    let mut found: BTreeMap<String, String> =
        dmi(report).into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    if let Some(oem) = report.lines().find_map(|l| l.strip_prefix("oem-strings ")) {
        found.insert("oem-strings".into(), oem.to_string());
    }
    found
}

#[test]
fn smbios_settings_from_qemu_reach_linux() {
    for machine in ["pc", "q35"] {
        let ours = check_smbios(Firmware::Ours, machine, &SMBIOS_SETTINGS);
        let stock = check_smbios(Firmware::Stock, machine, &SMBIOS_SETTINGS);
        let mut problems = Problems::default();
        for (key, expected) in [
            ("sys_vendor", "ACME Cloud"),
            ("product_name", "Instance"),
            ("product_version", "7"),
            ("product_serial", "ds=nocloud;s=http://10.0.2.2:8000/"),
            ("product_uuid", "5b3e1c62-1d4f-4d8c-9c1a-0123456789ab"),
            ("board_vendor", "BoardCo"),
            ("board_name", "B-1"),
            ("board_serial", "BRD42"),
            ("chassis_vendor", "ChassisCo"),
            ("chassis_asset_tag", "TAG-0042"),
            ("oem-strings", "cloud-init:first|second||"),
        ] {
            let (got, control) = (ours.get(key), stock.get(key));
            problems.check(got.map(String::as_str) == Some(expected), || {
                format!("{machine}: {key} is {got:?} through our firmware, expected {expected:?}")
            });
            problems.check(control.map(String::as_str) == Some(expected), || {
                format!("{machine}: {key} is {control:?} through QEMU's SeaBIOS path (the control)")
            });
        }
        problems.check(
            ours.get("bios_vendor").map(String::as_str) == Some(env!("CARGO_PKG_NAME")),
            || {
                format!(
                    "{machine}: BIOS vendor {:?}: the BIOS information is the firmware's",
                    ours.get("bios_vendor")
                )
            },
        );
        conclude(&format!("smbios-settings-{machine}"), problems, "");
    }
}

#[test]
fn without_smbios_settings_the_machine_is_qemus() {
    for (machine, product) in
        [("pc", "Standard PC (i440FX + PIIX, 1996)"), ("q35", "Standard PC (Q35 + ICH9, 2009)")]
    {
        let ours = check_smbios(Firmware::Ours, machine, &[]);
        let stock = check_smbios(Firmware::Stock, machine, &[]);
        let mut problems = Problems::default();
        for (key, expected) in
            [("sys_vendor", "QEMU"), ("product_name", product), ("chassis_vendor", "QEMU")]
        {
            for (path, found) in [("our firmware", &ours), ("QEMU's SeaBIOS path", &stock)] {
                let got = found.get(key).map(String::as_str);
                problems.check(got == Some(expected), || {
                    format!("{machine}: {key} is {got:?} through {path}, expected {expected:?}")
                });
            }
        }
        let date = ours.get("bios_date").cloned().unwrap_or_default();
        problems.check(
            date.len() == 10 && date.as_bytes()[2] == b'/' && date.as_bytes()[5] == b'/',
            || format!("{machine}: BIOS date {date:?} is not mm/dd/yyyy"),
        );
        conclude(&format!("smbios-default-{machine}"), problems, "");
    }
}

// ---------------------------------------------------------------------------------------
// SR-IOV
// ---------------------------------------------------------------------------------------

/// Enables every VF of the NVMe PF (drivers kept off them: their secondary controllers are
/// offline until brought up with NVMe virtualization management) and reports each VF's
/// BAR 0 and IDs.
const SRIOV_REPORT: &str = r#"
echo "=== workload report begin ==="
pf=/sys/bus/pci/devices/0000:$PF
echo "total $(cat $pf/sriov_totalvfs)"
echo 0 > $pf/sriov_drivers_autoprobe
echo $(cat $pf/sriov_totalvfs) > $pf/sriov_numvfs && echo "enabled $(cat $pf/sriov_numvfs)"
for vf in $pf/virtfn*; do
    set -- $(head -1 $vf/resource)
    echo "vf $(basename $(readlink $vf)) $(cat $vf/vendor):$(cat $vf/device) $1 $2"
done
dmesg | grep -E 'BAR|assigned|IOV|iov' | sed 's/^/dmesg: /'
echo "=== workload report end ==="
"#;

#[test]
fn sriov_vfs_get_the_bars_the_firmware_placed() {
    let name = "sriov-q35";
    let devices: Vec<String> = [
        "-device",
        "pcie-root-port,id=rp1,chassis=1,addr=4",
        "-device",
        "nvme-subsys,id=subsys0",
        "-device",
        "nvme,serial=sriov,subsys=subsys0,sriov_max_vfs=2,sriov_vq_flexible=4,sriov_vi_flexible=2,bus=rp1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let init = format!("PF=01:00.0\n{SRIOV_REPORT}");
    let run =
        boot_linux(Firmware::Ours, "q35", BASE_CMDLINE, &init, &devices, OnReset::Exit, |_| false);
    let serial = &run.serial;
    let mut problems = Problems::default();
    let Some(report) = report(serial) else {
        problems.check(false, || "no complete report".into());
        return conclude(name, problems, serial);
    };

    // The firmware's placement: the root port's memory windows and the VF BAR.
    let firmware_line = |needle: &str| {
        serial.lines().find(|l| l.starts_with("hvmrs ") && l.contains(needle)).map(str::to_string)
    };
    let base_size = |line: &str| {
        let base = line.split("base ").nth(1)?.split_whitespace().next()?;
        let size = line.split("size ").nth(1)?.split_whitespace().next()?;
        Some((hex(base), hex(size)))
    };
    let vf_bar = firmware_line("pci: 01:00.0 1b36:0010 VF BAR").and_then(|l| base_size(&l));
    let windows: Vec<(u64, u64)> = ["bridge mem window", "bridge prefetchable window"]
        .iter()
        .filter_map(|w| firmware_line(&format!("pci: 00:04.0 1b36:000c {w}")))
        .filter_map(|l| base_size(&l))
        .collect();
    let Some((vf_base, vf_span)) = vf_bar else {
        problems.check(false, || "the firmware placed no VF BAR for 01:00.0".into());
        return conclude(name, problems, serial);
    };
    problems.check(serial.contains("SR-IOV: VF BARs of 1 function(s) placed"), || {
        "the firmware did not report the SR-IOV function".into()
    });
    problems.check(
        windows.iter().any(|&(base, size)| base <= vf_base && vf_base + vf_span <= base + size),
        || {
            format!(
                "VF BAR [{vf_base:#x}+{vf_span:#x}] outside the root port's windows {windows:x?}"
            )
        },
    );

    let total: u64 =
        report.lines().find_map(|l| l.strip_prefix("total ")?.parse().ok()).unwrap_or(0);
    problems.check(total == 2 && report.contains("enabled 2"), || {
        format!("VFs not enabled: {}", report.lines().take(3).collect::<Vec<_>>().join(" / "))
    });
    let per_vf = vf_span.checked_div(total).unwrap_or(0);
    let vfs: Vec<(&str, &str, u64, u64)> = report
        .lines()
        .filter_map(|l| {
            let w: Vec<&str> = l.strip_prefix("vf ")?.split_whitespace().collect();
            Some((w[0], w[1], hex(w[2]), hex(w[3])))
        })
        .collect();
    problems.check(vfs.len() == 2, || format!("Linux lists {} VFs", vfs.len()));
    for (n, (bdf, ids, start, end)) in vfs.iter().enumerate() {
        problems.check(*ids == "0x1b36:0x0010", || format!("VF {bdf} has IDs {ids}"));
        let expected = vf_base + n as u64 * per_vf;
        problems.check(*start == expected && end + 1 - start == per_vf, || {
            format!("VF {bdf} BAR 0 is [{start:#x}-{end:#x}], the firmware placed it at {expected:#x} ({per_vf:#x} bytes)")
        });
    }
    let dmesg: Vec<&str> = report.lines().filter_map(|l| l.strip_prefix("dmesg: ")).collect();
    let reassigned: Vec<&&str> =
        dmesg.iter().filter(|l| l.contains("01:00.0") && l.contains("assigned")).collect();
    problems.check(reassigned.is_empty(), || format!("Linux reassigned VF BARs: {reassigned:?}"));
    problems.check(
        dmesg
            .iter()
            .any(|l| l.contains("01:00.0: VF BAR 0") && l.contains(&format!("{vf_base:x}"))),
        || format!("Linux did not take the VF BAR at {vf_base:#x}: {dmesg:?}"),
    );
    conclude(name, problems, serial);
}
