//! The bare-metal firmware image. `cargo xtask build` turns it into `target/hvmloader`
//! (for Xen) and `target/hvmloader-qemu` (for `qemu-system-x86_64 -kernel`).
//!
//! Everything that decides anything lives in the `hvmloader` library next to this file,
//! where it is tested on the host; this binary only adds the runtime it needs on bare metal.

#![no_std]
#![no_main]
#![forbid(unsafe_op_in_unsafe_fn)]

mod rt;

use core::panic::PanicInfo;

/// Called by the entry code in long mode, on the boot stack, with the physical address of
/// `struct hvm_start_info` that the loader passed in EBX.
#[unsafe(no_mangle)]
extern "C" fn firmware_main(start_info_paddr: u32) -> ! {
    let layout = rt::image_layout();
    if let Some(unpacked) = layout.unpacked {
        hvmloader::stats::start_time_at(unpacked.started_tsc);
    }
    rt::cpu::init();
    // SAFETY: the entry code built the identity map of the first 4 GiB and switched to it;
    // this is the boot CPU, once, and the firmware owns the machine (but for its image,
    // which the machine keeps claimed) until the hand-off.
    let machine = unsafe { hvmloader::arch::Machine::take(layout.image) };
    hvmloader::boot::main(machine, start_info_paddr, layout)
}

#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    hvmloader::console::emergency(format_args!("fatal: firmware panic: {info}"));
    hvmloader::platform::fail_stop()
}

/// The precompiled `core` and `alloc` are built to unwind, so code inlined from them still
/// names the unwinder's entry points even though this image aborts on panic. Nothing ever
/// unwinds; reaching either one is reported like any other fatal error.
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {
    unwinding_reached()
}

#[unsafe(no_mangle)]
extern "C" fn _Unwind_Resume() -> ! {
    unwinding_reached()
}

fn unwinding_reached() -> ! {
    hvmloader::console::emergency(format_args!(
        "fatal: unwinding reached in an abort-on-panic image"
    ));
    hvmloader::platform::fail_stop()
}
