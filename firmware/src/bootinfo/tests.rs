//! Host tests of the start info parser: hand-built good and bad inputs, and a property test
//! that feeds it arbitrary memory contents (the fuzzing the parser gets in the test suite).

use alloc::collections::BTreeMap;
use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::*;

/// Simulated physical memory with page granularity, like the real identity map: pages that
/// were written exist (zero-filled around the data), all others are unreadable.
#[derive(Clone, Debug, Default)]
struct FakeMemory {
    pages: BTreeMap<u64, Vec<u8>>,
}

impl FakeMemory {
    fn put(&mut self, paddr: u64, bytes: &[u8]) {
        for (i, &byte) in bytes.iter().enumerate() {
            let Some(addr) = paddr.checked_add(i as u64) else { return };
            let page = self.pages.entry(addr >> 12).or_insert_with(|| vec![0; 4096]);
            page[(addr & 0xFFF) as usize] = byte;
        }
    }
}

impl PhysMemory for FakeMemory {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), PhysReadError> {
        let err = PhysReadError { paddr, len: buf.len() };
        paddr.checked_add(buf.len() as u64).ok_or(err)?;
        for (i, byte) in buf.iter_mut().enumerate() {
            let addr = paddr + i as u64;
            *byte = self.pages.get(&(addr >> 12)).ok_or(err)?[(addr & 0xFFF) as usize];
        }
        Ok(())
    }
}

const IMAGE: PhysRange = PhysRange { start: 0x10_0000, end: 0x20_0000 };
const START_INFO: u64 = 0x6000;
const MODLIST: u64 = 0x7000;
const MEMMAP: u64 = 0x8000;
const CMDLINE: u64 = 0x9000;
const MOD_CMDLINE: u64 = 0xC000;

/// What a loader writes, before serialisation.
#[derive(Clone, Debug)]
struct StartInfo {
    magic: u32,
    version: u32,
    modules: Vec<(u64, u64, u64)>,
    memmap: Vec<(u64, u64, u32)>,
    cmdline: Option<Vec<u8>>,
}

impl StartInfo {
    fn qemu_like() -> Self {
        StartInfo {
            magic: START_INFO_MAGIC,
            version: 1,
            modules: vec![(0x0800_0000, 0x1234, MOD_CMDLINE)],
            memmap: vec![
                (0, 0x9_FC00, 1),
                (0x9_FC00, 0x400, 2),
                (0xF_0000, 0x1_0000, 2),
                (0x10_0000, 0x1FF0_0000, 1),
                (0xFFFC_0000, 0x4_0000, 2),
            ],
            cmdline: Some(b"loglevel=debug\0".to_vec()),
        }
    }

