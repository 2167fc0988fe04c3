//! Hand-off to whatever runs after the firmware (in progress).
