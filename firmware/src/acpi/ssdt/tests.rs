//! The DSDTs and the runtime SSDT as an OS meets them: each machine's SSDT is wrapped in its
//! table header, disassembled by `iasl -d` next to the DSDT (each as the other's external),
//! recompiled, and loaded with the DSDT into ACPICA's `acpiexec`, whose evaluation results
//! are checked against the input and against the routing the firmware programs
//! ([`Chipset::bus0_link`], [`Chipset::link_irqs`]).
//!
//! acpica-tools must be installed (CI installs them): without iasl or acpiexec these tests
//! fail and say so.
#![allow(clippy::single_range_in_vec_init, reason = "lists of PCI windows that hold one window")]

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::string::String;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::vec::Vec;
use std::{format, vec};

use libacpi::tables::{AmlTable, MadtProcessor, ProcessorState};
use libacpi::{OemIds, Table};

use super::*;
use crate::acpi::dsdt::{DsdtSettings, installed_dsdt};
use crate::acpi::ssdt::{CPU_PRESENCE_BYTES, CpuHotplug};
use crate::chipset::isa::LegacyDevices;
use crate::chipset::{Chipset, IntxWiring};
use crate::pci::IntxPin;

// ---------------------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------------------

/// One machine: what the firmware would pass to [`build_ssdt`].
struct Machine {
    tag: &'static str,
    chipset: Chipset,
    /// Who wires PCI INTx: QEMU's chipset or Xen (the SSDT's `XENI`).
    wiring: IntxWiring,
    cpus: Vec<MadtProcessor>,
    bus_range: RangeInclusive<u8>,
    low_windows: Vec<Range<u64>>,
    high_window: Option<Range<u64>>,
    ecam: Option<EcamArea>,
    sleep_states: SleepStates,
    generation_id: Option<u64>,
}

