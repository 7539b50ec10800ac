//! Seed 003, the notebook "Cross Entropy": `CrossEntropyLoss` fed sigmoid outputs, `BCELoss`
//! on multi-label targets and on targets outside {0, 1}, `one_hot` and per-row entropies in
//! bits, and the XOR network `Linear(2,5)-Sigmoid-Linear(5,2)-Sigmoid` with the weights the
//! notebook printed.
//!
//! The constants are the notebook's printed tensors, digit for digit; every printed value
//! is rounded to 4 decimals, which the tests take into account.
//! Used by `examples/bce_and_xor.rs` and `tests/seed_003.rs`.

use torchlet::nn::functional as F;
use torchlet::nn::{Linear, Sequential, Sigmoid};
use torchlet::{DType, Result, Tensor};

/// In \[186\]: `last_layer = torch.randn(5, 2)`, "5 data points, with 2 real number output each".
pub const CE_LAST_LAYER: [[f32; 2]; 5] =
    [[-0.7833, -0.6955], [-0.3951, -1.2426], [0.5134, -1.4385], [-0.5044, 0.4975], [-1.4518, -1.5407]];

/// In \[187\]: `predictions = torch.sigmoid(last_layer)`.
pub const CE_PREDICTIONS: [[f32; 2]; 5] =
    [[0.3136, 0.3328], [0.4025, 0.2240], [0.6256, 0.1918], [0.3765, 0.6219], [0.1897, 0.1764]];

/// In \[188\]: `truth`, one class index per data point.
pub const CE_TRUTH: [i64; 5] = [0, 0, 0, 1, 0];

/// In \[190\]: `nn.CrossEntropyLoss()(predictions, truth)`.
pub const CE_PRINTED_LOSS: f64 = 0.6149;

/// In \[90\]: `last_layer = torch.randn(5, 3)` of the BCE cells, "before activation function".
pub const BCE_LAST_LAYER: [[f32; 3]; 5] = [
    [-2.0245, 0.2092, 0.5374],
    [-0.6163, 1.1205, 0.4234],
    [0.7822, 0.8506, 0.2875],
    [1.0529, 1.7423, 0.5177],
    [0.5219, -0.5256, -1.3008],
];

/// In \[91\]: `predictions = torch.sigmoid(last_layer)`, "after activation function".
pub const BCE_PREDICTIONS: [[f32; 3]; 5] = [
    [0.1167, 0.5521, 0.6312],
    [0.3506, 0.7541, 0.6043],
    [0.6861, 0.7007, 0.5714],
    [0.7413, 0.8510, 0.6266],
    [0.6276, 0.3715, 0.2140],
];

/// In \[95\]: `truth`, three 0/1 labels per data point (multi-label).
pub const BCE_TRUTH: [[f32; 3]; 5] = [[0., 0., 0.], [1., 0., 0.], [1., 1., 1.], [1., 1., 1.], [1., 0., 0.]];

/// In \[97\]: `nn.BCELoss()(predictions, truth)`.
pub const BCE_PRINTED_LOSS: f64 = 0.5796;

/// In \[99\]: the predictions of "What happens when the space isn't just 0s or 1s?".
pub const BAD_PREDICTIONS: [[f32; 3]; 5] = [
    [0.3793, 0.7710, 0.5964],
    [0.9048, 0.8805, 0.4903],
    [0.2629, 0.6860, 0.6095],
    [0.5221, 0.2022, 0.6634],
    [0.1605, 0.3513, 0.6699],
];

/// In \[100\]: `truth = torch.LongTensor(5, 3).random_(0,5).float()`: labels 0..4.
pub const BAD_TRUTH: [[f32; 3]; 5] = [[0., 4., 0.], [2., 2., 1.], [2., 1., 2.], [4., 4., 2.], [2., 2., 1.]];

/// In \[102\]: what the PyTorch of 2019 returned for those targets (current PyTorch, and
/// torchlet, reject them).
pub const BAD_PRINTED_LOSS: f64 = 0.5911;

