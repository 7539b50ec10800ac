//! Optimizer updates derived by hand (arithmetic in the comments), hyper-parameter
//! validation, and the atomicity of a failing step.

use approx::assert_abs_diff_eq;
use torchlet_autograd::{DType, Tensor, TensorData};
use torchlet_nn::optim::{Adam, AdamOptions, AdamW, Optimizer, SgdOptions, SGD};

/// A leaf f64 parameter requiring grad.
fn param(v: &[f64]) -> Tensor {
    Tensor::with_dtype(v.to_vec(), DType::F64).requires_grad_(true).unwrap()
}

/// Sets `p.grad` as a backward pass would.
fn set_grad(p: &Tensor, g: &[f64]) {
    p.set_grad(Some(TensorData::from(g.to_vec()))).unwrap();
}

fn values(p: &Tensor) -> Vec<f64> {
    p.to_vec::<f64>().unwrap()
}

fn assert_values(p: &Tensor, want: &[f64]) {
    let got = values(p);
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_abs_diff_eq!(*g, *w, epsilon = 1e-12);
    }
}

/// Two steps with the same gradient; returns the parameter after each.
fn two_sgd_steps(opts: SgdOptions, p0: f64, g: f64) -> (f64, f64) {
    let p = param(&[p0]);
    let mut opt = SGD::new(vec![p.clone()], opts).unwrap();
    set_grad(&p, &[g]);
    opt.step().unwrap();
    let first = values(&p)[0];
    opt.step().unwrap();
    (first, values(&p)[0])
}

#[test]
fn sgd_plain_is_p_minus_lr_grad() {
    // p = [1, -2], grad = [0.5, 0.25], lr = 0.1:
    // p - lr*g = [1 - 0.05, -2 - 0.025] = [0.95, -2.025]
    let p = param(&[1.0, -2.0]);
    let mut opt = SGD::new(vec![p.clone()], 0.1).unwrap();
    set_grad(&p, &[0.5, 0.25]);
    opt.step().unwrap();
    assert_values(&p, &[0.95, -2.025]);
    assert!(opt.momentum_buffer(0).is_none(), "no momentum, no buffer");
}

#[test]
fn sgd_momentum_first_step_copies_the_gradient() {
    // step 1: buf = g = 0.5;                  p = 1 - 0.1*0.5   = 0.95
    // step 2: buf = 0.9*0.5 + 0.5 = 0.95;     p = 0.95 - 0.1*0.95 = 0.855
    let (a, b) = two_sgd_steps(SgdOptions::new(0.1).momentum(0.9), 1.0, 0.5);
    assert_abs_diff_eq!(a, 0.95, epsilon = 1e-12);
    assert_abs_diff_eq!(b, 0.855, epsilon = 1e-12);
}

#[test]
fn sgd_dampening_scales_new_gradients_but_not_the_first() {
    // step 1: buf = g = 0.5 (no dampening on the first step); p = 0.95
    // step 2: buf = 0.9*0.5 + (1-0.5)*0.5 = 0.7; p = 0.95 - 0.07 = 0.88
    let (a, b) = two_sgd_steps(SgdOptions::new(0.1).momentum(0.9).dampening(0.5), 1.0, 0.5);
    assert_abs_diff_eq!(a, 0.95, epsilon = 1e-12);
    assert_abs_diff_eq!(b, 0.88, epsilon = 1e-12);
}

#[test]
fn sgd_nesterov_looks_ahead() {
    // step 1: buf = 0.5;  d = g + 0.9*buf = 0.95;           p = 1 - 0.095 = 0.905
    // step 2: buf = 0.9*0.5 + 0.5 = 0.95; d = 0.5 + 0.855 = 1.355; p = 0.905 - 0.1355 = 0.7695
    let (a, b) = two_sgd_steps(SgdOptions::new(0.1).momentum(0.9).nesterov(true), 1.0, 0.5);
    assert_abs_diff_eq!(a, 0.905, epsilon = 1e-12);
    assert_abs_diff_eq!(b, 0.7695, epsilon = 1e-12);
}

