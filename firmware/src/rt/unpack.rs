//! Unpacking the payload (linker.ld): the first Rust code to run, on the boot stack, before
//! bss is zeroed and before any of the rest of the firmware exists in memory.
//!
//! Everything it runs lives in the boot part: this function (`.text.boot`) with the decoder
//! of the `unpack` crate inlined into it, the memory primitives (rt/mem.rs) and its few
//! strings (`.rodata.boot`). tests/image_rules.rs checks the linked boot code for branches
//! and addresses into the payload.

use core::arch::asm;
use core::ptr::{addr_of, read_volatile};
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering::Relaxed;

use hvmloader::boot::Unpacked;
use unpack::{Error, PackInfo};

/// How the payload was packed, written into the image by `cargo xtask build`
/// (xtask/src/pack.rs finds it by its magic). As linked it says "not packed", so the linked
/// ELF also runs as it is.
#[unsafe(link_section = ".data.boot")]
#[used]
static PACK_INFO: PackInfo = PackInfo::NOT_PACKED;

/// The TSC when the unpacking began and when it ended; zero if the image ran as linked.
#[unsafe(link_section = ".data.boot")]
static UNPACK_TSC: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

unsafe extern "C" {
    // From linker.ld; only their addresses are used.
    static __payload_start: u8;
    static __payload_end: u8;
    static __bss_end: u8;
}

/// A byte string kept in the boot part (a string literal would be in the packed payload).
macro_rules! boot_str {
    ($text:literal) => {{
        #[unsafe(link_section = ".rodata.boot")]
        static TEXT: [u8; $text.len()] = *$text;
        &TEXT
    }};
}

/// Unpacks the payload where the link put it. Called by the entry code in long mode, once
/// per load of the image.
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text.boot")]
extern "sysv64" fn unpack_image() {
    // SAFETY: a valid, aligned static. Read volatile: the packer changes its bytes after the
    // link, so the compiler must not use the initializer it sees.
    let info = unsafe { read_volatile(&raw const PACK_INFO) };
    if info.packed_len == 0 {
        return;
    }
    // Started again without being loaded again: under QEMU, SeaBIOS after our hand-off
    // boots `-kernel` once more, and QEMU's loader only jumps to the entry. The stream has
    // become the payload it unpacked to, and the data has changed since.
    if UNPACK_TSC[0].load(Relaxed) != 0 {
        fail(boot_str!(b"it was started again without being loaded again"));
    }
    UNPACK_TSC[0].store(rdtsc(), Relaxed);
    let start = addr_of!(__payload_start) as usize;
    let payload_len = addr_of!(__payload_end) as usize - start;
    let room = addr_of!(__bss_end) as usize - start;
    let (packed_len, region_len) = (info.packed_len as usize, info.region_len as usize);
    if info.magic != PackInfo::MAGIC
        || region_len < payload_len
        || region_len > room
        || packed_len > region_len
    {
        fail(boot_str!(b"its pack header does not fit the image"));
    }
    // SAFETY: [start, start + region_len) is the payload and the start of bss (checked just
    // above), identity-mapped and writable; nothing uses it yet: the boot stack and page
    // tables lie below the payload, and nothing of the payload has run.
    let region = unsafe { core::slice::from_raw_parts_mut(start as *mut u8, region_len) };
    match unpack::inflate_in_place(region, region_len - packed_len) {
        Ok(len) if len == payload_len => {}
        Ok(_) => fail(boot_str!(b"it unpacks to another length than the payload's")),
        Err(error) => fail(match error {
            Error::Truncated => boot_str!(b"the stream ends early"),
            Error::ReservedBlockType => boot_str!(b"a block of reserved type"),
            Error::StoredLength => boot_str!(b"a stored block's length is damaged"),
            Error::CodeLengths => boot_str!(b"a block's code lengths make no code"),
            Error::Code => boot_str!(b"a code its block does not define"),
            Error::Distance => boot_str!(b"a match reaches before the start"),
            Error::Overrun => boot_str!(b"the output overruns the stream"),
            Error::TrailingInput => boot_str!(b"bytes after the final block"),
        }),
    }
    if let Some(payload) = region.get_mut(..payload_len) {
        unpack::decode_branches(payload, start as u32);
    }
    UNPACK_TSC[1].store(rdtsc(), Relaxed);
}

#[inline(always)]
fn rdtsc() -> u64 {
    let (low, high): (u32, u32);
    // SAFETY: reads the time-stamp counter; no memory access.
    unsafe { asm!("rdtsc", out("eax") low, out("edx") high, options(nomem, nostack)) };
    u64::from(high) << 32 | u64::from(low)
}

/// What the unpacking did, if the image was packed.
pub fn report() -> Option<Unpacked> {
    let started = Some(UNPACK_TSC[0].load(Relaxed)).filter(|&tsc| tsc != 0)?;
    // SAFETY: a valid, aligned static, read volatile as in `unpack_image`.
    let info = unsafe { read_volatile(&raw const PACK_INFO) };
    let payload = addr_of!(__payload_end) as usize - addr_of!(__payload_start) as usize;
    Some(Unpacked {
        packed_bytes: info.packed_len,
        payload_bytes: payload as u32,
        started_tsc: started,
        tsc_ticks: UNPACK_TSC[1].load(Relaxed).saturating_sub(started),
    })
}

/// The one line of a damaged image, on the debug console and COM1 (neither set up yet, both
/// usable as they are), then the failure code (platform.rs: EXIT_FAILURE) and a halt.
#[unsafe(link_section = ".text.boot")]
fn fail(reason: &[u8]) -> ! {
    let parts: [&[u8]; 3] =
        [boot_str!(b"fatal: the packed image does not unpack: "), reason, boot_str!(b"\n")];
    for part in parts {
        for &byte in part {
            for port in [0xE9u16, 0x3F8] {
                // SAFETY: a write to the debug console or COM1's data register, which have
                // no effect on memory.
                unsafe { asm!("out dx, al", in("dx") port, in("al") byte, options(nostack)) };
            }
        }
    }
    loop {
        // SAFETY: isa-debug-exit (QEMU's test configuration) ends the run with the failure
        // code; elsewhere the write goes nowhere. Then the CPU stops.
        unsafe { asm!("out dx, al", "cli", "hlt", in("dx") 0xF4u16, in("al") 0x11u8) };
    }
}
