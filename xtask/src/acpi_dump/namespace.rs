//! The namespace the DSDT and SSDTs declare, read from iasl's disassembly: scopes and
//! devices by brace nesting, with their identification objects, the resources of every
//! ResourceTemplate and the methods present.
//!
//! This is a reader of iasl's own output format (one statement per line, `{` and `}` on
//! lines of their own, resource fields labelled by `// Range Minimum` comments), not of
//! arbitrary ASL. Tables are merged into one namespace because firmwares split the same
//! objects differently (processors in the DSDT for Xen and QEMU, in an SSDT for us).

use std::collections::BTreeMap;

/// One Scope/Device/Processor/ThermalZone/PowerResource, merged over all tables.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Node {
    /// `Device`, `Processor (0x00, 0x0000B010, 0x06)`, `Scope`... (the strongest seen:
    /// a Scope reopening a Device does not change what it is).
    pub kind: String,
    /// Tables declaring or extending it, in reading order.
    pub tables: Vec<String>,
    /// `_HID`, `_CID`, `_UID`, `_ADR`... with their values when given by a Name.
    pub ids: BTreeMap<String, String>,
    /// Every Name and Method directly inside; methods carry `()`.
    pub objects: Vec<String>,
    /// Summaries of each ResourceTemplate, by the object holding it (`_CRS`, `_CRS()`
    /// for one built inside a method, `CRES`...).
    pub resources: BTreeMap<String, Vec<String>>,
}

/// The merged namespace: absolute path (`\_SB.PCI0`) to node.
pub type Namespace = BTreeMap<String, Node>;

/// Name objects whose value identifies a node.
const ID_OBJECTS: &[&str] =
    &["_HID", "_CID", "_UID", "_ADR", "_BBN", "_SEG", "_SUN", "_STA", "_PXM", "_DDN"];
const NODE_KINDS: &[&str] = &["Device", "Processor", "ThermalZone", "PowerResource", "Scope"];
/// Other named objects worth listing (Field units are not: they are the region's parts).
const OTHER_OBJECTS: &[&str] = &["OperationRegion", "Mutex", "Event"];

#[derive(Debug)]
enum Frame {
    /// A namespace node (the DefinitionBlock's frame is the root `\`).
    Node(String),
    /// A method body or a Name's package: objects inside are not the node's.
    Owner(String),
    /// A ResourceTemplate being summarised for (node, owner).
    Resources { node: String, owner: String },
    /// The `{...}` interrupt/DMA channel list of the last resource descriptor.
    ChannelList { node: String, owner: String },
    /// Anything else: If, Else, While, Package, Field...
    Other,
}

/// What the last statement line opens when a `{` follows.
#[derive(Debug)]
enum Opens {
    Node(String),
    Owner(String),
    Resources(String),
    Other,
}

