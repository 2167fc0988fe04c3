//! The processors found, in the order the ACPI tables list them: the BSP first, then the
//! APs by ascending APIC ID.

use alloc::vec::Vec;
use core::fmt;

use super::topology::Topology;

/// The highest APIC ID an 8-bit MADT Processor Local APIC entry can carry (0xFF is the
/// broadcast ID); CPUs above it need x2APIC entries.
pub const MAX_XAPIC_ID: u32 = 254;

/// One processor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpu {
    pub apic_id: u32,
    pub package: u32,
    pub core: u32,
    pub thread: u32,
}

impl Cpu {
    /// Whether the MADT must describe this CPU with a Local x2APIC entry (and the DSDT
    /// with a `Device (ACPI0007)` rather than a `Processor`).
    pub fn needs_x2apic_entry(&self) -> bool {
        self.apic_id > MAX_XAPIC_ID
    }
}

/// One socket, for SMBIOS type 4.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Socket {
    pub package: u32,
    /// Cores with at least one CPU present.
    pub cores: u32,
    /// CPUs (threads) present.
    pub threads: u32,
}

/// Why a set of reported APIC IDs is not a valid CPU list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpuListError {
    DuplicateApicId(u32),
}

impl fmt::Display for CpuListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CpuListError::DuplicateApicId(id) => write!(f, "two CPUs report APIC ID {id}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList {
    cpus: Vec<Cpu>,
    topology: Topology,
}

impl CpuList {
    /// The BSP and the APs (in any order), split by `topology`.
    pub fn new(bsp: u32, aps: &[u32], topology: Topology) -> Result<Self, CpuListError> {
        let mut ids: Vec<u32> = aps.to_vec();
        crate::sort::sort_unstable(&mut ids);
        for pair in ids.windows(2) {
            if pair[0] == pair[1] {
                return Err(CpuListError::DuplicateApicId(pair[0]));
            }
        }
        if ids.binary_search(&bsp).is_ok() {
            return Err(CpuListError::DuplicateApicId(bsp));
        }
        let cpu = |apic_id| Cpu {
            apic_id,
            package: topology.package(apic_id),
            core: topology.core(apic_id),
            thread: topology.thread(apic_id),
        };
        let cpus = core::iter::once(bsp).chain(ids).map(cpu).collect();
        Ok(CpuList { cpus, topology })
    }

    pub fn bsp(&self) -> &Cpu {
        &self.cpus[0]
    }

    pub fn iter(&self) -> core::slice::Iter<'_, Cpu> {
        self.cpus.iter()
    }

    pub fn len(&self) -> usize {
        self.cpus.len()
    }

    /// Never true: the BSP is always there.
    pub fn is_empty(&self) -> bool {
        self.cpus.is_empty()
    }

    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Whether any CPU needs x2APIC entries in the MADT.
    pub fn needs_x2apic(&self) -> bool {
        self.cpus.iter().any(Cpu::needs_x2apic_entry)
    }

    /// The sockets with CPUs present, by package number, with their core and thread counts.
    pub fn sockets(&self) -> Vec<Socket> {
        let mut packages: Vec<u32> = self.cpus.iter().map(|c| c.package).collect();
        crate::sort::sort_unstable(&mut packages);
        packages.dedup();
        packages
            .into_iter()
            .map(|package| {
                let mut cores: Vec<u32> =
                    self.cpus.iter().filter(|c| c.package == package).map(|c| c.core).collect();
                let threads = cores.len() as u32;
                crate::sort::sort_unstable(&mut cores);
                cores.dedup();
                Socket { package, cores: cores.len() as u32, threads }
            })
            .collect()
    }
}

impl<'a> IntoIterator for &'a CpuList {
    type Item = &'a Cpu;
    type IntoIter = core::slice::Iter<'a, Cpu>;
    fn into_iter(self) -> Self::IntoIter {
        self.cpus.iter()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;
    use crate::cpu::topology::TopologySource;

    const TWO_BY_THREE: Topology =
        Topology { thread_bits: 0, package_shift: 2, source: TopologySource::Leaf0B };

    #[test]
    fn bsp_first_then_by_apic_id() {
        let list = CpuList::new(0, &[6, 2, 4, 1, 5], TWO_BY_THREE).unwrap();
        let ids: Vec<u32> = list.iter().map(|c| c.apic_id).collect();
        assert_eq!(ids, [0, 1, 2, 4, 5, 6]);
        assert_eq!(
            list.sockets(),
            vec![
                Socket { package: 0, cores: 3, threads: 3 },
                Socket { package: 1, cores: 3, threads: 3 }
            ]
        );
        assert!(!list.needs_x2apic());
        // A BSP that is not the lowest ID stays first.
        let list = CpuList::new(4, &[0, 1, 2], TWO_BY_THREE).unwrap();
        assert_eq!(list.bsp().apic_id, 4);
        assert_eq!(list.iter().map(|c| c.apic_id).collect::<Vec<_>>(), [4, 0, 1, 2]);
    }

    #[test]
    fn threads_count_per_core() {
        let smt = Topology { thread_bits: 1, package_shift: 2, source: TopologySource::Leaf0B };
        let list = CpuList::new(0, &[1, 2, 3, 4, 5, 6, 7], smt).unwrap();
        assert_eq!(
            list.sockets(),
            vec![
                Socket { package: 0, cores: 2, threads: 4 },
                Socket { package: 1, cores: 2, threads: 4 }
            ]
        );
    }

    #[test]
    fn duplicates_and_x2apic() {
        let err = CpuList::new(0, &[1, 1], TWO_BY_THREE).unwrap_err();
        assert_eq!(err, CpuListError::DuplicateApicId(1));
        assert_eq!(
            CpuList::new(3, &[3], TWO_BY_THREE).unwrap_err(),
            CpuListError::DuplicateApicId(3)
        );
        let list = CpuList::new(0, &[254, 255, 300], TWO_BY_THREE).unwrap();
        let x2: Vec<bool> = list.iter().map(Cpu::needs_x2apic_entry).collect();
        assert_eq!(x2, [false, false, true, true]);
        assert!(list.needs_x2apic());
    }
}
