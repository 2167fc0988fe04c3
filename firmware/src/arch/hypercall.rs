//! Xen's hypercall page and the call into it.
//!
//! Xen fills a guest page with one 32-byte stub per hypercall (`mov $nr, %eax; vmcall` or
//! `vmmcall`, `ret`) when the guest writes the page's guest-physical address to the MSR
//! named by CPUID leaf `base + 2` (the low 12 bits select which of Xen's pages; we install
//! page 0, the only one Xen has). The page is a static of this image: page-aligned, in
//! the image's page-aligned bss (linker.ld), identity-mapped and executable (the entry code never sets EFER.NXE), so its
//! address is its guest-physical address.
//!
//! The 64-bit ABI (public/arch-x86/xen-x86_64.h): hypercall number selects the stub,
//! arguments in RDI, RSI, RDX, R10, R8, result in RAX (0 or a negative errno); argument
//! registers are clobbered.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicU64, Ordering};

/// Number of 32-byte stubs in one page: hypercall numbers at or above are not callable.
const STUBS: u32 = 4096 / 32;

/// Xen's errno for "function not implemented", returned for numbers beyond the page.
const ENOSYS: i64 = 38;

#[repr(C, align(4096))]
struct Page(UnsafeCell<[u8; 4096]>);

// SAFETY: Rust code never reads or writes the page's bytes (only Xen writes it, once, and
// the CPU executes it); sharing the address between threads cannot race on Rust data.
unsafe impl Sync for Page {}

// With the other page-aligned data (linker.ld), so that no padding comes before it.
#[unsafe(link_section = ".bss.page_aligned")]
static HYPERCALL_PAGE: Page = Page(UnsafeCell::new([0; 4096]));
/// The page's address once Xen has filled it (0 before).
static INSTALLED_AT: AtomicU64 = AtomicU64::new(0);

/// The installed hypercall page. Copies are cheap: it only holds the page's address.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HypercallPage {
    base: u64,
}

impl HypercallPage {
    /// Asks Xen to fill the firmware's hypercall page by writing its address to `msr`.
    ///
    /// # Safety
    /// We must run under Xen and `msr` must be the one Xen's CPUID leaf `base + 2` named (an
    /// arbitrary MSR write can change anything about the CPU). The boot page tables must
    /// identity-map the image (virtual address = guest-physical address).
    pub unsafe fn install(msr: u32) -> Self {
        let base = HYPERCALL_PAGE.0.get() as u64;
        // SAFETY: forwarded contract: the MSR is Xen's hypercall-page MSR; `base` is the
        // guest-physical address of a page-aligned page of this image that nothing else
        // uses, and its low 12 bits (page index 0) are zero by the alignment.
        unsafe { super::msr::write(msr, base) };
        INSTALLED_AT.store(base, Ordering::Release);
        HypercallPage { base }
    }

    /// The page, if [`Self::install`] has run (for stop paths that may run before it).
    pub fn installed() -> Option<Self> {
        match INSTALLED_AT.load(Ordering::Acquire) {
            0 => None,
            base => Some(HypercallPage { base }),
        }
    }

    /// Calls hypercall `op` with up to five arguments; returns Xen's RAX (0 or more on
    /// success, a negative errno on failure).
    ///
    /// # Safety
    /// Every argument Xen reads as a guest address must point to memory laid out as the
    /// operation's structure (`platform::xen::abi`) that stays valid, and writable where
    /// Xen writes, for the duration of the call; the operation's side effects on the
    /// guest (memory map changes, shutdown) are the caller's to answer for.
    pub unsafe fn call(&self, op: u32, args: [u64; 5]) -> i64 {
        if op >= STUBS {
            return -ENOSYS;
        }
        let entry = self.base + u64::from(op) * 32;
        let result: i64;
        // SAFETY: `entry` is a stub Xen wrote into the installed page (the page exists
        // while the image does). The stub follows the C calling convention apart from the
        // argument registers, which are all declared clobbered; `clobber_abi("C")` covers
        // the rest. Without `nostack` the compiler keeps the red zone free for the `call`'s
        // return address. The argument contract is forwarded from the caller.
        unsafe {
            core::arch::asm!(
                "call {entry}",
                entry = in(reg) entry,
                inlateout("rdi") args[0] => _,
                inlateout("rsi") args[1] => _,
                inlateout("rdx") args[2] => _,
                inlateout("r10") args[3] => _,
                inlateout("r8") args[4] => _,
                lateout("rax") result,
                clobber_abi("C"),
            );
        }
        result
    }
}
