//! QEMU started with `-kernel` (CI and demos): machine facts from fw_cfg, vCPUs started
//! with INIT/SIPI, the BIOS area behind the chipset's PAM registers, and the hand-off to the
//! payload QEMU passes in fw_cfg.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;

use log::info;

use super::{Board, MachineTopology, NumaLayout, SmbiosSource, madt_list};
use crate::acpi::ssdt::{CpuHotplug, SleepStates};
use crate::arch::PortIo;
use crate::boot::tables::{self, TableRequests};
use crate::boot::{Fatal, Hardware, ImageLayout};
use crate::bootinfo::{BootInfo, MemoryRegion};
use crate::chipset::pm::{BiosAreaGate, PmBlocks};
use crate::chipset::{Chipset, IntxWiring};
use crate::cpu::{ApStartup, CpuList};
use crate::e820::E820Map;
use crate::pci::Cf8;
use crate::platform::fw_cfg::{DmaAddressing, File, FileReader, FwCfg};
use crate::platform::xen::memmap::HoleLimit;
use crate::smbios::BiosStrings;
use libacpi::tables::MadtProcessor;

/// The QEMU board. Every fact is read from fw_cfg when the sequence asks for it.
pub(crate) struct Qemu<H: Hardware> {
    /// The machine's ports, for fw_cfg, the chipset and the hand-off.
    ports: H::Ports,
    /// How fw_cfg's DMA reaches the firmware's buffers.
    dma: H::Dma,
    /// QEMU's SMBIOS structure table, found by [`Board::smbios`], read by
    /// [`Board::read_smbios_table`].
    smbios_table: Option<File>,
}

impl<H: Hardware> Qemu<H> {
    /// Starts the board: the console follows the start info's command line.
    pub fn start(machine: &H, cmdline: &str) -> Result<Self, Fatal> {
        super::super::settle_console(cmdline);
        Ok(Qemu { ports: machine.ports(), dma: machine.fw_cfg_dma(), smbios_table: None })
    }

    /// fw_cfg, when the machine has it.
    fn fw_cfg(&self) -> Option<FwCfg<H::Ports, H::Dma>> {
        FwCfg::detect(self.ports.clone(), self.dma.clone())
    }
}

impl<H: Hardware> Board<H> for Qemu<H> {
    fn low_hole(&self, boot: &BootInfo) -> Result<Range<u64>, Fatal> {
        Ok(crate::layout::low_hole(&boot.memory_map)?)
    }

    fn intx_wiring(&self, chipset: Chipset) -> IntxWiring {
        IntxWiring::new(chipset, false)
    }

    fn extra_pci_roots(&mut self) -> Result<u8, Fatal> {
        extra_pci_roots(self.fw_cfg())
    }

    fn topology(&mut self, extra_roots: u8) -> Result<MachineTopology, Fatal> {
        topology(self.fw_cfg(), extra_roots > 0)
    }

    fn fit_pci_hole(
        &mut self,
        _boot: &mut BootInfo,
        hole: Range<u64>,
        _fits: &mut dyn FnMut(&Range<u64>, &[MemoryRegion]) -> bool,
    ) -> Result<(Range<u64>, HoleLimit), Fatal> {
        Ok((hole, HoleLimit::MemoryMap))
    }

    fn expected_cpus(&mut self) -> Result<u32, Fatal> {
        expected_cpus(self.fw_cfg())
    }

    fn ap_startup(&mut self) -> ApStartup<'_> {
        ApStartup::InitSipi
    }

    fn acpi_enabled(&self) -> bool {
        true
    }

    fn acpi_pm_blocks(&mut self, chipset: PmBlocks) -> Result<PmBlocks, Fatal> {
        Ok(chipset)
    }

    fn madt_processors(&self, cpus: &CpuList) -> Vec<MadtProcessor> {
        madt_list(cpus, false, |_| true)
    }

    fn cpu_hotplug(&self, _cpus: &[MadtProcessor]) -> Option<CpuHotplug> {
        None
    }

    fn smbios(&mut self, chipset: Chipset) -> SmbiosSource {
        let (source, table) = smbios(self.fw_cfg(), chipset);
        self.smbios_table = table;
        source
    }

    fn read_smbios_table(&mut self, into: &mut [u8]) -> bool {
        let (Some(file), Some(mut fw_cfg)) = (self.smbios_table.take(), self.fw_cfg()) else {
            return false;
        };
        fw_cfg
            .read_file(&file, into)
            .inspect_err(|e| {
                let name = &file.name;
                log::warn!("SMBIOS: fw_cfg {name}: {e}; the firmware's own structures instead")
            })
            .is_ok()
    }

    fn sleep_states(&mut self) -> SleepStates {
        sleep_states(self.fw_cfg())
    }

    fn bios_area(&self, chipset: Chipset) -> BiosAreaGate {
        BiosAreaGate::Pam(chipset)
    }

    fn generation_id(&self) -> Option<[u64; 2]> {
        None
    }

    fn table_requests(&self) -> TableRequests {
        TableRequests::default()
    }

    fn hand_off(
        self: Box<Self>,
        machine: &H,
        chipset: Chipset,
        boot: &BootInfo,
        e820: &E820Map,
        layout: ImageLayout,
        installed: &tables::Installed,
    ) -> Result<(), Fatal> {
        let Some(fw_cfg) = self.fw_cfg() else { return Ok(()) };
        hand_off_to_payload(machine, fw_cfg, chipset, boot, e820, layout, installed)
    }
}

