//! Lays tables out in a memory region, links them and writes the RSDP
//! (ACPI 6.5 sections 5.2.5 to 5.2.9).

use crate::tables::{Facs, Rsdp, Rsdt, Table, Xsdt, fadt};
use crate::{Error, OemIds, Signature};

/// Most tables one installer holds (FACS and DSDT included).
pub const MAX_TABLES: usize = 32;
/// The RSDP must start on a 16-byte boundary (ACPI 6.5 section 5.2.5.1).
pub const RSDP_ALIGNMENT: u64 = 16;
/// Alignment of every other table; the specification asks for none, 16 keeps
/// tables on cache-friendly boundaries as firmware customarily does.
const TABLE_ALIGNMENT: u64 = 16;

/// Where one table was placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstalledTable {
    /// The table's signature.
    pub signature: Signature,
    /// Its physical address.
    pub address: u64,
    /// Its length in bytes.
    pub length: u32,
}

impl InstalledTable {
    const EMPTY: Self = Self { signature: Signature([0; 4]), address: 0, length: 0 };
}

/// Where [`Installer::finish`] writes the RSDP.
#[derive(Debug)]
pub enum RsdpPlacement<'a> {
    /// In the installer's region, after the other tables.
    InRegion,
    /// In a separate buffer, e.g. the BIOS area 0xE0000-0xFFFFF, which the
    /// caller maps at physical `address` (16-byte aligned).
    At {
        /// At least [`Rsdp::LENGTH`] bytes.
        buffer: &'a mut [u8],
        /// Physical address of `buffer`.
        address: u64,
    },
}

/// What was installed, for the hand-off and for logging.
#[derive(Clone, Debug)]
pub struct InstallSummary {
    /// Physical address of the RSDP.
    pub rsdp_address: u64,
    /// The RSDP bytes, for copies elsewhere (e.g. the BIOS area).
    pub rsdp: [u8; Rsdp::LENGTH],
    /// Bytes of the region used, from its start to the end of the last table.
    pub bytes_used: usize,
    tables: [InstalledTable; MAX_TABLES + 2],
    count: usize,
}

impl InstallSummary {
    /// Every table written, in memory order: the installed ones, then the XSDT
    /// and (if written) the RSDT. The RSDP is reported separately.
    pub fn tables(&self) -> &[InstalledTable] {
        &self.tables[..self.count]
    }

    /// The first table with `signature`.
    pub fn find(&self, signature: Signature) -> Option<&InstalledTable> {
        self.tables().iter().find(|t| t.signature == signature)
    }
}

/// Installs tables into `region`, which the platform maps at physical
/// address `base`.
///
/// Install the tables with [`Installer::install`] in any order, then call
/// [`Installer::finish`], which links the FADT to the FACS and DSDT, writes
/// the XSDT, the RSDT and the RSDP. Failures leave the region partly written
/// but are always reported as errors.
#[derive(Debug)]
pub struct Installer<'r> {
    region: &'r mut [u8],
    base: u64,
    used: usize,
    ids: OemIds,
    with_rsdt: bool,
    tables: [InstalledTable; MAX_TABLES],
    count: usize,
    fadt_offset: Option<usize>,
}

impl<'r> Installer<'r> {
    /// An installer for `region` at physical address `base`, writing `ids`
    /// into the headers it produces. By default both an XSDT and an RSDT are
    /// written.
    pub fn new(region: &'r mut [u8], base: u64, ids: OemIds) -> Result<Self, Error> {
        let len = u64::try_from(region.len()).map_err(|_| Error::AddressOverflow)?;
        base.checked_add(len).ok_or(Error::AddressOverflow)?;
        Ok(Self {
            region,
            base,
            used: 0,
            ids,
            with_rsdt: true,
            tables: [InstalledTable::EMPTY; MAX_TABLES],
            count: 0,
            fadt_offset: None,
        })
    }

    /// Writes no RSDT (the RSDP's `RsdtAddress` is 0): for table sets placed
    /// above 4 GiB.
    pub fn without_rsdt(mut self) -> Self {
        self.with_rsdt = false;
        self
    }

    /// The tables installed so far.
    pub fn installed(&self) -> &[InstalledTable] {
        &self.tables[..self.count]
    }

    /// Places `table`; FACS on a 64-byte boundary, others on 16 bytes.
    ///
    /// FACS and DSDT are referenced from the FADT only; every other table
    /// gets an XSDT/RSDT entry. RSDP, RSDT and XSDT are written by
    /// [`Installer::finish`] and refused here.
    pub fn install(&mut self, table: &dyn Table) -> Result<InstalledTable, Error> {
        let signature = table.signature();
        if [Signature::RSDT, Signature::XSDT, Signature::RSDP].contains(&signature) {
            return Err(Error::ReservedSignature(signature));
        }
        if !signature.may_repeat() && self.installed().iter().any(|t| t.signature == signature) {
            return Err(Error::DuplicateTable(signature));
        }
        if self.count == MAX_TABLES {
            return Err(Error::TooManyTables);
        }
        let alignment =
            if signature == Signature::FACS { Facs::ALIGNMENT } else { TABLE_ALIGNMENT };
        let (offset, installed) = self.place(table, alignment)?;
        if signature == Signature::FADT {
            self.fadt_offset = Some(offset);
        }
        self.tables[self.count] = installed;
        self.count += 1;
        Ok(installed)
    }

