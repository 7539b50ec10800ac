//! The layout of the crate, checked: the modules of `src/` import each other without cycles,
//! except the inherent pair `tensor` <-> `graph` (a tensor holds the node that produced it, a
//! node holds its input tensors), so the reading order of `lib.rs` can be followed.
//!
//! A module's imports are the `crate::a::b` paths in its code (comments and doc links are
//! not imports); `ops/unary.rs` is the module `ops::unary`, and using `crate::ops::zip` from
//! `ops::unary` is an edge to its parent `ops`. Edges from a module to its own submodules (a
//! parent aggregating its children) are structure, not imports, and are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// `ops/unary.rs` -> `ops::unary`, `ops/mod.rs` -> `ops`.
fn module_name(rel: &Path) -> String {
    let s = rel.with_extension("").to_string_lossy().replace('/', "::");
    s.strip_suffix("::mod").map(str::to_string).unwrap_or(s)
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The modules each module's code refers to through `crate::`.
fn import_graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut paths = Vec::new();
    files(&src, &mut paths);
    let modules: BTreeSet<String> =
        paths.iter().map(|p| module_name(p.strip_prefix(&src).unwrap())).filter(|m| m != "lib").collect();
    let mut graph = BTreeMap::new();
    for p in &paths {
        let me = module_name(p.strip_prefix(&src).unwrap());
        let mut deps = BTreeSet::new();
        for line in std::fs::read_to_string(p).unwrap().lines() {
            let code = line.split("//").next().unwrap_or("");
            for (i, _) in code.match_indices("crate::") {
                if i > 0 && code[..i].ends_with('$') {
                    continue; // `$crate::` in a macro refers to tensor-core
                }
                // The longest module path after `crate::`: `crate::ops::unary::f` -> `ops::unary`;
                // `use crate::{a, b}` lists are split.
                let rest = &code[i + "crate::".len()..];
                let heads: Vec<&str> = match rest.strip_prefix('{') {
                    Some(list) => {
                        list.split(['}', ';']).next().unwrap_or("").split(',').map(str::trim).collect()
                    }
                    None => vec![rest],
                };
                for head in heads {
                    let segs: Vec<&str> = head
                        .split("::")
                        .map(|s| s.trim_matches(|c: char| !(c.is_alphanumeric() || c == '_')))
                        .take_while(|s| !s.is_empty())
                        .collect();
                    let target =
                        (1..=segs.len()).rev().map(|k| segs[..k].join("::")).find(|m| modules.contains(m));
                    if let Some(t) = target {
                        if t != me && !t.starts_with(&format!("{me}::")) {
                            deps.insert(t);
                        }
                    }
                }
            }
        }
        graph.insert(me, deps);
    }
    graph
}

/// A cycle through `start`, if any (depth-first search).
fn cycle_from(
    graph: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    allowed: &[(&str, &str)],
) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        node: &str,
        start: &str,
        path: &mut Vec<String>,
        seen: &mut BTreeSet<String>,
        allowed: &[(&str, &str)],
    ) -> Option<Vec<String>> {
        for next in graph.get(node).into_iter().flatten() {
            if allowed.contains(&(node, next.as_str())) {
                continue;
            }
            if next == start {
                let mut cycle = path.clone();
                cycle.push(start.to_string());
                return Some(cycle);
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if let Some(c) = visit(graph, next, start, path, seen, allowed) {
                    return Some(c);
                }
                path.pop();
            }
        }
        None
    }
    visit(graph, start, start, &mut vec![start.to_string()], &mut BTreeSet::new(), allowed)
}

#[test]
fn modules_import_each_other_without_cycles() {
    let graph = import_graph();
    // The inherent pair: tensor.rs refers to the graph node, graph.rs to Tensor.
    assert!(graph["tensor"].contains("graph") && graph["graph"].contains("tensor"), "{graph:#?}");
    if std::env::var("PRINT_GRAPH").is_ok() {
        eprintln!("{graph:#?}");
    }
    let allowed = [("tensor", "graph")];
    for m in graph.keys() {
        if let Some(c) = cycle_from(&graph, m, &allowed) {
            panic!("import cycle: {}\n{graph:#?}", c.join(" -> "));
        }
    }
}

#[test]
fn the_checker_sees_a_cycle() {
    // The checker itself: a graph with a -> b -> c -> a has a cycle, a -> b -> c does not.
    let edges = |e: &[(&str, &str)]| {
        let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (a, b) in e {
            g.entry(a.to_string()).or_default().insert(b.to_string());
        }
        g
    };
    assert!(cycle_from(&edges(&[("a", "b"), ("b", "c"), ("c", "a")]), "a", &[]).is_some());
    assert!(cycle_from(&edges(&[("a", "b"), ("b", "c")]), "a", &[]).is_none());
    // And it parses imports: the loss files import the graph, functional imports the losses.
    let graph = import_graph();
    assert!(graph["loss::cross_entropy"].contains("graph"), "{graph:#?}");
    assert!(graph["functional"].contains("loss::cross_entropy"), "{graph:#?}");
    assert!(graph["ops::unary"].contains("ops"), "{graph:#?}");
}
