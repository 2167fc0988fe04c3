use alloc::vec;
use alloc::vec::Vec;

use super::sim::{HostAddressing, SimFwCfg};
use super::*;
use crate::acpi::ssdt::SleepStates;

/// Pretends every buffer is out of the device's reach.
struct NothingReachable;

impl DmaAddressing for NothingReachable {
    fn device_address(&self, _: *const u8) -> Option<u64> {
        None
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn device(dma: bool) -> FwCfg<SimFwCfg, HostAddressing> {
    let mut sim = SimFwCfg::new(dma);
    sim.add_file("etc/e820", &[1, 2, 3]);
    sim.add_file("opt/hvmloader/kernel", &pattern(100_000));
    sim.add_file("opt/hvmloader/cmdline", b"console=ttyS0");
    FwCfg::detect(sim, HostAddressing).expect("device detected")
}

#[test]
fn absent_device_is_not_detected() {
    let mut sim = SimFwCfg::new(true);
    sim.items.insert(key::SIGNATURE, b"XEN!".to_vec());
    assert!(FwCfg::detect(sim, HostAddressing).is_none());
    // Nothing decodes the ports: reads float to all-ones on real hardware, zero here.
    let mut sim = SimFwCfg::new(true);
    sim.items.clear();
    assert!(FwCfg::detect(sim, HostAddressing).is_none());
}

#[test]
fn dma_feature_is_detected() {
    assert!(device(true).has_dma());
    assert!(!device(false).has_dma());
}

#[test]
fn nb_cpus_is_little_endian() {
    assert_eq!(device(false).nb_cpus(), 3);
}

#[test]
fn directory_lists_files() {
    for dma in [false, true] {
        let files = device(dma).files().unwrap();
        let names: Vec<&str> = files.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["etc/e820", "opt/hvmloader/kernel", "opt/hvmloader/cmdline"]);
        assert_eq!(
            files[1],
            File { select: 0x21, size: 100_000, name: "opt/hvmloader/kernel".into() }
        );
    }
}

#[test]
fn find_file_matches_whole_names_only() {
    let mut fw_cfg = device(true);
    assert_eq!(fw_cfg.find_file("opt/hvmloader/cmdline").unwrap().unwrap().size, 13);
    assert_eq!(fw_cfg.find_file("opt/hvmloader/cmd").unwrap(), None);
    assert_eq!(fw_cfg.find_file("opt/hvmloader/cmdline2").unwrap(), None);
    assert_eq!(fw_cfg.find_file("").unwrap(), None);
}

#[test]
fn file_read_by_dma_takes_one_transfer() {
    let mut fw_cfg = device(true);
    let file = fw_cfg.find_file("opt/hvmloader/kernel").unwrap().unwrap();
    let before = (fw_cfg.ports.data_reads, fw_cfg.ports.dma_transfers);
    let mut buf = vec![0u8; file.size as usize];
    fw_cfg.read_file(&file, &mut buf).unwrap();
    assert_eq!(buf, pattern(100_000));
    assert_eq!((fw_cfg.ports.data_reads, fw_cfg.ports.dma_transfers), (before.0, before.1 + 1));
}

#[test]
fn file_read_without_dma_streams_the_data_port() {
    let mut fw_cfg = device(false);
    let file = fw_cfg.find_file("opt/hvmloader/kernel").unwrap().unwrap();
    let mut buf = vec![0u8; file.size as usize];
    fw_cfg.read_file(&file, &mut buf).unwrap();
    assert_eq!(buf, pattern(100_000));
    assert_eq!(fw_cfg.ports.dma_transfers, 0);
}

#[test]
fn unreachable_buffers_fall_back_to_the_data_port() {
    let mut sim = SimFwCfg::new(true);
    sim.add_file("opt/hvmloader/cmdline", b"quiet");
    let mut fw_cfg = FwCfg::detect(sim, NothingReachable).unwrap();
    assert!(fw_cfg.has_dma());
    let file = fw_cfg.find_file("opt/hvmloader/cmdline").unwrap().unwrap();
    let mut buf = [0u8; 5];
    fw_cfg.read_file(&file, &mut buf).unwrap();
    assert_eq!(&buf, b"quiet");
    assert_eq!(fw_cfg.ports.dma_transfers, 0);
}

#[test]
fn reads_in_parts_continue_where_the_last_stopped() {
    for dma in [false, true] {
        let mut fw_cfg = device(dma);
        let file = fw_cfg.find_file("opt/hvmloader/kernel").unwrap().unwrap();
        let mut reader = fw_cfg.open(&file);
        let (mut head, mut tail) = (vec![0u8; 1024], vec![0u8; 100_000 - 1024]);
        reader.read_exact(&mut head).unwrap();
        assert_eq!(reader.remaining(), 100_000 - 1024);
        reader.read_exact(&mut tail).unwrap();
        assert_eq!(reader.remaining(), 0);
        head.extend_from_slice(&tail);
        assert_eq!(head, pattern(100_000), "dma {dma}");
    }
}

#[test]
fn a_skip_is_one_dma_operation_or_reads_through_the_data_port() {
    for dma in [false, true] {
        let mut fw_cfg = device(dma);
        let file = fw_cfg.find_file("opt/hvmloader/kernel").unwrap().unwrap();
        let before = (fw_cfg.ports.data_reads, fw_cfg.ports.dma_transfers);
        let mut reader = fw_cfg.open(&file);
        // A skip first selects the file, as a read would.
        reader.skip(1000).unwrap();
        let mut part = [0u8; 24];
        reader.read_exact(&mut part).unwrap();
        assert_eq!(part[..], pattern(100_000)[1000..1024], "dma {dma}");
        reader.skip(98_000).unwrap();
        assert_eq!(reader.remaining(), 976);
        assert_eq!(
            reader.skip(977).map_err(|e| *e),
            Err(FwCfgError::ReadPastEnd { select: file.select, wanted: 977, left: 976 })
        );
        let counts = (fw_cfg.ports.data_reads - before.0, fw_cfg.ports.dma_transfers - before.1);
        assert_eq!(counts, if dma { (0, 3) } else { (99_024, 0) }, "dma {dma}");
    }
}

#[test]
fn reading_past_the_end_is_an_error() {
    let mut fw_cfg = device(true);
    let file = fw_cfg.find_file("opt/hvmloader/cmdline").unwrap().unwrap();
    let mut reader = fw_cfg.open(&file);
    let mut buf = [0u8; 14];
    assert_eq!(
        reader.read_exact(&mut buf).map_err(|e| *e),
        Err(FwCfgError::ReadPastEnd { select: file.select, wanted: 14, left: 13 })
    );
    let err = fw_cfg.read_file(&file, &mut buf).unwrap_err();
    assert_eq!(err.to_string(), "fw_cfg: file opt/hvmloader/cmdline has 13 bytes, the buffer 14");
}

#[test]
fn failed_dma_is_reported() {
    let mut fw_cfg = device(true);
    let file = fw_cfg.find_file("opt/hvmloader/cmdline").unwrap().unwrap();
    fw_cfg.ports.fail_dma = true;
    let mut buf = [0u8; 13];
    assert_eq!(
        fw_cfg.read_file(&file, &mut buf).map_err(|e| *e),
        Err(FwCfgError::DmaFailed { select: file.select, len: 13 })
    );
}

#[test]
fn oversized_directory_is_rejected() {
    let mut sim = SimFwCfg::new(false);
    sim.items.insert(key::FILE_DIR, (MAX_FILES + 1).to_be_bytes().to_vec());
    let mut fw_cfg = FwCfg::detect(sim, HostAddressing).unwrap();
    assert_eq!(fw_cfg.files().map_err(|e| *e), Err(FwCfgError::TooManyFiles(MAX_FILES + 1)));
}

#[test]
fn names_fill_the_whole_field_without_nul() {
    let mut sim = SimFwCfg::new(false);
    let long = "x".repeat(FILE_NAME_LEN);
    sim.add_file(&long, b"1");
    let mut fw_cfg = FwCfg::detect(sim, HostAddressing).unwrap();
    assert_eq!(fw_cfg.files().unwrap()[0].name, long);
}

#[test]
fn identity_addressing_reaches_only_the_first_4_gib() {
    let low = core::ptr::without_provenance::<u8>(0xFFFF_F000);
    let high = core::ptr::without_provenance::<u8>(0x1_0000_0000);
    assert_eq!(IdentityMapped.device_address(low), Some(0xFFFF_F000));
    assert_eq!(IdentityMapped.device_address(high), None);
}

#[test]
fn system_states_give_the_enabled_slp_typ_values() {
    // QEMU's defaults: S3 (1) and S4 (s4_val 2) enabled.
    let states = parse_system_states(&[0x80, 0, 0, 0x81, 0x82, 0x80]);
    assert_eq!(states, SleepStates { s3: Some(1), s4: Some(2) });
    // disable_s3=1, disable_s4=1: the values are there, the enable bits are not.
    assert_eq!(parse_system_states(&[0x80, 0, 0, 0x01, 0x02, 0x80]), SleepStates::NONE);
    // Only S4, with another s4_val.
    let states = parse_system_states(&[0x80, 0, 0, 0x01, 0x85, 0x80]);
    assert_eq!(states, SleepStates { s3: None, s4: Some(5) });
    // An enabled value PM1_CNT.SLP_TYP cannot hold.
    let states = parse_system_states(&[0x80, 0, 0, 0x81, 0xC0, 0x80]);
    assert_eq!(states, SleepStates { s3: Some(1), s4: None });
}

#[test]
fn sleep_states_are_read_from_fw_cfg() {
    for dma in [false, true] {
        let mut sim = SimFwCfg::new(dma);
        sim.add_file("etc/system-states", &[0x80, 0, 0, 0x01, 0x82, 0x80]);
        let mut fw_cfg = FwCfg::detect(sim, HostAddressing).unwrap();
        assert_eq!(fw_cfg.sleep_states(), Ok(Some(SleepStates { s3: None, s4: Some(2) })));
    }
    // No file (not QEMU's PM device): nothing known.
    assert_eq!(device(true).sleep_states(), Ok(None));
    // A file of another size is not the format this parser knows.
    let mut sim = SimFwCfg::new(true);
    sim.add_file("etc/system-states", &[0x80, 0, 0, 0x81, 0x82]);
    let mut fw_cfg = FwCfg::detect(sim, HostAddressing).unwrap();
    assert!(matches!(
        fw_cfg.sleep_states().map_err(|e| *e),
        Err(FwCfgError::SizeMismatch { size: 5, .. })
    ));
}
