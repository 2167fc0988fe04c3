//! QEMU fw_cfg interface (in progress).