    fn write(&self) -> FakeMemory {
        let mut mem = FakeMemory::default();
        // Module contents first (their pages must be readable, like RAM), so that a module
        // placed over the structures does not hide them.
        for &(paddr, size, _) in &self.modules {
            if size > 0 && size < 0x10_0000 {
                mem.put(paddr, &[0xAA]);
                mem.put(paddr.saturating_add(size - 1), &[0xAA]);
            }
        }
        let mut header = Vec::new();
        header.extend_from_slice(&self.magic.to_le_bytes());
        header.extend_from_slice(&self.version.to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        header.extend_from_slice(&(self.modules.len() as u32).to_le_bytes());
        header.extend_from_slice(&MODLIST.to_le_bytes());
        header.extend_from_slice(&(if self.cmdline.is_some() { CMDLINE } else { 0 }).to_le_bytes());
        header.extend_from_slice(&0xF_5A00u64.to_le_bytes());
        header.extend_from_slice(&MEMMAP.to_le_bytes());
        header.extend_from_slice(&(self.memmap.len() as u32).to_le_bytes());
        header.extend_from_slice(&0u32.to_le_bytes());
        mem.put(START_INFO, &header);
        let mut list = Vec::new();
        for &(paddr, size, cmdline) in &self.modules {
            for v in [paddr, size, cmdline, 0] {
                list.extend_from_slice(&v.to_le_bytes());
            }
        }
        mem.put(MODLIST, &list);
        let mut map = Vec::new();
        for &(addr, size, kind) in &self.memmap {
            map.extend_from_slice(&addr.to_le_bytes());
            map.extend_from_slice(&size.to_le_bytes());
            map.extend_from_slice(&kind.to_le_bytes());
            map.extend_from_slice(&0u32.to_le_bytes());
        }
        mem.put(MEMMAP, &map);
        if let Some(cmdline) = &self.cmdline {
            mem.put(CMDLINE, cmdline);
        }
        mem.put(MOD_CMDLINE, b"initrd\0");
        mem
    }

    fn parse(&self) -> Result<BootInfo, BootInfoError> {
        BootInfo::parse(&self.write(), START_INFO, IMAGE)
    }
}

#[test]
fn parses_a_qemu_like_start_info() {
    let info = StartInfo::qemu_like().parse().unwrap();
    assert_eq!(info.version, 1);
    assert_eq!(info.cmdline, "loglevel=debug");
    assert_eq!(info.rsdp, Some(0xF_5A00));
    assert_eq!(info.start_info, PhysRange { start: START_INFO, end: START_INFO + 56 });
    assert_eq!(info.modules.len(), 1);
    assert_eq!(info.modules[0].range, PhysRange { start: 0x0800_0000, end: 0x0800_1234 });
    assert_eq!(info.modules[0].cmdline, "initrd");
    assert_eq!(info.module("initrd"), Some(&info.modules[0]));
    assert_eq!(info.memory_map.len(), 5);
    assert_eq!(info.memory_map[3].kind, MemoryKind::Ram);
    assert!(info.memory_map.windows(2).all(|w| w[0].range.end <= w[1].range.start));
}

#[test]
fn version_0_has_no_memory_map() {
    let mut si = StartInfo::qemu_like();
    si.version = 0;
    let info = si.parse().unwrap();
    assert!(info.memory_map.is_empty());
    assert_eq!(info.start_info.len(), 48);
}

#[test]
fn sorts_the_memory_map() {
    let mut si = StartInfo::qemu_like();
    si.memmap.reverse();
    let info = si.parse().unwrap();
    assert_eq!(info.memory_map[0].range.start, 0);
    assert_eq!(info.memory_map[4].range.start, 0xFFFC_0000);
}

#[test]
fn rejects_bad_magic() {
    let mut si = StartInfo::qemu_like();
    si.magic = 0xDEAD_BEEF;
    assert_eq!(si.parse(), Err(BootInfoError::BadMagic(0xDEAD_BEEF)));
    let msg = alloc::format!("{}", si.parse().unwrap_err());
    assert!(msg.contains("bad magic 0xdeadbeef"), "{msg}");
}

#[test]
fn rejects_unreadable_and_self_overlapping_start_info() {
    let si = StartInfo::qemu_like().write();
    assert!(matches!(
        BootInfo::parse(&si, 0x5_0000, IMAGE),
        Err(BootInfoError::Unreadable { what: "header", .. })
    ));
    assert!(matches!(
        BootInfo::parse(&si, IMAGE.start + 0x100, IMAGE),
        Err(BootInfoError::InsideFirmware { what: "header", .. })
    ));
    assert!(matches!(
        BootInfo::parse(&si, u64::MAX - 8, IMAGE),
        Err(BootInfoError::Unreadable { .. })
    ));
}

#[test]
fn rejects_absurd_counts() {
    let mut si = StartInfo::qemu_like();
    si.modules = vec![(0x0800_0000, 0x10, MOD_CMDLINE); 17];
    assert_eq!(si.parse(), Err(BootInfoError::TooManyModules(17)));
    let mut si = StartInfo::qemu_like();
    si.memmap = (0..129).map(|i| (i * 0x1000, 0x1000, 1)).collect();
    assert_eq!(si.parse(), Err(BootInfoError::TooManyMemoryEntries(129)));
}

#[test]
fn rejects_bad_modules() {
    let mut si = StartInfo::qemu_like();
    si.modules = vec![(0x0800_0000, 0, MOD_CMDLINE)];
    assert_eq!(si.parse(), Err(BootInfoError::EmptyModule { index: 0 }));

    si.modules = vec![(u64::MAX - 4, 0x10, MOD_CMDLINE)];
    assert!(matches!(si.parse(), Err(BootInfoError::ModuleWraps { index: 0, .. })));

    si.modules = vec![(0x0800_0000, 0x2000, MOD_CMDLINE), (0x0800_1000, 0x10, MOD_CMDLINE)];
    assert_eq!(si.parse(), Err(BootInfoError::ModulesOverlap { first: 0, second: 1 }));

    si.modules = vec![(IMAGE.start + 0x1000, 0x10, MOD_CMDLINE)];
    assert!(matches!(si.parse(), Err(BootInfoError::InsideFirmware { what: "module", .. })));

    si.modules = vec![(START_INFO, 0x10, MOD_CMDLINE)];
    assert_eq!(si.parse(), Err(BootInfoError::ModuleOverlapsStartInfo { index: 0 }));

    // In the reserved BIOS area rather than RAM.
    si.modules = vec![(0xF_1000, 0x10, MOD_CMDLINE)];
    assert!(matches!(si.parse(), Err(BootInfoError::ModuleOutsideRam { index: 0, .. })));

    // Inside RAM by the map, but the memory is not there.
    si.modules = vec![(0x1000_0000, 0x20_0000, MOD_CMDLINE)];
    assert!(matches!(si.parse(), Err(BootInfoError::Unreadable { what: "module", .. })));
}

#[test]
fn rejects_bad_memory_maps() {
    let mut si = StartInfo::qemu_like();
    si.memmap.push((0x9_0000, 0x2_0000, 2));
    assert!(matches!(si.parse(), Err(BootInfoError::MemoryEntriesOverlap { .. })));
    let mut si = StartInfo::qemu_like();
    si.memmap.push((0x2000_0000, 0, 1));
    assert_eq!(si.parse(), Err(BootInfoError::EmptyMemoryEntry { index: 5 }));
    let mut si = StartInfo::qemu_like();
    si.memmap.push((u64::MAX, 2, 1));
    assert!(matches!(si.parse(), Err(BootInfoError::MemoryEntryWraps { index: 5, .. })));
}

#[test]
fn rejects_bad_strings() {
    let mut si = StartInfo::qemu_like();
    si.cmdline = Some(vec![b'x'; MAX_CMDLINE + 100]);
    assert!(matches!(si.parse(), Err(BootInfoError::StringTooLong { what: "command line", .. })));
    // No NUL before the end of the page, and the next page does not exist.
    let mut mem = FakeMemory::default();
    mem.put(0xA_0FF0, b"0123456789abcdef");
    assert!(matches!(
        read_string(&mem, 0xA_0FF0, "command line"),
        Err(BootInfoError::Unreadable { what: "command line", .. })
    ));
    mem.put(0xA_1000, b"!\0");
    assert_eq!(read_string(&mem, 0xA_0FF0, "command line").unwrap(), "0123456789abcdef!");
    si.cmdline = Some(b"\xff\xfe\0".to_vec());
    assert!(matches!(si.parse(), Err(BootInfoError::StringNotUtf8 { .. })));
    si.cmdline = Some(vec![b'y'; MAX_CMDLINE - 1].into_iter().chain([0]).collect());
    assert_eq!(si.parse().unwrap().cmdline.len(), MAX_CMDLINE - 1);
}

#[test]
fn no_command_line_is_empty() {
    let mut si = StartInfo::qemu_like();
    si.cmdline = None;
    assert_eq!(si.parse().unwrap().cmdline, "");
}

fn arb_start_info() -> impl Strategy<Value = StartInfo> {
    let magic = prop_oneof![9 => Just(START_INFO_MAGIC), 1 => any::<u32>()];
    let version = prop_oneof![Just(0u32), Just(1), any::<u32>()];
    let addr = prop_oneof![
        0u64..0x2000_0000,
        Just(IMAGE.start),
        Just(START_INFO),
        (u64::MAX - 0x10000)..=u64::MAX,
    ];
    let module = (addr.clone(), prop_oneof![0u64..0x2000, any::<u64>()], Just(MOD_CMDLINE));
    let entry = (addr, prop_oneof![0u64..0x1000_0000, any::<u64>()], 0u32..9);
    let cmdline = proptest::option::of(proptest::collection::vec(any::<u8>(), 0..64));
    (
        magic,
        version,
        proptest::collection::vec(module, 0..4),
        proptest::collection::vec(entry, 0..8),
        cmdline,
    )
        .prop_map(|(magic, version, modules, memmap, cmdline)| StartInfo {
            magic,
            version,
            modules,
            memmap,
            cmdline,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Whatever the loader wrote, the parser returns (no panic) and what it accepts
    /// satisfies every documented invariant.
    #[test]
    fn parser_accepts_only_consistent_start_infos(si in arb_start_info()) {
        if let Ok(info) = si.parse() {
            prop_assert_eq!(si.magic, START_INFO_MAGIC);
            prop_assert!(!info.start_info.overlaps(&IMAGE));
            prop_assert!(info.modules.len() as u32 <= MAX_MODULES);
            for (i, m) in info.modules.iter().enumerate() {
                prop_assert!(!m.range.is_empty());
                prop_assert!(!m.range.overlaps(&IMAGE));
                prop_assert!(!m.range.overlaps(&info.start_info));
                for other in &info.modules[i + 1..] {
                    prop_assert!(!m.range.overlaps(&other.range));
                }
                if !info.memory_map.is_empty() {
                    prop_assert!(info.memory_map.iter().any(|r| r.kind == MemoryKind::Ram
                        && r.range.contains_range(&m.range)));
                }
            }
            for pair in info.memory_map.windows(2) {
                prop_assert!(pair[0].range.end <= pair[1].range.start);
            }
            prop_assert!(info.memory_map.iter().all(|r| !r.range.is_empty()));
            prop_assert!(info.cmdline.len() < MAX_CMDLINE);
        }
    }

    /// Random bytes where the start info should be: never a panic, and only a real magic
    /// gets past the first check.
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 56..200)) {
        let mut mem = FakeMemory::default();
        mem.put(START_INFO, &bytes);
        let result = BootInfo::parse(&mem, START_INFO, IMAGE);
        if bytes[..4] != START_INFO_MAGIC.to_le_bytes() {
            prop_assert_eq!(result, Err(BootInfoError::BadMagic(u32::from_le_bytes(bytes[..4].try_into().unwrap()))));
        }
    }
}
