//! `cargo xtask bench`: the firmware's figures against Xen's hvmloader and QEMU's own path,
//! as one table on stdout and as JSON in `target/bench/` (`bench-DATE.json` and
//! `latest.json`).
//!
//! - **size**: `target/hvmloader` (file, PT_LOAD filesz and memsz, and the code and data as
//!   linked, before packing) against Debian's hvmloader (xen-utils-4.17, fetched with
//!   `apt-get download` into target/bench-cache/), the linked bytes by room and the memory
//!   by part (the linked ELF's symbols, `bench/rooms.rs`).
//! - **acpi**: table bytes (all tables but the RSDP; DSDT + SSDTs) for 1 and 16 vCPUs on
//!   both machines, against QEMU's tables on the same machine (SeaBIOS) and Xen 4.17's
//!   hvmloader tables for i440 (/work/shared/reference or `--xen-reference DIR`).
//! - **time** and **accesses**: the firmware's `boot: accesses:` line under TCG with
//!   `-icount shift=0` (deterministic: every configuration runs twice and must print the
//!   same line), config accesses cross-checked with QEMU's trace of the CF8/CFC and ECAM
//!   regions (minus SeaBIOS's share, measured by a run that stops before the firmware's
//!   first config access) and compared with the minimum of `bench/accesses.rs`.
//! - **linux**: QEMU boot to power-off, firmware + Linux against QEMU's stock
//!   `-kernel -initrd` (SeaBIOS and QEMU's tables), alternating runs, median of `--runs`.

mod accesses;
mod elf_size;
mod rooms;
mod runs;
mod xen;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use serde_json::{Value, json};

use accesses::{FirmwareCounts, Inventory, TracedConfig};
use runs::Machine;
use xtask::acpi_dump::{self, Guest};
use xtask::guest::command_output;

use crate::{Images, Result};

const USAGE: &str = "usage: cargo xtask bench [--runs N] [--only size,acpi,devices,linux,xen] \
[--xen-reference DIR]
  --runs N       Linux boots per side (default 5; xen: 3), alternating, median
  --only LIST    run only these sections (default: all but xen, which needs root and a few
                 minutes to build the dom0 image once)";

const SECTIONS: [&str; 5] = ["size", "acpi", "devices", "linux", "xen"];
/// The sections run when `--only` does not name them.
const DEFAULT_SECTIONS: [&str; 4] = ["size", "acpi", "devices", "linux"];

/// The PCI mixes of tests/pci_layout.rs (without `selfcheck`, which adds accesses).
fn pci_mix(q35: bool) -> Vec<String> {
    use xtask::mixes::{IVSHMEM_1G, PC_PCI_MIX, Q35_PCI_MIX};
    let mix: &[&str] = if q35 { &Q35_PCI_MIX } else { &PC_PCI_MIX };
    mix.iter().chain(IVSHMEM_1G.iter()).map(|s| s.to_string()).collect()
}

/// A firmware configuration of the time/accesses section.
struct DeviceConfig {
    name: &'static str,
    machine: Machine,
    /// Cross-check with QEMU's trace and compare with the minimum (the 16-vCPU runs are for
    /// time only: their trace is a million PIT polls).
    traced: bool,
}

fn device_configs() -> Vec<DeviceConfig> {
    let machine = |qemu_name, smp, mem, devices| Machine { qemu_name, smp, mem, devices };
    vec![
        DeviceConfig {
            name: "i440 default",
            machine: machine("pc", 1, "512M", vec![]),
            traced: true,
        },
        DeviceConfig {
            name: "i440 pci mix",
            machine: machine("pc", 1, "1G", pci_mix(false)),
            traced: true,
        },
        DeviceConfig {
            name: "q35 default",
            machine: machine("q35", 1, "512M", vec![]),
            traced: true,
        },
        DeviceConfig {
            name: "q35 pci mix",
            machine: machine("q35", 1, "512M", pci_mix(true)),
            traced: true,
        },
        DeviceConfig {
            name: "i440 default, 16 vCPUs",
            machine: machine("pc", 16, "512M", vec![]),
            traced: false,
        },
        DeviceConfig {
            name: "q35 default, 16 vCPUs",
            machine: machine("q35", 16, "512M", vec![]),
            traced: false,
        },
    ]
}

