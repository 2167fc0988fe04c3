//! The ACPI tables as the firmware left them in guest memory: dumped over QMP after it
//! halts, disassembled by iasl and loaded into acpiexec, which must raise no complaint;
//! and the self-test (the `acpi` crate inside the firmware) must have passed.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::qmp::Inspected;
use serde_json::json;

const TIMEOUT: Duration = Duration::from_secs(120);

/// (signature, address, length) of every table the firmware logged.
fn logged_tables(serial: &str) -> Vec<(String, u64, u64)> {
    serial
        .lines()
        .filter_map(|l| l.split("boot: ACPI: ").nth(1))
        .filter(|rest| rest.contains(" bytes"))
        .map(|rest| {
            let mut words = rest.split_whitespace();
            let sig = words.next().unwrap().to_string();
            let address = words.nth(1).unwrap().trim_end_matches(',');
            let length: u64 = words.next().unwrap().parse().unwrap();
            (sig, u64::from_str_radix(address.trim_start_matches("0x"), 16).unwrap(), length)
        })
        .collect()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e} (acpica-tools installed?)"));
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// Dumps every logged table to `dir` as SIG.aml (SSDT1.aml... when several).
fn dump(vm: &mut Inspected, dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    let mut ssdts = 0;
    for (sig, address, length) in logged_tables(&vm.serial) {
        let name = if sig == "SSDT" {
            ssdts += 1;
            format!("SSDT{ssdts}")
        } else {
            sig.clone()
        };
        let file = dir.join(format!("{name}.aml"));
        vm.execute(
            "pmemsave",
            json!({ "val": address, "size": length, "filename": file.to_str().unwrap() }),
        );
        let bytes = std::fs::read(&file).unwrap();
        assert_eq!(bytes.len() as u64, length);
        assert_eq!(&bytes[..4], sig.as_bytes(), "{name} at {address:#x}");
        if sig != "FACS" {
            // The FACS is the one table without a checksum.
            let sum = bytes.iter().fold(0u8, |s, b| s.wrapping_add(*b));
            assert_eq!(sum, 0, "{name} checksum");
        }
        names.push(name);
    }
    names
}

fn check_machine(machine: &str, extra: &[&str]) {
    let dir = common::scratch(&format!("acpi-{machine}"));
    let mut args = vec!["-m", "512M", "-append", "selfcheck"];
    args.extend_from_slice(extra);
    let mut vm = Inspected::boot(&common::image("hvmloader-qemu"), machine, &args, &dir, TIMEOUT);
    assert!(
        vm.serial.contains("self-check: ") && vm.serial.contains("ACPI tables parse back"),
        "{}",
        vm.serial
    );
    assert!(!vm.serial.contains("ERROR"), "{}", vm.serial);
    let names = dump(&mut vm, &dir);
    for required in ["FACS", "DSDT", "FACP", "APIC", "XSDT", "RSDT", "SSDT1"] {
        assert!(names.iter().any(|n| n == required), "{required} missing: {names:?}");
    }
    assert_eq!(names.iter().any(|n| n == "MCFG"), machine == "q35", "MCFG only on q35");

    // The RSDP where legacy scans look, pointing at the logged XSDT.
    let rsdp = dir.join("RSDP.dat");
    vm.execute(
        "pmemsave",
        json!({ "val": 0xF0000, "size": 36, "filename": rsdp.to_str().unwrap() }),
    );
    let rsdp = std::fs::read(rsdp).unwrap();
    assert_eq!(&rsdp[..8], b"RSD PTR ");
    assert_eq!(rsdp[..20].iter().fold(0u8, |s, b| s.wrapping_add(*b)), 0, "RSDP checksum");
    assert_eq!(rsdp.iter().fold(0u8, |s, b| s.wrapping_add(*b)), 0, "RSDP extended checksum");
    let xsdt = u64::from_le_bytes(rsdp[24..32].try_into().unwrap());
    assert!(logged_tables(&vm.serial).iter().any(|(s, a, _)| s == "XSDT" && *a == xsdt));
    drop(vm);

    // Every table disassembles without errors or warnings.
    let aml: Vec<String> = names.iter().map(|n| format!("{n}.aml")).collect();
    for name in &names {
        let mut cmd = Command::new("iasl");
        cmd.current_dir(&dir);
        if name == "DSDT" || name.starts_with("SSDT") {
            let others: Vec<&str> = aml
                .iter()
                .map(String::as_str)
                .filter(|a| {
                    (a.starts_with("DSDT") || a.starts_with("SSDT")) && **a != format!("{name}.aml")
                })
                .collect();
            if !others.is_empty() {
                // `-e` takes a space-separated list, ended by the next option.
                cmd.arg("-e").args(others);
            }
        }
        let out = run(cmd.arg("-d").arg(format!("{name}.aml")));
        assert!(!out.contains("Error") && !out.contains("Warning"), "iasl -d {name}:\n{out}");
    }

    // The namespace loads and its key objects evaluate in ACPICA's interpreter. (The whole
    // 128-entry _PRT overflows acpiexec's 16 KiB debugger buffer, a tool limit; the host
    // tests of the DSDTs check it entry by entry.)
    let mut cmd = Command::new("acpiexec");
    cmd.current_dir(&dir)
        .arg("-b")
        .arg("evaluate \\_S5; evaluate \\_SB.PCI0._CRS; evaluate \\_SB.C000._MAT; evaluate \\_SB.LNKA._CRS");
    for file in aml.iter().filter(|a| a.starts_with("DSDT") || a.starts_with("SSDT")) {
        cmd.arg(file);
    }
    let out = run(&mut cmd);
    for bad in ["AE_NOT_FOUND", "AE_AML", "ACPI Error", "ACPI Warning", "Exception"] {
        assert!(!out.contains(bad), "acpiexec reports {bad}:\n{out}");
    }
    assert!(out.contains("Evaluation of \\_S5 returned object"), "{out}");
    assert!(out.contains("Evaluation of \\_SB.PCI0._CRS returned object"), "{out}");
    assert!(out.contains("Evaluation of \\_SB.C000._MAT returned object"), "{out}");
}

#[test]
fn q35_tables_are_clean() {
    check_machine(
        "q35",
        &[
            "-device",
            "pcie-root-port,id=rp1,chassis=1,slot=1",
            "-device",
            "virtio-net-pci,bus=rp1",
            "-device",
            "pcie-pci-bridge,id=pb1,bus=pcie.0",
            "-device",
            "e1000,bus=pb1,addr=2",
        ],
    );
}

#[test]
fn pc_tables_are_clean() {
    check_machine(
        "pc",
        &["-device", "pci-bridge,id=br1,chassis_nr=1", "-device", "e1000,bus=br1,addr=1"],
    );
}