#[test]
fn sgd_weight_decay_and_maximize() {
    // weight decay 0.1: g = 0.5 + 0.1*1 = 0.6; p = 1 - 0.1*0.6 = 0.94
    let (a, _) = two_sgd_steps(SgdOptions::new(0.1).weight_decay(0.1), 1.0, 0.5);
    assert_abs_diff_eq!(a, 0.94, epsilon = 1e-12);
    // maximize: g = -0.5; p = 1 + 0.05 = 1.05, then 1.10
    let (a, b) = two_sgd_steps(SgdOptions::new(0.1).maximize(true), 1.0, 0.5);
    assert_abs_diff_eq!(a, 1.05, epsilon = 1e-12);
    assert_abs_diff_eq!(b, 1.10, epsilon = 1e-12);
    // maximize with weight decay: g = -0.5 + 0.1*1 = -0.4; p = 1 + 0.04 = 1.04
    let (a, _) = two_sgd_steps(SgdOptions::new(0.1).maximize(true).weight_decay(0.1), 1.0, 0.5);
    assert_abs_diff_eq!(a, 1.04, epsilon = 1e-12);
}

#[test]
fn sgd_updates_f32_parameters() {
    // 0.25 - 0.5*0.5 = 0 and 1 - 0.5*(-1) = 1.5, exact in f32.
    let p = Tensor::from(vec![0.25f32, 1.0]).requires_grad_(true).unwrap();
    p.set_grad(Some(TensorData::from(vec![0.5f32, -1.0]))).unwrap();
    SGD::new(vec![p.clone()], 0.5).unwrap().step().unwrap();
    assert_eq!(p.to_vec::<f32>().unwrap(), vec![0.0, 1.5]);
}

#[test]
fn parameters_without_grad_are_skipped() {
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let mut opt = SGD::new(vec![a.clone(), b.clone()], SgdOptions::new(0.1).momentum(0.9)).unwrap();
    set_grad(&b, &[1.0]);
    opt.step().unwrap();
    assert_values(&a, &[1.0]);
    assert_values(&b, &[1.9]); // 2 - 0.1*1
    assert!(opt.momentum_buffer(0).is_none());
    assert_eq!(opt.momentum_buffer(1).unwrap().to_vec::<f64>().unwrap(), vec![1.0]);
}

#[test]
fn updates_change_shared_handles_but_not_value_snapshots() {
    // `detach()` shares the value, as in PyTorch (`d = p.detach(); opt.step()`: d becomes
    // tensor([0.5, 1.5])); a `data()` snapshot is copy-on-write and keeps the old values.
    let p = param(&[1.0, 2.0]);
    let (shared, snapshot) = (p.detach(), p.data());
    set_grad(&p, &[1.0, 1.0]);
    SGD::new(vec![p.clone()], 0.5).unwrap().step().unwrap();
    assert_values(&p, &[0.5, 1.5]);
    assert_values(&shared, &[0.5, 1.5]);
    assert_eq!(snapshot.to_vec::<f64>().unwrap(), vec![1.0, 2.0]);
}

#[test]
fn zero_grad_sets_grads_to_none() {
    let p = param(&[1.0]);
    set_grad(&p, &[1.0]);
    let opt = SGD::new(vec![p.clone()], 0.1).unwrap();
    opt.zero_grad();
    assert!(p.grad().is_none());
}

#[test]
fn sgd_rejects_invalid_hyper_parameters() {
    let err = |o: SgdOptions| SGD::new(vec![param(&[1.0])], o).err().expect("should be rejected").to_string();
    assert_eq!(err(SgdOptions::new(-0.1)), "SGD: invalid learning rate -0.1 (must be >= 0)");
    assert_eq!(err(SgdOptions::new(f64::NAN)), "SGD: invalid learning rate NaN (must be >= 0)");
    assert_eq!(err(SgdOptions::new(0.1).momentum(-0.5)), "SGD: invalid momentum value -0.5 (must be >= 0)");
    assert_eq!(
        err(SgdOptions::new(0.1).weight_decay(-1.0)),
        "SGD: invalid weight_decay value -1 (must be >= 0)"
    );
    assert!(err(SgdOptions::new(0.1).nesterov(true)).contains("Nesterov momentum requires a momentum > 0"));
    assert!(err(SgdOptions::new(0.1).momentum(0.9).dampening(0.1).nesterov(true)).contains("zero dampening"));
    // lr = 0 is allowed (PyTorch too).
    assert!(SGD::new(vec![param(&[1.0])], 0.0).is_ok());
}

