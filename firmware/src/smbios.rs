//! SMBIOS tables (DMTF DSP0134, version 3.x): what `dmidecode`, Linux's `/sys/class/dmi` and
//! Windows read to learn what machine they run on.
//!
//! [`SmbiosTable::build`] turns an [`SmbiosInfo`] (strings with the defaults a Xen guest has
//! always seen, each overridable, the CPU topology and the RAM) into one structure table, which
//! conforms to SMBIOS 3.0 and holds types 0, 1, 2, 3, 4 (one per socket), 16, 17 (enough
//! devices to hold the RAM), 19 (one per RAM range), 32 and 127. [`SmbiosTable::write_to`] copies
//! it into the caller's buffer at a given physical address and returns both entry points
//! pointing at it: the 64-bit `_SM3_` one (section 5.2.2) and, for guests older than SMBIOS 3.0
//! support, the 32-bit `_SM_`/`_DMI_` one (section 5.2.1). Entry points are returned by value
//! because they live elsewhere: on a 16-byte boundary in the F-segment for guests that scan for
//! them, or wherever the next firmware's info table points.
//!
//! Structures the platform's owner passes in (Xen's `hvmloader/smbios` blob, [`passthrough`])
//! stand in for types 0-3 and add types 11, 22, 39 and vendor types, as hvmloader does.
//!
//! Nothing here panics on input: bad strings, impossible topologies, overlapping RAM, a table
//! that does not fit its buffer or the 32-bit entry point's limits are all [`SmbiosError`]s.
//!
//! Section numbers in this file are those of DSP0134 3.x (3.0 through 3.7 agree on them).

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use libacpi::checksum;

use crate::bootinfo::PhysRange;

/// The specification version the table conforms to, in both entry points. 3.0 is the first
/// with the 64-bit entry point; the structures below have their 3.0 lengths.
pub const SMBIOS_MAJOR: u8 = 3;
pub const SMBIOS_MINOR: u8 = 0;
/// Docrev of the 64-bit entry point (section 5.2.2): the specification's third version number.
pub const SMBIOS_DOCREV: u8 = 0;

/// Length of the SMBIOS 3.0 (64-bit) entry point, section 5.2.2.
pub const SMBIOS3_ENTRY_POINT_LEN: usize = 0x18;
/// Length of the SMBIOS 2.1 (32-bit) entry point, section 5.2.1.
pub const SMBIOS2_ENTRY_POINT_LEN: usize = 0x1F;

/// Longest string accepted, in bytes. The specification sets no limit (section 6.1.3); this
/// one keeps every structure far below the table's 64 KiB and no identification string a
/// toolstack passes comes near it.
pub const MAX_STRING_LEN: usize = 255;
/// Most processor sockets described. Xen HVM guests have at most 128 vCPUs (HVM_MAX_VCPUS);
/// the bound keeps the table within the 32-bit entry point's 64 KiB.
pub const MAX_SOCKETS: u16 = 256;
/// Most RAM ranges described (one type 19 each): the E820 limit.
pub const MAX_RAM_RANGES: usize = crate::bootinfo::MAX_MEMORY_MAP_ENTRIES as usize;
/// Largest memory device (type 17) reported: the RAM is shown as devices of this size plus one
/// for the remainder, a size real modules have (256 GB DDR5 RDIMMs), so that guests with
/// terabytes of RAM get a plausible handful of devices.
pub const MAX_MEMORY_DEVICE_SIZE: u64 = 256 << 30;
/// Most memory devices: 128 TiB of RAM, far beyond any HVM guest, and within the 64 KiB table.
pub const MAX_MEMORY_DEVICES: u64 = 512;

/// The firmware's own name and version, the defaults of the BIOS vendor and version strings.
pub const FIRMWARE_VENDOR: &str = env!("CARGO_PKG_NAME");
pub const FIRMWARE_VERSION: &str = env!("CARGO_PKG_VERSION");
/// Release date of this build, in the mm/dd/yyyy form type 0 requires (section 7.1): the
/// date of the commit built, or `SOURCE_DATE_EPOCH` (build.rs).
pub const FIRMWARE_RELEASE_DATE: &str = env!("HVMRS_RELEASE_DATE");
/// [`FIRMWARE_VERSION`]'s first two numbers, for type 0's release bytes.
pub const FIRMWARE_MAJOR_RELEASE: u8 = parse_version_part(env!("CARGO_PKG_VERSION_MAJOR"));
pub const FIRMWARE_MINOR_RELEASE: u8 = parse_version_part(env!("CARGO_PKG_VERSION_MINOR"));

/// Bits of the BIOS Characteristics field of type 0 (section 7.1.1, table "BIOS
/// Characteristics") and of its two extension bytes (section 7.1.2.1 and 7.1.2.2).
pub mod bios_characteristics {
    pub const PCI: u64 = 1 << 7;
    pub const EDD: u64 = 1 << 19;

    /// Extension byte 1.
    pub const EXT1_ACPI: u8 = 1 << 0;

    /// Windows' SVVP certification wants it, which is why Xen and SeaBIOS set it.
    pub const EXT2_TARGETED_CONTENT_DISTRIBUTION: u8 = 1 << 2;
    pub const EXT2_VIRTUAL_MACHINE: u8 = 1 << 4;
}

/// Type 0 contents (section 7.1, BIOS Information).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BiosInfo<'a> {
    pub vendor: &'a str,
    pub version: &'a str,
    /// mm/dd/yyyy (required form since SMBIOS 2.3), or empty.
    pub release_date: &'a str,
    /// Real-mode segment where the BIOS runtime starts; 0 when not applicable (UEFI).
    pub starting_segment: u16,
    /// Size of the "device containing the BIOS", in bytes: 64 KiB to 16 MiB, rounded up to
    /// 64 KiB (the field counts 64 KiB blocks).
    pub rom_size: u64,
    pub characteristics: u64,
    pub characteristics_ext: [u8; 2],
    pub major_release: u8,
    pub minor_release: u8,
}

impl Default for BiosInfo<'_> {
    /// This firmware, with the segment, ROM size and characteristics Xen's hvmloader has always
    /// reported (0xE800, 64 KiB, PCI and EDD, targeted content distribution), plus "ACPI
    /// supported" and "this is a virtual machine", both true of every guest we build.
    fn default() -> Self {
        use bios_characteristics::*;
        BiosInfo {
            vendor: FIRMWARE_VENDOR,
            version: FIRMWARE_VERSION,
            release_date: FIRMWARE_RELEASE_DATE,
            starting_segment: 0xE800,
            rom_size: 64 << 10,
            characteristics: PCI | EDD,
            characteristics_ext: [
                EXT1_ACPI,
                EXT2_TARGETED_CONTENT_DISTRIBUTION | EXT2_VIRTUAL_MACHINE,
            ],
            major_release: FIRMWARE_MAJOR_RELEASE,
            minor_release: FIRMWARE_MINOR_RELEASE,
        }
    }
}

/// Wake-up Type values of type 1 (section 7.2.2).
pub mod wake_up_type {
    pub const POWER_SWITCH: u8 = 0x06;
}

