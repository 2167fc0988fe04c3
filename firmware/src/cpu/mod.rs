//! Processors: discovery, bring-up, MTRRs, local and I/O APIC state (in progress).
