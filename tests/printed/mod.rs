//! Comparing torchlet's results with the numbers the seed documents printed.
//!
//! A printed value like `0.6149` stands for anything in `[0.61485, 0.61495]`: half a unit
//! in the last printed digit. When the *inputs* of a computation were printed rounded too
//! (the notebooks' `randn` draws), the computation from the printed inputs can differ from
//! the printed output by more than that: by up to `sum_j |df/dx_j| * 5e-5` to first order.
//! [`input_rounding_bound`] computes that bound from central differences in f64.

#![allow(dead_code)] // each test file uses a subset

/// Half a unit in the 4th decimal: what `tensor(0.6149)` leaves open.
pub const HALF_4DP: f64 = 5e-5;

/// The seeds computed in f32 (24-bit significands, relative rounding 6e-8 per operation).
/// Our f32 kernels round differently (other summation orders, other exp/log), and the
/// computations here are a few dozen operations deep: 4e-6 relative covers that with room,
/// and is still 10x below the 4-decimal resolution of a value near 1.
pub const F32_REL: f64 = 4e-6;

/// Half a unit in the last digit of `v` printed with 5 significant digits (`3.5187e-04`
/// leaves `5e-9` open).
pub fn half_unit_5_significant(v: f64) -> f64 {
    if v == 0.0 {
        return 0.0;
    }
    0.5 * 10f64.powi(v.abs().log10().floor() as i32 - 4)
}

/// First-order bound on how far each output of `f` moves when every input moves by up to
/// `delta`: `sum_j |d f_i / d x_j| * delta`, with the derivatives from central differences
/// (step `1e-6`) of `f` evaluated in f64. Second-order terms are of order `delta^2 = 2.5e-9`
/// times the curvature, negligible next to the 5e-5 rounding itself.
pub fn input_rounding_bound(f: impl Fn(&[f64]) -> Vec<f64>, x: &[f64], delta: f64) -> Vec<f64> {
    const H: f64 = 1e-6;
    let n_out = f(x).len();
    let mut bound = vec![0.0; n_out];
    let mut xp = x.to_vec();
    for j in 0..x.len() {
        xp[j] = x[j] + H;
        let up = f(&xp);
        xp[j] = x[j] - H;
        let down = f(&xp);
        xp[j] = x[j];
        for i in 0..n_out {
            bound[i] += ((up[i] - down[i]) / (2.0 * H)).abs() * delta;
        }
    }
    bound
}

/// Asserts `|got_i - printed_i| <= tol_i` for every `i`; returns how many values it checked.
pub fn assert_printed(what: &str, got: &[f64], printed: &[f64], tol: &[f64]) -> usize {
    assert_eq!(got.len(), printed.len(), "{what}: {} values vs {} printed", got.len(), printed.len());
    assert_eq!(tol.len(), printed.len(), "{what}: one tolerance per value");
    for (i, ((&g, &p), &t)) in got.iter().zip(printed).zip(tol).enumerate() {
        assert!(
            (g - p).abs() <= t,
            "{what}[{i}]: got {g}, the seed printed {p} (|diff| {:.3e} > tolerance {t:.3e})",
            (g - p).abs()
        );
    }
    printed.len()
}

/// The tolerance for values printed to 4 decimals, computed by `f` from inputs that were
/// printed to 4 decimals: `5e-5` (output rounding) + the input-rounding bound + f32 slack.
pub fn tolerance_4dp(f: impl Fn(&[f64]) -> Vec<f64>, inputs: &[f64], printed: &[f64]) -> Vec<f64> {
    input_rounding_bound(f, inputs, HALF_4DP)
        .iter()
        .zip(printed)
        .map(|(b, p)| HALF_4DP + b + F32_REL * p.abs())
        .collect()
}

/// Flattens rows of a printed 2-D tensor to f64.
pub fn flat<const N: usize>(rows: &[[f32; N]]) -> Vec<f64> {
    rows.iter().flatten().map(|&v| v as f64).collect()
}

/// One unit in the last printed digit of a number token (`3.2870` -> 1e-4, `8.353392e-04`
/// -> 1e-10, `47024` -> 1).
fn last_digit_unit(token: &str) -> f64 {
    let (mantissa, exp) = match token.split_once(['e', 'E']) {
        Some((m, e)) => (m, e.parse::<i32>().unwrap_or(0)),
        None => (token, 0),
    };
    let decimals = mantissa.split_once('.').map_or(0, |(_, d)| d.len()) as i32;
    10f64.powi(exp - decimals)
}

/// The tokens of a printed line: words and numbers, split at spaces and at `|(),:%`.
fn tokens(line: &str) -> Vec<&str> {
    line.split(|c: char| c.is_whitespace() || "|(),:%".contains(c)).filter(|t| !t.is_empty()).collect()
}

/// Asserts that `got` prints what PyTorch printed (`want`, one line per line): the same
/// words, and every number within one unit of its last printed digit plus `rel` relative
/// (f32 sums in another order differ in the 7th significant digit; `+0.000000` and
/// `-0.000000` are both zero).
pub fn assert_lines_close(got: &[String], want: &str, rel: f64) {
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(
        got.len(),
        want.len(),
        "{} lines printed, PyTorch printed {}:\n{}",
        got.len(),
        want.len(),
        got.join("\n")
    );
    for (g, w) in got.iter().zip(&want) {
        let (gt, wt) = (tokens(g), tokens(w));
        assert_eq!(gt.len(), wt.len(), "`{g}` vs PyTorch's `{w}`");
        for (a, b) in gt.iter().zip(&wt) {
            match (a.parse::<f64>(), b.parse::<f64>()) {
                (Ok(x), Ok(y)) => assert!(
                    (x - y).abs() <= last_digit_unit(b) + rel * y.abs(),
                    "`{g}` vs PyTorch's `{w}`: {a} vs {b}"
                ),
                _ => assert_eq!(a, b, "`{g}` vs PyTorch's `{w}`"),
            }
        }
    }
}
