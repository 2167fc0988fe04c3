/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version <masked>
 * Copyright (c) <masked>
 * 
 * Disassembly of WAET.aml
 *
 * ACPI Data Table [WAET]
 *
 * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue
 */

[000h 0000   4]                    Signature : "WAET"    [Windows ACPI Emulated Devices Table]
[004h 0004   4]                 Table Length : 00000028
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : <masked>
[00Ah 0010   6]                       Oem ID : "Xen   "
[010h 0016   8]                 Oem Table ID : "HVM     "
[018h 0024   4]                 Oem Revision : <masked>
[01Ch 0028   4]              Asl Compiler ID : "HVML"
[020h 0032   4]        Asl Compiler Revision : <masked>

[024h 0036   4]        Flags (decoded below) : 00000003
                        RTC needs no INT ack : 1
                     PM timer, one read only : 1

Raw Table Data: Length 40 (0x28)
    <masked> raw bytes: the fields above decode them
