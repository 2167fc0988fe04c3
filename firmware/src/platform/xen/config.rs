//! The guest configuration the toolstack leaves in xenstore for the firmware, read into a
//! typed [`XenConfig`]. Keys and defaults are hvmloader's (public/hvm/hvm_xs_strings.h for
//! the names): a key that is missing or empty takes hvmloader's default and is no error.
//! Values hvmloader would silently misparse (`strtoll` on garbage gives 0) are errors here
//! when they change the machine's layout (`mmio_hole_size`, table addresses).

use crate::smbios::BiosStrings;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use core::fmt;

use super::hypercall::{Hypercall, Xen};
use super::xenstore::{XenStore, XsError};
use crate::bootinfo::PhysRange;
use crate::time::Clock;

/// Something keys can be read from (the store; a map in tests).
pub(crate) trait KeyReader {
    /// The value of `path`, `None` when it does not exist.
    fn read_key(&mut self, path: &str) -> Result<Option<String>, Box<XsError>>;
}

/// The store with what a read needs: the client, the hypercalls, a clock.
#[derive(Debug)]
pub(crate) struct StoreSession<'a, H: Hypercall, C: Clock> {
    pub store: &'a mut XenStore,
    pub xen: &'a mut Xen<H>,
    pub clock: &'a mut C,
}

impl<H: Hypercall, C: Clock> KeyReader for StoreSession<'_, H, C> {
    fn read_key(&mut self, path: &str) -> Result<Option<String>, Box<XsError>> {
        self.store.read_listed(self.xen, self.clock, path)
    }
}

/// Which BIOS `hvmloader/bios` names (default: rombios, hvmloader's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum BiosKind {
    Seabios,
    Ovmf,
    /// Xen's ROMBIOS: this firmware has no hand-off for it.
    Rombios,
    Other(String),
}

/// `platform/tpm_version` (default "1", as hvmloader).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TpmVersion {
    /// No TPM tables (a value other than 1 or 2, or not a number).
    None,
    /// TPM 1.2 over TIS: tables only if a TIS interface answers at 0xFED40000.
    Tpm12,
    /// TPM 2.0 over CRB.
    Tpm20,
}

/// The configuration, typed. Each field names its key and its default when missing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct XenConfig {
    /// `platform/acpi` (default on): build ACPI tables at all.
    pub acpi: bool,
    /// `platform/acpi_s3` (default on): advertise S3.
    pub acpi_s3: bool,
    /// `platform/acpi_s4` (default on): advertise S4.
    pub acpi_s4: bool,
    /// `platform/acpi_laptop_slate` (default off): the laptop/slate SSDT.
    pub acpi_laptop_slate: bool,
    /// `platform/mmio_hole_size` in bytes (default: none, the hole follows the RAM).
    pub mmio_hole_size: Option<u64>,
    /// `platform/generation-id` "low:high" (default "0:0" = none): the VM generation ID.
    pub generation_id: Option<[u64; 2]>,
    /// `platform/tpm_version` (default 1).
    pub tpm_version: TpmVersion,
    /// `hvmloader/bios` (default rombios).
    pub bios: BiosKind,
    /// `hvmloader/allow-memory-relocate` (default on): may RAM below 4 GiB be moved up to
    /// grow the MMIO hole. (This firmware never relocates RAM; logged only.)
    pub allow_memory_relocate: bool,
    /// `hvmloader/acpi/{address,length}` (default none): extra ACPI tables to pass through.
    pub acpi_passthrough: Option<PhysRange>,
    /// `hvmloader/smbios/{address,length}` (default none): extra SMBIOS structures.
    pub smbios_passthrough: Option<PhysRange>,
    pub bios_strings: BiosStrings,
}

impl Default for XenConfig {
    /// What an empty store gives: hvmloader's defaults.
    fn default() -> Self {
        XenConfig {
            acpi: true,
            acpi_s3: true,
            acpi_s4: true,
            acpi_laptop_slate: false,
            mmio_hole_size: None,
            generation_id: None,
            tpm_version: TpmVersion::Tpm12,
            bios: BiosKind::Rombios,
            allow_memory_relocate: true,
            acpi_passthrough: None,
            smbios_passthrough: None,
            bios_strings: BiosStrings::default(),
        }
    }
}

/// A value that is there but cannot be what its key needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum ConfigError {
    Store(Box<XsError>),
    Malformed { key: &'static str, value: String, expected: &'static str },
    LengthWithoutAddress { key: &'static str },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Store(e) => e.fmt(f),
            ConfigError::Malformed { key, value, expected } => {
                write!(f, "xenstore key {key} = \"{value}\": expected {expected}")
            }
            ConfigError::LengthWithoutAddress { key } => {
                write!(f, "xenstore key {key}: address without a usable length, or wraps")
            }
        }
    }
}

