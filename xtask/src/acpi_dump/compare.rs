//! The structural comparison of two dumps, and the plain `diff -u` of their masked .dsl.
//!
//! Both sides are read from a masked directory (`fields.txt` plus the masked .dsl files), so
//! a fresh dump, a reference and a golden directory compare the same way.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use super::fields::{self, Field};
use super::namespace::{self, Namespace, Node};
use crate::Result;

/// What one side of a comparison holds.
pub struct Summary {
    /// Shown in the report (`ours`, `qemu`, `golden`...).
    pub label: String,
    /// Table names in dump order.
    pub tables: Vec<String>,
    pub fields: Vec<Field>,
    pub namespace: Namespace,
}

impl Summary {
    /// Reads a masked directory written by the dump (or a golden copy of one).
    pub fn load(label: &str, masked_dir: &Path) -> Result<Self> {
        let path = masked_dir.join("fields.txt");
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let fields = fields::from_text(&text);
        let tables: Vec<String> = fields
            .iter()
            .find(|f| f.table == "*" && f.key == "tables")
            .map(|f| f.value.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        let mut namespace = Namespace::new();
        for table in tables.iter().filter(|t| t.starts_with("DSDT") || t.starts_with("SSDT")) {
            let path = masked_dir.join(format!("{table}.dsl"));
            let dsl =
                std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            namespace::parse_into(&mut namespace, table, &dsl);
        }
        Ok(Summary { label: label.into(), tables, fields, namespace })
    }
}

/// The whole structural comparison as text; with `only_differences`, the rows that are the
/// same on both sides (`=`) are left out.
pub fn structural(ours: &Summary, theirs: &Summary, only_differences: bool) -> String {
    let text = structural_rows(ours, theirs);
    if !only_differences {
        return text;
    }
    // Sections are separated by blank lines; keep those with a row left after the filter.
    let mut out = String::new();
    for section in text.split("\n\n") {
        let mut lines = section.lines();
        let title = lines.next().unwrap_or("");
        let rows: Vec<&str> = lines.filter(|l| !l.starts_with("  = ")).collect();
        if !rows.is_empty() {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(title);
            out.push('\n');
            for row in rows {
                out.push_str(row);
                out.push('\n');
            }
        }
    }
    out
}

fn structural_rows(ours: &Summary, theirs: &Summary) -> String {
    let mut out = String::new();
    let (a, b) = (&ours.label, &theirs.label);
    let width = a.len().max(b.len()) + 1;
    out.push_str("== tables ==\n");
    out.push_str(&format!("  {:width$} {}\n", format!("{a}:"), ours.tables.join(" ")));
    out.push_str(&format!("  {:width$} {}\n", format!("{b}:"), theirs.tables.join(" ")));
    let only = |x: &Summary, y: &Summary| -> Vec<String> {
        x.tables.iter().filter(|t| !y.tables.contains(t)).cloned().collect()
    };
    for (label, names) in [(a, only(ours, theirs)), (b, only(theirs, ours))] {
        if !names.is_empty() {
            out.push_str(&format!("  only in {label}: {}\n", names.join(" ")));
        }
    }

    let mut last_table = None;
    for field in field_pairs(ours, theirs) {
        if last_table != Some(field.table) {
            out.push_str(&format!("\n== {} ==\n", field.table));
            last_table = Some(field.table);
        }
        out.push_str(&row(field.key, field.ours, field.theirs, a, b));
    }

    out.push_str(&format!(
        "\n== namespace (DSDT + SSDTs merged; = same, ~ differs, < only {a}, > only {b}) ==\n"
    ));
    out.push_str(&namespace_rows(&ours.namespace, &theirs.namespace, a, b));
    out
}

/// One key field of a table, on each side.
struct FieldPair<'a> {
    table: &'a str,
    key: &'a str,
    ours: Option<String>,
    theirs: Option<String>,
}