impl Machine {
    fn input(&self) -> SsdtInput<'_> {
        SsdtInput {
            cpus: &self.cpus,
            bus_range: self.bus_range.clone(),
            low_windows: &self.low_windows,
            high_window: self.high_window.clone(),
            ecam: self.ecam,
            sleep_states: self.sleep_states,
            expanders: &[],
            cpu_hotplug: None,
            generation_id: self.generation_id,
        }
    }

    /// The machine's layout as the firmware computes it by default: i440 with a 256-bus
    /// root and one low window; Q35 with 64 buses of ECAM at 0xF0000000 splitting it.
    fn new(tag: &'static str, chipset: Chipset, apic_ids: &[u32]) -> Self {
        let cpus = apic_ids
            .iter()
            .enumerate()
            .map(|(uid, &apic_id)| MadtProcessor {
                uid: uid as u32,
                apic_id,
                state: ProcessorState::Enabled,
            })
            .collect();
        match chipset {
            Chipset::I440fx => Self {
                tag,
                chipset,
                wiring: IntxWiring::new(chipset, false),
                cpus,
                bus_range: 0..=0xFF,
                low_windows: vec![0xE000_0000..0xFC00_0000],
                high_window: None,
                ecam: None,
                sleep_states: SleepStates::NONE,
                generation_id: None,
            },
            Chipset::Q35 => {
                let ecam = EcamArea { base: 0xF000_0000, buses: 64 };
                Self {
                    tag,
                    chipset,
                    wiring: IntxWiring::new(chipset, false),
                    cpus,
                    bus_range: 0..=63,
                    low_windows: vec![0xE000_0000..ecam.base, ecam.end()..0xFC00_0000],
                    high_window: None,
                    ecam: Some(ecam),
                    sleep_states: SleepStates::NONE,
                    generation_id: None,
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// The tools
// ---------------------------------------------------------------------------------------

/// A directory of its own for each check (tests run in parallel), removed afterwards
/// unless the check failed: then it is kept, with the tables, for a look.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("hvmloader-acpi-{}-{tag}-{n}", std::process::id());
        let dir = std::env::temp_dir().join(name);
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create scratch dir");
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            std::eprintln!("tables and tool output kept in {}", self.0.display());
        } else {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

const TOOLS_MISSING: &str = "the ACPI table tests need ACPICA's iasl and acpiexec; install \
                             acpica-tools (Debian: apt-get install acpica-tools)";

/// Runs an ACPICA tool in `dir`; returns its stdout and stderr together.
fn run(tool: &str, dir: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(tool)
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `{tool}` ({e}): {TOOLS_MISSING}"));
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), log)
}

/// Disassembles `file` with the other tables as externals, checks that iasl found nothing
/// to complain about, and returns the ASL.
fn disassemble(dir: &Path, file: &str, externals: &[&str]) -> String {
    let mut args = vec!["-e"];
    args.extend(externals);
    args.extend(["-d", file]);
    let (ok, log) = run("iasl", dir, &args);
    assert!(ok, "iasl -d {file} failed:\n{log}");
    for bad in ["Error", "Warning", "Remark", "AE_", "Could not"] {
        assert!(!log.contains(bad), "iasl -d {file} reports a problem ({bad}):\n{log}");
    }
    let dsl =
        fs::read_to_string(dir.join(file).with_extension("dsl")).expect("iasl -d wrote no .dsl");
    assert!(!dsl.contains("/**** "), "the disassembly of {file} flags a problem:\n{dsl}");
    dsl
}

/// Compiles `asl` with warnings as errors; returns the table.
fn compile(dir: &Path, name: &str, asl: &str) -> Vec<u8> {
    let source = dir.join(format!("{name}.asl"));
    fs::write(&source, asl).unwrap();
    let (ok, log) = run("iasl", dir, &["-we", "-p", name, source.to_str().unwrap()]);
    assert!(
        ok && log.contains(" 0 Warnings, 0 Remarks"),
        "iasl rejected {name}.asl:\n{log}\n{asl}"
    );
    fs::read(dir.join(format!("{name}.aml"))).unwrap()
}

/// A table of the tests' own, loaded next to DSDT and SSDT: acpiexec's debugger returns at
/// most 16 KiB, less than a whole 128-entry `_PRT`, so PRTL evaluates `_PRT` once (it is
/// slow in acpiexec) and PRTS returns the 4 entries of one slot from that.
const PROBE_ASL: &str = r#"
DefinitionBlock ("", "SSDT", 2, "TEST", "PROBE", 0)
{
    External (\_SB.PCI0._PRT, MethodObj)

    Name (PRTC, Zero)

    /* Evaluates \_SB.PCI0._PRT (again after \_PIC) into PRTC. */
    Method (PRTL, 0, NotSerialized)
    {
        CopyObject (\_SB.PCI0._PRT (), PRTC)
    }

    /* The _PRT entries of slot Arg0 (pins INTA-INTD). */
    Method (PRTS, 1, NotSerialized)
    {
        Local0 = Package (0x04) {}
        Local1 = Zero
        While (Local1 < 0x04)
        {
            Local0 [Local1] = DerefOf (PRTC [((Arg0 * 0x04) + Local1)])
            Local1++
        }

        Return (Local0)
    }
}
"#;

/// The result of one `evaluate` of an acpiexec batch.
struct Evaluation {
    command: String,
    text: String,
}

impl Evaluation {
    fn lines(&self) -> impl Iterator<Item = &str> {
        self.text.lines()
    }

    /// Values of every `[Integer]` and object reference in the result, in order.
    fn elements(&self) -> Vec<Element> {
        self.lines()
            .filter_map(|line| {
                let line = line.trim();
                if let Some(value) = line.strip_prefix("[Integer] = ") {
                    Some(Element::Integer(u64::from_str_radix(value.trim(), 16).unwrap()))
                } else if line.starts_with("[Object Reference]") {
                    let name = line.split("Name ").nth(1).expect("reference to a named object");
                    Some(Element::Name(name.split_whitespace().next().unwrap().into()))
                } else {
                    None
                }
            })
            .collect()
    }

    fn integer(&self) -> u64 {
        match self.elements().as_slice() {
            [Element::Integer(value)] => *value,
            _ => panic!("`{}` did not return one integer:\n{}", self.command, self.text),
        }
    }

    fn string(&self) -> String {
        let line = self.lines().find(|l| l.trim().starts_with("[String]"));
        let line =
            line.unwrap_or_else(|| panic!("`{}` returned no string:\n{}", self.command, self.text));
        line.split('"').nth(1).expect("quoted string").into()
    }

    /// The bytes of a `[Buffer]` result (on the same line when short, below it otherwise).
    fn buffer(&self) -> Vec<u8> {
        let mut lines = self.lines().skip_while(|l| !l.contains("[Buffer] Length"));
        let first = lines
            .next()
            .unwrap_or_else(|| panic!("`{}` returned no buffer:\n{}", self.command, self.text));
        let mut rows = vec![first.split_once('=').unwrap().1];
        rows.extend(lines.take_while(|l| {
            let l = l.trim_start();
            l.len() > 5 && l.as_bytes()[4] == b':' && l[..4].bytes().all(|b| b.is_ascii_hexdigit())
        }));
        rows.iter()
            .filter_map(|row| row.trim().get(6..))
            .flat_map(|row| row.split("//").next().unwrap().split_whitespace())
            .map(|byte| u8::from_str_radix(byte, 16).unwrap())
            .collect()
    }

    fn resources(&self) -> Vec<Res> {
        decode_resources(&self.buffer())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Element {
    Integer(u64),
    Name(String),
}

/// Loads DSDT, SSDT and the probe table into acpiexec, runs `commands` and returns each
/// evaluation, after checking that everything loaded and nothing failed. The commands go
/// to the debugger's standard input: `-b` takes at most 1023 characters.
fn acpiexec(dir: &Path, commands: &[String]) -> Vec<Evaluation> {
    acpiexec_tables(dir, &["DSDT.aml", "SSDT.aml", "PROBE.aml"], commands)
}

/// [`acpiexec`] with other tables, loaded in the order given.
fn acpiexec_tables(dir: &Path, tables: &[&str], commands: &[String]) -> Vec<Evaluation> {
    let mut script = commands.join("\n");
    script.push_str("\nquit\n");
    let mut child = Command::new("acpiexec")
        .current_dir(dir)
        .args(tables)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `acpiexec` ({e}): {TOOLS_MISSING}"));
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "acpiexec failed:\n{log}");
    let loaded = format!("ACPI: {} ACPI AML tables successfully acquired and loaded", tables.len());
    assert!(log.contains(&loaded), "acpiexec did not load {tables:?}:\n{log}");
    for bad in ["AE_", "ACPI Error", "ACPI Warning", "ACPI Exception", "failed with status"] {
        assert!(!log.contains(bad), "acpiexec reports a problem ({bad}):\n{log}");
    }
    // At exit acpiexec counts the interpreter objects still allocated: none may be left.
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.trim_end().ends_with("ACPI: No outstanding allocations"), "leak:\n{log}");
    let mut sections = log.split("\nEvaluating ").skip(1);
    let evaluations: Vec<Evaluation> = commands
        .iter()
        .map(|command| {
            let text =
                sections.next().unwrap_or_else(|| panic!("no result for `{command}`:\n{log}"));
            let path = command.split_whitespace().nth(1).unwrap();
            assert!(text.starts_with(path), "results out of order at `{command}`:\n{text}");
            Evaluation { command: command.clone(), text: text.into() }
        })
        .collect();
    assert!(sections.next().is_none(), "more results than commands:\n{log}");
    evaluations
}

// ---------------------------------------------------------------------------------------
// Resource descriptors (ACPI 6.5, 6.4)
// ---------------------------------------------------------------------------------------

/// The descriptors these tables use, decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Res {
    /// WordBusNumber, producer.
    Buses(u64, u64),
    /// IO (Decode16), fixed.
    Io { port: u16, length: u8 },
    /// WordIO window, producer.
    IoWindow(u64, u64),
    /// DWordMemory or QWordMemory.
    Memory { min: u64, max: u64, qword: bool, producer: bool, cacheable: bool },
    /// Memory32Fixed.
    FixedMemory { base: u32, length: u32 },
    /// IRQ or IRQNoFlags: the IRQ mask and the flags byte when present.
    Irq { mask: u16, flags: Option<u8> },
    /// DMA: channel mask.
    Dma(u8),
}

/// Decodes a resource template, checking every descriptor's length fields and the end tag.
fn decode_resources(bytes: &[u8]) -> Vec<Res> {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let tag = bytes[at];
        if tag & 0x80 == 0 {
            let length = usize::from(tag & 7);
            let data = &bytes[at + 1..at + 1 + length];
            match tag >> 3 {
                0x04 => out.push(Res::Irq {
                    mask: u16::from_le_bytes([data[0], data[1]]),
                    flags: data.get(2).copied(),
                }),
                0x05 => out.push(Res::Dma(data[0])),
                0x08 => {
                    let min = u16::from_le_bytes([data[1], data[2]]);
                    let max = u16::from_le_bytes([data[3], data[4]]);
                    assert_eq!(
                        (data[0], min),
                        (1, max),
                        "IO descriptor not fixed 16-bit: {data:x?}"
                    );
                    // data[5] is the alignment, data[6] the length.
                    out.push(Res::Io { port: min, length: data[6] });
                }
                0x0F => {
                    assert_eq!(at + 2, bytes.len(), "bytes after the end tag: {bytes:x?}");
                    return out;
                }
                other => panic!("unexpected small descriptor {other:#x} in {bytes:x?}"),
            }
            at += 1 + length;
        } else {
            let length = usize::from(u16::from_le_bytes([bytes[at + 1], bytes[at + 2]]));
            let data = &bytes[at + 3..at + 3 + length];
            let field = |width: usize, index: usize| {
                let mut value = [0u8; 8];
                value[..width].copy_from_slice(&data[3 + index * width..][..width]);
                u64::from_le_bytes(value)
            };
            match tag {
                0x86 => out.push(Res::FixedMemory {
                    base: u32::from_le_bytes(data[1..5].try_into().unwrap()),
                    length: u32::from_le_bytes(data[5..9].try_into().unwrap()),
                }),
                0x87 | 0x88 | 0x8A => {
                    let width = match tag {
                        0x88 => 2,
                        0x87 => 4,
                        _ => 8,
                    };
                    assert_eq!(length, 3 + 5 * width, "address descriptor length");
                    let (kind, general, specific) = (data[0], data[1], data[2]);
                    let [granularity, min, max, translation, len] =
                        [0, 1, 2, 3, 4].map(|i| field(width, i));
                    assert_eq!((granularity, translation), (0, 0), "{data:x?}");
                    assert_eq!(len, max - min + 1, "_LEN does not match _MIN/_MAX: {data:x?}");
                    // MinFixed, MaxFixed, PosDecode.
                    assert_eq!(general & 0x0E, 0x0C, "address descriptor flags {general:#x}");
                    let producer = general & 1 == 0;
                    match kind {
                        0 => {
                            assert_eq!(specific & 1, 1, "memory must be read-write");
                            let cacheable = specific & 0x06 != 0;
                            let qword = width == 8;
                            out.push(Res::Memory { min, max, qword, producer, cacheable });
                        }
                        1 => {
                            assert!(producer && width == 2 && specific & 3 == 3, "{data:x?}");
                            out.push(Res::IoWindow(min, max));
                        }
                        2 => {
                            assert!(producer && width == 2, "{data:x?}");
                            out.push(Res::Buses(min, max));
                        }
                        other => panic!("address space type {other}"),
                    }
                }
                other => panic!("unexpected large descriptor {other:#x} in {bytes:x?}"),
            }
            at += 3 + length;
        }
    }
}

