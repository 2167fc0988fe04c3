//! `--only xen`: Xen's own hvmloader and ours under the real Xen (Xen 4.17 nested in QEMU
//! TCG, the tests' dom0), in one Xen boot so that both see the same machine: rounds of four
//! guests (each firmware with `serial = "file:..."` and with `serial = "none"`), the order of
//! the firmwares alternating from round to round, each guest destroyed once SeaBIOS printed
//! its banner.
//!
//! A guest's firmware time is from its first `(dN)` line (port 0xE9) to SeaBIOS's banner, on
//! the host's clock as the lines arrive on Xen's console (`console.log`, millisecond stamps):
//! both firmwares log to 0xE9, which Xen handles itself and prints line by line. Our
//! firmware's `accesses:` line gives the exits behind its time.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use xtask::xen::{self, Dom0, GUEST_NAME, GUEST_SERIAL_LOG, TEST_MOUNT};

use super::accesses::{self, FirmwareCounts};
use super::{Row, median};
use crate::Result;

/// Which firmware a guest ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Firmware {
    Hvmloader,
    Ours,
}

impl Firmware {
    fn name(self) -> &'static str {
        match self {
            Firmware::Hvmloader => "hvmloader",
            Firmware::Ours => "ours",
        }
    }
}

/// xl.cfg's `serial=` of a guest: COM1 emulated by the device model, or no COM1.
const SERIALS: [&str; 2] = ["file", "none"];

/// How long one guest may take to reach SeaBIOS before the round moves on.
const GUEST_TIMEOUT_S: u32 = 120;

/// One guest of the run: what the dom0 reported for it.
#[derive(Debug, PartialEq)]
struct GuestRun {
    round: usize,
    firmware: Firmware,
    serial: String,
    domid: u32,
    /// `seabios`, or why the wait ended (`timeout`, `create-failed`).
    outcome: String,
}

/// The dom0's job: `runs` rounds, creating and destroying the four guests in turn.
fn dom0_script(runs: usize) -> String {
    format!(
        r#"# cargo xtask bench --only xen (written by xtask/src/bench/xen.rs)
echo "--- runs ---"
round=1
while [ "$round" -le {runs} ]; do
    # Alternate which firmware goes first.
    if [ $((round % 2)) -eq 1 ]; then order="hvmloader ours"; else order="ours hvmloader"; fi
    for firmware in $order; do
        for serial in {serials}; do
            if ! timeout 60 xl create {TEST_MOUNT}/$firmware-$serial.cfg > /tmp/create.out 2>&1; then
                echo "run $round $firmware $serial 0 create-failed"
                sed 's/^/  /' /tmp/create.out
                xl destroy {GUEST_NAME} > /dev/null 2>&1
                continue
            fi
            domid=$(xl domid {GUEST_NAME})
            outcome=timeout
            deadline=$(( $(date +%s) + {GUEST_TIMEOUT_S} ))
            while [ "$(date +%s)" -lt "$deadline" ]; do
                if xl dmesg | grep -q "(d$domid) SeaBIOS (version"; then outcome=seabios; break; fi
                sleep 0.2
            done
            echo "run $round $firmware $serial $domid $outcome"
            xl destroy {GUEST_NAME} > /dev/null 2>&1
        done
    done
    round=$((round + 1))
done
"#,
        serials = SERIALS.join(" "),
    )
}

/// The `run ...` lines of the dom0's report.
fn parse_runs(report: &str) -> Result<Vec<GuestRun>> {
    let mut runs = Vec::new();
    for line in report.lines().filter(|l| l.starts_with("run ")) {
        let bad = || format!("bad line in the dom0's report: {line:?}");
        let words: Vec<&str> = line.split_whitespace().collect();
        let [_, round, firmware, serial, domid, outcome] = words[..] else { return Err(bad()) };
        runs.push(GuestRun {
            round: round.parse().map_err(|_| bad())?,
            firmware: match firmware {
                "hvmloader" => Firmware::Hvmloader,
                "ours" => Firmware::Ours,
                _ => return Err(bad()),
            },
            serial: serial.into(),
            domid: domid.parse().map_err(|_| bad())?,
            outcome: outcome.into(),
        });
    }
    Ok(runs)
}

/// What a guest's `(dN)` lines say in the stamped console: the first line's and SeaBIOS's
/// banner's arrival (seconds), and its lines.
#[derive(Debug, Default)]
struct GuestLines<'a> {
    first: Option<f64>,
    seabios: Option<f64>,
    lines: Vec<&'a str>,
}