/// Type 1 contents (section 7.2, System Information).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemInfo<'a> {
    pub manufacturer: &'a str,
    pub product: &'a str,
    pub version: &'a str,
    /// `None`: the UUID's text form when there is a UUID (as Xen has always done), else empty.
    pub serial_number: Option<&'a str>,
    /// The domain's UUID in RFC 4122 byte order (as printed, most significant byte first);
    /// encoded with the first three fields little-endian as section 7.2.1 requires. `None` is
    /// encoded as all zeroes, "not present".
    pub uuid: Option<[u8; 16]>,
    pub wake_up_type: u8,
    pub sku_number: &'a str,
    pub family: &'a str,
}

impl Default for SystemInfo<'_> {
    fn default() -> Self {
        SystemInfo {
            manufacturer: "Xen",
            product: "HVM domU",
            version: "",
            serial_number: None,
            uuid: None,
            wake_up_type: wake_up_type::POWER_SWITCH,
            sku_number: "",
            family: "",
        }
    }
}

/// Type 2 contents (section 7.3, Baseboard Information).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BaseboardInfo<'a> {
    pub manufacturer: &'a str,
    pub product: &'a str,
    pub version: &'a str,
    pub serial_number: &'a str,
    pub asset_tag: &'a str,
    pub location_in_chassis: &'a str,
}

impl Default for BaseboardInfo<'_> {
    fn default() -> Self {
        BaseboardInfo {
            manufacturer: "Xen",
            product: "HVM domU",
            version: "",
            serial_number: "",
            asset_tag: "",
            location_in_chassis: "",
        }
    }
}

/// Chassis types of type 3 (section 7.4.1).
pub mod chassis_type {
    pub const OTHER: u8 = 0x01;
}

/// Type 3 contents (section 7.4, System Enclosure or Chassis).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChassisInfo<'a> {
    pub manufacturer: &'a str,
    /// A [`chassis_type`] value (bit 7, "chassis lock present", is never set).
    pub chassis_type: u8,
    pub version: &'a str,
    pub serial_number: &'a str,
    pub asset_tag: &'a str,
    pub sku_number: &'a str,
}

impl Default for ChassisInfo<'_> {
    fn default() -> Self {
        ChassisInfo {
            manufacturer: "Xen",
            chassis_type: chassis_type::OTHER,
            version: "",
            serial_number: "",
            asset_tag: "",
            sku_number: "",
        }
    }
}

/// Type 4 contents shared by all sockets (section 7.5, Processor Information).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessorInfo<'a> {
    /// Processor Family (section 7.5.2); values above 0xFD go to Processor Family 2 only.
    pub family: u16,
    /// From CPUID, e.g. "GenuineIntel".
    pub manufacturer: &'a str,
    /// From CPUID's brand string.
    pub version: &'a str,
    /// Processor ID (section 7.5.3): CPUID leaf 1 EAX (the signature) ...
    pub cpuid_signature: u32,
    /// ... and EDX (the feature flags).
    pub cpuid_features: u32,
    /// MHz, 0 for unknown.
    pub max_speed_mhz: u16,
    pub current_speed_mhz: u16,
}

impl Default for ProcessorInfo<'_> {
    fn default() -> Self {
        ProcessorInfo {
            family: PROCESSOR_FAMILY_OTHER,
            manufacturer: "",
            version: "",
            cpuid_signature: 0,
            cpuid_features: 0,
            max_speed_mhz: 0,
            current_speed_mhz: 0,
        }
    }
}

/// Processor Family "Other" (section 7.5.2), what Xen and QEMU report for virtual CPUs.
pub const PROCESSOR_FAMILY_OTHER: u16 = 0x01;

/// How the vCPUs are arranged: one type 4 per socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTopology {
    /// 1 to [`MAX_SOCKETS`].
    pub sockets: u16,
    pub cores_per_socket: u16,
    pub threads_per_core: u16,
}

impl CpuTopology {
    /// `vcpus` single-threaded sockets: how Xen's hvmloader has always shown HVM vCPUs.
    #[cfg(test)]
    pub fn sockets_only(vcpus: u16) -> Self {
        CpuTopology { sockets: vcpus, cores_per_socket: 1, threads_per_core: 1 }
    }

    /// Threads per socket, if it fits the 16-bit Thread Count 2 field (0xFFFF is reserved).
    fn threads_per_socket(&self) -> Option<u16> {
        self.cores_per_socket
            .checked_mul(self.threads_per_core)
            .filter(|&threads| threads != 0xFFFF)
    }
}

/// Everything the table says. [`SmbiosInfo::new`] fills in the defaults; every field is public
/// so the boot code can override what the toolstack configured (Xen's `bios-strings/*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SmbiosInfo<'a> {
    pub bios: BiosInfo<'a>,
    pub system: SystemInfo<'a>,
    pub baseboard: BaseboardInfo<'a>,
    pub chassis: ChassisInfo<'a>,
    pub processor: ProcessorInfo<'a>,
    pub topology: CpuTopology,
    /// The installed RAM: the platform's RAM ranges (any order, touching ranges are joined).
    /// Pass the RAM as the platform gave it, not the E820 after the firmware's claims: memory
    /// the firmware reserved is still installed memory.
    pub ram: &'a [PhysRange],
    /// Structures the platform's owner passes in (Xen's `hvmloader/smbios` blob), which
    /// replace or add to the firmware's ([`passthrough`] says which).
    pub passthrough: Option<&'a SmbiosPassthrough<'a>>,
    /// Structures the device model describes the machine with (QEMU's), taken as they are;
    /// the firmware's own fill in only the types they lack ([`qemu`]).
    pub qemu: Option<&'a QemuStructures<'a>>,
}

impl<'a> SmbiosInfo<'a> {
    pub fn new(topology: CpuTopology, ram: &'a [PhysRange]) -> Self {
        SmbiosInfo {
            bios: BiosInfo::default(),
            system: SystemInfo::default(),
            baseboard: BaseboardInfo::default(),
            chassis: ChassisInfo::default(),
            processor: ProcessorInfo::default(),
            topology,
            ram,
            passthrough: None,
            qemu: None,
        }
    }
}

/// Why the tables cannot be built or placed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SmbiosError {
    /// A string holds a NUL, which would end it early and shift every later string.
    StringHasNul {
        field: &'static str,
    },
    StringTooLong {
        field: &'static str,
        len: usize,
    },
    /// The release date is neither empty nor mm/dd/yyyy.
    BadReleaseDate,
    /// The BIOS ROM size is 0 or above 16 MiB, which type 0 of SMBIOS 3.0 cannot express.
    BadRomSize(u64),
    /// A count of zero, too many sockets, or more threads per socket than the fields hold.
    BadTopology(CpuTopology),
    NoRam,
    TooManyRamRanges(usize),
    EmptyRamRange(PhysRange),
    RamRangesOverlap {
        first: PhysRange,
        second: PhysRange,
    },
    /// The RAM needs more than [`MAX_MEMORY_DEVICES`] memory devices.
    TooMuchRam {
        bytes: u64,
    },
    /// The table exceeds the 32-bit entry point's 16-bit length (65535 bytes).
    TableTooLarge {
        len: usize,
    },
    /// The 32-bit entry point can only point below 4 GiB.
    TableAbove4GiB {
        paddr: u64,
        len: usize,
    },
    BufferTooSmall {
        needed: usize,
        available: usize,
    },
}

