//! A minimal xenstore client over the domain's shared ring page (io/xs_wire.h): one
//! request (`XS_READ`, `XS_WRITE` or `XS_DIRECTORY`) at a time, every wait for the daemon
//! bounded, notifications through EVTCHNOP_send.
//!
//! Every request is a round trip through dom0 (a few milliseconds under nested
//! virtualisation), and most keys the firmware asks about do not exist: [`XenStore::read_listed`]
//! lists a directory once and answers for the keys that are not in it without asking.
//!
//! The ring page is shared with xenstored in dom0, which runs concurrently: every index
//! and byte is accessed volatile, with barriers ordering data against indices the way the
//! protocol requires (data before `req_prod`, `rsp_prod` before data, data before
//! `rsp_cons`). Indices are free-running u32 counters; a producer more than a ring ahead
//! of its consumer is a protocol violation, reported, never trusted.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;
use core::ptr::NonNull;
use core::sync::atomic::{Ordering, fence};

use super::XenError;
use super::abi::{XenstoreDomainInterface, XsdSockmsg, param, xs};
use super::hypercall::{Hypercall, Xen};
use crate::time::Clock;

/// How long one wait for xenstored may take before the store counts as not answering.
/// Replies normally take well under a millisecond; a dom0 under emulation, a few. hvmloader
/// waits forever; we stop with a clear error instead.
pub(crate) const DEFAULT_TIMEOUT_US: u64 = 5_000_000;
/// Unsolicited messages (watch events, debug output) skipped while waiting for a reply
/// before the stream counts as broken.
const MAX_SKIPPED: usize = 16;
const MASK: u32 = xs::RING_SIZE - 1;

/// What the client was doing when something went wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum XsOp {
    Read,
    #[cfg(test)]
    Write,
    List,
    /// Handing the ring back ([`XenStore::hand_back`]).
    HandBack,
}

impl fmt::Display for XsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            XsOp::Read => "reading",
            #[cfg(test)]
            XsOp::Write => "writing",
            XsOp::List => "listing",
            XsOp::HandBack => "handing back",
        })
    }
}

/// What went wrong talking to the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum XsError {
    /// The daemon did not consume our request or did not answer in time.
    Timeout {
        op: XsOp,
        path: String,
        waiting_for: &'static str,
        timeout_us: u64,
    },
    /// The ring or the reply broke the protocol.
    Protocol {
        op: XsOp,
        path: String,
        what: &'static str,
        value: u64,
    },
    /// The daemon answered with an error (other than ENOENT for a read).
    Daemon {
        op: XsOp,
        path: String,
        error: String,
    },
    NotUtf8 {
        path: String,
    },
    PathTooLong {
        path: String,
    },
    /// A write whose path, NUL and value (`len` bytes) do not fit one message
    /// (XENSTORE_PAYLOAD_MAX).
    ValueTooLong {
        path: String,
        len: usize,
    },
    /// The event-channel notification failed.
    Notify(alloc::boxed::Box<XenError>),
}

impl fmt::Display for XsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XsError::Timeout { op, path, waiting_for, timeout_us } => write!(
                f,
                "xenstore: no progress on {op} \"{path}\" for {} ms (waiting for the \
                 daemon to {waiting_for}): is xenstored running?",
                timeout_us / 1000
            ),
            XsError::Protocol { op, path, what, value } => {
                write!(f, "xenstore: {op} \"{path}\": {what} ({value:#x})")
            }
            XsError::Daemon { op, path, error } => {
                write!(f, "xenstore: {op} \"{path}\": daemon answered {error}")
            }
            XsError::NotUtf8 { path } => write!(f, "xenstore: value of \"{path}\" is not UTF-8"),
            XsError::PathTooLong { path } => write!(f, "xenstore: path \"{path}\" too long"),
            XsError::ValueTooLong { path, len } => write!(
                f,
                "xenstore: writing \"{path}\": path and value take {len} bytes, more than \
                 one message holds ({})",
                xs::PAYLOAD_MAX
            ),
            XsError::Notify(e) => write!(f, "xenstore: notifying the daemon: {e}"),
        }
    }
}