/// One line of the table.
struct Row {
    metric: String,
    config: String,
    ours: String,
    reference: String,
    ratio: Option<f64>,
    goal: String,
}

impl Row {
    fn new(metric: &str, config: &str, ours: impl ToString, reference: impl ToString) -> Self {
        Row {
            metric: metric.into(),
            config: config.into(),
            ours: ours.to_string(),
            reference: reference.to_string(),
            ratio: None,
            goal: String::new(),
        }
    }

    fn ratio(mut self, ours: f64, theirs: f64, goal: &str) -> Self {
        self.ratio = (theirs > 0.0).then(|| ours / theirs);
        self.goal = goal.into();
        self
    }
}

struct Options {
    /// `--runs`, when given.
    runs: Option<usize>,
    sections: Vec<String>,
    xen_reference: PathBuf,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut options = Options {
        runs: None,
        sections: DEFAULT_SECTIONS.map(String::from).to_vec(),
        xen_reference: PathBuf::from("/work/shared/reference/xen-4.17-hvmloader-i440"),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value =
            || it.next().cloned().ok_or_else(|| format!("{arg} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--runs" => {
                let runs = value()?.parse().map_err(|_| format!("bad --runs\n{USAGE}"))?;
                options.runs = Some(runs);
                if runs == 0 {
                    return Err("--runs must be at least 1".into());
                }
            }
            "--only" => {
                options.sections = value()?.split(',').map(String::from).collect();
                if let Some(bad) = options.sections.iter().find(|s| !SECTIONS.contains(&s.as_str()))
                {
                    return Err(format!("unknown section `{bad}`\n{USAGE}"));
                }
            }
            "--xen-reference" => options.xen_reference = value()?.into(),
            _ => return Err(format!("unknown bench option `{arg}`\n{USAGE}")),
        }
    }
    Ok(options)
}

pub fn main(
    args: &[String],
    root: &Path,
    build: impl FnOnce() -> Result<Images>,
) -> Result<ExitCode> {
    let options = parse(args)?;
    let images = build()?;
    let target = root.join("target");
    let work = target.join("bench");
    let host = host_info()?;
    eprintln!("bench: {} / {} / {}", host["cpu"], host["qemu"], host["date"]);
    let mut rows = Vec::new();
    let mut data = json!({ "host": host });
    let wants = |s: &str| options.sections.iter().any(|x| x == s);

    if wants("size") {
        let linked = crate::linked_elf(&target);
        data["size"] = size(&images.xen, &linked, &target.join("bench-cache"), &mut rows)?;
    }
    if wants("acpi") {
        data["acpi"] = acpi(&images.qemu, &options.xen_reference, &work.join("acpi"), &mut rows)?;
    }
    if wants("devices") {
        data["devices"] = devices(&images.qemu, &work.join("devices"), &mut rows)?;
    }
    if wants("linux") {
        data["linux"] = linux(
            &images.qemu,
            &target.join("linux-cache"),
            options.runs.unwrap_or(5),
            &work.join("linux"),
            &mut rows,
        )?;
    }
    if wants("xen") {
        data["xen"] = xen::xen(
            &images.xen,
            &target.join("xen-cache"),
            options.runs.unwrap_or(3),
            &work.join("xen"),
            &mut rows,
        )?;
    }

    let table = table(&rows, &host);
    println!("{table}");
    let date = host["date"].as_str().unwrap_or("unknown").to_string();
    data["table"] = Value::from(table);
    let text = serde_json::to_string_pretty(&data).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    for name in [format!("bench-{date}.json"), "latest.json".to_string()] {
        let path = work.join(name);
        std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("bench: wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// CPU model, QEMU version, date (UTC).
fn host_info() -> Result<Value> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, m)| m.trim())
        })
        .unwrap_or("unknown");
    let cpus = cpuinfo.lines().filter(|l| l.starts_with("processor")).count();
    let qemu = command_output(Command::new("qemu-system-x86_64").arg("--version"))?;
    let date = command_output(Command::new("date").args(["-u", "+%Y-%m-%d"]))?;
    Ok(json!({
        "cpu": format!("{cpu} ({cpus} CPUs)"),
        "qemu": qemu.lines().next().unwrap_or("").trim(),
        "date": date.trim(),
    }))
}

