//! Shared helpers for the integration tests: running `iasl`, scratch files,
//! and an `acpi::Handler` that maps "physical" addresses onto a host buffer.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

const IASL: &str = "iasl";

/// A fresh, unique scratch directory (tests run in parallel).
pub fn scratch_dir(tag: &str) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("libacpi-test-{}-{tag}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn run_iasl(dir: &Path, args: &[&str]) -> std::process::Output {
    match Command::new(IASL).current_dir(dir).args(args).output() {
        Ok(out) => out,
        Err(e) => panic!(
            "cannot run `{IASL}` ({e}): these tests compare against ACPICA's iasl; \
             install acpica-tools (Debian: apt-get install acpica-tools)"
        ),
    }
}

/// Compiles `asl_body` (the contents of a DefinitionBlock) with iasl and
/// returns the AML after the 36-byte table header.
pub fn iasl_compile_body(tag: &str, asl_body: &str) -> Vec<u8> {
    let dir = scratch_dir(tag);
    let source =
        format!("DefinitionBlock (\"\", \"SSDT\", 2, \"Xen\", \"HVM\", 0)\n{{\n{asl_body}\n}}\n");
    std::fs::write(dir.join("t.asl"), source).unwrap();
    // -we: warnings are errors; -p: output prefix.
    let out = run_iasl(&dir, &["-we", "-p", "t", "t.asl"]);
    assert!(
        out.status.success(),
        "iasl failed to compile test ASL:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let aml = std::fs::read(dir.join("t.aml")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    aml[36..].to_vec()
}

/// Compiles a complete source file, an ASL `DefinitionBlock` or a data table in iasl's
/// template syntax (`[0004] Signature : "TPM2"` lines, as `iasl -T <SIG>` writes them), and
/// returns the whole table. iasl writes its own compiler ID and revision and pads
/// identifiers with NULs: compare bodies, not headers.
pub fn iasl_compile_table(tag: &str, source: &str) -> Vec<u8> {
    let dir = scratch_dir(tag);
    std::fs::write(dir.join("t.asl"), source).unwrap();
    let out = run_iasl(&dir, &["-we", "-p", "t", "t.asl"]);
    assert!(
        out.status.success(),
        "iasl failed to compile {tag}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let aml = std::fs::read(dir.join("t.aml")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    aml
}

/// Disassembles `table` with `iasl -d` and fails on any error; returns the
/// disassembly text.
pub fn iasl_disassemble(tag: &str, table: &[u8]) -> String {
    let dir = scratch_dir(tag);
    std::fs::write(dir.join("t.aml"), table).unwrap();
    let out = run_iasl(&dir, &["-d", "t.aml"]);
    let log =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "iasl -d failed on {tag}:\n{log}");
    let dsl = std::fs::read_to_string(dir.join("t.dsl")).expect("iasl -d wrote no .dsl");
    for bad in ["Error", "**** ", "Invalid", "Unknown"] {
        assert!(!log.contains(bad), "iasl -d reported problems on {tag} ({bad}):\n{log}");
        assert!(
            !dsl.lines().any(|l| l.contains(bad) && !l.contains("Reserved")),
            "disassembly of {tag} flags a problem ({bad}):\n{dsl}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    dsl
}

/// Maps a simulated physical range `[base, base + memory.len())` onto host
/// memory, so the `acpi` crate can parse tables the installer wrote.
/// Up to two ranges (the table region and a separate RSDP location).
#[derive(Clone, Copy)]
pub struct HostMemory {
    ranges: [(usize, *const u8, usize); 2],
}

impl HostMemory {
    pub fn new(base: u64, memory: &[u8]) -> Self {
        let range = (base as usize, memory.as_ptr(), memory.len());
        Self { ranges: [range, range] }
    }

    pub fn with_second_range(mut self, base: u64, memory: &[u8]) -> Self {
        self.ranges[1] = (base as usize, memory.as_ptr(), memory.len());
        self
    }
}

impl acpi::Handler for HostMemory {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> acpi::RawPhysicalMapping<T> {
        let (ptr, offset) = self
            .ranges
            .iter()
            .find_map(|&(base, ptr, len)| {
                let offset = physical_address.checked_sub(base)?;
                (offset + size <= len).then_some((ptr, offset))
            })
            .unwrap_or_else(|| {
                panic!("parser mapped {physical_address:#x}+{size} outside the test memory")
            });
        // SAFETY: the range is inside a host buffer that outlives the parse.
        let virt = unsafe { ptr.add(offset) } as *mut T;
        // SAFETY: `virt` points at `size` bytes of that buffer, which the mapping borrows
        // only while the parse runs.
        unsafe {
            acpi::RawPhysicalMapping::new(
                physical_address,
                std::ptr::NonNull::new(virt).unwrap(),
                size,
                size,
            )
        }
    }

    unsafe fn unmap_physical_region<T>(&self, _region: acpi::RawPhysicalMapping<T>) {}

    fn read_u8(&self, _: usize) -> u8 {
        unreachable!()
    }
    fn read_u16(&self, _: usize) -> u16 {
        unreachable!()
    }
    fn read_u32(&self, _: usize) -> u32 {
        unreachable!()
    }
    fn read_u64(&self, _: usize) -> u64 {
        unreachable!()
    }
    fn write_u8(&self, _: usize, _: u8) {
        unreachable!()
    }
    fn write_u16(&self, _: usize, _: u16) {
        unreachable!()
    }
    fn write_u32(&self, _: usize, _: u32) {
        unreachable!()
    }
    fn write_u64(&self, _: usize, _: u64) {
        unreachable!()
    }
    fn read_io_u8(&self, _: u16) -> u8 {
        unreachable!()
    }
    fn read_io_u16(&self, _: u16) -> u16 {
        unreachable!()
    }
    fn read_io_u32(&self, _: u16) -> u32 {
        unreachable!()
    }
    fn write_io_u8(&self, _: u16, _: u8) {
        unreachable!()
    }
    fn write_io_u16(&self, _: u16, _: u16) {
        unreachable!()
    }
    fn write_io_u32(&self, _: u16, _: u32) {
        unreachable!()
    }
    fn read_pci_u8(&self, _: acpi::PciAddress, _: u16) -> u8 {
        unreachable!()
    }
    fn read_pci_u16(&self, _: acpi::PciAddress, _: u16) -> u16 {
        unreachable!()
    }
    fn read_pci_u32(&self, _: acpi::PciAddress, _: u16) -> u32 {
        unreachable!()
    }
    fn write_pci_u8(&self, _: acpi::PciAddress, _: u16, _: u8) {
        unreachable!()
    }
    fn write_pci_u16(&self, _: acpi::PciAddress, _: u16, _: u16) {
        unreachable!()
    }
    fn write_pci_u32(&self, _: acpi::PciAddress, _: u16, _: u32) {
        unreachable!()
    }
    fn nanos_since_boot(&self) -> u64 {
        unreachable!()
    }
    fn stall(&self, _: u64) {
        unreachable!()
    }
    fn sleep(&self, _: u64) {
        unreachable!()
    }
}
