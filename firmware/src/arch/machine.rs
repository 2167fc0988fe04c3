//! The machine, taken once.
//!
//! The firmware owns the machine's devices and runs on the entry code's identity map of the
//! first 4 GiB from its entry to the hand-off. That promise is made once, where the runtime
//! takes the [`Machine`]; code that touches ports, memory or device registers borrows it and
//! gets its handles from it. Handles onto memory (RAM regions, device registers, the AP
//! start-up page, the hand-off's loading window) are owned values that claim their range
//! from the machine and give it back when dropped ([`super::claims`]): two handles never
//! reach the same bytes, and none reaches the running firmware image. That is what makes
//! them safe to hand out; the `unsafe` stays here.

use alloc::boxed::Box;
use core::cell::RefCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

use super::claims::{ClaimError, ClaimId, ClaimSet};
use super::handoff::{PhysMemoryMut, enter_linux64};
use super::{AP_BOOT_PAGE, ApTrampoline, HwPorts, IdentityMapped, LocalCpu, MmioRegion, PortIo};
use super::{PhysReadError, realmode};
use crate::addr::{PAGE_SIZE, PhysRange};

/// The one token for the machine's devices and its identity-mapped memory.
#[derive(Debug)]
pub struct Machine {
    claims: RefCell<ClaimSet>,
}

/// Set once the machine has been taken: a second token would make the promise twice.
static TAKEN: AtomicBool = AtomicBool::new(false);

/// The xAPIC's register page: the boot CPU's handle claims it.
const LOCAL_APIC_PAGE: PhysRange = PhysRange { start: 0xFEE0_0000, end: 0xFEE0_1000 };

/// Where the firmware goes when it is done: what the hand-off prepared, for
/// [`Machine::jump`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Jump {
    /// A Linux kernel's 64-bit entry point with its zero page (x86 boot protocol).
    Linux64 { entry: u64, boot_params: u64 },
    /// A BIOS image ending at 1 MiB, through its real-mode reset vector F000:FFF0.
    BiosResetVector,
}

impl Machine {
    /// Takes the machine, with the firmware's own image (code, data, heap and stacks)
    /// claimed for good. Panics on a second call.
    ///
    /// # Safety
    /// Called by the entry code, on the boot CPU, once the boot page tables identity-map
    /// the first 4 GiB: from then on until the hand-off, the firmware is the sole owner of
    /// the machine's devices and memory outside `image`, and those tables stay current.
    pub unsafe fn take(image: PhysRange) -> Self {
        assert!(!TAKEN.swap(true, Ordering::Relaxed), "the machine is taken once");
        let mut claims = ClaimSet::default();
        // Never released: claimed as long as the firmware runs.
        claims.claim(image).expect("the firmware image is identity-mapped");
        Machine { claims: RefCell::new(claims) }
    }

    /// The machine's I/O ports.
    pub(crate) fn ports(&self) -> HwPorts {
        HwPorts::owned()
    }

    /// Physical memory through the identity map, for reads.
    pub(crate) fn memory(&self) -> IdentityMapped {
        IdentityMapped::mapped()
    }

    fn hold(&self, range: PhysRange) -> Result<Held<'_>, Box<ClaimError>> {
        let id = self.claims.borrow_mut().claim(range)?;
        Ok(Held { claims: Some(&self.claims), id: Some(id), range })
    }

    /// A device's registers at `range`, for as long as the value lives.
    pub(crate) fn device_registers(
        &self,
        range: PhysRange,
    ) -> Result<MmioRegion<'_>, Box<ClaimError>> {
        Ok(MmioRegion::new(self.hold(range)?))
    }

    /// RAM at `range` that the caller set aside (carved out of the memory map), as bytes.
    pub(crate) fn ram(&self, range: PhysRange) -> Result<RamRegion<'_>, Box<ClaimError>> {
        Ok(RamRegion { held: self.hold(range)? })
    }

    /// This CPU's caching and local APIC registers, for bring-up.
    pub(crate) fn boot_cpu(&self) -> Result<Claimed<'_, LocalCpu>, Box<ClaimError>> {
        let held = self.hold(LOCAL_APIC_PAGE)?;
        // SAFETY: the boot CPU, interrupts off (the runtime never enables them); the claim
        // on the local APIC's page makes this the only handle onto its caching and APIC.
        Ok(Claimed { value: unsafe { LocalCpu::new() }, _held: held })
    }

    /// The AP start-up page, for bring-up: the caller checked it is RAM holding nothing the
    /// firmware still needs (it lies below the firmware's own memory).
    pub(crate) fn ap_start_page(&self) -> Result<Claimed<'_, ApTrampoline>, Box<ClaimError>> {
        let held = self.hold(PhysRange { start: AP_BOOT_PAGE, end: AP_BOOT_PAGE + PAGE_SIZE })?;
        // SAFETY: the page is claimed, so nothing else in the firmware reaches it while the
        // trampoline lives; the entry code's page tables stay current (APs load the BSP's
        // CR3).
        Ok(Claimed { value: unsafe { ApTrampoline::new() }, _held: held })
    }

    /// The hand-off's window onto memory: every range nothing holds, to load a payload into.
    /// Nothing new can be claimed while it is out.
    pub(crate) fn load_window(&self) -> Result<LoadWindow<'_>, Box<ClaimError>> {
        if !self.claims.borrow_mut().take_window() {
            return Err(Box::new(ClaimError::SecondWindow));
        }
        Ok(LoadWindow { claims: &self.claims })
    }

    /// The `acpi` crate's view of the machine's memory, for the self-test's parse of the
    /// installed tables.
    pub(crate) fn acpi_handler(&self) -> super::IdentityAcpiHandler {
        super::IdentityAcpiHandler::new()
    }

    /// Leaves the firmware for `to`. Nothing of the firmware runs afterwards.
    pub(crate) fn jump(&self, to: Jump) -> ! {
        match to {
            Jump::Linux64 { entry, boot_params } => {
                assert!(entry < crate::addr::FOUR_GIB && boot_params < crate::addr::FOUR_GIB);
                // SAFETY: the hand-off loaded a validated bzImage and wrote its zero page
                // through the load window, which never reaches the firmware image (where
                // the page tables of the jump live); placement kept the kernel's whole
                // init_size area off the image and below 4 GiB. Whatever the kernel then
                // does, no firmware code runs again.
                unsafe { enter_linux64(entry, boot_params) }
            }
            Jump::BiosResetVector => {
                // SAFETY: the hand-off put the BIOS image in place to end at 1 MiB through
                // the load window; the trampoline's page lies below 1 MiB in RAM the
                // firmware no longer needs, still identity-mapped. No firmware code runs
                // again.
                unsafe { realmode::enter_bios_reset_vector() }
            }
        }
    }
}

