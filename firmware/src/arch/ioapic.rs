//! The I/O APIC: an index register (IOREGSEL) and a data window (IOWIN) in one MMIO page.

use super::mmio::Mmio;

/// Where every PC platform (and Xen and QEMU) puts the first I/O APIC.
pub(crate) const IOAPIC_BASE: u64 = 0xFEC0_0000;
/// Bytes of the register window used (IOREGSEL at 0x00, IOWIN at 0x10).
pub(crate) const IOAPIC_WINDOW: u64 = 0x20;

const IOREGSEL: u64 = 0x00;
const IOWIN: u64 = 0x10;
const REG_ID: u32 = 0x00;
const REG_VERSION: u32 = 0x01;
const REG_REDIRECTION: u32 = 0x10;
/// The ID field, bits 27:24 (4 bits on the 82093AA and in QEMU and Xen).
const ID_SHIFT: u32 = 24;
pub(crate) const IOAPIC_ID_MASK: u8 = 0xF;
const ENTRY_MASKED: u32 = 1 << 16;

/// One I/O APIC.
#[derive(Debug)]
pub(crate) struct IoApic<R: Mmio> {
    regs: R,
}

impl<R: Mmio> IoApic<R> {
    /// `regs` must cover the I/O APIC's register window (at least [`IOAPIC_WINDOW`] bytes).
    pub fn new(regs: R) -> Self {
        IoApic { regs }
    }

    fn read(&mut self, index: u32) -> u32 {
        self.regs.write32(IOREGSEL, index);
        self.regs.read32(IOWIN)
    }

    fn write(&mut self, index: u32, value: u32) {
        self.regs.write32(IOREGSEL, index);
        self.regs.write32(IOWIN, value);
    }

    pub fn base(&self) -> u64 {
        self.regs.base()
    }

    pub fn id(&mut self) -> u8 {
        ((self.read(REG_ID) >> ID_SHIFT) as u8) & IOAPIC_ID_MASK
    }

    pub fn set_id(&mut self, id: u8) {
        let other = self.read(REG_ID) & !(u32::from(IOAPIC_ID_MASK) << ID_SHIFT);
        self.write(REG_ID, other | (u32::from(id & IOAPIC_ID_MASK) << ID_SHIFT));
    }

    /// Number of redirection entries (inputs, GSIs from this I/O APIC's base).
    pub fn inputs(&mut self) -> u16 {
        ((self.read(REG_VERSION) >> 16) & 0xFF) as u16 + 1
    }

    /// Whether redirection entry `input` is masked (its low dword alone tells).
    pub fn is_masked(&mut self, input: u16) -> bool {
        self.read(REG_REDIRECTION + 2 * u32::from(input)) & ENTRY_MASKED != 0
    }

    /// Masks input `input`, leaving it edge-triggered, fixed delivery, vector 0, destination
    /// APIC 0: a neutral entry that an OS reprograms before unmasking.
    pub fn mask(&mut self, input: u16) {
        let index = REG_REDIRECTION + 2 * u32::from(input);
        // Mask first, so the entry never fires while half-written.
        self.write(index, ENTRY_MASKED);
        self.write(index + 1, 0);
    }
}
