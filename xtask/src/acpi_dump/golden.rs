//! Golden dumps: the masked tables of our firmware for a few fixed machines, kept in
//! `tests/golden/<config>/` (text: the masked .dsl of every table and `fields.txt`).
//! tests/acpi_golden.rs fails on any difference; `cargo xtask acpi-dump --bless` (or
//! `BLESS=1 cargo test --test acpi_golden`) rewrites them after an intended change.

use std::path::{Path, PathBuf};

use super::compare::{self, Summary};
use super::{Guest, Machine, dump_firmware};
use crate::Result;

/// One fixed machine whose tables are kept.
pub struct Config {
    /// Directory name under tests/golden/.
    pub name: &'static str,
    pub machine: Machine,
    pub smp: &'static str,
    pub mem: &'static str,
    pub qemu_args: &'static [&'static str],
}

impl Config {
    pub fn guest(&self) -> Guest {
        Guest {
            machine: self.machine,
            smp: self.smp.into(),
            mem: self.mem.into(),
            qemu_args: self.qemu_args.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// The machines: both chipsets with their default devices, several vCPUs (the processor
/// objects and MADT grow with them) and Q35 with a PCIe root port holding a device.
pub const CONFIGS: &[Config] = &[
    Config { name: "i440-smp1", machine: Machine::I440, smp: "1", mem: "512M", qemu_args: &[] },
    Config { name: "i440-smp4", machine: Machine::I440, smp: "4", mem: "512M", qemu_args: &[] },
    Config {
        name: "q35-smp1-rootport",
        machine: Machine::Q35,
        smp: "1",
        mem: "512M",
        qemu_args: &[
            "-device",
            "pcie-root-port,id=rp1,chassis=1,slot=1",
            "-device",
            "virtio-net-pci,bus=rp1",
        ],
    },
];

pub fn config(name: &str) -> &'static Config {
    CONFIGS.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("no golden config {name}"))
}

/// `tests/golden` of the workspace at `root`.
pub fn directory(root: &Path) -> PathBuf {
    root.join("tests/golden")
}

const BLESS_HINT: &str = "if the change is intended, rewrite the golden files with \
`cargo xtask acpi-dump --bless` (or `BLESS=1 cargo test --test acpi_golden`) and review \
`git diff tests/golden`";

/// Dumps the firmware's tables for `config` into `scratch` and compares them with the
/// golden directory. The error is the whole report: structural comparison, then the diff.
pub fn check(config: &Config, image: &Path, scratch: &Path, golden_root: &Path) -> Result<()> {
    let dump = dump_firmware(image, &config.guest(), scratch)?;
    if !dump.problems.is_empty() {
        return Err(format!(
            "{}: problems in the tables:\n  {}",
            config.name,
            dump.problems.join("\n  ")
        ));
    }
    let golden = golden_root.join(config.name);
    let now = dump.masked_dir();
    let expected = file_names(&golden)?;
    let actual = file_names(&now)?;
    let mut differing: Vec<String> =
        expected.iter().filter(|name| !actual.contains(name)).cloned().collect();
    for name in &actual {
        let old = std::fs::read(golden.join(name)).ok();
        if old.as_deref() != Some(std::fs::read(now.join(name)).unwrap_or_default().as_slice()) {
            differing.push(name.clone());
        }
    }
    if differing.is_empty() {
        return Ok(());
    }
    differing.sort();

    let mut report = format!(
        "{}: the tables differ from {} in: {}\n{BLESS_HINT}\n\n",
        config.name,
        golden.display(),
        differing.join(" ")
    );
    if expected.is_empty() {
        report.push_str("(no golden files yet)\n");
        return Err(report);
    }
    let old = Summary::load("golden", &golden)?;
    let new = Summary::load("now", &now)?;
    report.push_str(&compare::structural(&old, &new, true));
    let tables: Vec<String> =
        differing.iter().filter_map(|n| n.strip_suffix(".dsl")).map(String::from).collect();
    let (diff, _) = compare::dsl_diff(("golden", &golden), ("now", &now), &tables)?;
    report.push_str("\n== diff -u golden now ==\n");
    report.push_str(&diff);
    Err(report)
}

/// Replaces `golden_root/<config>` with the masked dump of the firmware's tables.
pub fn bless(config: &Config, image: &Path, scratch: &Path, golden_root: &Path) -> Result<()> {
    let dump = dump_firmware(image, &config.guest(), scratch)?;
    if !dump.problems.is_empty() {
        return Err(format!(
            "{}: not blessing tables with problems:\n  {}",
            config.name,
            dump.problems.join("\n  ")
        ));
    }
    let golden = golden_root.join(config.name);
    let _ = std::fs::remove_dir_all(&golden);
    std::fs::create_dir_all(&golden).map_err(|e| format!("{}: {e}", golden.display()))?;
    for name in file_names(&dump.masked_dir())? {
        std::fs::copy(dump.masked_dir().join(&name), golden.join(&name))
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Sorted names of the files in `dir` (none when it does not exist).
fn file_names(dir: &Path) -> Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    Ok(names)
}
