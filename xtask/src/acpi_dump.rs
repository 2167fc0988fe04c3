//! `cargo xtask acpi-dump`: the ACPI tables exactly as a guest finds them, compared with a
//! reference, and the golden dumps of the regression test (tests/acpi_golden.rs).
//!
//! The firmware is booted in QEMU (TCG) without isa-debug-exit, so QEMU stays up after the
//! firmware halts; guest memory is then read over QMP (`pmemsave`) and the tables are found
//! the way an OS finds them (RSDP scan, XSDT, FADT), not from the firmware's log. Output, in
//! `--out DIR`:
//!
//! - `SIG.aml` per table (`SSDT1.aml`... in XSDT order), `RSDP.dat`, `SIG.dsl` by `iasl -d`;
//! - `masked/`: the .dsl with addresses, checksums and build stamps masked (see
//!   [`disasm`]'s module documentation) and `fields.txt`, the decoded key fields; this is
//!   what a golden directory holds;
//! - with `--reference`: the same for the reference in `DIR/qemu/` or `DIR/reference/`,
//!   `DIR/compare.txt` (printed) and `DIR/dsl.diff` (printed with `--diff`).

pub mod compare;
pub mod disasm;
pub mod extract;
pub mod fields;
pub mod golden;
pub mod namespace;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::qmp::{GuestMemory, HEADLESS_TCG, Vm};
use extract::{Namer, Table};

use crate::Result;

/// The firmware finishes in well under a second under TCG; this bounds a hang.
const FIRMWARE_TIMEOUT: Duration = Duration::from_secs(60);
/// SeaBIOS installs QEMU's tables within a few seconds under TCG.
const SEABIOS_TIMEOUT: Duration = Duration::from_secs(30);
/// Serial lines after which the firmware has installed its tables (or never will).
const FIRMWARE_END_MARKERS: &[&str] = &["boot: done:", "fatal:", "Linux version"];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Machine {
    I440,
    Q35,
}

impl Machine {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "i440" | "i440fx" | "pc" => Ok(Machine::I440),
            "q35" => Ok(Machine::Q35),
            other => Err(format!("unknown machine `{other}` (i440 or q35)")),
        }
    }

    fn qemu_name(self) -> &'static str {
        match self {
            Machine::I440 => "pc",
            Machine::Q35 => "q35",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Machine::I440 => "i440",
            Machine::Q35 => "q35",
        }
    }
}

/// The virtual machine both the firmware and the reference boot on.
#[derive(Clone, Debug)]
pub struct Guest {
    pub machine: Machine,
    pub smp: String,
    pub mem: String,
    /// Devices and anything else, for both boots.
    pub qemu_args: Vec<String>,
}

impl Guest {
    fn args(&self) -> Vec<String> {
        let mut args: Vec<String> = HEADLESS_TCG.iter().map(|s| s.to_string()).collect();
        args.extend(["-machine", self.machine.qemu_name(), "-smp", &self.smp].map(String::from));
        args.extend(["-m".to_string(), self.mem.clone()]);
        args.extend(self.qemu_args.iter().cloned());
        args
    }
}

/// Tables extracted into a directory, disassembled and masked.
pub struct Dump {
    pub dir: PathBuf,
    pub tables: Vec<Table>,
    /// What is wrong with the tables or how they were found (not fatal for the dump).
    pub problems: Vec<String>,
}

impl Dump {
    pub fn masked_dir(&self) -> PathBuf {
        self.dir.join("masked")
    }
}

