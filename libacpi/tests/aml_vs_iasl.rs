//! The AML encoder must produce exactly the bytes `iasl` produces for the same
//! ASL. Each test builds objects with `AmlWriter`, compiles the equivalent ASL
//! with iasl, compares the table bodies, and disassembles the encoder's table.

mod common;

use libacpi::aml::*;
use libacpi::tables::{AmlTable, MadtProcessor, ProcessorState};
use libacpi::{Error, OemIds, Table};

/// Runs `build` on a fresh writer and returns the bytes.
fn encode(build: impl FnOnce(&mut AmlWriter<'_>)) -> Vec<u8> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut w = AmlWriter::new(&mut buf);
    build(&mut w);
    w.finish().expect("encoder failed");
    w.as_bytes().to_vec()
}

/// Compares the encoder with iasl and checks that the encoder's SSDT
/// disassembles cleanly.
fn assert_matches_iasl(tag: &str, asl: &str, ours: &[u8]) {
    let theirs = common::iasl_compile_body(tag, asl);
    if ours != theirs.as_slice() {
        let first = ours
            .iter()
            .zip(&theirs)
            .position(|(a, b)| a != b)
            .unwrap_or(ours.len().min(theirs.len()));
        panic!(
            "AML differs from iasl at byte {first} (ours {} bytes, iasl {} bytes)\nours:  {:02x?}\niasl:  {:02x?}",
            ours.len(),
            theirs.len(),
            &ours[first.saturating_sub(8)..ours.len().min(first + 24)],
            &theirs[first.saturating_sub(8)..theirs.len().min(first + 24)],
        );
    }
    let table = AmlTable::ssdt(ours);
    let mut bytes = vec![0u8; table.length()];
    table.write(&OemIds::xen(), &mut bytes).unwrap();
    common::iasl_disassemble(tag, &bytes);
}

#[test]
fn integers_use_the_smallest_encoding() {
    let values: [(&str, u64); 12] = [
        ("I0", 0),
        ("I1", 1),
        ("I2", 2),
        ("I3", 0xff),
        ("I4", 0x100),
        ("I5", 0xffff),
        ("I6", 0x1_0000),
        ("I7", 0xffff_ffff),
        ("I8", 0x1_0000_0000),
        ("I9", 0x1234_5678_9abc_def0),
        ("IA", u64::MAX),
        ("IB", 0xfffe),
    ];
    let asl: String = values.iter().map(|(n, v)| format!("Name ({n}, 0x{v:X})\n")).collect();
    let ours = encode(|w| {
        for (n, v) in values {
            w.name(n, &v);
        }
        w.name("K0", &Ones);
        w.name("K1", &7u8);
        w.name("K2", &0x1234u16);
        w.name("K3", &0x12345u32)
    });
    let asl = asl + "Name (K0, Ones)\nName (K1, 7)\nName (K2, 0x1234)\nName (K3, 0x12345)\n";
    assert_matches_iasl("integers", &asl, &ours);
}

#[test]
fn strings_buffers_packages_and_eisa_ids() {
    let asl = r#"
        Name (S0, "hello, world")
        Name (S1, "")
        Name (B0, Buffer () { 0x01, 0x02, 0xFF })
        Name (B1, Buffer () { })
        Name (P0, Package () { One, "two", Package () { 0x03 }, Buffer () { 0x04 }, 0x12345678 })
        Name (P1, Package () { })
        Name (E0, EisaId ("PNP0A03"))
        Name (E1, EisaId ("PNP0000"))
        Name (E2, EisaId ("QEM0002"))
    "#;
    let ours = encode(|w| {
        w.name("S0", &Str("hello, world"));
        w.name("S1", &Str(""));
        w.name("B0", &Buffer(&[1, 2, 0xff]));
        w.name("B1", &Buffer(&[]));
        w.name(
            "P0",
            &Package(&[&1u8, &Str("two"), &Package(&[&3u8]), &Buffer(&[4]), &0x1234_5678u32]),
        );
        w.name("P1", &Package(&[]));
        w.name("E0", &EisaId("PNP0A03"));
        w.name("E1", &EisaId("PNP0000"));
        w.name("E2", &EisaId("QEM0002"))
    });
    assert_matches_iasl("data", asl, &ours);
}

#[test]
fn name_paths_scopes_and_devices() {
    let asl = r#"
        Scope (\_SB) {
            Name (X, One)
            Device (PCI0) {
                Name (_HID, EisaId ("PNP0A03"))
                Device (ISA) { Name (_ADR, 0x00010000) }
                Method (M, 0, NotSerialized) { Return (^^X) }
            }
        }
        Scope (\_SB.PCI0.ISA) { Name (Y, 0x03) }
        Scope (\) { Name (Z, Zero) }
        Method (N, 0, NotSerialized) { Return (\_SB.PCI0.ISA.Y) }
    "#;
    let ours = encode(|w| {
        w.scope("\\_SB", |w| {
            w.name("X", &1u8);
            w.device("PCI0", |w| {
                w.name("_HID", &EisaId("PNP0A03"));
                w.device("ISA", |w| w.name("_ADR", &0x0001_0000u32));
                w.method("M", 0, false, |w| w.return_value(&Path("^^X")))
            })
        });
        w.scope("\\_SB.PCI0.ISA", |w| w.name("Y", &3u8));
        w.scope("\\", |w| w.name("Z", &0u8));
        w.method("N", 0, false, |w| w.return_value(&Path("\\_SB.PCI0.ISA.Y")))
    });
    assert_matches_iasl("paths", asl, &ours);
}

#[test]
fn methods_with_control_flow_and_expressions() {
    let asl = r#"
        Name (PKG, Package () { 0x0A, 0x0B, 0x0C })
        Device (DEV0) { Name (_HID, "ACPI0004") }
        Method (M0, 2, Serialized) {
            If (LEqual (Arg0, Arg1)) {
                Return (One)
            } Else {
                Return (LNot (Arg0))
            }
        }
        Method (M1, 1, NotSerialized) {
            Store (0x10, Local0)
            If (LAnd (LGreater (Arg0, 0x02), LLess (Arg0, 0x0100))) {
                Store (Add (Local0, Arg0), Local1)
                Return (Subtract (Local1, One))
            }
            If (LOr (LEqual (Arg0, Zero), LEqual (Arg0, Ones))) {
                Notify (\DEV0, 0x80)
            }
            Return (Or (And (Local0, 0x0F), 0xF0))
        }
        Method (M2, 1, NotSerialized) {
            Store (SizeOf (PKG), Local0)
            Store (DerefOf (Index (PKG, Arg0)), Local1)
            Return (M0 (Local0, Local1))
        }
        Method (M3, 7, Serialized) { Return (Arg6) }
    "#;
    let ours = encode(|w| {
        w.name("PKG", &Package(&[&0x0au8, &0x0bu8, &0x0cu8]));
        w.device("DEV0", |w| w.name("_HID", &Str("ACPI0004")));
        w.method("M0", 2, true, |w| {
            w.if_then(&LEqual(&Arg(0), &Arg(1)), |w| w.return_value(&1u8));
            w.else_then(|w| w.return_value(&LNot(&Arg(0))))
        });
        w.method("M1", 1, false, |w| {
            w.store(&0x10u8, &Local(0));
            w.if_then(&LAnd(&LGreater(&Arg(0), &2u8), &LLess(&Arg(0), &0x100u16)), |w| {
                w.store(&Add(&Local(0), &Arg(0)), &Local(1));
                w.return_value(&Subtract(&Local(1), &1u8))
            });
            w.if_then(&LOr(&LEqual(&Arg(0), &0u8), &LEqual(&Arg(0), &Ones)), |w| {
                w.notify(&Path("\\DEV0"), &0x80u8)
            });
            w.return_value(&Or(&And(&Local(0), &0x0fu8), &0xf0u8))
        });
        w.method("M2", 1, false, |w| {
            w.store(&SizeOf(&Path("PKG")), &Local(0));
            w.store(&DerefOf(&Index(&Path("PKG"), &Arg(0))), &Local(1));
            w.return_value(&Call { method: "M0", args: &[&Local(0), &Local(1)] })
        });
        w.method("M3", 7, true, |w| w.return_value(&Arg(6)))
    });
    assert_matches_iasl("methods", asl, &ours);
}

#[test]
fn devices_with_resource_templates() {
    let asl = r#"
        Scope (\_SB) {
            Device (PCI0) {
                Name (_HID, EisaId ("PNP0A08"))
                Name (_CID, EisaId ("PNP0A03"))
                Name (_UID, Zero)
                Name (_CRS, ResourceTemplate () {
                    WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                        0x0000, 0x0000, 0x00FF, 0x0000, 0x0100)
                    IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                    WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                    WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                        0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                    DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                        0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                    DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                        0x00000000, 0xF0000000, 0xFBFFFFFF, 0x00000000, 0x0C000000)
                    QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Prefetchable, ReadWrite,
                        0x0000000000000000, 0x0000000800000000, 0x0000000FFFFFFFFF, 0x0000000000000000,
                        0x0000000800000000)
                })
            }
            Device (RTC) {
                Name (_HID, EisaId ("PNP0B00"))
                Name (_CRS, ResourceTemplate () {
                    IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                    IRQNoFlags () {8}
                })
            }
            Device (LNKA) {
                Name (_HID, EisaId ("PNP0C0F"))
                Name (_UID, One)
                Name (_PRS, ResourceTemplate () {
                    Interrupt (ResourceConsumer, Level, ActiveLow, Shared, , , ) {5, 10, 11}
                })
                Name (_CRS, ResourceTemplate () {
                    Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, , , ) {0x0100}
                })
            }
        }
    "#;
    let bus = AddressSpace::word_bus_number(0, 0xff);
    let cf8 = Io::fixed(0xcf8, 8);
    let io_low = AddressSpace::word_io(0, 0xcf7);
    let io_high = AddressSpace::word_io(0xd00, 0xffff);
    let vga = AddressSpace::dword_memory(0xa0000, 0xbffff, Cacheability::Cacheable);
    let mmio = AddressSpace::dword_memory(0xf000_0000, 0xfbff_ffff, Cacheability::NonCacheable);
    let mmio64 =
        AddressSpace::qword_memory(0x8_0000_0000, 0xf_ffff_ffff, Cacheability::Prefetchable);
    let rtc_io = Io::fixed(0x70, 2);
    let rtc_irq = IrqNoFlags::new(&[8]).unwrap();
    let link = Interrupt {
        usage: ResourceUsage::Consumer,
        trigger: InterruptTrigger::Level,
        polarity: InterruptPolarity::ActiveLow,
        shared: true,
        interrupts: &[5, 10, 11],
    };
    let gsi = Interrupt {
        usage: ResourceUsage::Consumer,
        trigger: InterruptTrigger::Edge,
        polarity: InterruptPolarity::ActiveHigh,
        shared: false,
        interrupts: &[0x100],
    };
    let ours = encode(|w| {
        w.scope("\\_SB", |w| {
            w.device("PCI0", |w| {
                w.name("_HID", &EisaId("PNP0A08"));
                w.name("_CID", &EisaId("PNP0A03"));
                w.name("_UID", &0u8);
                w.name(
                    "_CRS",
                    &ResourceTemplate(&[&bus, &cf8, &io_low, &io_high, &vga, &mmio, &mmio64]),
                )
            });
            w.device("RTC", |w| {
                w.name("_HID", &EisaId("PNP0B00"));
                w.name("_CRS", &ResourceTemplate(&[&rtc_io, &rtc_irq]))
            });
            w.device("LNKA", |w| {
                w.name("_HID", &EisaId("PNP0C0F"));
                w.name("_UID", &1u8);
                w.name("_PRS", &ResourceTemplate(&[&link]));
                w.name("_CRS", &ResourceTemplate(&[&gsi]))
            })
        })
    });
    assert_matches_iasl("resources", asl, &ours);
}

