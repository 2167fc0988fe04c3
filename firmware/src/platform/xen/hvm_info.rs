//! `struct hvm_info_table`, which the domain builder leaves at 0x9F800: vCPU count and
//! online map, APIC mode, and the coarse RAM layout. Parsed from bytes and validated, so a
//! corrupt table is a clear error instead of a wrong machine.

use alloc::vec::Vec;
use core::fmt;

use super::abi::hvm_info::*;
#[cfg(test)]
use crate::arch::PhysMemoryMut;
use crate::arch::{PhysMemory, PhysReadError};
use crate::bootinfo::{MemoryKind, MemoryRegion, PhysRange};

/// The fields up to and including `high_mem_pgend`: any table shorter is not one.
const MIN_LENGTH: usize = OFF_VCPU_ONLINE;
/// The table lives in the page at 0x9F000 from offset 0x800: it cannot be longer.
const MAX_LENGTH: usize = 0x800;
/// Pages below 4 GiB.
const PAGES_4G: u64 = 1 << 20;

/// The validated table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HvmInfo {
    pub length: u32,
    /// Whether the firmware describes IOAPIC/LAPICs (MADT, MP tables) — Xen sets it with
    /// `apic=1` (always, for HVM guests with a local APIC).
    pub apic_mode: bool,
    /// vCPUs of the domain (max_vcpus); the BSP is vCPU 0.
    pub nr_vcpus: u32,
    /// RAM below 4 GiB ends at this page (except the VGA hole 0xA0000-0xBFFFF).
    pub low_mem_pgend: u32,
    /// From this page to 4 GiB: reserved for special mappings (0 = none).
    pub reserved_mem_pgstart: u32,
    /// RAM from 4 GiB to this page (0 = none).
    pub high_mem_pgend: u32,
    /// Which vCPUs are online at boot (bit n = vCPU n); only the first `nr_vcpus` bits.
    pub vcpu_online: [u8; (MAX_VCPUS as usize).div_ceil(8)],
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HvmInfoError {
    Unreadable(PhysReadError),
    BadSignature([u8; 8]),
    BadLength(u32),
    BadChecksum { sum: u8 },
    NrVcpus { nr_vcpus: u32, max: u32 },
    BspOffline,
    OnlineBeyondNrVcpus { vcpu: u32, nr_vcpus: u32 },
    LowMem { low_mem_pgend: u32 },
    ReservedMem { reserved_mem_pgstart: u32, low_mem_pgend: u32 },
    HighMem { high_mem_pgend: u32 },
}

