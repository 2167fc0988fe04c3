/*
 * RSDP decoded by cargo xtask acpi-dump in iasl's data-table layout
 *
 * Format: [HexOffset DecimalOffset ByteLength]  FieldName : FieldValue
 */

[000h 0000   8]                    Signature : "RSD PTR "
[008h 0008   1]                     Checksum : <masked>
[009h 0009   6]                       Oem ID : "Xen   "
[00Fh 0015   1]                     Revision : 02
[010h 0016   4]                 RSDT Address : <RSDT>
[014h 0020   4]                       Length : 00000024
[018h 0024   8]                 XSDT Address : <XSDT>
[020h 0032   1]            Extended Checksum : <masked>
[021h 0033   3]                     Reserved : 000000
