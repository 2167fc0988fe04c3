//! The E820 memory map: the one map of physical memory the firmware hands to whoever runs
//! after it (SeaBIOS and OVMF through their Xen info tables, Linux through the zero page).
//!
//! [`E820Builder`] starts from the platform's memory map (the start info's, which Xen or QEMU
//! filled in) and takes *claims*: ranges the firmware marks as reserved, as ACPI tables or as
//! ACPI NVS. A claim punches through RAM, splitting RAM entries as needed. Claims never silently
//! override each other: ACPI tables over a reserved range, or two ACPI claims over one another,
//! is a [`E820Error::ClaimsConflict`] naming both ranges and their owners. The only overlap
//! accepted is reserved over reserved, because "reserved" only says "not RAM, hands off" and two
//! owners may rightly say that about the same MMIO (the platform's own reserved entries, the
//! 0xFC000000.. block and the IOAPIC inside it, say).
//!
//! Claims may lie outside RAM: MMIO (LAPIC, IOAPIC, HPET, MMCONFIG) never is RAM, and under Xen
//! the firmware populates pages above the platform's RAM for its ACPI tables itself.
//!
//! Memory the firmware used only while it ran needs no claim: it stays RAM for the next owner.
//!
//! [`E820Builder::build`] gives an [`E820Map`]: sorted, non-overlapping, adjacent entries of
//! one type merged, at most [`MAX_E820_ENTRIES`] entries, encodable to the 20-byte BIOS format.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use crate::bootinfo::{MAX_MEMORY_MAP_ENTRIES, MemoryKind, MemoryRegion, PhysRange};

/// Size of one entry in the BIOS format (INT 15h AX=E820h, the Linux zero page's `e820_table`,
/// SeaBIOS's and OVMF's Xen info tables): base `u64`, length `u64`, type `u32`, little-endian,
/// packed.
pub const E820_ENTRY_SIZE: usize = 20;

/// Most entries the map may have: the Linux zero page has room for 128 (`E820_MAX_ENTRIES_ZEROPAGE`),
/// and it is the limit the whole firmware works with.
pub const MAX_E820_ENTRIES: usize = MAX_MEMORY_MAP_ENTRIES as usize;

/// Owner named for entries that came from the platform's memory map rather than a claim.
pub const PLATFORM_OWNER: &str = "platform memory map";

/// The E820 type number of a memory kind (ACPI 6.5, chapter 15 "System Address Map
/// Interfaces", address range types).
pub fn e820_type(kind: MemoryKind) -> u32 {
    match kind {
        MemoryKind::Ram => 1,
        MemoryKind::Reserved => 2,
        MemoryKind::AcpiReclaimable => 3,
        MemoryKind::AcpiNvs => 4,
        MemoryKind::Unusable => 5,
        MemoryKind::Disabled => 6,
        MemoryKind::Persistent => 7,
        MemoryKind::Other(kind) => kind,
    }
}

/// One kind per E820 type number: `Other(1)` and `Ram` are the same thing in the map, so kinds
/// are compared (for merging and conflicts) in this form only.
fn canonical(kind: MemoryKind) -> MemoryKind {
    MemoryKind::from_e820(e820_type(kind))
}

/// What a claim marks its range as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClaimKind {
    /// Type 2: not RAM and not to be touched (MMIO, MMCONFIG, firmware pages still in use).
    Reserved,
    /// Type 3: ACPI tables; the OS may reuse the memory once it has read them.
    AcpiTables,
    /// Type 4: ACPI NVS (the FACS): must survive sleep states, never reused by the OS.
    AcpiNvs,
}

impl ClaimKind {
    pub fn memory_kind(self) -> MemoryKind {
        match self {
            ClaimKind::Reserved => MemoryKind::Reserved,
            ClaimKind::AcpiTables => MemoryKind::AcpiReclaimable,
            ClaimKind::AcpiNvs => MemoryKind::AcpiNvs,
        }
    }
}

/// A non-RAM range in the map, with who asked for it (for errors and logs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Claim {
    pub range: PhysRange,
    pub kind: MemoryKind,
    pub owner: &'static str,
}

impl fmt::Display for Claim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.kind, self.range, self.owner)
    }
}

