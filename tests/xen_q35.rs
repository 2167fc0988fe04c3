//! Q35 guests under the real Xen (issue 14): Xen 4.17 and its Debian dom0, as in tests/xen.rs,
//! with the guest's device model replaced by the project's own (`cargo xtask xen-dm`,
//! tools/xen-dm/): Debian's QEMU 7.2 patched so that `-machine q35,accel=xen` works, started
//! by libxl through the `xen-q35-dm` wrapper (xl.cfg `device_model_override`), which turns
//! libxl's `xenfv` command line into a Q35 one.
//!
//! Every test runs the same guest: 1 GiB, one vCPU, two PCIe root ports with an NVMe
//! controller behind the first and a virtio-net behind the second (`device_model_args_hvm`),
//! the Xen platform device, and a CD-ROM (libxl's `hdc`, which the wrapper puts on AHCI port
//! 2) holding a small ISOLINUX image, with `boot = "d"`.
//!
//! - The control is Xen's own hvmloader 4.17. It knows the PIIX3 platform only and asserts
//!   that 00:01.0 is a PIIX3 (8086:7000): on Q35 the device there (the Xen platform device)
//!   fails that assertion at pci.c:170 and hvmloader crashes the domain. That is the
//!   recorded fact the control checks.
//! - Our firmware on the same guest proves the device model: the firmware finds the Q35
//!   host bridge, numbers the root ports' buses and reaches the devices behind them over
//!   CF8/CFC (Xen routes those by bus number, which the patch keeps up to date), switches to
//!   ECAM (the MCH's MMCONFIG window, which the device model registers with Xen) and places
//!   every BAR through it: QEMU's own view of the devices (`info pci`) holds the same BARs.
//!   The ICH9 PIRQ A-D registers it programs are Xen's PCI links (`xen-hvmctx`), and SeaBIOS
//!   boots the CD from AHCI.
//!
//! What the firmware does on Q35 under Xen beyond that (Xen's INTx wiring, the PM block,
//! Linux) is for the firmware's own tests.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use common::xen::{
    GuestExtras, PROBE_SCRIPT, Scenario, TEST_MOUNT, XenRun, dom0_and_q35_device_model_or_skip,
    iso_tools, run_with,
};
use common::{hex, image};

/// One Xen at a time (see tests/xen.rs).
static ONE_XEN_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Our firmware reaches SeaBIOS's CD boot about 25 s after `xl create` here (COM1 under Xen
/// is a device-model round trip per byte); several times that on a loaded machine.
const GUEST_TIMEOUT: Duration = Duration::from_secs(300);

/// What the guest config adds to the device model's command line.
const DEVICES: &[&str] = &[
    "-device",
    "pcie-root-port,id=rp1,chassis=1",
    "-device",
    "pcie-root-port,id=rp2,chassis=2",
    "-device",
    "nvme,serial=hvmrs-nvme,bus=rp1",
    "-device",
    "virtio-net-pci,bus=rp2",
];

/// Run by the dom0 while the guest still exists, with the guest's name: the wrapper's log
/// (libxl's command line and the one it ran), QEMU's view of the PCI devices and of the
/// ECAM window, and Xen's PCI link routes from the guest's HVM context.
const PROBE: &str = r#"guest=$1
domid=$(xl domid "$guest")
echo "== dm-log"
grep '^xen-q35-dm: ' /var/log/xen/qemu-dm-$guest.log
echo "== info-pci"
xl qemu-monitor-command "$guest" "info pci"
echo "== mmcfg"
xl qemu-monitor-command "$guest" "info mtree -f" | grep -i mmcfg
echo "== hvmctx"
/usr/lib/xen-4.17/bin/xen-hvmctx "$domid" | grep -E 'PCI LINK|PCI IRQs|ISA IRQs'
echo "== end"
"#;

