//! QEMU's NUMA topology, for the SRAT and SLIT under QEMU: what `-numa` said, as QEMU hands
//! it to firmware.
//!
//! - The legacy fw_cfg NUMA item (key 0x0d): little-endian u64s, the node count, then the
//!   node of every possible APIC ID (as many as fw_cfg `max_cpus`, key 0x0f, says), then
//!   each node's memory size. Nodes own RAM in node order from address 0, the way QEMU's
//!   own SRAT lays it out: the 640 KiB-1 MiB gap and the PCI hole between the top of low
//!   RAM and where RAM continues above 4 GiB are skipped, so a node's memory may be two
//!   ranges.
//! - The distances are only in QEMU's own SLIT (fw_cfg `etc/acpi/tables`, which QEMU
//!   builds for SeaBIOS): taken from there when QEMU built one, else every remote node at
//!   20 (what the OS assumes without a SLIT).
//! - An expander bridge's node is only in QEMU's own DSDT: `Name (_PXM, node)` in the
//!   device that has `Name (_BBN, bus)`. [`expander_nodes`] finds those two names, which
//!   QEMU emits in that order in each expander's device and nowhere else as names.
//!
//! Everything is checked; a malformed item is an error naming what is wrong.

use alloc::vec::Vec;
use core::fmt;

use super::numa::NumaTopology;

/// The gap in low memory (VGA and BIOS area), which QEMU's SRAT leaves out.
const HOLE_640K: core::ops::Range<u64> = 0xA_0000..0x10_0000;
const LOCAL_DISTANCE: u32 = 10;
const REMOTE_DISTANCE: u32 = 20;
const ACPI_HEADER_LEN: usize = 36;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QemuNumaError {
    /// The NUMA item's size does not fit its node count and `max_cpus`.
    ItemSize { nodes: u64, max_cpus: u16, len: usize },
    /// A possible CPU names a node that does not exist.
    CpuNode { apic_id: usize, node: u64 },
    /// The nodes' memory adds up to more than there is RAM.
    Memory { nodes_total: u64, ram: u64 },
    /// QEMU's SLIT is for another number of nodes, or truncated.
    Slit { localities: u64, nodes: u64 },
    /// A table of QEMU's table blob gives a length shorter than its header or past the
    /// blob's end.
    TableBlob { offset: u64, length: u32, blob: u64 },
}

impl fmt::Display for QemuNumaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QemuNumaError::ItemSize { nodes, max_cpus, len } => write!(
                f,
                "QEMU NUMA: fw_cfg item 0x0d has {len} bytes, not 8 * (1 + {max_cpus} CPUs + \
                 {nodes} nodes)"
            ),
            QemuNumaError::CpuNode { apic_id, node } => {
                write!(f, "QEMU NUMA: APIC ID {apic_id} is on node {node}, which does not exist")
            }
            QemuNumaError::Memory { nodes_total, ram } => write!(
                f,
                "QEMU NUMA: the nodes hold {nodes_total:#x} bytes of memory, the memory map \
                 {ram:#x}"
            ),
            QemuNumaError::Slit { localities, nodes } => write!(
                f,
                "QEMU NUMA: QEMU's SLIT describes {localities} localities for {nodes} nodes"
            ),
            QemuNumaError::TableBlob { offset, length, blob } => write!(
                f,
                "QEMU NUMA: etc/acpi/tables has a table of {length} bytes at offset {offset} of \
                 its {blob}"
            ),
        }
    }
}

/// QEMU's table blob (fw_cfg `etc/acpi/tables`) as fw_cfg gives it: in order, from the
/// start.
pub trait TableBlob {
    type Error: From<QemuNumaError>;
    /// The blob's next `buf.len()` bytes.
    fn read(&mut self, buf: &mut [u8]) -> Result<(), Self::Error>;
    /// Passes the blob's next `len` bytes.
    fn skip(&mut self, len: usize) -> Result<(), Self::Error>;
}