fn size(ours: &Path, linked: &Path, cache: &Path, rows: &mut Vec<Row>) -> Result<Value> {
    std::fs::create_dir_all(cache).map_err(|e| format!("{}: {e}", cache.display()))?;
    let progress = |line: &str| eprintln!("bench: {line}");
    let dir =
        xtask::guest::cached_package(cache, "xen-utils-4.17", &progress, |extracted, out| {
            let from = extracted.join("usr/lib/xen-4.17/boot/hvmloader");
            std::fs::copy(&from, out.join("hvmloader"))
                .map(|_| ())
                .map_err(|e| format!("{}: {e}", from.display()))
        })?;
    let read = |path: &Path| -> Result<elf_size::ImageSize> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        elf_size::image_size(&bytes).map_err(|e| format!("{}: {e}", path.display()))
    };
    let (a, b) = (read(ours)?, read(&dir.join("hvmloader"))?);
    // The code and data as linked, before packing (the linked ELF's loaded bytes).
    let unpacked = read(linked)?.load_filesz;
    let package = dir.file_name().unwrap_or_default().to_string_lossy().into_owned();
    // Issue 18: first as small as hvmloader, then 0.4x of it; memory at most twice hvmloader's.
    for (what, x, y, goal) in [
        ("image file bytes", a.file, b.file, "<= 1.0, then 0.40"),
        ("PT_LOAD filesz", a.load_filesz, b.load_filesz, "<= 1.0, then 0.40"),
        ("code and data, unpacked", unpacked, b.load_filesz, ""),
        ("PT_LOAD memsz", a.load_memsz, b.load_memsz, "<= 2.0"),
    ] {
        rows.push(
            Row::new(what, "target/hvmloader vs hvmloader", x, y).ratio(x as f64, y as f64, goal),
        );
    }
    let by_room = rooms::image_rooms(linked, unpacked)?;
    for (room, bytes) in &by_room {
        rows.push(Row::new("image bytes by room", room, bytes, ""));
    }
    let by_room: serde_json::Map<String, Value> =
        by_room.into_iter().map(|(room, bytes)| (room, Value::from(bytes))).collect();
    let memory = rooms::image_memory_parts(linked)?;
    for (part, bytes) in &memory {
        rows.push(Row::new("memory by part", part, bytes, ""));
    }
    let memory: serde_json::Map<String, Value> =
        memory.into_iter().map(|(part, bytes)| (part, Value::from(bytes))).collect();
    Ok(json!({
        "reference": package,
        "rooms": by_room,
        "memory": memory,
        "ours": {
            "file": a.file,
            "filesz": a.load_filesz,
            "unpacked": unpacked,
            "memsz": a.load_memsz,
        },
        "hvmloader": { "file": b.file, "filesz": b.load_filesz, "memsz": b.load_memsz },
    }))
}

/// (all tables but the RSDP, DSDT + SSDTs) in bytes.
fn table_bytes<'a>(tables: impl Iterator<Item = (&'a str, usize)>) -> (usize, usize) {
    let mut total = (0, 0);
    for (signature, len) in tables {
        if signature == "RSD " {
            continue;
        }
        total.0 += len;
        if signature == "DSDT" || signature == "SSDT" {
            total.1 += len;
        }
    }
    total
}