#[test]
fn optimizers_reject_bad_parameter_lists() {
    assert!(SGD::new(vec![], 0.1).err().unwrap().to_string().contains("empty parameter list"));
    let p = param(&[1.0]);
    let dup = SGD::new(vec![p.clone(), p.clone()], 0.1).err().unwrap().to_string();
    assert!(dup.contains("parameter 1 is the same tensor as parameter 0"), "{dup}");
    let non_leaf = p.mul_scalar(2.0).unwrap();
    assert!(SGD::new(vec![non_leaf], 0.1).err().unwrap().to_string().contains("non-leaf"));
    let int = Tensor::from(vec![1i64, 2]);
    assert!(Adam::new(vec![int], 0.1).is_err());
}

#[test]
fn set_lr_validates() {
    let mut opt = SGD::new(vec![param(&[1.0])], 0.1).unwrap();
    assert!(opt.set_lr(-1.0).is_err());
    assert_eq!(opt.lr(), 0.1);
    opt.set_lr(0.2).unwrap();
    assert_eq!(opt.lr(), 0.2);
}

/// Makes `p`'s gradient disagree with it: its value is replaced by one of another shape
/// after the gradient was set (the only way: `set_grad` and `set_data` check shapes).
fn break_grad(p: &Tensor) {
    p.update_data(|d| *d = TensorData::zeros([3], d.dtype()));
}

#[test]
fn a_failing_sgd_step_changes_nothing() {
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    a.set_name("0.weight");
    b.set_name("0.bias");
    let mut opt = SGD::new(vec![a.clone(), b.clone()], SgdOptions::new(0.1).momentum(0.9)).unwrap();
    set_grad(&a, &[0.5]);
    set_grad(&b, &[0.5]);
    break_grad(&b);
    let e = opt.step().unwrap_err().to_string();
    assert!(e.contains("parameter 1 (0.bias)") && e.contains("no parameter was updated"), "{e}");
    // `a` comes first and had a valid gradient, yet it was not updated and got no buffer.
    assert_values(&a, &[1.0]);
    assert!(opt.momentum_buffer(0).is_none());
    // Once `b` has no gradient, the step goes through as a *first* step: p = 1 - 0.1*0.5.
    b.zero_grad();
    opt.step().unwrap();
    assert_values(&a, &[0.95]);
}

#[test]
fn a_failing_step_with_a_stale_state_buffer_changes_nothing() {
    // After one good step, `b`'s value changes shape: its momentum buffer no longer fits.
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let mut opt = SGD::new(vec![a.clone(), b.clone()], SgdOptions::new(0.1).momentum(0.9)).unwrap();
    set_grad(&a, &[0.5]);
    set_grad(&b, &[0.5]);
    opt.step().unwrap(); // a = 0.95, buffers [0.5], [0.5]
    b.zero_grad();
    break_grad(&b);
    assert!(opt.step().unwrap_err().to_string().contains("momentum buffer of parameter 1"));
    assert_values(&a, &[0.95]);
    assert_eq!(opt.momentum_buffer(0).unwrap().to_vec::<f64>().unwrap(), vec![0.5]);
}

/// `p = 1`, `g = 0.5` with lr 0.1, betas (0.9, 0.999), eps 1e-8 (the defaults):
/// m1 = 0.1*0.5 = 0.05, v1 = 0.001*0.25 = 0.00025, bias corrections 0.1 and 0.001,
/// step_size = 0.1/0.1 = 1, denom = sqrt(0.00025)/sqrt(0.001) + 1e-8 = 0.5 + 1e-8,
/// p1 = 1 - 1*0.05/(0.5 + 1e-8) = 0.900000002.
const ADAM_P1: f64 = 0.900000002;

#[test]
fn adam_two_steps_by_hand() {
    let p = param(&[1.0]);
    let mut opt = Adam::new(vec![p.clone()], 0.1).unwrap();
    set_grad(&p, &[0.5]);
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&p)[0], ADAM_P1, epsilon = 1e-12);
    assert_abs_diff_eq!(opt.exp_avg(0).unwrap().item().unwrap(), 0.05, epsilon = 1e-15);
    assert_abs_diff_eq!(opt.exp_avg_sq(0).unwrap().item().unwrap(), 0.00025, epsilon = 1e-15);
    // Step 2 with g = 0.25:
    // m2 = 0.9*0.05 + 0.1*0.25 = 0.07; v2 = 0.999*0.00025 + 0.001*0.0625 = 0.00031225
    // bc1 = 1 - 0.9^2 = 0.19, bc2 = 1 - 0.999^2 = 0.001999; step_size = 0.1/0.19 = 0.526315789...
    // denom = sqrt(0.00031225)/sqrt(0.001999) + 1e-8 = 0.395225381 + 1e-8
    // p2 = 0.900000002 - 0.526315789*0.07/0.395225391 = 0.806782040477
    set_grad(&p, &[0.25]);
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&p)[0], 0.8067820404774623, epsilon = 1e-12);
    assert_eq!(opt.state_step(0), 2);
}

