//! Runtime SSDT: objects that depend on what the firmware found (in progress).
