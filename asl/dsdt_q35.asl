/*
 * DSDT of the Q35/ICH9 platform: QEMU's `q35` machine.
 *
 * Q35 MCH 00:00.0 with PCIe ECAM, ICH9 LPC bridge 00:1F.0 (the PCI interrupt router, the
 * ISA devices and the ACPI PM block at 0xB000: chipset/pm.rs moves PMBASE there).
 *
 * This table is static. What the firmware decides at run time is in the SSDT it builds
 * (firmware/src/acpi/ssdt.rs): \_SB.PCI0._CRS (bus range and address windows), the
 * motherboard resource reserving the ECAM area (which the MCFG describes) and the
 * processor objects. Nothing here declares those names.
 *
 * Interrupt routing follows what the firmware programs (firmware/src/chipset/wiring.rs)
 * and is shared with the i440FX DSDT (pci_interrupts.asi): under Xen, Xen's rules (PIRQ
 * A-D only; E-H are disabled); under QEMU, the ICH9's: the chipset's own slots 25-29 and
 * 31 take PIRQA-D for INTA-D (the reset value of ICH9's DxxIR registers, which QEMU
 * implements); every other slot, 30 included, drives PIRQE-H as 4 + (slot + pin) mod 4.
 * The links start routed to ISA IRQs 10, 11, 5, 10, 11, 5, 10, 11 for PIC mode; in APIC
 * mode PIRQA-H are I/O APIC inputs 16-23 whatever the routing registers say. Devices
 * behind bridges and root ports reach bus 0 through the standard swizzle, which the OS
 * applies itself.
 *
 * PCI hotplug is native PCIe hotplug, granted through _OSC when the device model does not run
 * its own ACPI hotplug for the root ports (QEMU: `-global
 * ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off`). The firmware probes for that interface
 * and tells _OSC through \_SB.PCI0.NHPG, which it sets in the installed copy; with QEMU's
 * ACPI hotplug on, native PCIe hotplug is withheld (the ports then report empty slots) and,
 * since nothing here implements QEMU's ACPI hotplug, devices cannot be hot-plugged on that
 * configuration.
 */
