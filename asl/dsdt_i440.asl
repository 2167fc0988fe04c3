/*
 * DSDT of the i440FX/PIIX platform: QEMU's `pc` machine and Xen's `xenfv`.
 *
 * Host bridge 00:00.0 (i440FX), PIIX3 PCI-ISA bridge 00:01.0 (the PCI interrupt router),
 * PIIX4 power management 00:01.3 with its PM block at 0xB000 (where Xen emulates it and
 * where the firmware moves it on QEMU: chipset/pm.rs).
 *
 * This table is static. What the firmware decides at run time is in the SSDT it builds
 * (firmware/src/acpi/ssdt.rs): \_SB.PCI0._CRS (bus range and address windows) and the
 * processor objects. Nothing here declares those names.
 *
 * Interrupt routing follows what the firmware programs (firmware/src/chipset/wiring.rs)
 * and is shared with the Q35 DSDT (pci_interrupts.asi): under Xen, Xen's rules; under
 * QEMU, the PIIX3's: pin P (0 = INTA) of bus-0 slot S drives PIRQ link (S + P - 1) mod 4
 * in both interrupt models (QEMU connects the PIC and the I/O APIC to the same ISA IRQ),
 * and the links start routed to ISA IRQs 10, 11, 5, 10. Devices behind bridges reach bus
 * 0 through the standard swizzle, which the OS applies itself (no _PRT below the root).
 */
