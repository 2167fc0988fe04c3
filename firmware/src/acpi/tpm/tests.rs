use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use std::path::PathBuf;
use std::process::Command;

use libacpi::{HEADER_LENGTH, checksum};

use super::*;
use crate::acpi::{dsdt, laptop_slate};
use crate::chipset::Chipset;

/// A TPM register page: the 16-bit words a device model answers with, `absent` elsewhere
/// (all ones where nothing decodes the address, as under Xen; zeroes elsewhere).
struct SimulatedRegisters {
    words: BTreeMap<u64, u16>,
    absent: u16,
    reads: core::cell::RefCell<Vec<u64>>,
}

impl SimulatedRegisters {
    fn nothing(absent: u16) -> Self {
        Self { words: BTreeMap::new(), absent, reads: Default::default() }
    }

    fn with(mut self, offset: u64, value: u16) -> Self {
        self.words.insert(offset, value);
        self
    }

    /// A TIS as QEMU's tpm-tis emulates it: DID_VID 0x0001:0x1014 (IBM), the rest of the
    /// page (the CRB interface identifier's place included) reading all ones.
    fn tis() -> Self {
        Self::nothing(0xFFFF).with(0xF00, 0x1014).with(0xF02, 0x0001)
    }

    /// A CRB as QEMU's tpm-crb emulates it: interface identifier 0x30 with type CRB and
    /// vendor 0x1014 in bits 47:32; 0xF00 lies in its command buffer, zeroed.
    fn crb() -> Self {
        Self::nothing(0).with(0x30, 0x4011).with(0x32, 0).with(0x34, 0x1014).with(0x36, 0x0001)
    }
}

impl TpmRegisters for SimulatedRegisters {
    fn read16(&self, offset: u64) -> u16 {
        assert!(offset < LOCALITY_SIZE && offset.is_multiple_of(2), "read at {offset:#x}");
        self.reads.borrow_mut().push(offset);
        self.words.get(&offset).copied().unwrap_or(self.absent)
    }
}

#[test]
fn nothing_answers_on_an_empty_page() {
    for absent in [0xFFFF, 0] {
        let page = SimulatedRegisters::nothing(absent);
        assert!(!TpmInterface::Tis.answers(&page), "{absent:#x}");
        assert!(!TpmInterface::Crb.answers(&page), "{absent:#x}");
    }
}

#[test]
fn each_interface_answers_only_for_its_own_version() {
    assert!(TpmInterface::Tis.answers(&SimulatedRegisters::tis()));
    assert!(!TpmInterface::Crb.answers(&SimulatedRegisters::tis()));
    assert!(TpmInterface::Crb.answers(&SimulatedRegisters::crb()));
    assert!(!TpmInterface::Tis.answers(&SimulatedRegisters::crb()));
}

#[test]
fn tis_needs_both_ids() {
    let vendor_only = SimulatedRegisters::nothing(0xFFFF).with(0xF00, 0x1014);
    assert!(!TpmInterface::Tis.answers(&vendor_only));
    let device_only = SimulatedRegisters::nothing(0).with(0xF02, 0x0001);
    assert!(!TpmInterface::Tis.answers(&device_only));
    let probe = SimulatedRegisters::tis();
    TpmInterface::Tis.answers(&probe);
    assert_eq!(*probe.reads.borrow(), [0xF00, 0xF02], "reads only the ID register");
}

#[test]
fn tpm12_gets_a_client_tcpa_over_its_log() {
    let tables = TpmTables { interface: TpmInterface::Tis, log_area: 0x7FF0_0000 };
    let table = tables.interface_table();
    assert_eq!(table.signature(), Signature::TCPA);
    let mut bytes = vec![0u8; table.length()];
    table.write(&OemIds::xen(), &mut bytes).unwrap();
    assert_eq!(bytes.len(), 50);
    assert_eq!(checksum::sum(&bytes), 0);
    assert_eq!(bytes[8], 2, "revision");
    assert_eq!(bytes[36..38], [0, 0], "client platform");
    assert_eq!(bytes[38..42], LOG_AREA_SIZE.to_le_bytes());
    assert_eq!(bytes[42..50], 0x7FF0_0000u64.to_le_bytes());
}

#[test]
fn tpm20_gets_a_crb_tpm2_over_its_log() {
    let tables = TpmTables { interface: TpmInterface::Crb, log_area: 0x7FF0_0000 };
    let table = tables.interface_table();
    assert_eq!(table.signature(), Signature::TPM2);
    let mut bytes = vec![0u8; table.length()];
    table.write(&OemIds::xen(), &mut bytes).unwrap();
    assert_eq!(bytes.len(), 76);
    assert_eq!(checksum::sum(&bytes), 0);
    assert_eq!(bytes[8], 4, "revision");
    assert_eq!(bytes[40..48], 0xFED4_0040u64.to_le_bytes(), "control area");
    assert_eq!(bytes[48..52], 7u32.to_le_bytes(), "start method: CRB");
    assert_eq!(bytes[64..68], LOG_AREA_SIZE.to_le_bytes());
    assert_eq!(bytes[68..76], 0x7FF0_0000u64.to_le_bytes());
}