/// The key fields of both sides, table by table (ours' order, then tables only the other
/// side has), each table's keys in ours' order, then those only the other side has.
fn field_pairs<'a>(ours: &'a Summary, theirs: &'a Summary) -> Vec<FieldPair<'a>> {
    let mut tables: Vec<&String> = ours.tables.iter().collect();
    tables.extend(theirs.tables.iter().filter(|t| !ours.tables.contains(t)));
    let mut pairs = Vec::new();
    for table in tables {
        let of = |s: &'a Summary| -> Vec<&'a Field> {
            s.fields.iter().filter(|f| &f.table == table).collect()
        };
        let (mine, other) = (of(ours), of(theirs));
        let mut keys: Vec<&'a str> = mine.iter().map(|f| f.key.as_str()).collect();
        keys.extend(
            other.iter().map(|f| f.key.as_str()).filter(|k| !mine.iter().any(|m| m.key == *k)),
        );
        for key in keys {
            let find =
                |side: &[&Field]| side.iter().find(|f| f.key == key).map(|f| f.value.clone());
            pairs.push(FieldPair { table, key, ours: find(&mine), theirs: find(&other) });
        }
    }
    pairs
}

/// Every difference between two dumps, one line each, for a reader (or a test) to explain
/// one by one:
///
/// - `tables: only hvmloader: SSDT2`
/// - `FACP Flags: ours 0x8545 ... | hvmloader 0x8145 ...`, `APIC override ...: only ours: ...`
/// - `\_SB.HPET: only ours: Device _HID=PNP0103 _UID=Zero`
/// - `\_SB.C000 (hvmloader: \_SB.PR00): kind: ours Device | hvmloader Processor (...)`,
///   `... _CID: only hvmloader: PNP030B`, `... object only hvmloader: _EJ0()`,
///   `... resources _CRS: ours ... | hvmloader ...`
///
/// Nodes are paired as in the structural report (by path, else by `_ADR` or `_HID`/`_UID`).
pub fn differences(ours: &Summary, theirs: &Summary) -> Vec<String> {
    let (a, b) = (&ours.label, &theirs.label);
    let mut out = Vec::new();
    for (label, x, y) in [(a, ours, theirs), (b, theirs, ours)] {
        for table in x.tables.iter().filter(|t| !y.tables.contains(t)) {
            out.push(format!("tables: only {label}: {table}"));
        }
    }
    for field in field_pairs(ours, theirs) {
        let what = format!("{} {}", field.table, field.key);
        match (field.ours, field.theirs) {
            (Some(x), Some(y)) if x != y => out.push(format!("{what}: {a} {x} | {b} {y}")),
            (Some(x), None) => out.push(format!("{what}: only {a}: {x}")),
            (None, Some(y)) => out.push(format!("{what}: only {b}: {y}")),
            _ => {}
        }
    }
    for (path, (mine, other)) in paired(&ours.namespace, &theirs.namespace) {
        let (x, (their_path, y)) = match (mine, other) {
            (Some(x), None) => {
                out.push(format!("{path}: only {a}: {}", describe(x)));
                continue;
            }
            (None, Some((their_path, y))) => {
                out.push(format!("{their_path}: only {b}: {}", describe(y)));
                continue;
            }
            (Some(x), Some(other)) => (x, other),
            (None, None) => continue,
        };
        let path = if *their_path == path { path } else { format!("{path} ({b}: {their_path})") };
        if x.kind != y.kind {
            out.push(format!("{path}: kind: {a} {} | {b} {}", x.kind, y.kind));
        }
        let ids: BTreeSet<&String> = x.ids.keys().chain(y.ids.keys()).collect();
        for id in ids {
            match (x.ids.get(id), y.ids.get(id)) {
                (Some(v), Some(w)) if v != w => {
                    out.push(format!("{path}: {id}: {a} {v} | {b} {w}"))
                }
                (Some(v), None) => out.push(format!("{path}: {id}: only {a}: {v}")),
                (None, Some(w)) => out.push(format!("{path}: {id}: only {b}: {w}")),
                _ => {}
            }
        }
        for (label, p, q) in [(a, x, y), (b, y, x)] {
            for object in p.objects.iter().filter(|o| !q.objects.contains(o)) {
                out.push(format!("{path}: object only {label}: {object}"));
            }
        }
        let owners: BTreeSet<&String> = x.resources.keys().chain(y.resources.keys()).collect();
        for owner in owners {
            let (rx, ry) = (x.resources.get(owner), y.resources.get(owner));
            if rx != ry {
                let show = |r: Option<&Vec<String>>| r.map_or("-".to_string(), |r| r.join(", "));
                out.push(format!("{path}: resources {owner}: {a} {} | {b} {}", show(rx), show(ry)));
            }
        }
    }
    out
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters (none
/// included) and everything else for itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = text.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// One field: a single line when equal, both values below the key otherwise.
fn row(key: &str, mine: Option<String>, other: Option<String>, a: &str, b: &str) -> String {
    let width = a.len().max(b.len());
    match (mine, other) {
        (Some(x), Some(y)) if x == y => format!("  = {key}: {x}\n"),
        (Some(x), Some(y)) => {
            format!("  ~ {key}\n      {a:width$}: {x}\n      {b:width$}: {y}\n")
        }
        (Some(x), None) => format!("  < {key}: {x}\n"),
        (None, Some(y)) => format!("  > {key}: {y}\n"),
        (None, None) => String::new(),
    }
}

/// `Device _HID=PNP0A03 _UID=Zero`.
fn describe(node: &Node) -> String {
    let mut text = node.kind.clone();
    for (id, value) in &node.ids {
        text.push_str(&format!(" {id}={value}"));
    }
    text
}

/// What an OS binds a node by, when its name differs between firmwares: `_ADR` for PCI
/// functions, `_HID` + `_UID` for enumerated devices.
fn identity(node: &Node) -> Option<String> {
    if let Some(adr) = node.ids.get("_ADR") {
        return Some(format!("_ADR={adr}"));
    }
    let hid = node.ids.get("_HID")?;
    Some(format!("_HID={hid} _UID={}", node.ids.get("_UID").map_or("-", String::as_str)))
}

fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or("\\", |(parent, _)| parent)
}

/// For each of `theirs`' paths, the path of the node it is compared with in `ours`: the
/// same path below a matched parent, else the one unmatched sibling with the same
/// [`identity`] (QEMU's `\_SB.PCI0.SF8` is our `\_SB.PCI0.LPC`: both have `_ADR` 0x1F0000).
fn align(ours: &Namespace, theirs: &Namespace) -> BTreeMap<String, String> {
    let mut aligned: BTreeMap<String, String> = BTreeMap::new();
    for path in theirs.keys() {
        let (parent, last) = match path.rsplit_once('.') {
            Some((parent, last)) => (aligned.get(parent).map_or(parent, String::as_str), last),
            None => {
                aligned.insert(path.clone(), path.clone());
                continue;
            }
        };
        let same_name = format!("{parent}.{last}");
        let id = identity(&theirs[path]);
        let same_identity =
            |node: &Node| id.is_none() || identity(node).is_none() || identity(node) == id;
        if ours.get(&same_name).is_some_and(same_identity) {
            aligned.insert(path.clone(), same_name);
            continue;
        }
        let taken: BTreeSet<&String> = aligned.values().collect();
        let candidates: Vec<&String> = ours
            .iter()
            .filter(|(p, node)| {
                parent_of(p) == parent && !taken.contains(p) && id.is_some() && identity(node) == id
            })
            .map(|(p, _)| p)
            .collect();
        if let [only] = candidates.as_slice() {
            aligned.insert(path.clone(), (*only).clone());
        } else if ours.contains_key(&same_name) {
            aligned.insert(path.clone(), same_name);
        }
    }
    aligned
}

/// A node of ours and the node (and its path) it is compared with on the other side.
type Row<'a> = (Option<&'a Node>, Option<(&'a String, &'a Node)>);