impl fmt::Display for SmbiosError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SmbiosError::*;
        match self {
            StringHasNul { field } => write!(f, "smbios: {field} contains a NUL byte"),
            StringTooLong { field, len } => {
                write!(f, "smbios: {field} is {len} bytes long (at most {MAX_STRING_LEN})")
            }
            BadReleaseDate => f.write_str("smbios: BIOS release date is not mm/dd/yyyy"),
            BadRomSize(size) => {
                write!(f, "smbios: BIOS ROM size {size:#x} is not between 64 KiB and 16 MiB")
            }
            BadTopology(t) => write!(
                f,
                "smbios: cannot describe {} socket(s) x {} core(s) x {} thread(s)",
                t.sockets, t.cores_per_socket, t.threads_per_core
            ),
            NoRam => f.write_str("smbios: no RAM to describe"),
            TooManyRamRanges(n) => {
                write!(f, "smbios: {n} RAM ranges (at most {MAX_RAM_RANGES} described)")
            }
            EmptyRamRange(range) => write!(
                f,
                "smbios: empty RAM range (start {:#x}, end {:#x})",
                range.start, range.end
            ),
            RamRangesOverlap { first, second } => {
                write!(f, "smbios: RAM ranges {first} and {second} overlap")
            }
            TooMuchRam { bytes } => write!(
                f,
                "smbios: {bytes:#x} bytes of RAM need more than {MAX_MEMORY_DEVICES} memory devices"
            ),
            TableTooLarge { len } => {
                write!(f, "smbios: structure table is {len} bytes (at most 65535)")
            }
            TableAbove4GiB { paddr, len } => write!(
                f,
                "smbios: structure table at {paddr:#x} ({len} bytes) does not end below 4 GiB"
            ),
            BufferTooSmall { needed, available } => write!(
                f,
                "smbios: structure table needs {needed} bytes, the buffer has {available}"
            ),
        }
    }
}

/// A structure table, written into the caller's buffer: its size and what the entry points
/// say of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbiosTable {
    len: usize,
    structure_count: u16,
    max_structure_size: u16,
    /// The table's bytes, for the tests' [`SmbiosTable::build`].
    #[cfg(test)]
    bytes: Vec<u8>,
}

/// Both entry points, ready to be copied to 16-byte aligned addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryPoints {
    /// `_SM3_`, section 5.2.2.
    pub smbios3: [u8; SMBIOS3_ENTRY_POINT_LEN],
    /// `_SM_` with `_DMI_`, section 5.2.1.
    pub smbios2: [u8; SMBIOS2_ENTRY_POINT_LEN],
}

impl SmbiosTable {
    /// Checks `info` and encodes the structure table at the start of `buf` (the table's
    /// place: written where it stays, the heap holds no copy).
    pub fn build_into(info: &SmbiosInfo<'_>, buf: &mut [u8]) -> Result<Self, Box<SmbiosError>> {
        let ram = normalise_ram(info.ram)?;
        check_topology(info.topology)?;
        let rom_size_field = rom_size_field(info.bios.rom_size)?;
        if !info.bios.release_date.is_empty() && !is_mm_dd_yyyy(info.bios.release_date) {
            return Err(Box::new(SmbiosError::BadReleaseDate));
        }
        let memory_devices = memory_device_sizes_mib(&ram)?;
        let table = TableWriter::new(buf);
        let table = match info.qemu {
            Some(qemu) => {
                Self::merge_with_qemu(table, info, qemu, rom_size_field, &ram, &memory_devices)?
            }
            None => Self::with_passthrough(table, info, rom_size_field, &ram, &memory_devices)?,
        };
        let len = table.bytes.len;
        if len > usize::from(u16::MAX) {
            return Err(Box::new(SmbiosError::TableTooLarge { len }));
        }
        let available = table.bytes.buf.len();
        if len > available {
            return Err(Box::new(SmbiosError::BufferTooSmall { needed: len, available }));
        }
        Ok(SmbiosTable {
            len,
            structure_count: table.count,
            // A structure is never longer than the table, which fits 16 bits.
            max_structure_size: table.max_structure_size as u16,
            #[cfg(test)]
            bytes: table.bytes.buf[..len].to_vec(),
        })
    }

    /// [`SmbiosTable::build_into`] a buffer of the table's largest size, kept with it.
    #[cfg(test)]
    pub fn build(info: &SmbiosInfo<'_>) -> Result<Self, SmbiosError> {
        Self::build_into(info, &mut alloc::vec![0u8; usize::from(u16::MAX)]).map_err(|e| *e)
    }

