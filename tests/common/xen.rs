//! A real Xen for the integration tests: the harness of `xtask::xen` (Xen 4.17 and a Debian
//! dom0 inside QEMU, one HVM guest created with `xl`), with what the tests add: the dom0
//! built once per test binary, a visible skip when the machine cannot run Xen
//! (`HVMRS_REQUIRE_XEN=1` turns a skip into a failure), scratch directories, and panicking
//! accessors for assertions.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

// Each test binary uses its own subset.
#[allow(unused_imports)]
pub use xtask::xen::{
    DRIVER_SCRIPT, Dom0, GUEST_SERIAL_LOG, GuestExtras, PROBE_SCRIPT, Scenario, TEST_MOUNT,
};

use super::target_dir;

/// The dom0 image, built on first use, or why this machine cannot have one. A build that
/// fails on a machine that has everything it needs panics.
pub fn dom0() -> Result<&'static Dom0, String> {
    static DOM0: OnceLock<Result<Dom0, String>> = OnceLock::new();
    DOM0.get_or_init(|| {
        let cache = target_dir().join("xen-cache");
        match Dom0::build_or_reuse(&cache, &|line| eprintln!("{line}")) {
            Ok(dom0) => Ok(dom0),
            Err(xtask::xen::Dom0Error::Unavailable(reason)) => Err(reason),
            Err(failed) => panic!("{failed}"),
        }
    })
    .as_ref()
    .map_err(Clone::clone)
}

fn xen_required() -> bool {
    std::env::var_os("HVMRS_REQUIRE_XEN").is_some_and(|v| v == "1")
}

/// The dom0 image, or `None` after printing why the calling test skips. With
/// `HVMRS_REQUIRE_XEN=1` (a machine that must run Xen) a skip fails the test instead.
pub fn dom0_or_skip(test: &str) -> Option<&'static Dom0> {
    match dom0() {
        Ok(dom0) => Some(dom0),
        Err(reason) if xen_required() => {
            panic!("{test}: cannot run Xen here, and HVMRS_REQUIRE_XEN=1: {reason}")
        }
        Err(reason) => {
            super::record_skip(test, &format!("cannot run Xen on this machine: {reason}"));
            None
        }
    }
}

/// The project's Q35-capable device model (`cargo xtask xen-dm`, tools/xen-dm/): the cache
/// entry holding the patched QEMU and its wrapper, built on first use (about 2 minutes on
/// 2 cores), or why this machine cannot build it (Debian packages or the deb-src entry
/// missing). A failing build on a machine that has everything panics.
pub fn q35_device_model() -> Result<&'static Path, String> {
    static ENTRY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ENTRY
        .get_or_init(|| {
            xtask::xen_dm::prerequisites()?;
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let entry = xtask::xen_dm::build_or_reuse(root, &|line| eprintln!("{line}"));
            Ok(entry.unwrap_or_else(|e| panic!("building the Xen device model: {e}")))
        })
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(Clone::clone)
}

/// The dom0 image and the Q35 device model, or `None` after printing why the calling test
/// skips (`HVMRS_REQUIRE_XEN=1` turns that into a failure, as for [`dom0_or_skip`]).
pub fn dom0_and_q35_device_model_or_skip(test: &str) -> Option<(&'static Dom0, &'static Path)> {
    let dom0 = dom0_or_skip(test)?;
    match q35_device_model() {
        Ok(entry) => Some((dom0, entry)),
        Err(reason) if xen_required() => {
            panic!("{test}: no Q35 device model here, and HVMRS_REQUIRE_XEN=1: {reason}")
        }
        Err(reason) => {
            super::record_skip(test, &format!("cannot build the Q35 device model: {reason}"));
            None
        }
    }
}

/// Boots Xen with the dom0 and runs `scenario` with `extras`, in the scratch directory
/// `xen-<name>` (its `console.log` stays for reading); panics only when the machine itself
/// fails (QEMU failing, no power-off within the bounds).
pub fn run_with(dom0: &Dom0, scenario: &Scenario, extras: &GuestExtras) -> XenRun {
    let work = super::scratch(&format!("xen-{}", scenario.name));
    let run = xtask::xen::run_with(dom0, scenario, extras, &work)
        .unwrap_or_else(|e| panic!("Xen run {}: {e}", scenario.name));
    eprintln!(
        "xen run {}: dom0 ready after {:?}, powered off after {:?}",
        scenario.name,
        run.dom0_ready.unwrap_or_default(),
        run.elapsed
    );
    XenRun(run)
}

/// What one Xen boot produced ([`xtask::xen::XenRun`], whose fields and accessors it
/// derefs to), with accessors that fail the test when the report lacks what they read.
pub struct XenRun(xtask::xen::XenRun);

impl std::ops::Deref for XenRun {
    type Target = xtask::xen::XenRun;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::fmt::Display for XenRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl XenRun {
    /// `xl create`'s exit status.
    pub fn create_status(&self) -> i32 {
        self.0
            .create_status()
            .unwrap_or_else(|| panic!("no xl create status in the report\n{self}"))
    }

    /// `xl create`'s output.
    pub fn create_output(&self) -> &str {
        self.0
            .create_output()
            .unwrap_or_else(|| panic!("no xl create output in the report\n{self}"))
    }

    /// Why the dom0 stopped waiting: `matched`, `state <xl state>`, `gone`, `timeout` or
    /// `not created`.
    pub fn wait_outcome(&self) -> &str {
        self.0.wait_outcome().unwrap_or_else(|| panic!("no wait outcome in the report\n{self}"))
    }

    pub fn assert_guest_printed(&self, needle: &str) {
        assert!(
            self.guest_lines().iter().any(|l| l.contains(needle)),
            "expected `{needle}` in the guest's (d{}) lines\n{self}",
            self.domid().map_or("?".to_string(), |d| d.to_string())
        );
    }
}

/// genisoimage and ISOLINUX, fetched on first use (cached in `target/linux-cache/`).
pub fn iso_tools() -> &'static xtask::guest::IsoTools {
    static TOOLS: OnceLock<xtask::guest::IsoTools> = OnceLock::new();
    TOOLS.get_or_init(|| {
        xtask::guest::IsoTools::fetch(&target_dir().join("linux-cache"), &|l| eprintln!("{l}"))
            .unwrap_or_else(|e| panic!("the ISO tools: {e}"))
    })
}