/// Parses an integer the way C's `strtoll(s, &end, 0)` reads it (optional sign, `0x` hex,
/// leading-`0` octal, decimal) but only if the whole string is the number.
pub(crate) fn parse_c_integer(s: &str) -> Option<i64> {
    let t = s.trim_start();
    let (negative, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = if let Some(hex) = t.strip_prefix("0x").or(t.strip_prefix("0X")) {
        (16, hex)
    } else if t.len() > 1 && t.starts_with('0') {
        (8, &t[1..])
    } else {
        (10, t)
    };
    if digits.is_empty() || !digits.bytes().all(|b| (b as char).is_digit(radix)) {
        return None;
    }
    // Magnitudes above u64::MAX are out of i64's range whatever the sign, so u64 arithmetic
    // serves (i128 parsing brought in 128-bit multiplication for this one function).
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative { 0i64.checked_sub_unsigned(magnitude) } else { i64::try_from(magnitude).ok() }
}

/// One key, read: `None` when missing or empty (hvmloader's test for "use the default").
/// Daemon errors other than ENOENT (EACCES, say) count as missing too, as in hvmloader,
/// with a warning; a store that does not answer is an error.
pub(super) fn get(
    store: &mut impl KeyReader,
    key: &str,
) -> Result<Option<String>, Box<ConfigError>> {
    match store.read_key(key) {
        Ok(Some(v)) if !v.is_empty() => Ok(Some(v)),
        Ok(_) => Ok(None),
        Err(e) => match *e {
            XsError::Daemon { error, .. } => {
                log::warn!("xenstore: {key}: {error}; using the default");
                Ok(None)
            }
            _ => Err(Box::new(ConfigError::Store(e))),
        },
    }
}

/// The keys [`XenConfig::read`] reads, through `store`. The first error (a store that does
/// not answer, or a malformed value) is remembered and every later read gives `None`
/// without asking the store; `read` then fails with it. One check at the end rather than a
/// `?` at each key (2.8 KB of the image).
struct Keys<'s, S: KeyReader> {
    store: &'s mut S,
    error: Option<ConfigError>,
}

impl<S: KeyReader> Keys<'_, S> {
    fn fail(&mut self, error: ConfigError) {
        self.error.get_or_insert(error);
    }

    /// `key` as [`get`] reads it.
    fn get(&mut self, key: &str) -> Option<String> {
        if self.error.is_some() {
            return None;
        }
        get(self.store, key).unwrap_or_else(|e| {
            self.fail(*e);
            None
        })
    }

    /// hvmloader's boolean test: the value starts with '1'.
    fn flag(&mut self, key: &str, default: bool) -> bool {
        self.get(key).map_or(default, |v| v.starts_with('1'))
    }

    fn number(&mut self, key: &'static str) -> Option<u64> {
        let value = self.get(key)?;
        let number = parse_c_integer(&value).and_then(|n| u64::try_from(n).ok());
        if number.is_none() {
            self.fail(ConfigError::Malformed {
                key,
                value,
                expected: "a non-negative integer (decimal, 0x hex or 0 octal)",
            });
        }
        number
    }

    fn range(&mut self, address: &'static str, length: &'static str) -> Option<PhysRange> {
        let start = self.number(address)?;
        let len = self.number(length).unwrap_or(0);
        let range = PhysRange::from_len(start, len).filter(|r| !r.is_empty());
        if range.is_none() {
            self.fail(ConfigError::LengthWithoutAddress { key: length });
        }
        range
    }
}

impl XenConfig {
    /// Reads every key hvmloader reads. Costs one round trip per key.
    pub fn read(store: &mut impl KeyReader) -> Result<Self, Box<ConfigError>> {
        let d = XenConfig::default();
        let mut keys = Keys { store, error: None };
        let mmio_hole_size = keys.number("platform/mmio_hole_size").filter(|&n| n != 0);
        let generation_id = match keys.get("platform/generation-id") {
            None => None,
            Some(v) => {
                let parsed = match v.split_once(':') {
                    Some((lo, hi)) => parse_c_integer(lo).zip(parse_c_integer(hi)),
                    None => parse_c_integer(&v).map(|lo| (lo, 0)),
                };
                match parsed {
                    Some((lo, hi)) => Some([lo as u64, hi as u64]).filter(|&id| id != [0, 0]),
                    None => {
                        keys.fail(ConfigError::Malformed {
                            key: "platform/generation-id",
                            value: v,
                            expected: "\"low:high\" integers",
                        });
                        None
                    }
                }
            }
        };
        let tpm_version = match keys.get("platform/tpm_version").as_deref().map(parse_c_integer) {
            None => d.tpm_version,
            Some(Some(1)) => TpmVersion::Tpm12,
            Some(Some(2)) => TpmVersion::Tpm20,
            Some(_) => TpmVersion::None,
        };
        let bios = match keys.get("hvmloader/bios").as_deref() {
            None | Some("rombios") => BiosKind::Rombios,
            Some("seabios") => BiosKind::Seabios,
            Some("ovmf") => BiosKind::Ovmf,
            Some(other) => BiosKind::Other(other.into()),
        };
        let allow_memory_relocate = keys
            .number("hvmloader/allow-memory-relocate")
            .map_or(d.allow_memory_relocate, |n| n != 0);
        let config = XenConfig {
            acpi: keys.flag("platform/acpi", d.acpi),
            acpi_s3: keys.flag("platform/acpi_s3", d.acpi_s3),
            acpi_s4: keys.flag("platform/acpi_s4", d.acpi_s4),
            acpi_laptop_slate: keys.flag("platform/acpi_laptop_slate", d.acpi_laptop_slate),
            mmio_hole_size,
            generation_id,
            tpm_version,
            bios,
            allow_memory_relocate,
            acpi_passthrough: keys.range("hvmloader/acpi/address", "hvmloader/acpi/length"),
            smbios_passthrough: keys.range("hvmloader/smbios/address", "hvmloader/smbios/length"),
            bios_strings: {
                let Ok(strings) = BiosStrings::read(|name| {
                    Ok::<_, core::convert::Infallible>(keys.get(&format!("bios-strings/{name}")))
                });
                strings
            },
        };
        match keys.error {
            None => Ok(config),
            Some(error) => Err(Box::new(error)),
        }
    }
}