/// In \[193\]: `torch.nn.functional.one_hot(truth)`.
pub const ONE_HOT_PRINTED: [[i64; 2]; 5] = [[1, 0], [1, 0], [1, 0], [0, 1], [1, 0]];

/// In \[205\]: `row_entropy = [-1 * float(t * math.log2(p)) for p, t in zip(row_pred, row_truth)]`
/// for each row; computed from the full-precision predictions, printed as f32 values.
pub const ROW_ENTROPIES_PRINTED: [[f64; 2]; 5] = [
    [1.6729376316070557, 0.0],
    [1.3129408359527588, 0.0],
    [0.676690399646759, 0.0],
    [0.0, 0.6853156685829163],
    [2.3980143070220947, 0.0],
];

/// `BCE_PREDICTIONS` and friends as tensors of `dtype`.
pub fn tensor<const N: usize, const M: usize>(v: [[f32; N]; M], dtype: DType) -> Result<Tensor> {
    Tensor::from(v).to_dtype(dtype)
}

/// `CE_TRUTH` as an i64 tensor.
pub fn ce_truth() -> Tensor {
    Tensor::from(CE_TRUTH.to_vec())
}

/// The binary cross-entropy formula applied without checking the targets, as the PyTorch of
/// 2019 did: `mean(-(t max(ln p, -100) + (1 - t) max(ln(1 - p), -100)))`, from tensor ops.
/// With `t` outside [0, 1] this is no longer a cross-entropy (a weight `1 - t < 0` rewards
/// a *low* `ln(1 - p)`), which is why current PyTorch and torchlet reject such targets.
pub fn bce_unchecked(p: &Tensor, t: &Tensor) -> Result<Tensor> {
    let log_p = p.log()?.clamp(Some(-100.0), None)?;
    let log_1mp = p.neg()?.log1p()?.clamp(Some(-100.0), None)?;
    let one_minus_t = t.neg()?.add_scalar(1.0)?;
    t.mul(&log_p)?.add(&one_minus_t.mul(&log_1mp)?)?.mean()?.neg()
}

/// In \[205\]: `-t * log2(p)` elementwise for `t = one_hot(truth)`: each row holds the
/// cross-entropy in bits of that data point's prediction against its one-hot label (only
/// the true class contributes). `predictions` `(N, C)`, `truth` `(N)` i64.
pub fn row_entropies(predictions: &Tensor, truth: &Tensor) -> Result<Tensor> {
    let c = predictions.size(-1)?;
    let one_hot = F::one_hot(truth, Some(c))?.to_dtype(predictions.dtype())?;
    let log2_p = predictions.log()?.mul_scalar(1.0 / std::f64::consts::LN_2)?;
    one_hot.mul(&log2_p)?.neg()
}

/// In \[292\]: the XOR network's parameters as printed: `0.weight`, `0.bias`, `2.weight`,
/// `2.bias`, flattened in that order (27 values).
pub const XOR_PARAMETERS: [f32; 27] = [
    0.6037, -0.0889, 0.6657, 0.2893, -0.4809, -0.2565, -0.3140, 0.6397, 0.4835,
    0.2135, // 0.weight (5, 2)
    -0.2218, 0.2330, 0.6987, -0.1540, 0.1504, // 0.bias (5)
    -0.2135, -0.2679, 0.2896, -0.0270, 0.0190, 0.0608, 0.2798, -0.4467, -0.3066,
    0.3231, // 2.weight (2, 5)
    -0.3147, 0.1126, // 2.bias (2)
];

/// In \[281\]: `predictions = model(X_pt)`.
pub const XOR_PREDICTIONS: [[f32; 2]; 4] =
    [[0.4089, 0.5076], [0.4006, 0.5109], [0.3846, 0.5483], [0.3770, 0.5506]];

/// In \[289\]: `nn.CrossEntropyLoss()(predictions, truth)`.
pub const XOR_PRINTED_LOSS: f64 = 0.6954;

/// In \[288\]: `list(model.parameters())[0].grad` after `loss.backward()`.
pub const XOR_WEIGHT0_GRAD: [[f64; 2]; 5] = [
    [3.5187e-04, 2.5118e-04],
    [8.1553e-05, -4.9206e-04],
    [-9.7865e-04, -9.6398e-04],
    [-4.5266e-04, -3.8973e-04],
    [1.8965e-04, -2.3537e-05],
];

