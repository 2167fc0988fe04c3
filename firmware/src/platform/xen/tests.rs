//! Host tests of the Xen platform layer against a fake hypervisor (which decodes the same
//! `#[repr(C)]` arguments from the same pointers Xen would) and a simulated xenstored on a
//! real ring page.

use std::cell::RefCell;
use std::collections::HashMap;
use std::mem::{offset_of, size_of};
use std::rc::Rc;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

use super::abi::{self, *};
use super::config::{BiosKind, ConfigError, KeyReader, TpmVersion, XenConfig, parse_c_integer};
use super::hvm_info::{HvmInfo, HvmInfoError};
use super::xenstore::{XenStore, XsError, XsOp};
use super::*;
use crate::arch::{CpuidResult, PhysMemory, PhysReadError};
use crate::bootinfo::{MemoryKind, MemoryRegion, PhysRange};
use crate::pci::{Bdf, Function, IntxPin, Topology};
use crate::time::Clock;

// ---------------------------------------------------------------------------------------
// ABI layouts, against the x86-64 values of Xen's public headers.

#[test]
fn abi_layouts_match_the_public_headers() {
    assert_eq!(size_of::<HvmParam>(), 16);
    assert_eq!(offset_of!(HvmParam, index), 4);
    assert_eq!(offset_of!(HvmParam, value), 8);

    assert_eq!(size_of::<MemoryMap>(), 16);
    assert_eq!(offset_of!(MemoryMap, buffer), 8);
    assert_eq!(size_of::<E820Entry>(), 20);
    assert_eq!(offset_of!(E820Entry, kind), 16);

    assert_eq!(size_of::<ReservedDeviceMemory>(), 16);
    assert_eq!(size_of::<ReservedDeviceMemoryMap>(), 24);
    assert_eq!(offset_of!(ReservedDeviceMemoryMap, nr_entries), 4);
    assert_eq!(offset_of!(ReservedDeviceMemoryMap, buffer), 8);
    assert_eq!(offset_of!(ReservedDeviceMemoryMap, dev_seg), 16);
    assert_eq!(offset_of!(ReservedDeviceMemoryMap, dev_devfn), 19);

    assert_eq!(size_of::<MemoryReservation>(), 32);
    assert_eq!(offset_of!(MemoryReservation, nr_extents), 8);
    assert_eq!(offset_of!(MemoryReservation, extent_order), 16);
    assert_eq!(offset_of!(MemoryReservation, mem_flags), 20);
    assert_eq!(offset_of!(MemoryReservation, domid), 24);

    assert_eq!(size_of::<AddToPhysmap>(), 24);
    assert_eq!(offset_of!(AddToPhysmap, size), 2);
    assert_eq!(offset_of!(AddToPhysmap, space), 4);
    assert_eq!(offset_of!(AddToPhysmap, idx), 8);
    assert_eq!(offset_of!(AddToPhysmap, gpfn), 16);

    assert_eq!(size_of::<VnumaTopologyInfo>(), 40);
    assert_eq!(offset_of!(VnumaTopologyInfo, nr_vnodes), 4);
    assert_eq!(offset_of!(VnumaTopologyInfo, nr_vmemranges), 12);
    assert_eq!(offset_of!(VnumaTopologyInfo, vdistance), 16);
    assert_eq!(offset_of!(VnumaTopologyInfo, vmemrange), 32);
    assert_eq!(size_of::<VmemRange>(), 24);
    assert_eq!(offset_of!(VmemRange, nid), 20);

    assert_eq!(size_of::<SchedShutdown>(), 4);
    assert_eq!(size_of::<EvtchnSend>(), 4);

    assert_eq!(size_of::<XenstoreDomainInterface>(), 2048 + 8 * 4);
    assert_eq!(offset_of!(XenstoreDomainInterface, rsp), 1024);
    assert_eq!(offset_of!(XenstoreDomainInterface, req_cons), 2048);
    assert_eq!(offset_of!(XenstoreDomainInterface, rsp_prod), 2060);
    assert_eq!(offset_of!(XenstoreDomainInterface, server_features), 2064);
    assert_eq!(offset_of!(XenstoreDomainInterface, evtchn_port), 2076);
    assert_eq!(size_of::<XsdSockmsg>(), XsdSockmsg::SIZE);

    assert_eq!(abi::hvm_info::SIZE, 48);
    assert_eq!(abi::hvm_info::PADDR, (0x9F << 12) + 0x800);
}

// ---------------------------------------------------------------------------------------
// The fake hypervisor.

#[derive(Default)]
struct FakeXen {
    version: u32,
    extraversion: &'static str,
    /// XENVER_guest_handle; `None`: the call fails.
    handle: Option<[u8; 16]>,
    /// XENMEM_get_vnumainfo: (distances, vcpu_to_vnode, ranges); `None`: no vNUMA.
    vnuma: Option<(Vec<u32>, Vec<u32>, Vec<VmemRange>)>,
    params: HashMap<u32, u64>,
    set_params: Vec<(u32, u64)>,
    e820: Vec<E820Entry>,
    memory_map_errno: Option<i64>,
    rdm: Vec<ReservedDeviceMemory>,
    rdm_errno: Option<i64>,
    store: Option<Rc<RefCell<FakeStore>>>,
    sends: Vec<u32>,
    shutdowns: Vec<u32>,
    /// VCPUOP calls: (sub-operation, vCPU, the context VCPUOP_initialise got).
    vcpu_ops: Vec<(u64, u32, Option<VcpuHvmContext>)>,
    /// VCPUOP_up fails with this errno.
    vcpu_up_errno: Option<i64>,
    /// XENMEM_remove_from_physmap: the frames emptied.
    removed_frames: Vec<u64>,
}