fn acpi(image: &Path, xen_reference: &Path, work: &Path, rows: &mut Vec<Row>) -> Result<Value> {
    let xen = xen_tables(xen_reference)?;
    let mut out = Vec::new();
    for machine in [acpi_dump::Machine::I440, acpi_dump::Machine::Q35] {
        for smp in [1, 16] {
            let name = format!(
                "{} {smp} vCPU",
                if machine == acpi_dump::Machine::I440 { "i440" } else { "q35" }
            );
            eprintln!("bench: ACPI tables, {name}");
            let guest =
                Guest { machine, smp: smp.to_string(), mem: "512M".into(), qemu_args: vec![] };
            let dir = work.join(name.replace(' ', "-"));
            let ours = acpi_dump::dump_firmware(image, &guest, &dir.join("ours"))?;
            let qemu = acpi_dump::dump_qemu(&guest, &dir.join("qemu"))?;
            let sizes = |d: &acpi_dump::Dump| {
                table_bytes(
                    d.tables
                        .iter()
                        .map(|t| (std::str::from_utf8(&t.signature).unwrap_or(""), t.bytes.len())),
                )
            };
            let (ours, qemu) = (sizes(&ours), sizes(&qemu));
            rows.push(
                Row::new("ACPI bytes, all tables", &name, ours.0, format!("QEMU {}", qemu.0))
                    .ratio(ours.0 as f64, qemu.0 as f64, ""),
            );
            rows.push(
                Row::new("ACPI bytes, DSDT+SSDTs", &name, ours.1, format!("QEMU {}", qemu.1))
                    .ratio(ours.1 as f64, qemu.1 as f64, ""),
            );
            if machine == acpi_dump::Machine::I440 {
                rows.push(
                    Row::new(
                        "ACPI bytes, DSDT+SSDTs",
                        &name,
                        ours.1,
                        format!("Xen hvmloader {}", xen.1),
                    )
                    .ratio(ours.1 as f64, xen.1 as f64, ""),
                );
            }
            out.push(json!({ "config": name, "ours": { "total": ours.0, "aml": ours.1 }, "qemu": { "total": qemu.0, "aml": qemu.1 } }));
        }
    }
    Ok(
        json!({ "configs": out, "xen_hvmloader_i440": { "total": xen.0, "aml": xen.1, "source": xen_reference.display().to_string() } }),
    )
}

/// Table sizes of Xen's hvmloader, from a directory of `SIG*.aml` files.
fn xen_tables(dir: &Path) -> Result<(usize, usize)> {
    let mut tables = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.extension().is_some_and(|x| x == "aml") {
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let signature = String::from_utf8_lossy(&bytes[..4.min(bytes.len())]).into_owned();
            tables.push((signature, bytes.len()));
        }
    }
    Ok(table_bytes(tables.iter().map(|(s, l)| (s.as_str(), *l))))
}