/// Why the map cannot be built as asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum E820Error {
    /// A range with `end <= start`: a zero-sized claim or entry is always a caller's mistake.
    EmptyRange { range: PhysRange, owner: &'static str },
    /// Two entries of the platform's memory map overlap.
    PlatformOverlap { first: PhysRange, second: PhysRange },
    /// A claim overlaps an earlier non-RAM claim (or platform entry) and is not reserved over
    /// reserved.
    ClaimsConflict { new: Claim, existing: Claim },
    /// The finished map would need more than [`MAX_E820_ENTRIES`] entries.
    TooManyEntries { count: usize },
    /// The buffer given to [`E820Map::encode_into`] is too small.
    BufferTooSmall { needed: usize, available: usize },
}

impl fmt::Display for E820Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            E820Error::EmptyRange { range, owner } => write!(
                f,
                "e820: {owner}: empty range (start {:#x}, end {:#x})",
                range.start, range.end
            ),
            E820Error::PlatformOverlap { first, second } => {
                write!(f, "e820: platform memory map entries {first} and {second} overlap")
            }
            E820Error::ClaimsConflict { new, existing } => {
                write!(f, "e820: claim {new} overlaps {existing}")
            }
            E820Error::TooManyEntries { count } => {
                write!(f, "e820: the map needs {count} entries (at most {MAX_E820_ENTRIES} fit)")
            }
            E820Error::BufferTooSmall { needed, available } => {
                write!(f, "e820: encoding needs {needed} bytes, the buffer has {available}")
            }
        }
    }
}

/// Collects the platform's RAM and the firmware's claims; [`build`](Self::build) makes the map.
#[derive(Clone, Debug, Default)]
pub struct E820Builder {
    /// The platform's RAM, in input order (it may touch but never overlaps, checked in `new`).
    ram: Vec<PhysRange>,
    /// Every non-RAM range: the platform's own entries first, then claims in the order made.
    /// Two of them overlap only if both are reserved.
    claims: Vec<Claim>,
}

impl E820Builder {
    /// Starts from the platform's memory map (`BootInfo::memory_map`). Its RAM is the memory the
    /// map describes; its other entries (Xen's reserved device memory, QEMU's reserved ranges)
    /// are kept as claims owned by [`PLATFORM_OWNER`] so later claims are checked against them.
    pub fn new(platform: &[MemoryRegion]) -> Result<Self, Box<E820Error>> {
        let mut builder = E820Builder::default();
        for (index, region) in platform.iter().enumerate() {
            check_not_empty(region.range, PLATFORM_OWNER)?;
            if let Some(earlier) =
                platform[..index].iter().find(|earlier| earlier.range.overlaps(&region.range))
            {
                return Err(Box::new(E820Error::PlatformOverlap {
                    first: earlier.range,
                    second: region.range,
                }));
            }
            match canonical(region.kind) {
                MemoryKind::Ram => builder.ram.push(region.range),
                kind => {
                    builder.claims.push(Claim { range: region.range, kind, owner: PLATFORM_OWNER })
                }
            }
        }
        Ok(builder)
    }

    /// Marks `range` as `kind` on behalf of `owner` (a short name such as "IOAPIC" or
    /// "ACPI tables", used in errors and logs). RAM under it is cut out; a hole under it becomes
    /// an entry. Fails, leaving the builder unchanged, if the range is empty or overlaps an
    /// earlier claim unless both are reserved.
    pub fn claim(
        &mut self,
        kind: ClaimKind,
        range: PhysRange,
        owner: &'static str,
    ) -> Result<(), Box<E820Error>> {
        check_not_empty(range, owner)?;
        let new = Claim { range, kind: kind.memory_kind(), owner };
        if let Some(existing) = self.claims.iter().find(|existing| {
            existing.range.overlaps(&range)
                && !(existing.kind == MemoryKind::Reserved && new.kind == MemoryKind::Reserved)
        }) {
            return Err(Box::new(E820Error::ClaimsConflict { new, existing: *existing }));
        }
        self.claims.push(new);
        Ok(())
    }

    /// The claims made so far, the platform's non-RAM entries first.
    #[cfg(test)]
    pub fn claims(&self) -> &[Claim] {
        &self.claims
    }

