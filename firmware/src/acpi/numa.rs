//! The SRAT and SLIT from a guest's virtual NUMA topology (Xen's XENMEM_get_vnumainfo):
//! which node each processor and memory range belongs to, and the distances between nodes.
//!
//! [`NumaTables::from_topology`] checks everything the OS would otherwise trust blindly
//! (every processor has a node, every distance fits the SLIT's byte and is sane) and fails
//! with the first problem instead of describing a topology that cannot be right.

use alloc::vec::Vec;
use core::fmt;

use libacpi::tables::{MadtProcessor, MemoryAffinity, ProcessorAffinity, ProcessorState};

/// A virtual NUMA topology, as the platform reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumaTopology {
    pub nodes: u32,
    /// `nodes * nodes` distances, row-major.
    pub distances: Vec<u32>,
    /// The node of each vCPU, by vCPU number.
    pub vcpu_node: Vec<u32>,
    /// `(start, end, node)` of each memory range, `end` exclusive.
    pub memory: Vec<(u64, u64, u32)>,
}

/// Why a topology cannot be described.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumaError {
    DistanceMatrix { nodes: u32, entries: usize },
    Distance { from: u32, to: u32, distance: u32 },
    NoNodeForVcpu { vcpu: u32, apic_id: u32 },
    Node { node: u32, nodes: u32 },
    EmptyRange { start: u64, end: u64 },
}

impl fmt::Display for NumaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NumaError::DistanceMatrix { nodes, entries } => {
                write!(f, "vNUMA: {entries} distances for {nodes} nodes")
            }
            NumaError::Distance { from, to, distance } => write!(
                f,
                "vNUMA: distance {distance} from node {from} to {to} (must be 10 to itself, \
                 11-255 to others)"
            ),
            NumaError::NoNodeForVcpu { vcpu, apic_id } => {
                write!(f, "vNUMA: vCPU {vcpu} (APIC ID {apic_id}) has no node")
            }
            NumaError::Node { node, nodes } => {
                write!(f, "vNUMA: node {node} named, but there are {nodes} nodes")
            }
            NumaError::EmptyRange { start, end } => {
                write!(f, "vNUMA: memory range [{start:#x}-{end:#x}) is empty or reversed")
            }
        }
    }
}

/// What the SRAT and SLIT say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NumaTables {
    pub processors: Vec<ProcessorAffinity>,
    pub memory: Vec<MemoryAffinity>,
    pub localities: usize,
    pub distances: Vec<u8>,
}

impl NumaTables {
    /// Describes `topology` for the processors the MADT lists; `vcpu_of` names the vCPU
    /// number of a processor (Xen: APIC ID / 2).
    pub fn from_topology(
        topology: &NumaTopology,
        cpus: &[MadtProcessor],
        vcpu_of: impl Fn(&MadtProcessor) -> u32,
    ) -> Result<Self, NumaError> {
        let nodes = topology.nodes;
        let entries = topology.distances.len();
        if u64::from(nodes) * u64::from(nodes) != entries as u64 {
            return Err(NumaError::DistanceMatrix { nodes, entries });
        }
        let mut distances = Vec::with_capacity(entries);
        for (index, &distance) in topology.distances.iter().enumerate() {
            let (from, to) = (index as u32 / nodes, index as u32 % nodes);
            let sane = if from == to { distance == 10 } else { (11..=255).contains(&distance) };
            if !sane {
                return Err(NumaError::Distance { from, to, distance });
            }
            distances.push(distance as u8);
        }
        let check_node = |node: u32| {
            if node < nodes { Ok(node) } else { Err(NumaError::Node { node, nodes }) }
        };
        let mut processors = Vec::with_capacity(cpus.len());
        for cpu in cpus {
            let vcpu = vcpu_of(cpu);
            let node = topology
                .vcpu_node
                .get(vcpu as usize)
                .copied()
                .ok_or(NumaError::NoNodeForVcpu { vcpu, apic_id: cpu.apic_id })?;
            processors.push(ProcessorAffinity {
                apic_id: cpu.apic_id,
                proximity_domain: check_node(node)?,
                enabled: cpu.state != ProcessorState::Disabled,
            });
        }
        let mut memory = Vec::with_capacity(topology.memory.len());
        for &(start, end, node) in &topology.memory {
            if end <= start {
                return Err(NumaError::EmptyRange { start, end });
            }
            memory.push(MemoryAffinity {
                proximity_domain: check_node(node)?,
                base: start,
                length: end - start,
                enabled: true,
                hot_pluggable: false,
                non_volatile: false,
            });
        }
        Ok(NumaTables { processors, memory, localities: nodes as usize, distances })
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn cpu(uid: u32, apic_id: u32) -> MadtProcessor {
        MadtProcessor { uid, apic_id, state: ProcessorState::Enabled }
    }

    fn two_nodes() -> NumaTopology {
        NumaTopology {
            nodes: 2,
            distances: vec![10, 20, 20, 10],
            vcpu_node: vec![0, 1, 0, 1],
            memory: vec![(0, 0x8000_0000, 0), (0x1_0000_0000, 0x1_8000_0000, 1)],
        }
    }

    #[test]
    fn xen_vcpus_map_through_their_apic_ids() {
        let cpus = [cpu(0, 0), cpu(1, 2), cpu(2, 4), cpu(3, 6)];
        let t = NumaTables::from_topology(&two_nodes(), &cpus, |c| c.apic_id / 2).unwrap();
        let domains: Vec<u32> = t.processors.iter().map(|p| p.proximity_domain).collect();
        assert_eq!(domains, [0, 1, 0, 1]);
        assert_eq!(t.memory[1].base, 0x1_0000_0000);
        assert_eq!(t.memory[1].length, 0x8000_0000);
        assert_eq!((t.localities, t.distances.as_slice()), (2, &[10u8, 20, 20, 10][..]));
    }

    #[test]
    fn impossible_topologies_are_errors() {
        let cpus = [cpu(0, 0), cpu(1, 2)];
        let by_apic = |c: &MadtProcessor| c.apic_id / 2;
        let mut t = two_nodes();
        t.distances = vec![10, 20, 20];
        assert!(matches!(
            NumaTables::from_topology(&t, &cpus, by_apic),
            Err(NumaError::DistanceMatrix { nodes: 2, entries: 3 })
        ));
        for distances in [vec![10, 300, 20, 10], vec![10, 5, 20, 10], vec![0, 20, 20, 10]] {
            let t = NumaTopology { distances, ..two_nodes() };
            let err = NumaTables::from_topology(&t, &cpus, by_apic).unwrap_err();
            assert!(matches!(err, NumaError::Distance { .. }), "{err}");
        }
        let t = NumaTopology { vcpu_node: vec![0], ..two_nodes() };
        let err = NumaTables::from_topology(&t, &cpus, by_apic).unwrap_err();
        assert_eq!(err.to_string(), "vNUMA: vCPU 1 (APIC ID 2) has no node");
        let t = NumaTopology { vcpu_node: vec![0, 2], ..two_nodes() };
        assert_eq!(
            NumaTables::from_topology(&t, &cpus, by_apic),
            Err(NumaError::Node { node: 2, nodes: 2 })
        );
        let t = NumaTopology { memory: vec![(0x1000, 0x1000, 0)], ..two_nodes() };
        assert!(matches!(
            NumaTables::from_topology(&t, &cpus, by_apic),
            Err(NumaError::EmptyRange { .. })
        ));
    }
}
