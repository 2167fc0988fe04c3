//! What handing the machine to the next program needs from the CPU: writable windows onto
//! physical memory to load payloads into, and the jump into a 64-bit Linux kernel. (The way
//! back to real mode for a BIOS is in [`super::realmode`].)

use core::arch::asm;

use x86_64::VirtAddr;
use x86_64::instructions::tables::lgdt;
use x86_64::structures::DescriptorTablePointer;

use super::PhysReadError;
use crate::addr::PhysRange;

/// Write access to physical memory, for loading payloads.
pub(crate) trait PhysMemoryMut {
    /// The bytes of `range`, to fill. Fails for ranges the implementation cannot reach.
    fn window(&mut self, range: PhysRange) -> Result<&mut [u8], PhysReadError>;
}

/// Page-table entry bits: present, writable, and (in a page directory) a 2 MiB page.
const PRESENT_WRITABLE: u64 = 0x3;
const LARGE_PAGE: u64 = 1 << 7;
/// The physical address bits of CR3 and of a page-table entry.
const TABLE_ADDRESS: u64 = 0x000F_FFFF_FFFF_F000;

/// The GDT the 64-bit boot protocol asks for: `__BOOT_CS` (0x10) a flat 64-bit code
/// segment, `__BOOT_DS` (0x18) a flat data segment. The accessed bits are preset so the CPU
/// never writes to this immutable static.
#[repr(C, align(16))]
struct Gdt([u64; 4]);
static LINUX_GDT: Gdt = Gdt([0, 0, 0x00AF_9B00_0000_FFFF, 0x00CF_9300_0000_FFFF]);
const BOOT_CS: u16 = 0x10;
const BOOT_DS: u16 = 0x18;

/// Jumps to a Linux kernel's 64-bit entry point (x86 boot protocol, "64-bit boot protocol"):
/// interrupts off, the protocol's GDT loaded with CS = `__BOOT_CS` and DS/ES/SS =
/// `__BOOT_DS`, RSI = the zero page.
///
/// The page tables are the entry code's identity map of the first 4 GiB (`rt/entry.rs`),
/// with its first 2 MiB made one 2 MiB page like the rest: the boot tables leave page 0
/// out, and the decompressor reads the BIOS data area (0x40E, 0x413) to place its
/// trampoline before it switches to page tables of its own.
///
/// # Safety
/// `entry` must be the 64-bit entry of a kernel loaded per the boot protocol, `boot_params`
/// its zero page, and the kernel, zero page, command line and initrd must all lie below
/// 4 GiB. The firmware image (these page tables live in its bss) must not overlap the
/// kernel's `init_size` area. Nothing of the firmware runs afterwards.
pub(super) unsafe fn enter_linux64(entry: u64, boot_params: u64) -> ! {
    x86_64::instructions::interrupts::disable();
    let pml4 = x86_64::registers::control::Cr3::read_raw().0.start_address().as_u64();
    // SAFETY: CR3 holds the entry code's tables, which the firmware never changes: PML4[0]
    // points at the PDPT, PDPT[0] at the directory of the first GiB, whose entry 0 points at
    // the 4 KiB pages of the first 2 MiB; all identity-mapped, so their physical addresses
    // are pointers. Nothing of the firmware runs after the jump, so making that entry one
    // 2 MiB page takes nothing from it (the image, its stack and the kernel's low pages map
    // to the same addresses); the CR3 write below drops the stale translations. Interrupts
    // are off and the APs are parked: no one else walks the tables meanwhile.
    unsafe {
        let pdpt = core::ptr::read_volatile(pml4 as *const u64) & TABLE_ADDRESS;
        let first_gib = core::ptr::read_volatile(pdpt as *const u64) & TABLE_ADDRESS;
        core::ptr::write_volatile(first_gib as *mut u64, PRESENT_WRITABLE | LARGE_PAGE);
    }
    // SAFETY: the GDT is a 'static with the two descriptors the protocol names; the
    // current CS (0x18 in the runtime GDT) stays usable until the far return below
    // reloads it from the new table, as descriptors are cached in the segment registers.
    unsafe {
        lgdt(&DescriptorTablePointer {
            limit: (core::mem::size_of::<Gdt>() - 1) as u16,
            base: VirtAddr::new(core::ptr::addr_of!(LINUX_GDT) as u64),
        });
    }
    // SAFETY: the new tables map the first 4 GiB identity, like the boot tables, so this
    // code, its stack and every address the kernel needs stay where they are across the
    // CR3 switch. The far return loads `__BOOT_CS`; the jump never returns (caller's
    // contract: a kernel entry point).
    unsafe {
        asm!(
            "mov cr3, rcx",
            "push {cs}",
            "lea rax, [rip + 2f]",
            "push rax",
            "retfq",
            "2:",
            "mov eax, {ds}",
            "mov ds, ax",
            "mov es, ax",
            "mov ss, ax",
            "xor ebp, ebp",
            "jmp rdx",
            cs = const BOOT_CS,
            ds = const BOOT_DS,
            in("rcx") pml4,
            in("rdx") entry,
            in("rsi") boot_params,
            options(noreturn),
        )
    }
}