#[test]
fn processor_devices() {
    let asl = r#"
        Scope (\_SB) {
            Device (C000) {
                Name (_HID, "ACPI0007")
                Name (_UID, Zero)
                Method (_STA, 0, NotSerialized) { Return (0x0F) }
                Method (_MAT, 0, NotSerialized) {
                    Return (Buffer () { 0x00, 0x08, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00 })
                }
            }
            Device (C12C) {
                Name (_HID, "ACPI0007")
                Name (_UID, 0x012C)
                Method (_STA, 0, NotSerialized) { Return (Zero) }
                Method (_MAT, 0, NotSerialized) {
                    Return (Buffer () { 0x09, 0x10, 0x00, 0x00, 0x58, 0x02, 0x00, 0x00,
                                        0x02, 0x00, 0x00, 0x00, 0x2C, 0x01, 0x00, 0x00 })
                }
            }
        }
    "#;
    let cpu0 = ProcessorDevice {
        name: "C000",
        madt_entry: MadtProcessor { uid: 0, apic_id: 0, state: ProcessorState::Enabled },
        status: 0x0f,
    };
    let cpu300 = ProcessorDevice {
        name: "C12C",
        madt_entry: MadtProcessor { uid: 300, apic_id: 600, state: ProcessorState::OnlineCapable },
        status: 0,
    };
    let ours = encode(|w| {
        w.scope("\\_SB", |w| {
            w.emit(&cpu0);
            w.emit(&cpu300)
        })
    });
    assert_matches_iasl("processors", asl, &ours);
}