/// An ISOLINUX CD whose kernel is not one: SeaBIOS's boot of it is what the tests look at.
/// Each guest `name` has its own, since the tests run in parallel.
fn boot_cd(name: &str) -> PathBuf {
    let dir = common::scratch(&format!("{name}-cd"));
    let kernel = dir.join("not-a-kernel");
    std::fs::write(&kernel, b"not a kernel").expect("write the CD's kernel");
    let iso = dir.join("boot.iso");
    iso_tools()
        .boot_iso(&kernel, &kernel, "console=ttyS0", &dir, &iso)
        .unwrap_or_else(|e| panic!("the boot ISO: {e}"));
    iso
}

/// Boots Xen and runs the guest with `firmware` (`None`: Xen's hvmloader), or returns `None`
/// when this machine can run neither Xen nor the device model build.
fn run_q35_guest(
    test: &str,
    name: &'static str,
    firmware: Option<Vec<u8>>,
    wait_for: &'static str,
) -> Option<XenRun> {
    let (dom0, device_model) = dom0_and_q35_device_model_or_skip(test)?;
    let probe = common::scratch(&format!("{name}-probe")).join(PROBE_SCRIPT);
    std::fs::write(&probe, PROBE).expect("write the probe");
    let mut extras = GuestExtras {
        files: vec![(PROBE_SCRIPT.into(), probe), ("boot.iso".into(), boot_cd(name))],
        config: vec![
            format!(
                "disk = ['format=raw,vdev=hdc,access=ro,devtype=cdrom,target={TEST_MOUNT}/boot.iso']"
            ),
            r#"boot = "d""#.into(),
        ],
    };
    extras.use_q35_device_model(device_model, DEVICES);
    let scenario = Scenario {
        name,
        firmware_override: firmware,
        memory_mib: 1024,
        vcpus: 1,
        wait_for,
        guest_timeout: GUEST_TIMEOUT,
    };
    let _only_one = ONE_XEN_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let run = run_with(dom0, &scenario, &extras);
    eprintln!(
        "{test}: Xen boot, guest and power-off took {:?}; the guest's (dN) lines:",
        run.elapsed
    );
    for line in run.guest_lines() {
        eprintln!("    {line}");
    }
    Some(run)
}

/// One `== name` part of the probe's output.
fn probe_part<'a>(run: &'a XenRun, name: &str) -> &'a str {
    let probe = run.section("probe").unwrap_or_else(|| panic!("no probe output\n{run}"));
    let header = format!("== {name}\n");
    let start = probe.find(&header).unwrap_or_else(|| panic!("no `{name}` in the probe\n{run}"));
    let rest = &probe[start + header.len()..];
    &rest[..rest.find("\n== ").unwrap_or(rest.len())]
}

