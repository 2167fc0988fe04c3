/*
 * The TPM 1.2 device, installed with the TCPA table when Xen's platform/tpm_version is 1
 * and a TPM answers on the TIS interface (firmware/src/acpi/tpm.rs probes it).
 *
 * The TIS registers sit at the address the TCG PC Client TIS specification fixes: five
 * localities of 4 KiB from 0xFED40000, all of which the device decodes. PNP0C31 is the ID
 * of a TIS-compatible TPM; Linux's tpm_tis and Windows' TPM driver bind to it.
 *
 * In \_SB, where ACPI places devices an OS enumerates (hvmloader puts its copy at the
 * namespace root).
 */
DefinitionBlock ("", "SSDT", 2, "Xen", "TPM12", 0x00000001)
{
    Scope (\_SB)
    {
        Device (TPM)
        {
            Name (_HID, EisaId ("PNP0C31"))
            // Present, enabled, shown, functioning: the table exists only when it answered.
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadWrite, 0xFED40000, 0x00005000)
            })
        }
    }
}
