//! Physical memory, ports and PCI for the `acpi` crate's parser, used by the ACPI self-test.
//! Everything is identity-mapped below 4 GiB, so "mapping" is handing back the address.

use core::ptr::NonNull;

use acpi::{AcpiError, AcpiTables, Handler, PciAddress, RawPhysicalMapping};

use super::{HwPorts, PortIo};
use crate::pci::{Bdf, Cf8, ConfigSpace};

/// The ACPI PM timer runs at 3.579545 MHz on every PC chipset.
const PM_TIMER_HZ: u64 = 3_579_545;

/// The parser's view of the machine.
#[derive(Clone, Copy, Debug)]
pub struct IdentityAcpiHandler {
    /// The 32-bit ACPI PM timer port, for the parser's clock.
    pm_timer: u16,
}

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
pub fn parse_acpi_tables<H: PhysicalMapper>(
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
    pub(super) const fn new(pm_timer: u16) -> Self {
        IdentityAcpiHandler { pm_timer }
    }

    fn ports() -> HwPorts {
        // The firmware owns the devices while it runs (constructor contract).
        HwPorts::owned()
    }

    fn cfg() -> Cf8<HwPorts> {
        Cf8::new(Self::ports())
    }

    fn bdf(address: PciAddress) -> Bdf {
        Bdf::new(address.bus(), address.device() & 31, address.function() & 7)
    }
}

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
    fn write_u8(&self, address: usize, value: u8) {
        // SAFETY: as in `read_u8`.
        unsafe { core::ptr::write_volatile(address as *mut u8, value) }
    }
    fn write_u16(&self, address: usize, value: u16) {
        // SAFETY: as in `read_u16`.
        unsafe { core::ptr::write_unaligned(address as *mut u16, value) }
    }
    fn write_u32(&self, address: usize, value: u32) {
        // SAFETY: as in `read_u16`.
        unsafe { core::ptr::write_unaligned(address as *mut u32, value) }
    }
    fn write_u64(&self, address: usize, value: u64) {
        // SAFETY: as in `read_u16`.
        unsafe { core::ptr::write_unaligned(address as *mut u64, value) }
    }

    fn read_io_u8(&self, port: u16) -> u8 {
        Self::ports().read8(port)
    }
    fn read_io_u16(&self, port: u16) -> u16 {
        Self::ports().read16(port)
    }
    fn read_io_u32(&self, port: u16) -> u32 {
        Self::ports().read32(port)
    }
    fn write_io_u8(&self, port: u16, value: u8) {
        Self::ports().write8(port, value);
    }
    fn write_io_u16(&self, port: u16, value: u16) {
        Self::ports().write16(port, value);
    }
    fn write_io_u32(&self, port: u16, value: u32) {
        Self::ports().write32(port, value);
    }

    fn read_pci_u8(&self, address: PciAddress, offset: u16) -> u8 {
        Self::cfg().read8(Self::bdf(address), offset)
    }
    fn read_pci_u16(&self, address: PciAddress, offset: u16) -> u16 {
        Self::cfg().read16(Self::bdf(address), offset)
    }
    fn read_pci_u32(&self, address: PciAddress, offset: u16) -> u32 {
        Self::cfg().read32(Self::bdf(address), offset)
    }
    fn write_pci_u8(&self, address: PciAddress, offset: u16, value: u8) {
        Self::cfg().write8(Self::bdf(address), offset, value);
    }
    fn write_pci_u16(&self, address: PciAddress, offset: u16, value: u16) {
        Self::cfg().write16(Self::bdf(address), offset, value);
    }
    fn write_pci_u32(&self, address: PciAddress, offset: u16, value: u32) {
        Self::cfg().write32(Self::bdf(address), offset, value);
    }

    fn nanos_since_boot(&self) -> u64 {
        // The PM timer wraps every 20 minutes: enough for a parser's timeouts.
        u64::from(Self::ports().read32(self.pm_timer)) * 1_000_000_000 / PM_TIMER_HZ
    }

    fn stall(&self, microseconds: u64) {
        let ticks = microseconds * PM_TIMER_HZ / 1_000_000;
        let start = Self::ports().read32(self.pm_timer);
        while u64::from(Self::ports().read32(self.pm_timer).wrapping_sub(start)) < ticks {
            core::hint::spin_loop();
        }
    }

    fn sleep(&self, milliseconds: u64) {
        self.stall(milliseconds * 1000);
    }
}
