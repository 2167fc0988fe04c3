//! Processor devices (ACPI 6.5 section 8.4, "Declaring Processors").

use super::data::Buffer;
use super::{Aml, AmlWriter, Str};
use crate::tables::MadtProcessor;

/// A processor declared as a `Device` with `_HID "ACPI0007"`, the form ACPI 6.x
/// requires instead of the deprecated `Processor` operator:
///
/// ```text
/// Device (name) {
///     Name (_HID, "ACPI0007")
///     Name (_UID, uid)
///     Method (_STA, 0, NotSerialized) { Return (status) }
///     Method (_MAT, 0, NotSerialized) { Return (Buffer () { <MADT entry> }) }
/// }
/// ```
///
/// `_UID` equals the MADT entry's ACPI Processor UID, and `_MAT` returns the
/// same Processor Local APIC or x2APIC structure as the MADT (section 6.2.10).
#[derive(Clone, Copy, Debug)]
pub struct ProcessorDevice<'a> {
    /// Device name segment, e.g. `C000`.
    pub name: &'a str,
    /// The processor's MADT entry.
    pub madt_entry: MadtProcessor,
    /// `_STA` value: 0x0F present and enabled, 0 absent (section 6.3.7).
    pub status: u8,
}

impl Aml for ProcessorDevice<'_> {
    fn to_aml(&self, w: &mut AmlWriter<'_>) {
        let mut entry = [0u8; MadtProcessor::MAX_ENCODED_LENGTH];
        let entry_len = match self.madt_entry.encode(&mut entry) {
            Ok(len) => len,
            Err(e) => return w.fail(e),
        };
        w.device(self.name, |w| {
            w.name("_HID", &Str("ACPI0007"));
            w.name("_UID", &self.madt_entry.uid);
            w.method("_STA", 0, false, |w| w.return_value(&self.status));
            w.method("_MAT", 0, false, |w| w.return_value(&Buffer(&entry[..entry_len])))
        })
    }
}
