/*
 * vCPU hot-add under Xen on the ICH9 (Q35) device model: the presence bitmap at 0x0CD8.
 * Everything else is cpu_hotplug.asi's.
 */
#define CPU_PRESENCE_BASE 0x0CD8

DefinitionBlock ("", "SSDT", 2, "Xen", "CPUHP", 0x00000001)
{
#include "cpu_hotplug.asi"
}
