/*
 * Windows' laptop/slate mode indicator, installed when Xen's platform/acpi_laptop_slate
 * is 1 (a toolstack that lets the guest's tools report whether a convertible is folded).
 *
 * The device is the one Microsoft documents for the "injection interface" of Windows'
 * laptop/slate mode (continuum): _HID ID9001, _CID PNP0C60. ID9001 is not a well-formed
 * ACPI or PNP ID (those have 7 or 8 characters), so iasl refuses it as a _HID object; a
 * method returning it gives the OS the same string.
 */
DefinitionBlock ("", "SSDT", 2, "Xen", "CONV", 0x00000001)
{
    Scope (\_SB)
    {
        Device (CONV)
        {
            Method (_HID, 0, NotSerialized)
            {
                Return ("ID9001")
            }

            Name (_CID, "PNP0C60")
        }
    }
}