impl Hypercall for FakeXen {
    unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
        // SAFETY: the wrappers pass pointers to live structures of the
        // operation's layout, which is what this fake decodes them as.
        unsafe {
            match (op, args[0]) {
                (abi::hypercall::XEN_VERSION, xenver::VERSION) => i64::from(self.version),
                (abi::hypercall::XEN_VERSION, xenver::EXTRAVERSION) => {
                    let buf = &mut *(args[1] as *mut [u8; 16]);
                    buf[..self.extraversion.len()].copy_from_slice(self.extraversion.as_bytes());
                    0
                }
                (abi::hypercall::XEN_VERSION, xenver::GUEST_HANDLE) => match self.handle {
                    Some(handle) => {
                        *(args[1] as *mut [u8; 16]) = handle;
                        0
                    }
                    None => -errno::EPERM,
                },
                (abi::hypercall::HVM_OP, hvmop::GET_PARAM) => {
                    let p = &mut *(args[1] as *mut HvmParam);
                    assert_eq!(p.domid, DOMID_SELF);
                    match self.params.get(&p.index) {
                        Some(&v) => {
                            p.value = v;
                            0
                        }
                        None => -errno::EINVAL,
                    }
                }
                (abi::hypercall::HVM_OP, hvmop::SET_PARAM) => {
                    let p = &*(args[1] as *const HvmParam);
                    self.set_params.push((p.index, p.value));
                    0
                }
                (abi::hypercall::MEMORY_OP, xenmem::MEMORY_MAP) => {
                    if let Some(e) = self.memory_map_errno {
                        return -e;
                    }
                    let m = &mut *(args[1] as *mut MemoryMap);
                    let n = self.e820.len().min(m.nr_entries as usize);
                    let out = std::slice::from_raw_parts_mut(m.buffer as *mut E820Entry, n);
                    out.copy_from_slice(&self.e820[..n]);
                    m.nr_entries = n as u32;
                    0
                }
                (abi::hypercall::MEMORY_OP, xenmem::RESERVED_DEVICE_MEMORY_MAP) => {
                    if let Some(e) = self.rdm_errno {
                        return -e;
                    }
                    let m = &mut *(args[1] as *mut ReservedDeviceMemoryMap);
                    assert_eq!(m.flags, xenmem::RDM_ALL);
                    let need = self.rdm.len() as u32;
                    if m.nr_entries < need {
                        m.nr_entries = need;
                        return -errno::ENOBUFS;
                    }
                    let out = std::slice::from_raw_parts_mut(
                        m.buffer as *mut ReservedDeviceMemory,
                        need as usize,
                    );
                    out.copy_from_slice(&self.rdm);
                    m.nr_entries = need;
                    0
                }
                (abi::hypercall::MEMORY_OP, xenmem::REMOVE_FROM_PHYSMAP) => {
                    let r = &*(args[1] as *const RemoveFromPhysmap);
                    assert_eq!(r.domid, DOMID_SELF);
                    self.removed_frames.push(r.gpfn);
                    0
                }
                (abi::hypercall::MEMORY_OP, xenmem::GET_VNUMAINFO) => {
                    let Some((distance, vcpus, ranges)) = &self.vnuma else {
                        return -errno::EOPNOTSUPP;
                    };
                    let info = &mut *(args[1] as *mut VnumaTopologyInfo);
                    let nodes = (distance.len() as f64).sqrt() as u32;
                    let fits = info.nr_vnodes >= nodes
                        && info.nr_vcpus >= vcpus.len() as u32
                        && info.nr_vmemranges >= ranges.len() as u32;
                    info.nr_vnodes = nodes;
                    info.nr_vcpus = vcpus.len() as u32;
                    info.nr_vmemranges = ranges.len() as u32;
                    if !fits {
                        return -errno::ENOBUFS;
                    }
                    let copy = |to: u64, from: &[u32]| {
                        std::slice::from_raw_parts_mut(to as *mut u32, from.len())
                            .copy_from_slice(from)
                    };
                    copy(info.vdistance, distance);
                    copy(info.vcpu_to_vnode, vcpus);
                    std::slice::from_raw_parts_mut(info.vmemrange as *mut VmemRange, ranges.len())
                        .copy_from_slice(ranges);
                    0
                }
                (abi::hypercall::SCHED_OP, schedop::SHUTDOWN) => {
                    self.shutdowns.push((*(args[1] as *const SchedShutdown)).reason);
                    0
                }
                (abi::hypercall::EVENT_CHANNEL_OP, evtchnop::SEND) => {
                    let port = (*(args[1] as *const EvtchnSend)).port;
                    self.sends.push(port);
                    if let Some(store) = &self.store {
                        store.borrow_mut().on_notify();
                    }
                    0
                }
                (abi::hypercall::VCPU_OP, op) => {
                    let vcpu = args[1] as u32;
                    let context =
                        (op == vcpuop::INITIALISE).then(|| *(args[2] as *const VcpuHvmContext));
                    self.vcpu_ops.push((op, vcpu, context));
                    match (op, self.vcpu_up_errno) {
                        (vcpuop::UP, Some(errno)) => -errno,
                        _ => 0,
                    }
                }
                _ => -errno::ENOSYS,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// A simulated xenstored on a real, page-aligned ring.

#[repr(C, align(4096))]
struct RingPage(XenstoreDomainInterface);

struct FakeStore {
    page: *mut RingPage,
    keys: HashMap<String, String>,
    /// false: the daemon never consumes or answers anything.
    answers: bool,
    /// Request bytes taken off the ring, not yet a whole request.
    received: Vec<u8>,
    /// Reply bytes not yet on the ring (waiting for room).
    pending: Vec<u8>,
    requests: Vec<String>,
    /// Every XS_WRITE, as (path, value).
    writes: Vec<(String, String)>,
    /// The daemon's answer to writes when it refuses them (an errno name).
    write_error: Option<&'static str>,
}

impl FakeStore {
    fn new(keys: &[(&str, &str)]) -> Rc<RefCell<Self>> {
        let page = Box::into_raw(Box::new(RingPage(XenstoreDomainInterface {
            req: [0; 1024],
            rsp: [0; 1024],
            req_cons: 0,
            req_prod: 0,
            rsp_cons: 0,
            rsp_prod: 0,
            server_features: 0,
            connection: 0,
            error: 0,
            evtchn_port: 0,
        })));
        Rc::new(RefCell::new(FakeStore {
            page,
            keys: keys.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            answers: true,
            received: Vec::new(),
            pending: Vec::new(),
            requests: Vec::new(),
            writes: Vec::new(),
            write_error: None,
        }))
    }

    fn ring(&self) -> *mut XenstoreDomainInterface {
        // SAFETY: `page` is live until drop; `RingPage` is repr(C) around the interface.
        unsafe { &raw mut (*self.page).0 }
    }

    fn with<R>(&self, f: impl FnOnce(&mut XenstoreDomainInterface) -> R) -> R {
        // SAFETY: single-threaded; the client holds only a raw pointer and is not inside
        // an access while the fake runs (the fake runs from within the notify hypercall).
        f(unsafe { &mut *self.ring() })
    }

    fn on_notify(&mut self) {
        if !self.answers {
            return;
        }
        // Take everything on the request ring (as xenstored does, a request larger than the
        // ring arrives in parts), then answer every complete request.
        let (cons, prod) = self.with(|r| (r.req_cons, r.req_prod));
        let bytes: Vec<u8> =
            self.with(|r| (cons..prod).map(|i| r.req[i as usize & 1023]).collect());
        self.with(|r| r.req_cons = prod);
        self.received.extend_from_slice(&bytes);
        loop {
            if self.received.len() < 16 {
                break;
            }
            let header = XsdSockmsg::from_bytes(&self.received[..16].try_into().unwrap());
            if self.received.len() < 16 + header.len as usize {
                break;
            }
            let message: Vec<u8> = self.received.drain(..16 + header.len as usize).collect();
            let body = message[16..].to_vec();
            let (kind, payload) = match header.kind {
                xs::READ => {
                    assert_eq!(body.last(), Some(&0), "paths are NUL-terminated");
                    let path = String::from_utf8(body[..body.len() - 1].to_vec()).unwrap();
                    self.requests.push(path.clone());
                    match self.keys.get(&path) {
                        Some(v) => (xs::READ, v.as_bytes().to_vec()),
                        None => (xs::ERROR, b"ENOENT\0".to_vec()),
                    }
                }
                xs::WRITE => {
                    // path NUL value, the value without a NUL of its own.
                    let nul = body.iter().position(|&b| b == 0).expect("path NUL value");
                    let path = String::from_utf8(body[..nul].to_vec()).unwrap();
                    let value = String::from_utf8(body[nul + 1..].to_vec()).unwrap();
                    self.writes.push((path.clone(), value.clone()));
                    match self.write_error {
                        Some(errno) => (xs::ERROR, format!("{errno}\0").into_bytes()),
                        None => {
                            self.keys.insert(path, value);
                            (xs::WRITE, b"OK\0".to_vec())
                        }
                    }
                }
                xs::DIRECTORY => {
                    assert_eq!(body.last(), Some(&0), "paths are NUL-terminated");
                    let path = String::from_utf8(body[..body.len() - 1].to_vec()).unwrap();
                    self.requests.push(format!("{path}/"));
                    // The children: the next path component of every key below `path`.
                    let mut children: Vec<&str> = self
                        .keys
                        .keys()
                        .filter_map(|k| k.strip_prefix(path.as_str())?.strip_prefix('/'))
                        .map(|rest| rest.split('/').next().unwrap())
                        .collect();
                    children.sort();
                    children.dedup();
                    if children.is_empty() {
                        (xs::ERROR, b"ENOENT\0".to_vec())
                    } else {
                        let names = children.iter().flat_map(|c| c.bytes().chain([0]));
                        (xs::DIRECTORY, names.collect())
                    }
                }
                other => panic!("unexpected request type {other}"),
            };
            let reply =
                XsdSockmsg { kind, req_id: header.req_id, tx_id: 0, len: payload.len() as u32 };
            self.pending.extend_from_slice(&reply.to_bytes());
            self.pending.extend_from_slice(&payload);
        }
        // Put as much of the pending reply on the ring as fits.
        let (cons, prod) = self.with(|r| (r.rsp_cons, r.rsp_prod));
        let room = 1024 - prod.wrapping_sub(cons) as usize;
        let n = room.min(self.pending.len());
        let bytes: Vec<u8> = self.pending.drain(..n).collect();
        self.with(|r| {
            for (i, b) in bytes.iter().enumerate() {
                r.rsp[(prod as usize + i) & 1023] = *b;
            }
            r.rsp_prod = prod.wrapping_add(n as u32);
        });
    }
}

impl Drop for FakeStore {
    fn drop(&mut self) {
        // SAFETY: allocated by `Box::into_raw` in `new`, freed once.
        drop(unsafe { Box::from_raw(self.page) });
    }
}

/// A clock that lets `done` be polled a fixed number of times per wait.
#[derive(Default)]
struct Polls {
    per_wait: u32,
    timeouts: u32,
}

impl Clock for Polls {
    fn now_us(&mut self) -> u64 {
        0
    }

    fn poll_until(&mut self, _timeout_us: u64, done: &mut dyn FnMut() -> bool) -> bool {
        if (0..self.per_wait.max(1)).any(|_| done()) {
            return true;
        }
        self.timeouts += 1;
        false
    }
}

/// The guest-physical bytes around the hvm_info_table.
struct FakeMemory {
    base: u64,
    bytes: Vec<u8>,
}

impl PhysMemory for FakeMemory {
    fn read(&self, paddr: u64, buf: &mut [u8]) -> Result<(), PhysReadError> {
        let err = PhysReadError { paddr, len: buf.len() };
        let start = paddr.checked_sub(self.base).ok_or(err)? as usize;
        let src = self.bytes.get(start..start + buf.len()).ok_or(err)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

pub(crate) fn hvm_info_bytes(
    nr_vcpus: u32,
    online: u32,
    low_pgend: u32,
    high_pgend: u32,
) -> Vec<u8> {
    let mut t = vec![0u8; 0x800];
    t[..8].copy_from_slice(b"HVM INFO");
    t[8..12].copy_from_slice(&48u32.to_le_bytes());
    t[13] = 1;
    t[16..20].copy_from_slice(&nr_vcpus.to_le_bytes());
    t[20..24].copy_from_slice(&low_pgend.to_le_bytes());
    t[24..28].copy_from_slice(&0xFEFF8u32.to_le_bytes());
    t[28..32].copy_from_slice(&high_pgend.to_le_bytes());
    for v in 0..online {
        t[32 + (v / 8) as usize] |= 1 << (v % 8);
    }
    fix_checksum(&mut t);
    t
}

fn fix_checksum(t: &mut [u8]) {
    t[12] = 0;
    let len = u32::from_le_bytes(t[8..12].try_into().unwrap()) as usize;
    let sum = t[..len].iter().fold(0u8, |s, &b| s.wrapping_add(b));
    t[12] = 0u8.wrapping_sub(sum);
}

fn e820(addr: u64, size: u64, kind: u32) -> E820Entry {
    E820Entry { addr, size, kind }
}

/// A 2 GiB guest the way libxl describes it.
fn guest_e820() -> Vec<E820Entry> {
    vec![e820(0, 0x9_F000, 1), e820(0x10_0000, 0x7FF0_0000, 1), e820(0xFC00_0000, 0x400_0000, 2)]
}

struct Machine {
    xen: Xen<FakeXen>,
    store: Rc<RefCell<FakeStore>>,
    memory: FakeMemory,
}

/// Xen 4.17.3 with a 2 GiB guest's memory map and `store` as its xenstored.
fn fake_xen(store: &Rc<RefCell<FakeStore>>) -> FakeXen {
    let ring_paddr = store.borrow().ring() as u64;
    FakeXen {
        version: 4 << 16 | 17,
        extraversion: ".3",
        handle: Some(*b"\x8c\x2f\x41\x9e\x0b\x6d\x4c\x1a\x9f\x03\x52\x77\xe4\x10\xaa\x5b"),
        params: HashMap::from([(param::STORE_PFN, ring_paddr >> 12), (param::STORE_EVTCHN, 3)]),
        e820: guest_e820(),
        store: Some(store.clone()),
        ..Default::default()
    }
}

fn machine(keys: &[(&str, &str)], hvm_info: Vec<u8>) -> Machine {
    let store = FakeStore::new(keys);
    let fake = fake_xen(&store);
    Machine { xen: Xen::new(fake), store, memory: FakeMemory { base: 0x9_F800, bytes: hvm_info } }
}

fn client(m: &mut Machine) -> XenStore {
    let loc = xenstore::locate(&mut m.xen).unwrap();
    assert_eq!(loc.port, 3);
    assert_eq!(loc.paddr, m.store.borrow().ring() as u64, "STORE_PFN << 12 is the ring");
    // SAFETY: the fake's ring page lives as long as the machine; only the fake and this
    // client touch it.
    unsafe { XenStore::new(loc.paddr as *mut XenstoreDomainInterface, loc.port) }.unwrap()
}

fn gather(m: &mut Machine) -> Result<XenSetup<FakeXen>, Box<XenError>> {
    let store = client(m);
    let xen = std::mem::replace(&mut m.xen, Xen::new(FakeXen::default()));
    XenSetup::gather(xen, &m.memory, store, &mut Polls { per_wait: 3, timeouts: 0 })
}

// ---------------------------------------------------------------------------------------
// The fake hypervisor under the host tests of the whole boot (`crate::boot`'s tests).

/// A fake hypervisor that lives for the rest of the test process, as a `Copy` handle: the
/// Xen board's last calls need one (their clock makes calls of its own), and a board handed
/// to the boot sequence borrows nothing. Each boot test leaks one (a few KiB).
#[derive(Clone, Copy)]
pub(crate) struct LeakedXen(&'static RefCell<FakeXen>);

impl Hypercall for LeakedXen {
    unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
        // SAFETY: forwarded contract: the arguments are what the fake decodes.
        unsafe { self.0.borrow_mut().call(op, args) }
    }
}

impl core::fmt::Debug for LeakedXen {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LeakedXen")
    }
}

impl LeakedXen {
    /// Every HVMOP_set_param, in order: (index, value).
    pub(crate) fn set_params(&self) -> Vec<(u32, u64)> {
        self.0.borrow().set_params.clone()
    }

    /// The frames XENMEM_remove_from_physmap emptied.
    pub(crate) fn removed_frames(&self) -> Vec<u64> {
        self.0.borrow().removed_frames.clone()
    }

    /// Whether the xenstore ring was handed back as hvmloader leaves it: indices zeroed,
    /// both rings filled with XS_INVALID bytes.
    pub(crate) fn store_handed_back(&self) -> bool {
        let fake = self.0.borrow();
        let store = fake.store.as_ref().expect("the boot's fake has a store").borrow();
        store.with(|r| {
            (r.req_cons, r.req_prod, r.rsp_cons, r.rsp_prod) == (0, 0, 0, 0)
                && r.req.iter().chain(&r.rsp).all(|&b| b == 0xFF)
        })
    }
}

/// HVM_PARAM_ACPI_IOPORTS_LOCATION and HVM_PARAM_VM_GENERATION_ID_ADDR, for the boot tests.
pub(crate) const PARAM_ACPI_IOPORTS_LOCATION: u32 = param::ACPI_IOPORTS_LOCATION;
pub(crate) const PARAM_VM_GENERATION_ID_ADDR: u32 = param::VM_GENERATION_ID_ADDR;

/// [`XenSetup`] as [`XenSetup::start`] leaves it, over the fake hypervisor (a 2 GiB guest,
/// Xen 4.17) and a xenstored holding `keys`: the `hvm_info_table` read from `memory`
/// (where the test put it), the shared info page mapped.
pub(crate) fn setup_for_boot(
    keys: &[(&str, &str)],
    memory: &impl PhysMemory,
) -> Result<(XenSetup<LeakedXen>, LeakedXen), Box<XenError>> {
    let store = FakeStore::new(keys);
    let leaked = LeakedXen(Box::leak(Box::new(RefCell::new(fake_xen(&store)))));
    let mut xen = Xen::new(leaked);
    let location = xenstore::locate(&mut xen)?;
    // SAFETY: the fake's ring page lives as long as the leaked fake; only the fake and
    // this client touch it.
    let client =
        unsafe { XenStore::new(location.paddr as *mut XenstoreDomainInterface, location.port) }
            .expect("the fake's ring is not at 0");
    let mut setup = XenSetup::gather(xen, memory, client, &mut Polls { per_wait: 3, timeouts: 0 })?;
    // Xen's time record for vCPU 0: at TSC 0, time 0, one nanosecond per two ticks.
    let page: &'static mut [u64; 512] = Box::leak(Box::new([0; 512]));
    page[abi::shared_info::VCPU_TIME / 8 + 3] = 1 << 31;
    let page = core::ptr::NonNull::from(page).cast::<u8>();
    // SAFETY: a leaked (so live for good), aligned 4 KiB that only this value and the fake
    // reach.
    setup.shared_info = Some(unsafe { SharedInfo::at(page, SHARED_INFO_GPFN) });
    Ok((setup, leaked))
}

// ---------------------------------------------------------------------------------------
// hvm_info_table

#[test]
fn hvm_info_with_128_vcpus_parses() {
    let info = HvmInfo::parse(&hvm_info_bytes(128, 128, 0x8_0000, 0x14_0000)).unwrap();
    assert_eq!(info.nr_vcpus, 128);
    assert_eq!(info.online_count(), 128);
    assert!(info.is_online(127) && !info.is_online(128));
    assert!(info.apic_mode);
    assert_eq!(info.low_mem_pgend, 0x8_0000);

    let partly = HvmInfo::parse(&hvm_info_bytes(128, 100, 0x8_0000, 0)).unwrap();
    assert_eq!(partly.online_count(), 100);
    assert!(partly.is_online(99) && !partly.is_online(100));
}

#[test]
fn hvm_info_rejects_corrupt_tables() {
    let good = hvm_info_bytes(4, 4, 0x8_0000, 0);

    let mut t = good.clone();
    t[20] ^= 1; // a RAM field changed after the checksum was computed
    assert!(matches!(HvmInfo::parse(&t), Err(HvmInfoError::BadChecksum { .. })));
    let message = HvmInfo::parse(&t).unwrap_err().to_string();
    assert!(message.contains("hvm_info_table") && message.contains("corrupt"), "{message}");

    let mut t = good.clone();
    t[..8].copy_from_slice(b"HVM JUNK");
    assert!(matches!(HvmInfo::parse(&t), Err(HvmInfoError::BadSignature(_))));

    for nr in [0u32, 129, u32::MAX] {
        let mut t = good.clone();
        t[16..20].copy_from_slice(&nr.to_le_bytes());
        fix_checksum(&mut t);
        assert_eq!(
            HvmInfo::parse(&t),
            Err(HvmInfoError::NrVcpus { nr_vcpus: nr, max: 128 }),
            "nr_vcpus {nr}"
        );
    }

    for length in [0u32, 31, 0x801, u32::MAX] {
        let mut t = good.clone();
        t[8..12].copy_from_slice(&length.to_le_bytes());
        assert_eq!(HvmInfo::parse(&t), Err(HvmInfoError::BadLength(length)));
    }

    // vCPU 9 online with only 4 vCPUs.
    let mut t = good.clone();
    t[33] |= 0x02;
    fix_checksum(&mut t);
    assert_eq!(HvmInfo::parse(&t), Err(HvmInfoError::OnlineBeyondNrVcpus { vcpu: 9, nr_vcpus: 4 }));

    let mut t = good.clone();
    t[32] &= !1;
    fix_checksum(&mut t);
    assert_eq!(HvmInfo::parse(&t), Err(HvmInfoError::BspOffline));

    let t = hvm_info_bytes(1, 1, 0x10, 0);
    assert!(matches!(HvmInfo::parse(&t), Err(HvmInfoError::LowMem { .. })));
    let t = hvm_info_bytes(1, 1, 0x8_0000, 0x8_0000);
    assert!(matches!(HvmInfo::parse(&t), Err(HvmInfoError::HighMem { .. })));
}

#[test]
fn hvm_info_fallback_memory_map() {
    let info = HvmInfo::parse(&hvm_info_bytes(1, 1, 0x8_0000, 0x14_0000)).unwrap();
    let map = info.memory_map();
    let ram: Vec<_> = map
        .iter()
        .filter(|r| r.kind == MemoryKind::Ram)
        .map(|r| (r.range.start, r.range.end))
        .collect();
    assert_eq!(ram, [(0, 0x9_F000), (0x10_0000, 0x8000_0000), (1 << 32, 0x1_4000_0000)]);
    assert!(map.iter().any(|r| r.range.start == 0xFEFF_8000 && r.kind == MemoryKind::Reserved));
}

// ---------------------------------------------------------------------------------------
// Memory map, reserved device memory, MMIO hole

fn region(start: u64, end: u64, kind: MemoryKind) -> MemoryRegion {
    MemoryRegion { range: PhysRange { start, end }, kind }
}

#[test]
fn memory_map_entries_are_validated() {
    let map = memmap::from_e820(&guest_e820()).unwrap();
    assert_eq!(map.len(), 3);
    assert!(matches!(
        memmap::from_e820(&[e820(0, 0x10_0000, 1), e820(0x8_0000, 0x1000, 2)]).map_err(|e| *e),
        Err(XenError::MemoryEntriesOverlap { .. })
    ));
    assert!(matches!(
        memmap::from_e820(&[e820(u64::MAX - 10, 0x1000, 1)]).map_err(|e| *e),
        Err(XenError::BadMemoryEntry { index: 0, .. })
    ));
    assert!(matches!(
        memmap::from_e820(&[e820(0x1000, 0, 1)]).map_err(|e| *e),
        Err(XenError::BadMemoryEntry { .. })
    ));
}

#[test]
fn rdm_regions_inside_the_hole_are_reserved_and_avoided() {
    let map = memmap::from_e820(&guest_e820()).unwrap();
    // An RMRR in the would-be hole (above RAM, below 0xFC000000).
    let rdm = memmap::rdm_ranges(&[ReservedDeviceMemory { start_pfn: 0xE_8000, nr_pages: 0x10 }])
        .unwrap();
    let (with_rdm, lost) = memmap::reserve_rdm(&map, &rdm);
    assert!(lost.is_empty());
    assert!(with_rdm.contains(&region(0xE800_0000, 0xE801_0000, MemoryKind::Reserved)));
    let hole = crate::layout::low_hole(&with_rdm).unwrap();
    assert_eq!(hole, 0x8000_0000..crate::layout::HOLE_END, "the hole still follows RAM");
    let reserved = crate::layout::reserved_in(&with_rdm, &hole);
    assert!(reserved.contains(&(0xE800_0000..0xE801_0000)), "BARs must avoid it: {reserved:x?}");
}

#[test]
fn rdm_over_ram_cuts_the_ram() {
    let map = memmap::from_e820(&guest_e820()).unwrap();
    let rdm = [PhysRange { start: 0x4000_0000, end: 0x4000_4000 }];
    let (with_rdm, lost) = memmap::reserve_rdm(&map, &rdm);
    assert_eq!(lost, rdm);
    assert!(with_rdm.contains(&region(0x10_0000, 0x4000_0000, MemoryKind::Ram)));
    assert!(with_rdm.contains(&region(0x4000_0000, 0x4000_4000, MemoryKind::Reserved)));
    assert!(with_rdm.contains(&region(0x4000_4000, 0x8000_0000, MemoryKind::Ram)));
    // Partly inside an existing reserved entry: only the uncovered part is added.
    let rdm = [PhysRange { start: 0xFB00_0000, end: 0xFD00_0000 }];
    let (with_rdm, _) = memmap::reserve_rdm(&map, &rdm);
    assert!(with_rdm.contains(&region(0xFB00_0000, 0xFC00_0000, MemoryKind::Reserved)));
    assert!(with_rdm.windows(2).all(|w| !w[0].range.overlaps(&w[1].range)));
}

#[test]
fn mmio_hole_size_sets_the_hole() {
    // 1 GiB of RAM below 4 GiB, 2 GiB hole asked for.
    let map = memmap::from_e820(&[e820(0, 0x9_F000, 1), e820(0x10_0000, 0x3FF0_0000, 1)]).unwrap();
    assert_eq!(memmap::low_hole(&map, None).unwrap(), 0x4000_0000..0xFC00_0000);
    assert_eq!(memmap::low_hole(&map, Some(0x8000_0000)).unwrap(), 0x8000_0000..0xFC00_0000);
    // Smaller than hvmloader's 256 MiB default window: ignored, as hvmloader does.
    assert_eq!(memmap::low_hole(&map, Some(0x100_0000)).unwrap(), 0x4000_0000..0xFC00_0000);
    // A hole over RAM: the toolstack and the map disagree.
    assert_eq!(
        memmap::low_hole(&map, Some(0xD000_0000)).map_err(|e| *e),
        Err(XenError::MmioHoleOverRam { hole_start: 0x3000_0000, ram_end: 0x4000_0000 })
    );
    assert_eq!(
        memmap::low_hole(&map, Some(1 << 32)).map_err(|e| *e),
        Err(XenError::MmioHoleSize { size: 1 << 32 })
    );
}

// ---------------------------------------------------------------------------------------
// xenstore and the configuration

#[test]
fn missing_keys_take_hvmloaders_defaults() {
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    let mut clock = Polls::default();
    let mut session =
        config::StoreSession { store: &mut store, xen: &mut m.xen, clock: &mut clock };
    let config = XenConfig::read(&mut session).unwrap();
    assert_eq!(config, XenConfig::default());
    assert_eq!(config.bios, BiosKind::Rombios);
    assert!(config.acpi && config.acpi_s3 && config.acpi_s4 && !config.acpi_laptop_slate);
    assert_eq!(config.tpm_version, TpmVersion::Tpm12);
    assert!(config.allow_memory_relocate);
    // An empty store: one listing per directory (shown with a trailing '/'), and no key
    // asked for.
    let asked = &m.store.borrow().requests;
    assert_eq!(asked, &["platform/", "hvmloader/", "bios-strings/"]);
}

#[test]
fn only_keys_that_exist_are_read() {
    let keys = [
        ("platform/acpi", "1"),
        ("hvmloader/bios", "seabios"),
        ("bios-strings/oem-1", "first"),
        ("bios-strings/oem-2", "second"),
    ];
    let mut m = machine(&keys, hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    let mut clock = Polls::default();
    let mut session =
        config::StoreSession { store: &mut store, xen: &mut m.xen, clock: &mut clock };
    let config = XenConfig::read(&mut session).unwrap();
    assert_eq!(config.bios, BiosKind::Seabios);
    assert_eq!(config.bios_strings.oem, ["first", "second"]);
    let mut asked = m.store.borrow().requests.clone();
    asked.sort();
    assert_eq!(
        asked,
        [
            "bios-strings/",
            "bios-strings/oem-1",
            "bios-strings/oem-2",
            "hvmloader/",
            "hvmloader/bios",
            "platform/",
            "platform/acpi"
        ]
    );
    // A key written since is read again (the listing is no longer trusted).
    session.store.write(session.xen, session.clock, "platform/acpi_s3", "0").unwrap();
    let read = session.store.read_listed(session.xen, session.clock, "platform/acpi_s3");
    assert_eq!(read.unwrap().as_deref(), Some("0"));
}

#[test]
fn keys_are_typed() {
    let long = "x".repeat(3000); // crosses the 1 KiB ring several times
    let keys = [
        ("platform/acpi", "1"),
        ("platform/acpi_s3", "0"),
        ("platform/acpi_laptop_slate", "1"),
        ("platform/mmio_hole_size", "0x40000000"),
        ("platform/generation-id", "0x1234:5678"),
        ("platform/tpm_version", "2"),
        ("hvmloader/bios", "seabios"),
        ("hvmloader/allow-memory-relocate", "0"),
        ("hvmloader/acpi/address", "0xfc100000"),
        ("hvmloader/acpi/length", "4096"),
        ("bios-strings/system-product-name", "test box"),
        ("bios-strings/oem-1", "first"),
        ("bios-strings/oem-2", long.as_str()),
        ("platform/acpi_s4", ""), // empty = missing: default on
    ];
    let mut m = machine(&keys, hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    let mut clock = Polls { per_wait: 1, timeouts: 0 };
    let mut session =
        config::StoreSession { store: &mut store, xen: &mut m.xen, clock: &mut clock };
    let c = XenConfig::read(&mut session).unwrap();
    assert!(c.acpi && !c.acpi_s3 && c.acpi_s4 && c.acpi_laptop_slate);
    assert_eq!(c.mmio_hole_size, Some(0x4000_0000));
    assert_eq!(c.generation_id, Some([0x1234, 5678]));
    assert_eq!(c.tpm_version, TpmVersion::Tpm20);
    assert_eq!(c.bios, BiosKind::Seabios);
    assert!(!c.allow_memory_relocate);
    assert_eq!(c.acpi_passthrough, Some(PhysRange { start: 0xFC10_0000, end: 0xFC10_1000 }));
    assert_eq!(c.smbios_passthrough, None);
    assert_eq!(c.bios_strings.system_product_name.as_deref(), Some("test box"));
    assert_eq!(c.bios_strings.oem, ["first".to_string(), long]);
    assert_eq!(clock.timeouts, 0);
}

#[test]
fn malformed_layout_values_are_errors() {
    let mut m = machine(&[("platform/mmio_hole_size", "lots")], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    let mut session =
        config::StoreSession { store: &mut store, xen: &mut m.xen, clock: &mut Polls::default() };
    let err = XenConfig::read(&mut session).unwrap_err();
    assert!(matches!(*err, ConfigError::Malformed { key: "platform/mmio_hole_size", .. }));
    assert!(err.to_string().contains("\"lots\""), "{err}");
}

#[test]
fn a_store_that_never_answers_times_out() {
    let mut m = machine(&[("hvmloader/bios", "seabios")], hvm_info_bytes(1, 1, 0x8_0000, 0));
    m.store.borrow_mut().answers = false;
    let mut store = client(&mut m);
    store.timeout_us = 250_000;
    let mut clock = Polls { per_wait: 5, timeouts: 0 };
    let err = store.read(&mut m.xen, &mut clock, "hvmloader/bios").unwrap_err();
    assert_eq!(
        *err,
        XsError::Timeout {
            op: XsOp::Read,
            path: "hvmloader/bios".into(),
            waiting_for: "answer",
            timeout_us: 250_000
        }
    );
    assert_eq!(clock.timeouts, 1);
    assert!(err.to_string().contains("is xenstored running"), "{err}");
    // The request went out and the daemon was notified on the store's port.
    assert_eq!(m.xen.raw().sends, [3]);

    // A request larger than the free ring: the wait for the daemon to consume times out.
    let big = "k".repeat(1500);
    let err = store.read(&mut m.xen, &mut clock, &big).unwrap_err();
    assert!(matches!(*err, XsError::Timeout { waiting_for: "consume our request", .. }), "{err:?}");

    // Whole-config read: the first key's timeout is the error, reported, not a hang.
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    m.store.borrow_mut().answers = false;
    assert!(matches!(
        gather(&mut m).map_err(|e| *e),
        Err(XenError::Config(e))
            if matches!(&*e, ConfigError::Store(e) if matches!(**e, XsError::Timeout { .. }))
    ));
}

#[test]
fn a_broken_ring_is_reported() {
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    m.store.borrow().with(|r| r.rsp_prod = 5000);
    m.store.borrow_mut().answers = false;
    let err = store.read(&mut m.xen, &mut Polls::default(), "platform/acpi").unwrap_err();
    assert!(matches!(*err, XsError::Protocol { .. }), "{err:?}");
}

#[test]
fn parse_c_integer_is_strtoll_base_0_on_whole_strings() {
    assert_eq!(parse_c_integer("0x10"), Some(16));
    assert_eq!(parse_c_integer("0X1f"), Some(31));
    assert_eq!(parse_c_integer("010"), Some(8));
    assert_eq!(parse_c_integer("10"), Some(10));
    assert_eq!(parse_c_integer("0"), Some(0));
    assert_eq!(parse_c_integer("-1"), Some(-1));
    assert_eq!(parse_c_integer(" 7"), Some(7));
    for bad in ["", "0x", "abc", "12k", "09", "99999999999999999999"] {
        assert_eq!(parse_c_integer(bad), None, "{bad:?}");
    }
}

// ---------------------------------------------------------------------------------------
// The whole input side, and the hooks

#[test]
fn gather_with_128_vcpus_rdm_and_hole_size() {
    let keys = [("hvmloader/bios", "seabios"), ("platform/mmio_hole_size", "0x80000000")];
    let mut m = machine(&keys, hvm_info_bytes(128, 64, 0x8_0000, 0));
    m.xen.raw().rdm = (0..20)
        .map(|i| ReservedDeviceMemory { start_pfn: 0xE_0000 + i * 0x100, nr_pages: 1 })
        .collect(); // more than the first buffer holds: the -ENOBUFS round trip
    let mut setup = gather(&mut m).unwrap();
    assert_eq!(setup.version, (4, 17));
    assert_eq!(setup.extraversion, ".3");
    assert_eq!(setup.uuid.unwrap()[..3], [0x8c, 0x2f, 0x41], "the handle as Xen gives it");
    assert_eq!(setup.expected_cpus(), 128);
    assert!(setup.vcpu_enabled(63) && !setup.vcpu_enabled(64));
    assert_eq!(setup.rdm.len(), 20);
    assert!(setup.memory_map.contains(&region(0xE000_0000, 0xE000_1000, MemoryKind::Reserved)));
    assert_eq!(setup.low_hole().unwrap(), 0x8000_0000..0xFC00_0000);

    assert_eq!(setup.use_acpi_ports().unwrap(), XEN_PM_BLOCKS);
    assert_eq!(setup.xen.raw().set_params, [(param::ACPI_IOPORTS_LOCATION, 1)]);

    let mut clock = Polls::default();
    setup.finish(&mut clock).unwrap();
    m.store.borrow().with(|r| {
        assert_eq!((r.req_cons, r.req_prod, r.rsp_cons, r.rsp_prod), (0, 0, 0, 0));
        assert!(r.req.iter().chain(r.rsp.iter()).all(|&b| b == 0xFF));
    });
}

#[test]
fn gather_falls_back_to_hvm_info_and_tolerates_no_rdm() {
    let mut m = machine(&[], hvm_info_bytes(2, 2, 0x8_0000, 0));
    m.xen.raw().memory_map_errno = Some(errno::ENOSYS);
    m.xen.raw().rdm_errno = Some(errno::ENOSYS);
    let setup = gather(&mut m).unwrap();
    assert!(setup.rdm.is_empty());
    assert!(setup.memory_map.contains(&region(0x10_0000, 0x8000_0000, MemoryKind::Ram)));

    let mut m = machine(&[], hvm_info_bytes(2, 2, 0x8_0000, 0));
    m.xen.raw().rdm_errno = Some(errno::EFAULT);
    assert!(matches!(
        gather(&mut m).map_err(|e| *e),
        Err(XenError::Hypercall { errno: errno::EFAULT, .. })
    ));
}

#[test]
fn corrupt_hvm_info_stops_gather() {
    let mut t = hvm_info_bytes(2, 2, 0x8_0000, 0);
    t[16] = 3; // nr_vcpus changed without fixing the checksum
    let mut m = machine(&[], t);
    assert!(matches!(
        gather(&mut m).map_err(|e| *e),
        Err(XenError::HvmInfo(HvmInfoError::BadChecksum { .. }))
    ));
}

fn function(bus: u8, device: u8, ids: (u16, u16), pin: Option<IntxPin>) -> Function {
    Function {
        bdf: Bdf::new(bus, device, 0),
        vendor_id: ids.0,
        device_id: ids.1,
        class_code: 0xFF_8000,
        bars: Vec::new(),
        interrupt_pin: pin,
        upstream: None,
        bridge: None,
    }
}

#[test]
fn callback_irq_uses_xens_gsi_formula() {
    // Xen's wiring (chipset::wiring has its tests): 00:03 INTA -> 28.
    assert_eq!(callback_irq_gsi(28), 28, "type 0 (GSI) in bits 63:56");

    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut setup = gather(&mut m).unwrap();
    let topology = Topology {
        functions: vec![
            function(0, 0, (0x8086, 0x1237), None),
            function(0, 3, PLATFORM_PCI_ID, Some(IntxPin::A)),
        ],
        problems: Vec::new(),
        last_bus: 0,
        last_bus0_bus: 0,
    };
    assert_eq!(setup.set_callback_irq(&topology).unwrap(), Some(28));
    assert_eq!(setup.xen.raw().set_params, [(param::CALLBACK_IRQ, 28)]);
    let none =
        Topology { functions: Vec::new(), problems: Vec::new(), last_bus: 0, last_bus0_bus: 0 };
    assert_eq!(setup.set_callback_irq(&none).unwrap(), None);
}

#[test]
fn bios_image_follows_hvmloader_bios() {
    use crate::bootinfo::{BootInfo, Module};
    let boot = |modules: Vec<Module>| BootInfo {
        start_info: PhysRange { start: 0x1000, end: 0x1038 },
        version: 1,
        flags: 0,
        cmdline: String::new(),
        modules,
        rsdp: None,
        memory_map: Vec::new(),
    };
    let bios = Module {
        range: PhysRange { start: 0x20_0000, end: 0x24_0000 },
        cmdline: "firmware".into(),
    };
    let mut m = machine(&[("hvmloader/bios", "seabios")], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let setup = gather(&mut m).unwrap();
    let with = boot(vec![bios.clone()]);
    assert_eq!(setup.bios_image(&with).unwrap(), BiosImage::Seabios(&with.modules[0]));
    assert!(matches!(
        setup.bios_image(&boot(Vec::new())).map_err(|e| *e),
        Err(XenError::NoFirmwareModule { .. })
    ));
    let outside = boot(vec![Module {
        range: PhysRange { start: 0xFC00_0000, end: 0xFC01_0000 },
        cmdline: "firmware".into(),
    }]);
    assert!(matches!(
        setup.bios_image(&outside).map_err(|e| *e),
        Err(XenError::ModuleOutsideRam { .. })
    ));

    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let setup = gather(&mut m).unwrap();
    assert_eq!(
        setup.bios_image(&with).map_err(|e| *e),
        Err(XenError::UnsupportedBios(BiosKind::Rombios))
    );
}

#[test]
fn shutdown_and_hypercall_leaf() {
    let mut xen = Xen::new(FakeXen::default());
    let err = xen.shutdown(ShutdownReason::Crash);
    assert_eq!(xen.raw().shutdowns, [3]);
    assert!(err.to_string().contains("SCHEDOP_shutdown"));
    let _ = xen.shutdown(ShutdownReason::Poweroff);
    assert_eq!(xen.raw().shutdowns, [3, 0]);

    let leaf = |eax, ebx| CpuidResult { eax, ebx, ecx: 0, edx: 0 };
    assert_eq!(
        HypercallLeaf::from_cpuid(leaf(1, 0x4000_0000)),
        Ok(HypercallLeaf { pages: 1, msr: 0x4000_0000 })
    );
    assert!(HypercallLeaf::from_cpuid(leaf(0, 0x4000_0000)).is_err());
    assert!(HypercallLeaf::from_cpuid(leaf(1, 0x1B)).is_err(), "IA32_APIC_BASE is no Xen MSR");
}

#[test]
fn xen_is_found_behind_viridian() {
    let sig = |s: &[u8; 12]| {
        let w = |i: usize| u32::from_le_bytes(s[i..i + 4].try_into().unwrap());
        (w(0), w(4), w(8))
    };
    let (vb, vc, vd) = sig(b"Microsoft Hv");
    let (xb, xc, xd) = sig(b"XenVMMXenVMM");
    let found = XenCpuid::detect_with(|leaf| match leaf {
        0x4000_0000 => CpuidResult { eax: 0x4000_0006, ebx: vb, ecx: vc, edx: vd },
        0x4000_0100 => CpuidResult { eax: 0x4000_0105, ebx: xb, ecx: xc, edx: xd },
        0x4000_0101 => CpuidResult { eax: 4 << 16 | 17, ebx: 0, ecx: 0, edx: 0 },
        _ => CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 },
    });
    assert_eq!(found, Some(XenCpuid { base: 0x4000_0100, version_major: 4, version_minor: 17 }));
    assert_eq!(XenCpuid::detect_with(|_| CpuidResult { eax: 0, ebx: 0, ecx: 0, edx: 0 }), None);
}

#[test]
fn a_map_reader_serves_config_tests_too() {
    // KeyReader is the seam between the store and the configuration.
    struct Map(HashMap<&'static str, &'static str>);
    impl KeyReader for Map {
        fn read_key(&mut self, path: &str) -> Result<Option<String>, Box<XsError>> {
            if path == "platform/tpm_version" {
                return Err(Box::new(XsError::Daemon {
                    op: XsOp::Read,
                    path: path.into(),
                    error: "EACCES".into(),
                }));
            }
            Ok(self.0.get(path).map(|v| v.to_string()))
        }
    }
    let c = XenConfig::read(&mut Map(HashMap::from([("hvmloader/bios", "ovmf")]))).unwrap();
    assert_eq!(c.bios, BiosKind::Ovmf);
    assert_eq!(c.tpm_version, TpmVersion::Tpm12, "EACCES counts as missing, as in hvmloader");
    let _ = format!("{c:?}");
}

#[test]
fn conventional_memory_is_added_below_a_map_that_starts_at_1mib() {
    let ram = |start, end| MemoryRegion { range: PhysRange { start, end }, kind: MemoryKind::Ram };
    let map = memmap::with_low_memory(alloc::vec![ram(0x10_0000, 0x800_0000)]);
    assert_eq!(map[0], ram(0, 0x9_F000));
    assert_eq!(map[1].range, PhysRange { start: 0x9_F000, end: 0xA_0000 });
    assert_eq!(map[1].kind, MemoryKind::Reserved);
    assert_eq!(map[2], ram(0x10_0000, 0x800_0000));
    // A map that already describes low memory stays as it is.
    let full = alloc::vec![ram(0, 0x9_F000), ram(0x10_0000, 0x800_0000)];
    assert_eq!(memmap::with_low_memory(full.clone()), full);
    // libxl 4.17 with `acpi_firmware=`: an ACPI entry at 0 the length of the file. It must
    // neither stop the conventional memory from being added nor claim the IVT.
    let acpi_module = MemoryRegion {
        range: PhysRange { start: 0, end: 0x54 },
        kind: MemoryKind::AcpiReclaimable,
    };
    let map = memmap::with_low_memory(alloc::vec![acpi_module, ram(0x10_0000, 0x800_0000)]);
    assert_eq!(map[0], ram(0, 0x9_F000));
    assert_eq!(map.len(), 3, "{map:?}");
    assert!(!map.iter().any(|r| r.kind == MemoryKind::AcpiReclaimable), "{map:?}");
}

#[test]
fn no_or_zero_domain_handle_means_no_uuid() {
    for handle in [None, Some([0u8; 16])] {
        let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
        m.xen.raw().handle = handle;
        assert_eq!(gather(&mut m).unwrap().uuid, None, "{handle:?}");
    }
}

// ---------------------------------------------------------------------------------------
// xenstore writes, the generation ID and the sleep states

#[test]
fn writes_reach_the_store_as_path_nul_value() {
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    let mut clock = Polls { per_wait: 1, timeouts: 0 };
    store.write(&mut m.xen, &mut clock, "data/test", "0xfc001000").unwrap();
    assert_eq!(
        store.read(&mut m.xen, &mut clock, "data/test").unwrap().as_deref(),
        Some("0xfc001000")
    );
    // An empty value is a value, and a long one crosses the 1 KiB ring several times.
    store.write(&mut m.xen, &mut clock, "data/empty", "").unwrap();
    let long = "v".repeat(3000);
    store.write(&mut m.xen, &mut clock, "data/long", &long).unwrap();
    assert_eq!(store.read(&mut m.xen, &mut clock, "data/long").unwrap(), Some(long.clone()));
    let writes = &m.store.borrow().writes;
    assert_eq!(writes[0], ("data/test".to_string(), "0xfc001000".to_string()));
    assert_eq!(writes[1], ("data/empty".to_string(), String::new()));
    assert_eq!(writes[2].1, long);
    assert_eq!(clock.timeouts, 0);
}

#[test]
fn refused_oversized_and_unanswered_writes_are_errors() {
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    let mut clock = Polls { per_wait: 2, timeouts: 0 };

    m.store.borrow_mut().write_error = Some("EACCES");
    let err = store.write(&mut m.xen, &mut clock, "/local/domain/0/x", "1").unwrap_err();
    assert_eq!(
        *err,
        XsError::Daemon {
            op: XsOp::Write,
            path: "/local/domain/0/x".into(),
            error: "EACCES".into()
        }
    );
    assert_eq!(err.to_string(), "xenstore: writing \"/local/domain/0/x\": daemon answered EACCES");
    // The client is still in step with the daemon.
    m.store.borrow_mut().write_error = None;
    store.write(&mut m.xen, &mut clock, "data/ok", "1").unwrap();

    // Path, NUL and value must fit XENSTORE_PAYLOAD_MAX (4096): 4095 bytes of value do not.
    let sends = m.xen.raw().sends.len();
    let err = store.write(&mut m.xen, &mut clock, "data/big", &"x".repeat(4095)).unwrap_err();
    assert_eq!(*err, XsError::ValueTooLong { path: "data/big".into(), len: 8 + 1 + 4095 });
    assert_eq!(m.xen.raw().sends.len(), sends, "nothing was sent");
    store.write(&mut m.xen, &mut clock, "data/big", &"x".repeat(4096 - 9)).unwrap();
    assert!(store.write(&mut m.xen, &mut clock, "a\0b", "1").is_err(), "NUL in the path");

    m.store.borrow_mut().answers = false;
    store.timeout_us = 100_000;
    let err = store.write(&mut m.xen, &mut clock, "data/late", "1").unwrap_err();
    assert_eq!(
        *err,
        XsError::Timeout {
            op: XsOp::Write,
            path: "data/late".into(),
            waiting_for: "answer",
            timeout_us: 100_000
        }
    );
    assert!(err.to_string().starts_with("xenstore: no progress on writing \"data/late\""), "{err}");
}

#[test]
fn setup_writes_keys_and_publishes_the_generation_id() {
    let keys = [("platform/generation-id", "0x1234:5678"), ("platform/acpi_s4", "0")];
    let mut m = machine(&keys, hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut setup = gather(&mut m).unwrap();
    assert_eq!(setup.config.generation_id, Some([0x1234, 5678]));
    assert_eq!(setup.sleep_states(), crate::acpi::ssdt::SleepStates { s3: Some(1), s4: None });

    setup.publish_generation_id(0xFC00_2000).unwrap();
    assert_eq!(setup.xen.raw().set_params, [(param::VM_GENERATION_ID_ADDR, 0xFC00_2000)]);

    let mut clock = Polls::default();
    setup.write_key(&mut clock, "data/firmware", "hvmloader-rs").unwrap();
    assert_eq!(
        m.store.borrow().keys.get("data/firmware").map(String::as_str),
        Some("hvmloader-rs")
    );
    m.store.borrow_mut().write_error = Some("EROFS");
    assert!(matches!(
        setup.write_key(&mut clock, "data/firmware", "x").map_err(|e| *e),
        Err(XenError::Store(e)) if matches!(*e, XsError::Daemon { op: XsOp::Write, .. })
    ));
    setup.finish(&mut clock).unwrap();
}

#[test]
fn vnuma_is_read_in_two_calls_and_checked() {
    let range = |start, end, nid| VmemRange { start, end, flags: 0, nid };
    let mut m = machine(&[], hvm_info_bytes(2, 2, 0x8_0000, 0));
    m.xen.raw().vnuma = Some((
        vec![10, 20, 20, 10],
        vec![0, 1],
        vec![range(0, 0x4000_0000, 0), range(0x4000_0000, 0x8000_0000, 1)],
    ));
    let setup = gather(&mut m).unwrap();
    let vnuma = setup.vnuma.expect("the topology Xen gave");
    assert_eq!((vnuma.nr_vnodes, vnuma.distance.len()), (2, 4));
    assert_eq!(vnuma.vcpu_to_vnode, [0, 1]);
    assert_eq!(vnuma.memory[1].nid, 1);

    // A vCPU on a node that does not exist stops the boot with the cause.
    let mut m = machine(&[], hvm_info_bytes(2, 2, 0x8_0000, 0));
    m.xen.raw().vnuma = Some((vec![10, 20, 20, 10], vec![0, 7], vec![range(0, 0x1000, 0)]));
    let Err(err) = gather(&mut m) else { panic!("a vCPU on node 7 of 2 was accepted") };
    assert!(matches!(*err, XenError::VnumaNode { node: 7, nodes: 2 }), "{err}");
}

// ---------------------------------------------------------------------------------------
// vCPUs started through VCPUOP.

#[test]
fn vcpu_context_layout_matches_hvm_vcpu_h() {
    assert_eq!(size_of::<VcpuHvmX86_32>(), 120);
    assert_eq!(offset_of!(VcpuHvmX86_32, eip), 32);
    assert_eq!(offset_of!(VcpuHvmX86_32, cr0), 40);
    assert_eq!(offset_of!(VcpuHvmX86_32, efer), 56);
    assert_eq!(offset_of!(VcpuHvmX86_32, cs_base), 64);
    assert_eq!(offset_of!(VcpuHvmX86_32, cs_limit), 84);
    assert_eq!(offset_of!(VcpuHvmX86_32, tr_limit), 100);
    assert_eq!(offset_of!(VcpuHvmX86_32, cs_ar), 104);
    assert_eq!(offset_of!(VcpuHvmX86_32, tr_ar), 112);
    assert_eq!(size_of::<VcpuHvmContext>(), 128);
    assert_eq!(offset_of!(VcpuHvmContext, regs), 8);
}

#[test]
fn vcpus_start_flat_at_the_entry_and_go_down_again() {
    use crate::cpu::VcpuControl;
    let mut m = machine(&[], hvm_info_bytes(2, 2, 0x8_0000, 0));
    let mut setup = gather(&mut m).unwrap();
    setup.start_at(1, 0x8040).unwrap();
    setup.stop(1).unwrap();
    let ops = &setup.xen.raw().vcpu_ops;
    assert_eq!(ops.len(), 3, "{ops:?}");
    assert_eq!((ops[0].0, ops[0].1), (vcpuop::INITIALISE, 1));
    assert_eq!((ops[1].0, ops[1].1, ops[1].2), (vcpuop::UP, 1, None));
    assert_eq!((ops[2].0, ops[2].1, ops[2].2), (vcpuop::DOWN, 1, None));
    let context = ops[0].2.unwrap();
    assert_eq!(context.mode, VcpuHvmContext::MODE_32B);
    let r = context.regs;
    assert_eq!(r.eip, 0x8040);
    assert_eq!(r.cr0 & 0x8000_0001, 1, "protected mode, no paging");
    assert_eq!(r.eflags & (1 << 9), 0, "interrupts off");
    for (base, limit, ar) in [
        (r.cs_base, r.cs_limit, r.cs_ar),
        (r.ds_base, r.ds_limit, r.ds_ar),
        (r.ss_base, r.ss_limit, r.ss_ar),
        (r.es_base, r.es_limit, r.es_ar),
    ] {
        assert_eq!((base, limit), (0, u32::MAX), "flat segments");
        assert_eq!(ar & 0xC90, 0xC90, "present, S, 32-bit, 4 KiB granular: {ar:#x}");
    }
    assert_eq!(r.cs_ar & 0xF, 0xB, "code: execute/read");
    assert_eq!(r.ds_ar & 0xF, 0x3, "data: read/write");
    assert_eq!((r.tr_limit, r.tr_ar), (0x67, 0x8B), "a busy 32-bit TSS");
}

#[test]
fn a_vcpu_xen_refuses_to_start_names_the_call() {
    use crate::cpu::VcpuControl;
    let mut m = machine(&[], hvm_info_bytes(2, 2, 0x8_0000, 0));
    let mut setup = gather(&mut m).unwrap();
    setup.xen.raw().vcpu_up_errno = Some(errno::EINVAL);
    let why = setup.start_at(1, 0x8040).unwrap_err();
    assert_eq!(why, "vcpu_op(VCPUOP_up) failed: Xen errno 22");
    let error = crate::cpu::CpuError::Hypervisor { vcpu: 1, why };
    assert_eq!(format!("{error}"), "vCPU 1: vcpu_op(VCPUOP_up) failed: Xen errno 22");
}

// ---------------------------------------------------------------------------------------
// The MMIO hole grown over RAM moved above 4 GiB (hvmloader/allow-memory-relocate).

mod mmio_hole_relocation {
    use core::ops::Range;

    use super::*;
    use crate::layout::{self, HOLE_END};
    use crate::pci::{self, Apertures, Bar, BarKind, BarRegister, Plan, UnplacedReason};
    use memmap::{
        FittedHole, HoleError, HoleLimit, PageMove, Relocation, growth_starts, hole_bounds,
        relocated_map, relocation,
    };

    /// The fake hypervisor plus XENMEM_add_to_physmap: every call's argument is recorded,
    /// the `fail_call`-th (from 0) fails with -EINVAL.
    #[derive(Default)]
    struct Relocating {
        inner: FakeXen,
        added: Vec<AddToPhysmap>,
        fail_call: Option<usize>,
    }

    impl Hypercall for Relocating {
        unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
            if (op, args[0]) == (abi::hypercall::MEMORY_OP, xenmem::ADD_TO_PHYSMAP) {
                // SAFETY: the wrapper passes a live `xen_add_to_physmap`.
                let a = unsafe { *(args[1] as *const AddToPhysmap) };
                let n = self.added.len();
                self.added.push(a);
                return if self.fail_call == Some(n) { -errno::EINVAL } else { 0 };
            }
            // SAFETY: forwarded contract.
            unsafe { self.inner.call(op, args) }
        }
    }

    /// (idx, gpfn, size) of each add_to_physmap call, after checking the fixed fields.
    fn calls(setup: &mut XenSetup<Relocating>) -> Vec<(u64, u64, u16)> {
        setup
            .xen
            .raw()
            .added
            .iter()
            .map(|a| {
                assert_eq!((a.domid, a.space), (DOMID_SELF, MAPSPACE_GMFN_RANGE));
                (a.idx, a.gpfn, a.size)
            })
            .collect()
    }

    use crate::addr::{GiB, MiB};

    /// A guest with 5 GiB the way libxl lays it out: RAM to 0xF0000000, 1 GiB above 4 GiB.
    fn e820_5g() -> Vec<E820Entry> {
        vec![
            e820(0, 0x9_F000, 1),
            e820(0x10_0000, 0xF000_0000 - 0x10_0000, 1),
            e820(0xFC00_0000, 0x400_0000, 2),
            e820(1 << 32, GiB, 1),
        ]
    }

    /// The same RAM below 4 GiB and none above (3.75 GiB).
    fn e820_low_only() -> Vec<E820Entry> {
        e820_5g()[..3].to_vec()
    }

    /// The machine stays alive with the setup: the store's ring lives in it.
    fn setup(
        keys: &[(&str, &str)],
        e820: Vec<E820Entry>,
        high_pgend: u32,
    ) -> (Machine, XenSetup<Relocating>) {
        let mut m = machine(keys, hvm_info_bytes(1, 1, 0xF_0000, high_pgend));
        m.xen.raw().e820 = e820;
        let store = client(&mut m);
        let inner = std::mem::take(m.xen.raw());
        let xen = Xen::new(Relocating { inner, ..Default::default() });
        let setup =
            XenSetup::gather(xen, &m.memory, store, &mut Polls { per_wait: 3, timeouts: 0 })
                .unwrap();
        (m, setup)
    }

    fn device(device: u8, bars: &[(BarKind, u64)]) -> Function {
        let mut f = function(0, device, (0x1234, 0x1111), None);
        f.bars = bars
            .iter()
            .enumerate()
            .map(|(i, &(kind, size))| Bar::own(BarRegister(0x10 + 8 * i as u16), kind, size))
            .collect();
        f
    }

    fn topology(functions: Vec<Function>) -> Topology {
        Topology { functions, problems: Vec::new(), last_bus: 0, last_bus0_bus: 0 }
    }

    const MEM32: BarKind = BarKind::Mem32 { prefetchable: false };
    const MEM64: BarKind = BarKind::Mem64 { prefetchable: true };

    /// The PCI planner as the boot code runs it, on a hole and the map that goes with it.
    fn plan_for(topology: &Topology, hole: &Range<u64>, map: &[MemoryRegion]) -> Plan {
        let reserved = layout::reserved_in(map, hole);
        let apertures = Apertures {
            io: 0x1000..0x1_0000,
            io_reserved: &[],
            low_mem: hole.clone(),
            low_mem_reserved: &reserved,
            high_mem: layout::high_window(map, 40),
        };
        pci::plan(topology, &apertures).unwrap()
    }

    fn planner(topology: &Topology) -> impl FnMut(&Range<u64>, &[MemoryRegion]) -> bool {
        move |hole, map| !plan_for(topology, hole, map).low_mem_short
    }

    fn fit(
        setup: &mut XenSetup<Relocating>,
        topology: &Topology,
    ) -> Result<FittedHole, Box<XenError>> {
        let hole = setup.low_hole().unwrap();
        setup.fit_low_hole(hole, &[], planner(topology))
    }

    /// Where the planner put the BAR of the function at `index`.
    fn base(plan: &Plan, index: usize) -> Option<u64> {
        plan.functions[index].bars[0]
    }

    // --- the pure parts -----------------------------------------------------------------

    #[test]
    fn the_hole_grows_in_hvmloaders_steps_within_its_bounds() {
        let natural = 0xF000_0000..HOLE_END;
        let allowed = hole_bounds(natural.clone(), false, true);
        assert_eq!((allowed.lowest_start, allowed.limit), (0x8000_0000, HoleLimit::LowestStart));
        let forbidden = hole_bounds(natural.clone(), false, false);
        assert_eq!(forbidden.lowest_start, 0xF000_0000, "no growth over RAM");
        assert_eq!(forbidden.limit, HoleLimit::RelocationNotAllowed);
        let fixed = hole_bounds(natural.clone(), true, true);
        assert_eq!((fixed.lowest_start, fixed.limit), (0xF000_0000, HoleLimit::FixedSize));
        // RAM below 2 GiB never moves: a hole already starting lower stays where it is.
        let small_guest = hole_bounds(0x4000_0000..HOLE_END, false, true);
        assert_eq!(small_guest.lowest_start, 0x4000_0000);

        assert_eq!(growth_starts(&allowed), [0xE000_0000, 0xC000_0000, 0x8000_0000]);
        assert!(growth_starts(&forbidden).is_empty());
        assert!(growth_starts(&fixed).is_empty());
        assert!(growth_starts(&small_guest).is_empty(), "2 GiB at most");
        // A natural hole between hvmloader's starts grows to the next one down.
        let odd = hole_bounds(0xF400_0000..HOLE_END, false, true);
        assert_eq!(growth_starts(&odd), [0xF000_0000, 0xE000_0000, 0xC000_0000, 0x8000_0000]);
    }

    #[test]
    fn relocation_moves_the_top_of_low_ram_first_in_0xffff_page_chunks() {
        // 0xF0000000 -> 0xE0000000 with 1 GiB above 4 GiB: after high_mem_pgend.
        let r = relocation(0xE000_0000, 0xF_0000, 0x14_0000).unwrap();
        assert_eq!(
            r.moves,
            [
                PageMove { from_pfn: 0xE_0001, to_pfn: 0x14_0000, pages: 0xFFFF },
                PageMove { from_pfn: 0xE_0000, to_pfn: 0x14_FFFF, pages: 1 },
            ]
        );
        assert_eq!((r.low_mem_pgend, r.high_mem_pgend), (0xE_0000, 0x15_0000));
        assert_eq!(r.source(), Some(PhysRange { start: 0xE000_0000, end: 0xF000_0000 }));
        assert_eq!(r.destination(), Some(PhysRange { start: 0x1_4000_0000, end: 0x1_5000_0000 }));

        // No RAM above 4 GiB: the pages go to 4 GiB.
        let r = relocation(0xE000_0000, 0xF_0000, 0).unwrap();
        assert_eq!(r.moves[0], PageMove { from_pfn: 0xE_0001, to_pfn: 0x10_0000, pages: 0xFFFF });
        assert_eq!(r.high_mem_pgend, 0x11_0000);

        // Down to 2 GiB: 0x70000 pages in 7 full calls and a last one of 7.
        let r = relocation(0x8000_0000, 0xF_0000, 0).unwrap();
        assert_eq!(r.moves.len(), 8);
        assert!(r.moves[..7].iter().all(|m| m.pages == 0xFFFF));
        assert_eq!(r.moves[7], PageMove { from_pfn: 0x8_0000, to_pfn: 0x16_FFF9, pages: 7 });
        assert!(r.moves.windows(2).all(|w| w[1].to_pfn == w[0].to_pfn + u64::from(w[0].pages)));
        assert!(r.moves.windows(2).all(|w| w[1].from_pfn + u64::from(w[1].pages) == w[0].from_pfn));
        assert_eq!((r.low_mem_pgend, r.high_mem_pgend), (0x8_0000, 0x17_0000));

        // Nothing under the hole: nothing moves, high_mem_pgend stays 0.
        let r = relocation(0xF000_0000, 0xF_0000, 0).unwrap();
        let nothing = Relocation {
            hole_start_pfn: 0xF_0000,
            moves: vec![],
            low_mem_pgend: 0xF_0000,
            high_mem_pgend: 0,
        };
        assert_eq!(r, nothing);
        // A high_mem_pgend that would pass 32 bits of frames is refused.
        assert_eq!(
            relocation(0xE000_0000, 0xF_0000, 0xFFFF_F000),
            Err(HoleError::HighMemPgendOverflow { pfn: 0x1_0000_F000 })
        );
    }

    #[test]
    fn the_map_shows_the_moved_ram_above_4g() {
        let map = memmap::with_low_memory(memmap::from_e820(&e820_5g()).unwrap());
        let r = relocation(0xE000_0000, 0xF_0000, 0x14_0000).unwrap();
        let moved = relocated_map(&map, &r, &[]).unwrap();
        assert!(moved.contains(&region(0x10_0000, 0xE000_0000, MemoryKind::Ram)));
        assert!(moved.contains(&region(1 << 32, 0x1_5000_0000, MemoryKind::Ram)), "{moved:?}");
        assert!(moved.contains(&region(0xFC00_0000, 1 << 32, MemoryKind::Reserved)));
        assert_eq!(moved.len(), map.len());
        assert_eq!(layout::low_hole(&moved).unwrap(), 0xE000_0000..HOLE_END);

        // Without high RAM a new entry at 4 GiB.
        let map = memmap::from_e820(&e820_low_only()).unwrap();
        let r = relocation(0xC000_0000, 0xF_0000, 0).unwrap();
        let moved = relocated_map(&map, &r, &[]).unwrap();
        assert_eq!(moved.last(), Some(&region(1 << 32, 0x1_3000_0000, MemoryKind::Ram)));
        assert!(moved.windows(2).all(|w| w[0].range.end <= w[1].range.start));
    }

    #[test]
    fn a_map_that_disagrees_with_hvm_info_stops_the_move() {
        let map = memmap::from_e820(&e820_5g()).unwrap();
        let r = relocation(0xE000_0000, 0xF_0000, 0x14_0000).unwrap();
        // Reserved device memory inside the RAM to move.
        let rdm = [PhysRange { start: 0xE800_0000, end: 0xE800_1000 }];
        let (with_rdm, _) = memmap::reserve_rdm(&map, &rdm);
        let err = relocated_map(&with_rdm, &r, &[]).unwrap_err();
        assert!(matches!(err, HoleError::MapDisagrees { ref map_ram, .. } if map_ram.len() == 2));
        assert_eq!(
            format!("{err}"),
            "MMIO hole: RAM under it is [0xe0000000-0xefffffff] by the hvm_info_table but \
             [0xe0000000-0xe7ffffff] [0xe8001000-0xefffffff] by Xen's memory map"
        );
        // hvm_info says nothing is under the hole, the map has RAM there.
        let none = relocation(0xE000_0000, 0xE_0000, 0x14_0000).unwrap();
        assert!(matches!(
            relocated_map(&map, &none, &[]),
            Err(HoleError::MapDisagrees { hvm_info_ram: None, .. })
        ));
        // Something where the RAM would land.
        let mut busy = map.clone();
        busy.push(region(0x1_4000_0000, 0x1_4000_1000, MemoryKind::Reserved));
        assert_eq!(
            relocated_map(&busy, &r, &[]),
            Err(HoleError::DestinationInUse {
                destination: PhysRange { start: 0x1_4000_0000, end: 0x1_5000_0000 },
                entry: PhysRange { start: 0x1_4000_0000, end: 0x1_4000_1000 },
            })
        );
        // A boot module in the way.
        let module = PhysRange { start: 0xEF00_0000, end: 0xEF04_0000 };
        let err = relocated_map(&map, &r, &[module]).unwrap_err();
        assert!(matches!(err, HoleError::BootDataInHole { data, .. } if data == module));
    }

    #[test]
    fn hvm_info_layout_is_written_back_with_a_good_checksum() {
        struct Page(Vec<u8>);
        impl crate::arch::PhysMemoryMut for Page {
            fn window(&mut self, range: PhysRange) -> Result<&mut [u8], PhysReadError> {
                let at = (range.start - 0x9_F800) as usize;
                Ok(&mut self.0[at..at + range.len() as usize])
            }
        }
        let mut page = Page(hvm_info_bytes(2, 2, 0xF_0000, 0x14_0000));
        let mut info = HvmInfo::parse(&page.0).unwrap();
        info.low_mem_pgend = 0xE_0000;
        info.high_mem_pgend = 0x15_0000;
        info.write_back(&mut page).unwrap();
        assert_eq!(HvmInfo::parse(&page.0).unwrap(), info, "valid again, with the new layout");
    }

    // --- with the fake hypervisor ---------------------------------------------------------

    #[test]
    fn relocation_allowed_and_needed_moves_the_ram_in_hvmloaders_chunks() {
        // 256 + 64 + 16 MiB of BARs, 192 MiB of hole: hvmloader takes 0xE0000000.
        let bars = topology(vec![
            device(2, &[(MEM32, 256 * MiB)]),
            device(3, &[(MEM64, 64 * MiB)]),
            device(4, &[(MEM32, 16 * MiB)]),
        ]);
        let (_m, mut s) = setup(&[], e820_5g(), 0x14_0000);
        assert!(s.config.allow_memory_relocate, "hvmloader's default");
        assert_eq!(s.low_hole().unwrap(), 0xF000_0000..HOLE_END);
        let fitted = fit(&mut s, &bars).unwrap();
        assert_eq!(fitted.hole, 0xE000_0000..HOLE_END);
        assert_eq!(calls(&mut s), [(0xE_0001, 0x14_0000, 0xFFFF), (0xE_0000, 0x14_FFFF, 1)]);
        assert_eq!((s.hvm_info.low_mem_pgend, s.hvm_info.high_mem_pgend), (0xE_0000, 0x15_0000));
        assert!(s.memory_map.contains(&region(0x10_0000, 0xE000_0000, MemoryKind::Ram)));
        assert!(s.memory_map.contains(&region(1 << 32, 0x1_5000_0000, MemoryKind::Ram)));
        // Everything below 4 GiB now, the 64-bit BAR too (as hvmloader: it fits).
        let plan = plan_for(&bars, &fitted.hole, &s.memory_map);
        assert!(!plan.low_mem_short && plan.unplaced.is_empty() && plan.high_mem_used.is_none());
        assert!(plan.low_mem_used.unwrap().start >= 0xE000_0000);
    }

    #[test]
    fn relocation_without_high_ram_starts_at_4g_and_may_take_several_steps() {
        // 528 MiB of BARs: 0xE0000000 holds 448 MiB, so 0xC0000000, 0x30000 pages.
        let bars = topology(vec![
            device(2, &[(MEM32, 256 * MiB)]),
            device(3, &[(MEM64, 128 * MiB)]),
            device(4, &[(MEM32, 128 * MiB)]),
            device(5, &[(MEM32, 16 * MiB)]),
        ]);
        let (_m, mut s) = setup(&[], e820_low_only(), 0);
        let fitted = fit(&mut s, &bars).unwrap();
        assert_eq!(fitted.hole, 0xC000_0000..HOLE_END);
        assert_eq!(
            calls(&mut s),
            [
                (0xE_0001, 0x10_0000, 0xFFFF),
                (0xD_0002, 0x10_FFFF, 0xFFFF),
                (0xC_0003, 0x11_FFFE, 0xFFFF),
                (0xC_0000, 0x12_FFFD, 3),
            ]
        );
        assert_eq!((s.hvm_info.low_mem_pgend, s.hvm_info.high_mem_pgend), (0xC_0000, 0x13_0000));
        assert_eq!(s.memory_map.last(), Some(&region(1 << 32, 0x1_3000_0000, MemoryKind::Ram)));
        let plan = plan_for(&bars, &fitted.hole, &s.memory_map);
        assert!(!plan.low_mem_short && plan.unplaced.is_empty());
    }

    #[test]
    fn relocation_not_allowed_keeps_the_hole_and_ends_as_hvmloader_does() {
        // hvmloader: no growth over RAM; 64-bit BARs high while the rest does not fit; the
        // 256 MiB 32-bit BAR has no room and is left unassigned; the others fit low.
        let bars = topology(vec![
            device(2, &[(MEM32, 256 * MiB)]),
            device(3, &[(MEM64, 128 * MiB)]),
            device(4, &[(MEM32, 128 * MiB)]),
            device(5, &[(MEM32, 16 * MiB)]),
        ]);
        let keys = [("hvmloader/allow-memory-relocate", "0")];
        let (_m, mut s) = setup(&keys, e820_5g(), 0x14_0000);
        let map_before = s.memory_map.clone();
        let fitted = fit(&mut s, &bars).unwrap();
        assert_eq!(
            fitted,
            FittedHole { hole: 0xF000_0000..HOLE_END, limit: HoleLimit::RelocationNotAllowed }
        );
        assert!(calls(&mut s).is_empty(), "no hypercall");
        assert_eq!((s.hvm_info.low_mem_pgend, s.hvm_info.high_mem_pgend), (0xF_0000, 0x14_0000));
        assert_eq!(s.memory_map, map_before);

        let plan = plan_for(&bars, &fitted.hole, &s.memory_map);
        assert!(plan.low_mem_short);
        assert_eq!(base(&plan, 0), None);
        assert_eq!(plan.unplaced.len(), 1);
        assert_eq!(
            (plan.unplaced[0].size, plan.unplaced[0].reason),
            (256 * MiB, UnplacedReason::NoSpace)
        );
        assert!(base(&plan, 1).unwrap() >= 0x1_4000_0000, "64-bit BAR above RAM above 4 GiB");
        for index in [2, 3] {
            assert!((0xF000_0000..HOLE_END).contains(&base(&plan, index).unwrap()));
        }
        let err = HoleError::BarsDoNotFit {
            hole: fitted.hole,
            limit: fitted.limit,
            unplaced: 1,
            bytes: 256 * MiB,
        };
        assert_eq!(
            format!("{}", XenError::Hole(err)),
            "MMIO hole [0xf0000000-0xfbffffff] is the largest allowed \
             (hvmloader/allow-memory-relocate is 0, so no RAM moves for it) and 1 memory BAR(s), \
             0x10000000 bytes, fit neither there nor above 4 GiB: left unassigned, as hvmloader \
             leaves them"
        );
    }

    #[test]
    fn bars_that_fit_move_nothing() {
        let bars = topology(vec![device(2, &[(MEM32, 64 * MiB)]), device(3, &[(MEM64, 64 * MiB)])]);
        let (_m, mut s) = setup(&[], e820_5g(), 0x14_0000);
        let map_before = s.memory_map.clone();
        let fitted = fit(&mut s, &bars).unwrap();
        assert_eq!(fitted.hole, 0xF000_0000..HOLE_END);
        assert!(calls(&mut s).is_empty(), "no hypercall");
        assert_eq!(s.memory_map, map_before);
        assert_eq!(s.hvm_info.low_mem_pgend, 0xF_0000);
    }

    #[test]
    fn a_fixed_mmio_hole_size_does_not_grow() {
        let bars = topology(vec![device(2, &[(MEM32, 256 * MiB)])]);
        let keys = [("platform/mmio_hole_size", "0x10000000")];
        let (_m, mut s) = setup(&keys, e820_5g(), 0x14_0000);
        let fitted = fit(&mut s, &bars).unwrap();
        assert_eq!(fitted, FittedHole { hole: 0xF000_0000..HOLE_END, limit: HoleLimit::FixedSize });
        assert!(calls(&mut s).is_empty());
    }

    #[test]
    fn when_even_2_gib_is_short_the_hole_goes_to_2_gib_as_hvmloaders() {
        // Two 1 GiB 32-bit BARs cannot both fit below 0xFC000000.
        let bars = topology(vec![device(2, &[(MEM32, GiB)]), device(3, &[(MEM32, GiB)])]);
        let (_m, mut s) = setup(&[], e820_5g(), 0x14_0000);
        let fitted = fit(&mut s, &bars).unwrap();
        assert_eq!(
            fitted,
            FittedHole { hole: 0x8000_0000..HOLE_END, limit: HoleLimit::LowestStart }
        );
        let moves = calls(&mut s);
        assert_eq!(moves.len(), 8);
        assert_eq!(moves.iter().map(|m| u64::from(m.2)).sum::<u64>(), 0x7_0000);
        assert_eq!((s.hvm_info.low_mem_pgend, s.hvm_info.high_mem_pgend), (0x8_0000, 0x1B_0000));
        assert!(s.memory_map.contains(&region(1 << 32, 0x1_B000_0000, MemoryKind::Ram)));
        let plan = plan_for(&bars, &fitted.hole, &s.memory_map);
        assert_eq!(plan.unplaced.len(), 1, "one BAR left out, as hvmloader leaves it");
        assert_eq!(base(&plan, 0), Some(0x8000_0000));
    }

    #[test]
    fn a_refused_move_is_an_error_and_hvm_info_says_what_moved() {
        let bars = topology(vec![device(2, &[(MEM32, 256 * MiB)])]);
        let (_m, mut s) = setup(&[], e820_5g(), 0x14_0000);
        s.xen.raw().fail_call = Some(1);
        let map_before = s.memory_map.clone();
        let err = fit(&mut s, &bars).unwrap_err();
        assert_eq!(
            format!("{err}"),
            "memory_op(XENMEM_add_to_physmap, XENMAPSPACE_gmfn_range) failed: Xen errno 22"
        );
        assert_eq!(calls(&mut s).len(), 2);
        assert_eq!((s.hvm_info.low_mem_pgend, s.hvm_info.high_mem_pgend), (0xE_0001, 0x14_FFFF));
        assert_eq!(s.memory_map, map_before, "the map changes only once all moved");
    }

    #[test]
    fn ram_that_cannot_move_stops_the_growth_a_step_before() {
        // 528 MiB of BARs want 0xC0000000, but a boot module lies at 0xD1000000.
        let bars = topology(vec![
            device(2, &[(MEM32, 256 * MiB)]),
            device(3, &[(MEM64, 128 * MiB)]),
            device(4, &[(MEM32, 128 * MiB)]),
            device(5, &[(MEM32, 16 * MiB)]),
        ]);
        let (_m, mut s) = setup(&[], e820_5g(), 0x14_0000);
        let module = PhysRange { start: 0xD100_0000, end: 0xD104_0000 };
        let hole = s.low_hole().unwrap();
        let fitted = s.fit_low_hole(hole.clone(), &[module], planner(&bars)).unwrap();
        assert_eq!(
            fitted,
            FittedHole { hole: 0xE000_0000..HOLE_END, limit: HoleLimit::RamCannotMove }
        );
        assert_eq!(calls(&mut s).len(), 2);
        let plan = plan_for(&bars, &fitted.hole, &s.memory_map);
        assert!(plan.low_mem_short && base(&plan, 1).unwrap() > 1 << 32, "64-bit BAR high");

        // In the first step already: no growth, no call.
        let (_m, mut s) = setup(&[], e820_5g(), 0x14_0000);
        let module = PhysRange { start: 0xE100_0000, end: 0xE104_0000 };
        let fitted = s.fit_low_hole(hole.clone(), &[module], planner(&bars)).unwrap();
        assert_eq!(fitted, FittedHole { hole, limit: HoleLimit::RamCannotMove });
        assert!(calls(&mut s).is_empty());
    }
}
