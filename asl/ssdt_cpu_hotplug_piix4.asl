/*
 * vCPU hot-add under Xen on the PIIX4 (i440FX) device model: the presence bitmap at 0xAF00.
 * Everything else is cpu_hotplug.asi's.
 */
#define CPU_PRESENCE_BASE 0xAF00

DefinitionBlock ("", "SSDT", 2, "Xen", "CPUHP", 0x00000001)
{
#include "cpu_hotplug.asi"
}
