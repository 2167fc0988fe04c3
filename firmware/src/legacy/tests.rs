//! Both tables are checked by parsing them back with small parsers written from the
//! specifications (MP 1.4 chapter 4, `$PIR` 1.0) independently of the writers: they walk the
//! entries by type and length, trust no count or length the writer computed without checking
//! it against the bytes, and fail on anything out of place.

use alloc::vec;
use alloc::vec::Vec;

use proptest::prelude::*;

use super::mptable::*;
use super::pir::*;
use super::*;
use crate::chipset::Chipset;
use crate::pci::Bdf;

// ---- the independent MP parser -------------------------------------------------------------

fn sum(bytes: &[u8]) -> u8 {
    bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b))
}
fn word(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn dword(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

#[derive(Debug, PartialEq, Eq)]
struct Processor {
    apic_id: u8,
    version: u8,
    enabled: bool,
    bsp: bool,
    signature: u32,
    features: u32,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Interrupt {
    int_type: u8,
    flags: u16,
    source_bus: u8,
    source_irq: u8,
    dest_apic: u8,
    dest_input: u8,
}

#[derive(Debug)]
struct Mp {
    config_address: u32,
    base_len: usize,
    oem: [u8; 8],
    product: [u8; 12],
    local_apic: u32,
    processors: Vec<Processor>,
    buses: Vec<(u8, [u8; 6])>,
    ioapics: Vec<(u8, u8, u8, u32)>,
    io_interrupts: Vec<Interrupt>,
    local_interrupts: Vec<Interrupt>,
}

/// Finds the floating pointer in `mem` (which starts at physical `base`) by scanning
/// paragraphs, as an OS does, follows it and walks the configuration table.
fn parse_mp(mem: &[u8], base: u64) -> Mp {
    let fp_at = (0..mem.len().saturating_sub(15))
        .step_by(16)
        .find(|&at| &mem[at..at + 4] == b"_MP_" && sum(&mem[at..at + 16]) == 0)
        .expect("no valid _MP_ on a paragraph boundary");
    let fp = &mem[fp_at..fp_at + 16];
    assert_eq!(fp[8], 1, "floating pointer length in paragraphs");
    assert_eq!(fp[9], 4, "spec revision 1.4");
    assert_eq!(fp[11], 0, "feature byte 1: configuration table present");
    assert_eq!(&fp[12..16], &[0; 4], "feature bytes 2-5");
    let config_address = dword(fp, 4);
    let at = (u64::from(config_address) - base) as usize;
    let table = &mem[at..];
    assert_eq!(&table[0..4], b"PCMP");
    let base_len = usize::from(word(table, 4));
    assert!(base_len >= 44 && base_len <= table.len());
    let table = &table[..base_len];
    assert_eq!(table[6], 4, "spec revision 1.4");
    assert_eq!(sum(table), 0, "configuration table checksum");
    assert_eq!(dword(table, 28), 0, "no OEM table");
    assert_eq!(word(table, 32), 0, "no OEM table");
    assert_eq!(word(table, 40), 0, "no extended table");
    assert_eq!(table[42], 0, "extended table checksum");
    let count = word(table, 34);
    let mut mp = Mp {
        config_address,
        base_len,
        oem: table[8..16].try_into().unwrap(),
        product: table[16..28].try_into().unwrap(),
        local_apic: dword(table, 36),
        processors: vec![],
        buses: vec![],
        ioapics: vec![],
        io_interrupts: vec![],
        local_interrupts: vec![],
    };
    let mut pos = 44;
    let mut last_type = 0;
    for _ in 0..count {
        let kind = table[pos];
        assert!(kind >= last_type, "entries are sorted by type");
        last_type = kind;
        let len = match kind {
            0 => 20,
            1..=4 => 8,
            other => panic!("unknown entry type {other} at {pos}"),
        };
        let e = &table[pos..pos + len];
        match kind {
            0 => {
                assert_eq!(e[3] & !3, 0, "reserved CPU flags");
                assert_eq!(&e[12..20], &[0; 8], "reserved bytes");
                mp.processors.push(Processor {
                    apic_id: e[1],
                    version: e[2],
                    enabled: e[3] & 1 != 0,
                    bsp: e[3] & 2 != 0,
                    signature: dword(e, 4),
                    features: dword(e, 8),
                });
            }
            1 => mp.buses.push((e[1], e[2..8].try_into().unwrap())),
            2 => mp.ioapics.push((e[1], e[2], e[3], dword(e, 4))),
            _ => {
                let int = Interrupt {
                    int_type: e[1],
                    flags: word(e, 2),
                    source_bus: e[4],
                    source_irq: e[5],
                    dest_apic: e[6],
                    dest_input: e[7],
                };
                if kind == 3 { &mut mp.io_interrupts } else { &mut mp.local_interrupts }.push(int);
            }
        }
        pos += len;
    }
    assert_eq!(pos, base_len, "entries end where the base table length says");
    mp
}

// ---- inputs ----------------------------------------------------------------------------------

const PADDR: u64 = 0xF_1000;
/// 5, 10 and 11: the i440FX link IRQs.
const LINK_IRQS: u16 = (1 << 5) | (1 << 10) | (1 << 11);

fn cpus(n: u32) -> Vec<MpCpu> {
    (0..n).map(|i| MpCpu { apic_id: 2 * i, enabled: true }).collect()
}

/// Xen's fixed wiring for every pin of `devices`.
fn xen_intx(devices: &[u8]) -> Vec<PciIntx> {
    let mut v = vec![];
    for &device in devices {
        for pin in [IntxPin::A, IntxPin::B, IntxPin::C, IntxPin::D] {
            let gsi = crate::chipset::wiring::xen_intx_gsi(device, pin) as u8;
            v.push(PciIntx { device, pin, gsi });
        }
    }
    v
}

fn input<'a>(cpus: &'a [MpCpu], pci_intx: &'a [PciIntx]) -> MpInput<'a> {
    MpInput {
        cpus,
        cpu_signature: 0x000A_0F12,
        cpu_features: 0x178B_FBFF,
        isa_bus_id: 1,
        ioapic_id: 1,
        ioapic_inputs: 48,
        pci_link_irqs: LINK_IRQS,
        pci_intx,
    }
}

fn write(input: &MpInput<'_>) -> (Vec<u8>, MpWritten) {
    let mut buf = vec![0xAAu8; 8192];
    let written = write_mp_table(input, &mut buf, PADDR).unwrap();
    (buf, written)
}

// ---- MP table --------------------------------------------------------------------------------

#[test]
fn lengths_and_counts() {
    let cpus = cpus(4);
    let intx = xen_intx(&[1, 2, 3]);
    let (buf, w) = write(&input(&cpus, &intx));
    assert_eq!(w.len, mp_table_len(4, 12));
    assert_eq!(w.len, 220 + 4 * 20 + 12 * 8);
    assert_eq!(w.config_len, w.len - 16);
    assert_eq!(usize::from(w.entry_count), 4 + 2 + 1 + 15 + 12 + 2);
    assert!(buf[w.len..].iter().all(|&b| b == 0xAA), "nothing written past the tables");

    let mp = parse_mp(&buf[..w.len], PADDR);
    assert_eq!(mp.base_len, w.config_len);
    assert_eq!(mp.processors.len(), 4);
    assert_eq!(mp.buses, vec![(0, *b"PCI   "), (1, *b"ISA   ")]);
    assert_eq!(mp.ioapics, vec![(1, 0x11, 1, 0xFEC0_0000)]);
    assert_eq!(mp.io_interrupts.len(), 15 + 12);
    assert_eq!(mp.local_interrupts.len(), 2);
    assert_eq!(mp.local_apic, 0xFEE0_0000);
    assert_eq!(&mp.oem, b"Xen     ");
    assert_eq!(&mp.product, b"hvmloader-rs");
}

#[test]
fn checksums_sum_to_zero() {
    let cpus = cpus(3);
    let intx = xen_intx(&[2]);
    let (buf, w) = write(&input(&cpus, &intx));
    assert_eq!(sum(&buf[..16]), 0);
    assert_eq!(sum(&buf[16..w.len]), 0);
}

#[test]
fn floating_pointer_points_at_config_table() {
    let cpus = cpus(2);
    let (buf, w) = write(&input(&cpus, &[]));
    assert_eq!(w.floating_pointer, PADDR);
    assert_eq!(w.config_table, PADDR + 16);
    assert_eq!(dword(&buf, 4), (PADDR + 16) as u32);
    assert_eq!(&buf[16..20], b"PCMP");
    assert_eq!(u64::from(parse_mp(&buf, PADDR).config_address), w.config_table);
}

#[test]
fn boot_cpu_flag_and_enabled_flags() {
    let cpus = [
        MpCpu { apic_id: 0, enabled: true },
        MpCpu { apic_id: 2, enabled: false },
        MpCpu { apic_id: 4, enabled: true },
    ];
    let (buf, _) = write(&input(&cpus, &[]));
    let mp = parse_mp(&buf, PADDR);
    let flags: Vec<_> = mp.processors.iter().map(|p| (p.apic_id, p.enabled, p.bsp)).collect();
    assert_eq!(flags, vec![(0, true, true), (2, false, false), (4, true, false)]);
    for p in &mp.processors {
        assert_eq!((p.version, p.signature, p.features), (0x14, 0x000A_0F12, 0x178B_FBFF));
    }
}

#[test]
fn isa_irqs_identity_but_irq0_on_input_2_and_no_irq_2() {
    let cpus = cpus(2);
    let (buf, _) = write(&input(&cpus, &[]));
    let mp = parse_mp(&buf, PADDR);
    let isa: Vec<_> = mp.io_interrupts.iter().filter(|i| i.source_bus == 1).copied().collect();
    assert_eq!(isa.len(), 15);
    assert!(isa.iter().all(|i| i.int_type == 0 && i.dest_apic == 1));
    let map: Vec<(u8, u8)> = isa.iter().map(|i| (i.source_irq, i.dest_input)).collect();
    assert_eq!(map[0], (0, 2));
    assert!(!map.iter().any(|&(irq, _)| irq == 2));
    assert!(map[1..].iter().all(|&(irq, input)| irq == input));
    // Each input is claimed by one ISA IRQ only.
    let mut inputs: Vec<u8> = map.iter().map(|&(_, input)| input).collect();
    inputs.sort_unstable();
    inputs.dedup();
    assert_eq!(inputs.len(), 15);
    for i in &isa {
        let expected = if LINK_IRQS & (1 << i.source_irq) != 0 { 0x0F } else { 0 };
        assert_eq!(i.flags, expected, "IRQ {}", i.source_irq);
    }
}

#[test]
fn pci_entries_encode_device_and_pin() {
    let cpus = cpus(2);
    let intx = [
        PciIntx { device: 3, pin: IntxPin::A, gsi: 28 },
        PciIntx { device: 31, pin: IntxPin::D, gsi: 47 },
        PciIntx { device: 1, pin: IntxPin::B, gsi: 10 },
    ];
    let (buf, _) = write(&input(&cpus, &intx));
    let mp = parse_mp(&buf, PADDR);
    let pci: Vec<_> = mp.io_interrupts.iter().filter(|i| i.source_bus == 0).copied().collect();
    let expected: Vec<_> = [(3 << 2, 28), ((31 << 2) | 3, 47), ((1 << 2) | 1, 10)]
        .into_iter()
        .map(|(source_irq, dest_input)| Interrupt {
            int_type: 0,
            flags: 0x0F,
            source_bus: 0,
            source_irq,
            dest_apic: 1,
            dest_input,
        })
        .collect();
    assert_eq!(pci, expected);
}

#[test]
fn local_interrupts_extint_lint0_nmi_lint1() {
    let cpus = cpus(2);
    let (buf, _) = write(&input(&cpus, &[]));
    let mp = parse_mp(&buf, PADDR);
    let lint: Vec<_> =
        mp.local_interrupts.iter().map(|i| (i.int_type, i.dest_apic, i.dest_input)).collect();
    assert_eq!(lint, vec![(3, 0xFF, 0), (1, 0xFF, 1)]);
}

#[test]
fn isa_bus_id_follows_input() {
    let cpus = cpus(2);
    let mut inp = input(&cpus, &[]);
    inp.isa_bus_id = 5;
    let (buf, _) = write(&inp);
    let mp = parse_mp(&buf, PADDR);
    assert_eq!(mp.buses, vec![(0, *b"PCI   "), (5, *b"ISA   ")]);
    let sources = mp.io_interrupts.iter().chain(&mp.local_interrupts).map(|i| i.source_bus);
    assert!(sources.into_iter().all(|bus| bus == 5));
}

#[test]
fn largest_xen_guest_fits() {
    // 128 vCPUs (HVM_MAX_VCPUS) and every pin of every bus-0 device.
    let cpus = cpus(128);
    let devices: Vec<u8> = (0..32).collect();
    let intx = xen_intx(&devices);
    let (buf, w) = write(&input(&cpus, &intx));
    assert_eq!(w.len, 220 + 128 * 20 + 128 * 8);
    let mp = parse_mp(&buf, PADDR);
    assert_eq!(mp.processors.len(), 128);
    assert_eq!(mp.io_interrupts.len(), 15 + 128);
}

#[test]
fn errors_for_bad_input() {
    let two = cpus(2);
    let check = |inp: &MpInput<'_>, expected: MpError| {
        let mut buf = vec![0x55u8; 8192];
        assert_eq!(write_mp_table(inp, &mut buf, PADDR), Err(expected));
        assert!(buf.iter().all(|&b| b == 0x55), "nothing written on error");
        assert!(!expected.to_string().contains('\n'));
    };

    check(&input(&[], &[]), MpError::NoCpus);
    let many: Vec<MpCpu> = (0..256).map(|i| MpCpu { apic_id: i, enabled: true }).collect();
    check(&input(&many, &[]), MpError::TooManyCpus { count: 256 });
    let max: Vec<MpCpu> = (0..255).map(|i| MpCpu { apic_id: i, enabled: true }).collect();
    assert!(write_mp_table(&input(&max, &[]), &mut vec![0; 8192], PADDR).is_ok());
    let big = [MpCpu { apic_id: 0, enabled: true }, MpCpu { apic_id: 255, enabled: true }];
    check(&input(&big, &[]), MpError::ApicIdTooLarge { apic_id: 255 });
    let x2apic = [MpCpu { apic_id: 0x1_0000, enabled: true }];
    check(&input(&x2apic, &[]), MpError::ApicIdTooLarge { apic_id: 0x1_0000 });
    let dup = [MpCpu { apic_id: 130, enabled: true }, MpCpu { apic_id: 130, enabled: false }];
    check(&input(&dup, &[]), MpError::DuplicateApicId { apic_id: 130 });
    let off = [MpCpu { apic_id: 0, enabled: false }, MpCpu { apic_id: 2, enabled: true }];
    check(&input(&off, &[]), MpError::BootCpuDisabled { apic_id: 0 });

    let mut inp = input(&two, &[]);
    inp.isa_bus_id = 0;
    check(&inp, MpError::IsaBusIdIsPci);
    let mut inp = input(&two, &[]);
    inp.ioapic_inputs = 15;
    check(&inp, MpError::TooFewIoApicInputs { inputs: 15 });

    let pin = |device, pin, gsi| PciIntx { device, pin, gsi };
    let bad = [pin(32, IntxPin::A, 20)];
    check(&input(&two, &bad), MpError::BadPciDevice { device: 32 });
    let twice = [pin(3, IntxPin::B, 20), pin(3, IntxPin::B, 21)];
    check(&input(&two, &twice), MpError::DuplicatePciPin { device: 3, pin: IntxPin::B });
    let beyond = [pin(3, IntxPin::A, 48)];
    let expected = MpError::GsiBeyondIoApic { device: 3, pin: IntxPin::A, gsi: 48, inputs: 48 };
    check(&input(&two, &beyond), expected);
    let edge = [pin(3, IntxPin::A, 9)];
    check(&input(&two, &edge), MpError::PciPinOnIsaIrq { device: 3, pin: IntxPin::A, irq: 9 });
}

#[test]
fn errors_for_bad_placement() {
    let cpus = cpus(2);
    let inp = input(&cpus, &[]);
    let len = mp_table_len(2, 0);
    let mut buf = vec![0x55u8; len - 1];
    assert_eq!(
        write_mp_table(&inp, &mut buf, PADDR),
        Err(MpError::BufferTooSmall { needed: len, available: len - 1 })
    );
    assert!(buf.iter().all(|&b| b == 0x55));
    let mut buf = vec![0u8; len];
    assert!(write_mp_table(&inp, &mut buf, PADDR).is_ok());
    assert_eq!(
        write_mp_table(&inp, &mut buf, PADDR + 8),
        Err(MpError::Misaligned { paddr: PADDR + 8 })
    );
    let top = (1u64 << 32) - 256;
    assert_eq!(write_mp_table(&inp, &mut buf, top), Err(MpError::Above4GiB { paddr: top, len }));
    assert_eq!(
        write_mp_table(&inp, &mut buf, u64::MAX - 15),
        Err(MpError::Above4GiB { paddr: u64::MAX - 15, len })
    );
    let end = (1u64 << 32) - len.next_multiple_of(16) as u64;
    assert!(write_mp_table(&inp, &mut buf, end).is_ok());
}

proptest! {
    /// Whatever valid input, the tables parse back to exactly that input.
    #[test]
    fn parses_back_to_the_input(
        ids in proptest::collection::btree_set(0u32..=254, 1..40),
        enabled in proptest::collection::vec(any::<bool>(), 40),
        pins in proptest::collection::btree_map((0u8..32, 0u8..4), 16u8..48, 0..40),
        signature in any::<u32>(),
        features in any::<u32>(),
        isa_bus_id in 1u8..=255,
        ioapic_id in any::<u8>(),
        link_irqs in any::<u16>(),
    ) {
        let mut cpus: Vec<MpCpu> = ids
            .iter()
            .zip(&enabled)
            .map(|(&apic_id, &enabled)| MpCpu { apic_id, enabled })
            .collect();
        cpus[0].enabled = true;
        let intx: Vec<PciIntx> = pins
            .iter()
            .map(|(&(device, pin), &gsi)| PciIntx {
                device,
                pin: IntxPin::from_register(pin + 1).unwrap(),
                gsi,
            })
            .collect();
        let inp = MpInput {
            cpus: &cpus,
            cpu_signature: signature,
            cpu_features: features,
            isa_bus_id,
            ioapic_id,
            ioapic_inputs: 48,
            pci_link_irqs: link_irqs,
            pci_intx: &intx,
        };
        let mut buf = vec![0u8; mp_table_len(cpus.len(), intx.len())];
        let w = write_mp_table(&inp, &mut buf, PADDR).unwrap();
        prop_assert_eq!(w.len, buf.len());
        let mp = parse_mp(&buf, PADDR);
        let expected: Vec<Processor> = cpus
            .iter()
            .enumerate()
            .map(|(i, c)| Processor {
                apic_id: c.apic_id as u8,
                version: 0x14,
                enabled: c.enabled,
                bsp: i == 0,
                signature,
                features,
            })
            .collect();
        prop_assert_eq!(mp.processors, expected);
        prop_assert_eq!(mp.ioapics, vec![(ioapic_id, 0x11, 1, 0xFEC0_0000)]);
        let pci: Vec<(u8, u8, u8)> = mp
            .io_interrupts
            .iter()
            .filter(|i| i.source_bus == 0)
            .map(|i| (i.source_irq >> 2, i.source_irq & 3, i.dest_input))
            .collect();
        let wanted: Vec<(u8, u8, u8)> =
            pins.iter().map(|(&(device, pin), &gsi)| (device, pin, gsi)).collect();
        prop_assert_eq!(pci, wanted);
        for i in mp.io_interrupts.iter().filter(|i| i.source_bus == isa_bus_id) {
            let level = link_irqs & (1 << i.source_irq) != 0;
            prop_assert_eq!(i.flags, if level { 0x0F } else { 0 });
        }
    }
}

// ---- $PIR ------------------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
struct Slot {
    bus: u8,
    devfn: u8,
    links: [(u8, u16); 4],
    slot: u8,
}

/// Scans `mem` for `$PIR` on paragraph boundaries and parses it.
fn parse_pir(mem: &[u8]) -> (Vec<u8>, Vec<Slot>) {
    let at = (0..mem.len().saturating_sub(31))
        .step_by(16)
        .find(|&at| &mem[at..at + 4] == b"$PIR")
        .expect("no $PIR on a paragraph boundary");
    let size = usize::from(word(mem, at + 6));
    assert!(size >= 32 && (size - 32) % 16 == 0, "size {size}");
    let table = &mem[at..at + size];
    assert_eq!(sum(table), 0, "checksum over the whole table");
    assert_eq!(word(table, 4), 0x0100, "version 1.0");
    assert_eq!(dword(table, 16), 0, "miniport data");
    assert_eq!(&table[20..31], &[0; 11], "reserved");
    let slots = table[32..]
        .chunks_exact(16)
        .map(|s| Slot {
            bus: s[0],
            devfn: s[1],
            links: [0, 1, 2, 3].map(|p| (s[2 + 3 * p], word(s, 3 + 3 * p))),
            slot: s[14],
        })
        .collect();
    (table[..32].to_vec(), slots)
}

/// The `$PIR` link value of a bus-0 pin, with Xen's wiring (under QEMU only the rotation
/// differs).
fn i440fx_link(device: u8, pin: IntxPin) -> u8 {
    Chipset::pirq_register(crate::chipset::IntxWiring::Xen.bus0_link(device, pin)) as u8
}

fn pir_input(devices: u32) -> PirInput {
    PirInput {
        router: Chipset::I440fx.interrupt_router(),
        compatible_router: PIIX_COMPATIBLE_ROUTER,
        exclusive_irqs: 0,
        devices,
        irq_bitmap: LINK_IRQS,
    }
}

#[test]
fn pir_header_and_slots() {
    let devices = (1 << 1) | (1 << 2) | (1 << 3) | (1 << 31);
    let mut buf = vec![0xAAu8; 1024];
    let len = write_pir(&pir_input(devices), i440fx_link, &mut buf).unwrap();
    assert_eq!(len, 32 + 4 * 16);
    assert_eq!(len, pir_len(devices));
    assert!(buf[len..].iter().all(|&b| b == 0xAA));
    let (header, slots) = parse_pir(&buf);
    assert_eq!(usize::from(word(&header, 6)), len);
    assert_eq!((header[8], header[9]), (0, 1 << 3), "router 00:01.0");
    assert_eq!(word(&header, 10), 0, "no PCI-exclusive IRQs");
    assert_eq!((word(&header, 12), word(&header, 14)), (0x8086, 0x122E));
    let devs: Vec<u8> = slots.iter().map(|s| s.devfn >> 3).collect();
    assert_eq!(devs, vec![1, 2, 3, 31]);
    for s in &slots {
        assert_eq!((s.bus, s.devfn & 7, s.slot), (0, 0, 0));
        let d = s.devfn >> 3;
        for (p, &(link, irqs)) in s.links.iter().enumerate() {
            // PIRQ[(device + pin) & 3], PIIX's registers 0x60-0x63.
            assert_eq!(link, 0x60 + ((d + p as u8) & 3), "device {d} pin {p}");
            assert_eq!(irqs, LINK_IRQS);
        }
    }
}

#[test]
fn pir_unconnected_pins_and_empty_table() {
    let mut buf = vec![0u8; 64];
    let link = |_, pin| if pin == IntxPin::A { 0x61 } else { 0 };
    write_pir(&pir_input(1 << 5), link, &mut buf).unwrap();
    let (_, slots) = parse_pir(&buf);
    assert_eq!(slots[0].links, [(0x61, LINK_IRQS), (0, 0), (0, 0), (0, 0)]);

    let mut empty = PirInput { irq_bitmap: 0, ..pir_input(0) };
    assert_eq!(write_pir(&empty, i440fx_link, &mut buf), Ok(32));
    let (header, slots) = parse_pir(&buf);
    assert_eq!((word(&header, 6), slots.len()), (32, 0));
    empty.devices = 1;
    assert_eq!(write_pir(&empty, i440fx_link, &mut buf), Err(PirError::EmptyIrqBitmap));
}

#[test]
fn pir_errors() {
    let mut buf = vec![0x55u8; 47];
    assert_eq!(
        write_pir(&pir_input(0b11), i440fx_link, &mut buf),
        Err(PirError::BufferTooSmall { needed: 64, available: 47 })
    );
    assert!(buf.iter().all(|&b| b == 0x55));
    let inp = PirInput { exclusive_irqs: 1 << 9, ..pir_input(0b11) };
    let err = write_pir(&inp, i440fx_link, &mut [0u8; 64]).unwrap_err();
    assert_eq!(err, PirError::ExclusiveIrqsNotRoutable { exclusive: 1 << 9, bitmap: LINK_IRQS });
    assert!(!err.to_string().contains('\n'));
    let all = u32::MAX;
    assert_eq!(pir_len(all), 32 + 32 * 16);
    assert!(write_pir(&pir_input(all), i440fx_link, &mut [0u8; 544]).is_ok());
}

// ---- Bus0Pins --------------------------------------------------------------------------------

#[test]
fn bus0_pins_from_routes() {
    let route = |bus, device, root_device, root_pin| IntxRoute {
        bdf: Bdf::new(bus, device, 0),
        pin: IntxPin::A,
        root_device,
        root_pin,
        link: 0,
    };
    let routes = [
        route(0, 3, 3, IntxPin::A),
        route(0, 3, 3, IntxPin::A),
        // Behind the bridge at 00:05: counted on the bridge's pin.
        route(1, 0, 5, IntxPin::C),
        route(0, 1, 1, IntxPin::D),
    ];
    let pins = Bus0Pins::from_routes(&routes);
    assert_eq!(pins.len(), 3);
    let listed: Vec<_> = pins.iter().collect();
    assert_eq!(listed, vec![(1, IntxPin::D), (3, IntxPin::A), (5, IntxPin::C)]);
    assert_eq!(pins.devices(), (1 << 1) | (1 << 3) | (1 << 5));
    assert!(pins.contains(5, IntxPin::C) && !pins.contains(5, IntxPin::A));
    assert!(!pins.contains(40, IntxPin::A));
    let mut all = Bus0Pins::default();
    assert!(all.is_empty());
    for d in 0..40 {
        for p in [IntxPin::A, IntxPin::B, IntxPin::C, IntxPin::D] {
            all.insert(d, p);
        }
    }
    assert_eq!((all.len(), all.devices()), (128, u32::MAX));
}
