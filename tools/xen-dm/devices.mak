# Devices of the project's Xen device model (qemu-system-i386, i386-softmmu).
# QEMU is configured with --without-default-devices: these boards and devices,
# and whatever they select, are all it has.

# The two PC machines: q35 (patched for Xen) and i440fx behind xenfv.
CONFIG_I440FX=y
CONFIG_Q35=y

# What a guest config may ask for through libxl 4.17 (emulated NICs, VGA, a
# PCI serial port) and what the tests put behind PCIe root ports.
CONFIG_PCIE_PORT=y
CONFIG_NVME_PCI=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_NET=y
CONFIG_E1000_PCI=y
CONFIG_E1000E_PCI_EXPRESS=y
CONFIG_RTL8139_PCI=y
CONFIG_SERIAL_PCI=y
CONFIG_VGA_PCI=y
CONFIG_VGA_CIRRUS=y