/// The request an error belongs to.
#[derive(Clone, Copy, Debug)]
struct Req<'a> {
    op: XsOp,
    path: &'a str,
}

impl Req<'_> {
    fn protocol(self, what: &'static str, value: u64) -> Box<XsError> {
        Box::new(XsError::Protocol { op: self.op, path: self.path.into(), what, value })
    }

    fn timeout(self, waiting_for: &'static str, timeout_us: u64) -> Box<XsError> {
        Box::new(XsError::Timeout { op: self.op, path: self.path.into(), waiting_for, timeout_us })
    }
}

/// The four ring indices.
#[derive(Clone, Copy, Debug)]
enum Index {
    ReqCons,
    ReqProd,
    RspCons,
    RspProd,
}

/// The shared ring page, accessed only through volatile reads and writes.
#[derive(Debug)]
pub(crate) struct SharedRing {
    page: NonNull<XenstoreDomainInterface>,
}

impl SharedRing {
    /// # Safety
    /// `page` must point to the domain's xenstore ring page (or, in tests, a simulation of
    /// it), mapped and writable for as long as the returned value lives, and touched by
    /// nothing else in this program except through this value (the peer on the other side
    /// is expected).
    pub unsafe fn new(page: *mut XenstoreDomainInterface) -> Option<Self> {
        NonNull::new(page).map(|page| SharedRing { page })
    }

    fn index_ptr(&self, which: Index) -> *mut u32 {
        let p = self.page.as_ptr();
        // SAFETY: `p` points to a live ring page (constructor contract); taking a field's
        // address creates no reference.
        unsafe {
            match which {
                Index::ReqCons => &raw mut (*p).req_cons,
                Index::ReqProd => &raw mut (*p).req_prod,
                Index::RspCons => &raw mut (*p).rsp_cons,
                Index::RspProd => &raw mut (*p).rsp_prod,
            }
        }
    }

    fn index(&self, which: Index) -> u32 {
        // SAFETY: an aligned u32 field of the live ring page; volatile because the peer
        // changes it behind the compiler's back.
        unsafe { self.index_ptr(which).read_volatile() }
    }

    fn set_index(&mut self, which: Index, value: u32) {
        // SAFETY: as in `index`.
        unsafe { self.index_ptr(which).write_volatile(value) }
    }

    fn word(&self, field: fn(*mut XenstoreDomainInterface) -> *mut u32) -> u32 {
        // SAFETY: `field` returns the address of a u32 field of the live page.
        unsafe { field(self.page.as_ptr()).read_volatile() }
    }

    fn set_word(&mut self, field: fn(*mut XenstoreDomainInterface) -> *mut u32, value: u32) {
        // SAFETY: as in `word`.
        unsafe { field(self.page.as_ptr()).write_volatile(value) }
    }

    /// Copies `data` into the request ring from ring offset `at` (no wrap: the caller
    /// splits at the ring's end).
    fn put_req(&mut self, at: u32, data: &[u8]) {
        debug_assert!(at as usize + data.len() <= xs::RING_SIZE as usize);
        let base = self.page.as_ptr() as *mut u8;
        for (i, &b) in data.iter().enumerate() {
            // SAFETY: `req` is the first field; `at + i` is within it (checked by the
            // callers' arithmetic, asserted above).
            unsafe { base.add(at as usize + i).write_volatile(b) };
        }
    }

