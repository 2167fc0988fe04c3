//! System Resource Affinity Table (ACPI 6.5 section 5.2.16, Table 5.64), for
//! guests with a virtual NUMA topology.

use super::Table;
use super::madt::FIRST_X2APIC_ID;
use crate::header::{HEADER_LENGTH, write_table};
use crate::{Error, OemIds, Signature};

const REVISION: u8 = 3;
const PROCESSOR_LOCAL_APIC_AFFINITY: u8 = 0;
const MEMORY_AFFINITY: u8 = 1;
const PROCESSOR_LOCAL_X2APIC_AFFINITY: u8 = 2;
const ENABLED: u32 = 1 << 0;
const HOT_PLUGGABLE: u32 = 1 << 1;
const NON_VOLATILE: u32 = 1 << 2;

/// Processor affinity: a Processor Local APIC/SAPIC Affinity structure
/// (5.2.16.1) for APIC IDs below 255, a Processor Local x2APIC Affinity
/// structure (5.2.16.3) otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessorAffinity {
    /// The processor's local (x2)APIC ID.
    pub apic_id: u32,
    /// Its proximity domain.
    pub proximity_domain: u32,
    /// Whether the entry is in use.
    pub enabled: bool,
}

impl ProcessorAffinity {
    fn length(&self) -> usize {
        if self.apic_id >= FIRST_X2APIC_ID { 24 } else { 16 }
    }
}

/// A Memory Affinity structure (5.2.16.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryAffinity {
    /// The range's proximity domain.
    pub proximity_domain: u32,
    /// Base physical address.
    pub base: u64,
    /// Length in bytes.
    pub length: u64,
    /// Whether the entry is in use.
    pub enabled: bool,
    /// Whether the range may be hot-added or removed.
    pub hot_pluggable: bool,
    /// Whether the range is non-volatile memory.
    pub non_volatile: bool,
}

/// The SRAT.
#[derive(Clone, Copy, Debug)]
pub struct Srat<'a> {
    /// Processor affinities.
    pub processors: &'a [ProcessorAffinity],
    /// Memory affinities.
    pub memory: &'a [MemoryAffinity],
}

impl Table for Srat<'_> {
    fn signature(&self) -> Signature {
        Signature::SRAT
    }

    fn length(&self) -> usize {
        let processors: usize = self.processors.iter().map(ProcessorAffinity::length).sum();
        HEADER_LENGTH + 12 + processors + 40 * self.memory.len()
    }

    fn write(&self, ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        write_table(out, Signature::SRAT, REVISION, ids, |w| {
            w.u32(1); // Reserved, must be 1 for backward compatibility.
            w.u64(0); // Reserved.
            for p in self.processors {
                let flags = if p.enabled { ENABLED } else { 0 };
                if p.apic_id >= FIRST_X2APIC_ID {
                    w.u8(PROCESSOR_LOCAL_X2APIC_AFFINITY);
                    w.u8(24);
                    w.u16(0); // Reserved.
                    w.u32(p.proximity_domain);
                    w.u32(p.apic_id);
                    w.u32(flags);
                    w.u32(0); // Clock Domain.
                    w.u32(0); // Reserved.
                } else {
                    let domain = p.proximity_domain.to_le_bytes();
                    w.u8(PROCESSOR_LOCAL_APIC_AFFINITY);
                    w.u8(16);
                    w.u8(domain[0]); // Proximity Domain [7:0].
                    w.u8(p.apic_id as u8); // < 255 in this branch.
                    w.u32(flags);
                    w.u8(0); // Local SAPIC EID.
                    w.bytes(&domain[1..4]); // Proximity Domain [31:8].
                    w.u32(0); // Clock Domain.
                }
            }
            for m in self.memory {
                let mut flags = 0;
                if m.enabled {
                    flags |= ENABLED;
                }
                if m.hot_pluggable {
                    flags |= HOT_PLUGGABLE;
                }
                if m.non_volatile {
                    flags |= NON_VOLATILE;
                }
                w.u8(MEMORY_AFFINITY);
                w.u8(40);
                w.u32(m.proximity_domain);
                w.u16(0); // Reserved.
                w.u64(m.base); // Base Address Low and High.
                w.u64(m.length); // Length Low and High.
                w.u32(0); // Reserved.
                w.u32(flags);
                w.u64(0); // Reserved.
            }
            Ok(())
        })
    }
}
