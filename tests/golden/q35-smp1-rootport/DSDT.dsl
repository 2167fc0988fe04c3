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
 *     Length           0x00000C0B (3083)
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
            Name (_HID, EisaId ("PNP0A08") /* PCI Express Bus */)  // _HID: Hardware ID
            Name (_CID, EisaId ("PNP0A03") /* PCI Bus */)  // _CID: Compatible ID
            Name (_UID, Zero)  // _UID: Unique ID
            Name (_BBN, Zero)  // _BBN: BIOS Bus Number
            Name (NHPG, Zero)
            Method (_OSC, 4, Serialized)  // _OSC: Operating System Capabilities
            {
                CreateDWordField (Arg3, Zero, CDW1)
                If ((Arg0 != ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766") /* PCI Host Bridge Device */))
                {
                    CDW1 |= 0x04
                    Return (Arg3)
                }

                If ((Arg1 != One))
                {
                    CDW1 |= 0x08
                    Return (Arg3)
                }

                CreateDWordField (Arg3, 0x08, CDW3)
                Local0 = (CDW3 & 0xBF)
                If ((NHPG == Zero))
                {
                    Local0 &= 0xFE
                }

                If ((Local0 != CDW3))
                {
                    CDW1 |= 0x10
                }

                CDW3 = Local0
                Return (Arg3)
            }

            Method (_PRT, 0, NotSerialized)  // _PRT: PCI Routing Table
            {
                Return (PRTB ())
            }

            Device (LPC)
            {
                Name (_ADR, 0x001F0000)  // _ADR: Address
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
                Name (HFDC, Zero)
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
                        0x0CD8,             // Range Minimum
                        0x0CD8,             // Range Maximum
                        0x01,               // Alignment
                        0x0C,               // Length
                        )
                    IO (Decode16,
                        0xB000,             // Range Minimum
                        0xB000,             // Range Maximum
                        0x01,               // Alignment
                        0x80,               // Length
                        )
                })
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
            If (((Arg0 >= 0x19) && (Arg0 != 0x1E)))
            {
                Local0 = Arg1
            }
            Else
            {
                Local0 = (0x04 + ((Arg0 + Arg1) & 0x03))
            }

            If (PICM)
            {
                Local1 = Package (0x04)
                    {
                        Zero, 
                        Zero, 
                        Zero, 
                        Zero
                    }
                Local1 [0x03] = (0x10 + Local0)
                Return (Local1)
            }

            Return (LNKR (Local0))
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

            If ((Arg0 == 0x03))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKD, 
                    Zero
                })
            }

            If ((Arg0 == 0x04))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKE, 
                    Zero
                })
            }

            If ((Arg0 == 0x05))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKF, 
                    Zero
                })
            }

            If ((Arg0 == 0x06))
            {
                Return (Package (0x04)
                {
                    Zero, 
                    Zero, 
                    LNKG, 
                    Zero
                })
            }

            Return (Package (0x04)
            {
                Zero, 
                Zero, 
                LNKH, 
                Zero
            })
        }

        Device (LNKA)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, Zero)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQA))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQA))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQA = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQA |= 0x80
            }
        }

        Device (LNKB)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, One)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQB))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQB))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQB = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQB |= 0x80
            }
        }

        Device (LNKC)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x02)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQC))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQC))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQC = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQC |= 0x80
            }
        }

        Device (LNKD)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x03)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQD))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQD))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQD = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQD |= 0x80
            }
        }

        Device (LNKE)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x04)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQE))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQE))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQE = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQE |= 0x80
            }
        }

        Device (LNKF)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x05)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQF))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQF))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQF = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQF |= 0x80
            }
        }

        Device (LNKG)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x06)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQG))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQG))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQG = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQG |= 0x80
            }
        }

        Device (LNKH)
        {
            Name (_HID, EisaId ("PNP0C0F") /* PCI Interrupt Link Device */)  // _HID: Hardware ID
            Name (_UID, 0x07)  // _UID: Unique ID
            Method (_STA, 0, NotSerialized)  // _STA: Status
            {
                Return (LSTA (^^PCI0.LPC.PRQH))
            }

            Method (_PRS, 0, NotSerialized)  // _PRS: Possible Resource Settings
            {
                Return (LPRS ())
            }

            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Return (LCRS (^^PCI0.LPC.PRQH))
            }

            Method (_SRS, 1, NotSerialized)  // _SRS: Set Resource Settings
            {
                ^^PCI0.LPC.PRQH = LSRS (Arg0)
            }

            Method (_DIS, 0, NotSerialized)  // _DIS: Disable Device
            {
                ^^PCI0.LPC.PRQH |= 0x80
            }
        }
    }
}

