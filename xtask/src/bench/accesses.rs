//! Device accesses: the firmware's own counts (its `boot: accesses:` line), QEMU's count of
//! the same accesses (trace events), and the minimum a firmware needs to enumerate and
//! program the machine's PCI devices.
//!
//! # The minimum
//!
//! Config-space accesses of one dword (or smaller) each, whatever the mechanism:
//!
//! | what                                   | reads              | writes                 |
//! |----------------------------------------|--------------------|------------------------|
//! | per bus scanned (bus 0 + one per bridge)| 32 (vendor ID, fn 0 of every slot) | |
//! | per multi-function device              | 7 (vendor ID, fn 1-7) |                     |
//! | per function                           | 2 (class/revision, header type) + 1 (interrupt pin) | 2 (command off before sizing, command on) |
//! | per BAR register sized (6 + ROM on a device, 2 + ROM on a bridge) | 1 (read back) | 1 (all ones) |
//! | per BAR programmed                     |                    | 1 (2 for 64-bit), ROM 1 |
//! | per function with an interrupt pin    |                    | 1 (interrupt line)     |
//! | per bridge                             |                    | 2 (bus numbers: open, then close the subordinate) + 5 (I/O, memory, prefetchable, prefetchable upper base and limit) |
//! | chipset, i440FX                        | 1 (host bridge ID) | 7 (PIRQ A-D, PIIX4 PMBA and PMREGMISC, PAM open and close: 2 dwords each) |
//! | chipset, Q35                           | 2 (host bridge ID, PCIEXBAR read-back) | 11 (PCIEXBAR high, low, enable; PMBASE, ACPI_CNTL; PIRQ A-D, E-H; PAM open and close) |
//!
//! No saving and restoring of BARs (the function is off and every BAR is reprogrammed), no
//! reading a BAR before sizing it (the read-back keeps the type bits). Absent slots and
//! functions cost their vendor-ID read: that is how they are found absent.

use serde_json::Value;

use crate::Result;

/// Reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rw {
    pub reads: u64,
    pub writes: u64,
}

impl Rw {
    pub fn total(self) -> u64 {
        self.reads + self.writes
    }
}

impl std::fmt::Display for Rw {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.reads, self.writes)
    }
}

/// The firmware's `hvmrs INFO  boot: accesses: cf8 R/W 106/70, ecam R/W 0/0, com1 R/W 195/277
/// (3086 bytes), e9 R/W 1/0 (0 bytes), pit R/W 0/0, fw_cfg R/W 42/20, port R/W 1/5, mmio R/W
/// 53/159, hypercalls 0, time 2960 us (...)` line: every access that left the guest, by kind
/// (firmware/src/stats.rs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FirmwareCounts {
    pub cf8: Rw,
    pub ecam: Rw,
    pub com1: Rw,
    /// The 0xE9 debug port.
    pub e9: Rw,
    pub pit: Rw,
    pub fw_cfg: Rw,
    /// Other ports.
    pub port: Rw,
    /// MMIO besides ECAM.
    pub mmio: Rw,
    pub hypercalls: u64,
    pub time_us: u64,
    /// The whole line, for the run-to-run comparison.
    pub line: String,
}

impl FirmwareCounts {
    pub fn config(&self) -> Rw {
        Rw { reads: self.cf8.reads + self.ecam.reads, writes: self.cf8.writes + self.ecam.writes }
    }

    /// The kinds with any access, as `name R/W r/w` (config accesses apart).
    pub fn other_kinds(&self) -> String {
        let kinds = [
            ("com1", self.com1),
            ("e9", self.e9),
            ("pit", self.pit),
            ("fw_cfg", self.fw_cfg),
            ("port", self.port),
            ("mmio", self.mmio),
        ];
        let mut parts: Vec<String> = kinds
            .iter()
            .filter(|(_, rw)| rw.total() > 0)
            .map(|(name, rw)| format!("{name} {rw}"))
            .collect();
        if self.hypercalls > 0 {
            parts.push(format!("hypercalls {}", self.hypercalls));
        }
        parts.join(", ")
    }
}

/// Finds and parses the firmware's summary line in a serial log.
pub fn parse_summary(serial: &str) -> Result<FirmwareCounts> {
    let line = serial
        .lines()
        .find_map(|l| l.split_once("boot: accesses: ").map(|(_, rest)| rest.trim_end()))
        .ok_or("the firmware printed no `boot: accesses:` line")?;
    let field = |name: &str| -> Result<&str> {
        line.split(", ")
            .find_map(|part| part.strip_prefix(name))
            .ok_or_else(|| format!("no `{name}` in `{line}`"))
    };
    let rw = |name: &str| -> Result<Rw> {
        let text = field(name)?;
        // "12/34", or "12/34 (567 bytes)" for the console ports.
        let counts = text.split_whitespace().next().unwrap_or("");
        let (r, w) = counts.split_once('/').ok_or_else(|| format!("bad `{name}{text}`"))?;
        let number = |s: &str| s.parse().map_err(|_| format!("bad `{name}{text}`"));
        Ok(Rw { reads: number(r)?, writes: number(w)? })
    };
    let first_number = |name: &str| -> Result<u64> {
        let text = field(name)?;
        text.split_whitespace()
            .next()
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("bad `{name}{text}`"))
    };
    Ok(FirmwareCounts {
        cf8: rw("cf8 R/W ")?,
        ecam: rw("ecam R/W ")?,
        com1: rw("com1 R/W ")?,
        e9: rw("e9 R/W ")?,
        pit: rw("pit R/W ")?,
        fw_cfg: rw("fw_cfg R/W ")?,
        port: rw("port R/W ")?,
        mmio: rw("mmio R/W ")?,
        hypercalls: first_number("hypercalls ")?,
        time_us: first_number("time ")?,
        line: line.to_string(),
    })
}

