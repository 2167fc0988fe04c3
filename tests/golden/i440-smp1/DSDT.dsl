/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version <masked>
 * Copyright (c) <masked>
 * 
 * Disassembling to symbolic ASL+ operators
 *
 * Disassembly of DSDT.aml
 *
 * Original Table Header:
 *     Signature        "DSDT"
 *     Length           0x0000137A (4986)
 *     Revision         0x02
 *     Checksum         <masked>
 *     OEM ID           "Xen"
 *     OEM Table ID     "HVM"
 *     OEM Revision     <masked>
 *     Compiler ID      "INTL"
 *     Compiler Version <masked>
 */
DefinitionBlock ("", "DSDT", 2, "Xen", "HVM", <masked>)
{
    Name (_S5, Package (0x04)  // _S5_: S5 System State
    {
        Zero, 
        Zero, 
        Zero, 
        Zero
    })
    Name (XENI, Zero)
    Name (PICM, Zero)
    Method (_PIC, 1, NotSerialized)  // _PIC: Interrupt Model
    {
        PICM = Arg0
    }

    Scope (_SB)
    {
        Method (PRTB, 0, NotSerialized)
        {
            Local0 = Package (0x80) {}
            Local1 = Zero
            While ((Local1 < 0x80))
            {
                Local2 = (Local1 >> 0x02)
                Local3 = (Local1 & 0x03)
                If (XENI)
                {
                    If (PICM)
                    {
                        Local4 = Package (0x04)
                            {
                                Zero, 
                                Zero, 
                                Zero, 
                                Zero
                            }
                        Local4 [0x03] = (((((Local2 << 0x02) + 
                            (Local2 >> 0x03)) + Local3) & 0x1F) + 0x10)
                    }
                    Else
                    {
                        Local4 = LNKR (((Local2 + Local3) & 0x03))
                    }
                }
                Else
                {
                    Local4 = QPRT (Local2, Local3)
                }

                Local4 [Zero] = ((Local2 << 0x10) | 0xFFFF)
                Local4 [One] = Local3
                Local0 [Local1] = Local4
                Local1++
            }

            Return (Local0)
        }

        Method (PRTX, 1, NotSerialized)
        {
            Local0 = Package (0x80) {}
            Local1 = Zero
            While ((Local1 < 0x80))
            {
                Local2 = (Local1 << One)
                Local4 = QPRT (DerefOf (Arg0 [Local2]), DerefOf (Arg0 [(
                    Local2 + One)]))
                Local4 [Zero] = (((Local1 >> 0x02) << 0x10) | 
                    0xFFFF)
                Local4 [One] = (Local1 & 0x03)
                Local0 [Local1] = Local4
                Local1++
            }

            Return (Local0)
        }

        Method (LFLG, 0, NotSerialized)
        {
            If (XENI)
            {
                Return (0x18)
            }

            Return (0x10)
        }

        Method (LPRS, 0, NotSerialized)
        {
            Local0 = ResourceTemplate ()
                {
                    IRQ (Level, ActiveLow, Shared, )
                        {5,10,11}
                }
            Local0 [0x03] = LFLG ()
            Return (Local0)
        }

        Method (LIRQ, 1, NotSerialized)
        {
            Local0 = (Arg0 & 0x0F)
            If (((Arg0 & 0x80) || (Local0 < 0x03)))
            {
                Return (Zero)
            }

            Return (Local0)
        }

        Method (LSTA, 1, NotSerialized)
        {
            If (LIRQ (Arg0))
            {
                Return (0x0B)
            }

            Return (0x09)
        }

        Method (LCRS, 1, NotSerialized)
        {
            Local0 = ResourceTemplate ()
                {
                    IRQ (Level, ActiveLow, Shared, )
                        {}
                }
            Local0 [0x03] = LFLG ()
            Local1 = LIRQ (Arg0)
            If (Local1)
            {
                Local2 = (One << Local1)
                Local0 [One] = Local2
                Local0 [0x02] = (Local2 >> 0x08)
            }

            Return (Local0)
        }

        Method (LSRS, 1, NotSerialized)
        {
            Local0 = (DerefOf (Arg0 [One]) | (DerefOf (Arg0 [0x02]
                ) << 0x08))
            FindSetRightBit (Local0, Local1)
            If (Local1)
            {
                Return ((Local1 - One))
            }

            Return (0x80)
        }
    }

    Scope (_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03") /* PCI Bus */)  // _HID: Hardware ID
            Name (_UID, Zero)  // _UID: Unique ID
            Name (_BBN, Zero)  // _BBN: BIOS Bus Number
            Method (_PRT, 0, NotSerialized)  // _PRT: PCI Routing Table
            {
                Return (PRTB ())
            }

            Device (ISA)
            {
                Name (_ADR, 0x00010000)  // _ADR: Address
                OperationRegion (PIRQ, PCI_Config, 0x60, 0x04)
                Field (PIRQ, ByteAcc, NoLock, Preserve)
                {
                    PRQA,   8, 
                    PRQB,   8, 
                    PRQC,   8, 
                    PRQD,   8
                }

                Device (PIC)
                {
                    Name (_HID, EisaId ("PNP0000") /* 8259-compatible Programmable Interrupt Controller */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0020,             // Range Minimum
                            0x0020,             // Range Maximum
                            0x01,               // Alignment
                            0x02,               // Length
                            )
                        IO (Decode16,
                            0x00A0,             // Range Minimum
                            0x00A0,             // Range Maximum
                            0x01,               // Alignment
                            0x02,               // Length
                            )
                        IO (Decode16,
                            0x04D0,             // Range Minimum
                            0x04D0,             // Range Maximum
                            0x01,               // Alignment
                            0x02,               // Length
                            )
                        IRQNoFlags ()
                            {2}
                    })
                }

                Device (TMR)
                {
                    Name (_HID, EisaId ("PNP0100") /* PC-class System Timer */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0040,             // Range Minimum
                            0x0040,             // Range Maximum
                            0x01,               // Alignment
                            0x04,               // Length
                            )
                        IRQNoFlags ()
                            {0}
                    })
                }

                Device (DMA)
                {
                    Name (_HID, EisaId ("PNP0200") /* PC-class DMA Controller */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        DMA (Compatibility, NotBusMaster, Transfer8, )
                            {4}
                        IO (Decode16,
                            0x0000,             // Range Minimum
                            0x0000,             // Range Maximum
                            0x01,               // Alignment
                            0x10,               // Length
                            )
                        IO (Decode16,
                            0x0081,             // Range Minimum
                            0x0081,             // Range Maximum
                            0x01,               // Alignment
                            0x03,               // Length
                            )
                        IO (Decode16,
                            0x0087,             // Range Minimum
                            0x0087,             // Range Maximum
                            0x01,               // Alignment
                            0x01,               // Length
                            )
                        IO (Decode16,
                            0x0089,             // Range Minimum
                            0x0089,             // Range Maximum
                            0x01,               // Alignment
                            0x03,               // Length
                            )
                        IO (Decode16,
                            0x008F,             // Range Minimum
                            0x008F,             // Range Maximum
                            0x01,               // Alignment
                            0x01,               // Length
                            )
                        IO (Decode16,
                            0x00C0,             // Range Minimum
                            0x00C0,             // Range Maximum
                            0x01,               // Alignment
                            0x20,               // Length
                            )
                    })
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00") /* AT Real-Time Clock */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0070,             // Range Minimum
                            0x0070,             // Range Maximum
                            0x01,               // Alignment
                            0x02,               // Length
                            )
                        IRQNoFlags ()
                            {8}
                    })
                }

                Device (FPU)
                {
                    Name (_HID, EisaId ("PNP0C04") /* x87-compatible Floating Point Processing Unit */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x00F0,             // Range Minimum
                            0x00F0,             // Range Maximum
                            0x01,               // Alignment
                            0x10,               // Length
                            )
                        IRQNoFlags ()
                            {13}
                    })
                }

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303") /* IBM Enhanced Keyboard (101/102-key, PS/2 Mouse) */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0060,             // Range Minimum
                            0x0060,             // Range Maximum
                            0x01,               // Alignment
                            0x01,               // Length
                            )
                        IO (Decode16,
                            0x0064,             // Range Minimum
                            0x0064,             // Range Maximum
                            0x01,               // Alignment
                            0x01,               // Length
                            )
                        IRQNoFlags ()
                            {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13") /* PS/2 Mouse */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IRQNoFlags ()
                            {12}
                    })
                }

                Name (HCM1, One)
                Name (HCM2, Zero)
                Name (HLPT, One)
                Name (HFDC, One)
                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501") /* 16550A-compatible COM Serial Port */)  // _HID: Hardware ID
                    Name (_UID, One)  // _UID: Unique ID
                    Method (_STA, 0, NotSerialized)  // _STA: Status
                    {
                        If (HCM1)
                        {
                            Return (0x0F)
                        }

                        Return (Zero)
                    }

                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x03F8,             // Range Minimum
                            0x03F8,             // Range Maximum
                            0x01,               // Alignment
                            0x08,               // Length
                            )
                        IRQNoFlags ()
                            {4}
                    })
                }

                Device (UAR2)
                {
                    Name (_HID, EisaId ("PNP0501") /* 16550A-compatible COM Serial Port */)  // _HID: Hardware ID
                    Name (_UID, 0x02)  // _UID: Unique ID
                    Method (_STA, 0, NotSerialized)  // _STA: Status
                    {
                        If (HCM2)
                        {
                            Return (0x0F)
                        }

                        Return (Zero)
                    }

                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x02F8,             // Range Minimum
                            0x02F8,             // Range Maximum
                            0x01,               // Alignment
                            0x08,               // Length
                            )
                        IRQNoFlags ()
                            {3}
                    })
                }

                Device (LPT1)
                {
                    Name (_HID, EisaId ("PNP0400") /* Standard LPT Parallel Port */)  // _HID: Hardware ID
                    Name (_UID, One)  // _UID: Unique ID
                    Method (_STA, 0, NotSerialized)  // _STA: Status
                    {
                        If (HLPT)
                        {
                            Return (0x0F)
                        }

                        Return (Zero)
                    }

                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0378,             // Range Minimum
                            0x0378,             // Range Maximum
                            0x01,               // Alignment
                            0x08,               // Length
                            )
                        IRQNoFlags ()
                            {7}
                    })
                }

                Device (FDC0)
                {
                    Name (_HID, EisaId ("PNP0700"))  // _HID: Hardware ID
                    Method (_STA, 0, NotSerialized)  // _STA: Status
                    {
                        If (HFDC)
                        {
                            Return (0x0F)
                        }

                        Return (Zero)
                    }

                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x03F0,             // Range Minimum
                            0x03F0,             // Range Maximum
                            0x01,               // Alignment
                            0x06,               // Length
                            )
                        IO (Decode16,
                            0x03F7,             // Range Minimum
                            0x03F7,             // Range Maximum
                            0x01,               // Alignment
                            0x01,               // Length
                            )
                        IRQNoFlags ()
                            {6}
                        DMA (Compatibility, NotBusMaster, Transfer8, )
                            {2}
                    })
                }

                Device (SPKR)
                {
                    Name (_HID, EisaId ("PNP0800") /* Microsoft Sound System Compatible Device */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0061,             // Range Minimum
                            0x0061,             // Range Maximum
                            0x01,               // Alignment
                            0x01,               // Length
                            )
                    })
                }
            }

            Device (MRES)
            {
                Name (_HID, EisaId ("PNP0C02") /* PNP Motherboard Resources */)  // _HID: Hardware ID
                Name (_UID, One)  // _UID: Unique ID
                Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                {
                    IO (Decode16,
                        0xAE00,             // Range Minimum
                        0xAE00,             // Range Maximum
                        0x01,               // Alignment
                        0x18,               // Length
                        )
                    IO (Decode16,
                        0xAF00,             // Range Minimum
                        0xAF00,             // Range Maximum
                        0x01,               // Alignment
                        0x20,               // Length
                        )
                    IO (Decode16,
                        0xAFE0,             // Range Minimum
                        0xAFE0,             // Range Maximum
                        0x01,               // Alignment
                        0x04,               // Length
                        )
                    IO (Decode16,
                        0xB000,             // Range Minimum
                        0xB000,             // Range Maximum
                        0x01,               // Alignment
                        0x40,               // Length
                        )
                })
            }

            OperationRegion (PHPR, SystemIO, 0xAE00, 0x14)
            Field (PHPR, DWordAcc, NoLock, WriteAsZeros)
            {
                PCIU,   32, 
                PCID,   32, 
                B0EJ,   32, 
                B0RM,   32, 
                BNUM,   32
            }

            Method (PCEJ, 1, NotSerialized)
            {
                BNUM = Zero
                B0EJ = (One << Arg0)
            }

            Device (S10)
            {
                Name (_ADR, 0x00020000)  // _ADR: Address
                Name (_SUN, 0x02)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x02)
                }
            }

            Device (S18)
            {
                Name (_ADR, 0x00030000)  // _ADR: Address
                Name (_SUN, 0x03)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x03)
                }
            }

            Device (S20)
            {
                Name (_ADR, 0x00040000)  // _ADR: Address
                Name (_SUN, 0x04)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x04)
                }
            }

            Device (S28)
            {
                Name (_ADR, 0x00050000)  // _ADR: Address
                Name (_SUN, 0x05)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x05)
                }
            }

            Device (S30)
            {
                Name (_ADR, 0x00060000)  // _ADR: Address
                Name (_SUN, 0x06)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x06)
                }
            }

            Device (S38)
            {
                Name (_ADR, 0x00070000)  // _ADR: Address
                Name (_SUN, 0x07)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x07)
                }
            }

            Device (S40)
            {
                Name (_ADR, 0x00080000)  // _ADR: Address
                Name (_SUN, 0x08)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x08)
                }
            }

            Device (S48)
            {
                Name (_ADR, 0x00090000)  // _ADR: Address
                Name (_SUN, 0x09)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x09)
                }
            }

            Device (S50)
            {
                Name (_ADR, 0x000A0000)  // _ADR: Address
                Name (_SUN, 0x0A)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x0A)
                }
            }

            Device (S58)
            {
                Name (_ADR, 0x000B0000)  // _ADR: Address
                Name (_SUN, 0x0B)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x0B)
                }
            }

            Device (S60)
            {
                Name (_ADR, 0x000C0000)  // _ADR: Address
                Name (_SUN, 0x0C)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x0C)
                }
            }

            Device (S68)
            {
                Name (_ADR, 0x000D0000)  // _ADR: Address
                Name (_SUN, 0x0D)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x0D)
                }
            }

            Device (S70)
            {
                Name (_ADR, 0x000E0000)  // _ADR: Address
                Name (_SUN, 0x0E)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x0E)
                }
            }

            Device (S78)
            {
                Name (_ADR, 0x000F0000)  // _ADR: Address
                Name (_SUN, 0x0F)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x0F)
                }
            }

            Device (S80)
            {
                Name (_ADR, 0x00100000)  // _ADR: Address
                Name (_SUN, 0x10)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x10)
                }
            }

            Device (S88)
            {
                Name (_ADR, 0x00110000)  // _ADR: Address
                Name (_SUN, 0x11)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x11)
                }
            }

            Device (S90)
            {
                Name (_ADR, 0x00120000)  // _ADR: Address
                Name (_SUN, 0x12)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x12)
                }
            }

            Device (S98)
            {
                Name (_ADR, 0x00130000)  // _ADR: Address
                Name (_SUN, 0x13)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x13)
                }
            }

            Device (SA0)
            {
                Name (_ADR, 0x00140000)  // _ADR: Address
                Name (_SUN, 0x14)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x14)
                }
            }

            Device (SA8)
            {
                Name (_ADR, 0x00150000)  // _ADR: Address
                Name (_SUN, 0x15)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x15)
                }
            }

            Device (SB0)
            {
                Name (_ADR, 0x00160000)  // _ADR: Address
                Name (_SUN, 0x16)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x16)
                }
            }

            Device (SB8)
            {
                Name (_ADR, 0x00170000)  // _ADR: Address
                Name (_SUN, 0x17)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x17)
                }
            }

            Device (SC0)
            {
                Name (_ADR, 0x00180000)  // _ADR: Address
                Name (_SUN, 0x18)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x18)
                }
            }

            Device (SC8)
            {
                Name (_ADR, 0x00190000)  // _ADR: Address
                Name (_SUN, 0x19)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x19)
                }
            }

            Device (SD0)
            {
                Name (_ADR, 0x001A0000)  // _ADR: Address
                Name (_SUN, 0x1A)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x1A)
                }
            }

            Device (SD8)
            {
                Name (_ADR, 0x001B0000)  // _ADR: Address
                Name (_SUN, 0x1B)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x1B)
                }
            }

            Device (SE0)
            {
                Name (_ADR, 0x001C0000)  // _ADR: Address
                Name (_SUN, 0x1C)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x1C)
                }
            }

            Device (SE8)
            {
                Name (_ADR, 0x001D0000)  // _ADR: Address
                Name (_SUN, 0x1D)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x1D)
                }
            }

            Device (SF0)
            {
                Name (_ADR, 0x001E0000)  // _ADR: Address
                Name (_SUN, 0x1E)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x1E)
                }
            }

            Device (SF8)
            {
                Name (_ADR, 0x001F0000)  // _ADR: Address
                Name (_SUN, 0x1F)  // _SUN: Slot User Number
                Method (_EJ0, 1, NotSerialized)  // _EJx: Eject Device, x=0-9
                {
                    PCEJ (0x1F)
                }
            }
        }

        Device (HPET)
        {
            Name (_HID, EisaId ("PNP0103") /* HPET System Timer */)  // _HID: Hardware ID
            Name (_UID, Zero)  // _UID: Unique ID
            OperationRegion (HPTR, SystemMemory, 0xFED00000, 0x04)
            Field (HPTR, DWordAcc, NoLock, Preserve)
            {
                HCAP,   32
            }

            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Local0 = HCAP /* \_SB_.HPET.HCAP */
                If (((Local0 == Zero) || (Local0 == 0xFFFFFFFF)))
                {
                    Return (Zero)
                }

                Return (0x0F)
            }

            Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
            {
                Memory32Fixed (ReadWrite,
                    0xFED00000,         // Address Base
                    0x00000400,         // Address Length
                    )
            })
        }

        Method (QPRT, 2, NotSerialized)
        {
            Return (LNKR ((((Arg0 + Arg1) + 0x03) & 0x03)))
        }

        Method (LNKR, 1, NotSerialized)
        {
            If ((Arg0 == Zero))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKA, 
                    Zero
                })
            }

            If ((Arg0 == One))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKB, 
                    Zero
                })
            }

            If ((Arg0 == 0x02))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKC, 
                    Zero
                })
            }

            Return (Package (0x04)
            {
                Zero, 
                Zero, 
                LNKD, 
                Zero
            })
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, Zero)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.ISA.PRQA))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.ISA.PRQA))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.ISA.PRQA = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.ISA.PRQA |= 0x80
            }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, One)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.ISA.PRQB))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.ISA.PRQB))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.ISA.PRQB = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.ISA.PRQB |= 0x80
            }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x02)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.ISA.PRQC))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.ISA.PRQC))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.ISA.PRQC = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.ISA.PRQC |= 0x80
            }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x03)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.ISA.PRQD))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.ISA.PRQD))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.ISA.PRQD = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.ISA.PRQD |= 0x80
            }
        }
    }

    Scope (_GPE)
    {
        Method (_E01, 0, NotSerialized)  // _Exx: Edge-Triggered GPE, xx=0x00-0xFF
        {
            \_SB.PCI0.BNUM = Zero
            Local0 = \_SB.PCI0.PCIU
            Local1 = \_SB.PCI0.PCID
            If ((Local0 & 0x04))
            {
                Notify (\_SB.PCI0.S10, One) // Device Check
            }

            If ((Local1 & 0x04))
            {
                Notify (\_SB.PCI0.S10, 0x03) // Eject Request
            }

            If ((Local0 & 0x08))
            {
                Notify (\_SB.PCI0.S18, One) // Device Check
            }

            If ((Local1 & 0x08))
            {
                Notify (\_SB.PCI0.S18, 0x03) // Eject Request
            }

            If ((Local0 & 0x10))
            {
                Notify (\_SB.PCI0.S20, One) // Device Check
            }

            If ((Local1 & 0x10))
            {
                Notify (\_SB.PCI0.S20, 0x03) // Eject Request
            }

            If ((Local0 & 0x20))
            {
                Notify (\_SB.PCI0.S28, One) // Device Check
            }

            If ((Local1 & 0x20))
            {
                Notify (\_SB.PCI0.S28, 0x03) // Eject Request
            }

            If ((Local0 & 0x40))
            {
                Notify (\_SB.PCI0.S30, One) // Device Check
            }

            If ((Local1 & 0x40))
            {
                Notify (\_SB.PCI0.S30, 0x03) // Eject Request
            }

            If ((Local0 & 0x80))
            {
                Notify (\_SB.PCI0.S38, One) // Device Check
            }

            If ((Local1 & 0x80))
            {
                Notify (\_SB.PCI0.S38, 0x03) // Eject Request
            }

            If ((Local0 & 0x0100))
            {
                Notify (\_SB.PCI0.S40, One) // Device Check
            }

            If ((Local1 & 0x0100))
            {
                Notify (\_SB.PCI0.S40, 0x03) // Eject Request
            }

            If ((Local0 & 0x0200))
            {
                Notify (\_SB.PCI0.S48, One) // Device Check
            }

            If ((Local1 & 0x0200))
            {
                Notify (\_SB.PCI0.S48, 0x03) // Eject Request
            }

            If ((Local0 & 0x0400))
            {
                Notify (\_SB.PCI0.S50, One) // Device Check
            }

            If ((Local1 & 0x0400))
            {
                Notify (\_SB.PCI0.S50, 0x03) // Eject Request
            }

            If ((Local0 & 0x0800))
            {
                Notify (\_SB.PCI0.S58, One) // Device Check
            }

            If ((Local1 & 0x0800))
            {
                Notify (\_SB.PCI0.S58, 0x03) // Eject Request
            }

            If ((Local0 & 0x1000))
            {
                Notify (\_SB.PCI0.S60, One) // Device Check
            }

            If ((Local1 & 0x1000))
            {
                Notify (\_SB.PCI0.S60, 0x03) // Eject Request
            }

            If ((Local0 & 0x2000))
            {
                Notify (\_SB.PCI0.S68, One) // Device Check
            }

            If ((Local1 & 0x2000))
            {
                Notify (\_SB.PCI0.S68, 0x03) // Eject Request
            }

            If ((Local0 & 0x4000))
            {
                Notify (\_SB.PCI0.S70, One) // Device Check
            }

            If ((Local1 & 0x4000))
            {
                Notify (\_SB.PCI0.S70, 0x03) // Eject Request
            }

            If ((Local0 & 0x8000))
            {
                Notify (\_SB.PCI0.S78, One) // Device Check
            }

            If ((Local1 & 0x8000))
            {
                Notify (\_SB.PCI0.S78, 0x03) // Eject Request
            }

            If ((Local0 & 0x00010000))
            {
                Notify (\_SB.PCI0.S80, One) // Device Check
            }

            If ((Local1 & 0x00010000))
            {
                Notify (\_SB.PCI0.S80, 0x03) // Eject Request
            }

            If ((Local0 & 0x00020000))
            {
                Notify (\_SB.PCI0.S88, One) // Device Check
            }

            If ((Local1 & 0x00020000))
            {
                Notify (\_SB.PCI0.S88, 0x03) // Eject Request
            }

            If ((Local0 & 0x00040000))
            {
                Notify (\_SB.PCI0.S90, One) // Device Check
            }

            If ((Local1 & 0x00040000))
            {
                Notify (\_SB.PCI0.S90, 0x03) // Eject Request
            }

            If ((Local0 & 0x00080000))
            {
                Notify (\_SB.PCI0.S98, One) // Device Check
            }

            If ((Local1 & 0x00080000))
            {
                Notify (\_SB.PCI0.S98, 0x03) // Eject Request
            }

            If ((Local0 & 0x00100000))
            {
                Notify (\_SB.PCI0.SA0, One) // Device Check
            }

            If ((Local1 & 0x00100000))
            {
                Notify (\_SB.PCI0.SA0, 0x03) // Eject Request
            }

            If ((Local0 & 0x00200000))
            {
                Notify (\_SB.PCI0.SA8, One) // Device Check
            }

            If ((Local1 & 0x00200000))
            {
                Notify (\_SB.PCI0.SA8, 0x03) // Eject Request
            }

            If ((Local0 & 0x00400000))
            {
                Notify (\_SB.PCI0.SB0, One) // Device Check
            }

            If ((Local1 & 0x00400000))
            {
                Notify (\_SB.PCI0.SB0, 0x03) // Eject Request
            }

            If ((Local0 & 0x00800000))
            {
                Notify (\_SB.PCI0.SB8, One) // Device Check
            }

            If ((Local1 & 0x00800000))
            {
                Notify (\_SB.PCI0.SB8, 0x03) // Eject Request
            }

            If ((Local0 & 0x01000000))
            {
                Notify (\_SB.PCI0.SC0, One) // Device Check
            }

            If ((Local1 & 0x01000000))
            {
                Notify (\_SB.PCI0.SC0, 0x03) // Eject Request
            }

            If ((Local0 & 0x02000000))
            {
                Notify (\_SB.PCI0.SC8, One) // Device Check
            }

            If ((Local1 & 0x02000000))
            {
                Notify (\_SB.PCI0.SC8, 0x03) // Eject Request
            }

            If ((Local0 & 0x04000000))
            {
                Notify (\_SB.PCI0.SD0, One) // Device Check
            }

            If ((Local1 & 0x04000000))
            {
                Notify (\_SB.PCI0.SD0, 0x03) // Eject Request
            }

            If ((Local0 & 0x08000000))
            {
                Notify (\_SB.PCI0.SD8, One) // Device Check
            }

            If ((Local1 & 0x08000000))
            {
                Notify (\_SB.PCI0.SD8, 0x03) // Eject Request
            }

            If ((Local0 & 0x10000000))
            {
                Notify (\_SB.PCI0.SE0, One) // Device Check
            }

            If ((Local1 & 0x10000000))
            {
                Notify (\_SB.PCI0.SE0, 0x03) // Eject Request
            }

            If ((Local0 & 0x20000000))
            {
                Notify (\_SB.PCI0.SE8, One) // Device Check
            }

            If ((Local1 & 0x20000000))
            {
                Notify (\_SB.PCI0.SE8, 0x03) // Eject Request
            }

            If ((Local0 & 0x40000000))
            {
                Notify (\_SB.PCI0.SF0, One) // Device Check
            }

            If ((Local1 & 0x40000000))
            {
                Notify (\_SB.PCI0.SF0, 0x03) // Eject Request
            }

            If ((Local0 & 0x80000000))
            {
                Notify (\_SB.PCI0.SF8, One) // Device Check
            }

            If ((Local1 & 0x80000000))
            {
                Notify (\_SB.PCI0.SF8, 0x03) // Eject Request
            }
        }
    }
}