/// The notebook's `nn.Sequential(nn.Linear(2, 5), nn.Sigmoid(), nn.Linear(5, 2), nn.Sigmoid())`
/// with the 27 parameter values `params` (ordered as [`XOR_PARAMETERS`]), in `dtype`.
pub fn xor_model(params: &[f64], dtype: DType) -> Result<Sequential> {
    let t = |range: std::ops::Range<usize>, shape: &[usize]| -> Result<Tensor> {
        Tensor::from_vec(params[range].to_vec(), shape.to_vec())?.to_dtype(dtype)
    };
    let l0 = Linear::from_weights(t(0..10, &[5, 2])?, Some(t(10..15, &[5])?))?;
    let l2 = Linear::from_weights(t(15..25, &[2, 5])?, Some(t(25..27, &[2])?))?;
    Ok(Sequential::new().add(l0).add(Sigmoid).add(l2).add(Sigmoid))
}

/// The notebook's optimizer, `optim.SGD(model.parameters(), lr=0.03)`.
pub const XOR_LR: f64 = 0.03;

/// What the notebook's XOR cells compute from parameters `params`: the predictions `(4, 2)`,
/// the cross-entropy loss of those predictions against `[0, 1, 1, 0]`, and the gradients
/// after `loss.backward()`.
pub struct XorCells {
    /// `model(X_pt)`.
    pub predictions: Tensor,
    /// `nn.CrossEntropyLoss()(predictions, truth)`.
    pub loss: Tensor,
    /// `list(model.parameters())[0].grad`.
    pub weight0_grad: Tensor,
    /// The gradients of all 27 parameters, ordered as [`XOR_PARAMETERS`].
    pub gradients: Vec<f64>,
}

/// Runs the notebook's XOR cells (forward, loss, backward) with parameters `params`.
pub fn xor_cells(params: &[f64], dtype: DType) -> Result<XorCells> {
    use torchlet::nn::Module;
    let model = xor_model(params, dtype)?;
    let x = crate::demos::xor_inputs().to_dtype(dtype)?;
    let predictions = model.forward(&x)?;
    let loss = F::cross_entropy(&predictions, &crate::demos::xor_targets())?;
    loss.backward()?;
    let grads: Vec<Tensor> = model
        .parameters()
        .iter()
        .map(|p| {
            p.grad().ok_or_else(|| torchlet::Error::autograd("xor_cells", "a parameter got no gradient"))
        })
        .collect::<Result<_>>()?;
    let gradients = grads.iter().flat_map(Tensor::to_f64_vec).collect();
    Ok(XorCells { predictions, loss, weight0_grad: grads[0].clone(), gradients })
}

/// [`XOR_PARAMETERS`] as f64.
pub fn xor_parameters() -> Vec<f64> {
    XOR_PARAMETERS.iter().map(|&v| v as f64).collect()
}

/// The parameters *before* one SGD step that ends at `after`: the notebook printed its
/// parameters (In \[291\], In \[292\]) after a hidden cell (In \[290\], between the loss and the
/// parameters) ran `optimizer.step()`, i.e. `after = before - lr * grad(before)`. Solved for
/// `before` by fixed-point iteration (`before = after + lr * grad(before)`; the map contracts
/// strongly since `lr * |Hessian|` is about 1e-3, so five rounds reach f64 precision).
///
/// Evidence: from the printed parameters the predictions come out up to 2e-4 away from the
/// printed ones, more than the 4-decimal rounding of the parameters can explain; from the
/// parameters before the step they agree to every printed digit (`tests/seed_003.rs`).
pub fn xor_parameters_before_step(after: &[f64], dtype: DType) -> Result<Vec<f64>> {
    let mut before = after.to_vec();
    for _ in 0..5 {
        let g = xor_cells(&before, dtype)?.gradients;
        before = after.iter().zip(&g).map(|(a, g)| a + XOR_LR * g).collect();
    }
    Ok(before)
}