    /// The firmware's structures, with Xen's blob passed through by hvmloader's rule.
    fn with_passthrough<'b>(
        mut table: TableWriter<'b>,
        info: &SmbiosInfo<'_>,
        rom_size_field: u8,
        ram: &[PhysRange],
        memory_devices: &[u32],
    ) -> Result<TableWriter<'b>, Box<SmbiosError>> {
        let passed = info.passthrough;
        let single = |kind| passed.and_then(|p| p.single(kind));
        table.kept_handles = passed.map(SmbiosPassthrough::kept_handles).unwrap_or_default();
        match single(TYPE_BIOS) {
            Some(bios) => {
                table.passed_through(bios, HandleFrom::Table);
            }
            None => write_bios(&mut table, &info.bios, rom_size_field),
        }
        match single(TYPE_SYSTEM) {
            Some(system) => {
                table.passed_through(system, HandleFrom::Table);
            }
            None => write_system(&mut table, &info.system),
        }
        let passed_board_and_chassis = (single(TYPE_BASEBOARD), single(TYPE_CHASSIS));
        write_baseboard_and_chassis(&mut table, info, passed_board_and_chassis);
        write_processors(&mut table, &info.processor, info.topology);
        // Where hvmloader puts the types it only passes through.
        if let Some(oem_strings) = single(TYPE_OEM_STRINGS) {
            table.passed_through(oem_strings, HandleFrom::Table);
        }
        write_memory(&mut table, &info.system, ram, memory_devices);
        if let Some(battery) = single(TYPE_PORTABLE_BATTERY) {
            table.passed_through(battery, HandleFrom::Table);
        }
        write_boot_information(&mut table);
        if let Some(power_supply) = single(TYPE_POWER_SUPPLY) {
            table.passed_through(power_supply, HandleFrom::Table);
        }
        for vendor in passed.into_iter().flat_map(SmbiosPassthrough::vendor) {
            table.passed_through(vendor, HandleFrom::Structure);
        }
        table.structure(TYPE_END_OF_TABLE).finish();
        table.checked()
    }

    /// QEMU's structures as QEMU built them, in type order, with the firmware's own for the
    /// types of [`FIRMWARE_DEFAULT_TYPES`] QEMU gives none of. The memory structures go as
    /// a group (types 17 and 19 name their type 16 array): all QEMU's or all the firmware's.
    fn merge_with_qemu<'b>(
        mut table: TableWriter<'b>,
        info: &SmbiosInfo<'_>,
        qemu: &QemuStructures<'_>,
        rom_size_field: u8,
        ram: &[PhysRange],
        memory_devices: &[u32],
    ) -> Result<TableWriter<'b>, Box<SmbiosError>> {
        table.kept_handles = qemu.handles();
        let qemu_memory = MEMORY_TYPES.iter().any(|&kind| qemu.has(kind));
        let mut types = qemu.types();
        types.extend_from_slice(&FIRMWARE_DEFAULT_TYPES);
        crate::sort::sort_unstable(&mut types);
        types.dedup();
        for kind in types {
            if MEMORY_TYPES.contains(&kind) {
                if kind != TYPE_PHYSICAL_MEMORY_ARRAY && qemu_memory {
                    continue; // with its array
                }
                if qemu_memory {
                    for kind in MEMORY_TYPES {
                        for structure in qemu.of_type(kind) {
                            table.passed_through(structure, HandleFrom::Structure);
                        }
                    }
                } else {
                    write_memory(&mut table, &info.system, ram, memory_devices);
                }
                continue;
            }
            if qemu.has(kind) {
                for structure in qemu.of_type(kind) {
                    table.passed_through(structure, HandleFrom::Structure);
                }
                continue;
            }
            match kind {
                TYPE_BIOS => write_bios(&mut table, &info.bios, rom_size_field),
                TYPE_SYSTEM => write_system(&mut table, &info.system),
                TYPE_CHASSIS => write_chassis(&mut table, &info.chassis),
                TYPE_PROCESSOR => write_processors(&mut table, &info.processor, info.topology),
                TYPE_SYSTEM_BOOT => write_boot_information(&mut table),
                _ => {}
            }
        }
        table.structure(TYPE_END_OF_TABLE).finish();
        table.checked()
    }

    #[cfg(test)]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn structure_count(&self) -> u16 {
        self.structure_count
    }

    /// The longest structure, formatted area and strings together (section 5.2.1).
    #[cfg(test)]
    pub fn max_structure_size(&self) -> u16 {
        self.max_structure_size
    }

    /// The entry points for this table placed at `table_paddr`, which must end below 4 GiB
    /// for the 32-bit entry point.
    pub fn entry_points(&self, table_paddr: u64) -> Result<EntryPoints, Box<SmbiosError>> {
        let len = self.len;
        let below_4gib = table_paddr.checked_add(len as u64).is_some_and(|end| end <= 1 << 32);
        if !below_4gib {
            return Err(Box::new(SmbiosError::TableAbove4GiB { paddr: table_paddr, len }));
        }
        Ok(EntryPoints {
            smbios3: self.entry_point_64(table_paddr),
            smbios2: self.entry_point_32(table_paddr as u32),
        })
    }

    /// Copies the table to the start of `buf`, which lies at physical address `table_paddr`,
    /// and returns the entry points.
    #[cfg(test)]
    pub fn write_to(&self, buf: &mut [u8], table_paddr: u64) -> Result<EntryPoints, SmbiosError> {
        let needed = self.len;
        let available = buf.len();
        let out = buf.get_mut(..needed).ok_or(SmbiosError::BufferTooSmall { needed, available })?;
        let entry_points = self.entry_points(table_paddr).map_err(|e| *e)?;
        out.copy_from_slice(&self.bytes);
        Ok(entry_points)
    }

    /// Section 5.2.2: anchor, checksum, length, version, docrev, entry point revision 1,
    /// reserved, table maximum size (we give the exact size), table address.
    fn entry_point_64(&self, table_paddr: u64) -> [u8; SMBIOS3_ENTRY_POINT_LEN] {
        let mut ep = [0u8; SMBIOS3_ENTRY_POINT_LEN];
        ep[0x00..0x05].copy_from_slice(b"_SM3_");
        ep[0x06] = SMBIOS3_ENTRY_POINT_LEN as u8;
        ep[0x07] = SMBIOS_MAJOR;
        ep[0x08] = SMBIOS_MINOR;
        ep[0x09] = SMBIOS_DOCREV;
        ep[0x0A] = 0x01;
        ep[0x0C..0x10].copy_from_slice(&(self.len as u32).to_le_bytes());
        ep[0x10..0x18].copy_from_slice(&table_paddr.to_le_bytes());
        ep[0x05] = checksum::compute(&ep);
        ep
    }

    /// Section 5.2.1: the `_SM_` part (checksum over all 0x1F bytes) and the `_DMI_` part
    /// from offset 0x10 (intermediate checksum over those 15 bytes), which legacy DMI readers
    /// use on their own.
    fn entry_point_32(&self, table_paddr: u32) -> [u8; SMBIOS2_ENTRY_POINT_LEN] {
        let mut ep = [0u8; SMBIOS2_ENTRY_POINT_LEN];
        ep[0x00..0x04].copy_from_slice(b"_SM_");
        ep[0x05] = SMBIOS2_ENTRY_POINT_LEN as u8;
        ep[0x06] = SMBIOS_MAJOR;
        ep[0x07] = SMBIOS_MINOR;
        ep[0x08..0x0A].copy_from_slice(&self.max_structure_size.to_le_bytes());
        // 0x0A: entry point revision 0 (the 2.1 format); 0x0B..0x10: formatted area, zero.
        ep[0x10..0x15].copy_from_slice(b"_DMI_");
        // The length was checked against u16::MAX when the table was built.
        ep[0x16..0x18].copy_from_slice(&(self.len as u16).to_le_bytes());
        ep[0x18..0x1C].copy_from_slice(&table_paddr.to_le_bytes());
        ep[0x1C..0x1E].copy_from_slice(&self.structure_count.to_le_bytes());
        ep[0x1E] = (SMBIOS_MAJOR << 4) | SMBIOS_MINOR;
        ep[0x15] = checksum::compute(&ep[0x10..]);
        ep[0x04] = checksum::compute(&ep);
        ep
    }
}

/// Builds the table and writes it to `buf` at `table_paddr` in one go.
#[cfg(test)]
pub fn write_tables(
    info: &SmbiosInfo<'_>,
    buf: &mut [u8],
    table_paddr: u64,
) -> Result<(usize, EntryPoints), SmbiosError> {
    let table = SmbiosTable::build(info)?;
    let entry_points = table.write_to(buf, table_paddr)?;
    Ok((table.len(), entry_points))
}

// ---- input checks ---------------------------------------------------------------------------

const fn parse_version_part(digits: &str) -> u8 {
    let bytes = digits.as_bytes();
    let mut value: u8 = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Evaluated at compile time only: a version part that is not a small number fails the
        // build, never the firmware.
        value = value * 10 + (bytes[i] - b'0');
        i += 1;
    }
    value
}

