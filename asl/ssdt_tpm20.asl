/*
 * The TPM 2.0 device, installed with the TPM2 table when Xen's platform/tpm_version is 2
 * and a TPM answers on the CRB interface (firmware/src/acpi/tpm.rs probes it).
 *
 * MSFT0101 is the ID of a TPM 2.0 device; the OS learns the interface (CRB, start method
 * 7) and the control area from the TPM2 table. The CRB of locality 0 is one 4 KiB page at
 * 0xFED40000 (TCG PC Client Platform TPM Profile); only locality 0 is described, as the
 * device model emulates only that one.
 *
 * In \_SB, where ACPI places devices an OS enumerates (hvmloader puts its copy at the
 * namespace root).
 */
DefinitionBlock ("", "SSDT", 2, "Xen", "TPM20", 0x00000001)
{
    Scope (\_SB)
    {
        Device (TPM)
        {
            Name (_HID, "MSFT0101")
            // Present, enabled, shown, functioning: the table exists only when it answered.
            Name (_STA, 0x0F)
            Name (_CRS, ResourceTemplate ()
            {
                Memory32Fixed (ReadWrite, 0xFED40000, 0x00001000)
            })
        }
    }
}
