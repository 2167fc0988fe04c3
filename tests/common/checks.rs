//! What the Linux acceptance tests (under QEMU and inside a Xen guest) share: collecting
//! every broken rule with its evidence, and the check that Linux found each ACPI table the
//! firmware logged where it logged it.

use std::fmt::Write as _;

/// Collects what failed, with the evidence, so one run reports every broken rule at once.
#[derive(Default)]
pub struct Problems(pub Vec<String>);

impl Problems {
    pub fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            self.0.push(what());
        }
    }
}

/// dmesg lines containing any of `needles`, for evidence.
pub fn dmesg_matching<'a>(dmesg: &'a [String], needles: &[&str]) -> Vec<&'a str> {
    dmesg.iter().filter(|l| needles.iter().any(|n| l.contains(n))).map(String::as_str).collect()
}

/// Evidence lines, indented under the problem they belong to.
pub fn indented(lines: &[&str]) -> String {
    lines.iter().fold(String::new(), |mut out, l| {
        let _ = write!(out, "\n      {l}");
        out
    })
}

/// Every table the firmware installed (`(signature, address)`) is the one Linux found, at
/// the same address, and (but the XSDT) listed in /sys/firmware/acpi/tables.
pub fn check_tables_found(
    problems: &mut Problems,
    tables: &[(String, u64)],
    dmesg: &[String],
    sysfs_tables: &[String],
) {
    for (signature, address) in tables {
        if signature == "RSDT" {
            continue; // Linux follows the XSDT of a v2 RSDP and never prints the RSDT.
        }
        let expected = format!("ACPI: {signature} 0x{address:016X} ");
        problems.check(dmesg.iter().any(|l| l.contains(&expected)), || {
            format!(
                "Linux did not list {signature} at {address:#x}:{}",
                indented(&dmesg_matching(dmesg, &[&format!("ACPI: {signature} ")]))
            )
        });
        // sysfs lists the tables the XSDT and FADT lead to, not the XSDT itself.
        if signature != "XSDT" {
            let count = tables.iter().filter(|(s, _)| s == signature).count();
            problems.check(sysfs_lists(sysfs_tables, signature, count), || {
                format!("{signature} missing from /sys/firmware/acpi/tables: {sysfs_tables:?}")
            });
        }
    }
}

/// Whether sysfs lists `signature`'s table as its own: Linux names a signature that occurs
/// more than once SIG1, SIG2... (in XSDT order), and keeps the plain name otherwise.
fn sysfs_lists(sysfs_tables: &[String], signature: &str, count: usize) -> bool {
    if count > 1 {
        (1..=count).all(|n| sysfs_tables.contains(&format!("{signature}{n}")))
    } else {
        sysfs_tables.iter().any(|t| t == signature)
    }
}
