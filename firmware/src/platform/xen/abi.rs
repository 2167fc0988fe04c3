//! Xen's guest ABI as this firmware uses it: hypercall and sub-operation numbers, and the
//! argument structures with the layout of the x86-64 guest ABI (we call Xen from long mode,
//! so `unsigned long`, `xen_pfn_t`, `xen_ulong_t` and guest handles are 8 bytes).
//!
//! Every number and layout is taken from Xen's public headers (xen/include/public/); the
//! header each comes from is named next to it. The host tests in `super::tests` pin every
//! size and field offset.

#![allow(dead_code)] // a complete ABI subset: some numbers document Xen more than we use

/// Hypercall numbers (xen.h).
pub(crate) mod hypercall {
    pub const MEMORY_OP: u32 = 12;
    pub const XEN_VERSION: u32 = 17;
    pub const VCPU_OP: u32 = 24;
    pub const SCHED_OP: u32 = 29;
    pub const EVENT_CHANNEL_OP: u32 = 32;
    pub const HVM_OP: u32 = 34;
}

/// Each hypercall has a 32-byte stub in the hypercall page (arch-x86/xen-x86_64.h).
pub(crate) const HYPERCALL_STUB_SIZE: u64 = 32;

/// `DOMID_SELF` (xen.h).
pub(crate) const DOMID_SELF: u16 = 0x7FF0;

/// memory_op sub-operations (memory.h).
pub(crate) mod xenmem {
    pub const POPULATE_PHYSMAP: u64 = 6;
    pub const ADD_TO_PHYSMAP: u64 = 7;
    pub const MEMORY_MAP: u64 = 9;
    pub const REMOVE_FROM_PHYSMAP: u64 = 15;
    pub const GET_VNUMAINFO: u64 = 26;
    pub const RESERVED_DEVICE_MEMORY_MAP: u64 = 27;
    /// `flags` of the RDM map request: every region, not one device's.
    pub const RDM_ALL: u32 = 1;
    /// `space` of add_to_physmap (enum phys_map_space).
    pub const MAPSPACE_SHARED_INFO: u32 = 0;
    pub const MAPSPACE_GMFN: u32 = 2;
}

/// hvm_op sub-operations (hvm/hvm_op.h) and parameters (hvm/params.h).
pub(crate) mod hvmop {
    pub const SET_PARAM: u64 = 0;
    pub const GET_PARAM: u64 = 1;
}
pub(crate) mod param {
    pub const CALLBACK_IRQ: u32 = 0;
    pub const STORE_PFN: u32 = 1;
    pub const STORE_EVTCHN: u32 = 2;
    pub const ACPI_IOPORTS_LOCATION: u32 = 19;
    pub const VM_GENERATION_ID_ADDR: u32 = 34;
    /// CALLBACK_IRQ's value: delivery type in bits 63:56 ...
    pub const CALLBACK_TYPE_SHIFT: u32 = 56;
    /// ... type 0: bits 55:0 are a GSI (GSI 0 cannot be used: value 0 means "none").
    pub const CALLBACK_TYPE_GSI: u64 = 0;
}

/// xen_version sub-operations (version.h).
pub(crate) mod xenver {
    pub const VERSION: u64 = 0;
    pub const EXTRAVERSION: u64 = 1;
    /// `xen_extraversion_t` is `char[16]`.
    pub const EXTRAVERSION_LEN: usize = 16;
    /// The domain's handle, `xen_domain_handle_t` (`uint8_t[16]`): the UUID the toolstack
    /// gave the domain, in RFC 4122 byte order.
    pub const GUEST_HANDLE: u64 = 8;
}

/// sched_op sub-operations and shutdown reasons (sched.h).
pub(crate) mod schedop {
    pub const SHUTDOWN: u64 = 2;
    /// Block until one of the listed event channels is pending or the timeout passes.
    pub const POLL: u64 = 3;
}

/// The reasons of `SCHEDOP_shutdown` this firmware uses (sched.h, SHUTDOWN_*).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum ShutdownReason {
    /// Normal exit: the toolstack cleans up (or preserves, with on_poweroff="preserve").
    Poweroff = 0,
    Reboot = 1,
    /// "Tell controller we've crashed": on_crash applies, `xl list` shows "c".
    Crash = 3,
}

/// event_channel_op sub-operations (event_channel.h).
pub(crate) mod evtchnop {
    pub const SEND: u64 = 4;
}

/// Errno values Xen returns negated (errno.h).
pub(crate) mod errno {
    pub const EPERM: i64 = 1;
    pub const ENOENT: i64 = 2;
    pub const EFAULT: i64 = 14;
    pub const EACCES: i64 = 13;
    pub const EINVAL: i64 = 22;
    pub const ERANGE: i64 = 34;
    pub const ENOSYS: i64 = 38;
    pub const EOPNOTSUPP: i64 = 95;
    pub const ENOBUFS: i64 = 105;
}

/// `struct xen_hvm_param` (hvm/hvm_op.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct HvmParam {
    pub domid: u16,
    pub pad: u16,
    pub index: u32,
    pub value: u64,
}

