//! SMBIOS structures the platform's owner passes in: Xen's `hvmloader/smbios/{address,
//! length}`, the file of xl.cfg's `smbios_firmware=`, which libxl loads into guest memory
//! next to the firmware (tools/libs/light/libxl_dom.c, tools/libs/guest/xg_dom_hvmloader.c).
//!
//! The format (public/hvm/hvm_xs_strings.h): each structure preceded by a 32-bit
//! little-endian count of its bytes, formatted area and string set together. What happens
//! to each structure is hvmloader's rule (tools/firmware/hvmloader/smbios.c):
//!
//! - types 0, 1, 2 and 3 stand in for the firmware's own structure of that type, and types
//!   11, 22 and 39, which the firmware does not build, are added; only the first of each
//!   type counts. Such a structure gets the handle the firmware's would have had, and a
//!   baseboard (type 2) that names a chassis names the table's chassis;
//! - vendor types (128-255) are all added, keeping their handles, since they may refer to
//!   one another (the firmware gives its own structures other handles);
//! - every other type is ignored: the rest of the table describes the virtual machine as
//!   it is (processors, memory, end of table).
//!
//! Unlike hvmloader, which walks the lengths it is given, the blob is checked first: a
//! length running past the blob, a formatted area that does not fit, a string set that does
//! not end where the length says, or vendor structures sharing a handle are errors.

use alloc::vec::Vec;
use core::fmt;

use super::FIRST_RESERVED_HANDLE;

/// Types a blob structure stands in for (0-3) or adds (11, 22, 39), first one only.
const SINGLE_TYPES: [u8; 7] = [0, 1, 2, 3, 11, 22, 39];
/// Types the firmware builds itself, which a blob structure replaces.
const FIRMWARE_TYPES: [u8; 4] = [0, 1, 2, 3];
/// Vendor and OEM types start here (SMBIOS 3.x section 6.1.2, types 128-255).
const FIRST_VENDOR_TYPE: u8 = 128;
/// A structure header: type, length, handle.
const HEADER_LEN: usize = 4;
/// The smallest structure: a header and an empty string set (two NULs).
const MIN_STRUCTURE_LEN: usize = HEADER_LEN + 2;

/// One structure of the blob, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PassedStructure<'a> {
    /// Its position among the blob's structures, from 0.
    pub index: usize,
    /// Byte offset of its length field in the blob.
    pub offset: usize,
    /// The structure: formatted area and string set.
    pub bytes: &'a [u8],
}

impl PassedStructure<'_> {
    pub fn kind(&self) -> u8 {
        self.bytes[0]
    }

    pub fn formatted_len(&self) -> usize {
        usize::from(self.bytes[1])
    }

    pub fn handle(&self) -> u16 {
        u16::from_le_bytes([self.bytes[2], self.bytes[3]])
    }
}

/// What the table does with a blob structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Stands in for the firmware's own structure of its type.
    Replaces,
    /// Added (types 11, 22, 39), with a handle the firmware gives it.
    Added,
    /// A vendor structure, added with its own handle.
    AddedWithItsHandle,
    /// Ignored: a type the blob may not change.
    IgnoredType,
    /// Ignored: an earlier structure of the same type is used.
    IgnoredRepeat,
}

impl fmt::Display for Use {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Use::Replaces => "replaces the firmware's",
            Use::Added => "added",
            Use::AddedWithItsHandle => "added with its handle",
            Use::IgnoredType => "ignored (only types 0-3, 11, 22, 39 and 128-255 pass through)",
            Use::IgnoredRepeat => "ignored (an earlier structure of this type is used)",
        })
    }
}

/// A blob that cannot be used: one line naming the structure and the fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmbiosBlobError {
    pub index: usize,
    pub offset: usize,
    /// The structure's type, when the blob holds that much of it.
    pub kind: Option<u8>,
    pub reason: BlobFault,
}

/// What is wrong with a blob structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlobFault {
    /// Fewer than 4 bytes left where a length field belongs.
    TrailingBytes(usize),
    /// The length field gives fewer bytes than a header and an empty string set.
    TooShort(u32),
    /// The length field gives more bytes than the blob has left.
    PastTheEnd { length: u32, left: usize },
    /// The formatted-area length byte is below 4 or leaves no room for a string set.
    FormattedLength { formatted: u8, length: usize },
    /// The string set does not end (double NUL) exactly where the length field says.
    StringsEnd { length: usize, end: Option<usize> },
    /// Two vendor structures, which keep their handles, have the same one.
    HandleRepeated { handle: u16, first_index: usize },
    /// A vendor structure's handle lies in the reserved range 0xFF00-0xFFFF.
    HandleReserved(u16),
}

