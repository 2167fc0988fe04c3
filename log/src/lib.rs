//! The [`log`] crate, with its level macros (`error!` .. `trace!`) replaced by lighter ones.
//!
//! The firmware depends on this crate under the name `log`, so `log::info!(...)` and
//! `use log::info` read as usual and everything else (`Log`, `Record`, `set_logger`, the
//! levels) is `log`'s own. `log`'s macros pass each call site's target, module path and
//! source location as a static (64 bytes of data per call) and call a generic function;
//! these pass the module path as a string (one per module) and call one function,
//! [`__log`], which also checks the level (the arguments are only borrowed, not formatted,
//! when the level is off). The records carry level, target and message, which is all the console prints;
//! no file or line. Crates that use `log` directly (the `acpi` parser) log through the same
//! logger.

#![no_std]

pub use log::*;

use core::fmt::Arguments;

/// Hands one record to the installed logger when `level` is enabled by [`max_level`]: the
/// one function every macro calls.
#[doc(hidden)]
#[inline(never)]
pub fn __log(level: Level, target: &'static str, args: Arguments<'_>) {
    if level > max_level() {
        return;
    }
    log::logger().log(&Record::builder().args(args).level(level).target(target).build());
}

/// `log!(level, "format", args...)`.
#[macro_export]
macro_rules! log {
    ($lvl:expr, $($arg:tt)+) => {{
        $crate::__log($lvl, ::core::module_path!(), ::core::format_args!($($arg)+));
    }};
}

/// Logs at [`Level::Error`].
#[macro_export]
macro_rules! error {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Error, $($arg)+) };
}

/// Logs at [`Level::Warn`].
#[macro_export]
macro_rules! warn {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Warn, $($arg)+) };
}

/// Logs at [`Level::Info`].
#[macro_export]
macro_rules! info {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Info, $($arg)+) };
}

/// Logs at [`Level::Debug`].
#[macro_export]
macro_rules! debug {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Debug, $($arg)+) };
}

/// Logs at [`Level::Trace`].
#[macro_export]
macro_rules! trace {
    ($($arg:tt)+) => { $crate::log!($crate::Level::Trace, $($arg)+) };
}
