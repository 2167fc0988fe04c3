//! Image bytes by room: the linked (unstripped) firmware's symbols, sized by `nm`, each
//! put in the room of the code it comes from, so a change that bloats the image shows
//! where. Bytes no symbol covers (string literals, panic locations, jump tables) are one
//! row of their own. With LTO, a function called once is inlined into its caller, so its
//! bytes count in the caller's room: most of the boot sequence's callees show as `boot`.
//!
//! The memory the image takes (its PT_LOAD memsz) by part: linker.ld's parts by their
//! bounding symbols, and in bss each object of 1 KiB or more.

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
    Ok(rooms(&nm(elf)?, loaded))
}

/// Objects in bss at least this large get a row of their own in [`memory_parts`].
const BSS_OBJECT_ROW: u64 = 1024;

/// The memory from `__image_start` to `__image_end`, by part, in address order; the parts
/// add up to the whole. `nm_output` as for [`rooms`].
pub fn memory_parts(nm_output: &str) -> Result<Vec<(String, u64)>> {
    let mut bounds = BTreeMap::new();
    let mut objects = Vec::new();
    for line in nm_output.lines() {
        let fields: Vec<&str> = line.splitn(4, ' ').collect();
        match fields[..] {
            [address, _kind, name] if name.starts_with("__") => {
                if let Ok(address) = u64::from_str_radix(address, 16) {
                    bounds.insert(name.to_string(), address);
                }
            }
            [address, size, "b" | "B", name] => {
                if let (Ok(address), Ok(size)) =
                    (u64::from_str_radix(address, 16), u64::from_str_radix(size, 16))
                {
                    objects.push((address, size, name.to_string()));
                }
            }
            _ => {}
        }
    }
    let at = |name: &str| bounds.get(name).copied().ok_or(format!("no symbol {name}"));
    let mut parts = Vec::new();
    for (what, from, to) in [
        ("boot part: entry, unpacker, memory primitives", "__image_start", "__boot_bss_start"),
        ("boot page tables and the hypercall page", "__boot_bss_start", "__boot_stack_guard"),
        ("boot stack and its guard page", "__boot_stack_guard", "__boot_stack_top"),
        ("payload: code and data, unpacked", "__payload_start", "__payload_end"),
    ] {
        parts
            .push((what.to_string(), at(to)?.checked_sub(at(from)?).ok_or("bounds out of order")?));
    }
    let bss = at("__payload_end")?..at("__image_end")?;
    let mut rest = bss.end.checked_sub(bss.start).ok_or("bss ends before the payload")?;
    objects.retain(|(address, size, _)| bss.contains(address) && *size >= BSS_OBJECT_ROW);
    objects.sort();
    for (_, size, name) in objects {
        // `hvmloader::rt::heap::ARENA` -> `bss: rt::heap::ARENA`.
        let name = name.strip_prefix("hvmloader::").unwrap_or(&name);
        parts.push((format!("bss: {name}"), size));
        rest = rest.saturating_sub(size);
    }
    parts.push(("bss: the rest".to_string(), rest));
    let whole = at("__image_end")? - at("__image_start")?;
    let counted: u64 = parts.iter().map(|(_, size)| size).sum();
    if counted != whole {
        return Err(format!("memory parts add up to {counted} bytes, the image takes {whole}"));
    }
    Ok(parts)
}

/// `nm -S -C` of the linked ELF at `elf` (symbols without a size too: linker.ld's bounds).
fn nm(elf: &Path) -> Result<String> {
    let out = Command::new("nm")
        .args(["-S", "-C"])
        .arg(elf)
        .output()
        .map_err(|e| format!("nm (binutils): {e}"))?;
    if !out.status.success() {
        return Err(format!("nm {}: {}", elf.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// [`memory_parts`] of the linked ELF at `elf`.
pub fn image_memory_parts(elf: &Path) -> Result<Vec<(String, u64)>> {
    memory_parts(&nm(elf)?)
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

    #[test]
    fn memory_parts_add_up_to_the_image() {
        let nm = "0000000000100000 T __image_start\n\
                  0000000000102000 B __boot_bss_start\n\
                  0000000000109000 0000000000001000 b hvmloader::arch::HYPERCALL_PAGE\n\
                  000000000010a000 B __boot_stack_guard\n\
                  0000000000110000 B __boot_stack_top\n\
                  0000000000110000 B __payload_start\n\
                  0000000000110000 0000000000000100 t hvmloader::pci::plan\n\
                  0000000000140010 D __payload_end\n\
                  0000000000140010 0000000000000400 b hvmloader::console::SINKS\n\
                  0000000000140410 00000000000003ff b hvmloader::stats::SMALL\n\
                  0000000000140810 0000000000008000 b hvmloader::rt::heap::ARENA\n\
                  0000000000148810 B __image_end\n";
        let parts = memory_parts(nm).unwrap();
        let sizes: Vec<(&str, u64)> = parts.iter().map(|(n, s)| (n.as_str(), *s)).collect();
        assert_eq!(
            sizes,
            [
                ("boot part: entry, unpacker, memory primitives", 0x2000),
                ("boot page tables and the hypercall page", 0x8000),
                ("boot stack and its guard page", 0x6000),
                ("payload: code and data, unpacked", 0x30010),
                ("bss: console::SINKS", 0x400),
                ("bss: rt::heap::ARENA", 0x8000),
                ("bss: the rest", 0x400),
            ]
        );
        // A part that does not add up (here the payload's end missing) is an error.
        let without_end = nm.replace("D __payload_end", "D payload_end");
        assert_eq!(memory_parts(&without_end).unwrap_err(), "no symbol __payload_end");
    }
}
