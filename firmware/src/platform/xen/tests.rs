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
use super::xenstore::{Stopwatch, XenStore, XsError, XsOp};
use super::*;
use crate::arch::{CpuidResult, PhysMemory, PhysReadError};
use crate::bootinfo::{MemoryKind, MemoryRegion, PhysRange};
use crate::pci::{Bdf, Function, IntxPin, Topology};

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
}

impl Hypercall for FakeXen {
    unsafe fn call(&mut self, op: u32, args: [u64; 5]) -> i64 {
        // SAFETY (whole body): the wrappers pass pointers to live structures of the
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

impl Stopwatch for Polls {
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

fn hvm_info_bytes(nr_vcpus: u32, online: u32, low_pgend: u32, high_pgend: u32) -> Vec<u8> {
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

fn machine(keys: &[(&str, &str)], hvm_info: Vec<u8>) -> Machine {
    let store = FakeStore::new(keys);
    let ring_paddr = store.borrow().ring() as u64;
    let fake = FakeXen {
        version: 4 << 16 | 17,
        extraversion: ".3",
        handle: Some(*b"\x8c\x2f\x41\x9e\x0b\x6d\x4c\x1a\x9f\x03\x52\x77\xe4\x10\xaa\x5b"),
        params: HashMap::from([(param::STORE_PFN, ring_paddr >> 12), (param::STORE_EVTCHN, 3)]),
        e820: guest_e820(),
        store: Some(store.clone()),
        ..Default::default()
    };
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

fn gather(m: &mut Machine) -> Result<XenSetup<FakeXen>, XenError> {
    let store = client(m);
    let xen = std::mem::replace(&mut m.xen, Xen::new(FakeXen::default()));
    XenSetup::gather(xen, &m.memory, store, &mut Polls { per_wait: 3, timeouts: 0 })
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
        memmap::from_e820(&[e820(0, 0x10_0000, 1), e820(0x8_0000, 0x1000, 2)]),
        Err(XenError::MemoryEntriesOverlap { .. })
    ));
    assert!(matches!(
        memmap::from_e820(&[e820(u64::MAX - 10, 0x1000, 1)]),
        Err(XenError::BadMemoryEntry { index: 0, .. })
    ));
    assert!(matches!(
        memmap::from_e820(&[e820(0x1000, 0, 1)]),
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
        memmap::low_hole(&map, Some(0xD000_0000)),
        Err(XenError::MmioHoleOverRam { hole_start: 0x3000_0000, ram_end: 0x4000_0000 })
    );
    assert_eq!(
        memmap::low_hole(&map, Some(1 << 32)),
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
    // Every key was asked for, oem strings up to the first missing one.
    let asked = &m.store.borrow().requests;
    assert!(asked.contains(&"hvmloader/bios".to_string()));
    assert!(asked.contains(&"bios-strings/oem-1".to_string()));
    assert!(!asked.contains(&"bios-strings/oem-2".to_string()));
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
    assert!(matches!(&err, ConfigError::Malformed { key: "platform/mmio_hole_size", .. }));
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
        err,
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
    assert!(matches!(err, XsError::Timeout { waiting_for: "consume our request", .. }), "{err:?}");

    // Whole-config read: the first key's timeout is the error, reported, not a hang.
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    m.store.borrow_mut().answers = false;
    assert!(matches!(
        gather(&mut m),
        Err(XenError::Config(ConfigError::Store(XsError::Timeout { .. })))
    ));
}

#[test]
fn a_broken_ring_is_reported() {
    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let mut store = client(&mut m);
    m.store.borrow().with(|r| r.rsp_prod = 5000);
    m.store.borrow_mut().answers = false;
    let err = store.read(&mut m.xen, &mut Polls::default(), "platform/acpi").unwrap_err();
    assert!(matches!(err, XsError::Protocol { .. }), "{err:?}");
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
    assert!(matches!(gather(&mut m), Err(XenError::Hypercall { errno: errno::EFAULT, .. })));
}

#[test]
fn corrupt_hvm_info_stops_gather() {
    let mut t = hvm_info_bytes(2, 2, 0x8_0000, 0);
    t[16] = 3; // nr_vcpus changed without fixing the checksum
    let mut m = machine(&[], t);
    assert!(matches!(gather(&mut m), Err(XenError::HvmInfo(HvmInfoError::BadChecksum { .. }))));
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
    // Xen's wiring, spot values: 00:02 INTA -> 24, 00:03 INTA -> 28, 00:1f INTD -> 16+((124+3+3)&31).
    assert_eq!(intx_gsi(2, IntxPin::A), 24);
    assert_eq!(intx_gsi(3, IntxPin::A), 28);
    assert_eq!(intx_gsi(8, IntxPin::B), 16 + ((32 + 1 + 1) & 31));
    assert_eq!(intx_gsi(31, IntxPin::D), 16 + ((124 + 3 + 3) & 31));
    assert!((0..32).all(|d| (16..48).contains(&intx_gsi(d, IntxPin::D))));
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
    };
    assert_eq!(setup.set_callback_irq(&topology).unwrap(), Some(28));
    assert_eq!(setup.xen.raw().set_params, [(param::CALLBACK_IRQ, 28)]);
    let none = Topology { functions: Vec::new(), problems: Vec::new(), last_bus: 0 };
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
    assert!(matches!(setup.bios_image(&boot(Vec::new())), Err(XenError::NoFirmwareModule { .. })));
    let outside = boot(vec![Module {
        range: PhysRange { start: 0xFC00_0000, end: 0xFC01_0000 },
        cmdline: "firmware".into(),
    }]);
    assert!(matches!(setup.bios_image(&outside), Err(XenError::ModuleOutsideRam { .. })));

    let mut m = machine(&[], hvm_info_bytes(1, 1, 0x8_0000, 0));
    let setup = gather(&mut m).unwrap();
    assert_eq!(setup.bios_image(&with), Err(XenError::UnsupportedBios(BiosKind::Rombios)));
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
        fn read_key(&mut self, path: &str) -> Result<Option<String>, XsError> {
            if path == "platform/tpm_version" {
                return Err(XsError::Daemon {
                    op: XsOp::Read,
                    path: path.into(),
                    error: "EACCES".into(),
                });
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
        err,
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
    assert_eq!(err, XsError::ValueTooLong { path: "data/big".into(), len: 8 + 1 + 4095 });
    assert_eq!(m.xen.raw().sends.len(), sends, "nothing was sent");
    store.write(&mut m.xen, &mut clock, "data/big", &"x".repeat(4096 - 9)).unwrap();
    assert!(store.write(&mut m.xen, &mut clock, "a\0b", "1").is_err(), "NUL in the path");

    m.store.borrow_mut().answers = false;
    store.timeout_us = 100_000;
    let err = store.write(&mut m.xen, &mut clock, "data/late", "1").unwrap_err();
    assert_eq!(
        err,
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
        setup.write_key(&mut clock, "data/firmware", "x"),
        Err(XenError::Store(XsError::Daemon { op: XsOp::Write, .. }))
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
    assert!(matches!(err, XenError::VnumaNode { node: 7, nodes: 2 }), "{err}");
}