#[test]
fn long_package_lengths() {
    // A method body over 63 bytes (2-byte PkgLength), a scope over 4095
    // bytes (3-byte PkgLength), a buffer and a package over 63 bytes.
    let mut asl = String::from("Method (LONG, 0, NotSerialized) {\n");
    for i in 0..20 {
        asl += &format!("Store (0x{:X}, Local0)\n", 0x1000 + i);
    }
    asl += "Return (Local0)\n}\nScope (\\) {\n";
    for i in 0..600 {
        asl += &format!("Name (N{i:03X}, 0x{:X})\n", 0x10000 + i);
    }
    asl += "}\n";
    let big: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    asl += "Name (BUF, Buffer () {";
    asl += &big.iter().map(|b| format!("0x{b:02X}")).collect::<Vec<_>>().join(", ");
    asl += "})\nName (PKG, Package () {";
    asl += &(0..40).map(|i| format!("0x{:X}", 0x100 + i)).collect::<Vec<_>>().join(", ");
    asl += "})\n";

    let names: Vec<String> = (0..600).map(|i| format!("N{i:03X}")).collect();
    let elements: Vec<u16> = (0..40).map(|i| 0x100 + i).collect();
    let element_refs: Vec<&dyn Aml> = elements.iter().map(|e| e as &dyn Aml).collect();
    let ours = encode(|w| {
        w.method("LONG", 0, false, |w| {
            for i in 0..20u16 {
                w.store(&(0x1000 + i), &Local(0));
            }
            w.return_value(&Local(0))
        });
        w.scope("\\", |w| {
            for (i, name) in names.iter().enumerate() {
                w.name(name, &(0x10000 + i as u32));
            }
        });
        w.name("BUF", &Buffer(&big));
        w.name("PKG", &Package(&element_refs))
    });
    assert!(ours.len() > 4096);
    assert_matches_iasl("long", &asl, &ours);
}