fn devices(image: &Path, work: &Path, rows: &mut Vec<Row>) -> Result<Value> {
    let mut out = Vec::new();
    for config in device_configs() {
        eprintln!("bench: firmware time and accesses, {}", config.name);
        let dir = work.join(config.name.replace([' ', ','], "-"));
        let mut counts: Vec<(FirmwareCounts, TracedConfig)> = Vec::new();
        let mut query_pci = Value::Null;
        for run in 0..2 {
            let r = runs::firmware(
                image,
                &config.machine,
                "loglevel=info",
                config.traced,
                &dir.join(format!("run{run}")),
            )?;
            counts.push((accesses::parse_summary(&r.serial)?, TracedConfig::from_trace(&r.trace)));
            query_pci = r.query_pci;
        }
        let deterministic = counts[0] == counts[1];
        let (firmware, traced) = counts.swap_remove(0);
        let mut entry = json!({
            "config": config.name,
            "deterministic": deterministic,
            "summary_line": firmware.line,
            "time_us": firmware.time_us,
            "accesses": counts_json(&firmware),
        });
        let same = if deterministic { "identical in 2 runs" } else { "DIFFERS between 2 runs" };
        rows.push(Row::new("firmware time (us, icount)", config.name, firmware.time_us, same));
        rows.push(Row::new(
            "other accesses R/W by kind",
            config.name,
            firmware.other_kinds(),
            same,
        ));
        if config.traced {
            // SeaBIOS's share: the same machine, the firmware stopping before its first
            // config access.
            let base =
                runs::firmware(image, &config.machine, "fault=panic", true, &dir.join("seabios"))?;
            let qemu_seen = traced.minus(TracedConfig::from_trace(&base.trace));
            let agree = qemu_seen.cf8 == firmware.cf8 && qemu_seen.ecam == firmware.ecam;
            let inventory = Inventory::from_query_pci(&query_pci)?;
            let minimum = inventory.minimum(config.machine.qemu_name == "q35");
            let config_rw = firmware.config();
            rows.push(Row::new(
                "config R/W: cf8 + ecam",
                config.name,
                format!("{} + {}", firmware.cf8, firmware.ecam),
                format!(
                    "QEMU trace {} + {} ({})",
                    qemu_seen.cf8,
                    qemu_seen.ecam,
                    if agree { "equal" } else { "DIFFERENT" }
                ),
            ));
            rows.push(
                Row::new(
                    "config accesses vs minimum",
                    config.name,
                    config_rw.total(),
                    format!("minimum {} ({minimum})", minimum.total()),
                )
                .ratio(config_rw.total() as f64, minimum.total() as f64, "<= 1.2"),
            );
            entry["qemu_trace"] =
                json!({ "cf8": rw(qemu_seen.cf8), "ecam": rw(qemu_seen.ecam), "equal": agree });
            entry["inventory"] = json!({
                "buses": inventory.buses, "multifunction_devices": inventory.multifunction_devices,
                "devices": inventory.devices, "bridges": inventory.bridges, "bars32": inventory.bars32,
                "bars64": inventory.bars64, "roms": inventory.roms, "with_pin": inventory.with_pin,
            });
            entry["minimum"] = rw(minimum);
        }
        out.push(entry);
    }
    Ok(Value::from(out))
}

fn rw(rw: accesses::Rw) -> Value {
    json!({ "reads": rw.reads, "writes": rw.writes })
}

/// Every kind of access of a summary line.
fn counts_json(counts: &FirmwareCounts) -> Value {
    json!({
        "cf8": rw(counts.cf8), "ecam": rw(counts.ecam), "com1": rw(counts.com1),
        "e9": rw(counts.e9), "pit": rw(counts.pit), "fw_cfg": rw(counts.fw_cfg),
        "port": rw(counts.port), "mmio": rw(counts.mmio), "hypercalls": counts.hypercalls,
    })
}

fn linux(
    image: &Path,
    cache: &Path,
    runs: usize,
    work: &Path,
    rows: &mut Vec<Row>,
) -> Result<Value> {
    const REPORT_END: &str = "=== hvmloader-rs linux report end ===";
    let init = format!(
        "#!/bin/busybox sh\n/bin/busybox mkdir -p /proc\n/bin/busybox mount -t proc proc /proc\n\
         /bin/busybox echo \"{REPORT_END}\"\n/bin/busybox poweroff -f\n"
    );
    let guest = xtask::guest::Guest::fetch(cache, &|line| eprintln!("bench: {line}"))?;
    let initrd = guest.initrd_with_init(&init)?;
    let (kernel, initrd) = (guest.kernel.display().to_string(), initrd.display().to_string());
    let mut out = Vec::new();
    for qemu_name in ["pc", "q35"] {
        let machine = Machine { qemu_name, smp: 1, mem: "512M", devices: vec![] };
        let ours_args: Vec<String> = [
            "-kernel",
            &image.display().to_string(),
            "-fw_cfg",
            &format!("name=opt/hvmloader/kernel,file={kernel}"),
            "-fw_cfg",
            &format!("name=opt/hvmloader/initrd,file={initrd}"),
            "-fw_cfg",
            "name=opt/hvmloader/cmdline,string=console=ttyS0",
        ]
        .map(String::from)
        .to_vec();
        let stock_args: Vec<String> =
            ["-kernel", &kernel, "-initrd", &initrd, "-append", "console=ttyS0"]
                .map(String::from)
                .to_vec();
        let (mut ours, mut stock) = (Vec::new(), Vec::new());
        for run in 0..runs {
            eprintln!("bench: Linux boot {}/{runs} on {qemu_name}", run + 1);
            // Alternating, so that a drift of the host's speed hits both sides alike.
            ours.push(runs::linux(&machine, &ours_args, REPORT_END, &work.join("ours"))?);
            stock.push(runs::linux(&machine, &stock_args, REPORT_END, &work.join("stock"))?);
        }
        let (a, b) = (median(&mut ours), median(&mut stock));
        let config =
            format!("{} 1 vCPU, median of {runs}", if qemu_name == "pc" { "i440" } else { "q35" });
        rows.push(
            Row::new(
                "Linux boot to power-off (s)",
                &config,
                format!("{:.3}", a.as_secs_f64()),
                format!("QEMU -kernel {:.3}", b.as_secs_f64()),
            )
            .ratio(a.as_secs_f64(), b.as_secs_f64(), "<= 1.05"),
        );
        let secs = |v: &[Duration]| v.iter().map(Duration::as_secs_f64).collect::<Vec<_>>();
        out.push(json!({ "config": config, "ours_s": secs(&ours), "stock_s": secs(&stock), "ratio": a.as_secs_f64() / b.as_secs_f64() }));
    }
    Ok(json!({ "kernel": kernel, "runs": out }))
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { (values[n / 2 - 1] + values[n / 2]) / 2 }
}

