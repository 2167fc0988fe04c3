//! Typed hypercalls over a raw hypercall interface.
//!
//! [`Hypercall`] is the one raw entry point (the hypercall page on Xen, a fake hypervisor
//! in host tests, which decodes the same `#[repr(C)]` structures from the same pointers).
//! [`Xen`] builds the argument structures, makes the call and checks what comes back:
//! everything Xen returns is input.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::XenError;
use super::abi::{self, errno, hypercall as nr};
use crate::arch::HypercallPage;

/// The raw hypercall interface: `op` with up to five register arguments.
pub(crate) trait Hypercall {
    /// # Safety
    /// Arguments that are guest addresses must point to live structures of the layout the
    /// operation expects (see [`abi`]), writable where Xen writes, for the call's duration.
    unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64;
}

impl Hypercall for HypercallPage {
    unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
        crate::stats::HYPERCALLS.write();
        // SAFETY: forwarded contract.
        unsafe { HypercallPage::call(self, op, args) }
    }
}

/// Most memory-map entries read from Xen (libxl writes a handful; the firmware's E820
/// limit is 128).
pub(crate) const MAX_MEMORY_MAP_ENTRIES: usize = crate::bootinfo::MAX_MEMORY_MAP_ENTRIES as usize;
/// Most reserved-device-memory regions accepted (an RMRR per device, a few at most).
pub(crate) const MAX_RDM_ENTRIES: u32 = 256;
/// Bounds on what XENMEM_get_vnumainfo may ask us to allocate.
pub(crate) const MAX_VNODES: u32 = 64;
pub(crate) const MAX_VMEMRANGES: u32 = 256;

/// A guest pointer as a hypercall argument (identity-mapped: virtual = guest-physical).
fn ptr<T>(p: *const T) -> u64 {
    p as u64
}

/// A vNUMA topology from XENMEM_get_vnumainfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Vnuma {
    pub nr_vnodes: u32,
    /// `nr_vnodes * nr_vnodes` distances, row-major.
    pub distance: Vec<u32>,
    pub vcpu_to_vnode: Vec<u32>,
    pub memory: Vec<abi::VmemRange>,
}

/// Typed hypercalls.
#[derive(Debug)]
pub(crate) struct Xen<H: Hypercall> {
    raw: H,
}

impl<H: Hypercall> Xen<H> {
    pub fn new(raw: H) -> Self {
        Xen { raw }
    }

    pub fn raw(&mut self) -> &mut H {
        &mut self.raw
    }

    /// A call with one structure argument after the sub-operation.
    fn call_with<T>(&mut self, op: u32, cmd: u64, arg: &mut T) -> i64 {
        // SAFETY: `arg` is an exclusive borrow of a structure of the layout `cmd` expects
        // (each caller below pairs them), alive for the whole call.
        unsafe { self.raw.call(op, [cmd, ptr(arg as *mut T), 0, 0, 0]) }
    }

    fn check(&mut self, what: &'static str, rc: i64) -> Result<i64, Box<XenError>> {
        if rc < 0 { Err(Box::new(XenError::Hypercall { what, errno: -rc })) } else { Ok(rc) }
    }

    /// XENVER_version: (major, minor).
    pub fn version(&mut self) -> Result<(u16, u16), Box<XenError>> {
        // SAFETY: XENVER_version takes no buffer (a null argument).
        let rc = unsafe { self.raw.call(nr::XEN_VERSION, [abi::xenver::VERSION, 0, 0, 0, 0]) };
        let v = self.check("xen_version(XENVER_version)", rc)?;
        Ok(((v >> 16) as u16, v as u16))
    }

    /// XENVER_extraversion: the version suffix (".0", "-rc", ...), up to 16 bytes.
    pub fn extraversion(&mut self) -> Result<String, Box<XenError>> {
        let mut buf = [0u8; abi::xenver::EXTRAVERSION_LEN];
        let rc = self.call_with(nr::XEN_VERSION, abi::xenver::EXTRAVERSION, &mut buf);
        self.check("xen_version(XENVER_extraversion)", rc)?;
        // Xen NUL-terminates within the 16 bytes when it fits; take what is before any NUL.
        let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        Ok(String::from_utf8_lossy(&buf[..len]).into_owned())
    }

    /// XENVER_guest_handle: the domain's UUID (RFC 4122 byte order).
    pub fn guest_handle(&mut self) -> Result<[u8; 16], Box<XenError>> {
        let mut handle = [0u8; 16];
        let rc = self.call_with(nr::XEN_VERSION, abi::xenver::GUEST_HANDLE, &mut handle);
        self.check("xen_version(XENVER_guest_handle)", rc)?;
        Ok(handle)
    }