fn is_mm_dd_yyyy(date: &str) -> bool {
    let b = date.as_bytes();
    let number = |range: core::ops::Range<usize>| {
        b[range]
            .iter()
            .try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')))
    };
    b.len() == 10
        && b[2] == b'/'
        && b[5] == b'/'
        && matches!(number(0..2), Some(1..=12))
        && matches!(number(3..5), Some(1..=31))
        && number(6..10).is_some()
}

/// The ROM Size byte: n where the size is 64 KiB * (n + 1); 0xFF means 16 MiB in SMBIOS 3.0
/// (3.1 later turned it into "see Extended BIOS ROM Size").
fn rom_size_field(rom_size: u64) -> Result<u8, Box<SmbiosError>> {
    let blocks = rom_size.div_ceil(64 << 10);
    match blocks {
        1..=256 => Ok((blocks - 1) as u8),
        _ => Err(Box::new(SmbiosError::BadRomSize(rom_size))),
    }
}

fn check_topology(topology: CpuTopology) -> Result<(), Box<SmbiosError>> {
    let fits = (1..=MAX_SOCKETS).contains(&topology.sockets)
        && topology.cores_per_socket >= 1
        && topology.threads_per_core >= 1
        && topology.cores_per_socket != 0xFFFF
        && topology.threads_per_socket().is_some();
    if fits { Ok(()) } else { Err(Box::new(SmbiosError::BadTopology(topology))) }
}

/// Sorted, checked, touching ranges joined.
fn normalise_ram(ram: &[PhysRange]) -> Result<Vec<PhysRange>, Box<SmbiosError>> {
    if ram.len() > MAX_RAM_RANGES {
        return Err(Box::new(SmbiosError::TooManyRamRanges(ram.len())));
    }
    if let Some(&empty) = ram.iter().find(|range| range.end <= range.start) {
        return Err(Box::new(SmbiosError::EmptyRamRange(empty)));
    }
    let mut sorted = ram.to_vec();
    crate::sort::sort_unstable(&mut sorted);
    let mut joined: Vec<PhysRange> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match joined.last_mut() {
            Some(last) if last.overlaps(&range) => {
                return Err(Box::new(SmbiosError::RamRangesOverlap {
                    first: *last,
                    second: range,
                }));
            }
            Some(last) if last.end == range.start => last.end = range.end,
            _ => joined.push(range),
        }
    }
    if joined.is_empty() {
        return Err(Box::new(SmbiosError::NoRam));
    }
    Ok(joined)
}

/// Sizes in MiB of the memory devices that hold the RAM: whole [`MAX_MEMORY_DEVICE_SIZE`]
/// devices and one for the rest, the total rounded up to a MiB (the Size fields count MiB).
fn memory_device_sizes_mib(ram: &[PhysRange]) -> Result<Vec<u32>, Box<SmbiosError>> {
    use crate::addr::MiB;
    let bytes = ram.iter().try_fold(0u64, |sum, range| sum.checked_add(range.len()));
    let too_much = SmbiosError::TooMuchRam { bytes: bytes.unwrap_or(u64::MAX) };
    let bytes = bytes.ok_or(too_much.clone())?;
    let mut remaining_mib = bytes.div_ceil(MiB);
    let device_mib = MAX_MEMORY_DEVICE_SIZE / MiB;
    if remaining_mib.div_ceil(device_mib) > MAX_MEMORY_DEVICES {
        return Err(Box::new(too_much));
    }
    let mut devices = Vec::new();
    while remaining_mib > 0 {
        let size = remaining_mib.min(device_mib);
        // At most MAX_MEMORY_DEVICE_SIZE in MiB, which fits 32 bits.
        devices.push(size as u32);
        remaining_mib -= size;
    }
    Ok(devices)
}

// ---- encoding --------------------------------------------------------------------------------

const TYPE_BIOS: u8 = 0;
const TYPE_SYSTEM: u8 = 1;
const TYPE_BASEBOARD: u8 = 2;
const TYPE_CHASSIS: u8 = 3;
const TYPE_PROCESSOR: u8 = 4;
const TYPE_PHYSICAL_MEMORY_ARRAY: u8 = 16;
const TYPE_MEMORY_DEVICE: u8 = 17;
const TYPE_MEMORY_ARRAY_MAPPED_ADDRESS: u8 = 19;
const TYPE_SYSTEM_BOOT: u8 = 32;
const TYPE_END_OF_TABLE: u8 = 127;
/// Types only a passed-through structure provides (section 7.12, 7.23, 7.40).
const TYPE_OEM_STRINGS: u8 = 11;
const TYPE_PORTABLE_BATTERY: u8 = 22;
const TYPE_POWER_SUPPLY: u8 = 39;
/// The memory structures: array, devices, mapped ranges.
const MEMORY_TYPES: [u8; 3] =
    [TYPE_PHYSICAL_MEMORY_ARRAY, TYPE_MEMORY_DEVICE, TYPE_MEMORY_ARRAY_MAPPED_ADDRESS];
/// The firmware's own structures next to QEMU's, for the types QEMU gives none of. No
/// baseboard: QEMU builds one only when told (`-smbios type=2`), and SeaBIOS adds none
/// either, so a guest sees the same machine through either firmware.
const FIRMWARE_DEFAULT_TYPES: [u8; 6] = [
    TYPE_BIOS,
    TYPE_SYSTEM,
    TYPE_CHASSIS,
    TYPE_PROCESSOR,
    TYPE_PHYSICAL_MEMORY_ARRAY,
    TYPE_SYSTEM_BOOT,
];
/// Offset of the baseboard's Chassis Handle (section 7.3).
const BASEBOARD_CHASSIS_HANDLE: usize = 0x0B;

/// Handle fields: "no structure" for optional references (sections 7.5 and 7.17/7.18 use 0xFFFF
/// for "no cache information" and 0xFFFE for "error information not provided").
const HANDLE_NONE: u16 = 0xFFFF;
const HANDLE_NOT_PROVIDED: u16 = 0xFFFE;
/// Handles from 0xFF00 on are reserved (section 6.1.2): no structure may have one.
const FIRST_RESERVED_HANDLE: u16 = 0xFF00;

/// The table's bytes in the caller's buffer. `len` counts every byte asked for; a write is
/// made only when it fits whole, so past the buffer's end nothing more is written and the
/// table's builder reports the length it needed.
struct TableBytes<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl TableBytes<'_> {
    fn len(&self) -> usize {
        self.len
    }

    fn push(&mut self, byte: u8) {
        self.extend_from_slice(&[byte]);
    }

    fn extend_from_slice(&mut self, data: &[u8]) {
        let end = self.len + data.len();
        if let Some(dest) = self.buf.get_mut(self.len..end) {
            dest.copy_from_slice(data);
        }
        self.len = end;
    }

    /// The bytes written at `range`, if they were.
    fn get(&self, range: core::ops::Range<usize>) -> Option<&[u8]> {
        self.buf.get(range)
    }

    /// Overwrites bytes written before, at `at`.
    fn patch(&mut self, at: usize, data: &[u8]) {
        if let Some(dest) = self.buf.get_mut(at..at + data.len()) {
            dest.copy_from_slice(data);
        }
    }
}

