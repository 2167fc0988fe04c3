//! The firmware's own command line (`hvm_start_info.cmdline_paddr`: QEMU's `-append`; under
//! Xen, whose libxl passes none, the xenstore key `hvmloader/cmdline` too:
//! [`crate::platform::xen::cmdline_key`]).
//!
//! Options, separated by spaces:
//! - `loglevel=off|error|warn|info|debug|trace`: console verbosity (default `info`);
//! - `console=e9|com1|both`: where the log goes (default: 0xE9 under Xen; COM1, and 0xE9
//!   when a debugcon answers, under QEMU); see [`crate::console`];
//! - `selfcheck` or `selfcheck=on|off`: run the firmware's self-checks (default off; the
//!   tests turn them on);
//! - `fault=page-fault|invalid-opcode|stack-overflow|panic`: fail on purpose right after
//!   parsing, to prove that each fatal path reports its cause instead of triple-faulting.
//!
//! An unknown option or value is an error: a typo must not silently change nothing.

use core::fmt;

use log::LevelFilter;

use crate::console::ConsoleChoice;

/// The parsed options. `None`: not given (the platform's default, or under Xen a xenstore
/// key, applies).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub log_level: Option<LevelFilter>,
    pub console: Option<ConsoleChoice>,
    pub self_checks: bool,
    pub fault: Option<Fault>,
}

pub(crate) use crate::arch::DeliberateFault as Fault;

/// A command line the firmware does not understand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CmdlineError<'a> {
    UnknownOption(&'a str),
    BadValue { option: &'a str, value: &'a str, expected: &'static str },
}

impl fmt::Display for CmdlineError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmdlineError::UnknownOption(o) => {
                write!(
                    f,
                    "unknown command-line option `{o}` (known: loglevel=, console=, selfcheck, \
                     fault=)"
                )
            }
            CmdlineError::BadValue { option, value, expected } => {
                write!(f, "bad value `{value}` for `{option}=` (expected {expected})")
            }
        }
    }
}

impl Options {
    pub fn parse(cmdline: &str) -> Result<Self, CmdlineError<'_>> {
        let mut options = Options::default();
        for word in cmdline.split_ascii_whitespace() {
            let (option, value) = match word.split_once('=') {
                Some((o, v)) => (o, Some(v)),
                None => (word, None),
            };
            match (option, value) {
                ("loglevel", Some(v)) => {
                    options.log_level = Some(v.parse().map_err(|_| CmdlineError::BadValue {
                        option,
                        value: v,
                        expected: "off, error, warn, info, debug or trace",
                    })?);
                }
                ("console", Some(v)) => {
                    options.console = Some(v.parse().map_err(|()| CmdlineError::BadValue {
                        option,
                        value: v,
                        expected: ConsoleChoice::VALUES,
                    })?);
                }
                ("selfcheck", None) => options.self_checks = true,
                ("selfcheck", Some(v)) => {
                    options.self_checks = match v {
                        "on" | "1" => true,
                        "off" | "0" => false,
                        _ => {
                            return Err(CmdlineError::BadValue {
                                option,
                                value: v,
                                expected: "on or off",
                            });
                        }
                    }
                }
                ("fault", Some(v)) => {
                    options.fault = Some(match v {
                        "page-fault" => Fault::PageFault,
                        "invalid-opcode" => Fault::InvalidOpcode,
                        "stack-overflow" => Fault::StackOverflow,
                        "panic" => Fault::Panic,
                        _ => {
                            return Err(CmdlineError::BadValue {
                                option,
                                value: v,
                                expected: "page-fault, invalid-opcode, stack-overflow or panic",
                            });
                        }
                    })
                }
                _ => return Err(CmdlineError::UnknownOption(word)),
            }
        }
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_default() {
        assert_eq!(Options::parse("").unwrap(), Options::default());
        assert_eq!(Options::parse("   ").unwrap(), Options::default());
    }

    #[test]
    fn levels_and_selfcheck() {
        let o = Options::parse("loglevel=debug selfcheck").unwrap();
        assert_eq!(o.log_level, Some(LevelFilter::Debug));
        assert!(o.self_checks);
        let o = Options::parse("selfcheck=on selfcheck=off loglevel=TRACE").unwrap();
        assert!(!o.self_checks);
        assert_eq!(o.log_level, Some(LevelFilter::Trace));
        assert_eq!(Options::parse("").unwrap().log_level, None);
    }

    #[test]
    fn console_choice() {
        assert_eq!(Options::parse("console=com1").unwrap().console, Some(ConsoleChoice::Com1));
        assert_eq!(Options::parse("console=both").unwrap().console, Some(ConsoleChoice::Both));
        assert_eq!(Options::parse("").unwrap().console, None);
        assert!(matches!(
            Options::parse("console=ttyS0"),
            Err(CmdlineError::BadValue { option: "console", value: "ttyS0", .. })
        ));
    }

    #[test]
    fn rejects_unknown_and_bad_values() {
        assert_eq!(Options::parse("quiet"), Err(CmdlineError::UnknownOption("quiet")));
        assert!(matches!(
            Options::parse("loglevel=loud"),
            Err(CmdlineError::BadValue { option: "loglevel", value: "loud", .. })
        ));
        assert!(matches!(Options::parse("selfcheck=maybe"), Err(CmdlineError::BadValue { .. })));
        assert!(matches!(Options::parse("loglevel"), Err(CmdlineError::UnknownOption(_))));
    }
}