    /// HVMOP_get_param for this domain.
    pub fn get_param(&mut self, index: u32) -> Result<u64, Box<XenError>> {
        let mut p = abi::HvmParam { domid: abi::DOMID_SELF, pad: 0, index, value: 0 };
        let rc = self.call_with(nr::HVM_OP, abi::hvmop::GET_PARAM, &mut p);
        self.check("hvm_op(HVMOP_get_param)", rc)?;
        Ok(p.value)
    }

    /// HVMOP_set_param for this domain.
    pub fn set_param(&mut self, index: u32, value: u64) -> Result<(), Box<XenError>> {
        let mut p = abi::HvmParam { domid: abi::DOMID_SELF, pad: 0, index, value };
        let rc = self.call_with(nr::HVM_OP, abi::hvmop::SET_PARAM, &mut p);
        self.check("hvm_op(HVMOP_set_param)", rc).map(drop)
    }

    /// XENMEM_memory_map: the domain's memory map as the toolstack set it (raw entries).
    pub fn memory_map(&mut self) -> Result<Vec<abi::E820Entry>, Box<XenError>> {
        let mut entries = vec![abi::E820Entry::default(); MAX_MEMORY_MAP_ENTRIES];
        let mut map =
            abi::MemoryMap { nr_entries: entries.len() as u32, buffer: ptr(entries.as_mut_ptr()) };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::MEMORY_MAP, &mut map);
        self.check("memory_op(XENMEM_memory_map)", rc)?;
        // Xen writes at most the capacity; a larger count is a broken answer.
        let n = map.nr_entries as usize;
        if n > entries.len() {
            return Err(Box::new(XenError::TooManyEntries { what: "XENMEM_memory_map", count: n }));
        }
        entries.truncate(n);
        Ok(entries)
    }

    /// XENMEM_reserved_device_memory_map with XENMEM_RDM_ALL: the regions passed-through
    /// devices need (RMRRs) as `(start_pfn, nr_pages)`. Without an IOMMU or passthrough
    /// support Xen has no such call (-ENOSYS / -EOPNOTSUPP): no regions.
    pub fn reserved_device_memory(
        &mut self,
    ) -> Result<Vec<abi::ReservedDeviceMemory>, Box<XenError>> {
        let mut capacity = 16u32;
        // Two rounds: the first may learn the count (Xen answers -ENOBUFS with nr_entries
        // set to what it needs; the header documents -ERANGE, accepted as well).
        for _ in 0..2 {
            let mut buf = vec![abi::ReservedDeviceMemory::default(); capacity as usize];
            let mut map = abi::ReservedDeviceMemoryMap {
                flags: abi::xenmem::RDM_ALL,
                nr_entries: capacity,
                buffer: ptr(buf.as_mut_ptr()),
                dev_seg: 0,
                dev_bus: 0,
                dev_devfn: 0,
            };
            let rc =
                self.call_with(nr::MEMORY_OP, abi::xenmem::RESERVED_DEVICE_MEMORY_MAP, &mut map);
            match -rc {
                0 if map.nr_entries <= capacity => {
                    buf.truncate(map.nr_entries as usize);
                    return Ok(buf);
                }
                errno::ENOSYS | errno::EOPNOTSUPP => return Ok(Vec::new()),
                errno::ENOBUFS | errno::ERANGE if map.nr_entries > capacity => {
                    if map.nr_entries > MAX_RDM_ENTRIES {
                        break;
                    }
                    capacity = map.nr_entries;
                }
                e if e > 0 => {
                    return Err(Box::new(XenError::Hypercall {
                        what: "memory_op(XENMEM_reserved_device_memory_map)",
                        errno: e,
                    }));
                }
                _ => break,
            }
        }
        Err(Box::new(XenError::TooManyEntries {
            what: "XENMEM_reserved_device_memory_map",
            count: capacity as usize,
        }))
    }

    /// XENMEM_populate_physmap of `pfns.len()` single pages at the given frames (RAM for
    /// pages in the MMIO hole, as hvmloader does for its ACPI info page). Returns how many
    /// Xen populated.
    pub fn populate_physmap(&mut self, pfns: &mut [u64]) -> Result<usize, Box<XenError>> {
        let mut r = abi::MemoryReservation {
            extent_start: ptr(pfns.as_mut_ptr()),
            nr_extents: pfns.len() as u64,
            extent_order: 0,
            mem_flags: 0,
            domid: abi::DOMID_SELF,
        };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::POPULATE_PHYSMAP, &mut r);
        let done = self.check("memory_op(XENMEM_populate_physmap)", rc)? as usize;
        if done != pfns.len() {
            return Err(Box::new(XenError::Populate { requested: pfns.len(), done }));
        }
        Ok(done)
    }

    /// XENMEM_add_to_physmap: make page `idx` of `space` appear at `gpfn`.
    pub fn add_to_physmap(&mut self, space: u32, idx: u64, gpfn: u64) -> Result<(), Box<XenError>> {
        let mut a = abi::AddToPhysmap { domid: abi::DOMID_SELF, size: 0, space, idx, gpfn };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::ADD_TO_PHYSMAP, &mut a);
        self.check("memory_op(XENMEM_add_to_physmap)", rc).map(drop)
    }

    /// XENMEM_get_vnumainfo: `None` when the domain has no vNUMA topology (Xen answers
    /// -EOPNOTSUPP). A first call with zero counts learns the sizes (-ENOBUFS).
    pub fn vnuma(&mut self) -> Result<Option<Vnuma>, Box<XenError>> {
        const WHAT: &str = "memory_op(XENMEM_get_vnumainfo)";
        let mut info = abi::VnumaTopologyInfo { domid: abi::DOMID_SELF, ..Default::default() };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::GET_VNUMAINFO, &mut info);
        match -rc {
            errno::EOPNOTSUPP | errno::ENOSYS => return Ok(None),
            errno::ENOBUFS => {}
            0 => return Ok(None), // zero nodes fit in zero-sized buffers: no topology
            e => return Err(Box::new(XenError::Hypercall { what: WHAT, errno: e })),
        }
        let (nodes, vcpus, ranges) = (info.nr_vnodes, info.nr_vcpus, info.nr_vmemranges);
        if nodes == 0
            || nodes > MAX_VNODES
            || ranges > MAX_VMEMRANGES
            || vcpus > super::abi::hvm_info::MAX_VCPUS
        {
            return Err(Box::new(XenError::VnumaCounts { nodes, vcpus, ranges }));
        }
        let mut distance = vec![0u32; (nodes * nodes) as usize];
        let mut vcpu_to_vnode = vec![0u32; vcpus as usize];
        let mut memory = vec![abi::VmemRange::default(); ranges as usize];
        let mut info = abi::VnumaTopologyInfo {
            domid: abi::DOMID_SELF,
            pad: 0,
            nr_vnodes: nodes,
            nr_vcpus: vcpus,
            nr_vmemranges: ranges,
            vdistance: ptr(distance.as_mut_ptr()),
            vcpu_to_vnode: ptr(vcpu_to_vnode.as_mut_ptr()),
            vmemrange: ptr(memory.as_mut_ptr()),
        };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::GET_VNUMAINFO, &mut info);
        self.check(WHAT, rc)?;
        // Xen reports back what it filled; anything beyond our buffers is a broken answer.
        if info.nr_vnodes != nodes || info.nr_vcpus > vcpus || info.nr_vmemranges > ranges {
            return Err(Box::new(XenError::VnumaCounts {
                nodes: info.nr_vnodes,
                vcpus: info.nr_vcpus,
                ranges: info.nr_vmemranges,
            }));
        }
        vcpu_to_vnode.truncate(info.nr_vcpus as usize);
        memory.truncate(info.nr_vmemranges as usize);
        if let Some(bad) = vcpu_to_vnode.iter().find(|&&n| n >= nodes) {
            return Err(Box::new(XenError::VnumaNode { node: *bad, nodes }));
        }
        Ok(Some(Vnuma { nr_vnodes: nodes, distance, vcpu_to_vnode, memory }))
    }

    /// SCHEDOP_shutdown. Returns only if Xen refused.
    pub fn shutdown(&mut self, reason: abi::ShutdownReason) -> XenError {
        let mut s = abi::SchedShutdown { reason: reason as u32 };
        let rc = self.call_with(nr::SCHED_OP, abi::schedop::SHUTDOWN, &mut s);
        XenError::Hypercall { what: "sched_op(SCHEDOP_shutdown)", errno: -rc }
    }

    /// VCPUOP_initialise: sets the registers vCPU `vcpu` starts with (it must be down).
    pub fn vcpu_initialise(
        &mut self,
        vcpu: u32,
        context: &abi::VcpuHvmContext,
    ) -> Result<(), Box<XenError>> {
        // SAFETY: VCPUOP_initialise reads a `vcpu_hvm_context` for an HVM domain; `context`
        // is borrowed for the whole call.
        let rc = unsafe {
            self.raw
                .call(nr::VCPU_OP, [abi::vcpuop::INITIALISE, u64::from(vcpu), ptr(context), 0, 0])
        };
        self.check("vcpu_op(VCPUOP_initialise)", rc).map(drop)
    }

    /// VCPUOP_up: let an initialised vCPU run.
    pub fn vcpu_up(&mut self, vcpu: u32) -> Result<(), Box<XenError>> {
        // SAFETY: VCPUOP_up takes no buffer.
        let rc = unsafe { self.raw.call(nr::VCPU_OP, [abi::vcpuop::UP, u64::from(vcpu), 0, 0, 0]) };
        self.check("vcpu_op(VCPUOP_up)", rc).map(drop)
    }

    /// VCPUOP_down: take a vCPU offline; INIT-SIPI through its local APIC restarts it.
    pub fn vcpu_down(&mut self, vcpu: u32) -> Result<(), Box<XenError>> {
        // SAFETY: VCPUOP_down takes no buffer.
        let rc =
            unsafe { self.raw.call(nr::VCPU_OP, [abi::vcpuop::DOWN, u64::from(vcpu), 0, 0, 0]) };
        self.check("vcpu_op(VCPUOP_down)", rc).map(drop)
    }

    /// XENMEM_remove_from_physmap: the guest frame `gpfn` maps nothing any more (the page
    /// that was there stays the domain's).
    pub fn remove_from_physmap(&mut self, gpfn: u64) -> Result<(), Box<XenError>> {
        let mut r = abi::RemoveFromPhysmap { domid: abi::DOMID_SELF, pad: [0; 3], gpfn };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::REMOVE_FROM_PHYSMAP, &mut r);
        self.check("memory_op(XENMEM_remove_from_physmap)", rc).map(drop)
    }

    /// SCHEDOP_poll on one event channel: blocks this vCPU until `port` is pending (at
    /// once if it already is) or Xen's system time reaches `deadline_ns`.
    pub fn poll(&mut self, port: u32, deadline_ns: u64) -> Result<(), Box<XenError>> {
        let ports = [port];
        let mut p = abi::SchedPoll {
            ports: ptr(ports.as_ptr()),
            nr_ports: 1,
            pad: 0,
            timeout: deadline_ns,
        };
        let rc = self.call_with(nr::SCHED_OP, abi::schedop::POLL, &mut p);
        self.check("sched_op(SCHEDOP_poll)", rc).map(drop)
    }

    /// EVTCHNOP_send: notify the other end of `port`.
    pub fn evtchn_send(&mut self, port: u32) -> Result<(), Box<XenError>> {
        let mut s = abi::EvtchnSend { port };
        let rc = self.call_with(nr::EVENT_CHANNEL_OP, abi::evtchnop::SEND, &mut s);
        self.check("event_channel_op(EVTCHNOP_send)", rc).map(drop)
    }
}

