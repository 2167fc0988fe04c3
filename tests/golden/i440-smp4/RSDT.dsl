/*
 * Intel ACPI Component Architecture
 * AML/ASL+ Disassembler version <masked>
 * Copyright (c) <masked>
 * 
 * Disassembly of RSDT.aml
 *
 * ACPI Data Table [RSDT]
 *
 * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue
 */

[000h 0000   4]                    Signature : "RSDT"    [Root System Description Table]
[004h 0004   4]                 Table Length : 00000038
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : <masked>
[00Ah 0010   6]                       Oem ID : "Xen   "
[010h 0016   8]                 Oem Table ID : "HVM     "
[018h 0024   4]                 Oem Revision : <masked>
[01Ch 0028   4]              Asl Compiler ID : "HVML"
[020h 0032   4]        Asl Compiler Revision : <masked>

[024h 0036   4]       ACPI Table Address   0 : <FACP>
[028h 0040   4]       ACPI Table Address   1 : <APIC>
[02Ch 0044   4]       ACPI Table Address   2 : <HPET>
[030h 0048   4]       ACPI Table Address   3 : <WAET>
[034h 0052   4]       ACPI Table Address   4 : <SSDT1>

Raw Table Data: Length 56 (0x38)
    <masked> raw bytes: the fields above decode them