/// The tables with the `wanted` signatures out of QEMU's table blob (`len` bytes from
/// `blob`), each as found or none (and none where no signature is given).
///
/// QEMU appends its tables to the blob one after the other, the FACS first, and pads it
/// with zeroes to a fixed size (128 KiB, for migration); so each header's length leads to
/// the next table, the others are skipped, and the walk ends at the padding. Nothing of the
/// blob is held but the tables wanted. A header that is not zero and gives a length shorter
/// than a header or past the blob's end is an error.
pub fn tables_from_blob<B: TableBlob, const N: usize>(
    len: u64,
    wanted: [Option<&[u8; 4]>; N],
    blob: &mut B,
) -> Result<[Option<Vec<u8>>; N], B::Error> {
    /// Signature and length: what the FACS and every other table start with.
    const HEAD: usize = 8;
    let mut found = [const { None }; N];
    let mut offset = 0u64;
    while len - offset >= HEAD as u64 {
        let mut head = [0u8; HEAD];
        blob.read(&mut head)?;
        if head == [0; HEAD] {
            break;
        }
        let length = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
        if (length as usize) < HEAD || u64::from(length) > len - offset {
            return Err(QemuNumaError::TableBlob { offset, length, blob: len }.into());
        }
        let index =
            wanted.iter().position(|signature| signature.is_some_and(|s| head[..4] == s[..]));
        match index.filter(|&index| found[index].is_none()) {
            Some(index) => {
                let mut table = alloc::vec![0u8; length as usize];
                table[..HEAD].copy_from_slice(&head);
                blob.read(&mut table[HEAD..])?;
                found[index] = Some(table);
            }
            None => blob.skip(length as usize - HEAD)?,
        }
        offset += u64::from(length);
    }
    Ok(found)
}

/// Where QEMU put RAM: `[0, below_4g)` and `[above_4g_start, above_4g_start + above_4g)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QemuRam {
    pub below_4g: u64,
    pub above_4g_start: u64,
    pub above_4g: u64,
}

/// The node count of the legacy NUMA item's first 8 bytes.
pub fn node_count(first: [u8; 8]) -> u64 {
    u64::from_le_bytes(first)
}