impl fmt::Display for SmbiosBlobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "structure {} (", self.index)?;
        if let Some(kind) = self.kind {
            write!(f, "type {kind}, ")?;
        }
        write!(f, "at byte {:#x}): ", self.offset)?;
        match &self.reason {
            BlobFault::TrailingBytes(n) => {
                write!(f, "{n} byte(s) left, too few for a 32-bit length field")
            }
            BlobFault::TooShort(n) => write!(
                f,
                "its length {n} is shorter than a structure header and an empty string set (6)"
            ),
            BlobFault::PastTheEnd { length, left } => {
                write!(f, "its length {length} runs past the end of the blob ({left} bytes left)")
            }
            BlobFault::FormattedLength { formatted, length } => write!(
                f,
                "its formatted area of {formatted} bytes does not fit a header and a string set \
                 in its {length} bytes"
            ),
            BlobFault::StringsEnd { length, end: Some(end) } => write!(
                f,
                "its strings end after {end} bytes, not at the {length} its length field gives"
            ),
            BlobFault::StringsEnd { length, end: None } => {
                write!(f, "its string set has no end (double NUL) within its {length} bytes")
            }
            BlobFault::HandleRepeated { handle, first_index } => write!(
                f,
                "its handle {handle:#06x} is also structure {first_index}'s (structures passed \
                 through with their handles need their own)"
            ),
            BlobFault::HandleReserved(handle) => {
                write!(f, "its handle {handle:#06x} lies in the reserved range 0xff00-0xffff")
            }
        }
    }
}

/// A blob's structures, checked, with what the table does with each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmbiosPassthrough<'a> {
    structures: Vec<PassedStructure<'a>>,
}

impl<'a> SmbiosPassthrough<'a> {
    /// Splits and checks `blob`; an empty blob passes nothing.
    pub fn parse(blob: &'a [u8]) -> Result<Self, SmbiosBlobError> {
        let mut structures: Vec<PassedStructure<'a>> = Vec::new();
        let mut offset = 0;
        while offset < blob.len() {
            let index = structures.len();
            let rest = &blob[offset..];
            let fail = |kind: Option<u8>, reason| SmbiosBlobError { index, offset, kind, reason };
            let Some(length_field) = rest.first_chunk::<4>() else {
                return Err(fail(None, BlobFault::TrailingBytes(rest.len())));
            };
            let length = u32::from_le_bytes(*length_field);
            let body = &rest[4..];
            let kind = body.first().copied();
            let len = usize::try_from(length).unwrap_or(usize::MAX);
            if len < MIN_STRUCTURE_LEN {
                return Err(fail(kind, BlobFault::TooShort(length)));
            }
            let Some(bytes) = body.get(..len) else {
                return Err(fail(kind, BlobFault::PastTheEnd { length, left: body.len() }));
            };
            let formatted = bytes[1];
            if usize::from(formatted) < HEADER_LEN || usize::from(formatted) + 2 > len {
                return Err(fail(kind, BlobFault::FormattedLength { formatted, length: len }));
            }
            let end = string_set_end(bytes, usize::from(formatted));
            if end != Some(len) {
                return Err(fail(kind, BlobFault::StringsEnd { length: len, end }));
            }
            let structure = PassedStructure { index, offset, bytes };
            if structure.kind() >= FIRST_VENDOR_TYPE {
                let handle = structure.handle();
                if handle >= FIRST_RESERVED_HANDLE {
                    return Err(fail(kind, BlobFault::HandleReserved(handle)));
                }
                let earlier = structures
                    .iter()
                    .find(|s| s.kind() >= FIRST_VENDOR_TYPE && s.handle() == handle);
                if let Some(first) = earlier {
                    return Err(fail(
                        kind,
                        BlobFault::HandleRepeated { handle, first_index: first.index },
                    ));
                }
            }
            structures.push(structure);
            offset += 4 + len;
        }
        Ok(SmbiosPassthrough { structures })
    }

    /// Every structure of the blob, in blob order.
    pub fn structures(&self) -> &[PassedStructure<'a>] {
        &self.structures
    }

    /// What the table does with `structure` (one of [`Self::structures`]).
    pub fn use_of(&self, structure: &PassedStructure<'_>) -> Use {
        let kind = structure.kind();
        if kind >= FIRST_VENDOR_TYPE {
            Use::AddedWithItsHandle
        } else if !SINGLE_TYPES.contains(&kind) {
            Use::IgnoredType
        } else if self.single(kind).is_some_and(|first| first.index != structure.index) {
            Use::IgnoredRepeat
        } else if FIRMWARE_TYPES.contains(&kind) {
            Use::Replaces
        } else {
            Use::Added
        }
    }

    /// The structure that stands in for (types 0-3) or adds (11, 22, 39) the table's
    /// structure of `kind`: the blob's first of that type.
    pub fn single(&self, kind: u8) -> Option<&PassedStructure<'a>> {
        if !SINGLE_TYPES.contains(&kind) {
            return None;
        }
        self.structures.iter().find(|s| s.kind() == kind)
    }

    /// The vendor structures (types 128-255), in blob order.
    pub fn vendor(&self) -> impl Iterator<Item = &PassedStructure<'a>> {
        self.structures.iter().filter(|s| s.kind() >= FIRST_VENDOR_TYPE)
    }

    /// Handles the vendor structures keep, which the firmware's structures must not take.
    pub fn kept_handles(&self) -> Vec<u16> {
        self.vendor().map(PassedStructure::handle).collect()
    }
}

/// Where the string set that starts at `start` ends, just past its final NUL: an empty set
/// is two NULs; otherwise non-empty strings, each ended by a NUL, and one more NUL.
pub(super) fn string_set_end(bytes: &[u8], start: usize) -> Option<usize> {
    if *bytes.get(start)? == 0 {
        return (*bytes.get(start + 1)? == 0).then_some(start + 2);
    }
    let mut at = start;
    while *bytes.get(at)? != 0 {
        at += bytes.get(at..)?.iter().position(|&b| b == 0)? + 1;
    }
    Some(at + 1)
}

#[cfg(test)]
mod tests;