/// Config accesses QEMU saw, from `-trace memory_region_ops_read,memory_region_ops_write`:
/// every CF8/CFC data access (region `pci-conf-data`) and every ECAM access (region
/// `pcie-mmcfg-mmio`), present function or not (QEMU's `pci_cfg_*` events skip absent ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TracedConfig {
    pub cf8: Rw,
    pub ecam: Rw,
}

impl TracedConfig {
    pub fn from_trace(trace: &str) -> Self {
        let mut counts = TracedConfig::default();
        for line in trace.lines() {
            let rw = if line.contains("name 'pci-conf-data'") {
                &mut counts.cf8
            } else if line.contains("name 'pcie-mmcfg-mmio'") {
                &mut counts.ecam
            } else {
                continue;
            };
            if line.starts_with("memory_region_ops_read ") {
                rw.reads += 1;
            } else if line.starts_with("memory_region_ops_write ") {
                rw.writes += 1;
            }
        }
        counts
    }

    /// What is left after `baseline` (the same machine stopped before the firmware's first
    /// config access: SeaBIOS's share).
    pub fn minus(self, baseline: TracedConfig) -> Self {
        let sub = |a: Rw, b: Rw| Rw {
            reads: a.reads.saturating_sub(b.reads),
            writes: a.writes.saturating_sub(b.writes),
        };
        TracedConfig { cf8: sub(self.cf8, baseline.cf8), ecam: sub(self.ecam, baseline.ecam) }
    }
}

/// What the minimum depends on, counted from QEMU's `query-pci`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    /// Bus 0 plus one per bridge.
    pub buses: u64,
    pub multifunction_devices: u64,
    /// Type 0 functions (endpoints, the host bridge, chipset functions).
    pub devices: u64,
    pub bridges: u64,
    pub bars32: u64,
    pub bars64: u64,
    pub roms: u64,
    pub with_pin: u64,
}

impl Inventory {
    /// Counts the devices of a `query-pci` answer (its `return` array).
    pub fn from_query_pci(buses: &Value) -> Result<Self> {
        let mut inventory = Inventory::default();
        for bus in buses.as_array().ok_or("query-pci: not an array")? {
            inventory.buses += 1;
            inventory.add_bus(&bus["devices"])?;
        }
        Ok(inventory)
    }

    fn add_bus(&mut self, devices: &Value) -> Result<()> {
        let devices = devices.as_array().ok_or("query-pci: devices is not an array")?;
        let mut slots: Vec<(u64, u64)> = Vec::new();
        for device in devices {
            let slot = device["slot"].as_u64().ok_or("query-pci: no slot")?;
            match slots.iter_mut().find(|(s, _)| *s == slot) {
                Some((_, functions)) => *functions += 1,
                None => slots.push((slot, 1)),
            }
            if device["irq_pin"].as_u64().unwrap_or(0) != 0 {
                self.with_pin += 1;
            }
            for region in device["regions"].as_array().into_iter().flatten() {
                match (region["bar"].as_u64(), region["mem_type_64"].as_bool()) {
                    (Some(6), _) => self.roms += 1,
                    (_, Some(true)) => self.bars64 += 1,
                    _ => self.bars32 += 1,
                }
            }
            match device.get("pci_bridge") {
                Some(bridge) => {
                    self.bridges += 1;
                    self.buses += 1;
                    if let Some(below) = bridge.get("devices") {
                        self.add_bus(below)?;
                    }
                }
                None => self.devices += 1,
            }
        }
        // A slot with more than one function answered: its function 0 is multi-function.
        self.multifunction_devices += slots.iter().filter(|(_, n)| *n > 1).count() as u64;
        Ok(())
    }