/// How many vCPUs the platform says it has: QEMU's fw_cfg `FW_CFG_NB_CPUS`.
fn expected_cpus<P: PortIo, A: DmaAddressing>(fw_cfg: Option<FwCfg<P, A>>) -> Result<u32, Fatal> {
    let mut fw_cfg = fw_cfg.ok_or(Fatal::CpuCountUnknown)?;
    Ok(u32::from(fw_cfg.nb_cpus()))
}

/// SMBIOS under QEMU: the structures QEMU builds for the machine (fw_cfg
/// `etc/smbios/smbios-tables`, with whatever `-smbios type=N,...` set), as QEMU's own
/// firmware takes them. Without them (QEMU's legacy SMBIOS interface), QEMU's identity for
/// the firmware's own structures: manufacturer QEMU, the machine's description, `-uuid`.
/// Also the structures' file, which [`Board::read_smbios_table`] reads.
fn smbios<P: PortIo, A: DmaAddressing>(
    fw_cfg: Option<FwCfg<P, A>>,
    chipset: Chipset,
) -> (SmbiosSource, Option<File>) {
    use crate::smbios::qemu::TABLES_FILE;
    /// FW_CFG_UUID.
    const UUID_ITEM: u16 = 0x02;
    let identity = BiosStrings {
        system_manufacturer: Some("QEMU".into()),
        system_product_name: Some(chipset.qemu_description().into()),
        enclosure_manufacturer: Some("QEMU".into()),
        ..BiosStrings::default()
    };
    let Some(mut fw_cfg) = fw_cfg else {
        return (SmbiosSource { strings: identity, uuid: None, qemu_table_len: None }, None);
    };
    let mut uuid = [0u8; 16];
    fw_cfg.read_item(UUID_ITEM, &mut uuid);
    let uuid = (uuid != [0; 16]).then_some(uuid);
    let file = fw_cfg.find_file(TABLES_FILE).unwrap_or_else(|e| {
        log::warn!("SMBIOS: fw_cfg {TABLES_FILE}: {e}; the firmware's own structures instead");
        None
    });
    // An empty table is none: QEMU gives the file only with structures in it.
    let file = file.filter(|file| file.size > 0);
    if file.is_none() {
        info!(
            "SMBIOS: QEMU gives no {TABLES_FILE}; the firmware's own structures, QEMU's identity"
        );
    }
    let qemu_table_len = file.as_ref().map(|file| file.size as usize);
    (SmbiosSource { strings: identity, uuid, qemu_table_len }, file)
}

/// QEMU's NUMA topology (see [`crate::acpi::qemu_numa`]): the legacy fw_cfg item, RAM as
/// fw_cfg `etc/e820` lays it out, distances and expanders' nodes from QEMU's own tables.
fn topology<P: PortIo, A: DmaAddressing>(
    fw_cfg: Option<FwCfg<P, A>>,
    expanders: bool,
) -> Result<MachineTopology, Fatal> {
    use crate::acpi::qemu_numa::{self, QemuRam};
    use crate::addr::FOUR_GIB;
    const NUMA_ITEM: u16 = 0x0D;
    const MAX_CPUS_ITEM: u16 = 0x0F;
    const E820_ENTRY: usize = 20;
    const E820_RAM: u32 = 1;
    let Some(mut fw_cfg) = fw_cfg else {
        return Ok(MachineTopology::default());
    };
    // QEMU's DSDT names the expanders' nodes; with many vCPUs it is large (28 KB with
    // 255), so it is read only when there are expanders.
    let wanted = [expanders.then_some(b"DSDT"), Some(b"SLIT")];
    let [dsdt, slit] = match fw_cfg.find_file("etc/acpi/tables")? {
        Some(file) => {
            qemu_numa::tables_from_blob(file.size.into(), wanted, &mut fw_cfg.open(&file))?
        }
        None => [None, None],
    };
    let mut e820 = Vec::new();
    if let Some(file) = fw_cfg.find_file("etc/e820")? {
        e820.resize(file.size as usize, 0);
        fw_cfg.read_file(&file, &mut e820)?;
    }
    let expander_nodes = dsdt.as_deref().map(qemu_numa::expander_nodes).unwrap_or_default();
    let mut first = [0u8; 8];
    fw_cfg.read_item(NUMA_ITEM, &mut first);
    let nodes = qemu_numa::node_count(first);
    if nodes == 0 {
        return Ok(MachineTopology { numa: None, expander_nodes });
    }
    let mut max_cpus = [0u8; 2];
    fw_cfg.read_item(MAX_CPUS_ITEM, &mut max_cpus);
    let max_cpus = u16::from_le_bytes(max_cpus);
    let len = 8 * (1 + usize::from(max_cpus) + nodes.min(256) as usize);
    let mut item = alloc::vec![0u8; len];
    fw_cfg.read_item(NUMA_ITEM, &mut item);
    let mut ram = QemuRam { below_4g: 0, above_4g_start: FOUR_GIB, above_4g: 0 };
    for entry in e820.chunks_exact(E820_ENTRY) {
        let word = |at: usize| u64::from_le_bytes(entry[at..at + 8].try_into().expect("8"));
        let (start, length) = (word(0), word(8));
        if u32::from_le_bytes(entry[16..20].try_into().expect("4")) != E820_RAM {
            continue;
        }
        if start == 0 {
            ram.below_4g = length;
        } else if start >= FOUR_GIB {
            (ram.above_4g_start, ram.above_4g) = (start, length);
        }
    }
    let slit = slit.as_deref();
    let topology = qemu_numa::topology(&item, max_cpus, ram, slit)?;
    log::info!(
        "NUMA: {} node(s) from QEMU, distances {}",
        topology.nodes,
        if slit.is_some() { "from QEMU's SLIT" } else { "10 local, 20 remote" }
    );
    // QEMU's item gives each APIC ID's node directly.
    let numa = NumaLayout { topology, vcpu_of: |cpu| cpu.apic_id };
    Ok(MachineTopology { numa: Some(numa), expander_nodes })
}

