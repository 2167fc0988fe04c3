//! What handing the machine to the next program needs from the CPU: writable windows onto
//! physical memory to load payloads into, and the jump into a 64-bit Linux kernel. (The way
//! back to real mode for a BIOS is in [`super::realmode`].)

use core::arch::asm;
use core::ptr::addr_of_mut;

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

#[repr(C, align(4096))]
struct PageTable([u64; 512]);

/// PML4, PDPT and four page directories: an identity map of the first 4 GiB in 2 MiB pages.
static mut LINUX_PAGE_TABLES: [PageTable; 6] = [const { PageTable([0; 512]) }; 6];

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
/// The page tables are the firmware's own static identity map of the first 4 GiB in 2 MiB
/// pages. Unlike the boot tables, they map page 0: the decompressor reads the BIOS data
/// area (0x40E, 0x413) to place its trampoline before it switches to page tables of its own.
///
/// # Safety
/// `entry` must be the 64-bit entry of a kernel loaded per the boot protocol, `boot_params`
/// its zero page, and the kernel, zero page, command line and initrd must all lie below
/// 4 GiB. The firmware image (these page tables live in its bss) must not overlap the
/// kernel's `init_size` area. Nothing of the firmware runs afterwards.
pub(super) unsafe fn enter_linux64(entry: u64, boot_params: u64) -> ! {
    x86_64::instructions::interrupts::disable();
    // SAFETY: single-threaded and the tables are not in use (CR3 points at the boot
    // tables); raw pointers avoid references to the `static mut`.
    let pml4 = unsafe {
        let tables = addr_of_mut!(LINUX_PAGE_TABLES);
        let table = |index: usize| addr_of_mut!((*tables)[index].0);
        (*table(0))[0] = table(1) as u64 | PRESENT_WRITABLE;
        for directory in 0..4 {
            let pd = table(2 + directory);
            (*table(1))[directory] = pd as u64 | PRESENT_WRITABLE;
            for (slot, entry) in (*pd).iter_mut().enumerate() {
                let address = ((directory as u64) << 30) | ((slot as u64) << 21);
                *entry = address | PRESENT_WRITABLE | LARGE_PAGE;
            }
        }
        table(0) as u64
    };
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
