//! Workloads a Linux guest runs to prove a device works, shared by the tests under QEMU and
//! inside a Xen guest, and their checks.

use std::collections::BTreeMap;

use super::checks::Problems;

/// A device whose driver needs its interrupt (the guest boots with `pci=nomsi`).
pub struct UnderTest {
    /// Where Linux finds it.
    pub bdf: &'static str,
    pub what: &'static str,
    /// For a 16550: the number of the host file its output goes to.
    pub uart: Option<u8>,
}

pub const fn nvme(bdf: &'static str, what: &'static str) -> UnderTest {
    UnderTest { bdf, what, uart: None }
}

pub const fn uart(bdf: &'static str, what: &'static str, n: u8) -> UnderTest {
    UnderTest { bdf, what, uart: Some(n) }
}

/// A busybox script: for every device of `bdfs`, its IRQ, that IRQ's count in
/// /proc/interrupts before and after the device's workload, and the workload's outcome
/// (`irq-dev` lines); then what the kernel said about timeouts and stuck interrupts
/// (`irq-dmesg` lines). NVMe: direct reads from its first namespace. 16550: a line written
/// to the port, which the host then finds in the port's output.
pub fn irq_workload(bdfs: &[&str]) -> String {
    format!(
        r#"count() {{ awk -v irq="$1:" '$1 == irq {{ n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print n }}' /proc/interrupts; }}
for bdf in {}; do
    dev=/sys/bus/pci/devices/0000:$bdf
    [ -e $dev ] || {{ echo "irq-dev $bdf missing"; continue; }}
    irq=$(cat $dev/irq)
    before=$(count $irq)
    case $(cat $dev/class) in
    0x010802)
        ns=/dev/$(ls $dev/nvme)n1
        if timeout 60 dd if=$ns of=/dev/null bs=64k count=32 iflag=direct 2>/dev/null; then
            result=ok; else result=failed; fi ;;
    0x070002)
        tty=/dev/$(ls $dev/tty)
        if timeout 30 sh -c "stty -F $tty 115200 raw && echo 'hvmrs uart $bdf' > $tty"; then
            result=ok; else result=failed; fi ;;
    *) result=unknown-class ;;
    esac
    echo "irq-dev $bdf irq $irq before ${{before:-none}} after $(count $irq) $result"
done
dmesg | grep -iE 'timeout|nobody cared|irq [0-9]+: ' | grep -iv 'command line' | sed 's/^/irq-dmesg: /'
"#,
        bdfs.join(" ")
    )
}

/// One `irq-dev` line.
#[derive(Debug)]
struct IrqDevice {
    irq: String,
    before: u64,
    after: u64,
    result: String,
}

/// Checks what [`irq_workload`] printed into `report` for `devices`: each did its I/O, its
/// IRQ counted up, a 16550's line reached the host (`uart_output(n)`: what the host got
/// from port n), and the kernel had no timeout or stuck interrupt to report.
pub fn check_irq_workload(
    problems: &mut Problems,
    devices: &[UnderTest],
    report: &str,
    uart_output: impl Fn(u8) -> String,
) {
    let mut found = BTreeMap::new();
    let mut dmesg = Vec::new();
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("irq-dev ") {
            let words: Vec<&str> = rest.split_whitespace().collect();
            let device = match words.as_slice() {
                [_, "irq", irq, "before", before, "after", after, result] => Some(IrqDevice {
                    irq: irq.to_string(),
                    before: before.parse().unwrap_or(0),
                    after: after.parse().unwrap_or(0),
                    result: result.to_string(),
                }),
                _ => None,
            };
            found.insert(words[0].to_string(), device);
        } else if let Some(rest) = line.strip_prefix("irq-dmesg: ") {
            dmesg.push(rest);
        }
    }
    for UnderTest { bdf, what, uart } in devices {
        let Some(Some(device)) = found.get(*bdf) else {
            problems.check(false, || format!("{what} ({bdf}): missing from Linux's report"));
            continue;
        };
        problems.check(device.result == "ok", || {
            format!("{what} ({bdf}): its workload {} (IRQ {})", device.result, device.irq)
        });
        problems.check(device.after > device.before, || {
            format!(
                "{what} ({bdf}): IRQ {} did not count up ({} before, {} after)",
                device.irq, device.before, device.after
            )
        });
        if let Some(n) = uart {
            let sent = uart_output(*n);
            problems.check(sent.contains(&format!("hvmrs uart {bdf}")), || {
                format!("{what} ({bdf}): the line written never reached the host ({sent:?})")
            });
        }
    }
    problems.check(dmesg.is_empty(), || {
        format!("the kernel complained:\n      {}", dmesg.join("\n      "))
    });
}

/// Whether Linux ran in the interrupt model asked for: `noapic` leaves the PCI interrupts
/// on the 8259s (the boot log is in `dmesg`).
pub fn interrupt_model_ok<'a>(
    mut dmesg: impl Iterator<Item = &'a str> + Clone,
    apic: bool,
) -> bool {
    let pic = dmesg.clone().any(|l| l.contains("ACPI: Using PIC for interrupt routing"));
    let ioapic = dmesg.any(|l| l.contains("ACPI: Using IOAPIC for interrupt routing"));
    if apic { ioapic && !pic } else { pic && !ioapic }
}