/// What `\_SB.PCI0._CRS` must say for `machine`.
fn expected_root_resources(machine: &Machine) -> Vec<Res> {
    let window = |r: &Range<u64>, qword| Res::Memory {
        min: r.start,
        max: r.end - 1,
        qword,
        producer: true,
        cacheable: false,
    };
    let mut expected = vec![
        Res::Buses(u64::from(*machine.bus_range.start()), u64::from(*machine.bus_range.end())),
        Res::Io { port: 0xCF8, length: 8 },
        Res::IoWindow(0, 0xCF7),
        Res::IoWindow(0xD00, 0xFFFF),
        Res::Memory { min: 0xA_0000, max: 0xB_FFFF, qword: false, producer: true, cacheable: true },
    ];
    expected.extend(machine.low_windows.iter().map(|r| window(r, false)));
    expected.extend(machine.high_window.iter().map(|r| window(r, true)));
    expected
}

// ---------------------------------------------------------------------------------------
// The check
// ---------------------------------------------------------------------------------------

/// The legacy devices of the simulated machines: what QEMU's `pc` has (COM1, a floppy
/// controller), and COM1 alone on `q35`; neither has COM2 or a parallel port here.
fn legacy_devices(chipset: Chipset) -> LegacyDevices {
    LegacyDevices { com1: true, floppy: chipset == Chipset::I440fx, ..LegacyDevices::default() }
}

/// The path of the LPC/ISA bridge holding the legacy devices and PIRQ registers.
fn isa_bridge(chipset: Chipset) -> &'static str {
    match chipset {
        Chipset::I440fx => "\\_SB.PCI0.ISA",
        Chipset::Q35 => "\\_SB.PCI0.LPC",
    }
}

/// The PIRQ link devices of the chipset, LNKA first.
fn link_names(chipset: Chipset) -> Vec<String> {
    (0..chipset.pirq_links()).map(|i| format!("LNK{}", char::from(b'A' + i as u8))).collect()
}

/// The flags byte of the links' IRQ descriptors: level, shared, and active low under Xen
/// (as hvmloader's tables), active high under QEMU (as QEMU's).
fn link_flags(wiring: IntxWiring) -> u8 {
    if wiring.is_xen() { 0x18 } else { 0x10 }
}

/// An IRQ resource as `_CRS`/`_SRS` of a link carry it.
fn link_irq(wiring: IntxWiring, irq: u8) -> Res {
    Res::Irq { mask: if irq == 0 { 0 } else { 1 << irq }, flags: Some(link_flags(wiring)) }
}