/// Both namespaces' nodes paired by [`align`], in ours' namespace order; a node only the
/// other side has sorts where its (aligned) parent puts it.
fn paired<'a>(ours: &'a Namespace, theirs: &'a Namespace) -> BTreeMap<String, Row<'a>> {
    let aligned = align(ours, theirs);
    let matched: BTreeMap<&String, &String> = aligned.iter().map(|(t, o)| (o, t)).collect();
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (path, node) in ours {
        let other = matched.get(path).and_then(|t| theirs.get_key_value(*t));
        rows.insert(path.clone(), (Some(node), other));
    }
    for (path, node) in theirs.iter().filter(|(p, _)| !aligned.contains_key(*p)) {
        let parent = parent_of(path);
        let parent = aligned.get(parent).map_or(parent, String::as_str);
        let last = path.rsplit_once('.').map_or(path.as_str(), |(_, l)| l);
        rows.insert(format!("{parent}.{last}"), (None, Some((path, node))));
    }
    rows
}

fn namespace_rows(ours: &Namespace, theirs: &Namespace, a: &str, b: &str) -> String {
    let rows = paired(ours, theirs);
    let mut out = String::new();
    // A run of nodes present on one side only, with the same parent, kind and _HID, is
    // one line: 128 processor objects need not be 128 lines.
    let mut run: Vec<(String, char, &Node)> = Vec::new();
    let flush = |run: &mut Vec<(String, char, &Node)>, out: &mut String| {
        if run.len() >= 4 {
            let (first, mark, node) = &run[0];
            let last = &run[run.len() - 1].0;
            let side = if *mark == '<' { a } else { b };
            let kind = node.kind.split(' ').next().unwrap_or("");
            out.push_str(&format!(
                "  {mark} {first} .. {last} ({} {kind} nodes, only {side})\n",
                run.len()
            ));
        } else {
            for (path, mark, node) in run.iter() {
                out.push_str(&format!(
                    "  {mark} {path}  {} [{}]\n",
                    describe(node),
                    node.tables.join(" ")
                ));
            }
        }
        run.clear();
    };
    let similar = |x: &Node, y: &Node| {
        x.kind.split(' ').next() == y.kind.split(' ').next()
            && x.ids.get("_HID") == y.ids.get("_HID")
    };
    for (key, (mine, other)) in &rows {
        let (path, mark, node) = match (mine, other) {
            (Some(x), Some((their_path, y))) => {
                flush(&mut run, &mut out);
                let shown = if *their_path == key {
                    key.clone()
                } else {
                    format!("{key} ({b}: {their_path})")
                };
                node_rows(&mut out, &shown, x, y, a, b);
                continue;
            }
            (Some(x), None) => (key.clone(), '<', *x),
            (None, Some((their_path, y))) => ((*their_path).clone(), '>', *y),
            (None, None) => continue,
        };
        if let Some((last, last_mark, last_node)) = run.last()
            && (*last_mark != mark
                || parent_of(last) != parent_of(&path)
                || !similar(last_node, node))
        {
            flush(&mut run, &mut out);
        }
        run.push((path, mark, node));
    }
    flush(&mut run, &mut out);
    out
}

