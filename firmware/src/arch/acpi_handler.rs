//! Physical memory for the `acpi` crate's parser, used by the ACPI self-test. Everything is
//! identity-mapped below 4 GiB, so "mapping" is handing back the address. The self-test
//! parses tables and runs no AML, so the parser never needs ports, PCI or a clock.

use core::ptr::NonNull;

use acpi::{AcpiError, AcpiTables, Handler, RawPhysicalMapping};

/// The parser's view of the machine's memory.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IdentityAcpiHandler(());

/// A parser handler whose mappings show physical memory as it is: what the `acpi` crate's
/// parser needs to be handed an RSDP address safely.
///
/// # Safety
/// `map_physical_region` must return a mapping of exactly the physical memory asked for,
/// valid until it is unmapped, and the `read_*`/`write_*` methods must reach that memory.
pub unsafe trait PhysicalMapper: Handler {}

// SAFETY: the identity map covers the first 4 GiB (the machine's promise, made once) and
// `map_physical_region` refuses anything beyond it.
unsafe impl PhysicalMapper for IdentityAcpiHandler {}

/// The tables from the RSDP at `rsdp`, through `handler`.
pub(crate) fn parse_acpi_tables<H: PhysicalMapper>(
    handler: H,
    rsdp: u64,
) -> Result<AcpiTables<H>, AcpiError> {
    // SAFETY: the handler maps physical memory as it is (its trait's contract); the parser
    // checks the RSDP's signature and checksums before it follows anything.
    unsafe { AcpiTables::from_rsdp(handler, rsdp as usize) }
}

impl IdentityAcpiHandler {
    /// The handler for the machine: only [`super::Machine`] makes one, while its identity
    /// map of the first 4 GiB is current.
    pub(super) const fn new() -> Self {
        IdentityAcpiHandler(())
    }
}

/// The parser's services besides reading memory, for handlers that serve table parsing
/// only: the self-test parses tables and runs no AML, so nothing calls them (the host tests,
/// whose handler has them unreachable too, prove it).
macro_rules! tables_only {
    () => {
        fn write_u8(&self, _: usize, _: u8) {
            unreachable!("{}", NO_AML)
        }
        fn write_u16(&self, _: usize, _: u16) {
            unreachable!("{}", NO_AML)
        }
        fn write_u32(&self, _: usize, _: u32) {
            unreachable!("{}", NO_AML)
        }
        fn write_u64(&self, _: usize, _: u64) {
            unreachable!("{}", NO_AML)
        }
        fn read_io_u8(&self, _: u16) -> u8 {
            unreachable!("{}", NO_AML)
        }
        fn read_io_u16(&self, _: u16) -> u16 {
            unreachable!("{}", NO_AML)
        }
        fn read_io_u32(&self, _: u16) -> u32 {
            unreachable!("{}", NO_AML)
        }
        fn write_io_u8(&self, _: u16, _: u8) {
            unreachable!("{}", NO_AML)
        }
        fn write_io_u16(&self, _: u16, _: u16) {
            unreachable!("{}", NO_AML)
        }
        fn write_io_u32(&self, _: u16, _: u32) {
            unreachable!("{}", NO_AML)
        }
        fn read_pci_u8(&self, _: acpi::PciAddress, _: u16) -> u8 {
            unreachable!("{}", NO_AML)
        }
        fn read_pci_u16(&self, _: acpi::PciAddress, _: u16) -> u16 {
            unreachable!("{}", NO_AML)
        }
        fn read_pci_u32(&self, _: acpi::PciAddress, _: u16) -> u32 {
            unreachable!("{}", NO_AML)
        }
        fn write_pci_u8(&self, _: acpi::PciAddress, _: u16, _: u8) {
            unreachable!("{}", NO_AML)
        }
        fn write_pci_u16(&self, _: acpi::PciAddress, _: u16, _: u16) {
            unreachable!("{}", NO_AML)
        }
        fn write_pci_u32(&self, _: acpi::PciAddress, _: u16, _: u32) {
            unreachable!("{}", NO_AML)
        }
        fn nanos_since_boot(&self) -> u64 {
            unreachable!("{}", NO_AML)
        }
        fn stall(&self, _: u64) {
            unreachable!("{}", NO_AML)
        }
        fn sleep(&self, _: u64) {
            unreachable!("{}", NO_AML)
        }
    };
}
// The host tests' handler (`super::buffer_mapper`) takes them too.
#[cfg(test)]
pub(super) use tables_only;

/// Why the parser's other services are never called.
pub(super) const NO_AML: &str = "the ACPI self-test parses tables and runs no AML";

impl Handler for IdentityAcpiHandler {
    unsafe fn map_physical_region<T>(
        &self,
        physical_address: usize,
        size: usize,
    ) -> RawPhysicalMapping<T> {
        assert!(
            physical_address.checked_add(size).is_some_and(|end| end <= 1 << 32),
            "ACPI table at {physical_address:#x} outside the identity-mapped 4 GiB"
        );
        let pointer = NonNull::new(physical_address as *mut T).expect("ACPI table at address 0");
        // SAFETY: identity mapping (the machine's promise); the region is bounds-checked above.
        unsafe { RawPhysicalMapping::new(physical_address, pointer, size, size) }
    }

    unsafe fn unmap_physical_region<T>(&self, _region: RawPhysicalMapping<T>) {}

    fn read_u8(&self, address: usize) -> u8 {
        // SAFETY: identity-mapped physical memory (constructor contract).
        unsafe { core::ptr::read_volatile(address as *const u8) }
    }
    fn read_u16(&self, address: usize) -> u16 {
        // SAFETY: as in `read_u8`; unaligned reads are fine on x86.
        unsafe { core::ptr::read_unaligned(address as *const u16) }
    }
    fn read_u32(&self, address: usize) -> u32 {
        // SAFETY: as in `read_u16`.
        unsafe { core::ptr::read_unaligned(address as *const u32) }
    }
    fn read_u64(&self, address: usize) -> u64 {
        // SAFETY: as in `read_u16`.
        unsafe { core::ptr::read_unaligned(address as *const u64) }
    }
    tables_only!();
}