/// How many extra PCI root buses QEMU's expander bridges open (fw_cfg
/// `etc/extra-pci-roots`); 0 without fw_cfg.
fn extra_pci_roots<P: PortIo, A: DmaAddressing>(fw_cfg: Option<FwCfg<P, A>>) -> Result<u8, Fatal> {
    let Some(mut fw_cfg) = fw_cfg else {
        return Ok(0);
    };
    fw_cfg.extra_pci_roots().map_err(Fatal::from)
}

/// The sleep states to advertise under QEMU besides S5: S4 as fw_cfg `etc/system-states`
/// enables it. Never S3: QEMU wakes through the SeaBIOS that started us, which looks for
/// the waking vector in its own FACS, not in ours.
fn sleep_states<P: PortIo, A: DmaAddressing>(fw_cfg: Option<FwCfg<P, A>>) -> SleepStates {
    let Some(mut fw_cfg) = fw_cfg else {
        return SleepStates::NONE;
    };
    match fw_cfg.sleep_states() {
        Ok(Some(states)) => SleepStates { s3: None, s4: states.s4 },
        Ok(None) => SleepStates::NONE,
        Err(e) => {
            log::warn!(
                "fw_cfg {}: {e}; advertising no S4",
                crate::platform::fw_cfg::SYSTEM_STATES_FILE
            );
            SleepStates::NONE
        }
    }
}

/// Hands the machine to the payload QEMU passed in fw_cfg (a Linux kernel, or a SeaBIOS or
/// OVMF image the Xen way). Returns only when there is none.
fn hand_off_to_payload<H: Hardware>(
    machine: &H,
    mut fw_cfg: FwCfg<H::Ports, H::Dma>,
    chipset: Chipset,
    boot: &BootInfo,
    e820: &E820Map,
    layout: ImageLayout,
    tables: &tables::Installed,
) -> Result<(), Fatal> {
    use crate::handoff::{BiosPayload, linux::LinuxPayload};

    let mut memory = machine.load_window()?;
    let mut in_use = alloc::vec![layout.image, boot.start_info];
    in_use.extend(boot.modules.iter().map(|m| m.range));
    let mut cfg = Cf8::new(machine.ports());
    let jump = if let Some(linux) = LinuxPayload::load(&mut fw_cfg, e820, &in_use, &mut memory)? {
        // A BIOS payload owns the BIOS area and its own reboot; a kernel does neither.
        crate::handoff::reset::install(chipset, &mut cfg, &mut memory)?;
        linux.boot(e820, tables.rsdp(), &mut memory, machine.ports())?
    } else if let Some(bios) =
        BiosPayload::load(&mut fw_cfg, &mut cfg, BiosAreaGate::Pam(chipset), &mut memory)?
    {
        bios.boot(e820, &tables.bios_tables(), &mut memory, machine.ports())?
    } else {
        return Ok(());
    };
    drop(memory);
    machine.jump(jump);
    Ok(())
}

impl<P: PortIo, A: DmaAddressing> crate::acpi::qemu_numa::TableBlob for FileReader<'_, P, A> {
    type Error = Fatal;
    fn read(&mut self, buf: &mut [u8]) -> Result<(), Fatal> {
        Ok(self.read_exact(buf)?)
    }
    fn skip(&mut self, len: usize) -> Result<(), Fatal> {
        Ok(FileReader::skip(self, len)?)
    }
}