/// Splits the stamped console (`[   12.345] text`) by guest.
fn guest_lines(stamped: &str) -> BTreeMap<u32, GuestLines<'_>> {
    let mut guests: BTreeMap<u32, GuestLines<'_>> = BTreeMap::new();
    for line in stamped.lines() {
        let Some((stamp, text)) = line.strip_prefix('[').and_then(|l| l.split_once("] ")) else {
            continue;
        };
        let Ok(at) = stamp.trim().parse::<f64>() else { continue };
        let Some((domid, text)) = text
            .strip_prefix("(d")
            .and_then(|t| t.split_once(") "))
            .and_then(|(d, t)| d.parse::<u32>().ok().map(|d| (d, t)))
        else {
            continue;
        };
        let guest = guests.entry(domid).or_default();
        guest.first.get_or_insert(at);
        if guest.seabios.is_none() && text.contains("SeaBIOS (version") {
            guest.seabios = Some(at);
        }
        guest.lines.push(text);
    }
    guests
}

/// One guest's measurement.
struct Measured {
    firmware: Firmware,
    serial: String,
    time: Duration,
    /// Ours only.
    counts: Option<FirmwareCounts>,
}

fn measure(runs: &[GuestRun], stamped: &str) -> Result<Vec<Measured>> {
    let guests = guest_lines(stamped);
    let mut measured = Vec::new();
    for run in runs {
        let what = format!("round {} {} serial={}", run.round, run.firmware.name(), run.serial);
        if run.outcome != "seabios" {
            return Err(format!("{what}: the guest did not reach SeaBIOS ({})", run.outcome));
        }
        let guest = guests
            .get(&run.domid)
            .ok_or_else(|| format!("{what}: no (d{}) line on Xen's console", run.domid))?;
        let (Some(first), Some(seabios)) = (guest.first, guest.seabios) else {
            return Err(format!("{what}: SeaBIOS's banner is not on Xen's console"));
        };
        let counts = match run.firmware {
            Firmware::Ours => Some(accesses::parse_summary(&guest.lines.join("\n"))?),
            Firmware::Hvmloader => None,
        };
        measured.push(Measured {
            firmware: run.firmware,
            serial: run.serial.clone(),
            time: Duration::from_secs_f64(seabios - first),
            counts,
        });
    }
    Ok(measured)
}

/// The guest configs (`<firmware>-<serial>.cfg`) written to `dir`, for the guest's disk; ours
/// point `firmware_override` at the image the run puts there.
fn guest_configs(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut files = Vec::new();
    for firmware in [Firmware::Hvmloader, Firmware::Ours] {
        for serial in SERIALS {
            let value =
                if serial == "file" { format!("file:{GUEST_SERIAL_LOG}") } else { "none".into() };
            let extras = xen::GuestExtras::default();
            let config =
                xen::guest_config(128, 1, firmware == Firmware::Ours, &value, "destroy", &extras);
            let name = format!("{}-{serial}.cfg", firmware.name());
            let path = dir.join(&name);
            std::fs::write(&path, config).map_err(|e| format!("{}: {e}", path.display()))?;
            files.push((name, path));
        }
    }
    Ok(files)
}

