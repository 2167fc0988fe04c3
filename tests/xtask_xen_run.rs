//! `cargo xtask xen-run` as a user types it (issue 20): Xen 4.17 and the cached dom0 in
//! QEMU, one HVM guest with our firmware as its `firmware_override`, the guest's serial
//! console and Xen's `(dN)` lines on the terminal, and the project's Linux guest booted by
//! SeaBIOS from a CD inside. Driven over stdin and stdout: a command to the guest's shell,
//! its answer read back, then the power-off, after which the dom0 ends the run.
//!
//! One Xen boot (about 80 s here). The dom0 image comes from the same cache as the other
//! Xen tests; a machine that cannot run Xen skips, visibly (`HVMRS_REQUIRE_XEN=1` fails).

mod common;

use std::time::Duration;

use common::terminal::Session;
use common::xen::dom0_or_skip;
use xtask::guest::PROMPT;
use xtask::xen::GUEST_ENDED;

/// Xen and dom0 boot in 10-25 s; the guest's firmware, SeaBIOS, ISOLINUX and Linux took
/// about 60 s more here (TCG inside TCG). The margin is for a loaded 2-core machine.
const TO_THE_SHELL: Duration = Duration::from_secs(600);

#[test]
fn xen_run_boots_linux_in_a_xen_guest_through_our_firmware_to_a_shell() {
    const TEST: &str = "xen_run_boots_linux_in_a_xen_guest_through_our_firmware_to_a_shell";
    // Built (or found in the cache) before the command runs, so a machine that cannot have
    // it skips here rather than failing in the command.
    if dom0_or_skip(TEST).is_none() {
        return;
    }
    let mut session = Session::xtask(&["xen-run"]);
    let boot = session.wait_for(PROMPT, TO_THE_SHELL);
    eprintln!("{TEST}: the guest's shell after {:?}", session.elapsed());
    // Xen's own boot stays off the terminal; from the guest's creation on, Xen's lines for
    // it and its serial console are there: our firmware (as Xen's (d1) lines), its
    // hand-off, SeaBIOS booting the CD, and the guest's banner.
    assert!(!boot.contains("(XEN) Xen version"), "{boot}");
    let ordered = [
        "dom0: guest d1 created (paused)",
        "(d1) hvmrs INFO  boot: platform Xen 4.17",
        "(d1) hvmrs INFO  handoff: SeaBIOS: ",
        "(d1) Booting from DVD/CD...",
        "is up, booted through the firmware.",
    ];
    let mut from = 0;
    for needle in ordered {
        let at = boot[from..].find(needle).unwrap_or_else(|| {
            panic!("`{needle}` missing, or not after {:?}:\n{boot}", &boot[..from])
        });
        from += at + needle.len();
    }
    session.send("cat /sys/hypervisor/type");
    session.wait_for("\nxen\n", Duration::from_secs(60));
    session.send("echo hvmrs-$((6*7))");
    session.wait_for("hvmrs-42", Duration::from_secs(60));
    session.send("poweroff -f");
    session.wait_for(&format!("{GUEST_ENDED}poweroff"), Duration::from_secs(120));
    let status = session.wait_exit(Duration::from_secs(120));
    assert!(status.success(), "{status}\n{}", session.stderr());
    assert!(session.stderr().contains("xen-run: Xen powered off after"), "{}", session.stderr());
    eprintln!("{TEST}: Xen powered off after {:?}", session.elapsed());
}