/// The table under construction. Handles are given out in table order from 0, past those
/// passed-through vendor structures keep.
struct TableWriter<'b> {
    bytes: TableBytes<'b>,
    count: u16,
    max_structure_size: usize,
    /// The lowest handle not given out yet (it may be a kept one).
    unused_handle: u16,
    /// Handles passed-through vendor structures bring along.
    kept_handles: Vec<u16>,
    /// The first structure that could not be written: the writers go on and
    /// [`TableWriter::checked`] fails with it, one check per table rather than a `?` at
    /// each structure.
    error: Option<SmbiosError>,
}

/// Where a passed-through structure's handle comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HandleFrom {
    /// The table's sequence, as for a structure the firmware writes itself.
    Table,
    /// The structure's own (vendor structures, which may refer to one another).
    Structure,
}

impl<'b> TableWriter<'b> {
    fn new(buf: &'b mut [u8]) -> Self {
        TableWriter {
            bytes: TableBytes { buf, len: 0 },
            count: 0,
            max_structure_size: 0,
            unused_handle: 0,
            kept_handles: Vec::new(),
            error: None,
        }
    }

    /// The handle the next structure the firmware writes gets.
    fn next_handle(&self) -> u16 {
        self.free_handle_from(self.unused_handle)
    }

    /// The lowest handle from `handle` on that no passed-through structure keeps. Stops at
    /// 0xFFFF, which [`StructureWriter::finish`] then refuses.
    fn free_handle_from(&self, mut handle: u16) -> u16 {
        while handle != u16::MAX && self.kept_handles.contains(&handle) {
            handle += 1;
        }
        handle
    }

    /// Records `error` unless an earlier one is.
    fn fail(&mut self, error: SmbiosError) {
        self.error.get_or_insert(error);
    }

    /// The table, or the first error met writing it.
    fn checked(mut self) -> Result<Self, Box<SmbiosError>> {
        match self.error.take() {
            None => Ok(self),
            Some(error) => Err(Box::new(error)),
        }
    }

    /// Marks `handle` given out and counts the structure; the table is too large when the
    /// handles run into the reserved range.
    fn commit(&mut self, handle: Option<u16>, size: usize) {
        let too_large = SmbiosError::TableTooLarge { len: self.bytes.len() };
        if let Some(handle) = handle {
            if handle >= FIRST_RESERVED_HANDLE {
                return self.fail(too_large);
            }
            self.unused_handle = handle + 1;
        }
        self.max_structure_size = self.max_structure_size.max(size);
        // Every structure takes at least 6 bytes and the whole table is checked against 64 KiB
        // at the end, so the count stops far short of the reserved handles 0xFF00..; stop
        // counting rather than wrap if a caller ever got past that check.
        match self.count.checked_add(1) {
            Some(count) => self.count = count,
            None => self.fail(too_large),
        }
    }

    /// Starts a structure (section 6.1.2 header: type, length patched by `finish`, handle).
    fn structure(&mut self, kind: u8) -> StructureWriter<'_, 'b> {
        let start = self.bytes.len();
        let handle = self.next_handle();
        self.bytes.push(kind);
        self.bytes.push(0);
        self.bytes.extend_from_slice(&handle.to_le_bytes());
        StructureWriter { table: self, start, handle, strings: Vec::new(), error: None }
    }

    /// Appends a passed-through structure as it is, but for its handle; returns the handle.
    fn passed_through(&mut self, structure: &PassedStructure<'_>, handle_from: HandleFrom) -> u16 {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(structure.bytes);
        match handle_from {
            HandleFrom::Table => {
                let handle = self.next_handle();
                self.bytes.patch(start + 2, &handle.to_le_bytes());
                self.commit(Some(handle), structure.bytes.len());
                handle
            }
            HandleFrom::Structure => {
                self.commit(None, structure.bytes.len());
                structure.handle()
            }
        }
    }
}

/// One structure: its formatted area is written field by field, in order, and its strings are
/// collected to follow it.
struct StructureWriter<'t, 'b> {
    table: &'t mut TableWriter<'b>,
    start: usize,
    handle: u16,
    strings: Vec<String>,
    /// The first string field that could not be written.
    error: Option<SmbiosError>,
}