    /// Copies from the response ring at ring offset `at` into `buf` (no wrap).
    fn get_rsp(&self, at: u32, buf: &mut [u8]) {
        debug_assert!(at as usize + buf.len() <= xs::RING_SIZE as usize);
        // SAFETY: `rsp` follows `req` at offset RING_SIZE in the live page.
        let base = unsafe { (self.page.as_ptr() as *const u8).add(xs::RING_SIZE as usize) };
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: within `rsp` by the callers' arithmetic.
            *b = unsafe { base.add(at as usize + i).read_volatile() };
        }
    }

    /// Fills both rings with `byte` (XS_INVALID patterns when handing the ring back).
    fn fill_rings(&mut self, byte: u8) {
        let base = self.page.as_ptr() as *mut u8;
        for i in 0..2 * xs::RING_SIZE as usize {
            // SAFETY: `req` and `rsp` are the page's first 2 KiB.
            unsafe { base.add(i).write_volatile(byte) };
        }
    }
}

fn features_field(p: *mut XenstoreDomainInterface) -> *mut u32 {
    // SAFETY: field address of a live page (SharedRing's contract), no reference made.
    unsafe { &raw mut (*p).server_features }
}

fn connection_field(p: *mut XenstoreDomainInterface) -> *mut u32 {
    // SAFETY: as in `features_field`.
    unsafe { &raw mut (*p).connection }
}

/// The client: the ring, the event channel, and the request counter.
#[derive(Debug)]
pub(crate) struct XenStore {
    ring: SharedRing,
    port: u32,
    next_req: u32,
    /// Bound of every wait for the daemon, in microseconds.
    pub timeout_us: u64,
    /// Directories listed by [`XenStore::read_listed`]: each path with its children, or
    /// `None` where the path does not exist.
    listings: Vec<(String, Option<Vec<String>>)>,
}

/// Where the ring and its event channel are, from HVM_PARAM_STORE_PFN / STORE_EVTCHN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StoreLocation {
    pub paddr: u64,
    pub port: u32,
}

/// Reads where the store is; a zero PFN (no store) or a port beyond 32 bits is an error.
pub(crate) fn locate<H: Hypercall>(xen: &mut Xen<H>) -> Result<StoreLocation, Box<XenError>> {
    let pfn = xen.get_param(param::STORE_PFN)?;
    let port = xen.get_param(param::STORE_EVTCHN)?;
    let paddr = pfn.checked_mul(4096).filter(|&a| a != 0);
    match (paddr, u32::try_from(port)) {
        (Some(paddr), Ok(port)) => Ok(StoreLocation { paddr, port }),
        _ => Err(Box::new(XenError::NoStore { pfn, port })),
    }
}

impl XenStore {
    /// # Safety
    /// As [`SharedRing::new`].
    pub unsafe fn new(page: *mut XenstoreDomainInterface, port: u32) -> Option<Self> {
        // SAFETY: forwarded contract.
        let ring = unsafe { SharedRing::new(page) }?;
        Some(XenStore {
            ring,
            port,
            next_req: 0,
            timeout_us: DEFAULT_TIMEOUT_US,
            listings: Vec::new(),
        })
    }

    /// Connects to the store Xen names, through the boot identity map (the ring page is one
    /// of the domain's special pages just below 4 GiB).
    pub fn connect_identity<H: Hypercall>(xen: &mut Xen<H>) -> Result<Self, Box<XenError>> {
        let loc = locate(xen)?;
        if loc.paddr >= 1 << 32 {
            return Err(Box::new(XenError::StoreAbove4G { paddr: loc.paddr }));
        }
        // SAFETY: HVM_PARAM_STORE_PFN names the page Xen's domain builder set aside for
        // this ring (a special page outside the RAM of the memory map, which the firmware
        // never allocates); it is below 4 GiB (checked), so the boot tables identity-map
        // it; this client is its only user in the firmware.
        unsafe { XenStore::new(loc.paddr as *mut XenstoreDomainInterface, loc.port) }
            .ok_or_else(|| Box::new(XenError::NoStore { pfn: 0, port: u64::from(loc.port) }))
    }

    /// The event channel the daemon signals.
    pub fn port(&self) -> u32 {
        self.port
    }

    fn notify<H: Hypercall>(&self, xen: &mut Xen<H>) -> Result<(), Box<XsError>> {
        xen.evtchn_send(self.port).map_err(|e| Box::new(XsError::Notify(e)))
    }