/// The wrapper ran QEMU's Q35 machine for libxl's xenfv, with the platform device and the
/// CD moved from the PIIX IDE secondary master to AHCI port 2.
fn assert_wrapper_made_q35(run: &XenRun) {
    let log = probe_part(run, "dm-log");
    let line = |prefix: &str| {
        log.lines()
            .find_map(|l| l.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no `{prefix}` line in the device model's log\n{run}"))
    };
    let libxl = line("xen-q35-dm: libxl: ");
    let exec = line("xen-q35-dm: exec ");
    eprintln!("libxl's device model command line:\n    {libxl}\nrun as:\n    {exec}");
    assert!(libxl.contains(" -machine xenfv,suppress-vmdesc=on "), "{run}");
    assert!(libxl.contains(",bus=ide.1,unit=0"), "libxl's hdc is not ide.1 unit 0\n{run}");
    assert!(exec.contains(" -machine q35,suppress-vmdesc=on,accel=xen "), "{run}");
    assert!(exec.contains(" -device xen-platform "), "{run}");
    assert!(exec.contains(",bus=ide.2,unit=0"), "the CD is not on AHCI port 2\n{run}");
    assert!(!exec.contains("xenfv"), "{run}");
}

/// Xen's hvmloader 4.17 on a Q35 guest: it asserts that the device at 00:01.0 is a PIIX3
/// (its PCI-to-ISA bridge on xenfv); on Q35 that is the Xen platform device, and hvmloader
/// crashes the domain.
#[test]
fn xens_own_hvmloader_crashes_on_a_q35_guest() {
    const TEST: &str = "xens_own_hvmloader_crashes_on_a_q35_guest";
    // Never printed: the wait ends when the domain crashes.
    let Some(run) = run_q35_guest(TEST, "q35-stock", None, "^never printed$") else { return };
    assert_eq!(run.create_status(), 0, "xl create failed\n{run}");
    assert_wrapper_made_q35(&run);
    run.assert_guest_printed("HVM Loader");
    run.assert_guest_printed(
        "*** HVMLoader assertion '(devfn != PCI_ISA_DEVFN) || ((vendor_id == 0x8086) && \
         (device_id == 0x7000))' failed at pci.c:170",
    );
    run.assert_guest_printed("*** HVMLoader crashed.");
    assert!(
        run.listed_state().is_some_and(|s| s.contains('c')),
        "the domain did not end crashed\n{run}"
    );
    assert_eq!(run.shutdown_reason(), Some(3), "not shut down as crashed\n{run}");
    let info_pci = parse_info_pci(probe_part(&run, "info-pci"));
    assert_eq!(
        info_pci.get(&(0, 1, 0)).map(|f| f.id.as_str()),
        Some("5853:0001"),
        "00:01.0 is not the Xen platform device\n{run}"
    );
}

/// Our firmware on the Q35 guest: Q35 detected, buses behind the root ports reached, every
/// BAR placed through ECAM where QEMU has it, PIRQ A-D in Xen's links, SeaBIOS booting the
/// CD from AHCI.
#[test]
fn our_firmware_runs_a_q35_guest_into_seabios_and_boots_the_cd() {
    const TEST: &str = "our_firmware_runs_a_q35_guest_into_seabios_and_boots_the_cd";
    let image = std::fs::read(image("hvmloader")).expect("read target/hvmloader");
    let Some(run) = run_q35_guest(
        TEST,
        "q35-ours",
        Some(image),
        r"Booting from 0000:7c00|No bootable device|hvmrs .*fatal: ",
    ) else {
        return;
    };
    assert_eq!(run.create_status(), 0, "xl create refused our image\n{run}");
    assert_wrapper_made_q35(&run);
    assert_eq!(run.xen_fault(), None, "Xen stopped the guest for a fault\n{run}");
    let ours = run.firmware_lines();
    assert!(!ours.iter().any(|l| l.contains("fatal: ")), "the firmware stopped\n{run}");
    run.assert_guest_printed("host bridge 8086:29c0 at 00:00.0: Q35/ICH9");
    run.assert_guest_printed("on 3 bus(es)");

    // Every BAR the firmware placed (through ECAM, after "config accesses switch to it") is
    // where QEMU's device has it, behind the root ports too.
    let ecam_on = ours.iter().position(|l| l.contains("config accesses switch to it"));
    let first_bar = ours.iter().position(|l| l.contains(" BAR") && l.contains(" base 0x"));
    assert!(
        matches!((ecam_on, first_bar), (Some(e), Some(b)) if e < b),
        "the firmware did not switch to ECAM before placing BARs\n{run}"
    );
    let info_pci = parse_info_pci(probe_part(&run, "info-pci"));
    let placed = placed_bars(&ours);
    for (((bus, dev, func), index), bar) in &placed {
        let function = info_pci.get(&(*bus, *dev, *func)).unwrap_or_else(|| {
            panic!("QEMU has no {bus:02x}:{dev:02x}.{func} ({}) the firmware placed\n{run}", bar.id)
        });
        assert_eq!(function.id, bar.id, "{bus:02x}:{dev:02x}.{func}\n{run}");
        assert_eq!(
            function.bars.get(index),
            Some(&(bar.base, bar.base + bar.size - 1)),
            "{bus:02x}:{dev:02x}.{func} BAR{index}: the firmware placed {bar:?}, QEMU holds \
             {:?}\n{run}",
            function.bars.get(index)
        );
    }
    // Behind the root ports (buses 1 and 2), and the Xen platform device on bus 0.
    for (bdf, id) in [((1, 0, 0), "1b36:0010"), ((2, 0, 0), "1af4:1041"), ((0, 1, 0), "5853:0001")]
    {
        assert!(
            placed.iter().any(|((at, _), bar)| *at == bdf && bar.id == id),
            "no BAR of {id} at {bdf:?} placed\n{run}"
        );
    }
    // SeaBIOS scans with CF8/CFC, which Xen routes by bus number.
    run.assert_guest_printed("Found 9 PCI devices (max PCI bus is 02)");

    // QEMU maps the MCH's MMCONFIG window where the firmware put ECAM.
    let ecam = ours
        .iter()
        .find_map(|l| l.split_once("ECAM (MMCONFIG) at [")?.1.split_once(']'))
        .map(|(range, _)| range.to_string())
        .unwrap_or_else(|| panic!("no ECAM line\n{run}"));
    let (first, last) = ecam.split_once('-').expect("an ECAM range");
    let mmcfg = probe_part(&run, "mmcfg");
    assert!(
        mmcfg.lines().any(|l| {
            l.trim_start().starts_with(&format!("{:016x}-{:016x}", hex(first), hex(last)))
        }),
        "QEMU does not map MMCONFIG at {ecam}: {mmcfg}\n{run}"
    );

    // The PIRQ A-D routes the firmware programmed in the ICH9 LPC are Xen's PCI links.
    let pirqs = ours
        .iter()
        .find_map(|l| l.split_once("PIRQ links to IRQs [")?.1.split_once(']'))
        .map(|(list, _)| list.split(", ").map(|n| n.parse::<u8>().unwrap()).collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no PIRQ line\n{run}"));
    let links = probe_part(&run, "hvmctx")
        .lines()
        .find_map(|l| l.trim().strip_prefix("PCI LINK: "))
        .map(|list| list.split_whitespace().map(|n| n.parse::<u8>().unwrap()).collect::<Vec<_>>())
        .unwrap_or_else(|| panic!("no PCI LINK in xen-hvmctx\n{run}"));
    assert_eq!(links, pirqs[..4], "Xen's PCI links are not the LPC's PIRQ A-D\n{run}");

    // SeaBIOS finds the CD on AHCI port 2 and boots its El Torito image.
    let guest = run.guest_lines();
    let handoff = guest.iter().position(|l| l.contains("handoff: SeaBIOS: "));
    let banner = guest.iter().position(|l| l.contains("SeaBIOS (version"));
    assert!(
        matches!((handoff, banner), (Some(h), Some(b)) if h < b),
        "no hand-off to SeaBIOS followed by its banner\n{run}"
    );
    run.assert_guest_printed("AHCI/2: registering: \"DVD/CD [AHCI/2: QEMU DVD-ROM");
    run.assert_guest_printed("Booting from DVD/CD...");
    run.assert_guest_printed("Booting from 0000:7c00");
}

/// A PCI function as QEMU's `info pci` shows it.
#[derive(Debug, Default)]
struct Function {
    /// "vvvv:dddd"
    id: String,
    /// BAR index (0-5; the ROM is 6) -> (first, last) address, for the BARs mapped.
    bars: BTreeMap<u8, (u64, u64)>,
}

/// `info pci`: "  Bus  1, device   0, function 0:" headers, then "PCI device 1b36:0010" and
/// "BAR0: 64 bit memory at 0xfae00000 [0xfae03fff]." lines.
fn parse_info_pci(text: &str) -> BTreeMap<Bdf, Function> {
    let mut functions = BTreeMap::new();
    let mut current = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Bus ") {
            let numbers: Vec<u8> = rest
                .trim_end_matches(':')
                .split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse().ok())
                .collect();
            if let [bus, dev, func] = numbers[..] {
                current = Some((bus, dev, func));
                functions.insert((bus, dev, func), Function::default());
            }
            continue;
        }
        let Some(function) = current.and_then(|key| functions.get_mut(&key)) else { continue };
        if let Some((_, id)) = line.split_once(": PCI device ") {
            function.id = id.trim().to_string();
        } else if let Some((bar, rest)) = line.strip_prefix("BAR").and_then(|l| l.split_once(':')) {
            let Some((_, range)) = rest.split_once(" at ") else { continue };
            let (first, last) = range.trim_end_matches('.').split_once(" [").expect("a BAR range");
            let (first, last) = (hex(first), hex(last.trim_end_matches(']')));
            if first != u64::MAX {
                function.bars.insert(bar.parse().expect("a BAR index"), (first, last));
            }
        }
    }
    functions
}

