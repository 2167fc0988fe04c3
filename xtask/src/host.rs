//! The host programs the commands run, and the Debian package that provides each: a missing
//! one is reported in one line that says what to install, never as a bare "No such file or
//! directory" from the first `Command` that tries it.

use std::path::{Path, PathBuf};

use crate::Result;

/// Programs and files the commands need, and the Debian package providing each.
const PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("iasl", "acpica-tools"),
    ("objcopy", "binutils"),
    ("apt-get", "apt"),
    ("apt-cache", "apt"),
    ("dpkg-deb", "dpkg"),
    ("debootstrap", "debootstrap"),
    ("mkfs.ext4", "e2fsprogs"),
    ("xz", "xz-utils"),
    ("gzip", "gzip"),
    (SEABIOS, "seabios"),
];

/// Debian's SeaBIOS image, the one libxl hands to hvmloader (`--bios seabios` under QEMU).
pub const SEABIOS: &str = "/usr/share/seabios/bios-256k.bin";

/// `program` as found on PATH or, for the administration tools (debootstrap, mkfs.ext4),
/// in the sbin directories a user's PATH often lacks. An absolute path is taken as is.
pub fn find(program: &str) -> Option<PathBuf> {
    if Path::new(program).is_absolute() {
        return Path::new(program).is_file().then(|| PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Each of `programs` (commands, or absolute paths of files), or one line naming the
/// Debian packages that provide the missing ones.
pub fn require(programs: &[&str]) -> Result<()> {
    let missing: Vec<&str> = programs.iter().copied().filter(|p| find(p).is_none()).collect();
    match missing_message(&missing) {
        None => Ok(()),
        Some(message) => Err(message),
    }
}

/// The line for `missing` programs, `None` when nothing is missing.
fn missing_message(missing: &[&str]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let mut packages: Vec<&str> = missing.iter().map(|p| package_of(p)).collect();
    packages.sort_unstable();
    packages.dedup();
    Some(format!(
        "{} not found: install the Debian package{} {} (`sudo apt-get install {}`), or run \
         `bash .ci/run`, which installs everything the project needs",
        missing.join(", "),
        if packages.len() == 1 { "" } else { "s" },
        packages.join(", "),
        packages.join(" "),
    ))
}

/// The Debian package that provides `program`.
fn package_of(program: &str) -> &str {
    PACKAGES.iter().find(|(name, _)| *name == program).map_or(program, |(_, package)| package)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_its_package() {
        assert_eq!(
            missing_message(&["qemu-system-x86_64"]).unwrap(),
            "qemu-system-x86_64 not found: install the Debian package qemu-system-x86 \
             (`sudo apt-get install qemu-system-x86`), or run `bash .ci/run`, which installs \
             everything the project needs"
        );
        assert_eq!(missing_message(&[]), None);
    }

    #[test]
    fn programs_of_one_package_name_it_once() {
        let message = missing_message(&["apt-get", "apt-cache", SEABIOS]).unwrap();
        assert!(
            message.starts_with(&format!(
                "apt-get, apt-cache, {SEABIOS} not found: install the Debian packages apt, \
                 seabios (`sudo apt-get install apt seabios`)"
            )),
            "{message}"
        );
    }

    #[test]
    fn programs_are_found_on_path_and_in_sbin() {
        assert!(require(&["sh"]).is_ok());
        assert!(find("/bin/sh").is_some());
        assert!(require(&["hvmrs-no-such-program"]).is_err());
    }
}