/// `struct xen_memory_map` (memory.h): in, the buffer's capacity in entries; out, how many
/// entries Xen wrote.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct MemoryMap {
    pub nr_entries: u32,
    pub buffer: u64,
}

/// One entry of the memory map: the BIOS E820 format, packed to 20 bytes (Xen's
/// `struct __packed e820entry`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C, packed)]
pub(crate) struct E820Entry {
    pub addr: u64,
    pub size: u64,
    pub kind: u32,
}

/// `struct xen_reserved_device_memory` (memory.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct ReservedDeviceMemory {
    pub start_pfn: u64,
    pub nr_pages: u64,
}

/// `struct xen_reserved_device_memory_map` (memory.h); `dev` is `physdev_pci_device_t`
/// (physdev.h: seg u16, bus u8, devfn u8), unused with [`xenmem::RDM_ALL`].
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct ReservedDeviceMemoryMap {
    pub flags: u32,
    pub nr_entries: u32,
    pub buffer: u64,
    pub dev_seg: u16,
    pub dev_bus: u8,
    pub dev_devfn: u8,
}

/// `struct xen_memory_reservation` (memory.h), for populate_physmap.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct MemoryReservation {
    pub extent_start: u64,
    pub nr_extents: u64,
    pub extent_order: u32,
    pub mem_flags: u32,
    pub domid: u16,
}

/// `struct xen_add_to_physmap` (memory.h).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct AddToPhysmap {
    pub domid: u16,
    pub size: u16,
    pub space: u32,
    pub idx: u64,
    pub gpfn: u64,
}

/// `struct xen_vnuma_topology_info` (memory.h). The three handles sit in unions padded to
/// 8 bytes, which on x86-64 are just the pointer.
#[derive(Clone, Copy, Debug, Default)]
#[repr(C)]
pub(crate) struct VnumaTopologyInfo {
    pub domid: u16,
    pub pad: u16,
    pub nr_vnodes: u32,
    pub nr_vcpus: u32,
    pub nr_vmemranges: u32,
    pub vdistance: u64,
    pub vcpu_to_vnode: u64,
    pub vmemrange: u64,
}

/// `struct xen_vmemrange` (memory.h).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct VmemRange {
    pub start: u64,
    pub end: u64,
    pub flags: u32,
    pub nid: u32,
}

/// `struct sched_shutdown` (sched.h).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct SchedShutdown {
    pub reason: u32,
}

/// `struct sched_poll` (sched.h): `ports` is a guest pointer to `nr_ports` ports; `timeout`
/// is an absolute Xen system time in nanoseconds, 0 for none.
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct SchedPoll {
    pub ports: u64,
    pub nr_ports: u32,
    pub pad: u32,
    pub timeout: u64,
}

/// `struct xen_remove_from_physmap` (memory.h).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct RemoveFromPhysmap {
    pub domid: u16,
    pub pad: [u16; 3],
    pub gpfn: u64,
}

/// Offsets in `struct shared_info` (xen.h, arch-x86/xen.h). The layout is the same whether
/// Xen latched the 32- or the 64-bit format for the domain: `vcpu_info` is 64 bytes either
/// way, with its `vcpu_time_info` at offset 32, and the pending bitmap reads the same as
/// bytes whether its words are 32 or 64 bits.
pub(crate) mod shared_info {
    /// `vcpu_info[XEN_LEGACY_MAX_VCPUS]`, 64 bytes each.
    pub const VCPU_INFO_SIZE: usize = 64;
    /// `struct vcpu_time_info` within a `vcpu_info`.
    pub const VCPU_TIME: usize = 32;
    /// `evtchn_pending`: one bit per event channel port, after the 32 `vcpu_info`s.
    pub const EVTCHN_PENDING: usize = 32 * VCPU_INFO_SIZE;
    /// Ports the 2-level event channel ABI has (the bitmap's bits).
    pub const EVTCHN_PORTS: u32 = 64 * 64;
    /// Within `vcpu_time_info`: version (u32), pad, tsc_timestamp (u64), system_time (u64),
    /// tsc_to_system_mul (u32), tsc_shift (i8).
    pub const TIME_VERSION: usize = 0;
    pub const TIME_TSC_TIMESTAMP: usize = 8;
    pub const TIME_SYSTEM_TIME: usize = 16;
    pub const TIME_MUL: usize = 24;
    pub const TIME_SHIFT: usize = 28;
}

/// `struct evtchn_send` (event_channel.h).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub(crate) struct EvtchnSend {
    pub port: u32,
}

/// VCPUOP sub-operations (vcpu.h); the second argument is the vCPU number.
pub(crate) mod vcpuop {
    pub const INITIALISE: u64 = 0;
    pub const UP: u64 = 1;
    pub const DOWN: u64 = 2;
}

/// `struct vcpu_hvm_context` (hvm/hvm_vcpu.h) with its 32-bit register set, which is what a
/// vCPU started in protected mode takes (`mode` [`VcpuHvmContext::MODE_32B`]). The union
/// member for 64-bit mode is 112 bytes, shorter than this one, so the 32-bit layout fixes
/// the structure's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct VcpuHvmContext {
    pub mode: u32,
    pub pad: u32,
    pub regs: VcpuHvmX86_32,
}