/// Boots the firmware `image` and dumps the tables it installed into `dir`.
pub fn dump_firmware(image: &Path, guest: &Guest, dir: &Path) -> Result<Dump> {
    clean(dir)?;
    let mut args = guest.args();
    args.extend(["-kernel".to_string(), image.display().to_string()]);
    let mut vm = Vm::start(&args, dir)?;
    let serial = vm.wait_for_serial(FIRMWARE_END_MARKERS, FIRMWARE_TIMEOUT)?;
    vm.stop()?;
    let mut problems = Vec::new();
    if let Some(line) = serial.lines().find(|l| l.contains("fatal:")) {
        problems.push(format!("the firmware stopped: {line}"));
    }

    let logged = logged_tables(&serial);
    let rsdps = extract::scan_rsdps(&mut vm)?;
    let (address, rsdp) = match logged_rsdp(&serial) {
        Some((primary, copy)) => {
            // The copy in the BIOS area is what a scan finds; the primary must equal it.
            let expected = copy.unwrap_or(primary);
            let found = rsdps.iter().find(|(a, _)| *a == expected).cloned().ok_or_else(|| {
                format!("the firmware logged its RSDP at {expected:#x}, but no valid RSDP is there")
            })?;
            if primary != expected && vm.read(primary, found.1.len())? != found.1 {
                problems.push(format!("the RSDP at {primary:#x} differs from its copy"));
            }
            found
        }
        None => {
            // Without the log line, the RSDP found may well be SeaBIOS's, left from before.
            problems.push("the firmware logged no `ACPI: RSDP at` line".into());
            rsdps.first().cloned().ok_or("no RSDP in 0xE0000-0xFFFFF")?
        }
    };
    for (other, _) in rsdps.iter().filter(|(a, _)| *a != address) {
        problems.push(format!("a second valid RSDP at {other:#x} (a stale one?)"));
    }
    let found = extract::walk(&mut vm, address, rsdp);
    problems.extend(found.problems);
    // Every table the firmware says it installed must be reachable from the RSDP.
    for (signature, address) in &logged {
        if !found.tables.iter().any(|t| t.address == Some(*address)) {
            problems.push(format!("{signature} logged at {address:#x} is not reachable"));
        }
    }
    drop(vm);
    finish(dir, found.tables, problems)
}

/// `(signature, address)` of each `hvmrs INFO  boot: ACPI: FACP at 0x1ffbc070, 276 bytes`.
fn logged_tables(serial: &str) -> Vec<(String, u64)> {
    acpi_log_lines(serial)
        .filter(|rest| rest.ends_with(" bytes"))
        .filter_map(|rest| {
            let mut words = rest.split_whitespace();
            let signature = words.next()?.to_string();
            Some((signature, hex(words.nth(1)?)?))
        })
        .collect()
}

/// `ACPI: RSDP at 0x1ffbbe90, copy at 0xf0000`: the RSDP and its copy where scans look.
fn logged_rsdp(serial: &str) -> Option<(u64, Option<u64>)> {
    let rest = acpi_log_lines(serial).find_map(|rest| rest.strip_prefix("RSDP at "))?;
    let mut parts = rest.split(", copy at ");
    Some((hex(parts.next()?)?, parts.next().and_then(hex)))
}

fn acpi_log_lines(serial: &str) -> impl Iterator<Item = &str> {
    serial.lines().filter_map(|line| line.split("boot: ACPI: ").nth(1)).map(str::trim_end)
}

/// `0x1ffbc070,` -> 0x1ffbc070.
fn hex(word: &str) -> Option<u64> {
    u64::from_str_radix(word.trim_end_matches(',').strip_prefix("0x")?, 16).ok()
}