/// acpiexec's notation for a buffer argument holding an IRQ descriptor for `irq`.
fn irq_argument(irq: u8) -> String {
    let [low, high] = (1u16 << irq).to_le_bytes();
    format!("(23 {low:02x} {high:02x} 18 79 00)")
}

/// Builds the SSDT for `machine`, writes both tables, and checks them with iasl and
/// acpiexec: everything the SSDT holds, and the DSDT's routing, links and devices.
fn check(machine: &Machine) {
    let mut body = vec![0u8; 64 * 1024];
    let length = build_ssdt(&machine.input(), &mut body).expect("build_ssdt");
    let table = AmlTable::ssdt(&body[..length]);
    let mut ssdt = vec![0u8; table.length()];
    table.write(&OemIds::xen(), &mut ssdt).unwrap();

    let scratch = Scratch::new(machine.tag);
    let dir = scratch.0.as_path();
    let settings = DsdtSettings {
        xen_intx: machine.wiring.is_xen(),
        native_pcie_hotplug: true,
        legacy: legacy_devices(machine.chipset),
    };
    let dsdt = installed_dsdt(machine.chipset, settings).expect("the DSDT has its switches");
    fs::write(dir.join("DSDT.aml"), dsdt).unwrap();
    fs::write(dir.join("SSDT.aml"), &ssdt).unwrap();

    // Both disassemble cleanly, each with the other as external; the SSDT's ASL compiles
    // back to the very bytes the generator wrote.
    disassemble(dir, "DSDT.aml", &["SSDT.aml"]);
    let ssdt_asl = disassemble(dir, "SSDT.aml", &["DSDT.aml"]);
    assert_eq!(ssdt_asl.contains("Device (ECAM)"), machine.ecam.is_some(), "{ssdt_asl}");
    let recompiled = compile(dir, "SSDT-RECOMPILED", &ssdt_asl);
    // iasl puts the External declarations of the disassembly in an `If (Zero)` block first.
    let externals = recompiled[36..].strip_suffix(&body[..length]);
    assert!(
        externals.is_some_and(|e| e.starts_with(&[0xA0]) && e[2] == 0x00),
        "iasl encodes the disassembled SSDT differently:\n{ssdt_asl}"
    );
    compile(dir, "PROBE", PROBE_ASL);

    let chipset = machine.chipset;
    let isa = isa_bridge(chipset);
    let links = link_names(chipset);
    let mut commands: Vec<String> = vec![
        "evaluate \\_S5".into(),
        "evaluate \\_SB.PCI0._HID".into(),
        "evaluate \\_SB.PCI0._CRS".into(),
        "evaluate \\_SB.PCI0.MRES._CRS".into(),
        "evaluate \\_SB.HPET._STA".into(),
        "evaluate \\_SB.HPET._CRS".into(),
        format!("evaluate {isa}._ADR"),
        format!("evaluate {isa}.COM1._STA"),
        format!("evaluate {isa}.COM1._CRS"),
        format!("evaluate {isa}.UAR2._STA"),
        format!("evaluate {isa}.LPT1._STA"),
        format!("evaluate {isa}.FDC0._STA"),
        format!("evaluate {isa}.RTC._CRS"),
        format!("evaluate {isa}.PIC._CRS"),
    ];
    if machine.ecam.is_some() {
        commands.push("evaluate \\_SB.PCI0.ECAM._HID".into());
        commands.push("evaluate \\_SB.PCI0.ECAM._CRS".into());
    }
    for index in 0..machine.cpus.len() {
        let device = format!("\\_SB.C{index:03X}");
        for method in ["_HID", "_UID", "_STA", "_MAT"] {
            commands.push(format!("evaluate {device}.{method}"));
        }
    }
    // Links: possible IRQs; each link set to its firmware IRQ and read back (the links share
    // one register block, so a wrong field offset shows as another link's value), then the
    // first one disabled.
    for link in &links {
        commands.push(format!("evaluate \\_SB.{link}._PRS"));
    }
    let wiring = machine.wiring;
    for (link, &irq) in links.iter().zip(wiring.link_irqs()) {
        commands.push(format!("evaluate \\_SB.{link}._SRS {}", irq_argument(irq)));
    }
    for link in &links {
        commands.push(format!("evaluate \\_SB.{link}._CRS"));
        commands.push(format!("evaluate \\_SB.{link}._STA"));
    }
    commands.push("evaluate \\_SB.LNKA._DIS".into());
    commands.push("evaluate \\_SB.LNKA._CRS".into());
    commands.push("evaluate \\_SB.LNKA._STA".into());
    // _PRT slot by slot in PIC mode, then in APIC mode.
    let modes = [false, true];
    for apic in modes {
        if apic {
            commands.push("evaluate \\_PIC 1".into());
        }
        commands.push("evaluate \\PRTL".into());
        for slot in 0..32 {
            commands.push(format!("evaluate \\PRTS {slot}"));
        }
    }
    if chipset == Chipset::Q35 {
        // _OSC: PCI Express UUID, revision 1, three dwords (CDW1, support, control).
        let uuid = "(5b 4d db 33 f7 1f 1c 40 96 57 74 41 c0 3d d7 66)";
        let other = "(5b 4d db 33 f7 1f 1c 40 96 57 74 41 c0 3d d7 67)";
        commands.push(format!(
            "evaluate \\_SB.PCI0._OSC {uuid} 1 3 (00 00 00 00 1f 00 00 00 bf 00 00 00)"
        ));
        commands.push(format!(
            "evaluate \\_SB.PCI0._OSC {uuid} 1 3 (01 00 00 00 1f 00 00 00 ff 01 00 00)"
        ));
        commands.push(format!(
            "evaluate \\_SB.PCI0._OSC {uuid} 2 3 (00 00 00 00 1f 00 00 00 1f 00 00 00)"
        ));
        commands.push(format!(
            "evaluate \\_SB.PCI0._OSC {other} 1 3 (00 00 00 00 1f 00 00 00 1f 00 00 00)"
        ));
    }
    let sleep = machine.sleep_states;
    for (state, slp_typ) in [("_S3", sleep.s3), ("_S4", sleep.s4)] {
        assert_eq!(
            ssdt_asl.contains(&format!("Name (\\{state},")),
            slp_typ.is_some(),
            "{ssdt_asl}"
        );
        if slp_typ.is_some() {
            commands.push(format!("evaluate \\{state}"));
        }
    }
    assert_eq!(ssdt_asl.contains("Device (VGEN)"), machine.generation_id.is_some(), "{ssdt_asl}");
    if machine.generation_id.is_some() {
        for object in ["_HID", "_CID", "_DDN", "ADDR"] {
            commands.push(format!("evaluate \\_SB.VGEN.{object}"));
        }
    }

    let results = acpiexec(dir, &commands);
    let mut results = results.iter();
    let mut next = || results.next().unwrap();

    // \_S5: SLP_TYP 0 for PM1a and PM1b.
    let s5 = next().elements();
    assert_eq!(s5.len(), 4, "\\_S5 package");
    assert_eq!(s5[..2], [Element::Integer(0), Element::Integer(0)], "\\_S5 SLP_TYP");

    let hid = next().integer();
    let expected_hid = match chipset {
        Chipset::I440fx => 0x030A_D041, // PNP0A03
        Chipset::Q35 => 0x080A_D041,    // PNP0A08
    };
    assert_eq!(hid, expected_hid, "PCI0 _HID");
    assert_eq!(next().resources(), expected_root_resources(machine), "\\_SB.PCI0._CRS");

    let mres = next().resources();
    let pm_block_length = match chipset {
        Chipset::I440fx => 0x40,
        Chipset::Q35 => 0x80,
    };
    assert!(mres.contains(&Res::Io { port: 0xB000, length: pm_block_length }), "{mres:?}");
    if chipset == Chipset::I440fx {
        for (port, length) in [(0xAE00, 0x18), (0xAF00, 0x20), (0xAFE0, 4)] {
            assert!(mres.contains(&Res::Io { port, length }), "{port:#x}: {mres:?}");
        }
    }

    // acpiexec's memory reads as zero: no HPET there, and _STA says so.
    assert_eq!(next().integer(), 0, "HPET _STA without an HPET");
    assert_eq!(next().resources(), [Res::FixedMemory { base: 0xFED0_0000, length: 0x400 }]);

    let isa_address = match chipset {
        Chipset::I440fx => 0x0001_0000,
        Chipset::Q35 => 0x001F_0000,
    };
    assert_eq!(next().integer(), isa_address, "{isa} _ADR");
    assert_eq!(next().integer(), 0x0F, "COM1 _STA");
    assert_eq!(
        next().resources(),
        [Res::Io { port: 0x3F8, length: 8 }, Res::Irq { mask: 1 << 4, flags: None }]
    );
    let legacy = legacy_devices(chipset);
    let sta = |present: bool| if present { 0x0F } else { 0 };
    assert_eq!(next().integer(), sta(legacy.com2), "COM2 _STA");
    assert_eq!(next().integer(), sta(legacy.lpt1), "LPT1 _STA");
    assert_eq!(next().integer(), sta(legacy.floppy), "floppy controller _STA");
    assert_eq!(
        next().resources(),
        [Res::Io { port: 0x70, length: 2 }, Res::Irq { mask: 1 << 8, flags: None }]
    );
    let pic = next().resources();
    assert!(pic.contains(&Res::Io { port: 0x4D0, length: 2 }), "ELCR with the PICs: {pic:?}");

    if let Some(ecam) = machine.ecam {
        assert_eq!(next().integer(), 0x020C_D041, "ECAM _HID PNP0C02");
        let reserved = next().resources();
        let qword = ecam.end() > 1 << 32;
        let expected = Res::Memory {
            min: ecam.base,
            max: ecam.end() - 1,
            qword,
            producer: false,
            cacheable: false,
        };
        assert_eq!(reserved, [expected], "ECAM reservation");
    }

    for (index, cpu) in machine.cpus.iter().enumerate() {
        let device = format!("C{index:03X}");
        assert_eq!(next().string(), "ACPI0007", "{device} _HID");
        assert_eq!(next().integer(), u64::from(cpu.uid), "{device} _UID");
        let status = match cpu.state {
            ProcessorState::Enabled => 0x0F,
            ProcessorState::OnlineCapable => 0x0D,
            ProcessorState::Disabled => 0,
        };
        assert_eq!(next().integer(), status, "{device} _STA");
        let mut entry = [0u8; MadtProcessor::MAX_ENCODED_LENGTH];
        let entry_length = cpu.encode(&mut entry).unwrap();
        assert_eq!(next().buffer(), &entry[..entry_length], "{device} _MAT is its MADT entry");
    }

    for link in &links {
        let possible = next().resources();
        assert_eq!(
            possible,
            [Res::Irq { mask: (1 << 5) | (1 << 10) | (1 << 11), flags: Some(link_flags(wiring)) }],
            "{link} _PRS"
        );
        let Res::Irq { mask, .. } = possible[0] else { unreachable!() };
        for &irq in wiring.link_irqs() {
            assert_ne!(mask & (1 << irq), 0, "{link} _PRS lacks IRQ {irq} the firmware uses");
        }
    }
    for link in links.iter().take(wiring.links()) {
        assert!(!next().text.contains("returned object"), "{link} _SRS returns nothing");
    }
    for (index, link) in links.iter().enumerate() {
        // Links the wiring does not use (ICH9's E-H under Xen) keep acpiexec's register
        // value, zero: not routed.
        let irq = wiring.link_irqs().get(index).copied().unwrap_or(0);
        assert_eq!(next().resources(), [link_irq(wiring, irq)], "{link} _CRS after _SRS");
        let status = if irq == 0 { 0x09 } else { 0x0B };
        assert_eq!(next().integer(), status, "{link} _STA");
    }
    next(); // _DIS
    assert_eq!(next().resources(), [link_irq(wiring, 0)], "LNKA _CRS after _DIS: no IRQ");
    assert_eq!(next().integer(), 0x09, "LNKA _STA after _DIS");

    for apic in modes {
        if apic {
            next(); // _PIC 1
        }
        next(); // PRTL
        for slot in 0..32u8 {
            let entries = next().elements();
            assert_eq!(entries.len(), 16, "slot {slot}: 4 entries of 4 elements");
            for (pin, entry) in entries.chunks(4).enumerate() {
                let pin_id = IntxPin::from_register(pin as u8 + 1).unwrap();
                let link = wiring.bus0_link(slot, pin_id);
                // QEMU's PIIX3 connects each link's ISA IRQ to the PIC and the I/O APIC
                // alike: its links serve both interrupt models.
                let (source, index) = if apic && wiring != IntxWiring::QemuPiix {
                    (Element::Integer(0), Element::Integer(wiring.apic_gsi(slot, pin_id).into()))
                } else {
                    (Element::Name(links[link].clone()), Element::Integer(0))
                };
                let expected = [
                    Element::Integer((u64::from(slot) << 16) | 0xFFFF),
                    Element::Integer(pin as u64),
                    source,
                    index,
                ];
                let mode = if apic { "APIC" } else { "PIC" };
                assert_eq!(entry, expected, "{wiring:?} _PRT ({mode} mode), slot {slot} pin {pin}");
            }
        }
    }

    if chipset == Chipset::Q35 {
        let osc =
            |dwords: [u32; 3]| dwords.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<_>>();
        // Everything defined is granted; reserved bits are masked and that is reported.
        assert_eq!(next().buffer(), osc([0, 0x1F, 0xBF]), "_OSC grants all defined controls");
        assert_eq!(next().buffer(), osc([0x11, 0x1F, 0xBF]), "_OSC masks reserved control bits");
        assert_eq!(next().buffer(), osc([0x08, 0x1F, 0x1F]), "_OSC unknown revision");
        assert_eq!(next().buffer(), osc([0x04, 0x1F, 0x1F]), "_OSC unknown UUID");
    }
    for (state, slp_typ) in [("_S3", sleep.s3), ("_S4", sleep.s4)] {
        if let Some(t) = slp_typ {
            let t = Element::Integer(t.into());
            let zero = Element::Integer(0);
            assert_eq!(next().elements(), [t.clone(), t, zero.clone(), zero], "\\{state}");
        }
    }
    if let Some(address) = machine.generation_id {
        assert_eq!(next().integer(), 0x0000_AE60, "VGEN _HID XEN0000");
        // ACPICA upper-cases _CID strings when it returns them (its predefined-name repair),
        // which is how Linux's driver matches "VM_GEN_COUNTER".
        assert_eq!(next().string(), "VM_GEN_COUNTER", "VGEN _CID");
        assert_eq!(next().string(), "VM_Gen_Counter", "VGEN _DDN");
        let expected = [Element::Integer(address & 0xFFFF_FFFF), Element::Integer(address >> 32)];
        assert_eq!(next().elements(), expected, "VGEN ADDR: low and high DWORD of the address");
    }
    assert!(results.next().is_none());
}