impl VcpuHvmContext {
    pub const MODE_32B: u32 = 0;
}

/// `struct vcpu_hvm_x86_32` (hvm/hvm_vcpu.h). The `*_ar` fields are descriptor attribute
/// bits 40-55 compressed to 12 bits (type, S, DPL, P, AVL, L, D/B, G).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct VcpuHvmX86_32 {
    pub eax: u32,
    pub ecx: u32,
    pub edx: u32,
    pub ebx: u32,
    pub esp: u32,
    pub ebp: u32,
    pub esi: u32,
    pub edi: u32,
    pub eip: u32,
    pub eflags: u32,
    pub cr0: u32,
    pub cr3: u32,
    pub cr4: u32,
    pub pad1: u32,
    pub efer: u64,
    pub cs_base: u32,
    pub ds_base: u32,
    pub ss_base: u32,
    pub es_base: u32,
    pub tr_base: u32,
    pub cs_limit: u32,
    pub ds_limit: u32,
    pub ss_limit: u32,
    pub es_limit: u32,
    pub tr_limit: u32,
    pub cs_ar: u16,
    pub ds_ar: u16,
    pub ss_ar: u16,
    pub es_ar: u16,
    pub tr_ar: u16,
    pub pad2: [u16; 3],
}

/// The xenstore ring page (io/xs_wire.h).
pub(crate) mod xs {
    pub const RING_SIZE: u32 = 1024;
    pub const PAYLOAD_MAX: u32 = 4096;
    /// Longest relative path the daemon accepts.
    pub const REL_PATH_MAX: usize = 2048;
    pub const DIRECTORY: u32 = 1;
    pub const READ: u32 = 2;
    pub const WRITE: u32 = 11;
    pub const WATCH_EVENT: u32 = 15;
    pub const ERROR: u32 = 16;
    /// `XS_DEBUG` (= `XS_CONTROL`), which clients skip.
    pub const DEBUG: u32 = 0;
    pub const SERVER_FEATURE_RECONNECTION: u32 = 1;
    pub const CONNECTED: u32 = 0;
    pub const RECONNECT: u32 = 1;
}

/// `struct xenstore_domain_interface` (io/xs_wire.h).
#[derive(Debug)]
#[repr(C)]
pub(crate) struct XenstoreDomainInterface {
    pub req: [u8; xs::RING_SIZE as usize],
    pub rsp: [u8; xs::RING_SIZE as usize],
    pub req_cons: u32,
    pub req_prod: u32,
    pub rsp_cons: u32,
    pub rsp_prod: u32,
    pub server_features: u32,
    pub connection: u32,
    pub error: u32,
    pub evtchn_port: u32,
}

/// `struct xsd_sockmsg` (io/xs_wire.h), the header of every message, followed by `len`
/// payload bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub(crate) struct XsdSockmsg {
    pub kind: u32,
    pub req_id: u32,
    pub tx_id: u32,
    pub len: u32,
}

impl XsdSockmsg {
    pub const SIZE: usize = 16;

    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        for (slot, v) in b.chunks_exact_mut(4).zip([self.kind, self.req_id, self.tx_id, self.len]) {
            slot.copy_from_slice(&v.to_le_bytes());
        }
        b
    }

    pub fn from_bytes(b: &[u8; Self::SIZE]) -> Self {
        let at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        XsdSockmsg { kind: at(0), req_id: at(4), tx_id: at(8), len: at(12) }
    }
}

/// `struct hvm_info_table` (hvm/hvm_info_table.h), at [`HVM_INFO_PADDR`].
pub(crate) mod hvm_info {
    /// `(HVM_INFO_PFN << 12) + HVM_INFO_OFFSET` = 0x9F000 + 0x800.
    pub const PADDR: u64 = 0x9_F800;
    pub const SIGNATURE: &[u8; 8] = b"HVM INFO";
    pub const MAX_VCPUS: u32 = 128;
    pub const OFF_LENGTH: usize = 8;
    pub const OFF_CHECKSUM: usize = 12;
    pub const OFF_APIC_MODE: usize = 13;
    pub const OFF_NR_VCPUS: usize = 16;
    pub const OFF_LOW_MEM_PGEND: usize = 20;
    pub const OFF_RESERVED_MEM_PGSTART: usize = 24;
    pub const OFF_HIGH_MEM_PGEND: usize = 28;
    pub const OFF_VCPU_ONLINE: usize = 32;
    /// `sizeof(struct hvm_info_table)` with 128 vCPUs: 32 + 16 bytes of bitmap.
    pub const SIZE: usize = OFF_VCPU_ONLINE + (MAX_VCPUS as usize).div_ceil(8);
}

/// `space` of XENMEM_add_to_physmap for a run of pages (memory.h, `XENMAPSPACE_gmfn_range`):
/// `size` pages from guest frame `idx` move to guest frame `gpfn` on. Valid with
/// [`AddToPhysmap`] only (not the batch call); `size` is its `uint16_t`, so one call moves
/// at most 65535 pages.
pub(crate) const MAPSPACE_GMFN_RANGE: u32 = 3;