impl fmt::Display for HvmInfoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const T: &str = "hvm_info_table at 0x9f800";
        match self {
            HvmInfoError::Unreadable(e) => write!(f, "{T}: {e}"),
            HvmInfoError::BadSignature(s) => {
                write!(f, "{T}: signature \"{}\" is not \"HVM INFO\"", s.escape_ascii())
            }
            HvmInfoError::BadLength(l) => write!(
                f,
                "{T}: length {l} outside {MIN_LENGTH}..={MAX_LENGTH} (the table ends in its page)"
            ),
            HvmInfoError::BadChecksum { sum } => {
                write!(f, "{T}: bytes sum to {sum:#04x}, not 0: corrupt table")
            }
            HvmInfoError::NrVcpus { nr_vcpus, max } => {
                write!(f, "{T}: nr_vcpus {nr_vcpus} outside 1..={max}")
            }
            HvmInfoError::BspOffline => write!(f, "{T}: vCPU 0 (the BSP) is not marked online"),
            HvmInfoError::OnlineBeyondNrVcpus { vcpu, nr_vcpus } => {
                write!(f, "{T}: vCPU {vcpu} marked online but nr_vcpus is {nr_vcpus}")
            }
            HvmInfoError::LowMem { low_mem_pgend } => write!(
                f,
                "{T}: low_mem_pgend {low_mem_pgend:#x} puts the end of low RAM outside \
                 1 MiB..4 GiB"
            ),
            HvmInfoError::ReservedMem { reserved_mem_pgstart, low_mem_pgend } => write!(
                f,
                "{T}: reserved_mem_pgstart {reserved_mem_pgstart:#x} below low_mem_pgend \
                 {low_mem_pgend:#x} or above 4 GiB"
            ),
            HvmInfoError::HighMem { high_mem_pgend } => {
                write!(f, "{T}: high_mem_pgend {high_mem_pgend:#x} is not above 4 GiB")
            }
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl HvmInfo {
    /// Reads the table at [`PADDR`].
    pub fn read(mem: &impl PhysMemory) -> Result<Self, HvmInfoError> {
        let mut raw = [0u8; MAX_LENGTH];
        mem.read(PADDR, &mut raw).map_err(HvmInfoError::Unreadable)?;
        Self::parse(&raw)
    }

    /// Validates the table in `raw` (the bytes from 0x9F800 to the end of its page, or any
    /// prefix at least `length` long).
    pub fn parse(raw: &[u8]) -> Result<Self, HvmInfoError> {
        if raw.len() < MIN_LENGTH {
            return Err(HvmInfoError::BadLength(raw.len() as u32));
        }
        let mut signature = [0u8; 8];
        signature.copy_from_slice(&raw[..8]);
        if &signature != SIGNATURE {
            return Err(HvmInfoError::BadSignature(signature));
        }
        let length = u32_at(raw, OFF_LENGTH);
        let len = length as usize;
        if !(MIN_LENGTH..=MAX_LENGTH).contains(&len) || len > raw.len() {
            return Err(HvmInfoError::BadLength(length));
        }
        let table = &raw[..len];
        let sum = table.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        if sum != 0 {
            return Err(HvmInfoError::BadChecksum { sum });
        }
        // Older tables had a shorter bitmap (fewer maximum vCPUs); the bitmap bytes present
        // bound the count as much as HVM_MAX_VCPUS does.
        let bitmap = &table[OFF_VCPU_ONLINE..len.min(SIZE)];
        let max = (bitmap.len() as u32 * 8).min(MAX_VCPUS);
        let nr_vcpus = u32_at(table, OFF_NR_VCPUS);
        if nr_vcpus == 0 || nr_vcpus > max {
            return Err(HvmInfoError::NrVcpus { nr_vcpus, max });
        }
        let mut vcpu_online = [0u8; (MAX_VCPUS as usize).div_ceil(8)];
        vcpu_online[..bitmap.len()].copy_from_slice(bitmap);
        if vcpu_online[0] & 1 == 0 {
            return Err(HvmInfoError::BspOffline);
        }
        if let Some(vcpu) =
            (nr_vcpus..max).find(|&v| vcpu_online[(v / 8) as usize] & (1 << (v % 8)) != 0)
        {
            return Err(HvmInfoError::OnlineBeyondNrVcpus { vcpu, nr_vcpus });
        }
        let low_mem_pgend = u32_at(table, OFF_LOW_MEM_PGEND);
        if !(0x100..=PAGES_4G).contains(&u64::from(low_mem_pgend)) {
            return Err(HvmInfoError::LowMem { low_mem_pgend });
        }
        let reserved_mem_pgstart = u32_at(table, OFF_RESERVED_MEM_PGSTART);
        if reserved_mem_pgstart != 0
            && (reserved_mem_pgstart < low_mem_pgend || u64::from(reserved_mem_pgstart) >= PAGES_4G)
        {
            return Err(HvmInfoError::ReservedMem { reserved_mem_pgstart, low_mem_pgend });
        }
        let high_mem_pgend = u32_at(table, OFF_HIGH_MEM_PGEND);
        if high_mem_pgend != 0 && u64::from(high_mem_pgend) <= PAGES_4G {
            return Err(HvmInfoError::HighMem { high_mem_pgend });
        }
        Ok(HvmInfo {
            length,
            apic_mode: table[OFF_APIC_MODE] != 0,
            nr_vcpus,
            low_mem_pgend,
            reserved_mem_pgstart,
            high_mem_pgend,
            vcpu_online,
        })
    }

    /// Writes this table's RAM layout (`low_mem_pgend`, `high_mem_pgend`) into `table`, the
    /// bytes of the table in guest memory (at least `length` of them), and makes the
    /// checksum right again. hvmloader changes the two fields in place when it moves RAM for
    /// the MMIO hole but leaves the checksum as it was; a table whose bytes do not sum to 0
    /// is one no reader can trust, so this one fixes it.
    #[cfg(test)]
    pub fn write_layout(&self, table: &mut [u8]) -> Result<(), HvmInfoError> {
        let len = self.length as usize;
        let Some(table) = table.get_mut(..len).filter(|_| len >= MIN_LENGTH) else {
            return Err(HvmInfoError::BadLength(self.length));
        };
        table[OFF_LOW_MEM_PGEND..OFF_LOW_MEM_PGEND + 4]
            .copy_from_slice(&self.low_mem_pgend.to_le_bytes());
        table[OFF_HIGH_MEM_PGEND..OFF_HIGH_MEM_PGEND + 4]
            .copy_from_slice(&self.high_mem_pgend.to_le_bytes());
        table[OFF_CHECKSUM] = 0;
        let sum = table.iter().fold(0u8, |s, &b| s.wrapping_add(b));
        table[OFF_CHECKSUM] = 0u8.wrapping_sub(sum);
        Ok(())
    }

    /// [`HvmInfo::write_layout`] on the table at [`PADDR`] in `mem`.
    #[cfg(test)]
    pub fn write_back(&self, mem: &mut impl PhysMemoryMut) -> Result<(), HvmInfoError> {
        let range = PhysRange { start: PADDR, end: PADDR + u64::from(self.length) };
        let table = mem.window(range).map_err(HvmInfoError::Unreadable)?;
        self.write_layout(table)
    }

    /// Whether vCPU `n` is online at boot.
    pub fn is_online(&self, n: u32) -> bool {
        n < self.nr_vcpus && self.vcpu_online[(n / 8) as usize] & (1 << (n % 8)) != 0
    }

    /// How many vCPUs are online at boot.
    pub fn online_count(&self) -> u32 {
        (0..self.nr_vcpus).filter(|&n| self.is_online(n)).count() as u32
    }

    /// The memory map the table implies, for a Xen that cannot answer XENMEM_memory_map:
    /// RAM below the table's page, the page itself reserved, RAM from 1 MiB to
    /// `low_mem_pgend`, the special range up to 4 GiB reserved, RAM above 4 GiB.
    pub fn memory_map(&self) -> Vec<MemoryRegion> {
        let page = |p: u32| u64::from(p) << 12;
        let mut map = alloc::vec![
            MemoryRegion { range: PhysRange { start: 0, end: 0x9_F000 }, kind: MemoryKind::Ram },
            MemoryRegion {
                range: PhysRange { start: 0x9_F000, end: 0xA_0000 },
                kind: MemoryKind::Reserved,
            },
        ];
        if page(self.low_mem_pgend) > 0x10_0000 {
            map.push(MemoryRegion {
                range: PhysRange { start: 0x10_0000, end: page(self.low_mem_pgend) },
                kind: MemoryKind::Ram,
            });
        }
        if self.reserved_mem_pgstart != 0 {
            map.push(MemoryRegion {
                range: PhysRange { start: page(self.reserved_mem_pgstart), end: 1 << 32 },
                kind: MemoryKind::Reserved,
            });
        }
        if self.high_mem_pgend != 0 {
            map.push(MemoryRegion {
                range: PhysRange { start: 1 << 32, end: page(self.high_mem_pgend) },
                kind: MemoryKind::Ram,
            });
        }
        map
    }
}