    /// The minimum config accesses to enumerate and program these devices on `q35` or not
    /// (the formula of the module documentation).
    pub fn minimum(&self, q35: bool) -> Rw {
        let functions = self.devices + self.bridges;
        let sized = 7 * self.devices + 3 * self.bridges;
        let (chipset_reads, chipset_writes) = if q35 { (2, 11) } else { (1, 7) };
        Rw {
            reads: 32 * self.buses
                + 7 * self.multifunction_devices
                + 3 * functions
                + sized
                + chipset_reads,
            writes: 2 * functions
                + sized
                + self.bars32
                + 2 * self.bars64
                + self.roms
                + self.with_pin
                + 7 * self.bridges
                + chipset_writes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_parses() {
        let serial = "hvmrs INFO  pci: x\r\nhvmrs INFO  boot: accesses: cf8 R/W 178/126, ecam R/W \
                      6/28, com1 R/W 195/277 (3086 bytes), e9 R/W 0/42 (3062 bytes), pit R/W 6/8, \
                      fw_cfg R/W 42/20, port R/W 11/8, mmio R/W 53/159, hypercalls 172, time \
                      1842 us (1842299 TSC ticks, TSC 1000.128 MHz, measured against the PIT)\n";
        let counts = parse_summary(serial).unwrap();
        assert_eq!(counts.cf8, Rw { reads: 178, writes: 126 });
        assert_eq!(counts.ecam, Rw { reads: 6, writes: 28 });
        assert_eq!(counts.com1, Rw { reads: 195, writes: 277 });
        assert_eq!(counts.e9, Rw { reads: 0, writes: 42 });
        assert_eq!(counts.pit, Rw { reads: 6, writes: 8 });
        assert_eq!(counts.fw_cfg, Rw { reads: 42, writes: 20 });
        assert_eq!(counts.port, Rw { reads: 11, writes: 8 });
        assert_eq!(counts.mmio, Rw { reads: 53, writes: 159 });
        assert_eq!(counts.hypercalls, 172);
        assert_eq!(counts.time_us, 1842);
        assert_eq!(counts.config(), Rw { reads: 184, writes: 154 });
        assert_eq!(
            counts.other_kinds(),
            "com1 195/277, e9 0/42, pit 6/8, fw_cfg 42/20, port 11/8, mmio 53/159, hypercalls 172"
        );
        assert!(parse_summary("hvmrs INFO  boot: done").is_err());
        assert!(parse_summary("hvmrs INFO  boot: accesses: cf8 R/W 1/2, time 3 us").is_err());
    }

    #[test]
    fn trace_lines_are_counted_per_mechanism() {
        let trace = "\
memory_region_ops_write cpu 0 mr 0x1 addr 0xcf8 value 0x80000000 size 4 name 'pci-conf-idx'
memory_region_ops_read cpu 0 mr 0x2 addr 0xcfc value 0x8086 size 2 name 'pci-conf-data'
memory_region_ops_write cpu 0 mr 0x2 addr 0xcfc value 0x1 size 2 name 'pci-conf-data'
memory_region_ops_read cpu 0 mr 0x3 addr 0x0 value 0x29c08086 size 4 name 'pcie-mmcfg-mmio'
pci_cfg_read mch 00:00.0 @0x0 -> 0x8086
memory_region_ops_read cpu 0 mr 0x4 addr 0x61 value 0x20 size 1 name 'pcspk'
";
        let counts = TracedConfig::from_trace(trace);
        assert_eq!(counts.cf8, Rw { reads: 1, writes: 1 });
        assert_eq!(counts.ecam, Rw { reads: 1, writes: 0 });
        let seabios = TracedConfig { cf8: Rw { reads: 1, writes: 0 }, ecam: Rw::default() };
        assert_eq!(counts.minus(seabios).cf8, Rw { reads: 0, writes: 1 });
    }

    #[test]
    fn the_minimum_follows_the_formula() {
        // Bus 0: host bridge, a two-function device (one 64-bit BAR + ROM; one I/O BAR with a
        // pin), a bridge; behind it one device with a 32-bit BAR and a pin.
        let query = serde_json::json!([{ "bus": 0, "devices": [
            { "slot": 0, "irq_pin": 0, "regions": [] },
            { "slot": 3, "irq_pin": 0, "regions": [
                { "bar": 0, "type": "memory", "mem_type_64": true },
                { "bar": 6, "type": "memory", "mem_type_64": false } ] },
            { "slot": 3, "irq_pin": 1, "regions": [ { "bar": 0, "type": "io" } ] },
            { "slot": 4, "irq_pin": 0, "regions": [],
              "pci_bridge": { "devices": [
                { "slot": 0, "irq_pin": 1, "regions": [
                    { "bar": 1, "type": "memory", "mem_type_64": false } ] } ] } }
        ] }]);
        let inventory = Inventory::from_query_pci(&query).unwrap();
        assert_eq!(
            inventory,
            Inventory {
                buses: 2,
                multifunction_devices: 1,
                devices: 4,
                bridges: 1,
                bars32: 2,
                bars64: 1,
                roms: 1,
                with_pin: 2,
            }
        );
        let sized = 7 * 4 + 3;
        assert_eq!(inventory.minimum(false).reads, 64 + 7 + 3 * 5 + sized + 1);
        assert_eq!(inventory.minimum(false).writes, 2 * 5 + sized + 2 + 2 + 1 + 2 + 7 + 7);
        let q35 = inventory.minimum(true);
        assert_eq!(q35.total(), inventory.minimum(false).total() + 1 + 4);
    }
}
