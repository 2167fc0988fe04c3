//! SMBIOS strings the platform's owner sets: Xen's `bios-strings/*` xenstore keys (under
//! QEMU, `-smbios` reaches the table through QEMU's own structures instead). A missing or
//! empty value keeps the builder's default.

use alloc::string::String;
use alloc::vec::Vec;

use super::SmbiosInfo;

/// The strings, by their xenstore names (xen/include/public/hvm/hvm_xs_strings.h).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BiosStrings {
    pub bios_vendor: Option<String>,
    pub bios_version: Option<String>,
    pub system_manufacturer: Option<String>,
    pub system_product_name: Option<String>,
    pub system_version: Option<String>,
    pub system_serial_number: Option<String>,
    pub baseboard_manufacturer: Option<String>,
    pub baseboard_product_name: Option<String>,
    pub baseboard_version: Option<String>,
    pub baseboard_serial_number: Option<String>,
    pub baseboard_asset_tag: Option<String>,
    pub baseboard_location_in_chassis: Option<String>,
    pub enclosure_manufacturer: Option<String>,
    pub enclosure_serial_number: Option<String>,
    pub enclosure_asset_tag: Option<String>,
    /// Battery strings (type 22, for `acpi_laptop_slate` guests): read, not yet emitted.
    pub battery_manufacturer: Option<String>,
    pub battery_device_name: Option<String>,
    /// `oem-1`, `oem-2`, ... up to the first missing or empty one (at most 99, hvmloader's
    /// bound), for type 11: read, not yet emitted.
    pub oem: Vec<String>,
}

impl BiosStrings {
    /// Reads every string through `get(name)`, which returns `None` for a missing or empty
    /// value.
    pub fn read<E>(mut get: impl FnMut(&str) -> Result<Option<String>, E>) -> Result<Self, E> {
        let mut s = BiosStrings::default();
        let fields: [(&str, &mut Option<String>); 17] = [
            ("bios-vendor", &mut s.bios_vendor),
            ("bios-version", &mut s.bios_version),
            ("system-manufacturer", &mut s.system_manufacturer),
            ("system-product-name", &mut s.system_product_name),
            ("system-version", &mut s.system_version),
            ("system-serial-number", &mut s.system_serial_number),
            ("baseboard-manufacturer", &mut s.baseboard_manufacturer),
            ("baseboard-product-name", &mut s.baseboard_product_name),
            ("baseboard-version", &mut s.baseboard_version),
            ("baseboard-serial-number", &mut s.baseboard_serial_number),
            ("baseboard-asset-tag", &mut s.baseboard_asset_tag),
            ("baseboard-location-in-chassis", &mut s.baseboard_location_in_chassis),
            ("enclosure-manufacturer", &mut s.enclosure_manufacturer),
            ("enclosure-serial-number", &mut s.enclosure_serial_number),
            ("enclosure-asset-tag", &mut s.enclosure_asset_tag),
            ("battery-manufacturer", &mut s.battery_manufacturer),
            ("battery-device-name", &mut s.battery_device_name),
        ];
        for (name, slot) in fields {
            *slot = get(name)?.filter(|v| !v.is_empty());
        }
        for i in 1..100 {
            match get(&alloc::format!("oem-{i}"))?.filter(|v| !v.is_empty()) {
                Some(v) => s.oem.push(v),
                None => break,
            }
        }
        Ok(s)
    }

    /// Puts the strings that are set over `info`'s defaults.
    pub fn apply<'a>(&'a self, info: &mut SmbiosInfo<'a>) {
        let set = |target: &mut &'a str, value: &'a Option<String>| {
            if let Some(v) = value {
                *target = v.as_str();
            }
        };
        set(&mut info.bios.vendor, &self.bios_vendor);
        set(&mut info.bios.version, &self.bios_version);
        set(&mut info.system.manufacturer, &self.system_manufacturer);
        set(&mut info.system.product, &self.system_product_name);
        set(&mut info.system.version, &self.system_version);
        if let Some(serial) = &self.system_serial_number {
            info.system.serial_number = Some(serial.as_str());
        }
        set(&mut info.baseboard.manufacturer, &self.baseboard_manufacturer);
        set(&mut info.baseboard.product, &self.baseboard_product_name);
        set(&mut info.baseboard.version, &self.baseboard_version);
        set(&mut info.baseboard.serial_number, &self.baseboard_serial_number);
        set(&mut info.baseboard.asset_tag, &self.baseboard_asset_tag);
        set(&mut info.baseboard.location_in_chassis, &self.baseboard_location_in_chassis);
        set(&mut info.chassis.manufacturer, &self.enclosure_manufacturer);
        set(&mut info.chassis.serial_number, &self.enclosure_serial_number);
        set(&mut info.chassis.asset_tag, &self.enclosure_asset_tag);
    }
}

#[cfg(test)]
mod tests {
    use alloc::collections::BTreeMap;
    use alloc::string::ToString;

    use super::*;
    use crate::bootinfo::PhysRange;
    use crate::smbios::{CpuTopology, SmbiosTable};

    #[test]
    fn reads_names_and_oem_strings_until_the_first_gap() {
        let store: BTreeMap<String, String> = [
            ("system-product-name", "test box"),
            ("bios-vendor", ""),
            ("oem-1", "first"),
            ("oem-2", "second"),
            ("oem-4", "after a gap"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let strings = BiosStrings::read(|name| Ok::<_, ()>(store.get(name).cloned())).unwrap();
        assert_eq!(strings.system_product_name.as_deref(), Some("test box"));
        assert_eq!(strings.bios_vendor, None, "empty means unset");
        assert_eq!(strings.oem, ["first", "second"]);
        let failing = BiosStrings::read(|_| Err::<Option<String>, _>("store down"));
        assert_eq!(failing, Err("store down"));
    }

    #[test]
    fn applied_strings_reach_the_tables() {
        let strings = BiosStrings {
            system_manufacturer: Some("ACME".into()),
            system_product_name: Some("Road Runner".into()),
            enclosure_asset_tag: Some("tag-7".into()),
            ..BiosStrings::default()
        };
        let ram = [PhysRange { start: 0, end: 0x800_0000 }];
        let mut info = SmbiosInfo::new(CpuTopology::sockets_only(1), &ram);
        strings.apply(&mut info);
        assert_eq!(info.system.manufacturer, "ACME");
        assert_eq!(info.system.product, "Road Runner");
        assert_eq!(info.chassis.asset_tag, "tag-7");
        assert_eq!(
            info.bios.vendor,
            SmbiosInfo::new(CpuTopology::sockets_only(1), &ram).bios.vendor
        );
        let table = SmbiosTable::build(&info).unwrap();
        let bytes = table.as_bytes();
        for needle in [&b"ACME\0"[..], b"Road Runner\0", b"tag-7\0"] {
            assert!(bytes.windows(needle.len()).any(|w| w == needle));
        }
    }
}
