//! The firmware's command line under Xen: the xenstore key `hvmloader/cmdline`.
//!
//! libxl 4.17 passes no start-info command line to HVM firmware (xl.cfg's `cmdline=`
//! without `kernel=` becomes QEMU's `-append`, which QEMU then refuses), so a Xen user gives
//! the firmware its options (`console=`, `loglevel=`, `selfcheck`, ...: see
//! [`crate::cmdline`]) in this key, written while the domain is paused:
//!
//! ```text
//! xl create -p guest.cfg
//! xenstore-write /local/domain/$(xl domid guest)/hvmloader/cmdline "console=com1 loglevel=debug"
//! xl unpause guest
//! ```
//!
//! It is read first, right after the store is connected, so that every later line follows
//! it. Its options come after the start info's (which a loader other than libxl may pass):
//! an option given in both takes the key's value.

use alloc::format;
use alloc::string::String;

use alloc::boxed::Box;

use super::config::{ConfigError, KeyReader, get};

/// The key, relative to the domain's xenstore home.
pub(crate) const CMDLINE_KEY: &str = "hvmloader/cmdline";

/// The key's value; `None` when it is missing or empty.
pub(crate) fn read(store: &mut impl KeyReader) -> Result<Option<String>, Box<ConfigError>> {
    get(store, CMDLINE_KEY)
}

/// The command line the firmware follows: the start info's, then the key's.
pub(crate) fn combine(start_info: &str, key: Option<&str>) -> String {
    match (start_info.trim(), key.map(str::trim)) {
        (first, None | Some("")) => first.into(),
        ("", Some(second)) => second.into(),
        (first, Some(second)) => format!("{first} {second}"),
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::string::ToString;

    use super::*;
    use crate::cmdline::Options;
    use crate::console::ConsoleChoice;
    use alloc::boxed::Box;

    use crate::platform::xen::XsError;

    struct Keys(BTreeMap<&'static str, &'static str>);

    impl KeyReader for Keys {
        fn read_key(&mut self, path: &str) -> Result<Option<String>, Box<XsError>> {
            Ok(self.0.get(path).map(|v| v.to_string()))
        }
    }

    fn key(value: Option<&'static str>) -> Option<String> {
        read(&mut Keys(value.map(|v| (CMDLINE_KEY, v)).into_iter().collect())).unwrap()
    }

    #[test]
    fn missing_or_empty_is_none() {
        assert_eq!(key(None), None);
        assert_eq!(key(Some("")), None);
        assert_eq!(key(Some("console=com1")).as_deref(), Some("console=com1"));
    }

    #[test]
    fn the_keys_options_come_after_the_start_infos() {
        assert_eq!(combine("", None), "");
        assert_eq!(combine(" selfcheck ", None), "selfcheck");
        assert_eq!(combine("", Some("console=both")), "console=both");
        let line = combine("loglevel=warn console=e9", Some("console=com1"));
        assert_eq!(line, "loglevel=warn console=e9 console=com1");
        let options = Options::parse(&line).unwrap();
        assert_eq!(options.console, Some(ConsoleChoice::Com1), "the key's value wins");
        assert_eq!(options.log_level, Some(log::LevelFilter::Warn));
    }
}