pub fn xen(
    image: &Path,
    cache: &Path,
    runs: usize,
    work: &Path,
    rows: &mut Vec<Row>,
) -> Result<Value> {
    let progress = |line: &str| eprintln!("bench: {line}");
    let dom0 = Dom0::build_or_reuse(cache, &progress).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(work);
    let configs_dir = work.join("configs");
    std::fs::create_dir_all(&configs_dir).map_err(|e| format!("{}: {e}", configs_dir.display()))?;
    let files = guest_configs(&configs_dir)?;
    let firmware = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    eprintln!("bench: Xen, {runs} rounds of 4 guests in one Xen boot (a few minutes)");
    let guests = (runs * 2 * SERIALS.len()) as u64;
    let limit = Duration::from_secs(180 + guests * (u64::from(GUEST_TIMEOUT_S) + 60));
    let run =
        xen::run_dom0_script(&dom0, &dom0_script(runs), Some(&firmware), &files, work, limit)?;
    let report = run.section("runs").ok_or_else(|| format!("no report from the dom0\n{run}"))?;
    let guest_runs = parse_runs(report)?;
    if guest_runs.len() != runs * 4 {
        return Err(format!("the dom0 ran {} guests of {}:\n{report}", guest_runs.len(), runs * 4));
    }
    let console_log = work.join("console.log");
    let stamped = std::fs::read_to_string(&console_log)
        .map_err(|e| format!("{}: {e}", console_log.display()))?;
    let measured = measure(&guest_runs, &stamped)?;

    let mut out = Vec::new();
    for serial in SERIALS {
        let times = |firmware: Firmware| -> Vec<Duration> {
            measured
                .iter()
                .filter(|m| m.firmware == firmware && m.serial == serial)
                .map(|m| m.time)
                .collect()
        };
        let (mut ours, mut theirs) = (times(Firmware::Ours), times(Firmware::Hvmloader));
        let secs = |v: &[Duration]| v.iter().map(|d| d.as_secs_f64()).collect::<Vec<_>>();
        let (ours_s, theirs_s) = (secs(&ours), secs(&theirs));
        let (a, b) = (median(&mut ours), median(&mut theirs));
        let counts: Vec<&FirmwareCounts> = measured
            .iter()
            .filter(|m| m.firmware == Firmware::Ours && m.serial == serial)
            .filter_map(|m| m.counts.as_ref())
            .collect();
        let exits = counts
            .first()
            .map_or(String::new(), |c| format!("config {}, {}", c.config(), c.other_kinds()));
        let config = format!("Xen 4.17, 128 MiB, serial={serial}, median of {runs}");
        rows.push(
            Row::new(
                "firmware to SeaBIOS",
                &config,
                format!("{:.3} s", a.as_secs_f64()),
                format!("Xen hvmloader {:.3} s", b.as_secs_f64()),
            )
            .ratio(a.as_secs_f64(), b.as_secs_f64(), "<= 0.50"),
        );
        rows.push(Row::new("exits (ours)", &config, exits.clone(), ""));
        out.push(json!({
            "serial": serial,
            "ours_s": ours_s,
            "hvmloader_s": theirs_s,
            "ratio": a.as_secs_f64() / b.as_secs_f64(),
            "ours_accesses": counts.iter().map(|c| c.line.clone()).collect::<Vec<_>>(),
        }));
    }
    Ok(json!({ "dom0": dom0.versions, "runs": out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_alternates_and_creates_every_config() {
        let script = dom0_script(3);
        assert!(script.contains("while [ \"$round\" -le 3 ]"));
        assert!(script.contains(r#"order="hvmloader ours"; else order="ours hvmloader""#));
        assert!(script.contains("for serial in file none"));
        assert!(script.contains("xl create /test/$firmware-$serial.cfg"));
    }

    #[test]
    fn runs_and_guest_lines_make_measurements() {
        let report = "run 1 hvmloader file 1 seabios\nrun 1 ours file 2 seabios\n";
        let runs = parse_runs(report).unwrap();
        assert_eq!(runs[1].firmware, Firmware::Ours);
        assert_eq!(runs[1].domid, 2);
        let stamped = "[  10.000] (XEN) something\n\
                       [  10.100] (d1) HVM Loader\n\
                       [  11.200] (d1) SeaBIOS (version 1.16.2-1)\n\
                       [  12.000] (d2) hvmrs INFO  boot: platform Xen 4.17\n\
                       [  12.050] (d2) hvmrs INFO  boot: accesses: cf8 R/W 1/2, ecam R/W 0/0, \
                       com1 R/W 0/0 (0 bytes), e9 R/W 0/40 (3000 bytes), pit R/W 0/0, \
                       fw_cfg R/W 0/0, port R/W 3/4, mmio R/W 5/6, hypercalls 7, time 400000 us \
                       (1 TSC ticks, TSC rate unknown)\n\
                       [  12.400] (d2) SeaBIOS (version 1.16.2-1)\n";
        let measured = measure(&runs, stamped).unwrap();
        assert_eq!(measured[0].time, Duration::from_millis(1100));
        assert_eq!(measured[1].time, Duration::from_millis(400));
        assert!(measured[0].counts.is_none());
        assert_eq!(measured[1].counts.as_ref().unwrap().hypercalls, 7);
    }

    #[test]
    fn a_guest_that_missed_seabios_is_an_error() {
        let runs = parse_runs("run 2 ours none 5 timeout\n").unwrap();
        let err = measure(&runs, "").err().unwrap();
        assert!(err.contains("round 2 ours serial=none: the guest did not reach SeaBIOS"), "{err}");
        assert!(parse_runs("run x ours none 5 seabios").is_err());
    }
}