/// Adds the namespace declared by one table's disassembly to `ns`.
pub fn parse_into(ns: &mut Namespace, table: &str, dsl: &str) {
    let mut frames: Vec<Frame> = Vec::new();
    let mut opens = Opens::Other;
    let mut in_block_comment = false;
    for raw in dsl.lines() {
        let (code, comment) = strip_comments(raw, &mut in_block_comment);
        let line = code.trim();
        if line.is_empty() {
            continue;
        }
        let current_node = frames
            .iter()
            .rev()
            .find_map(|f| match f {
                Frame::Node(path) => Some(path.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "\\".into());
        let directly_in_node = matches!(frames.last(), Some(Frame::Node(_)));

        // Inside a ResourceTemplate: descriptors and their labelled fields.
        if let Some(Frame::Resources { node, owner }) = frames.last() {
            let (node, owner) = (node.clone(), owner.clone());
            if line.starts_with('{') {
                channel_list(ns, &node, &owner, line);
                if !line.contains('}') {
                    frames.push(Frame::ChannelList { node, owner });
                }
                continue;
            }
            if line.starts_with('}') {
                frames.pop();
                continue;
            }
            resource_line(ns.entry(node).or_default(), &owner, line, comment.trim());
            continue;
        }
        if let Some(Frame::ChannelList { node, owner }) = frames.last() {
            let (node, owner) = (node.clone(), owner.clone());
            channel_list(ns, &node, &owner, line);
            if line.contains('}') {
                frames.pop();
            }
            continue;
        }

        for c in line.chars() {
            match c {
                '{' => {
                    let frame = match std::mem::replace(&mut opens, Opens::Other) {
                        Opens::Node(path) => {
                            let node = ns.entry(path.clone()).or_default();
                            if !node.tables.iter().any(|t| t == table) {
                                node.tables.push(table.to_string());
                            }
                            Frame::Node(path)
                        }
                        Opens::Owner(name) => Frame::Owner(name),
                        Opens::Resources(owner) => {
                            ns.entry(current_node.clone())
                                .or_default()
                                .resources
                                .insert(owner.clone(), Vec::new());
                            Frame::Resources { node: current_node.clone(), owner }
                        }
                        Opens::Other => Frame::Other,
                    };
                    frames.push(frame);
                }
                '}' => {
                    frames.pop();
                }
                _ => {}
            }
        }
        if line.starts_with('{') || line.starts_with('}') {
            continue;
        }

        // A statement: declare what it declares, remember what a `{` would open.
        let head = line.split(['(', ' ']).next().unwrap_or("");
        let first_arg = || {
            line.split_once('(')
                .map(|(_, rest)| rest.split([',', ')']).next().unwrap_or("").trim().to_string())
                .unwrap_or_default()
        };
        opens = if head == "DefinitionBlock" {
            ns.entry("\\".into()).or_default().kind = "Scope".into();
            Opens::Node("\\".into())
        } else if NODE_KINDS.contains(&head) {
            let path = resolve(&current_node, &first_arg());
            let node = ns.entry(path.clone()).or_default();
            // Scope only names a node; a Device (Processor...) says what it is.
            if head != "Scope" || node.kind.is_empty() {
                node.kind = match head {
                    "Processor" => format!(
                        "Processor ({})",
                        line.split_once(',').map_or("", |(_, r)| r.trim_end_matches(')').trim())
                    ),
                    _ => head.to_string(),
                };
            }
            Opens::Node(path)
        } else if head == "Method" {
            let (parent, name) = split_declared(&current_node, &first_arg());
            if directly_in_node {
                add_object(ns.entry(parent).or_default(), format!("{name}()"));
            }
            Opens::Owner(format!("{name}()"))
        } else if head == "Name" {
            let (parent, name) = split_declared(&current_node, &first_arg());
            if directly_in_node {
                let node = ns.entry(parent).or_default();
                add_object(node, name.clone());
                if ID_OBJECTS.contains(&name.as_str()) {
                    node.ids.insert(name.clone(), id_value(line));
                }
            }
            if line.contains("ResourceTemplate ()") {
                Opens::Resources(name)
            } else {
                Opens::Owner(name)
            }
        } else if OTHER_OBJECTS.contains(&head) {
            if directly_in_node {
                let (parent, name) = split_declared(&current_node, &first_arg());
                add_object(ns.entry(parent).or_default(), format!("{head} {name}"));
            }
            Opens::Other
        } else if line.contains("ResourceTemplate ()") {
            // Built inside a method (`Local0 = ResourceTemplate ()`): owned by the method.
            let owner = frames
                .iter()
                .rev()
                .find_map(|f| match f {
                    Frame::Owner(name) => Some(name.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "?".into());
            Opens::Resources(owner)
        } else {
            Opens::Other
        };
    }
}

/// Where a Name or Method declared in `scope` lands: `(parent path, last segment)`.
fn split_declared(scope: &str, name: &str) -> (String, String) {
    let path = resolve(scope, name);
    match path.rsplit_once('.') {
        Some((parent, last)) => (parent.to_string(), last.to_string()),
        None => ("\\".to_string(), path.trim_start_matches('\\').to_string()),
    }
}

fn add_object(node: &mut Node, name: String) {
    if !node.objects.contains(&name) {
        node.objects.push(name);
    }
}

/// `Name (_HID, EisaId ("PNP0A03"))` -> `PNP0A03`; `Name (_UID, Zero)` -> `Zero`.
fn id_value(line: &str) -> String {
    let value = line.split_once(',').map_or("", |(_, v)| v.trim());
    let value = value.strip_suffix(')').unwrap_or(value).trim();
    if let Some(start) = value.find('"') {
        let rest = &value[start + 1..];
        return rest[..rest.find('"').unwrap_or(rest.len())].to_string();
    }
    value.to_string()
}

/// Resolves a name declared in `scope`: `\X.Y` is absolute, each `^` goes one level up,
/// anything else is below `scope`. iasl pads short segments with `_` (`\_SB_`); the
/// padding is dropped, as iasl does when it prints paths.
pub fn resolve(scope: &str, name: &str) -> String {
    let (mut segments, rest) = if let Some(absolute) = name.strip_prefix('\\') {
        (Vec::new(), absolute)
    } else {
        let mut segments: Vec<&str> =
            scope.trim_start_matches('\\').split('.').filter(|s| !s.is_empty()).collect();
        let ups = name.len() - name.trim_start_matches('^').len();
        segments.truncate(segments.len().saturating_sub(ups));
        (segments, name.trim_start_matches('^'))
    };
    segments.extend(rest.split('.').filter(|s| !s.is_empty()));
    let segments: Vec<&str> = segments
        .into_iter()
        .map(|s| {
            let trimmed = s.trim_end_matches('_');
            if trimmed.is_empty() { s } else { trimmed }
        })
        .collect();
    format!("\\{}", segments.join("."))
}

/// Splits a line into code and comment text; `/* */` may span lines. Strings are kept
/// whole (a `//` inside one is not a comment).
fn strip_comments(line: &str, in_block: &mut bool) -> (String, String) {
    let (mut code, mut comment) = (String::new(), String::new());
    let mut chars = line.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if *in_block {
            if c == '*' && chars.peek() == Some(&'/') {
                chars.next();
                *in_block = false;
            } else {
                comment.push(c);
            }
        } else if in_string {
            code.push(c);
            if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            code.push(c);
        } else if c == '/' && chars.peek() == Some(&'/') {
            comment.extend(chars.skip(1));
            break;
        } else if c == '/' && chars.peek() == Some(&'*') {
            chars.next();
            *in_block = true;
        } else {
            code.push(c);
        }
    }
    (code, comment)
}

/// One line inside a ResourceTemplate: a descriptor keyword starts an entry, a value
/// labelled `// Range Minimum` (etc.) adds to it.
fn resource_line(node: &mut Node, owner: &str, line: &str, label: &str) {
    let entries = node.resources.entry(owner.to_string()).or_default();
    let keyword = line.split(['(', ' ']).next().unwrap_or("");
    if !keyword.is_empty()
        && keyword.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && line.contains('(')
    {
        entries.push(keyword.to_string());
        return;
    }
    let Some(entry) = entries.last_mut() else { return };
    let value = line.trim_end_matches(',').trim();
    let shown = match label {
        "Range Minimum" | "Address Base" | "Address" => format!(" {value}"),
        "Range Maximum" => format!("-{value}"),
        "Length" | "Address Length" => format!(" len {value}"),
        _ => return,
    };
    entry.push_str(&shown);
}

/// `{1}` / `{5,10,11}` / `0x00000005,` inside the channel list of the last descriptor.
fn channel_list(ns: &mut Namespace, node: &str, owner: &str, line: &str) {
    let numbers: Vec<&str> = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|s| !s.is_empty() && s.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    let entries = ns.entry(node.to_string()).or_default().resources.entry(owner.into());
    let Some(entry) = entries.or_default().last_mut() else { return };
    if entry.ends_with('}') {
        if numbers.is_empty() {
            return;
        }
        entry.pop();
        if !entry.ends_with('{') {
            entry.push(',');
        }
    } else {
        entry.push_str(" {");
    }
    entry.push_str(&numbers.join(","));
    entry.push('}');
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSDT: &str = r#"
DefinitionBlock ("", "DSDT", 2, "Xen", "HVM", <masked>)
{
    Name (PMBS, 0x0C00)
    Scope (_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A03") /* PCI Bus */)  // _HID: Hardware ID
            Name (_UID, Zero)  // _UID: Unique ID
            Method (_CRS, 0, NotSerialized)  // _CRS: Current Resource Settings
            {
                Local1 = ResourceTemplate ()
                    {
                        WordBusNumber (ResourceProducer, MinFixed, MaxFixed, SubDecode,
                            0x0000,             // Granularity
                            0x0000,             // Range Minimum
                            0x00FF,             // Range Maximum
                            0x0000,             // Translation Offset
                            0x0100,             // Length
                            ,, )
                    }
                Name (_T_0, Zero)
                If ((Zero == 0x6C))
                {
                    Local0 = One
                }
                Return (Local1)
            }

            Device (ISA)
            {
                Name (_ADR, 0x00010000)  // _ADR: Address
                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00") /* AT Real-Time Clock */)  // _HID: Hardware ID
                    Name (_CRS, ResourceTemplate ()  // _CRS: Current Resource Settings
                    {
                        IO (Decode16,
                            0x0070,             // Range Minimum
                            0x0070,             // Range Maximum
                            0x10,               // Alignment
                            0x02,               // Length
                            )
                        IRQNoFlags ()
                            {8}
                        Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,, )
                        {
                            0x00000005,
                            0x0000000A,
                        }
                    })
                }
            }
        }
    }

    Scope (\_SB)
    {
        Processor (PR00, 0x00, 0x0000B010, 0x06)
        {
            Name (_HID, "ACPI0007" /* Processor Device */)  // _HID: Hardware ID
        }
    }

    Scope (_SB.PCI0.ISA)
    {
        Method (^^PCI0._OSC, 4, NotSerialized)
        {
            Return (Arg3)
        }
    }
}
"#;

    #[test]
    fn devices_ids_methods_and_resources() {
        let mut ns = Namespace::new();
        parse_into(&mut ns, "DSDT", DSDT);
        let paths: Vec<&str> = ns.keys().map(String::as_str).collect();
        assert_eq!(
            paths,
            ["\\", "\\_SB", "\\_SB.PCI0", "\\_SB.PCI0.ISA", "\\_SB.PCI0.ISA.RTC", "\\_SB.PR00"]
        );
        assert_eq!(ns["\\"].objects, ["PMBS"]);
        let pci0 = &ns["\\_SB.PCI0"];
        assert_eq!(pci0.kind, "Device");
        assert_eq!(pci0.ids["_HID"], "PNP0A03");
        assert_eq!(pci0.ids["_UID"], "Zero");
        assert_eq!(pci0.objects[..3], ["_HID", "_UID", "_CRS()"]);
        assert_eq!(pci0.resources["_CRS()"], ["WordBusNumber 0x0000-0x00FF len 0x0100"]);
        let rtc = &ns["\\_SB.PCI0.ISA.RTC"];
        assert_eq!(
            rtc.resources["_CRS"],
            ["IO 0x0070-0x0070 len 0x02", "IRQNoFlags {8}", "Interrupt {0x00000005,0x0000000A}"]
        );
        assert_eq!(ns["\\_SB.PR00"].kind, "Processor (0x00, 0x0000B010, 0x06)");
        assert_eq!(ns["\\_SB.PR00"].ids["_HID"], "ACPI0007");
        assert_eq!(ns["\\_SB.PCI0.ISA"].objects, ["_ADR"]);
        assert_eq!(ns["\\_SB.PCI0"].objects.last().unwrap(), "_OSC()");
    }

    #[test]
    fn names_resolve_like_iasl_prints_them() {
        assert_eq!(resolve("\\", "_SB_.PCI0"), "\\_SB.PCI0");
        assert_eq!(resolve("\\_SB.PCI0.ISA", "^^PCI1"), "\\_SB.PCI1");
        assert_eq!(resolve("\\_SB.PCI0", "\\_GPE"), "\\_GPE");
        assert_eq!(resolve("\\_SB", "S___"), "\\_SB.S");
    }
}