#[test]
fn packages_over_255_elements_use_var_package() {
    let asl = format!(
        "Name (BIG, Package () {{ {} }})\n",
        (0..300).map(|i| format!("0x{:X}", i % 200 + 2)).collect::<Vec<_>>().join(", ")
    );
    let values: Vec<u8> = (0..300).map(|i| (i % 200 + 2) as u8).collect();
    let refs: Vec<&dyn Aml> = values.iter().map(|v| v as &dyn Aml).collect();
    let ours = encode(|w| w.name("BIG", &Package(&refs)));
    assert_matches_iasl("varpackage", &asl, &ours);
}

#[test]
fn encoder_errors_instead_of_panicking() {
    let mut buf = [0u8; 64];
    let mut w = AmlWriter::new(&mut buf);
    w.name("lower", &1u8);
    assert_eq!(w.finish(), Err(Error::InvalidName));
    let mut w = AmlWriter::new(&mut buf);
    w.method("M", 8, false, |_| ());
    assert!(matches!(w.finish(), Err(Error::InvalidAmlOperand(_))));
    let mut w = AmlWriter::new(&mut buf);
    w.emit(&Arg(7));
    assert!(matches!(w.finish(), Err(Error::InvalidAmlOperand(_))));
    let mut w = AmlWriter::new(&mut buf);
    w.emit(&Local(8));
    assert!(matches!(w.finish(), Err(Error::InvalidAmlOperand(_))));
    let mut w = AmlWriter::new(&mut buf);
    w.name("B", &Buffer(&[0; 100]));
    assert!(matches!(w.finish(), Err(Error::BufferTooSmall { .. })));
    let word_too_big = AddressSpace { max: 0x1_0000, ..AddressSpace::word_io(0, 0xffff) };
    let mut w = AmlWriter::new(&mut buf);
    w.emit(&ResourceTemplate(&[&word_too_big]));
    assert!(matches!(w.finish(), Err(Error::InvalidAmlOperand(_))));
    assert!(IrqNoFlags::new(&[16]).is_err());
}
