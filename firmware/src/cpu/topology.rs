//! How an APIC ID splits into package, core and thread, from CPUID, and each CPU's own
//! initial APIC ID.
//!
//! Hypervisors build APIC IDs the way hardware does: thread bits lowest, then core bits
//! (QEMU: dies and modules too), then the package, each field as wide as its count rounded
//! up to a power of two. So `-smp 6,sockets=2,cores=3` gives IDs 0,1,2 and 4,5,6, and the
//! IDs must be learnt from the CPUs, never assumed to be 0..n-1.

use core::fmt;

use crate::arch::CpuidResult;

/// Where the field widths came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TopologySource {
    /// CPUID 0x1F (V2 extended topology).
    Leaf1F,
    /// CPUID 0xB (extended topology).
    Leaf0B,
    /// CPUID 1 and 4 (Intel) or 0x80000008 (AMD): logical and core counts per package.
    Legacy,
}

/// Field widths of an APIC ID.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Bits of the thread (SMT) number.
    pub thread_bits: u32,
    /// Shift of the package number (bits below it: core, module, die and thread numbers).
    pub package_shift: u32,
    pub source: TopologySource,
}

impl Topology {
    /// Reads the topology leaves through `cpuid(leaf, subleaf)`.
    pub fn from_cpuid(cpuid: impl Fn(u32, u32) -> CpuidResult) -> Self {
        let max_leaf = cpuid(0, 0).eax;
        for (leaf, source) in [(0x1F, TopologySource::Leaf1F), (0xB, TopologySource::Leaf0B)] {
            if max_leaf >= leaf
                && let Some(topology) = extended(leaf, source, &cpuid)
            {
                return topology;
            }
        }
        legacy(max_leaf, &cpuid)
    }

    pub fn package(&self, apic_id: u32) -> u32 {
        apic_id.checked_shr(self.package_shift).unwrap_or(0)
    }

    /// The core number within the package (counting every level between thread and
    /// package, so QEMU's dies and modules multiply into it).
    pub fn core(&self, apic_id: u32) -> u32 {
        let below_package = apic_id & low_mask(self.package_shift);
        below_package >> self.thread_bits
    }

    pub fn thread(&self, apic_id: u32) -> u32 {
        apic_id & low_mask(self.thread_bits)
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "APIC ID = package << {} | core << {} | thread (CPUID {})",
            self.package_shift,
            self.thread_bits,
            match self.source {
                TopologySource::Leaf1F => "0x1f",
                TopologySource::Leaf0B => "0xb",
                TopologySource::Legacy => "1/4/0x80000008",
            }
        )
    }
}

fn low_mask(bits: u32) -> u32 {
    1u32.checked_shl(bits).map_or(u32::MAX, |b| b - 1)
}

/// Leaf 0xB/0x1F level types.
const LEVEL_INVALID: u32 = 0;
const LEVEL_SMT: u32 = 1;

/// Walks the levels of leaf 0xB or 0x1F. `None` when the leaf is not implemented (level 0
/// reports no processors).
fn extended(
    leaf: u32,
    source: TopologySource,
    cpuid: &impl Fn(u32, u32) -> CpuidResult,
) -> Option<Topology> {
    let mut thread_bits = 0;
    let mut package_shift = None;
    for subleaf in 0..8 {
        let r = cpuid(leaf, subleaf);
        let level_type = (r.ecx >> 8) & 0xFF;
        if level_type == LEVEL_INVALID || r.ebx & 0xFFFF == 0 {
            break;
        }
        let shift = r.eax & 0x1F;
        if level_type == LEVEL_SMT {
            thread_bits = shift;
        }
        // The shift of the last valid level is the package's.
        package_shift = Some(shift);
    }
    package_shift.map(|package_shift| Topology { thread_bits, package_shift, source })
}

/// Widths from counts: CPUID 1 EBX[23:16] is the number of logical processor IDs per
/// package (with HTT), cores per package from leaf 4 (Intel) or 0x80000008 (AMD).
fn legacy(max_leaf: u32, cpuid: &impl Fn(u32, u32) -> CpuidResult) -> Topology {
    let leaf1 = cpuid(1, 0);
    let htt = leaf1.edx & (1 << 28) != 0;
    let logical = if htt { ((leaf1.ebx >> 16) & 0xFF).max(1) } else { 1 };
    let max_ext = cpuid(0x8000_0000, 0).eax;
    let cores = if max_leaf >= 4 && cpuid(4, 0).eax & 0x1F != 0 {
        (cpuid(4, 0).eax >> 26) + 1
    } else if max_ext >= 0x8000_0008 {
        (cpuid(0x8000_0008, 0).ecx & 0xFF) + 1
    } else {
        1
    }
    .min(logical);
    let package_shift = ceil_log2(logical);
    let thread_bits = ceil_log2(logical / cores);
    Topology { thread_bits, package_shift, source: TopologySource::Legacy }
}

fn ceil_log2(n: u32) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros()
}