    /// Puts `data` on the request ring, waiting (bounded) for room.
    fn write_all<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        req: Req<'_>,
        mut data: &[u8],
    ) -> Result<(), Box<XsError>> {
        while !data.is_empty() {
            let cons = self.ring.index(Index::ReqCons);
            let prod = self.ring.index(Index::ReqProd);
            let used = prod.wrapping_sub(cons);
            if used > xs::RING_SIZE {
                return Err(
                    req.protocol("request ring: producer ahead by more than a ring", used.into())
                );
            }
            if used == xs::RING_SIZE {
                // Full: let the daemon know there is work, then wait for it to consume.
                self.notify(xen)?;
                let ring = &self.ring;
                if !clock.poll_until(self.timeout_us, &mut || ring.index(Index::ReqCons) != cons) {
                    return Err(req.timeout("consume our request", self.timeout_us));
                }
                continue;
            }
            let at = prod & MASK;
            let chunk = (xs::RING_SIZE - used).min(xs::RING_SIZE - at).min(data.len() as u32);
            self.ring.put_req(at, &data[..chunk as usize]);
            // The bytes must be visible before the index that publishes them.
            fence(Ordering::Release);
            self.ring.set_index(Index::ReqProd, prod.wrapping_add(chunk));
            data = &data[chunk as usize..];
        }
        Ok(())
    }

    /// Takes exactly `buf.len()` bytes off the response ring, waiting (bounded) for them.
    fn read_exact<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        req: Req<'_>,
        buf: &mut [u8],
    ) -> Result<(), Box<XsError>> {
        let mut done = 0;
        while done < buf.len() {
            let cons = self.ring.index(Index::RspCons);
            let prod = self.ring.index(Index::RspProd);
            let avail = prod.wrapping_sub(cons);
            if avail > xs::RING_SIZE {
                return Err(
                    req.protocol("response ring: producer ahead by more than a ring", avail.into())
                );
            }
            if avail == 0 {
                let ring = &self.ring;
                if !clock.poll_until(self.timeout_us, &mut || ring.index(Index::RspProd) != prod) {
                    return Err(req.timeout("answer", self.timeout_us));
                }
                continue;
            }
            // The index read above must come before the data it covers.
            fence(Ordering::Acquire);
            let at = cons & MASK;
            let chunk = avail.min(xs::RING_SIZE - at).min((buf.len() - done) as u32);
            self.ring.get_rsp(at, &mut buf[done..done + chunk as usize]);
            // Our reads of the data must be complete before the space is handed back.
            fence(Ordering::SeqCst);
            self.ring.set_index(Index::RspCons, cons.wrapping_add(chunk));
            done += chunk as usize;
            // A daemon that found the ring full waits for room to write the rest; any other
            // time it needs no word from us (the rule Linux's xenbus follows).
            if avail == xs::RING_SIZE {
                self.notify(xen)?;
            }
        }
        Ok(())
    }

    /// Sends one request of type `kind` whose payload is `body` (its parts in order) and
    /// returns the reply's type and payload: `XS_ERROR` or the request's own type, for our
    /// request id. Watch events and debug messages in between are skipped (a bounded
    /// number of them).
    fn request<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        req: Req<'_>,
        kind: u32,
        body: &[&[u8]],
    ) -> Result<(u32, Vec<u8>), Box<XsError>> {
        let len: usize = body.iter().map(|part| part.len()).sum();
        let len = u32::try_from(len)
            .ok()
            .filter(|&len| len <= xs::PAYLOAD_MAX)
            .ok_or(XsError::ValueTooLong { path: req.path.into(), len })?;
        let req_id = self.next_req;
        self.next_req = self.next_req.wrapping_add(1);
        let header = XsdSockmsg { kind, req_id, tx_id: 0, len };
        self.write_all(xen, clock, req, &header.to_bytes())?;
        for part in body {
            self.write_all(xen, clock, req, part)?;
        }
        self.notify(xen)?;

        for _ in 0..MAX_SKIPPED {
            let mut raw = [0u8; XsdSockmsg::SIZE];
            self.read_exact(xen, clock, req, &mut raw)?;
            let reply = XsdSockmsg::from_bytes(&raw);
            if reply.len > xs::PAYLOAD_MAX {
                return Err(
                    req.protocol("reply longer than XENSTORE_PAYLOAD_MAX", reply.len.into())
                );
            }
            let mut payload = vec![0u8; reply.len as usize];
            self.read_exact(xen, clock, req, &mut payload)?;
            match reply.kind {
                xs::DEBUG | xs::WATCH_EVENT => continue,
                _ if reply.req_id != req_id => {
                    return Err(req.protocol("reply to another request id", reply.req_id.into()));
                }
                xs::ERROR => return Ok((xs::ERROR, payload)),
                k if k == kind => return Ok((k, payload)),
                other => return Err(req.protocol("reply of an unexpected type", other.into())),
            }
        }
        Err(req.protocol("unsolicited messages instead of a reply", MAX_SKIPPED as u64))
    }

    /// `XS_READ` of `path` (relative paths are under /local/domain/<our domid>/).
    /// `Ok(None)` when the key does not exist (ENOENT).
    pub fn read<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        path: &str,
    ) -> Result<Option<String>, Box<XsError>> {
        check_path(path)?;
        let req = Req { op: XsOp::Read, path };
        let (kind, payload) = self.request(xen, clock, req, xs::READ, &[path.as_bytes(), &[0]])?;
        if kind == xs::ERROR {
            let error = nul_terminated(payload);
            if error == "ENOENT" {
                return Ok(None);
            }
            return Err(Box::new(XsError::Daemon { op: req.op, path: path.into(), error }));
        }
        String::from_utf8(payload)
            .map(Some)
            .map_err(|_| Box::new(XsError::NotUtf8 { path: path.into() }))
    }

    /// `XS_DIRECTORY` of `path`: the names of its children, `Ok(None)` when it does not
    /// exist (ENOENT).
    pub fn directory<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        path: &str,
    ) -> Result<Option<Vec<String>>, Box<XsError>> {
        check_path(path)?;
        let req = Req { op: XsOp::List, path };
        let (kind, payload) =
            self.request(xen, clock, req, xs::DIRECTORY, &[path.as_bytes(), &[0]])?;
        if kind == xs::ERROR {
            let error = nul_terminated(payload);
            if error == "ENOENT" {
                return Ok(None);
            }
            return Err(Box::new(XsError::Daemon { op: req.op, path: path.into(), error }));
        }
        // Each name is NUL-terminated. The payload is UTF-8 exactly when every name is (a NUL
        // is never part of a longer UTF-8 sequence), so one check covers them all.
        let names = core::str::from_utf8(&payload)
            .map_err(|_| XsError::NotUtf8 { path: path.into() })?
            .split('\0')
            .filter(|name| !name.is_empty())
            .map(String::from)
            .collect();
        Ok(Some(names))
    }

    /// [`XenStore::read`] of a relative `path`, unless the listing of one of its ancestors
    /// (made on first use, with [`XenStore::directory`], and kept) shows that it does not
    /// exist: then `Ok(None)` without asking. The keys a domain's firmware reads are
    /// written before the domain runs and do not change under it. An ancestor the daemon
    /// will not list is no answer: the key is read.
    pub fn read_listed<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        path: &str,
    ) -> Result<Option<String>, Box<XsError>> {
        if !path.starts_with('/') {
            for (at, _) in path.match_indices('/') {
                let (parent, rest) = (&path[..at], &path[at + 1..]);
                let child = rest.split('/').next().unwrap_or(rest);
                match self.listing(xen, clock, parent)? {
                    Some(None) => return Ok(None),
                    Some(Some(children)) if !children.iter().any(|c| c == child) => {
                        return Ok(None);
                    }
                    _ => {}
                }
            }
        }
        self.read(xen, clock, path)
    }

    /// The cached listing of `path`, listed now if it is not yet; `None` when the daemon
    /// refuses to list it.
    fn listing<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        path: &str,
    ) -> Result<Option<&Option<Vec<String>>>, Box<XsError>> {
        let known = self.listings.iter().position(|(p, _)| p == path);
        let index = match known {
            Some(index) => index,
            None => match self.directory(xen, clock, path) {
                Ok(children) => {
                    self.listings.push((path.into(), children));
                    self.listings.len() - 1
                }
                Err(e) if matches!(*e, XsError::Daemon { .. }) => return Ok(None),
                Err(e) => return Err(e),
            },
        };
        Ok(Some(&self.listings[index].1))
    }

    /// `XS_WRITE` of `value` to `path` (relative paths are under /local/domain/<our
    /// domid>/; missing parent nodes are created by the daemon). The payload is the path,
    /// a NUL, and the value without one; the daemon answers "OK".
    #[cfg(test)]
    pub fn write<H: Hypercall>(
        &mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
        path: &str,
        value: &str,
    ) -> Result<(), Box<XsError>> {
        check_path(path)?;
        // The key may be new: listings of its ancestors are out of date.
        self.listings.retain(|(listed, _)| {
            !path.strip_prefix(listed.as_str()).is_some_and(|rest| rest.starts_with('/'))
        });
        let req = Req { op: XsOp::Write, path };
        let body: [&[u8]; 3] = [path.as_bytes(), &[0], value.as_bytes()];
        let (kind, payload) = self.request(xen, clock, req, xs::WRITE, &body)?;
        if kind == xs::ERROR {
            return Err(Box::new(XsError::Daemon {
                op: req.op,
                path: path.into(),
                error: nul_terminated(payload),
            }));
        }
        match payload.as_slice() {
            b"OK\0" | b"OK" => Ok(()),
            _ => Err(req
                .protocol("write acknowledged with something other than OK", payload.len() as u64)),
        }
    }

    /// Hands the ring back clean for whatever runs next (its xenbus driver starts from the
    /// indices it finds). With the reconnection feature the daemon resets the ring itself:
    /// ask and wait (bounded). Otherwise every request is answered (we only ever have one
    /// outstanding), so both rings are filled with XS_INVALID bytes and the indices zeroed,
    /// which is how hvmloader leaves it.
    pub fn hand_back<H: Hypercall>(
        mut self,
        xen: &mut Xen<H>,
        clock: &mut impl Clock,
    ) -> Result<(), Box<XsError>> {
        if self.ring.word(features_field) & xs::SERVER_FEATURE_RECONNECTION != 0 {
            self.ring.set_word(connection_field, xs::RECONNECT);
            self.notify(xen)?;
            let ring = &self.ring;
            if !clock
                .poll_until(self.timeout_us, &mut || ring.word(connection_field) != xs::RECONNECT)
            {
                let req = Req { op: XsOp::HandBack, path: "(reconnect)" };
                return Err(req.timeout("reset the ring", self.timeout_us));
            }
        } else {
            self.ring.fill_rings(0xFF);
            fence(Ordering::Release);
            for index in [Index::ReqCons, Index::ReqProd, Index::RspCons, Index::RspProd] {
                self.ring.set_index(index, 0);
            }
        }
        Ok(())
    }
}

fn nul_terminated(mut bytes: Vec<u8>) -> String {
    if let Some(nul) = bytes.iter().position(|&b| b == 0) {
        bytes.truncate(nul);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// A path the daemon accepts: below XENSTORE_REL_PATH_MAX with its NUL, and no NUL inside.
fn check_path(path: &str) -> Result<(), Box<XsError>> {
    if path.len() + 1 > xs::REL_PATH_MAX || path.bytes().any(|b| b == 0) {
        return Err(Box::new(XsError::PathTooLong { path: path.into() }));
    }
    Ok(())
}
