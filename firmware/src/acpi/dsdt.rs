//! The DSDTs compiled from asl/ by build.rs (in progress).
