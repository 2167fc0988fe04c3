//! The E820 memory map (in progress).
