//! The library's modules form layers whose dependencies only point down
//! (docs/ARCHITECTURE.md). This test reads `src/` the way
//! `../shared/tools/modcycles.py` does — every `crate::NAME` outside
//! `#[cfg(test)]` code and comments, `NAME` resolved through the crate
//! root's re-exports — and fails on a module missing from [`LAYERS`], on
//! an edge to a higher layer, and on any cycle, within a layer too.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The layers, lowest first. A module may use modules of its own layer
/// (without a cycle) and of the layers below it, never one above.
const LAYERS: &[(&str, &[&str])] = &[
    ("foundation", &["error", "limits", "text", "util"]),
    (
        "io primitives",
        &[
            "beneath",
            "compression",
            "digest",
            "fsio",
            "progress",
            "spool",
            "stage",
        ],
    ),
    ("formats", &["config", "format", "id", "manifest"]),
    ("storage and streams", &["archive", "journal", "storage"]),
    (
        "keys",
        &[
            "card",
            "group",
            "identity",
            "recipient",
            "recovery",
            "unlock",
        ],
    ),
    ("repository", &["keyring", "repo"]),
    (
        "commands",
        &[
            "catalog",
            "copy",
            "drill",
            "enroll",
            "escrow",
            "open",
            "retention",
            "rewrap",
            "run",
            "seal",
        ],
    ),
    ("rendering", &["render"]),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// `s` without line comments and without everything from the first
/// `#[cfg(test)]` on (unit tests sit at the end of a file).
fn code(s: &str) -> String {
    let s = s.find("#[cfg(test)]").map_or(s, |i| &s[..i]);
    s.lines()
        .map(|l| l.find("//").map_or(l, |i| &l[..i]))
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every `NAME` in `crate::NAME` and `crate::{NAME, …}`.
fn crate_refs(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        if i > 0 {
            let before = code.as_bytes()[i - 1];
            if before.is_ascii_alphanumeric() || before == b'_' {
                continue;
            }
        }
        let rest = &code[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of a (possibly nested) group.
            let mut depth = 0;
            let mut at_name = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_name = true,
                    c if at_name && depth == 0 && !c.is_whitespace() => {
                        out.insert(ident_at(&group[j..]).to_owned());
                        at_name = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.insert(ident_at(rest).to_owned());
        }
    }
    out.retain(|n| !n.is_empty());
    out
}

/// The crate root's modules, and the names it re-exports with the module
/// each comes from.
fn root() -> (Vec<String>, BTreeMap<String, String>) {
    let lib = code(&fs::read_to_string(src().join("lib.rs")).unwrap());
    // Attributes (`#![forbid(unsafe_code)]`, `#[doc(inline)]`) are not items.
    let lib: String = lib
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let mut mods = Vec::new();
    let mut alias = BTreeMap::new();
    for stmt in lib.split(';') {
        let words: Vec<&str> = stmt.split_whitespace().collect();
        let words = match words.first() {
            Some(w) if w.starts_with("pub") => &words[1..],
            _ => &words[..],
        };
        match words {
            ["mod", name] => mods.push(name.to_string()),
            ["use", path @ ..] => {
                let path = path.join(" ");
                let module = ident_at(&path).to_owned();
                let names = match path.split_once('{') {
                    Some((_, g)) => g.trim_end_matches('}').to_owned(),
                    None => path.rsplit("::").next().unwrap().to_owned(),
                };
                for n in names.split(',') {
                    let n = n.rsplit(" as ").next().unwrap().trim();
                    if !n.is_empty() {
                        alias.insert(n.to_owned(), module.clone());
                    }
                }
            }
            _ => {}
        }
    }
    (mods, alias)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Which top-level module uses which.
fn graph() -> Graph {
    let (mods, alias) = root();
    let mut g: Graph = mods.iter().map(|m| (m.clone(), BTreeSet::new())).collect();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    for f in files {
        let rel = f.strip_prefix(src()).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_str()
            .unwrap();
        if first == "bin" || first == "lib.rs" {
            continue;
        }
        let me = first.trim_end_matches(".rs").to_owned();
        let Some(edges) = g.get(&me).map(|_| ()) else {
            continue;
        };
        let () = edges;
        for r in crate_refs(&code(&fs::read_to_string(&f).unwrap())) {
            let target = if mods.contains(&r) {
                Some(r)
            } else {
                alias.get(&r).cloned()
            };
            if let Some(t) = target.filter(|t| *t != me) {
                g.get_mut(&me).unwrap().insert(t);
            }
        }
    }
    g
}

/// The modules on some cycle, as strongly connected components of more
/// than one module (Tarjan).
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    struct T<'a> {
        g: &'a Graph,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        out: Vec<Vec<String>>,
    }
    fn visit<'a>(t: &mut T<'a>, v: &'a str) {
        let i = t.index.len();
        t.index.insert(v, i);
        t.low.insert(v, i);
        t.stack.push(v);
        for w in t.g.get(v).into_iter().flatten() {
            let w = w.as_str();
            if !t.index.contains_key(w) {
                visit(t, w);
                let lw = t.low[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(lw);
            } else if t.stack.contains(&w) {
                let iw = t.index[w];
                let lv = t.low.get_mut(v).unwrap();
                *lv = (*lv).min(iw);
            }
        }
        if t.low[v] == t.index[v] {
            let mut c = Vec::new();
            loop {
                let w = t.stack.pop().unwrap();
                c.push(w.to_owned());
                if w == v {
                    break;
                }
            }
            if c.len() > 1 {
                c.sort();
                t.out.push(c);
            }
        }
    }
    let mut t = T {
        g,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in g.keys() {
        if !t.index.contains_key(v.as_str()) {
            visit(&mut t, v);
        }
    }
    t.out
}

/// Every edge that points to a higher layer, as messages.
fn upward(g: &Graph) -> Vec<String> {
    let layer = |m: &str| LAYERS.iter().position(|(_, ms)| ms.contains(&m));
    let mut out = Vec::new();
    for (m, ts) in g {
        for t in ts {
            if let (Some(a), Some(b)) = (layer(m), layer(t))
                && b > a
            {
                out.push(format!(
                    "{m} ({}) uses {t} ({}), a higher layer",
                    LAYERS[a].0, LAYERS[b].0
                ));
            }
        }
    }
    out
}

#[test]
fn every_module_has_a_layer() {
    let g = graph();
    assert!(
        g.len() > 20,
        "read only {} modules: {:?}",
        g.len(),
        g.keys()
    );
    let placed: Vec<&str> = LAYERS
        .iter()
        .flat_map(|(_, ms)| ms.iter().copied())
        .collect();
    for m in g.keys() {
        assert_eq!(
            placed.iter().filter(|p| **p == m).count(),
            1,
            "module {m} must be in exactly one layer of LAYERS (tests/layers.rs) and of docs/ARCHITECTURE.md"
        );
    }
    for p in &placed {
        assert!(
            g.contains_key(*p),
            "LAYERS names {p}, which src/lib.rs does not declare"
        );
    }
}

#[test]
fn dependencies_only_point_down() {
    let g = graph();
    let up = upward(&g);
    assert!(up.is_empty(), "{}", up.join("\n"));
    let c = cycles(&g);
    assert!(c.is_empty(), "modules in a cycle: {c:?}");
}

#[test]
fn lib_rs_declares_modules_layer_by_layer() {
    let (mods, _) = root();
    let layer = |m: &String| LAYERS.iter().position(|(_, ms)| ms.contains(&m.as_str()));
    let order: Vec<_> = mods.iter().map(layer).collect();
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(
        order, sorted,
        "src/lib.rs lists modules out of layer order: {mods:?}"
    );
}

#[test]
fn the_checker_sees_cycles_and_upward_edges() {
    // The checks above must be able to fail: a planted cycle and a planted
    // upward edge are found.
    let mut g = graph();
    g.get_mut("error").unwrap().insert("repo".into());
    assert!(
        upward(&g)
            .iter()
            .any(|m| m.starts_with("error (foundation) uses repo"))
    );
    assert!(cycles(&g).iter().any(|c| c.contains(&"error".to_owned())));
    // And the scanner reads grouped, nested and plain paths alike.
    let refs =
        crate_refs("use crate::{a::{b, c}, d};\nlet x = crate::e::f(); mycrate::g; // crate::h");
    assert!(
        refs.contains("a") && refs.contains("d") && refs.contains("e"),
        "{refs:?}"
    );
    assert!(!refs.contains("b") && !refs.contains("g"), "{refs:?}");
    assert!(crate_refs(&code("x // crate::h\n#[cfg(test)]\ncrate::i")).is_empty());
}