    /// The finished map: every byte of the platform's RAM appears exactly once, as RAM or as
    /// the claim over it; every claimed byte appears with its claim's type.
    pub fn build(&self) -> Result<E820Map, Box<E820Error>> {
        // Cut the address space at every range boundary; between two neighbouring cuts nothing
        // changes, so each such piece has one type: a claim's if one covers it (claims only
        // overlap when all are reserved, so any covering claim gives the same type), else RAM
        // if RAM covers it, else it is a hole and is left out.
        let mut cuts: Vec<u64> = self
            .ram
            .iter()
            .chain(self.claims.iter().map(|claim| &claim.range))
            .flat_map(|range| [range.start, range.end])
            .collect();
        crate::sort::sort_unstable(&mut cuts);
        cuts.dedup();

        let mut entries: Vec<MemoryRegion> = Vec::new();
        for piece in cuts.windows(2) {
            let piece = PhysRange { start: piece[0], end: piece[1] };
            let kind = match self.claims.iter().find(|claim| claim.range.contains_range(&piece)) {
                Some(claim) => claim.kind,
                None if self.ram.iter().any(|ram| ram.contains_range(&piece)) => MemoryKind::Ram,
                None => continue,
            };
            match entries.last_mut() {
                Some(last) if last.kind == kind && last.range.end == piece.start => {
                    last.range.end = piece.end;
                }
                _ => entries.push(MemoryRegion { range: piece, kind }),
            }
        }
        if entries.len() > MAX_E820_ENTRIES {
            return Err(Box::new(E820Error::TooManyEntries { count: entries.len() }));
        }
        Ok(E820Map { entries })
    }
}

fn check_not_empty(range: PhysRange, owner: &'static str) -> Result<(), Box<E820Error>> {
    // `PhysRange`'s fields are public, so an inverted range is possible and would make its
    // `len()` underflow: reject it together with the empty one.
    if range.end <= range.start {
        Err(Box::new(E820Error::EmptyRange { range, owner }))
    } else {
        Ok(())
    }
}

/// The finished memory map. Invariants (kept by [`E820Builder::build`], the only constructor):
/// entries sorted by address, non-empty, non-overlapping, no two touching entries of one type,
/// at most [`MAX_E820_ENTRIES`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct E820Map {
    entries: Vec<MemoryRegion>,
}

impl E820Map {
    pub fn entries(&self) -> &[MemoryRegion] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The ranges left as RAM for the next owner.
    pub fn ram(&self) -> impl Iterator<Item = PhysRange> + '_ {
        self.entries.iter().filter(|entry| entry.kind == MemoryKind::Ram).map(|entry| entry.range)
    }

    /// Bytes of RAM left for the next owner.
    pub fn ram_bytes(&self) -> u64 {
        self.ram().map(|range| range.len()).sum()
    }

    /// Bytes [`encode_into`](Self::encode_into) writes.
    pub fn encoded_len(&self) -> usize {
        self.entries.len() * E820_ENTRY_SIZE
    }

    /// Writes the entries in the 20-byte BIOS format to the start of `buf`; returns the bytes
    /// written ([`encoded_len`](Self::encoded_len)).
    pub fn encode_into(&self, buf: &mut [u8]) -> Result<usize, Box<E820Error>> {
        let needed = self.encoded_len();
        let available = buf.len();
        let out = buf.get_mut(..needed).ok_or(E820Error::BufferTooSmall { needed, available })?;
        for (slot, entry) in out.chunks_exact_mut(E820_ENTRY_SIZE).zip(&self.entries) {
            slot.copy_from_slice(&encode_entry(entry));
        }
        Ok(needed)
    }
}

/// One entry in the BIOS format: base, length, type (see [`E820_ENTRY_SIZE`]).
pub fn encode_entry(entry: &MemoryRegion) -> [u8; E820_ENTRY_SIZE] {
    let mut bytes = [0u8; E820_ENTRY_SIZE];
    bytes[0..8].copy_from_slice(&entry.range.start.to_le_bytes());
    bytes[8..16].copy_from_slice(&entry.range.len().to_le_bytes());
    bytes[16..20].copy_from_slice(&e820_type(entry.kind).to_le_bytes());
    bytes
}

/// One line per entry, `0x<first byte>-0x<last byte> <type>`, for the boot log.
impl fmt::Display for E820Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, entry) in self.entries.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{:#018x}-{:#018x} {}", entry.range.start, entry.range.end - 1, entry.kind)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