#[test]
fn adam_amsgrad_uses_the_largest_second_moment() {
    // Step 2 with g = 0: m2 = 0.045, v2 = 0.999*0.00025 = 0.00024975 < vmax = 0.00025.
    // amsgrad: denom = sqrt(0.00025)/sqrt(0.001999) + 1e-8 = 0.353641812 (+1e-8)
    //          p2 = 0.900000002 - 0.526315789*0.045/0.353641822 = 0.833027689773
    // plain:   denom = sqrt(0.00024975)/sqrt(0.001999) + 1e-8 = 0.353464947 (+1e-8)
    //          p2 = 0.900000002 - 0.526315789*0.045/0.353464957 = 0.832994178482
    for (amsgrad, want) in [(true, 0.833027689772761), (false, 0.8329941784820312)] {
        let p = param(&[1.0]);
        let mut opt = Adam::new(vec![p.clone()], AdamOptions::new(0.1).amsgrad(amsgrad)).unwrap();
        set_grad(&p, &[0.5]);
        opt.step().unwrap();
        set_grad(&p, &[0.0]);
        opt.step().unwrap();
        assert_abs_diff_eq!(values(&p)[0], want, epsilon = 1e-12);
    }
}

#[test]
fn adam_weight_decay_is_added_to_the_gradient() {
    // wd = 1: g = 0.5 + 1*1 = 1.5; m1 = 0.15, v1 = 0.001*2.25 = 0.00225;
    // denom = sqrt(0.00225)/sqrt(0.001) + 1e-8 = 1.5 + 1e-8; step_size = 0.1/0.1 = 1;
    // p = 1 - 1*0.15/(1.5 + 1e-8) = 0.9 + 1e-9
    let p = param(&[1.0]);
    let mut opt = Adam::new(vec![p.clone()], AdamOptions::new(0.1).weight_decay(1.0)).unwrap();
    set_grad(&p, &[0.5]);
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&p)[0], 1.0 - 0.15 / (1.5 + 1e-8), epsilon = 1e-12);
    assert_abs_diff_eq!(opt.exp_avg(0).unwrap().item().unwrap(), 0.15, epsilon = 1e-15);
}

#[test]
fn adam_maximize_climbs() {
    // g = -0.5: m1 = -0.05, same v1; p = 1 + 0.05/(0.5 + 1e-8) = 1.099999998
    let p = param(&[1.0]);
    let mut opt = Adam::new(vec![p.clone()], AdamOptions::new(0.1).maximize(true)).unwrap();
    set_grad(&p, &[0.5]);
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&p)[0], 1.099999998, epsilon = 1e-12);
}

#[test]
fn adamw_decays_the_weight_before_the_adam_step() {
    // Default weight_decay 0.01: p = 1*(1 - 0.1*0.01) = 0.999, then the Adam step of
    // 0.05/(0.5 + 1e-8) = 0.099999998 (the gradient is not changed): p = 0.899000002
    let p = param(&[1.0]);
    let mut opt = AdamW::new(vec![p.clone()], 0.1).unwrap();
    assert_eq!(opt.weight_decay(), 0.01);
    set_grad(&p, &[0.5]);
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&p)[0], 0.899000002, epsilon = 1e-12);
    // weight_decay 0 makes AdamW exactly Adam.
    let q = param(&[1.0]);
    let mut opt = AdamW::new(vec![q.clone()], AdamOptions::new(0.1).weight_decay(0.0)).unwrap();
    set_grad(&q, &[0.5]);
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&q)[0], ADAM_P1, epsilon = 1e-12);
}