DefinitionBlock ("", "DSDT", 2, "Xen", "HVM", 0x00000000)
{
    /*
     * Soft-off: SLP_TYP 0. QEMU's PM1 control emulation powers off on SLP_TYP 0 for both
     * PIIX4 and ICH9, and Xen's tables use 0 as well. S3 and S4 are not offered: nothing
     * in the firmware tells whether the toolstack supports them.
     */
    Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })

    Include ("pci_interrupts.asi")

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03"))     // PCI host bridge
            Name (_UID, Zero)
            Name (_BBN, Zero)                   // Root bus number (also for PCI_Config regions)

            Method (_PRT, 0, NotSerialized)
            {
                Return (\_SB.PRTB ())
            }

            /*
             * PIIX3 PCI-ISA bridge, function 0 of slot 1: the PIRQ router and the parent
             * of the ISA devices.
             */
            Device (ISA)
            {
                Name (_ADR, 0x00010000)

                /* PIRQA-D route control (PIIX3 config 0x60-0x63): bits 3:0 ISA IRQ, bit 7 off */
                OperationRegion (PIRQ, PCI_Config, 0x60, 0x04)
                Field (PIRQ, ByteAcc, NoLock, Preserve)
                {
                    PRQA,   8,
                    PRQB,   8,
                    PRQC,   8,
                    PRQD,   8
                }

                Include ("isa_devices.asi")
            }

            /*
             * I/O ports the chipset and the hypervisor decode that belong to no device
             * with a driver: the OS must not hand them out.
             */
            Device (MRES)
            {
                Name (_HID, EisaId ("PNP0C02"))
                Name (_UID, One)
                Name (_CRS, ResourceTemplate ()
                {
                    IO (Decode16, 0xAE00, 0xAE00, 0x01, 0x18)   // QEMU ACPI PCI hotplug
                    IO (Decode16, 0xAF00, 0xAF00, 0x01, 0x20)   // QEMU ACPI CPU hotplug
                    IO (Decode16, 0xAFE0, 0xAFE0, 0x01, 0x04)   // GPE0 (fixed by QEMU and Xen)
                    IO (Decode16, 0xB000, 0xB000, 0x01, 0x40)   // PIIX4 PM block (PMBA)
                })
            }

            /*
             * ACPI PCI hotplug of the bus-0 slots through QEMU's PIIX4 interface
             * (QEMU docs/specs/acpi_pci_hotplug.rst, hw/acpi/pcihp.c): one bit per slot
             * in each 32-bit register. With bridge hotplug support on (QEMU's default),
             * reading PCIU also clears it and every register refers to the bus that BNUM
             * selects, 0 being the root bus; without it, BNUM reads as 0 whatever is
             * written. Registers take 32-bit accesses only.
             */
            OperationRegion (PHPR, SystemIO, 0xAE00, 0x14)
            Field (PHPR, DWordAcc, NoLock, WriteAsZeros)
            {
                PCIU,   32,     // Read: slots with a device to announce (Device Check)
                PCID,   32,     // Read: slots with a removal request (Eject Request)
                B0EJ,   32,     // Write: eject the slot whose bit is set
                B0RM,   32,     // Read: slots whose device may be removed
                BNUM,   32      // Bus selector for the registers above
            }

            /*
             * Ejects slot Arg0 on bus 0. Every user of BNUM selects bus 0, so the
             * selection and the access need no serialization.
             */
            Method (PCEJ, 1, NotSerialized)
            {
                BNUM = Zero
                B0EJ = (One << Arg0)
            }

            /*
             * Hotplug slots 2-31. Slot 0 is the host bridge and slot 1 the PIIX
             * multi-function device (ISA above): QEMU never ejects either. No _STA: the OS
             * finds whether a device is there from its configuration space, as for any
             * hotplug slot, and an empty slot keeps its object for the next insertion.
             */
            Device (S10)
            {
                Name (_ADR, 0x00020000)
                Name (_SUN, 0x02)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x02) }
            }
            Device (S18)
            {
                Name (_ADR, 0x00030000)
                Name (_SUN, 0x03)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x03) }
            }
            Device (S20)
            {
                Name (_ADR, 0x00040000)
                Name (_SUN, 0x04)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x04) }
            }
            Device (S28)
            {
                Name (_ADR, 0x00050000)
                Name (_SUN, 0x05)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x05) }
            }
            Device (S30)
            {
                Name (_ADR, 0x00060000)
                Name (_SUN, 0x06)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x06) }
            }
            Device (S38)
            {
                Name (_ADR, 0x00070000)
                Name (_SUN, 0x07)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x07) }
            }
            Device (S40)
            {
                Name (_ADR, 0x00080000)
                Name (_SUN, 0x08)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x08) }
            }
            Device (S48)
            {
                Name (_ADR, 0x00090000)
                Name (_SUN, 0x09)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x09) }
            }
            Device (S50)
            {
                Name (_ADR, 0x000A0000)
                Name (_SUN, 0x0A)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x0A) }
            }
            Device (S58)
            {
                Name (_ADR, 0x000B0000)
                Name (_SUN, 0x0B)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x0B) }
            }
            Device (S60)
            {
                Name (_ADR, 0x000C0000)
                Name (_SUN, 0x0C)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x0C) }
            }
            Device (S68)
            {
                Name (_ADR, 0x000D0000)
                Name (_SUN, 0x0D)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x0D) }
            }
            Device (S70)
            {
                Name (_ADR, 0x000E0000)
                Name (_SUN, 0x0E)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x0E) }
            }
            Device (S78)
            {
                Name (_ADR, 0x000F0000)
                Name (_SUN, 0x0F)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x0F) }
            }
            Device (S80)
            {
                Name (_ADR, 0x00100000)
                Name (_SUN, 0x10)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x10) }
            }
            Device (S88)
            {
                Name (_ADR, 0x00110000)
                Name (_SUN, 0x11)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x11) }
            }
            Device (S90)
            {
                Name (_ADR, 0x00120000)
                Name (_SUN, 0x12)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x12) }
            }
            Device (S98)
            {
                Name (_ADR, 0x00130000)
                Name (_SUN, 0x13)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x13) }
            }
            Device (SA0)
            {
                Name (_ADR, 0x00140000)
                Name (_SUN, 0x14)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x14) }
            }
            Device (SA8)
            {
                Name (_ADR, 0x00150000)
                Name (_SUN, 0x15)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x15) }
            }
            Device (SB0)
            {
                Name (_ADR, 0x00160000)
                Name (_SUN, 0x16)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x16) }
            }
            Device (SB8)
            {
                Name (_ADR, 0x00170000)
                Name (_SUN, 0x17)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x17) }
            }
            Device (SC0)
            {
                Name (_ADR, 0x00180000)
                Name (_SUN, 0x18)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x18) }
            }
            Device (SC8)
            {
                Name (_ADR, 0x00190000)
                Name (_SUN, 0x19)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x19) }
            }
            Device (SD0)
            {
                Name (_ADR, 0x001A0000)
                Name (_SUN, 0x1A)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x1A) }
            }
            Device (SD8)
            {
                Name (_ADR, 0x001B0000)
                Name (_SUN, 0x1B)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x1B) }
            }
            Device (SE0)
            {
                Name (_ADR, 0x001C0000)
                Name (_SUN, 0x1C)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x1C) }
            }
            Device (SE8)
            {
                Name (_ADR, 0x001D0000)
                Name (_SUN, 0x1D)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x1D) }
            }
            Device (SF0)
            {
                Name (_ADR, 0x001E0000)
                Name (_SUN, 0x1E)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x1E) }
            }
            Device (SF8)
            {
                Name (_ADR, 0x001F0000)
                Name (_SUN, 0x1F)
                Method (_EJ0, 1, NotSerialized) { PCEJ (0x1F) }
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
         * QEMU's PIIX3 rule for pin Arg1 (0 = INTA) of bus-0 slot Arg0: slot 1 INTA drives
         * PIRQA, and the link's ISA IRQ serves both interrupt models.
         */
        Method (QPRT, 2, NotSerialized)
        {
            Return (LNKR (((Arg0 + Arg1 + 0x03) & 0x03)))
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

            Return (Package (0x04) { Zero, Zero, LNKD, Zero })
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, Zero)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQA)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQA)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQA = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQA |= 0x80 }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, One)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQB)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQB)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQB = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQB |= 0x80 }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x02)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQC)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQC)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQC = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQC |= 0x80 }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F"))
            Name (_UID, 0x03)
            Method (_STA, 0, NotSerialized) { Return (LSTA (\_SB.PCI0.ISA.PRQD)) }
            Method (_PRS, 0, NotSerialized) { Return (LPRS ()) }
            Method (_CRS, 0, NotSerialized) { Return (LCRS (\_SB.PCI0.ISA.PRQD)) }
            Method (_SRS, 1, NotSerialized) { \_SB.PCI0.ISA.PRQD = LSRS (Arg0) }
            Method (_DIS, 0, NotSerialized) { \_SB.PCI0.ISA.PRQD |= 0x80 }
        }
    }

    /*
     * GPE 1: QEMU signals bus-0 hotplug events (PIIX4 GPE0 status bit 1). Read each
     * pending-event register once (PCIU clears on read), then tell the OS: Device Check
     * (1) for an insertion, Eject Request (3) for a removal request.
     */
    Scope (\_GPE)
    {
        Method (_E01, 0, NotSerialized)
        {
            \_SB.PCI0.BNUM = Zero
            Local0 = \_SB.PCI0.PCIU
            Local1 = \_SB.PCI0.PCID
            If ((Local0 & 0x00000004)) { Notify (\_SB.PCI0.S10, One) }
            If ((Local1 & 0x00000004)) { Notify (\_SB.PCI0.S10, 0x03) }
            If ((Local0 & 0x00000008)) { Notify (\_SB.PCI0.S18, One) }
            If ((Local1 & 0x00000008)) { Notify (\_SB.PCI0.S18, 0x03) }
            If ((Local0 & 0x00000010)) { Notify (\_SB.PCI0.S20, One) }
            If ((Local1 & 0x00000010)) { Notify (\_SB.PCI0.S20, 0x03) }
            If ((Local0 & 0x00000020)) { Notify (\_SB.PCI0.S28, One) }
            If ((Local1 & 0x00000020)) { Notify (\_SB.PCI0.S28, 0x03) }
            If ((Local0 & 0x00000040)) { Notify (\_SB.PCI0.S30, One) }
            If ((Local1 & 0x00000040)) { Notify (\_SB.PCI0.S30, 0x03) }
            If ((Local0 & 0x00000080)) { Notify (\_SB.PCI0.S38, One) }
            If ((Local1 & 0x00000080)) { Notify (\_SB.PCI0.S38, 0x03) }
            If ((Local0 & 0x00000100)) { Notify (\_SB.PCI0.S40, One) }
            If ((Local1 & 0x00000100)) { Notify (\_SB.PCI0.S40, 0x03) }
            If ((Local0 & 0x00000200)) { Notify (\_SB.PCI0.S48, One) }
            If ((Local1 & 0x00000200)) { Notify (\_SB.PCI0.S48, 0x03) }
            If ((Local0 & 0x00000400)) { Notify (\_SB.PCI0.S50, One) }
            If ((Local1 & 0x00000400)) { Notify (\_SB.PCI0.S50, 0x03) }
            If ((Local0 & 0x00000800)) { Notify (\_SB.PCI0.S58, One) }
            If ((Local1 & 0x00000800)) { Notify (\_SB.PCI0.S58, 0x03) }
            If ((Local0 & 0x00001000)) { Notify (\_SB.PCI0.S60, One) }
            If ((Local1 & 0x00001000)) { Notify (\_SB.PCI0.S60, 0x03) }
            If ((Local0 & 0x00002000)) { Notify (\_SB.PCI0.S68, One) }
            If ((Local1 & 0x00002000)) { Notify (\_SB.PCI0.S68, 0x03) }
            If ((Local0 & 0x00004000)) { Notify (\_SB.PCI0.S70, One) }
            If ((Local1 & 0x00004000)) { Notify (\_SB.PCI0.S70, 0x03) }
            If ((Local0 & 0x00008000)) { Notify (\_SB.PCI0.S78, One) }
            If ((Local1 & 0x00008000)) { Notify (\_SB.PCI0.S78, 0x03) }
            If ((Local0 & 0x00010000)) { Notify (\_SB.PCI0.S80, One) }
            If ((Local1 & 0x00010000)) { Notify (\_SB.PCI0.S80, 0x03) }
            If ((Local0 & 0x00020000)) { Notify (\_SB.PCI0.S88, One) }
            If ((Local1 & 0x00020000)) { Notify (\_SB.PCI0.S88, 0x03) }
            If ((Local0 & 0x00040000)) { Notify (\_SB.PCI0.S90, One) }
            If ((Local1 & 0x00040000)) { Notify (\_SB.PCI0.S90, 0x03) }
            If ((Local0 & 0x00080000)) { Notify (\_SB.PCI0.S98, One) }
            If ((Local1 & 0x00080000)) { Notify (\_SB.PCI0.S98, 0x03) }
            If ((Local0 & 0x00100000)) { Notify (\_SB.PCI0.SA0, One) }
            If ((Local1 & 0x00100000)) { Notify (\_SB.PCI0.SA0, 0x03) }
            If ((Local0 & 0x00200000)) { Notify (\_SB.PCI0.SA8, One) }
            If ((Local1 & 0x00200000)) { Notify (\_SB.PCI0.SA8, 0x03) }
            If ((Local0 & 0x00400000)) { Notify (\_SB.PCI0.SB0, One) }
            If ((Local1 & 0x00400000)) { Notify (\_SB.PCI0.SB0, 0x03) }
            If ((Local0 & 0x00800000)) { Notify (\_SB.PCI0.SB8, One) }
            If ((Local1 & 0x00800000)) { Notify (\_SB.PCI0.SB8, 0x03) }
            If ((Local0 & 0x01000000)) { Notify (\_SB.PCI0.SC0, One) }
            If ((Local1 & 0x01000000)) { Notify (\_SB.PCI0.SC0, 0x03) }
            If ((Local0 & 0x02000000)) { Notify (\_SB.PCI0.SC8, One) }
            If ((Local1 & 0x02000000)) { Notify (\_SB.PCI0.SC8, 0x03) }
            If ((Local0 & 0x04000000)) { Notify (\_SB.PCI0.SD0, One) }
            If ((Local1 & 0x04000000)) { Notify (\_SB.PCI0.SD0, 0x03) }
            If ((Local0 & 0x08000000)) { Notify (\_SB.PCI0.SD8, One) }
            If ((Local1 & 0x08000000)) { Notify (\_SB.PCI0.SD8, 0x03) }
            If ((Local0 & 0x10000000)) { Notify (\_SB.PCI0.SE0, One) }
            If ((Local1 & 0x10000000)) { Notify (\_SB.PCI0.SE0, 0x03) }
            If ((Local0 & 0x20000000)) { Notify (\_SB.PCI0.SE8, One) }
            If ((Local1 & 0x20000000)) { Notify (\_SB.PCI0.SE8, 0x03) }
            If ((Local0 & 0x40000000)) { Notify (\_SB.PCI0.SF0, One) }
            If ((Local1 & 0x40000000)) { Notify (\_SB.PCI0.SF0, 0x03) }
            If ((Local0 & 0x80000000)) { Notify (\_SB.PCI0.SF8, One) }
            If ((Local1 & 0x80000000)) { Notify (\_SB.PCI0.SF8, 0x03) }
        }
    }
}