// ---------------------------------------------------------------------------------------
// Machines
// ---------------------------------------------------------------------------------------

#[test]
fn i440_one_cpu() {
    check(&Machine::new("i440-1cpu", Chipset::I440fx, &[0]));
}

#[test]
fn q35_one_cpu() {
    check(&Machine::new("q35-1cpu", Chipset::Q35, &[0]));
}

#[test]
fn i440_four_cpus_with_high_window() {
    let mut machine = Machine::new("i440-4cpu", Chipset::I440fx, &[0, 1, 2, 3]);
    machine.high_window = Some(0x1_0000_0000..0x100_0000_0000);
    check(&machine);
}

#[test]
fn q35_four_cpus() {
    check(&Machine::new("q35-4cpu", Chipset::Q35, &[0, 1, 2, 3]));
}

#[test]
fn apic_id_gaps_on_both_chipsets() {
    for chipset in [Chipset::I440fx, Chipset::Q35] {
        check(&Machine::new("apic-gaps", chipset, &[0, 1, 2, 4, 5, 6]));
    }
}

#[test]
fn q35_split_low_window_high_window_and_offline_cpus() {
    let mut machine = Machine::new("q35-full", Chipset::Q35, &[0, 2, 4, 6]);
    // The ECAM area at 0xF0000000 (64 buses) splits a window that starts lower.
    machine.low_windows = vec![0xC000_0000..0xF000_0000, 0xF400_0000..0xFC00_0000];
    machine.high_window = Some(0x2_4000_0000..0x80_0000_0000);
    machine.cpus[2].state = ProcessorState::OnlineCapable;
    machine.cpus[3].state = ProcessorState::Disabled;
    check(&machine);
}

