//! `hvmloader`: a memory-safe replacement for Xen's hvmloader, with the legacy i440FX/PIIX
//! platform and a Q35/ICH9 platform with PCIe ECAM.
//!
//! This library holds every decision the firmware makes, organised in rooms:
//!
//! | room        | what it does                                                        |
//! |-------------|---------------------------------------------------------------------|
//! | [`addr`]    | physical ranges, page and size units (a leaf every room uses)       |
//! | [`boot`]    | the boot sequence, from the start info to the hand-off             |
//! | [`bootinfo`]| parsing and validating `struct hvm_start_info`                      |
//! | [`cmdline`] | the firmware's own command-line options                             |
//! | [`console`] | COM1 and the 0xE9 debug port behind the `log` facade                |
//! | [`platform`]| what we run on (Xen or plain QEMU) and how the firmware stops       |
//! | [`chipset`] | i440FX vs Q35 detection and chipset registers                      |
//! | [`layout`]  | the MMIO hole, the ECAM area and the 64-bit window                   |
//! | [`pci`]     | config access (CF8/CFC, ECAM), probe, plan, program, INTx, hot-plug |
//! | [`cpu`]     | vCPU bring-up, topology, MTRRs, the IOAPIC's state                  |
//! | [`acpi`]    | the table set, run-time SSDT, DSDT settings, TPM, NUMA, self-test   |
//! | [`smbios`]  | SMBIOS 3.x/2.x tables                                               |
//! | [`legacy`]  | the MP table and `$PIR`, for guests that predate ACPI               |
//! | [`e820`]    | the memory map handed to whoever runs after us                      |
//! | [`handoff`] | Linux boot protocol, SeaBIOS and OVMF hand-off                      |
//! | [`sort`]    | small sorts for short lists, instead of core's large ones          |
//! | [`stats`]   | counts of device accesses and the run's time, for the benchmark      |
//! | [`time`]    | waiting without polling devices: the TSC and its rate               |
//! | [`arch`]    | the CPU: port I/O, physical memory, CPUID (with `unsafe`)           |
//!
//! Hardware is reached through small traits ([`arch::PortIo`], [`pci::ConfigSpace`],
//! [`arch::PhysMemory`]) so the logic runs on the host in unit tests against simulations.
//! The bare-metal runtime (entry, descriptor tables, heap, panic) is in `main.rs`; it takes
//! the [`arch::Machine`] once and lends it to [`boot::main`], where every port and memory
//! handle comes from.
//!
//! Each room is one file, `foo.rs`, with its parts (and its host tests, when they are long)
//! in `foo/`.

#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_op_in_unsafe_fn)]
#![warn(missing_debug_implementations)]

extern crate alloc;

mod acpi;
pub mod addr;
pub mod arch;
pub mod boot;
mod bootinfo;
mod chipset;
mod cmdline;
pub mod console;
mod cpu;
mod e820;
mod handoff;
mod layout;
mod legacy;
mod pci;
pub mod platform;
mod smbios;
mod sort;
pub mod stats;
mod time;
