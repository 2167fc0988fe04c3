//! The QEMU device mixes the tests and the benchmark boot the firmware with, kept in one
//! place so that "the PCI mix" means the same machine everywhere.

/// ivshmem-plain with a 1 GiB memory backend: a 1 GiB 64-bit prefetchable BAR2, which the
/// firmware must put above 4 GiB.
pub const IVSHMEM_1G: [&str; 4] = [
    "-object",
    "memory-backend-ram,id=shm,size=1G,share=on",
    "-device",
    "ivshmem-plain,memdev=shm",
];

/// q35: VGA, three PCIe root ports with virtio-net, NVMe and e1000e behind them, a
/// PCIe-to-PCI bridge (with its SHPC) and a conventional device behind it, a multi-function
/// slot. Add [`IVSHMEM_1G`] for a BAR above 4 GiB.
pub const Q35_PCI_MIX: [&str; 22] = [
    "-device",
    "VGA",
    "-device",
    "pcie-root-port,id=rp1,chassis=1,slot=1",
    "-device",
    "virtio-net-pci,bus=rp1",
    "-device",
    "pcie-root-port,id=rp2,chassis=2,slot=2",
    "-device",
    "nvme,serial=deadbeef,bus=rp2",
    "-device",
    "pcie-root-port,id=rp3,chassis=3,slot=3",
    "-device",
    "e1000e,bus=rp3",
    "-device",
    "pcie-pci-bridge,id=pb1,bus=pcie.0",
    "-device",
    "e1000,bus=pb1,addr=2",
    "-device",
    "virtio-net-pci,multifunction=on,addr=0x9.0",
    "-device",
    "virtio-rng-pci,addr=0x9.1",
];

/// pc: VGA, a PCI bridge with e1000 and virtio-blk behind it and a second bridge behind the
/// first (with virtio-net), a multi-function slot. Add [`IVSHMEM_1G`] for a BAR above 4 GiB.
pub const PC_PCI_MIX: [&str; 18] = [
    "-device",
    "VGA",
    "-device",
    "pci-bridge,id=br1,chassis_nr=1",
    "-device",
    "e1000,bus=br1,addr=1",
    "-device",
    "virtio-blk-pci,drive=d0,bus=br1,addr=2",
    "-drive",
    "if=none,id=d0,format=raw,file=null-co://,readonly=on",
    "-device",
    "pci-bridge,id=br2,chassis_nr=2,bus=br1,addr=3",
    "-device",
    "virtio-net-pci,bus=br2,addr=1",
    "-device",
    "virtio-net-pci,multifunction=on,addr=0x9.0",
    "-device",
    "virtio-rng-pci,addr=0x9.1",
];