/// `Memory32Fixed (ReadWrite, 0xFED40000, length)` as AML encodes it (ACPI 6.5, 6.4.3.4).
fn memory32_fixed(length: u32) -> Vec<u8> {
    let mut d = vec![0x86, 0x09, 0x00, 0x01];
    d.extend_from_slice(&0xFED4_0000u32.to_le_bytes());
    d.extend_from_slice(&length.to_le_bytes());
    d
}

#[test]
fn each_version_has_its_device() {
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    // EisaId ("PNP0C31") is the DWORD 0x310CD041.
    let cases: [(TpmInterface, &[u8], u32); 2] = [
        (TpmInterface::Tis, &[0x0C, 0x41, 0xD0, 0x0C, 0x31], 0x5000),
        (TpmInterface::Crb, b"MSFT0101\0", 0x1000),
    ];
    for (interface, hid, length) in cases {
        let ssdt = TpmTables { interface, log_area: 0x1000 }.device_ssdt().unwrap();
        let bytes = ssdt.bytes();
        assert_eq!(&bytes[..4], b"SSDT");
        assert_eq!(checksum::sum(bytes), 0);
        let body = &bytes[HEADER_LENGTH..];
        assert!(contains(body, hid), "{interface:?} _HID");
        assert!(contains(body, &memory32_fixed(length)), "{interface:?} _CRS");
    }
}

/// A scratch directory for the ACPICA tools, removed unless the test failed.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("hvmloader-tpm-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn run(dir: &Scratch, tool: &str, args: &[&str]) -> String {
    let output = Command::new(tool).current_dir(&dir.0).args(args).output().unwrap_or_else(|e| {
        panic!(
            "cannot run `{tool}` ({e}): install acpica-tools (Debian: apt-get install acpica-tools)"
        )
    });
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{tool} {args:?} failed:\n{log}");
    log
}

/// The device SSDTs load next to the i440FX DSDT in ACPICA's interpreter, and their
/// objects evaluate to what the OS should see; iasl disassembles them without complaint.
#[test]
fn the_ssdts_load_and_evaluate_in_acpiexec() {
    let scratch = Scratch::new("acpiexec");
    let write = |name: &str, bytes: &[u8]| std::fs::write(scratch.0.join(name), bytes).unwrap();
    write("DSDT.aml", dsdt::dsdt(Chipset::I440fx));
    write(
        "TPM12.aml",
        TpmTables { interface: TpmInterface::Tis, log_area: 1 }.device_ssdt().unwrap().bytes(),
    );
    write(
        "TPM20.aml",
        TpmTables { interface: TpmInterface::Crb, log_area: 1 }.device_ssdt().unwrap().bytes(),
    );
    write("CONV.aml", laptop_slate::ssdt().unwrap().bytes());
    for table in ["TPM12.aml", "TPM20.aml", "CONV.aml"] {
        let log = run(&scratch, "iasl", &["-d", table]);
        assert!(!log.contains("Error") && !log.contains("Warning"), "{table}:\n{log}");
    }

    let commands = "evaluate \\_SB.TPM._HID; evaluate \\_SB.TPM._STA; evaluate \\_SB.TPM._CRS; \
                    evaluate \\_SB.CONV._HID; evaluate \\_SB.CONV._CID";
    let tpm12 = run(&scratch, "acpiexec", &["-b", commands, "DSDT.aml", "TPM12.aml", "CONV.aml"]);
    let tpm20 = run(&scratch, "acpiexec", &["-b", commands, "DSDT.aml", "TPM20.aml", "CONV.aml"]);
    for log in [&tpm12, &tpm20] {
        for bad in ["AE_", "ACPI Error", "ACPI Warning", "ACPI Exception"] {
            assert!(!log.contains(bad), "acpiexec reports a problem ({bad}):\n{log}");
        }
        assert!(log.contains("ACPI: 3 ACPI AML tables successfully acquired and loaded"), "{log}");
        assert!(log.contains("[Integer] = 000000000000000F"), "_STA:\n{log}");
        assert!(log.contains("[String] Length 06 = \"ID9001\""), "CONV _HID:\n{log}");
        assert!(log.contains("[String] Length 07 = \"PNP0C60\""), "CONV _CID:\n{log}");
    }
    // EisaId ("PNP0C31") evaluates to the integer; the CRB device's _HID is a string.
    assert!(tpm12.contains("[Integer] = 00000000310CD041"), "{tpm12}");
    assert!(tpm12.contains("86 09 00 01 00 00 D4 FE 00 50 00 00 79 00"), "{tpm12}");
    assert!(tpm20.contains("[String] Length 08 = \"MSFT0101\""), "{tpm20}");
    assert!(tpm20.contains("86 09 00 01 00 00 D4 FE 00 10 00 00 79 00"), "{tpm20}");
}