DefinitionBlock ("", "DSDT", 2, "Xen", "HVM", 0x00000000)
{
    /*
     * Soft-off: SLP_TYP 0. QEMU's PM1 control emulation powers off on SLP_TYP 0 for both
     * ICH9 and PIIX4. S3 and S4 are not offered: nothing in the firmware tells whether
     * the machine supports them.
     */
    Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })

    Include ("pci_interrupts.asi")

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))     // PCI Express root complex
            Name (_CID, EisaId ("PNP0A03"))     // ... compatible with a PCI host bridge
            Name (_UID, Zero)
            Name (_BBN, Zero)                   // Root bus number (also for PCI_Config regions)

            /* 1 when the OS may take native PCIe hotplug control (set by the firmware). */
            Name (NHPG, Zero)

            /*
             * PCI Firmware Specification 3.3, 4.5: the OS asks for control of PCIe
             * features. The firmware has no run-time part (no SMM, no firmware-first
             * error handling, no ACPI hotplug on this platform), so it keeps nothing and
             * grants every control the specification defines:
             *   bit 0  PCIe native hotplug (the only hotplug here: root ports and
             *          downstream ports with slots)
             *   bit 1  SHPC native hotplug (pci-bridge devices)
             *   bit 2  PCIe native PME
             *   bit 3  PCIe AER
             *   bit 4  PCIe capability structure
             *   bit 5  LTR
             *   bit 7  DPC (with it the OS handles containment natively: no EDR here)
             * Bit 6 is reserved and higher bits are not defined: those are masked, and
             * the masking reported. Query (CDW1 bit 0) and a real request get the same
             * answer, since granting changes no state here.
             */
            Method (_OSC, 4, Serialized)
            {
                CreateDWordField (Arg3, Zero, CDW1)
                If ((Arg0 != ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766")))
                {
                    CDW1 |= 0x04                    // Unrecognized UUID
                    Return (Arg3)
                }

                If ((Arg1 != One))
                {
                    CDW1 |= 0x08                    // Unrecognized revision
                    Return (Arg3)
                }

                CreateDWordField (Arg3, 0x08, CDW3)
                Local0 = (CDW3 & 0xBF)
                If ((\_SB.PCI0.NHPG == Zero))
                {
                    Local0 &= 0xFE                  // No native PCIe hotplug
                }
                If ((Local0 != CDW3))
                {
                    CDW1 |= 0x10                    // Capabilities masked
                }

                CDW3 = Local0
                Return (Arg3)
            }

            Method (_PRT, 0, NotSerialized)
            {
                Return (\_SB.PRTB ())
            }

            /* ICH9 LPC bridge: the PIRQ router and the parent of the ISA devices. */
            Device (LPC)
            {
                Name (_ADR, 0x001F0000)

                /*
                 * PIRQA-D (config 0x60-0x63) and PIRQE-H (0x68-0x6B) route control: bits 3:0
                 * ISA IRQ, bit 7 off (ICH9 datasheet 13.1.17, 13.1.20).
                 */
                OperationRegion (PIRQ, PCI_Config, 0x60, 0x0C)
                Field (PIRQ, ByteAcc, NoLock, Preserve)
                {
                    PRQA,   8,
                    PRQB,   8,
                    PRQC,   8,
                    PRQD,   8,
                    Offset (0x08),
                    PRQE,   8,
                    PRQF,   8,
                    PRQG,   8,
                    PRQH,   8
                }

                Include ("isa_devices.asi")
            }

            /*
             * I/O ports the chipset and the hypervisor decode that belong to no device
             * with a driver: the OS must not hand them out. GPE0 (PMBASE + 0x20, 16 bytes)
             * lies inside the PM block.
             */
            Device (MRES)
            {
                Name (_HID, EisaId ("PNP0C02"))
                Name (_UID, One)
                Name (_CRS, ResourceTemplate ()
                {
                    IO (Decode16, 0x0CD8, 0x0CD8, 0x01, 0x0C)   // QEMU ACPI CPU hotplug
                    IO (Decode16, 0xB000, 0xB000, 0x01, 0x80)   // ICH9 PM block (PMBASE)
                })
            }
        }

        /*
         * HPET (at its architectural address on both QEMU and Xen). Present when its
         * capabilities register reads as something: Xen guests can run without one, and
         * the firmware installs the HPET table under the same test.
         */
        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103"))
            Name (_UID, Zero)
            OperationRegion (HPTR, SystemMemory, 0xFED00000, 0x04)
            Field (HPTR, DWordAcc, NoLock, Preserve)
            {
                HCAP,   32      // General capabilities and ID, low half
            }

            Method (_STA, 0, NotSerialized)
            {
                Local0 = HCAP
                If (((Local0 == Zero) || (Local0 == 0xFFFFFFFF)))
                {
                    Return (Zero)
                }

                Return (0x0F)
            }

            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadWrite, 0xFED00000, 0x00000400)
            })
        }

        /*
         * QEMU's ICH9 rule for pin Arg1 (0 = INTA) of bus-0 slot Arg0: the chipset's own
         * slots use PIRQA-D, the others PIRQE-H; PIC mode names the link, APIC mode its
         * I/O APIC input, 16 + link.
         */
        Method (QPRT, 2, NotSerialized)
        {
            If (((Arg0 >= 0x19) && (Arg0 != 0x1E)))
            {
                Local0 = Arg1                       // Chipset slot: INTx -> PIRQA-D
            }
            Else
            {
                Local0 = (0x04 + ((Arg0 + Arg1) & 0x03))  // PIRQE-H
            }

            If (PICM)
            {
                Local1 = Package (0x04) { Zero, Zero, Zero, Zero }
                Local1 [0x03] = (0x10 + Local0)
                Return (Local1)
            }

            Return (LNKR (Local0))
        }

        /* A _PRT entry naming link Arg0 (0 = LNKA); the caller fills address and pin. */
        Method (LNKR, 1, NotSerialized)
        {
            If ((Arg0 == Zero))
            {
                Return (Package (0x04) { Zero, Zero, LNKA, Zero })
            }

            If ((Arg0 == One))
            {
                Return (Package (0x04) { Zero, Zero, LNKB, Zero })
            }

            If ((Arg0 == 0x02))
            {
                Return (Package (0x04) { Zero, Zero, LNKC, Zero })
            }

            If ((Arg0 == 0x03))
            {
                Return (Package (0x04) { Zero, Zero, LNKD, Zero })
            }

            If ((Arg0 == 0x04))
            {
                Return (Package (0x04) { Zero, Zero, LNKE, Zero })
            }

            If ((Arg0 == 0x05))
            {
                Return (Package (0x04) { Zero, Zero, LNKF, Zero })
            }

            If ((Arg0 == 0x06))
            {
                Return (Package (0x04) { Zero, Zero, LNKG, Zero })
            }

            Return (Package (0x04) { Zero, Zero, LNKH, Zero })
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, Zero)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQA)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQA)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQA = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQA |= 0x80 }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQB)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQB)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQB = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQB |= 0x80 }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQC)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQC)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQC = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQC |= 0x80 }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQD)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQD)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQD = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQD |= 0x80 }
        }

        Device (LNKE)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x04)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQE)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQE)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQE = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQE |= 0x80 }
        }

        Device (LNKF)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x05)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQF)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQF)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQF = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQF |= 0x80 }
        }

        Device (LNKG)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x06)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQG)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQG)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQG = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQG |= 0x80 }
        }

        Device (LNKH)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x07)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.LPC.PRQH)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.LPC.PRQH)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.LPC.PRQH = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.LPC.PRQH |= 0x80 }
        }
    }
}