/// The Markdown table, with the host line under it.
fn table(rows: &[Row], host: &Value) -> String {
    let mut text = String::from("| metric | configuration | ours | reference | ratio | goal |\n");
    text.push_str("|---|---|---:|---|---:|---|\n");
    for row in rows {
        let ratio = row.ratio.map_or(String::new(), |r| format!("{r:.3}"));
        text.push_str(&format!(
            "| {} | {} | {} | {} | {ratio} | {} |\n",
            row.metric, row.config, row.ours, row.reference, row.goal
        ));
    }
    text.push_str(&format!(
        "\n{}, {}, {}. Time and counts under TCG `-icount shift=0` (deterministic); Linux \
         times on the wall clock.\n",
        host["cpu"].as_str().unwrap_or(""),
        host["qemu"].as_str().unwrap_or(""),
        host["date"].as_str().unwrap_or("")
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_show_ratios_to_three_places() {
        let rows = [
            Row::new("image file bytes", "x", 40, 100).ratio(40.0, 100.0, "<= 0.40"),
            Row::new("time", "y", 5, "same"),
        ];
        let host = json!({ "cpu": "AMD EPYC (2 CPUs)", "qemu": "QEMU 7.2", "date": "2025-01-01" });
        let text = table(&rows, &host);
        assert!(text.contains("| image file bytes | x | 40 | 100 | 0.400 | <= 0.40 |\n"), "{text}");
        assert!(text.contains("| time | y | 5 | same |  |  |\n"), "{text}");
        assert!(text.contains("AMD EPYC (2 CPUs), QEMU 7.2, 2025-01-01."), "{text}");
    }

    #[test]
    fn rsdp_is_left_out_and_aml_counted_apart() {
        let tables = [("RSD ", 36), ("FACP", 276), ("DSDT", 5000), ("SSDT", 300), ("SSDT", 200)];
        assert_eq!(table_bytes(tables.into_iter()), (5776, 5500));
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let s = Duration::from_secs;
        assert_eq!(median(&mut [s(3), s(1), s(2)]), s(2));
        assert_eq!(median(&mut [s(4), s(1), s(2), s(3)]), Duration::from_millis(2500));
    }

    #[test]
    fn options_parse() {
        let args: Vec<String> = ["--runs", "3", "--only", "size,linux"].map(String::from).to_vec();
        let options = parse(&args).unwrap();
        assert_eq!((options.runs, options.sections.join(",")), (Some(3), "size,linux".to_string()));
        assert!(parse(&["--only".to_string(), "speed".to_string()]).is_err());
        assert!(parse(&["--runs".to_string(), "0".to_string()]).is_err());
    }
}