/// The topology from the NUMA item `item` (node count not 0), `max_cpus` possible APIC
/// IDs, QEMU's RAM layout and QEMU's SLIT (the whole table) if it built one.
pub fn topology(
    item: &[u8],
    max_cpus: u16,
    ram: QemuRam,
    slit: Option<&[u8]>,
) -> Result<NumaTopology, QemuNumaError> {
    let word = |i: usize| {
        let bytes = item.get(i * 8..i * 8 + 8)?;
        Some(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    };
    let nodes = word(0).unwrap_or(0);
    let size_error = QemuNumaError::ItemSize { nodes, max_cpus, len: item.len() };
    let cpus = usize::from(max_cpus);
    if nodes == 0 || nodes > 256 || item.len() != 8 * (1 + cpus + nodes as usize) {
        return Err(size_error);
    }
    let mut vcpu_node = Vec::with_capacity(cpus);
    for apic_id in 0..cpus {
        let node = word(1 + apic_id).ok_or(size_error.clone())?;
        if node >= nodes {
            return Err(QemuNumaError::CpuNode { apic_id, node });
        }
        vcpu_node.push(node as u32);
    }
    let sizes: Vec<u64> = (0..nodes as usize).map(|n| word(1 + cpus + n).unwrap_or(0)).collect();
    let nodes_total = sizes.iter().fold(0u64, |a, &s| a.saturating_add(s));
    let ram_total = ram.below_4g + ram.above_4g;
    if nodes_total > ram_total {
        return Err(QemuNumaError::Memory { nodes_total, ram: ram_total });
    }
    // Memory as one run of node sizes from 0, cut where QEMU's memory map has no RAM.
    let mut memory = Vec::new();
    let mut offset = 0u64;
    for (node, &size) in sizes.iter().enumerate() {
        let (start, end) = (offset, offset + size);
        offset = end;
        let pieces = [
            (start, end.min(HOLE_640K.start)),
            (start.max(HOLE_640K.end), end.min(ram.below_4g)),
            (
                ram.above_4g_start + start.max(ram.below_4g) - ram.below_4g,
                ram.above_4g_start + end.max(ram.below_4g) - ram.below_4g,
            ),
        ];
        for (s, e) in pieces {
            if s < e {
                memory.push((s, e, node as u32));
            }
        }
    }
    let n = nodes as usize;
    let distances = match slit {
        Some(table) => {
            let localities = table
                .get(ACPI_HEADER_LEN..ACPI_HEADER_LEN + 8)
                .map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
            let matrix = table.get(ACPI_HEADER_LEN + 8..ACPI_HEADER_LEN + 8 + n * n);
            match matrix {
                Some(m) if localities == nodes => m.iter().map(|&d| u32::from(d)).collect(),
                _ => return Err(QemuNumaError::Slit { localities, nodes }),
            }
        }
        None => (0..n * n)
            .map(|i| if i / n == i % n { LOCAL_DISTANCE } else { REMOTE_DISTANCE })
            .collect(),
    };
    Ok(NumaTopology { nodes: nodes as u32, distances, vcpu_node, memory })
}

/// `(bus, node)` of every expander bridge with a NUMA node in QEMU's DSDT `dsdt`: each
/// `Name (_BBN, bus)` followed, before the next one, by `Name (_PXM, node)`.
pub fn expander_nodes(dsdt: &[u8]) -> Vec<(u8, u32)> {
    const BBN: &[u8] = b"\x08_BBN";
    const PXM: &[u8] = b"\x08_PXM";
    let positions = |needle: &[u8]| -> Vec<usize> {
        dsdt.windows(needle.len())
            .enumerate()
            .filter(|(_, w)| *w == needle)
            .map(|(i, _)| i + needle.len())
            .collect()
    };
    let bbns = positions(BBN);
    let pxms = positions(PXM);
    let mut found = Vec::new();
    for (i, &bbn) in bbns.iter().enumerate() {
        let next = bbns.get(i + 1).copied().unwrap_or(dsdt.len());
        let Some(&pxm) = pxms.iter().find(|&&p| bbn < p && p < next) else { continue };
        let bus = integer(&dsdt[bbn..]).and_then(|b| u8::try_from(b).ok());
        let node = integer(&dsdt[pxm..]).and_then(|n| u32::try_from(n).ok());
        if let (Some(bus), Some(node)) = (bus, node) {
            found.push((bus, node));
        }
    }
    found
}

/// An AML integer constant at the start of `aml` (ZeroOp, OneOp, Byte/Word/DWordPrefix).
fn integer(aml: &[u8]) -> Option<u64> {
    let le = |n: usize| {
        let bytes = aml.get(1..1 + n)?;
        Some(bytes.iter().rev().fold(0u64, |a, &b| a << 8 | u64::from(b)))
    };
    match aml.first()? {
        0x00 => Some(0),
        0x01 => Some(1),
        0x0A => le(1),
        0x0B => le(2),
        0x0C => le(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;

    use super::*;

    fn item(nodes: &[u64], cpu_nodes: &[u64]) -> Vec<u8> {
        let mut words = vec![nodes.len() as u64];
        words.extend(cpu_nodes);
        words.extend(nodes);
        words.iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    use crate::addr::MiB;

    #[test]
    fn two_nodes_split_low_memory_as_qemu_does() {
        // -m 1G -smp 2 -numa node,mem=512M,cpus=0 -numa node,mem=512M,cpus=1
        let ram = QemuRam { below_4g: 1024 * MiB, above_4g_start: 1 << 32, above_4g: 0 };
        let t = topology(&item(&[512 * MiB, 512 * MiB], &[0, 1]), 2, ram, None).unwrap();
        assert_eq!(t.nodes, 2);
        assert_eq!(t.vcpu_node, [0, 1]);
        assert_eq!(
            t.memory,
            [(0, 0xA_0000, 0), (0x10_0000, 512 * MiB, 0), (512 * MiB, 1024 * MiB, 1)]
        );
        assert_eq!(t.distances, [10, 20, 20, 10]);
    }

    #[test]
    fn a_node_across_the_pci_hole_gets_two_ranges() {
        // q35 with 3 GiB: 2 GiB below 4 GiB, 1 GiB above; four nodes of 768 MiB.
        let ram = QemuRam { below_4g: 2048 * MiB, above_4g_start: 1 << 32, above_4g: 1024 * MiB };
        let sizes = [768 * MiB; 4];
        let t = topology(&item(&sizes, &[0, 1, 2, 3]), 4, ram, None).unwrap();
        assert_eq!(
            t.memory,
            [
                (0, 0xA_0000, 0),
                (0x10_0000, 768 * MiB, 0),
                (768 * MiB, 1536 * MiB, 1),
                (1536 * MiB, 2048 * MiB, 2),
                (1 << 32, (1 << 32) + 256 * MiB, 2),
                ((1 << 32) + 256 * MiB, (1 << 32) + 1024 * MiB, 3),
            ]
        );
    }

    #[test]
    fn distances_come_from_qemus_slit() {
        let mut slit = vec![0u8; ACPI_HEADER_LEN];
        slit[..4].copy_from_slice(b"SLIT");
        slit.extend(2u64.to_le_bytes());
        slit.extend([10, 31, 31, 10]);
        let len = slit.len() as u32;
        slit[4..8].copy_from_slice(&len.to_le_bytes());
        let found = &slit[..];
        let ram = QemuRam { below_4g: 1024 * MiB, above_4g_start: 1 << 32, above_4g: 0 };
        let t = topology(&item(&[512 * MiB, 512 * MiB], &[0, 1]), 2, ram, Some(found)).unwrap();
        assert_eq!(t.distances, [10, 31, 31, 10]);
        // A SLIT for three nodes is an error.
        let t = topology(&item(&[256 * MiB; 3], &[0, 1]), 2, ram, Some(found));
        assert_eq!(t, Err(QemuNumaError::Slit { localities: 2, nodes: 3 }));
    }

    #[test]
    fn malformed_items_are_errors() {
        let ram = QemuRam { below_4g: 1024 * MiB, above_4g_start: 1 << 32, above_4g: 0 };
        let err = topology(&item(&[512 * MiB; 2], &[0, 1]), 3, ram, None).unwrap_err();
        assert!(matches!(err, QemuNumaError::ItemSize { nodes: 2, max_cpus: 3, .. }));
        let err = topology(&item(&[512 * MiB; 2], &[0, 2]), 2, ram, None).unwrap_err();
        assert_eq!(err, QemuNumaError::CpuNode { apic_id: 1, node: 2 });
        let err = topology(&item(&[1024 * MiB; 2], &[0, 1]), 2, ram, None).unwrap_err();
        assert!(matches!(err, QemuNumaError::Memory { .. }));
        assert_eq!(err.to_string().lines().count(), 1);
    }

    #[test]
    fn expander_nodes_from_qemus_dsdt() {
        // PCI0 with _BBN 0 and no _PXM; PC80 with _BBN 0x80 and _PXM 1; PC40 with _PXM 0.
        let mut dsdt = Vec::new();
        dsdt.extend(b"\x5B\x82..PCI0\x08_BBN\x00\x14\x0A_PXM\x00");
        dsdt.extend(b"\x5B\x82..PC80\x08_UID\x0A\x80\x08_BBN\x0A\x80\x08_HID\x0C\x41\xD0\x0A\x08");
        dsdt.extend(b"\x08_PXM\x01\x14\x0A_PRT\x00");
        dsdt.extend(b"\x5B\x82..PC40\x08_BBN\x0A\x40\x08_PXM\x00");
        assert_eq!(expander_nodes(&dsdt), [(0x80, 1), (0x40, 0)]);
    }

    /// A table of `length` bytes with `signature`, its bytes after the header `fill`.
    fn table(signature: &[u8; 4], length: u32, fill: u8) -> Vec<u8> {
        let mut table = vec![fill; length as usize];
        table[..4].copy_from_slice(signature);
        table[4..8].copy_from_slice(&length.to_le_bytes());
        table
    }

    /// The tables found, and how many reads and skips it took.
    type Walked<const N: usize> = (Result<[Option<Vec<u8>>; N], QemuNumaError>, usize);

    /// `blob` as fw_cfg would give it: in order, each read and skip counted.
    struct Blob<'a> {
        bytes: &'a [u8],
        at: usize,
        operations: usize,
    }

    impl TableBlob for Blob<'_> {
        type Error = QemuNumaError;
        fn read(&mut self, buf: &mut [u8]) -> Result<(), QemuNumaError> {
            buf.copy_from_slice(&self.bytes[self.at..self.at + buf.len()]);
            self.skip(buf.len())
        }
        fn skip(&mut self, len: usize) -> Result<(), QemuNumaError> {
            self.at += len;
            self.operations += 1;
            Ok(())
        }
    }

    /// Walks `blob` for the `wanted` tables (`b"none"`: a slot asking for none).
    fn walk<const N: usize>(bytes: &[u8], wanted: [&[u8; 4]; N]) -> Walked<N> {
        let mut blob = Blob { bytes, at: 0, operations: 0 };
        let wanted = wanted.map(|signature| Some(signature).filter(|&s| s != b"none"));
        let found = tables_from_blob(bytes.len() as u64, wanted, &mut blob);
        (found, blob.operations)
    }

    #[test]
    fn the_wanted_tables_are_read_out_of_qemus_blob_and_the_padding_is_not() {
        // FACS (64 bytes, no header beyond the length), DSDT, FADT, SLIT, then the zeroes
        // up to 128 KiB; a second DSDT (none in QEMU's blob) is not taken.
        let (facs, dsdt, fadt) =
            (table(b"FACS", 64, 0), table(b"DSDT", 700, 1), table(b"FACP", 276, 2));
        let (slit, extra) = (table(b"SLIT", 48, 3), table(b"DSDT", 40, 4));
        let mut blob = [facs, dsdt.clone(), fadt, slit.clone(), extra].concat();
        let used = blob.len();
        blob.resize(128 * 1024, 0);
        let (found, reads) = walk(&blob, [b"DSDT", b"SLIT", b"SRAT"]);
        assert_eq!(found.unwrap(), [Some(dsdt), Some(slit.clone()), None]);
        // Six headers (five tables', the padding's), then each table's rest, read or
        // skipped in one: the FACS, the DSDT, the FADT, the SLIT, the second DSDT.
        assert_eq!(reads, 6 + 5, "{used} bytes of tables");
        // A blob without padding ends with its last table.
        assert_eq!(walk(&blob[..used], [b"SLIT"]).0.unwrap(), [Some(table(b"SLIT", 48, 3))]);
        // A table not asked for this time is skipped, not kept.
        let (found, reads) = walk(&blob, [b"none", b"SLIT"]);
        assert_eq!(found.unwrap(), [None, Some(slit)]);
        assert_eq!(reads, 6 + 5);
    }

    #[test]
    fn a_header_whose_length_does_not_fit_is_an_error() {
        let mut blob = [table(b"FACS", 64, 0), table(b"DSDT", 100, 1)].concat();
        let error = walk(&blob[..150], [b"DSDT"]).0.unwrap_err();
        assert_eq!(error, QemuNumaError::TableBlob { offset: 64, length: 100, blob: 150 });
        assert_eq!(
            error.to_string(),
            "QEMU NUMA: etc/acpi/tables has a table of 100 bytes at offset 64 of its 150"
        );
        blob[64 + 4..64 + 8].copy_from_slice(&4u32.to_le_bytes());
        let error = walk(&blob, [b"DSDT"]).0.unwrap_err();
        assert_eq!(error, QemuNumaError::TableBlob { offset: 64, length: 4, blob: 164 });
    }
}