/// (bus, device, function)
type Bdf = (u8, u8, u8);

/// A BAR the firmware placed.
#[derive(Debug, PartialEq, Eq)]
struct PlacedBar {
    /// "vvvv:dddd" of its function
    id: String,
    base: u64,
    size: u64,
}

/// The firmware's "pci: 02:00.0 1af4:1041 BAR4 mem64 pref base 0xfa800000 size 0x4000"
/// lines, by function and BAR index.
fn placed_bars(lines: &[&str]) -> BTreeMap<(Bdf, u8), PlacedBar> {
    let mut placed = BTreeMap::new();
    for line in lines {
        let Some((_, rest)) = line.split_once(" pci: ") else { continue };
        let words: Vec<&str> = rest.split_whitespace().collect();
        let (Some(bdf), Some(id), Some(bar)) = (words.first(), words.get(1), words.get(2)) else {
            continue;
        };
        let Some(index) = bar.strip_prefix("BAR").and_then(|n| n.parse::<u8>().ok()) else {
            continue;
        };
        let Some(at) = words.iter().position(|w| *w == "base") else { continue };
        let (Some(base), Some(size)) = (words.get(at + 1), words.get(at + 3)) else { continue };
        let (bus, devfn) = bdf.split_once(':').expect("bus:dev.fn");
        let (dev, func) = devfn.split_once('.').expect("dev.fn");
        let number = |s: &str| u8::from_str_radix(s, 16).expect("a hex bus/device/function");
        placed.insert(
            ((number(bus), number(dev), number(func)), index),
            PlacedBar { id: id.to_string(), base: hex(base), size: hex(size) },
        );
    }
    placed
}

#[test]
fn info_pci_and_firmware_lines_parse() {
    let info = "  Bus  2, device   0, function 0:\n    Ethernet controller: PCI device 1af4:1041\n\
                \x20     BAR1: 32 bit memory at 0xfaa40000 [0xfaa40fff].\n\
                \x20     BAR6: 32 bit memory at 0xffffffffffffffff [0x0003fffe].\n";
    let parsed = parse_info_pci(info);
    let function = &parsed[&(2, 0, 0)];
    assert_eq!(function.id, "1af4:1041");
    assert_eq!(function.bars.len(), 1);
    assert_eq!(function.bars[&1], (0xfaa4_0000, 0xfaa4_0fff));

    let lines = ["hvmrs INFO  pci: 1f:1f.2 8086:2922 BAR5 mem32 base 0xfa7fd000 size 0x1000"];
    let placed = placed_bars(&lines);
    assert_eq!(
        placed[&((0x1f, 0x1f, 2), 5)],
        PlacedBar { id: "8086:2922".to_string(), base: 0xfa7f_d000, size: 0x1000 }
    );
}