// The field writers are not inlined: each is an append with its bounds check, and inlined
// at each of the 79 field writes they cost 650 bytes more.
impl StructureWriter<'_, '_> {
    #[inline(never)]
    fn byte(&mut self, value: u8) -> &mut Self {
        self.table.bytes.push(value);
        self
    }
    #[inline(never)]
    fn word(&mut self, value: u16) -> &mut Self {
        self.table.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    #[inline(never)]
    fn dword(&mut self, value: u32) -> &mut Self {
        self.table.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    #[inline(never)]
    fn qword(&mut self, value: u64) -> &mut Self {
        self.table.bytes.extend_from_slice(&value.to_le_bytes());
        self
    }
    fn raw(&mut self, bytes: &[u8]) -> &mut Self {
        self.table.bytes.extend_from_slice(bytes);
        self
    }

    /// A string field (section 6.1.3): the string's 1-based number in this structure's set,
    /// reusing an equal string already in it; 0 for an empty string, which is not stored.
    ///
    /// A value that cannot be a string is remembered, and [`StructureWriter::finish`]
    /// hands it to the table: one check per table rather than a `?` at every string field.
    fn string(&mut self, field: &'static str, value: &str) -> &mut Self {
        if value.is_empty() {
            return self.byte(0);
        }
        if value.len() > MAX_STRING_LEN {
            return self.fail(SmbiosError::StringTooLong { field, len: value.len() });
        }
        if value.contains('\0') {
            return self.fail(SmbiosError::StringHasNul { field });
        }
        let index = match self.strings.iter().position(|s| s == value) {
            Some(index) => index,
            None => {
                self.strings.push(String::from(value));
                self.strings.len() - 1
            }
        };
        // A structure here has at most 7 string fields, so the number always fits a byte.
        self.byte(index as u8 + 1)
    }

    /// Records `error` unless an earlier one is.
    fn fail(&mut self, error: SmbiosError) -> &mut Self {
        self.error.get_or_insert(error);
        self
    }

    /// Patches the length, appends the string set and returns the handle. The formatted area
    /// of every structure written here is below 0x100 bytes.
    fn finish(self) -> u16 {
        if let Some(error) = self.error {
            self.table.fail(error);
            return self.handle;
        }
        let formatted_len = self.table.bytes.len() - self.start;
        self.table.bytes.patch(self.start + 1, &[formatted_len as u8]);
        if self.strings.is_empty() {
            // No strings: the set is just the double NUL.
            self.table.bytes.extend_from_slice(&[0, 0]);
        } else {
            for s in &self.strings {
                self.table.bytes.extend_from_slice(s.as_bytes());
                self.table.bytes.push(0);
            }
            self.table.bytes.push(0);
        }
        let size = self.table.bytes.len() - self.start;
        self.table.commit(Some(self.handle), size);
        self.handle
    }
}

/// Type 0, section 7.1; 0x18 bytes in 3.0.
fn write_bios(table: &mut TableWriter<'_>, bios: &BiosInfo<'_>, rom_size: u8) {
    let mut s = table.structure(TYPE_BIOS);
    s.string("bios.vendor", bios.vendor); // 04h
    s.string("bios.version", bios.version); // 05h
    s.word(bios.starting_segment); // 06h
    s.string("bios.release_date", bios.release_date); // 08h
    s.byte(rom_size) // 09h
        .qword(bios.characteristics) // 0Ah
        .raw(&bios.characteristics_ext) // 12h, 13h
        .byte(bios.major_release) // 14h
        .byte(bios.minor_release) // 15h
        // 16h, 17h: embedded controller firmware release; FFh: there is no such controller.
        .byte(0xFF)
        .byte(0xFF);
    s.finish();
}

/// Section 7.2.1: the first three UUID fields (time_low, time_mid, time_hi_and_version) are
/// stored little-endian, the rest in RFC 4122 order.
fn smbios_uuid(uuid: &[u8; 16]) -> [u8; 16] {
    let mut out = *uuid;
    out[0..4].reverse();
    out[4..6].reverse();
    out[6..8].reverse();
    out
}

/// The UUID as text, 8-4-4-4-12 lowercase hex digits, as Xen's toolstack prints it.
fn uuid_text(uuid: &[u8; 16]) -> String {
    let mut text = String::with_capacity(36);
    for (i, byte) in uuid.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// Type 1, section 7.2; 0x1B bytes since 2.4.
fn write_system(table: &mut TableWriter<'_>, system: &SystemInfo<'_>) {
    let uuid_serial = system.uuid.as_ref().map(uuid_text);
    let serial = match (system.serial_number, &uuid_serial) {
        (Some(serial), _) => serial,
        (None, Some(text)) => text.as_str(),
        (None, None) => "",
    };
    let mut s = table.structure(TYPE_SYSTEM);
    s.string("system.manufacturer", system.manufacturer) // 04h
        .string("system.product", system.product) // 05h
        .string("system.version", system.version) // 06h
        .string("system.serial_number", serial); // 07h
    // 08h: all zeroes when absent, "the ID is not present in the system".
    s.raw(&system.uuid.as_ref().map(smbios_uuid).unwrap_or([0; 16])).byte(system.wake_up_type); // 18h
    s.string("system.sku_number", system.sku_number) // 19h
        .string("system.family", system.family); // 1Ah
    s.finish();
}

/// Types 2 (section 7.3, 0x0F bytes without contained objects) and 3 (section 7.4, 0x16 bytes
/// with no contained elements, SKU number since 2.7), each the firmware's own or the one
/// passed through in its place. Type 2 names type 3 as its chassis, and handles go in table
/// order, so the chassis gets the next free handle after the board's.
fn write_baseboard_and_chassis(
    table: &mut TableWriter<'_>,
    info: &SmbiosInfo<'_>,
    (passed_board, passed_chassis): (Option<&PassedStructure<'_>>, Option<&PassedStructure<'_>>),
) {
    let chassis_handle = table.free_handle_from(table.next_handle().saturating_add(1));
    match passed_board {
        Some(board) => {
            let start = table.bytes.len();
            table.passed_through(board, HandleFrom::Table);
            // A board that names a chassis names this table's (hvmloader's rule); 0 stays
            // "no chassis".
            let field = start + BASEBOARD_CHASSIS_HANDLE;
            if board.formatted_len() >= BASEBOARD_CHASSIS_HANDLE + 2
                && table.bytes.get(field..field + 2).is_some_and(|handle| handle != [0, 0])
            {
                table.bytes.patch(field, &chassis_handle.to_le_bytes());
            }
        }
        None => write_baseboard(table, &info.baseboard, chassis_handle),
    }
    match passed_chassis {
        Some(chassis) => {
            table.passed_through(chassis, HandleFrom::Table);
        }
        None => write_chassis(table, &info.chassis),
    }
}

/// Type 2 (section 7.3), 0x0F bytes without contained objects.
fn write_baseboard(table: &mut TableWriter<'_>, board: &BaseboardInfo<'_>, chassis_handle: u16) {
    let mut s = table.structure(TYPE_BASEBOARD);
    s.string("baseboard.manufacturer", board.manufacturer) // 04h
        .string("baseboard.product", board.product) // 05h
        .string("baseboard.version", board.version) // 06h
        .string("baseboard.serial_number", board.serial_number) // 07h
        .string("baseboard.asset_tag", board.asset_tag); // 08h
    s.byte(0x01); // 09h feature flags: a hosting board (the motherboard)
    s.string("baseboard.location_in_chassis", board.location_in_chassis); // 0Ah
    s.word(chassis_handle) // 0Bh
        .byte(0x0A) // 0Dh board type: motherboard
        .byte(0); // 0Eh no contained object handles
    s.finish();
}

/// Type 3 (section 7.4), 0x16 bytes with no contained elements, SKU number since 2.7.
fn write_chassis(table: &mut TableWriter<'_>, chassis: &ChassisInfo<'_>) {
    let mut s = table.structure(TYPE_CHASSIS);
    s.string("chassis.manufacturer", chassis.manufacturer); // 04h
    s.byte(chassis.chassis_type & 0x7F); // 05h, bit 7 (lock present) clear
    s.string("chassis.version", chassis.version) // 06h
        .string("chassis.serial_number", chassis.serial_number) // 07h
        .string("chassis.asset_tag", chassis.asset_tag); // 08h
    // 09h boot-up, 0Ah power supply, 0Bh thermal state: 03h safe; 0Ch security status: 03h
    // none (a virtual chassis has no locks or intrusion detection).
    s.byte(0x03).byte(0x03).byte(0x03).byte(0x03);
    s.dword(0) // 0Dh OEM-defined
        .byte(0) // 11h height: unspecified
        .byte(0) // 12h power cords: unspecified
        .byte(0) // 13h contained element count
        .byte(0); // 14h contained element record length (no records)
    s.string("chassis.sku_number", chassis.sku_number); // 15h
    s.finish();
}

/// Processor Characteristics (section 7.5.9) bits.
const PROCESSOR_64BIT_CAPABLE: u16 = 1 << 2;
const PROCESSOR_MULTI_CORE: u16 = 1 << 3;
const PROCESSOR_HARDWARE_THREAD: u16 = 1 << 4;

/// Type 4, section 7.5; 0x30 bytes in 3.0. One per socket, all populated and enabled.
fn write_processors(table: &mut TableWriter<'_>, cpu: &ProcessorInfo<'_>, topology: CpuTopology) {
    let cores = topology.cores_per_socket;
    // Checked by check_topology.
    let threads = topology.threads_per_socket().unwrap_or(0);
    // Core Count, Core Enabled, Thread Count (sections 7.5.6 to 7.5.8): counts above 255 are
    // FFh with the real count in the "2" fields, which always hold the count.
    let byte_count = |n: u16| u8::try_from(n).unwrap_or(0xFF);
    // Processor Family (section 7.5.2): FEh means "see Processor Family 2".
    let family_byte = u8::try_from(cpu.family).ok().filter(|&f| f < 0xFE).unwrap_or(0xFE);
    let mut characteristics = PROCESSOR_64BIT_CAPABLE; // the firmware itself runs in long mode
    if cores > 1 {
        characteristics |= PROCESSOR_MULTI_CORE;
    }
    if topology.threads_per_core > 1 {
        characteristics |= PROCESSOR_HARDWARE_THREAD;
    }
    for socket in 0..topology.sockets {
        let designation = format!("CPU {socket}");
        let mut s = table.structure(TYPE_PROCESSOR);
        s.string("processor.socket_designation", &designation); // 04h
        s.byte(0x03) // 05h processor type: central processor
            .byte(family_byte); // 06h
        s.string("processor.manufacturer", cpu.manufacturer); // 07h
        s.dword(cpu.cpuid_signature) // 08h processor ID: CPUID 1 EAX ...
            .dword(cpu.cpuid_features); // 0Ch ... and EDX
        s.string("processor.version", cpu.version); // 10h
        s.byte(0) // 11h voltage: legacy mode, no capability known
            .word(0) // 12h external clock: unknown
            .word(cpu.max_speed_mhz) // 14h
            .word(cpu.current_speed_mhz) // 16h
            .byte(0x41) // 18h status: socket populated, CPU enabled
            .byte(0x01) // 19h upgrade: other (a virtual socket)
            .word(HANDLE_NONE) // 1Ah L1 cache
            .word(HANDLE_NONE) // 1Ch L2 cache
            .word(HANDLE_NONE) // 1Eh L3 cache
            .byte(0) // 20h serial number: none
            .byte(0) // 21h asset tag: none
            .byte(0) // 22h part number: none
            .byte(byte_count(cores)) // 23h core count
            .byte(byte_count(cores)) // 24h core enabled
            .byte(byte_count(threads)) // 25h thread count
            .word(characteristics) // 26h
            .word(cpu.family) // 28h processor family 2
            .word(cores) // 2Ah core count 2
            .word(cores) // 2Ch core enabled 2
            .word(threads); // 2Eh thread count 2
        s.finish();
    }
}

/// Types 16 (section 7.17, 0x17 bytes since 2.7), 17 (section 7.18, 0x28 bytes since 2.8) and
/// 19 (section 7.20, 0x1F bytes since 2.7).
fn write_memory(
    table: &mut TableWriter<'_>,
    system: &SystemInfo<'_>,
    ram: &[PhysRange],
    devices_mib: &[u32],
) {
    const KIB: u64 = 1 << 10;
    let total_kib: u64 = devices_mib.iter().map(|&mib| u64::from(mib) * 1024).sum();
    // Maximum Capacity is in KiB; 2 TiB (8000_0000h KiB) and more go to Extended Maximum
    // Capacity, in bytes.
    let (capacity_kib, capacity_ext) = match u32::try_from(total_kib) {
        Ok(kib) if kib < 0x8000_0000 => (kib, 0),
        _ => (0x8000_0000, total_kib * KIB),
    };
    let mut s = table.structure(TYPE_PHYSICAL_MEMORY_ARRAY);
    s.byte(0x01) // 04h location: other (not a motherboard's sockets)
        .byte(0x03) // 05h use: system memory
        // 06h error correction: multi-bit ECC. What Xen, QEMU and SeaBIOS report: Windows
        // checks for an error-corrected memory array.
        .byte(0x06)
        .dword(capacity_kib) // 07h
        .word(HANDLE_NOT_PROVIDED) // 0Bh memory error information
        .word(devices_mib.len() as u16) // 0Dh, at most MAX_MEMORY_DEVICES
        .qword(capacity_ext); // 0Fh
    let array = s.finish();

    for (index, &mib) in devices_mib.iter().enumerate() {
        // Size counts MiB up to 7FFEh; from 7FFFh MiB (32 GiB - 1 MiB) on it is 7FFFh and
        // Extended Size holds the MiB count (section 7.18, Extended Size).
        let (size, extended) = match u16::try_from(mib) {
            Ok(mib) if mib < 0x7FFF => (mib, 0),
            _ => (0x7FFF, mib),
        };
        let locator = format!("DIMM {index}");
        let mut s = table.structure(TYPE_MEMORY_DEVICE);
        s.word(array) // 04h physical memory array
            .word(HANDLE_NOT_PROVIDED) // 06h memory error information
            .word(64) // 08h total width, bits
            .word(64) // 0Ah data width, bits
            .word(size) // 0Ch
            .byte(0x09) // 0Eh form factor: DIMM
            .byte(0); // 0Fh device set: none
        s.string("memory.device_locator", &locator) // 10h
            .byte(0); // 11h bank locator: none
        s.byte(0x07) // 12h memory type: RAM
            .word(1 << 1) // 13h type detail: other
            .word(0); // 15h speed: unknown
        s.string("system.manufacturer", system.manufacturer) // 17h
            .byte(0) // 18h serial number: none
            .byte(0) // 19h asset tag: none
            .byte(0); // 1Ah part number: none
        s.byte(0) // 1Bh attributes: rank unknown
            .dword(extended) // 1Ch
            .word(0) // 20h configured memory speed: unknown
            .word(0) // 22h minimum voltage: unknown
            .word(0) // 24h maximum voltage: unknown
            .word(0); // 26h configured voltage: unknown
        s.finish();
    }

    for range in ram {
        // The KiB fields hold ranges that start and end on KiB boundaries below 4 TiB;
        // anything else is FFFF_FFFFh with the byte addresses in the extended fields
        // (section 7.20: "If the address is 4 TB or greater, ...").
        let last = range.end - 1;
        let kib_fields = (range.start % KIB == 0 && range.end % KIB == 0)
            .then(|| {
                let start = u32::try_from(range.start / KIB).ok()?;
                let end = u32::try_from(last / KIB).ok()?;
                (start != u32::MAX && end != u32::MAX).then_some((start, end))
            })
            .flatten();
        let (start_kib, end_kib, start_ext, end_ext) = match kib_fields {
            Some((start, end)) => (start, end, 0, 0),
            None => (u32::MAX, u32::MAX, range.start, last),
        };
        let mut s = table.structure(TYPE_MEMORY_ARRAY_MAPPED_ADDRESS);
        s.dword(start_kib) // 04h
            .dword(end_kib) // 08h: address of the range's last KiB
            .word(array) // 0Ch
            .byte(1) // 0Eh partition width: devices are not interleaved
            .qword(start_ext) // 0Fh
            .qword(end_ext); // 17h: address of the range's last byte
        s.finish();
    }
}

/// Type 32, section 7.33: six reserved bytes, then the boot status, 0 = no errors detected.
fn write_boot_information(table: &mut TableWriter<'_>) {
    let mut s = table.structure(TYPE_SYSTEM_BOOT);
    s.raw(&[0; 6]).byte(0);
    s.finish();
}

pub mod passthrough;
pub mod qemu;
mod strings;

use passthrough::PassedStructure;
pub use passthrough::{SmbiosBlobError, SmbiosPassthrough};
pub use qemu::QemuStructures;
pub use strings::BiosStrings;

#[cfg(test)]
mod tests;
