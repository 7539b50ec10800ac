//! Drawing the recorded graph as Graphviz DOT (`tensor.to_dot()`), for teaching: one box
//! per operation (its `grad_fn` name and output shape), one ellipse per leaf (its name, e.g.
//! `0.weight`, and shape), edges in the direction data flows (inputs -> op -> ... -> loss).
//! Render with `dot -Tpng graph.dot -o graph.png` (Debian package `graphviz`).
//!
//! Call it before `backward()`: backward frees the graph as it walks it.

use crate::tensor::Tensor;
use std::collections::HashSet;
use std::fmt::Write;

impl Tensor {
    /// The graph that produced this tensor, in Graphviz DOT. Leaves that require grad
    /// (parameters) are blue, other leaves (data, targets) grey, operations are boxes.
    pub fn to_dot(&self) -> String {
        let mut out = String::from(
            "digraph torchlet {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n",
        );
        let mut seen = HashSet::new();
        let mut stack = vec![self.clone()];
        let mut nodes = Vec::new();
        let mut edges = Vec::new();
        while let Some(t) = stack.pop() {
            if !seen.insert(t.id()) {
                continue;
            }
            let shape = t.shape();
            match t.node() {
                Some(node) => {
                    nodes.push(format!(
                        "  t{} [shape=box, style=filled, fillcolor=\"#fff2cc\", label=\"{}\\n{}\"];",
                        t.id(),
                        node.name,
                        shape
                    ));
                    let saved = node.saved.lock().unwrap_or_else(|e| e.into_inner());
                    match saved.as_ref() {
                        Some(s) => {
                            for input in &s.inputs {
                                edges.push(format!("  t{} -> t{};", input.id(), t.id()));
                                stack.push(input.clone());
                            }
                        }
                        None => nodes.push(format!("  t{}_freed [shape=plaintext, label=\"(inputs freed by backward)\"];\n  t{}_freed -> t{};", t.id(), t.id(), t.id())),
                    }
                }
                None => {
                    let (label, color) = match (t.name(), t.requires_grad()) {
                        (Some(n), _) => (n, "#cfe2f3"),
                        (None, true) => ("leaf".to_string(), "#cfe2f3"),
                        (None, false) => {
                            (if t.dtype().is_float() { "input" } else { "target" }.to_string(), "#eeeeee")
                        }
                    };
                    nodes.push(format!("  t{} [shape=ellipse, style=filled, fillcolor=\"{color}\", label=\"{label}\\n{shape}\"];", t.id()));
                }
            }
        }
        nodes.sort();
        edges.sort();
        for line in nodes.iter().chain(&edges) {
            let _ = writeln!(out, "{line}");
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn dot_of_a_small_graph() {
        // loss = sum(sigmoid(x @ w^T + b)): leaves x, w, b; ops addmm, sigmoid, sum.
        let x = Tensor::from([[1.0f32, 2.0]]);
        let w = Tensor::from([[0.5f32, -0.5]]).requires_grad_(true).unwrap();
        w.set_name("0.weight");
        let b = Tensor::from([0.1f32]).requires_grad_(true).unwrap();
        b.set_name("0.bias");
        let loss = x.linear(&w, Some(&b)).unwrap().sigmoid().unwrap().sum().unwrap();
        let dot = loss.to_dot();
        assert!(dot.starts_with("digraph torchlet {") && dot.ends_with("}\n"));
        assert_eq!(dot.matches("shape=box").count(), 3, "{dot}");
        assert_eq!(dot.matches("shape=ellipse").count(), 3, "{dot}");
        assert_eq!(dot.matches(" -> ").count(), 5, "x, w, b -> addmm -> sigmoid -> sum:\n{dot}");
        for label in [
            "AddmmBackward0\\n[1, 1]",
            "SigmoidBackward0\\n[1, 1]",
            "SumBackward0\\n[]",
            "0.weight\\n[1, 2]",
            "0.bias\\n[1]",
            "input\\n[1, 2]",
        ] {
            assert!(dot.contains(label), "missing {label}:\n{dot}");
        }
        // A tensor used twice appears once (fan-out is two edges from one node).
        let y = w.mul(&w).unwrap();
        let dot = y.to_dot();
        assert_eq!(dot.matches("shape=ellipse").count(), 1);
        assert_eq!(dot.matches(" -> ").count(), 2);
    }
}