#[test]
fn q35_256_buses_and_x2apic_ids() {
    let mut machine = Machine::new("q35-x2apic", Chipset::Q35, &[0, 1, 255, 300]);
    let ecam = EcamArea { base: 0xE000_0000, buses: 256 };
    machine.ecam = Some(ecam);
    machine.bus_range = 0..=255;
    machine.low_windows = vec![0xC000_0000..ecam.base, ecam.end()..0xFC00_0000];
    // x2APIC structures carry 32-bit UIDs.
    machine.cpus[3].uid = 0x1234;
    check(&machine);
}

#[test]
fn ecam_above_4_gib_is_a_qword_reservation() {
    let mut machine = Machine::new("q35-ecam-high", Chipset::Q35, &[0]);
    machine.ecam = Some(EcamArea { base: 0x80_0000_0000, buses: 64 });
    machine.low_windows = vec![0xE000_0000..0xFC00_0000];
    check(&machine);
}

#[test]
fn xen_wiring_on_both_chipsets() {
    for chipset in [Chipset::I440fx, Chipset::Q35] {
        let mut machine = Machine::new("xen-wiring", chipset, &[0, 2]);
        machine.wiring = IntxWiring::new(chipset, true);
        check(&machine);
    }
}

#[test]
fn xen_sleep_states_and_generation_id_on_i440() {
    let mut machine = Machine::new("i440-xen-s3s4-genid", Chipset::I440fx, &[0, 1]);
    machine.wiring = IntxWiring::Xen;
    machine.sleep_states = SleepStates::xen(true, true);
    machine.generation_id = Some(0xFC00_2010);
    check(&machine);
}