    /// Writes `table` at the next `alignment`-aligned address of the region.
    fn place(
        &mut self,
        table: &dyn Table,
        alignment: u64,
    ) -> Result<(usize, InstalledTable), Error> {
        let signature = table.signature();
        let length = table.length();
        let length32 = u32::try_from(length)
            .map_err(|_| Error::InvalidField { signature, reason: "table longer than 4 GiB" })?;
        let next = self.base + self.used as u64; // No overflow: checked in `new`.
        let aligned = next.checked_next_multiple_of(alignment).ok_or(Error::AddressOverflow)?;
        let padding = usize::try_from(aligned - next).map_err(|_| Error::AddressOverflow)?;
        let available = self.region.len() - self.used;
        let needed = padding.checked_add(length).ok_or(Error::AddressOverflow)?;
        if needed > available {
            return Err(Error::RegionFull { signature, needed, available });
        }
        let offset = self.used + padding;
        let written = table.write(&self.ids, &mut self.region[offset..offset + length])?;
        if written != length {
            return Err(Error::InvalidTable {
                signature,
                reason: "table wrote a different length than it declared",
            });
        }
        self.used = offset + length;
        Ok((offset, InstalledTable { signature, address: aligned, length: length32 }))
    }

    fn address_of(&self, signature: Signature) -> Option<u64> {
        self.installed().iter().find(|t| t.signature == signature).map(|t| t.address)
    }

    /// Links the FADT, writes the XSDT, the RSDT (unless disabled) and the RSDP.
    pub fn finish(mut self, rsdp_placement: RsdpPlacement<'_>) -> Result<InstallSummary, Error> {
        if let Some(offset) = self.fadt_offset {
            let dsdt =
                self.address_of(Signature::DSDT).ok_or(Error::MissingTable(Signature::DSDT))?;
            let facs = self.address_of(Signature::FACS);
            fadt::link(&mut self.region[offset..], facs, dsdt)?;
        }

        // The FADT goes first, as OSPM expects; the rest keep install order.
        let mut entries = [0u64; MAX_TABLES];
        let mut signatures = [Signature([0; 4]); MAX_TABLES];
        let mut n = 0;
        let listed =
            |t: &&InstalledTable| t.signature != Signature::FACS && t.signature != Signature::DSDT;
        let fadt_first = self.installed().iter().filter(|t| t.signature == Signature::FADT);
        let others = self.installed().iter().filter(|t| t.signature != Signature::FADT);
        for t in fadt_first.chain(others).filter(listed) {
            entries[n] = t.address;
            signatures[n] = t.signature;
            n += 1;
        }

        let mut summary = InstallSummary {
            rsdp_address: 0,
            rsdp: [0; Rsdp::LENGTH],
            bytes_used: 0,
            tables: [InstalledTable::EMPTY; MAX_TABLES + 2],
            count: self.count,
        };
        summary.tables[..self.count].copy_from_slice(self.installed());

        let (_, xsdt) = self.place(&Xsdt { entries: &entries[..n] }, TABLE_ALIGNMENT)?;
        summary.tables[summary.count] = xsdt;
        summary.count += 1;

        let mut rsdt_address = 0;
        if self.with_rsdt {
            if let Some(i) = entries[..n].iter().position(|&a| a > u64::from(u32::MAX)) {
                return Err(Error::AddressAbove4GiB {
                    signature: signatures[i],
                    address: entries[i],
                });
            }
            let (_, rsdt) = self.place(&Rsdt { entries: &entries[..n] }, TABLE_ALIGNMENT)?;
            rsdt_address = u32::try_from(rsdt.address).map_err(|_| Error::AddressAbove4GiB {
                signature: Signature::RSDT,
                address: rsdt.address,
            })?;
            summary.tables[summary.count] = rsdt;
            summary.count += 1;
        }

        let rsdp =
            Rsdp { oem_id: self.ids.oem_id, rsdt_address, xsdt_address: xsdt.address }.to_bytes();
        summary.rsdp = rsdp;
        summary.rsdp_address = match rsdp_placement {
            RsdpPlacement::InRegion => self.place(&RsdpTable(&rsdp), RSDP_ALIGNMENT)?.1.address,
            RsdpPlacement::At { buffer, address } => {
                if address % RSDP_ALIGNMENT != 0 {
                    return Err(Error::Misaligned { address, alignment: RSDP_ALIGNMENT });
                }
                let available = buffer.len();
                buffer
                    .get_mut(..Rsdp::LENGTH)
                    .ok_or(Error::BufferTooSmall { needed: Rsdp::LENGTH, available })?
                    .copy_from_slice(&rsdp);
                address
            }
        };
        summary.bytes_used = self.used;
        Ok(summary)
    }
}

/// Lets the installer place pre-encoded RSDP bytes with `place`.
struct RsdpTable<'a>(&'a [u8; Rsdp::LENGTH]);

impl Table for RsdpTable<'_> {
    fn signature(&self) -> Signature {
        Signature::RSDP
    }

    fn length(&self) -> usize {
        Rsdp::LENGTH
    }

    fn write(&self, _ids: &OemIds, out: &mut [u8]) -> Result<usize, Error> {
        let available = out.len();
        out.get_mut(..Rsdp::LENGTH)
            .ok_or(Error::BufferTooSmall { needed: Rsdp::LENGTH, available })?
            .copy_from_slice(self.0);
        Ok(Rsdp::LENGTH)
    }
}