#[test]
fn adam_steps_are_counted_per_parameter() {
    // A parameter's bias correction uses its own step count: `b` joins at step 2 and takes
    // a *first* Adam step (moving by ~lr).
    let (a, b) = (param(&[1.0]), param(&[1.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], 0.1).unwrap();
    set_grad(&a, &[0.5]);
    opt.step().unwrap();
    set_grad(&b, &[0.5]);
    opt.step().unwrap();
    assert_eq!((opt.state_step(0), opt.state_step(1)), (2, 1));
    assert_abs_diff_eq!(values(&b)[0], ADAM_P1, epsilon = 1e-12);
}

#[test]
fn adam_rejects_invalid_hyper_parameters() {
    let err =
        |o: AdamOptions| Adam::new(vec![param(&[1.0])], o).err().expect("should be rejected").to_string();
    assert_eq!(err(AdamOptions::new(-0.1)), "Adam: invalid learning rate -0.1 (must be >= 0)");
    assert_eq!(
        err(AdamOptions::new(0.1).betas(1.0, 0.999)),
        "Adam: invalid beta parameter at index 0: 1 (must be in [0, 1))"
    );
    assert!(err(AdamOptions::new(0.1).betas(0.9, -0.1)).contains("index 1"));
    assert_eq!(
        err(AdamOptions::new(0.1).eps(-1e-8)),
        "Adam: invalid epsilon value -0.00000001 (must be >= 0)"
    );
    assert!(err(AdamOptions::new(0.1).weight_decay(-0.1)).contains("weight_decay"));
    let e = AdamW::new(vec![param(&[1.0])], AdamOptions::new(-1.0)).err().unwrap().to_string();
    assert!(e.starts_with("AdamW: invalid learning rate"), "{e}");
}

#[test]
fn a_failing_adam_step_changes_nothing() {
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], 0.1).unwrap();
    set_grad(&a, &[0.5]);
    set_grad(&b, &[0.5]);
    break_grad(&b);
    assert!(opt.step().is_err());
    assert_values(&a, &[1.0]);
    assert_eq!(opt.state_step(0), 0);
    assert!(opt.exp_avg(0).is_none());
    b.zero_grad();
    opt.step().unwrap();
    assert_abs_diff_eq!(values(&a)[0], ADAM_P1, epsilon = 1e-12);
}

#[test]
fn a_failing_adamw_step_changes_nothing() {
    // AdamW decays the weight *before* the Adam step: a failing step must not decay either.
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let mut opt = AdamW::new(vec![a.clone(), b.clone()], AdamOptions::new(0.1).amsgrad(true)).unwrap();
    set_grad(&a, &[0.5]);
    set_grad(&b, &[0.5]);
    break_grad(&b);
    assert!(opt.step().unwrap_err().to_string().contains("no parameter was updated"));
    assert_values(&a, &[1.0]);
    assert_eq!(opt.state_step(0), 0);
    b.zero_grad();
    opt.step().unwrap();
    // p = 1 * (1 - 0.1 * 0.01) - 0.05 / (0.5 + 1e-8), as in adamw_decays_the_weight_before_the_adam_step.
    assert_abs_diff_eq!(values(&a)[0], 0.899000002, epsilon = 1e-12);
}

#[test]
fn a_failing_adam_step_with_stale_moments_changes_nothing() {
    // After a good step, `b`'s value changes shape: its exp_avg no longer fits, and the next
    // step fails before touching `a`, its moments or its step count.
    let (a, b) = (param(&[1.0]), param(&[2.0]));
    let mut opt = Adam::new(vec![a.clone(), b.clone()], AdamOptions::new(0.1).amsgrad(true)).unwrap();
    set_grad(&a, &[0.5]);
    set_grad(&b, &[0.5]);
    opt.step().unwrap();
    let (m, v) = (
        opt.exp_avg(0).unwrap().to_vec::<f64>().unwrap(),
        opt.exp_avg_sq(0).unwrap().to_vec::<f64>().unwrap(),
    );
    b.zero_grad();
    break_grad(&b);
    let e = opt.step().unwrap_err().to_string();
    assert!(e.contains("exp_avg of parameter 1") && e.contains("no parameter was updated"), "{e}");
    assert_abs_diff_eq!(values(&a)[0], ADAM_P1, epsilon = 1e-12);
    assert_eq!(opt.state_step(0), 1);
    assert_eq!(opt.exp_avg(0).unwrap().to_vec::<f64>().unwrap(), m);
    assert_eq!(opt.exp_avg_sq(0).unwrap().to_vec::<f64>().unwrap(), v);
}