#[test]
fn qemu_sleep_states_and_a_generation_id_above_4_gib_on_q35() {
    let mut machine = Machine::new("q35-qemu-s3s4-genid", Chipset::Q35, &[0]);
    machine.sleep_states = SleepStates { s3: Some(S3_SLP_TYP), s4: Some(QEMU_DEFAULT_S4_SLP_TYP) };
    machine.generation_id = Some(0x1_2345_6780);
    check(&machine);
}

#[test]
fn s4_alone() {
    let mut machine = Machine::new("i440-s4", Chipset::I440fx, &[0]);
    machine.sleep_states = SleepStates { s3: None, s4: Some(5) };
    check(&machine);
}

/// A probe that sets the device model's vCPU presence bitmap (acpiexec keeps what is written
/// to an I/O region and reads it back).
const PRESENCE_PROBE_ASL: &str = r#"
DefinitionBlock ("", "SSDT", 2, "TEST", "PROBE", 0)
{
    External (\_SB.PRS, FieldUnitObj)

    Method (SETP, 1, NotSerialized)
    {
        \_SB.PRS = Arg0
    }
}
"#;

/// vCPU hot-add under Xen: the processors' _STA and _MAT follow the presence bitmap, and the
/// scan notifies exactly the processors whose presence changed, once.
#[test]
fn vcpu_hot_add_follows_the_presence_bitmap() {
    for chipset in [Chipset::I440fx, Chipset::Q35] {
        // Four possible vCPUs (APIC IDs 0, 2, 4, 6), vCPU 0 online at boot.
        let mut machine = Machine::new("vcpu-hot-add", chipset, &[0, 2, 4, 6]);
        machine.wiring = IntxWiring::Xen;
        for cpu in &mut machine.cpus[1..] {
            cpu.state = ProcessorState::OnlineCapable;
        }
        let mut online = [0u8; CPU_PRESENCE_BYTES];
        online[0] = 0b0001;
        let input = SsdtInput { cpu_hotplug: Some(CpuHotplug { online }), ..machine.input() };
        let mut body = vec![0u8; 64 * 1024];
        let length = build_ssdt(&input, &mut body).expect("build_ssdt");
        let table = AmlTable::ssdt(&body[..length]);
        let mut ssdt = vec![0u8; table.length()];
        table.write(&OemIds::xen(), &mut ssdt).unwrap();

        let scratch = Scratch::new("vcpu-hot-add");
        let dir = scratch.0.as_path();
        let settings = DsdtSettings { xen_intx: true, ..DsdtSettings::default() };
        fs::write(dir.join("DSDT.aml"), installed_dsdt(chipset, settings).unwrap()).unwrap();
        fs::write(dir.join("SSDT.aml"), &ssdt).unwrap();
        fs::write(dir.join("CPUHP.aml"), crate::acpi::cpu_hotplug::ssdt(chipset).unwrap().bytes())
            .unwrap();
        compile(dir, "PROBE", PRESENCE_PROBE_ASL);
        // The runtime SSDT disassembles with the hot-plug table's methods as externals.
        disassemble(dir, "SSDT.aml", &["DSDT.aml", "CPUHP.aml"]);

        let status = |n: usize| format!("evaluate \\_SB.C00{n}._STA");
        let commands: Vec<String> = [
            // What the device model reports at boot: vCPU 0.
            "evaluate \\SETP (01)".into(),
            status(0),
            status(1),
            "evaluate \\_SB.C001._MAT".into(),
            // vCPUs 1 and 3 hot-added.
            "evaluate \\SETP (0b)".into(),
            "evaluate \\_SB.PRSC".into(),
            status(1),
            status(2),
            status(3),
            "evaluate \\_SB.C003._MAT".into(),
            // Nothing changed: nothing to notify.
            "evaluate \\_SB.PRSC".into(),
            // vCPU 1 removed.
            "evaluate \\SETP (09)".into(),
            "evaluate \\_GPE._E02".into(),
            status(1),
        ]
        .into();
        let results =
            acpiexec_tables(dir, &["DSDT.aml", "SSDT.aml", "CPUHP.aml", "PROBE.aml"], &commands);
        // Sorted: acpiexec runs notify handlers on threads of their own, so the order they
        // print in is not the order of the Notify operations.
        let notified = |i: usize| -> Vec<String> {
            let mut notes: Vec<String> = results[i]
                .lines()
                .filter_map(|l| l.split("Received a System Notify on [").nth(1))
                .map(|rest| {
                    let name = &rest[..4];
                    let value = rest.split("Value ").nth(1).unwrap_or("").split_whitespace().next();
                    format!("{name} {}", value.unwrap_or(""))
                })
                .collect();
            notes.sort();
            notes
        };
        assert_eq!(results[1].integer(), 0x0F, "{chipset}: vCPU 0 present");
        assert_eq!(results[2].integer(), 0, "{chipset}: vCPU 1 absent at boot");
        // Its MADT entry (Local APIC: type 0, length 8, UID 1, APIC ID 2): online capable,
        // not enabled.
        assert_eq!(results[3].buffer(), [0, 8, 1, 2, 0x02, 0, 0, 0], "{chipset}: C001 _MAT");
        assert_eq!(notified(5), ["C001 0x01", "C003 0x01"], "{chipset}: Device Checks");
        assert_eq!(
            [results[6].integer(), results[7].integer(), results[8].integer()],
            [0x0F, 0, 0x0F],
            "{chipset}: _STA after the hot-add"
        );
        assert_eq!(results[9].buffer(), [0, 8, 3, 6, 0x03, 0, 0, 0], "{chipset}: C003 enabled");
        assert!(notified(10).is_empty(), "{chipset}: a second scan notifies nothing");
        assert_eq!(notified(12), ["C001 0x03"], "{chipset}: the GPE handler's Eject Request");
        assert_eq!(results[13].integer(), 0, "{chipset}: vCPU 1 gone");
    }
}