fn node_rows(out: &mut String, path: &str, x: &Node, y: &Node, a: &str, b: &str) {
    let same =
        x.kind == y.kind && x.ids == y.ids && x.objects == y.objects && x.resources == y.resources;
    if same {
        out.push_str(&format!("  = {path}  {}\n", describe(x)));
        return;
    }
    let width = a.len().max(b.len());
    if x.kind != y.kind || x.ids != y.ids {
        out.push_str(&format!("  ~ {path}\n"));
        out.push_str(&format!(
            "      {a:width$}: {}\n      {b:width$}: {}\n",
            describe(x),
            describe(y)
        ));
    } else {
        out.push_str(&format!("  ~ {path}  {}\n", describe(x)));
    }
    let missing = |p: &Node, q: &Node| -> Vec<String> {
        p.objects.iter().filter(|o| !q.objects.contains(o)).cloned().collect()
    };
    let (only_x, only_y) = (missing(x, y), missing(y, x));
    if !only_x.is_empty() || !only_y.is_empty() {
        out.push_str(&format!(
            "      objects only {a}: {} | only {b}: {}\n",
            dash_if_empty(&only_x),
            dash_if_empty(&only_y)
        ));
    }
    let owners: BTreeSet<&String> = x.resources.keys().chain(y.resources.keys()).collect();
    for owner in owners {
        let (rx, ry) = (x.resources.get(owner), y.resources.get(owner));
        if rx != ry {
            let show = |r: Option<&Vec<String>>| r.map_or("-".to_string(), |r| r.join(", "));
            out.push_str(&format!(
                "      resources {owner}\n        {a:width$}: {}\n        {b:width$}: {}\n",
                show(rx),
                show(ry)
            ));
        }
    }
}