/// The initial APIC ID of the CPU answering `cpuid`: the 32-bit x2APIC ID of leaf 0xB/0x1F
/// when implemented, else CPUID 1 EBX[31:24].
pub fn initial_apic_id(cpuid: impl Fn(u32, u32) -> CpuidResult) -> u32 {
    let max_leaf = cpuid(0, 0).eax;
    for leaf in [0x1F, 0xB] {
        if max_leaf >= leaf {
            let r = cpuid(leaf, 0);
            if r.ebx & 0xFFFF != 0 {
                return r.edx;
            }
        }
    }
    cpuid(1, 0).ebx >> 24
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(eax: u32, ebx: u32, ecx: u32, edx: u32) -> CpuidResult {
        CpuidResult { eax, ebx, ecx, edx }
    }

    /// QEMU 7.2 qemu64 for `-smp 6,sockets=2,cores=3` (level 0xd, leaf 0xB, no 0x1F), on the
    /// CPU with APIC ID `id`.
    fn qemu_2x3(id: u32) -> impl Fn(u32, u32) -> CpuidResult {
        move |leaf, subleaf| match (leaf, subleaf) {
            (0, _) => r(0xd, 0, 0, 0),
            (1, _) => r(0x663, (id << 24) | (3 << 16) | 0x0800, 0x8000_2001, 0x1789_fbff),
            (4, _) => r((1 << 26) | 0x121, 0, 0, 0),
            (0xB, 0) => r(0, 1, 0x100, id),
            (0xB, 1) => r(2, 3, 0x201, id),
            (0xB, n) => r(0, 0, n, id),
            (0x8000_0000, _) => r(0x8000_000a, 0, 0, 0),
            (0x8000_0008, _) => r(0x3028, 0, 2, 0),
            _ => r(0, 0, 0, 0),
        }
    }

    #[test]
    fn leaf_0b_with_apic_id_gaps() {
        let t = Topology::from_cpuid(qemu_2x3(0));
        assert_eq!(
            t,
            Topology { thread_bits: 0, package_shift: 2, source: TopologySource::Leaf0B }
        );
        let split: alloc::vec::Vec<_> = [0, 1, 2, 4, 5, 6]
            .iter()
            .map(|&id| (t.package(id), t.core(id), t.thread(id)))
            .collect();
        assert_eq!(split, [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 0), (1, 1, 0), (1, 2, 0)]);
        assert_eq!(initial_apic_id(qemu_2x3(5)), 5);
    }

    #[test]
    fn leaf_1f_with_dies_and_threads() {
        // 2 threads, 2 cores, 2 dies per package: SMT shift 1, core shift 2, die shift 3.
        let cpuid = |leaf, subleaf| match (leaf, subleaf) {
            (0, _) => r(0x1F, 0, 0, 0),
            (0x1F, 0) => r(1, 2, 0x100, 13),
            (0x1F, 1) => r(2, 4, 0x201, 13),
            (0x1F, 2) => r(3, 8, 0x502, 13),
            (0x1F, n) => r(0, 0, n, 13),
            _ => r(0, 0, 0, 0),
        };
        let t = Topology::from_cpuid(cpuid);
        assert_eq!(
            t,
            Topology { thread_bits: 1, package_shift: 3, source: TopologySource::Leaf1F }
        );
        assert_eq!((t.package(13), t.core(13), t.thread(13)), (1, 2, 1));
        assert_eq!(initial_apic_id(cpuid), 13);
    }

    #[test]
    fn legacy_counts_when_leaf_0b_is_missing() {
        // 4 logical per package, 2 cores (leaf 4), APIC ID in CPUID 1.
        let cpuid = |leaf, _| match leaf {
            0 => r(4, 0, 0, 0),
            1 => r(0, (7 << 24) | (4 << 16), 0, 1 << 28),
            4 => r((1 << 26) | 0x21, 0, 0, 0),
            _ => r(0, 0, 0, 0),
        };
        let t = Topology::from_cpuid(cpuid);
        assert_eq!(
            t,
            Topology { thread_bits: 1, package_shift: 2, source: TopologySource::Legacy }
        );
        assert_eq!(initial_apic_id(cpuid), 7);
        assert_eq!((t.package(7), t.core(7), t.thread(7)), (1, 1, 1));
        // No HTT: one CPU per package.
        let single = |leaf, _| if leaf == 1 { r(0, 3 << 24, 0, 0) } else { r(1, 0, 0, 0) };
        let t = Topology::from_cpuid(single);
        assert_eq!((t.thread_bits, t.package_shift), (0, 0));
        assert_eq!(t.package(3), 3);
    }

    #[test]
    fn leaf_0b_all_zero_falls_back() {
        // QEMU with cpuid-0xb=off answers leaf 0xB with zeros.
        let cpuid = |leaf, _| match leaf {
            0 => r(0xd, 0, 0, 0),
            1 => r(0, (2 << 24) | (4 << 16), 0, 1 << 28),
            0x8000_0000 => r(0x8000_0008, 0, 0, 0),
            0x8000_0008 => r(0, 0, 3, 0),
            _ => r(0, 0, 0, 0),
        };
        assert_eq!(Topology::from_cpuid(cpuid).source, TopologySource::Legacy);
        assert_eq!(Topology::from_cpuid(cpuid).package_shift, 2);
        assert_eq!(initial_apic_id(cpuid), 2);
    }
}