/// The AML of the sleep states and the generation ID device is what iasl makes of the ASL
/// the module documentation shows: they end the SSDT body, in this order.
#[test]
fn sleep_states_and_generation_id_are_byte_exact_with_iasl() {
    let cases = [
        (SleepStates::xen(true, true), Some(0xFC00_2010)),
        (SleepStates::xen(true, false), None),
        (SleepStates::xen(false, true), Some(0x1_2345_6780)),
        (SleepStates { s3: Some(1), s4: Some(2) }, Some(0xFFFF_FFFF_FFFF_FFF0)),
        (SleepStates::NONE, Some(0x10)),
    ];
    let scratch = Scratch::new("sleep-genid-iasl");
    for (n, (sleep_states, generation_id)) in cases.into_iter().enumerate() {
        let mut asl =
            String::from("DefinitionBlock (\"\", \"SSDT\", 2, \"TEST\", \"SLEEP\", 0)\n{\n");
        for (state, slp_typ) in [("_S3", sleep_states.s3), ("_S4", sleep_states.s4)] {
            if let Some(t) = slp_typ {
                asl +=
                    &format!("    Name (\\{state}, Package (0x04) {{ {t}, {t}, Zero, Zero }})\n");
            }
        }
        if let Some(address) = generation_id {
            asl += &format!(
                r#"    Scope (\_SB)
    {{
        Device (VGEN)
        {{
            Name (_HID, EisaId ("XEN0000"))
            Name (_CID, "VM_Gen_Counter")
            Name (_DDN, "VM_Gen_Counter")
            Method (ADDR, 0, NotSerialized)
            {{
                Return (Package (0x02) {{ 0x{:08X}, 0x{:08X} }})
            }}
        }}
    }}
"#,
                address & 0xFFFF_FFFF,
                address >> 32
            );
        }
        asl += "}\n";
        let iasl = compile(&scratch.0, &format!("EXPECTED{n}"), &asl);

        let mut machine = Machine::new("unused", Chipset::I440fx, &[0]);
        machine.sleep_states = sleep_states;
        machine.generation_id = generation_id;
        let mut body = vec![0u8; 4096];
        let length = build_ssdt(&machine.input(), &mut body).unwrap();
        machine.sleep_states = SleepStates::NONE;
        machine.generation_id = None;
        let without = build_ssdt(&machine.input(), &mut vec![0u8; 4096]).unwrap();
        assert_eq!(&body[without..length], &iasl[36..], "case {n}:\n{asl}");
    }
}

// ---------------------------------------------------------------------------------------
// Host-only checks (no tools)
// ---------------------------------------------------------------------------------------

#[test]
fn generation_id_bytes_are_low_then_high_little_endian() {
    let bytes = generation_id_bytes([0x1122_3344_5566_7788, 0x99AA_BBCC_DDEE_FF00]);
    assert_eq!(
        bytes,
        [
            0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xFF, 0xEE, 0xDD, 0xCC, 0xBB,
            0xAA, 0x99
        ]
    );
    // Xen's xenstore value "4660:5678" (low:high) as libxl writes it on restore.
    assert_eq!(generation_id_bytes([4660, 5678])[..2], [0x34, 0x12]);
    assert_eq!(generation_id_bytes([4660, 5678])[8..10], [0x2E, 0x16]);
}

#[test]
fn xen_sleep_states_follow_the_xenstore_flags() {
    assert_eq!(SleepStates::xen(true, true), SleepStates { s3: Some(1), s4: Some(0) });
    assert_eq!(SleepStates::xen(false, true), SleepStates { s3: None, s4: Some(0) });
    assert_eq!(SleepStates::xen(false, false), SleepStates::NONE);
}

#[test]
fn processor_names() {
    assert_eq!(&processor_name(0), b"C000");
    assert_eq!(&processor_name(0x1A), b"C01A");
    assert_eq!(&processor_name(MAX_CPUS - 1), b"CFFF");
}

#[test]
fn impossible_machines_are_rejected() {
    let machine = Machine::new("unused", Chipset::Q35, &[0]);
    let mut out = vec![0u8; 4096];
    let mut reject = |input: SsdtInput, why: &str| {
        assert!(
            matches!(build_ssdt(&input, &mut out), Err(Error::InvalidAmlOperand(_))),
            "{why} accepted"
        );
    };
    let base = machine.input();
    #[allow(clippy::reversed_empty_ranges)]
    reject(SsdtInput { bus_range: 1..=0, ..base.clone() }, "empty bus range");
    reject(SsdtInput { bus_range: 0..=64, ..base.clone() }, "buses beyond ECAM");
    reject(SsdtInput { low_windows: &[0xE000_0000..0xE000_0000], ..base.clone() }, "empty window");
    reject(
        SsdtInput { low_windows: &[0xE000_0000..0x1_0000_1000], ..base.clone() },
        "low above 4G",
    );
    reject(SsdtInput { high_window: Some(5..5), ..base.clone() }, "empty high window");
    let many =
        vec![MadtProcessor { uid: 0, apic_id: 0, state: ProcessorState::Enabled }; MAX_CPUS + 1];
    reject(SsdtInput { cpus: &many, ..base.clone() }, "4097 processors");
    let eight = SleepStates { s3: None, s4: Some(8) };
    reject(SsdtInput { sleep_states: eight, ..base.clone() }, "SLP_TYP 8");
    reject(SsdtInput { generation_id: Some(0), ..base.clone() }, "generation ID at 0");
    reject(SsdtInput { generation_id: Some(0xFC00_0008), ..base.clone() }, "8-byte alignment");
    assert!(build_ssdt(&base, &mut out).is_ok());
}

#[test]
fn a_small_buffer_is_an_error_not_a_panic() {
    let machine = Machine::new("unused", Chipset::Q35, &[0, 1, 2, 3]);
    let mut big = vec![0u8; 4096];
    let needed = build_ssdt(&machine.input(), &mut big).unwrap();
    for size in [0, 10, needed / 2, needed - 1] {
        let mut small = vec![0u8; size];
        assert!(
            matches!(build_ssdt(&machine.input(), &mut small), Err(Error::BufferTooSmall { .. })),
            "{size} bytes"
        );
    }
    let mut exact = vec![0u8; needed];
    assert_eq!(build_ssdt(&machine.input(), &mut exact), Ok(needed));
    assert_eq!(exact, big[..needed]);
}