/// Boots QEMU's stock firmware (SeaBIOS, which installs QEMU's own tables) on the same
/// machine and dumps those tables into `dir`.
pub fn dump_qemu(guest: &Guest, dir: &Path) -> Result<Dump> {
    clean(dir)?;
    let mut vm = Vm::start(&guest.args(), dir)?;
    let started = std::time::Instant::now();
    // SeaBIOS runs QEMU's table loader and patches the RSDP checksum last; a table set is
    // taken once its RSDP is valid and the walk finds no fault (else: not finished yet).
    let found = loop {
        if let Some((address, rsdp)) = extract::scan_rsdps(&mut vm)?.into_iter().next() {
            let found = extract::walk(&mut vm, address, rsdp.clone());
            if found.problems.is_empty() {
                vm.stop()?;
                break extract::walk(&mut vm, address, rsdp);
            }
        }
        vm.check_running(&vm.serial())?;
        if started.elapsed() > SEABIOS_TIMEOUT {
            return Err(format!("no valid RSDP from SeaBIOS within {SEABIOS_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(vm);
    finish(dir, found.tables, found.problems)
}

/// Reads a reference: a directory of table files (`SIG.aml`, `ssdt1.dat`, as Linux's
/// /sys/firmware/acpi/tables or acpixtract name them) or an acpidump text file.
pub fn dump_reference(source: &Path, dir: &Path) -> Result<Dump> {
    clean(dir)?;
    let source_dir = if source.is_dir() {
        source.to_path_buf()
    } else {
        let extracted = dir.join("acpixtract");
        let _ = std::fs::remove_dir_all(&extracted);
        disasm::acpixtract(source, &extracted)?;
        extracted
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(&source_dir)
        .map_err(|e| format!("{}: {e}", source_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort_by_key(|p| natural_key(&p.file_name().unwrap_or_default().to_string_lossy()));

    let mut found = Vec::new();
    for path in files {
        let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let signature = if bytes.starts_with(b"RSD PTR ") {
            *b"RSD "
        } else if bytes.len() >= 8 && bytes[..4].iter().all(|b| b.is_ascii_alphanumeric()) {
            bytes[..4].try_into().expect("4 bytes")
        } else {
            continue; // README.md and the like
        };
        found.push((signature, bytes));
    }
    // Without the root tables' addresses the real order is unknown: the pointer chain's
    // order first (as a dump from memory has it), then the rest in file-name order.
    let rank = |s: &[u8; 4]| match s {
        b"RSD " => 0,
        b"XSDT" => 1,
        b"RSDT" => 2,
        b"FACP" => 3,
        b"DSDT" => 4,
        b"FACS" => 5,
        _ => 6,
    };
    found.sort_by_key(|(signature, _)| rank(signature));
    let mut namer = Namer::default();
    let mut problems = Vec::new();
    let tables = found
        .into_iter()
        .map(|(signature, bytes)| {
            let name =
                if &signature == b"RSD " { "RSDP".to_string() } else { namer.name(signature) };
            if &signature != b"FACS" && &signature != b"RSD " && !extract::checksum_ok(&bytes) {
                problems.push(format!("{name}: bad checksum"));
            }
            Table { name, signature, address: None, bytes }
        })
        .collect();
    finish(dir, tables, problems)
}

/// `ssdt10` after `ssdt2`.
fn natural_key(name: &str) -> (String, u64) {
    let digits: String =
        name.chars().skip_while(|c| !c.is_ascii_digit()).take_while(char::is_ascii_digit).collect();
    let stem: String = name.chars().take_while(|c| !c.is_ascii_digit()).collect();
    (stem.to_ascii_lowercase(), digits.parse().unwrap_or(0))
}

/// Writes, disassembles and masks the tables; writes `masked/fields.txt`.
fn finish(dir: &Path, tables: Vec<Table>, mut problems: Vec<String>) -> Result<Dump> {
    extract::write_tables(&tables, dir)?;
    problems.extend(disasm::disassemble(dir, &tables)?);
    let dump = Dump { dir: dir.to_path_buf(), tables, problems };
    disasm::write_masked(dir, &dump.tables, &dump.masked_dir())?;
    let fields = fields::to_text(&fields::decode(&dump.tables));
    let path = dump.masked_dir().join("fields.txt");
    std::fs::write(&path, fields).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(dump)
}

/// Removes what an earlier dump left in `dir` (tables, disassembly, masked files), so that
/// a table that disappeared does not linger; other files are left alone.
fn clean(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for d in [dir.to_path_buf(), dir.join("masked")] {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            let ours = path.extension().is_some_and(|e| e == "aml" || e == "dat" || e == "dsl")
                || path.file_name().is_some_and(|n| n == "fields.txt");
            if ours && path.is_file() {
                std::fs::remove_file(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Compares two dumps: the structural report, then the dsl diff statistics (and the diff
/// itself in `diff_path`).
pub fn compare_dumps(
    ours: (&str, &Dump),
    theirs: (&str, &Dump),
    diff_path: &Path,
) -> Result<(String, String)> {
    let a = compare::Summary::load(ours.0, &ours.1.masked_dir())?;
    let b = compare::Summary::load(theirs.0, &theirs.1.masked_dir())?;
    let mut report = compare::structural(&a, &b, false);
    let common: Vec<String> = a.tables.iter().filter(|t| b.tables.contains(t)).cloned().collect();
    let (diff, stats) = compare::dsl_diff(
        (ours.0, &ours.1.masked_dir()),
        (theirs.0, &theirs.1.masked_dir()),
        &common,
    )?;
    report.push_str(&format!(
        "\n== masked .dsl, diff -u {} {} (in {}) ==\n",
        ours.0,
        theirs.0,
        diff_path.display()
    ));
    for (table, stat) in stats {
        match stat {
            None => report.push_str(&format!("  {table}.dsl: identical\n")),
            Some((removed, added)) => {
                report.push_str(&format!("  {table}.dsl: -{removed} +{added} lines\n"))
            }
        }
    }
    Ok((report, diff))
}

const USAGE: &str = "usage: cargo xtask acpi-dump [--machine i440|q35] [--smp N] [--mem SIZE] \
[--out DIR] [--reference qemu|FILE_OR_DIR] [--diff] [--list] [--image FILE] [--tables DIR] \
[-- QEMU ARGS]
       cargo xtask acpi-dump --bless [--image FILE]
  --reference qemu   also dump QEMU's own tables (SeaBIOS, same machine and devices)
  --reference PATH   a directory of .aml/.dat tables, or an acpidump text file
  --diff             print the masked .dsl diff too (always written to DIR/dsl.diff)
  --image FILE       use this firmware image instead of building target/hvmloader-qemu
  --tables DIR       take our tables from DIR (a guest's /sys/firmware/acpi/tables copied out,
                     as `cargo xtask xen-run` and the Xen tests do) instead of booting QEMU
  --list             also print every difference on a line of its own
  --bless            rewrite tests/golden/ from the current firmware";

struct Options {
    guest: Guest,
    out: Option<PathBuf>,
    reference: Option<String>,
    print_diff: bool,
    image: Option<PathBuf>,
    tables: Option<PathBuf>,
    list: bool,
    bless: bool,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        guest: Guest {
            machine: Machine::I440,
            smp: "1".into(),
            mem: "512M".into(),
            qemu_args: Vec::new(),
        },
        out: None,
        reference: None,
        print_diff: false,
        image: None,
        tables: None,
        list: false,
        bless: false,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value =
            |name: &str| it.next().cloned().ok_or_else(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--machine" => options.guest.machine = Machine::parse(&value(arg)?)?,
            "--smp" => options.guest.smp = value(arg)?,
            "--mem" => options.guest.mem = value(arg)?,
            "--out" => options.out = Some(value(arg)?.into()),
            "--reference" => options.reference = Some(value(arg)?),
            "--image" => options.image = Some(value(arg)?.into()),
            "--tables" => options.tables = Some(value(arg)?.into()),
            "--list" => options.list = true,
            "--diff" => options.print_diff = true,
            "--bless" => options.bless = true,
            "-h" | "--help" => return Err(USAGE.into()),
            "--" => {
                options.guest.qemu_args = it.cloned().collect();
                break;
            }
            other => return Err(format!("unknown acpi-dump option `{other}`\n{USAGE}")),
        }
    }
    Ok(options)
}

/// The command; `build` makes the firmware image when `--image` is not given.
pub fn main<B: FnOnce() -> Result<PathBuf>>(
    args: &[String],
    root: &Path,
    build: B,
) -> Result<ExitCode> {
    let options = parse(args)?;
    let guest = &options.guest;
    let out =
        options.out.unwrap_or_else(|| root.join("target/acpi-dump").join(guest.machine.name()));
    let image = |build: B| match &options.image {
        Some(image) => Ok(image.clone()),
        None => build(),
    };
    if options.bless {
        if options.tables.is_some() {
            return Err(format!("--tables and --bless do not go together\n{USAGE}"));
        }
        return bless_all(root, &image(build)?);
    }
    let ours = match &options.tables {
        Some(tables) => dump_reference(tables, &out)?,
        None => dump_firmware(&image(build)?, guest, &out)?,
    };
    println!("{} tables in {}: {}", ours.tables.len(), out.display(), names(&ours.tables));
    let ok = report_problems("ours", &ours.problems);

    if let Some(reference) = &options.reference {
        let (label, theirs) = if reference == "qemu" {
            ("qemu", dump_qemu(guest, &out.join("qemu"))?)
        } else {
            ("reference", dump_reference(Path::new(reference), &out.join("reference"))?)
        };
        println!("{label}: {} tables in {}", theirs.tables.len(), theirs.dir.display());
        report_problems(label, &theirs.problems);
        let diff_path = out.join("dsl.diff");
        let (report, diff) = compare_dumps(("ours", &ours), (label, &theirs), &diff_path)?;
        write(&diff_path, &diff)?;
        write(&out.join("compare.txt"), &report)?;
        println!("\n{report}");
        if options.print_diff {
            println!("{diff}");
        }
        if options.list {
            let a = compare::Summary::load("ours", &ours.masked_dir())?;
            let b = compare::Summary::load(label, &theirs.masked_dir())?;
            let differences = compare::differences(&a, &b);
            write(&out.join("differences.txt"), &differences.join("\n"))?;
            println!("== {} differences, one per line ==", differences.len());
            for difference in differences {
                println!("{difference}");
            }
        }
    }
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// `--bless`: rewrites tests/golden/ from `image`.
fn bless_all(root: &Path, image: &Path) -> Result<ExitCode> {
    for config in golden::CONFIGS {
        let scratch = root.join("target/acpi-dump/bless").join(config.name);
        golden::bless(config, image, &scratch, &golden::directory(root))?;
        println!("blessed tests/golden/{}", config.name);
    }
    Ok(ExitCode::SUCCESS)
}

fn names(tables: &[Table]) -> String {
    tables.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(" ")
}

/// Prints problems; true when there are none.
fn report_problems(label: &str, problems: &[String]) -> bool {
    for problem in problems {
        eprintln!("acpi-dump: {label}: {problem}");
    }
    problems.is_empty()
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firmware_log_lines_give_signatures_and_addresses() {
        let serial = "hvmrs INFO  boot: ACPI: RSDP at 0x1ffbbe90, copy at 0xf0000\n\
                      hvmrs INFO  boot: ACPI: FACP at 0x1ffbc070, 276 bytes\n\
                      hvmrs INFO  boot: ACPI mode on: PM block at 0xb000\n";
        assert_eq!(logged_tables(serial), [("FACP".to_string(), 0x1FFB_C070)]);
        assert_eq!(logged_rsdp(serial), Some((0x1FFB_BE90, Some(0xF0000))));
        assert_eq!(logged_rsdp("hvmrs INFO  boot: ACPI: RSDP at 0xf0000"), Some((0xF0000, None)));
    }

    #[test]
    fn reference_files_sort_naturally() {
        let mut names = ["ssdt10.dat", "ssdt2.dat", "apic.dat", "SSDT1.aml"];
        names.sort_by_key(|n| natural_key(n));
        assert_eq!(names, ["apic.dat", "SSDT1.aml", "ssdt2.dat", "ssdt10.dat"]);
    }
}