/// One claimed range, released when dropped.
#[derive(Debug)]
pub(crate) struct Held<'m> {
    /// The set the claim is in; `None` for a range arch/ itself vouches for.
    claims: Option<&'m RefCell<ClaimSet>>,
    id: Option<ClaimId>,
    range: PhysRange,
}

impl Held<'_> {
    /// `range`, held by arch/'s own reasoning instead of a claim: a CPU's local APIC page,
    /// which only the [`LocalCpu`] borrowed for it reaches.
    pub(super) fn vouched(range: PhysRange) -> Held<'static> {
        Held { claims: None, id: None, range }
    }

    pub fn range(&self) -> PhysRange {
        self.range
    }
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        if let (Some(claims), Some(id)) = (self.claims, self.id.take()) {
            claims.borrow_mut().release(id);
        }
    }
}

/// A hardware handle that holds its range of the machine while it lives.
#[derive(Debug)]
pub(crate) struct Claimed<'m, T> {
    value: T,
    _held: Held<'m>,
}

impl<T> Deref for Claimed<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Claimed<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// RAM the firmware set aside, claimed while the value lives, as a byte slice.
#[derive(Debug)]
pub(crate) struct RamRegion<'m> {
    held: Held<'m>,
}

impl RamRegion<'_> {}

impl Deref for RamRegion<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        let range = self.held.range;
        // SAFETY: the claim checked the range is identity-mapped below 4 GiB, not page 0
        // and not empty, and keeps every other handle off it while the region lives; the
        // caller set it aside as RAM. u8 has no alignment or validity requirements.
        unsafe {
            core::slice::from_raw_parts(range.start as usize as *const u8, range.len() as usize)
        }
    }
}

impl DerefMut for RamRegion<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        let range = self.held.range;
        // SAFETY: as in `deref`; `&mut self` makes the borrow exclusive.
        unsafe {
            core::slice::from_raw_parts_mut(range.start as usize as *mut u8, range.len() as usize)
        }
    }
}

/// The hand-off's writable view of every range the firmware does not hold.
#[derive(Debug)]
pub(crate) struct LoadWindow<'m> {
    claims: &'m RefCell<ClaimSet>,
}

impl PhysMemoryMut for LoadWindow<'_> {
    fn window(&mut self, range: PhysRange) -> Result<&mut [u8], PhysReadError> {
        let unreachable = PhysReadError {
            paddr: range.start,
            len: range.end.saturating_sub(range.start) as usize,
        };
        if range.start < PAGE_SIZE || range.end > crate::addr::FOUR_GIB || range.end < range.start {
            return Err(unreachable);
        }
        if range.is_empty() {
            return Ok(&mut []);
        }
        self.claims.borrow().check_free(range).map_err(|_| unreachable)?;
        // SAFETY: identity-mapped below 4 GiB and not page 0 (checked); no live handle
        // holds any of it (checked), none can be made while the window is out, and the
        // borrow of `self` keeps the window's own slices one at a time.
        Ok(unsafe {
            core::slice::from_raw_parts_mut(range.start as usize as *mut u8, range.len() as usize)
        })
    }
}

impl Drop for LoadWindow<'_> {
    fn drop(&mut self) {
        self.claims.borrow_mut().return_window();
    }
}

/// Port 0xE9, the debug console of Bochs, QEMU (`-debugcon`) and Xen: writes print and do
/// nothing else, reads only tell whether it is there, so it needs no token and works before
/// the machine is taken (a panic's last line).
#[derive(Debug)]
pub(crate) struct DebugPort;

impl DebugPort {
    pub const PORT: u16 = 0xE9;

    pub fn write_bytes(&mut self, bytes: &[u8]) {
        HwPorts::owned().write_bytes(Self::PORT, bytes);
    }

    pub fn read8(&mut self) -> u8 {
        HwPorts::owned().read8(Self::PORT)
    }
}

/// Port of QEMU's `isa-debug-exit` device in our test and run configurations
/// (`-device isa-debug-exit,iobase=0xf4,iosize=0x04`). Writing `v` makes QEMU exit with
/// status `(v << 1) | 1`; elsewhere the write goes nowhere.
pub(crate) const DEBUG_EXIT_PORT: u16 = 0xF4;

/// Writes `code` to [`DEBUG_EXIT_PORT`]: the last thing the firmware does, so it needs no
/// token (the panic handler has none).
pub(crate) fn debug_exit(code: u8) {
    HwPorts::owned().write8(DEBUG_EXIT_PORT, code);
}