impl<H: Hypercall> Xen<H> {
    /// XENMEM_add_to_physmap with XENMAPSPACE_gmfn_range: the `pages` guest frames from
    /// `from_pfn` reappear at `to_pfn` on, and their old frames are left empty. Xen splits a
    /// long range into continuations of the same hypercall, so the guest sees one call that
    /// succeeds (0) or fails; anything else is treated as a failure, as hvmloader does.
    pub fn add_to_physmap_range(
        &mut self,
        from_pfn: u64,
        to_pfn: u64,
        pages: u16,
    ) -> Result<(), Box<XenError>> {
        const WHAT: &str = "memory_op(XENMEM_add_to_physmap, XENMAPSPACE_gmfn_range)";
        let mut a = abi::AddToPhysmap {
            domid: abi::DOMID_SELF,
            size: pages,
            space: abi::MAPSPACE_GMFN_RANGE,
            idx: from_pfn,
            gpfn: to_pfn,
        };
        let rc = self.call_with(nr::MEMORY_OP, abi::xenmem::ADD_TO_PHYSMAP, &mut a);
        match rc {
            0 => Ok(()),
            // A positive count would be an unfinished continuation leaking out: not done.
            rc => Err(Box::new(XenError::Hypercall {
                what: WHAT,
                errno: if rc < 0 { -rc } else { rc },
            })),
        }
    }
}
