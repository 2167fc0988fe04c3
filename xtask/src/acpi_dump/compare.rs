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

    // Key fields, table by table (ours' order, then tables only the other side has).
    let mut tables: Vec<&String> = ours.tables.iter().collect();
    tables.extend(theirs.tables.iter().filter(|t| !ours.tables.contains(t)));
    for table in tables {
        let of = |s: &Summary| -> Vec<(String, String)> {
            s.fields
                .iter()
                .filter(|f| &f.table == table)
                .map(|f| (f.key.clone(), f.value.clone()))
                .collect()
        };
        let (mine, other) = (of(ours), of(theirs));
        if mine.is_empty() && other.is_empty() {
            continue;
        }
        out.push_str(&format!("\n== {table} ==\n"));
        let mut keys: Vec<&String> = mine.iter().map(|(k, _)| k).collect();
        keys.extend(other.iter().map(|(k, _)| k).filter(|k| !mine.iter().any(|(m, _)| m == *k)));
        for key in keys {
            let find = |side: &[(String, String)]| {
                side.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
            };
            out.push_str(&row(key, find(&mine), find(&other), a, b));
        }
    }

    out.push_str(&format!(
        "\n== namespace (DSDT + SSDTs merged; = same, ~ differs, < only {a}, > only {b}) ==\n"
    ));
    out.push_str(&namespace_rows(&ours.namespace, &theirs.namespace, a, b));
    out
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

fn namespace_rows(ours: &Namespace, theirs: &Namespace, a: &str, b: &str) -> String {
    let aligned = align(ours, theirs);
    let matched: BTreeMap<&String, &String> = aligned.iter().map(|(t, o)| (o, t)).collect();
    // Rows in ours' namespace order; a node only the other side has sorts where its
    // (aligned) parent puts it.
    let mut rows: BTreeMap<String, Row> = BTreeMap::new();
    for (path, node) in ours {
        let other = matched.get(path).map(|t| (*t, &theirs[*t]));
        rows.insert(path.clone(), (Some(node), other));
    }
    for (path, node) in theirs.iter().filter(|(p, _)| !aligned.contains_key(*p)) {
        let parent = parent_of(path);
        let parent = aligned.get(parent).map_or(parent, String::as_str);
        let last = path.rsplit_once('.').map_or(path.as_str(), |(_, l)| l);
        rows.insert(format!("{parent}.{last}"), (None, Some((path, node))));
    }

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
}
