//! vCPU hot-add under Xen (`xl vcpu-set` on a guest with `maxvcpus` above `vcpus`): the
//! static SSDT that follows the device model's vCPU presence bitmap (asl/cpu_hotplug.asi,
//! compiled by build.rs for the bitmap of each chipset's device model) and what the runtime
//! SSDT gives it ([`CpuHotplug`], built by [`for_xen`]).

use libacpi::Error;
use libacpi::tables::{MadtProcessor, RawTable};

use super::ssdt::{CPU_PRESENCE_BYTES, CpuHotplug};
use crate::chipset::Chipset;

/// The table for QEMU's PIIX4, whose presence bitmap is at 0xAF00, and for its ICH9, at 0xCD8.
static SSDT_PIIX4: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ssdt_cpu_hotplug_piix4.aml"));
static SSDT_ICH9: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ssdt_cpu_hotplug_ich9.aml"));

/// The hot-plug SSDT for `chipset`'s device model, a complete table as iasl wrote it.
pub fn ssdt(chipset: Chipset) -> Result<RawTable<'static>, Error> {
    RawTable::new(match chipset {
        Chipset::I440fx => SSDT_PIIX4,
        Chipset::Q35 => SSDT_ICH9,
    })
}

/// Why the processors cannot follow the presence bitmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoHotplug {
    /// The bitmap's bit n is vCPU n, and Xen gives vCPU n APIC ID 2n: processor `index` has
    /// another APIC ID (so the processors cannot be named by vCPU).
    NotInVcpuOrder { index: usize, apic_id: u32 },
    /// More vCPUs than the bitmap has bits.
    TooManyVcpus(usize),
}

impl core::fmt::Display for NoHotplug {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            NoHotplug::NotInVcpuOrder { index, apic_id } => write!(
                f,
                "processor {index} has APIC ID {apic_id}, not vCPU {index}'s {}",
                2 * index
            ),
            NoHotplug::TooManyVcpus(n) => {
                write!(f, "{n} vCPUs, more than the presence bitmap's {}", CPU_PRESENCE_BYTES * 8)
            }
        }
    }
}

/// The hot-add description for Xen's vCPUs `cpus` (one per possible vCPU, as the MADT lists
/// them), `online` being hvm_info's bitmap of the vCPUs online at boot.
pub fn for_xen(cpus: &[MadtProcessor], online: &[u8]) -> Result<CpuHotplug, NoHotplug> {
    if cpus.len() > CPU_PRESENCE_BYTES * 8 {
        return Err(NoHotplug::TooManyVcpus(cpus.len()));
    }
    if let Some((index, cpu)) =
        cpus.iter().enumerate().find(|(index, cpu)| cpu.apic_id as usize != 2 * index)
    {
        return Err(NoHotplug::NotInVcpuOrder { index, apic_id: cpu.apic_id });
    }
    let mut bitmap = [0u8; CPU_PRESENCE_BYTES];
    for n in 0..cpus.len() {
        if online.get(n / 8).is_some_and(|byte| byte & (1 << (n % 8)) != 0) {
            bitmap[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(CpuHotplug { online: bitmap })
}

#[cfg(test)]
mod tests {
    use libacpi::tables::ProcessorState;
    use libacpi::{Signature, Table, checksum};

    use super::*;

    fn vcpus(n: u32) -> alloc::vec::Vec<MadtProcessor> {
        (0..n)
            .map(|i| MadtProcessor { uid: i, apic_id: 2 * i, state: ProcessorState::Enabled })
            .collect()
    }

    #[test]
    fn the_ssdts_are_complete_tables_with_their_chipsets_bitmap() {
        for (chipset, base) in [(Chipset::I440fx, 0xAF00u16), (Chipset::Q35, 0x0CD8)] {
            let table = ssdt(chipset).unwrap();
            assert_eq!(table.signature(), Signature::SSDT);
            assert_eq!(checksum::sum(table.bytes()), 0);
            assert_eq!(&table.bytes()[16..24], b"CPUHP\0\0\0", "OEM table ID, as iasl pads it");
            // OperationRegion (PRST, SystemIO, base, 0x20): ExtOp, RegionOp, name, space 1,
            // WordConst base, ByteConst 0x20.
            let [low, high] = base.to_le_bytes();
            let region = [0x5B, 0x80, b'P', b'R', b'S', b'T', 0x01, 0x0B, low, high, 0x0A, 0x20];
            let body = table.bytes();
            assert!(
                body.windows(region.len()).any(|w| w == region),
                "{chipset}: region at {base:#x}"
            );
        }
    }

    #[test]
    fn presence_follows_the_vcpus_online_at_boot() {
        let hotplug = for_xen(&vcpus(10), &[0b0000_0101, 0b11]).unwrap();
        // Bits beyond the vCPUs are dropped.
        assert_eq!(hotplug.online[..3], [0b0000_0101, 0b11, 0]);
    }

    #[test]
    fn processors_must_be_in_vcpu_order() {
        let mut cpus = vcpus(3);
        cpus.swap(1, 2);
        assert_eq!(for_xen(&cpus, &[1]), Err(NoHotplug::NotInVcpuOrder { index: 1, apic_id: 4 }));
        assert_eq!(for_xen(&vcpus(257), &[1]), Err(NoHotplug::TooManyVcpus(257)));
    }
}