fn dash_if_empty(items: &[String]) -> String {
    if items.is_empty() { "-".into() } else { items.join(" ") }
}

/// Per table: the lines removed and added, `None` when identical.
pub type DiffStats = Vec<(String, Option<(usize, usize)>)>;

/// `diff -u` of the masked .dsl of every table both sides have. Returns the diff text and,
/// per table, the count of removed and added lines (`None` when identical).
pub fn dsl_diff(
    ours: (&str, &Path),
    theirs: (&str, &Path),
    tables: &[String],
) -> Result<(String, DiffStats)> {
    let mut text = String::new();
    let mut stats = Vec::new();
    for table in tables {
        let (x, y) = (ours.1.join(format!("{table}.dsl")), theirs.1.join(format!("{table}.dsl")));
        if !x.exists() || !y.exists() {
            continue;
        }
        let out = Command::new("diff")
            .arg("-u")
            .args(["--label", &format!("{}/{table}.dsl", ours.0)])
            .args(["--label", &format!("{}/{table}.dsl", theirs.0)])
            .arg(&x)
            .arg(&y)
            .output()
            .map_err(|e| format!("cannot run diff: {e}"))?;
        // diff: 0 same, 1 different, 2 trouble.
        if out.status.code() == Some(2) {
            return Err(format!("diff {table}: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let diff = String::from_utf8_lossy(&out.stdout).into_owned();
        if diff.is_empty() {
            stats.push((table.clone(), None));
            continue;
        }
        let count = |sign: char| {
            diff.lines()
                .filter(|l| l.starts_with(sign) && !l.starts_with("---") && !l.starts_with("+++"))
                .count()
        };
        stats.push((table.clone(), Some((count('-'), count('+')))));
        text.push_str(&diff);
    }
    Ok((text, stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(label: &str, fields: &str, nodes: &[(&str, &str)]) -> Summary {
        let fields = fields::from_text(fields);
        let tables = fields[0].value.split(' ').map(String::from).collect();
        let namespace = nodes
            .iter()
            .map(|(path, kind)| {
                (path.to_string(), Node { kind: kind.to_string(), ..Node::default() })
            })
            .collect();
        Summary { label: label.into(), tables, fields, namespace }
    }

    #[test]
    fn report_marks_same_different_and_one_sided() {
        let ours = summary(
            "ours",
            "*.tables = FACP MCFG\nFACP.SCI_INT = 9\nFACP.SMI_CMD = 0xb2\nMCFG.range 0 = x\n",
            &[("\\_SB.PCI0", "Device"), ("\\_SB.C000", "Device"), ("\\_SB.C001", "Device")],
        );
        let qemu = summary(
            "qemu",
            "*.tables = FACP WAET\nFACP.SCI_INT = 9\nFACP.SMI_CMD = 0x0\n",
            &[
                ("\\_SB.PCI0", "Device"),
                ("\\_SB.PR00", "Processor (0x00)"),
                ("\\_SB.PR01", "Processor (0x01)"),
                ("\\_SB.PR02", "Processor (0x02)"),
                ("\\_SB.PR03", "Processor (0x03)"),
            ],
        );
        let (mut ours, mut qemu) = (ours, qemu);
        let slot = |path: &str| {
            let mut node = Node { kind: "Device".into(), ..Node::default() };
            node.ids.insert("_ADR".into(), "0x00010000".into());
            (path.to_string(), node)
        };
        ours.namespace.extend([slot("\\_SB.PCI0.S08")]);
        qemu.namespace.extend([slot("\\_SB.PCI0.S1")]);
        let report = structural(&ours, &qemu, false);
        let differences = structural(&ours, &qemu, true);
        assert!(!differences.contains("  = ") && differences.contains("  ~ SMI_CMD"));
        for expected in [
            "  only in ours: MCFG\n",
            "  only in qemu: WAET\n",
            "  = SCI_INT: 9\n",
            "  ~ SMI_CMD\n      ours: 0xb2\n      qemu: 0x0\n",
            "  < range 0: x\n",
            "  < \\_SB.C000  Device []\n  < \\_SB.C001  Device []\n",
            "  = \\_SB.PCI0.S08 (qemu: \\_SB.PCI0.S1)  Device _ADR=0x00010000\n",
            "  = \\_SB.PCI0  Device\n",
            "  > \\_SB.PR00 .. \\_SB.PR03 (4 Processor nodes, only qemu)\n",
        ] {
            assert!(report.contains(expected), "`{expected}` missing from:\n{report}");
        }
    }

    #[test]
    fn differences_are_one_line_each() {
        let mut ours = summary(
            "ours",
            "*.tables = FACP SSDT1\nFACP.SCI_INT = 9\nFACP.Flags = 0x8545\n",
            &[("\\_SB.PCI0", "Device"), ("\\_SB.HPET", "Device")],
        );
        let mut xen = summary(
            "hvmloader",
            "*.tables = FACP SSDT1 SSDT2\nFACP.SCI_INT = 9\nFACP.Flags = 0x8145\n",
            &[("\\_SB.PCI0", "Device"), ("\\_SB.PR00", "Processor (0x00)")],
        );
        let keyboard = |path: &str, cid: Option<&str>, objects: &[&str]| {
            let mut node = Node { kind: "Device".into(), ..Node::default() };
            node.ids.insert("_HID".into(), "PNP0303".into());
            if let Some(cid) = cid {
                node.ids.insert("_CID".into(), cid.into());
            }
            node.objects = objects.iter().map(|o| o.to_string()).collect();
            (path.to_string(), node)
        };
        ours.namespace.extend([keyboard("\\_SB.PCI0.KBD", None, &["_HID"])]);
        xen.namespace.extend([keyboard("\\_SB.PCI0.PS2K", Some("PNP030B"), &["_HID", "_STA()"])]);
        assert_eq!(
            differences(&ours, &xen),
            [
                "tables: only hvmloader: SSDT2",
                "FACP Flags: ours 0x8545 | hvmloader 0x8145",
                "\\_SB.HPET: only ours: Device",
                "\\_SB.PCI0.KBD (hvmloader: \\_SB.PCI0.PS2K): _CID: only hvmloader: PNP030B",
                "\\_SB.PCI0.KBD (hvmloader: \\_SB.PCI0.PS2K): object only hvmloader: _STA()",
                "\\_SB.PR00: only hvmloader: Processor (0x00)",
            ]
        );
        assert!(differences(&ours, &ours).is_empty());
    }

    #[test]
    fn globs_match_whole_lines() {
        assert!(glob("\\_SB.PR*: only hvmloader: *", "\\_SB.PR7F: only hvmloader: Processor"));
        assert!(glob("FACP Flags: *", "FACP Flags: ours 1 | hvmloader 2"));
        assert!(glob("a*b*c", "abc") && glob("a*b*c", "a-b-b-c") && glob("exact", "exact"));
        assert!(!glob("FACP Flags", "FACP Flags: x"), "no implicit trailing *");
        assert!(!glob("*Flags", "FACP Flags: x") && !glob("a*b*c", "a-c-b"));
        assert!(!glob("ab*ba", "aba"), "the two ends may not overlap");
    }
}
