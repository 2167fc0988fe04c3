//! Image bytes by room: the linked (unstripped) firmware's symbols, sized by `nm`, each
//! put in the room of the code it comes from, so a change that bloats the image shows
//! where. Bytes no symbol covers (string literals, panic locations, jump tables) are one
//! row of their own. With LTO, a function called once is inlined into its caller, so its
//! bytes count in the caller's room: most of the boot sequence's callees show as `boot`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use crate::Result;

/// Rooms of the firmware crate, by the first module under `hvmloader::`; anything else
/// there goes to "runtime" (arch, rt, stats, time, sort and the crate root).
const FIRMWARE_ROOMS: [&str; 15] = [
    "boot", "bootinfo", "cmdline", "console", "platform", "chipset", "layout", "pci", "cpu",
    "acpi", "smbios", "legacy", "e820", "handoff", "main",
];

/// The room of one demangled symbol name.
pub fn room_of(symbol: &str) -> &'static str {
    // `<Type as Trait>::method`: the type's crate and module, unless the type is generic
    // (`&T`, `[T]`), then the trait's.
    let path = match symbol.strip_prefix('<') {
        Some(rest) => {
            let (ty, tr) = rest.split_once(" as ").unwrap_or((rest, ""));
            if ty.contains("::") { ty } else { tr }
        }
        None => symbol,
    };
    // The boot code's unpacker (its decoder inlined) and its strings: never packed.
    if symbol == "unpack_image" || path.starts_with("hvmloader::rt::unpack") {
        return "unpack (boot part)";
    }
    let mut parts = path.split("::");
    match parts.next().unwrap_or("") {
        "hvmloader" => {
            let module = parts.next().unwrap_or("");
            let module = module.split(['<', '{']).next().unwrap_or("");
            match FIRMWARE_ROOMS.iter().find(|&&room| room == module) {
                Some(&"acpi") => "acpi (firmware)",
                Some(room) => room,
                None => "runtime",
            }
        }
        "libacpi" => "libacpi",
        "acpi" => "acpi crate (self-test)",
        "core" => match parts.next() {
            Some("fmt") => "core::fmt",
            Some("slice") => "core::slice",
            _ => "core (other)",
        },
        "alloc" => "alloc",
        "talc" | "spin" | "lock_api" => "heap (talc)",
        "log" => "log",
        _ => "other",
    }
}

/// Bytes of code and initialised data by room, largest first, then the bytes of the
/// loaded image no symbol covers; `loaded` is the image's PT_LOAD filesz.
pub fn rooms(nm_output: &str, loaded: u64) -> Vec<(String, u64)> {
    let mut by_room: BTreeMap<&str, u64> = BTreeMap::new();
    let mut named = 0;
    for line in nm_output.lines() {
        // `address size type name`, from `nm -S -C`; symbols without a size have 3 fields.
        let mut fields = line.splitn(4, ' ');
        let (Some(_), Some(size), Some(kind), Some(name)) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        // Zero-filled symbols (b) take no room in the file.
        if !matches!(kind, "t" | "T" | "r" | "R" | "d" | "D") {
            continue;
        }
        let Ok(size) = u64::from_str_radix(size, 16) else { continue };
        *by_room.entry(room_of(name)).or_default() += size;
        named += size;
    }
    let mut rows: Vec<(String, u64)> =
        by_room.into_iter().map(|(room, size)| (room.to_string(), size)).collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rows.push(("unnamed (strings, panic locations, tables)".into(), loaded.saturating_sub(named)));
    rows
}

/// [`rooms`] of the linked ELF at `elf`.
pub fn image_rooms(elf: &Path, loaded: u64) -> Result<Vec<(String, u64)>> {
    let out = Command::new("nm")
        .args(["-S", "-C", "--size-sort"])
        .arg(elf)
        .output()
        .map_err(|e| format!("nm (binutils): {e}"))?;
    if !out.status.success() {
        return Err(format!("nm {}: {}", elf.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(rooms(&String::from_utf8_lossy(&out.stdout), loaded))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_go_to_the_room_of_their_code() {
        assert_eq!(room_of("hvmloader::pci::place::plan"), "pci");
        assert_eq!(room_of("hvmloader::boot::run::{{closure}}"), "boot");
        assert_eq!(room_of("<hvmloader::boot::Fatal as core::fmt::Display>::fmt"), "boot");
        assert_eq!(room_of("hvmloader::acpi::install"), "acpi (firmware)");
        assert_eq!(room_of("hvmloader::sort::sort_by_key"), "runtime");
        assert_eq!(room_of("<&T as core::fmt::Display>::fmt"), "core::fmt");
        assert_eq!(
            room_of("<libacpi::tables::fadt::Fadt as libacpi::tables::Table>::write"),
            "libacpi"
        );
        assert_eq!(room_of("alloc::collections::btree::map::BTreeMap<K,V,A>::insert"), "alloc");
        assert_eq!(room_of("unpack_image"), "unpack (boot part)");
        assert_eq!(room_of("hvmloader::rt::unpack::fail"), "unpack (boot part)");
        assert_eq!(room_of("memcpy"), "other");
    }

    #[test]
    fn rooms_add_up_to_the_loaded_bytes() {
        let nm = "0000000000100000 0000000000000100 t hvmloader::pci::plan\n\
                  0000000000100100 0000000000000010 T memcpy\n\
                  0000000000200000 0000000000001000 b hvmloader::rt::heap::ARENA\n\
                  0000000000100200 0000000000000020 r hvmloader::pci::TABLE\n\
                  0000000000100000 T __image_start\n";
        let rows = rooms(nm, 0x200);
        assert_eq!(rows[0], ("pci".to_string(), 0x120));
        assert_eq!(rows[1], ("other".to_string(), 0x10));
        assert_eq!(rows.last().unwrap().1, 0x200 - 0x130);
    }
}
