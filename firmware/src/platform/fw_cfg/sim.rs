//! A simulated fw_cfg device for host tests (here and in the hand-off room).

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::*;

/// A simulated fw_cfg device: the data port streams the selected item, the DMA register
/// executes the descriptor it is pointed at (a host address, see [`HostAddressing`]).
#[derive(Default)]
pub(crate) struct SimFwCfg {
    pub items: BTreeMap<u16, Vec<u8>>,
    selected: u16,
    offset: usize,
    dma: bool,
    dma_high: u32,
    /// Counters, to tell which path a read took.
    pub data_reads: usize,
    pub dma_transfers: usize,
    /// Make every DMA transfer fail.
    pub fail_dma: bool,
}

/// First key of the named files, as QEMU numbers them.
const FIRST_FILE_KEY: u16 = 0x20;

impl SimFwCfg {
    pub fn new(dma: bool) -> Self {
        let mut sim = SimFwCfg { dma, ..Default::default() };
        sim.items.insert(key::SIGNATURE, b"QEMU".to_vec());
        let features = FEATURE_TRADITIONAL | if dma { FEATURE_DMA } else { 0 };
        sim.items.insert(key::ID, features.to_le_bytes().to_vec());
        sim.items.insert(key::NB_CPUS, 3u16.to_le_bytes().to_vec());
        sim.items.insert(key::FILE_DIR, 0u32.to_be_bytes().to_vec());
        sim
    }

    /// Adds a named file and its directory entry.
    pub fn add_file(&mut self, name: &str, data: &[u8]) {
        let dir = self.items.get_mut(&key::FILE_DIR).unwrap();
        let count = u32::from_be_bytes(dir[..4].try_into().unwrap());
        let select = FIRST_FILE_KEY + count as u16;
        dir[..4].copy_from_slice(&(count + 1).to_be_bytes());
        dir.extend_from_slice(&(data.len() as u32).to_be_bytes());
        dir.extend_from_slice(&select.to_be_bytes());
        dir.extend_from_slice(&[0, 0]);
        let mut raw_name = [0u8; FILE_NAME_LEN];
        raw_name[..name.len()].copy_from_slice(name.as_bytes());
        dir.extend_from_slice(&raw_name);
        self.items.insert(select, data.to_vec());
    }

    fn next_byte(&mut self) -> u8 {
        let byte = self.items.get(&self.selected).and_then(|item| item.get(self.offset));
        self.offset += 1;
        byte.copied().unwrap_or(0)
    }

    fn run_dma(&mut self, descriptor: u64) {
        self.dma_transfers += 1;
        let access = descriptor as usize as *mut DmaAccess;
        // SAFETY: the driver hands the device the address of a live, aligned descriptor
        // and keeps it alive until the transfer completes (within this port write).
        let (ctl, length, address) = unsafe {
            (
                u32::from_be((*access).control),
                u32::from_be((*access).length),
                u64::from_be((*access).address),
            )
        };
        if ctl & control::SELECT != 0 {
            self.selected = (ctl >> 16) as u16;
            self.offset = 0;
        }
        let status = if self.fail_dma {
            control::ERROR
        } else if ctl & control::SKIP != 0 {
            assert_eq!(ctl & control::READ, 0, "a read or a skip, not both");
            self.offset += length as usize;
            0
        } else {
            assert_eq!(ctl & control::READ, control::READ, "only reads and skips are simulated");
            for i in 0..length as usize {
                let byte = self.next_byte();
                // SAFETY: the driver gave the address of a live buffer of `length` bytes.
                unsafe { *((address as usize + i) as *mut u8) = byte };
            }
            0
        };
        // SAFETY: as above.
        unsafe { (*access).control = status.to_be() };
    }
}

impl PortIo for SimFwCfg {
    fn read8(&mut self, port: u16) -> u8 {
        assert_eq!(port, DATA_PORT);
        self.data_reads += 1;
        self.next_byte()
    }
    fn read16(&mut self, port: u16) -> u16 {
        panic!("16-bit read of port {port:#x}")
    }
    fn read32(&mut self, port: u16) -> u32 {
        panic!("32-bit read of port {port:#x}")
    }
    fn write8(&mut self, port: u16, value: u8) {
        panic!("8-bit write of {value:#x} to port {port:#x}")
    }
    fn write16(&mut self, port: u16, value: u16) {
        assert_eq!(port, SELECTOR_PORT);
        self.selected = value;
        self.offset = 0;
    }
    fn write32(&mut self, port: u16, value: u32) {
        assert!(self.dma, "DMA register written on a device without DMA");
        // The register is big-endian: the driver writes byte-swapped values.
        match port {
            DMA_PORT_HIGH => self.dma_high = u32::from_be(value),
            DMA_PORT_LOW => {
                let descriptor = (u64::from(self.dma_high) << 32) | u64::from(u32::from_be(value));
                self.run_dma(descriptor);
            }
            _ => panic!("32-bit write to port {port:#x}"),
        }
    }
}

/// Host tests: every pointer is reachable, the device gets host addresses.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HostAddressing;

impl DmaAddressing for HostAddressing {
    fn device_address(&self, ptr: *const u8) -> Option<u64> {
        Some(ptr.expose_provenance() as u64)
    }
}
