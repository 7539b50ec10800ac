//! Optimizers, parameter groups, learning-rate schedulers and gradient clipping against
//! PyTorch 2.9.1: every expected number below was printed by PyTorch (the script's lines are
//! quoted in the comments) or derived by hand. Also the error paths: a scheduler stepped with
//! another optimizer, state dicts that do not fit (refused, nothing changed), non-finite
//! gradient norms.

use torchlet::nn::{clip_grad_norm_, clip_grad_norm_with, clip_grad_value_};
use torchlet::optim::{
    AdamOptions, AdamW, AnnealStrategy, CosineAnnealingLR, LambdaLR, LrLambda, LrScheduler, OneCycleLR,
    OneCycleOptions, Optimizer, ParamGroup, PlateauMode, PlateauOptions, ReduceLROnPlateau, SgdOptions,
    StepLR, ThresholdMode, SGD,
};
use torchlet::{DType, Tensor, TensorData};

fn param(v: Vec<f64>) -> Tensor {
    Tensor::with_dtype(v, DType::F64).requires_grad_(true).unwrap()
}

fn grad(p: &Tensor, v: Vec<f64>) {
    p.set_grad(Some(TensorData::from(v))).unwrap();
}

fn values(t: &Tensor) -> Vec<f64> {
    t.to_vec::<f64>().unwrap()
}

fn grad_values(p: &Tensor) -> Vec<f64> {
    p.grad_data().unwrap().try_to_f64_vec().unwrap()
}

fn close(got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "got {got:?}, want {want:?}");
    }
}

/// SGD with two groups: w takes the defaults (lr 0.1, momentum 0.9, weight_decay 0.1), b
/// overrides lr 0.01 and momentum 0.
fn sgd_two_groups() -> (SGD, Tensor, Tensor) {
    let (w, b) = (param(vec![1.0, -2.0]), param(vec![0.5]));
    let opt = SGD::with_groups(
        vec![ParamGroup::new(vec![w.clone()]), ParamGroup::new(vec![b.clone()]).lr(0.01).momentum(0.0)],
        SgdOptions::new(0.1).momentum(0.9).weight_decay(0.1),
    )
    .unwrap();
    (opt, w, b)
}

/// Step `i` (0-based) of the runs below: w.grad = [0.5, -0.25] * (i + 1), b.grad = [2].
fn set_grads(i: usize, w: &Tensor, b: &Tensor) {
    let k = (i + 1) as f64;
    grad(w, vec![0.5 * k, -0.25 * k]);
    grad(b, vec![2.0]);
}

#[test]
fn sgd_param_groups_match_pytorch() {
    // opt = SGD([{'params': [w]}, {'params': [b], 'lr': 0.01, 'momentum': 0.0}],
    //           lr=0.1, momentum=0.9, weight_decay=0.1); three steps:
    // sgd w [0.4717739999999999, -1.6524555] b [0.4385614795] buf [3.04826, -1.9249450000000001]
    let (mut opt, w, b) = sgd_two_groups();
    for i in 0..3 {
        set_grads(i, &w, &b);
        opt.step().unwrap();
    }
    close(&values(&w), &[0.4717739999999999, -1.6524555], 1e-15);
    close(&values(&b), &[0.4385614795], 1e-15);
    close(&values(&opt.momentum_buffer(0).unwrap()), &[3.04826, -1.9249450000000001], 1e-15);
    assert!(opt.momentum_buffer(1).is_none() || opt.group_options(1).unwrap().momentum == 0.0);
    assert_eq!(opt.lrs(), vec![0.1, 0.01]);
}

#[test]
fn adamw_groups_with_step_lr_match_pytorch() {
    // opt = AdamW([{'params': [w], 'weight_decay': 0.1}, {'params': [b], 'weight_decay': 0.0}], lr=0.01)
    // sched = StepLR(opt, step_size=2, gamma=0.5); three (opt.step(); sched.step()):
    // adamw w [0.973079994397462, -1.9705819942635037] b [0.47500000012500004] lr [0.005, 0.005]
    let (w, b) = (param(vec![1.0, -2.0]), param(vec![0.5]));
    let mut opt = AdamW::with_groups(
        vec![
            ParamGroup::new(vec![w.clone()]).weight_decay(0.1),
            ParamGroup::new(vec![b.clone()]).weight_decay(0.0),
        ],
        AdamOptions::new(0.01),
    )
    .unwrap();
    let mut sched = StepLR::new(&mut opt, 2, 0.5).unwrap();
    for i in 0..3 {
        set_grads(i, &w, &b);
        opt.step().unwrap();
        sched.step(&mut opt).unwrap();
    }
    close(&values(&w), &[0.973079994397462, -1.9705819942635037], 1e-14);
    close(&values(&b), &[0.47500000012500004], 1e-14);
    assert_eq!(sched.get_last_lr(), [0.005, 0.005]);
    assert_eq!(opt.lrs(), vec![0.005, 0.005]);
}

#[test]
fn optimizer_state_dict_round_trip_continues_identically() {
    // Two steps, save, a fresh optimizer on the same parameters loads the state, one more
    // step: the same numbers as three uninterrupted steps (PyTorch's, quoted above).
    let (mut opt, w, b) = sgd_two_groups();
    for i in 0..2 {
        set_grads(i, &w, &b);
        opt.step().unwrap();
    }
    let sd = opt.state_dict();
    let names: Vec<&str> = sd.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"state.0.momentum_buffer"), "{names:?}");
    assert!(names.contains(&"param_groups.1.lr"), "{names:?}");

    let mut fresh = SGD::with_groups(
        vec![ParamGroup::new(vec![w.clone()]), ParamGroup::new(vec![b.clone()])],
        SgdOptions::new(0.5), // other hyper-parameters: the loaded ones must win
    )
    .unwrap();
    fresh.load_state_dict(&sd).unwrap();
    assert_eq!(fresh.lrs(), vec![0.1, 0.01]);
    assert_eq!(fresh.group_options(0).unwrap().momentum, 0.9);
    set_grads(2, &w, &b);
    fresh.step().unwrap();
    close(&values(&w), &[0.4717739999999999, -1.6524555], 1e-15);
    close(&values(&b), &[0.4385614795], 1e-15);
    // Saving again gives back the same names.
    let again: Vec<String> = fresh.state_dict().into_iter().map(|(n, _)| n).collect();
    assert_eq!(again, opt.state_dict().into_iter().map(|(n, _)| n).collect::<Vec<_>>());
}

#[test]
fn adamw_state_dict_round_trip() {
    let w = param(vec![1.0, -2.0]);
    let mut a = AdamW::new(vec![w.clone()], AdamOptions::new(0.01)).unwrap();
    grad(&w, vec![0.5, -0.25]);
    a.step().unwrap();
    let sd = a.state_dict();
    let mut b = AdamW::new(vec![w.clone()], AdamOptions::new(0.01)).unwrap();
    b.load_state_dict(&sd).unwrap();
    assert_eq!(b.state_step(0), 1);
    assert_eq!(values(&b.exp_avg(0).unwrap()), values(&a.exp_avg(0).unwrap()));
    assert_eq!(values(&b.exp_avg_sq(0).unwrap()), values(&a.exp_avg_sq(0).unwrap()));
}

#[test]
fn failed_load_leaves_the_optimizer_unchanged() {
    let (mut opt, w, b) = sgd_two_groups();
    set_grads(0, &w, &b);
    opt.step().unwrap();
    let before = opt.state_dict();

    // A state dict of another optimizer: one group only, another shape.
    let other_p = param(vec![1.0, 2.0, 3.0]);
    let mut other = SGD::new(vec![other_p.clone()], SgdOptions::new(7.0).momentum(0.5)).unwrap();
    grad(&other_p, vec![1.0, 1.0, 1.0]);
    other.step().unwrap();
    let err = opt.load_state_dict(&other.state_dict()).unwrap_err().to_string();
    assert!(err.contains("load_state_dict") && err.contains("not changed"), "{err}");

    // The right groups, but a momentum buffer of the wrong shape: refused, naming it, even
    // though the (valid) learning rate entries come first.
    let mut bad = before.clone();
    for (name, t) in bad.iter_mut() {
        if name == "param_groups.0.lr" {
            *t = TensorData::from(9.0);
        }
        if name == "state.0.momentum_buffer" {
            *t = TensorData::from(vec![1.0f64, 2.0, 3.0]);
        }
    }
    let err = opt.load_state_dict(&bad).unwrap_err().to_string();
    assert!(err.contains("state.0.momentum_buffer") && err.contains("[3]"), "{err}");

    // An unknown key, and a missing one.
    let mut extra = before.clone();
    extra.push(("state.0.nonsense".to_string(), TensorData::from(1.0)));
    assert!(opt.load_state_dict(&extra).unwrap_err().to_string().contains("nonsense"));
    let missing: Vec<_> = before.iter().filter(|(n, _)| n != "param_groups.1.lr").cloned().collect();
    assert!(opt.load_state_dict(&missing).unwrap_err().to_string().contains("param_groups.1.lr"));

    // Nothing changed: same state dict, and the run continues to PyTorch's numbers.
    let after = opt.state_dict();
    assert_eq!(after.len(), before.len());
    for ((n1, t1), (n2, t2)) in before.iter().zip(&after) {
        assert_eq!(n1, n2);
        assert_eq!(t1.try_to_f64_vec().unwrap(), t2.try_to_f64_vec().unwrap(), "{n1}");
    }
    for i in 1..3 {
        set_grads(i, &w, &b);
        opt.step().unwrap();
    }
    close(&values(&w), &[0.4717739999999999, -1.6524555], 1e-15);
    close(&values(&b), &[0.4385614795], 1e-15);
}

#[test]
fn scheduler_refuses_another_optimizer() {
    let p = param(vec![1.0]);
    let mut opt = SGD::new(vec![p.clone()], 0.1).unwrap();
    let mut sched = StepLR::new(&mut opt, 1, 0.5).unwrap();
    let q = param(vec![1.0]);
    let mut other = SGD::new(vec![q], 0.3).unwrap();
    let err = sched.step(&mut other).unwrap_err().to_string();
    assert!(err.contains("StepLR") && err.contains("other than the one"), "{err}");
    // Neither changed: the other optimizer keeps 0.3, the schedule is still at epoch 0.
    assert_eq!(other.lr(), 0.3);
    assert_eq!(sched.last_epoch(), 0);
    sched.step(&mut opt).unwrap();
    assert_eq!(opt.lr(), 0.05); // 0.1 * 0.5 after step_size 1

    // Groups: one lambda per group, and not two for one group.
    let err = LambdaLR::with_lambdas(&mut opt, vec![Box::new(|_| 1.0) as LrLambda, Box::new(|_| 1.0)]);
    assert!(err.is_err());

    let mut plateau = ReduceLROnPlateau::new(&mut opt, PlateauOptions::new()).unwrap();
    let mut other = SGD::new(vec![param(vec![2.0])], 0.3).unwrap();
    assert!(plateau.step(&mut other, 1.0).is_err());
}

#[test]
fn scheduler_state_dict_round_trip_and_refusals() {
    // CosineAnnealingLR(T_max=10, eta_min=0.001) from lr 0.1, PyTorch's values at epochs 0..12
    // (the curriculum case lr_scheduler/CosineAnnealingLR/sgd):
    let want = [
        0.1,
        0.09757729755661011,
        0.0905463412215599,
        0.07959536998847742,
        0.0657963412215599,
        0.0505,
        0.03520365877844011,
        0.02140463001152259,
        0.010453658778440109,
        0.0034227024433899004,
        0.001,
        0.0034227024433899004,
    ];
    let p = param(vec![1.0]);
    let mut opt = SGD::new(vec![p.clone()], 0.1).unwrap();
    let mut sched = CosineAnnealingLR::new(&mut opt, 10, 0.001).unwrap();
    let mut got = vec![];
    for _ in 0..4 {
        got.push(opt.lr());
        sched.step(&mut opt).unwrap();
    }
    let sd = sched.state_dict();
    let opt_sd = opt.state_dict();
    // A new optimizer and scheduler, restored from both state dicts, continue the schedule.
    let mut opt2 = SGD::new(vec![p.clone()], 0.1).unwrap();
    opt2.load_state_dict(&opt_sd).unwrap();
    let mut sched2 = CosineAnnealingLR::new(&mut opt2, 10, 0.001).unwrap();
    opt2.load_state_dict(&opt_sd).unwrap();

    // Refusals first: a wrong number of groups, an unknown key, a negative epoch.
    let mut two = sd.clone();
    for (n, t) in two.iter_mut() {
        if n == "base_lrs" {
            *t = TensorData::from(vec![0.1f64, 0.1]);
        }
    }
    let err = sched2.load_state_dict(&two).unwrap_err().to_string();
    assert!(err.contains("base_lrs") && err.contains("[1]"), "{err}");
    let mut unknown = sd.clone();
    unknown.push(("gamma".into(), TensorData::from(0.5)));
    assert!(sched2.load_state_dict(&unknown).unwrap_err().to_string().contains("gamma"));
    let mut negative = sd.clone();
    negative[0].1 = TensorData::scalar(-1i64);
    assert!(sched2.load_state_dict(&negative).is_err());
    assert_eq!(sched2.last_epoch(), 0, "a refused load changes nothing");

    sched2.load_state_dict(&sd).unwrap();
    assert_eq!(sched2.last_epoch(), 4);
    for _ in 4..12 {
        got.push(opt2.lr());
        sched2.step(&mut opt2).unwrap();
    }
    close(&got, &want, 1e-12);
}

#[test]
fn lambda_lr_per_group_matches_pytorch() {
    // opt = SGD([{'params': [w]}, {'params': [b], 'lr': 0.5}], lr=0.1)
    // LambdaLR(opt, [lambda e: 0.9**e, lambda e: 1/(e+1)]), four epochs:
    // lambda [[0.1, 0.5], [0.09000000000000001, 0.25], [0.08100000000000002, 0.16666666666666666],
    //         [0.0729, 0.125]] get_last_lr() [0.06561, 0.1]
    let (w, b) = (param(vec![1.0]), param(vec![1.0]));
    let mut opt = SGD::with_groups(
        vec![ParamGroup::new(vec![w]), ParamGroup::new(vec![b]).lr(0.5)],
        SgdOptions::new(0.1),
    )
    .unwrap();
    let lambdas: Vec<LrLambda> =
        vec![Box::new(|e| 0.9f64.powi(e as i32)), Box::new(|e| 1.0 / (e as f64 + 1.0))];
    let mut sched = LambdaLR::with_lambdas(&mut opt, lambdas).unwrap();
    let want = [
        [0.1, 0.5],
        [0.09000000000000001, 0.25],
        [0.08100000000000002, 0.16666666666666666],
        [0.0729, 0.125],
    ];
    for w in want {
        close(&opt.lrs(), &w, 1e-15);
        opt.step().unwrap();
        sched.step(&mut opt).unwrap();
    }
    close(sched.get_last_lr(), &[0.06561, 0.1], 1e-15);
}

#[test]
fn one_cycle_three_phase_linear_cycles_momentum_like_pytorch() {
    // SGD(lr=0.1, momentum=0.9); OneCycleLR(max_lr=1.0, total_steps=10, three_phase=True,
    // anneal_strategy='linear'); (lr, momentum) per step:
    let want = [
        (0.04, 0.95),
        (0.52, 0.8999999999999999),
        (1.0, 0.85),
        (0.52, 0.8999999999999999),
        (0.040000000000000036, 0.95),
        (0.032000799999999996, 0.95),
        (0.024001599999999998, 0.95),
        (0.0160024, 0.95),
        (0.008003199999999995, 0.95),
        (3.9999999999970615e-06, 0.95),
    ];
    let p = param(vec![1.0]);
    let mut opt = SGD::new(vec![p], SgdOptions::new(0.1).momentum(0.9)).unwrap();
    let o = OneCycleOptions::new(1.0, 10).three_phase(true).anneal_strategy(AnnealStrategy::Linear);
    let mut sched = OneCycleLR::new(&mut opt, o).unwrap();
    for (i, (lr, m)) in want.into_iter().enumerate() {
        close(&[opt.lr(), opt.options().momentum], &[lr, m], 1e-12);
        opt.step().unwrap();
        if i < 9 {
            sched.step(&mut opt).unwrap();
        }
    }
    // A 10th step (epoch 10) extrapolates the last phase: PyTorch sets the learning rate
    // -0.007995200000000001 there (and raises "Tried to step 11 times. The specified number
    // of total steps is 10" one step later). torchlet refuses a negative learning rate, so
    // that step is an error already, and it changes nothing.
    let lr = opt.lr();
    let err = sched.step(&mut opt).unwrap_err().to_string();
    assert!(err.contains("-0.0079952"), "{err}");
    assert_eq!((opt.lr(), sched.last_epoch()), (lr, 9), "a refused step changes nothing");
}

#[test]
fn reduce_lr_on_plateau_matches_pytorch() {
    // ReduceLROnPlateau(SGD(lr=1.0), factor=0.5, patience=2, cooldown=1, min_lr=0.1), metrics
    // [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3]:
    // plateau [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125]
    // best 0.5, num_bad_epochs 0, last_epoch 16
    let p = param(vec![1.0]);
    let mut opt = SGD::new(vec![p.clone()], 1.0).unwrap();
    let o = PlateauOptions::new().factor(0.5).patience(2).cooldown(1).min_lr(0.1);
    let mut s = ReduceLROnPlateau::new(&mut opt, o).unwrap();
    let metrics = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3];
    let mut lrs = vec![];
    let mut saved = None;
    for (i, m) in metrics.into_iter().enumerate() {
        s.step(&mut opt, m).unwrap();
        lrs.push(opt.lr());
        if i == 5 {
            saved = Some(s.state_dict());
        }
    }
    assert_eq!(lrs, [1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125]);
    assert_eq!((s.best(), s.num_bad_epochs(), s.last_epoch()), (0.5, 0, 16));

    // Restored after step 6 (with the optimizer's lr then, 0.5), the rest of the run repeats.
    let mut opt2 = SGD::new(vec![p], 0.5).unwrap();
    let mut s2 = ReduceLROnPlateau::new(
        &mut opt2,
        PlateauOptions::new().factor(0.5).patience(2).cooldown(1).min_lr(0.1),
    )
    .unwrap();
    s2.load_state_dict(&saved.unwrap()).unwrap();
    let mut rest = vec![];
    for m in &metrics[6..] {
        s2.step(&mut opt2, *m).unwrap();
        rest.push(opt2.lr());
    }
    assert_eq!(rest, lrs[6..]);

    // mode='max', threshold=0.1, threshold_mode='abs', patience=0, metrics
    // [1.0, 1.05, 1.2, 1.25, nan, 1.31]:
    // plateau max abs [1.0, 0.1, 0.1, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002] best 1.31
    let mut opt = SGD::new(vec![param(vec![1.0])], 1.0).unwrap();
    let o = PlateauOptions::new()
        .mode(PlateauMode::Max)
        .threshold(0.1)
        .threshold_mode(ThresholdMode::Abs)
        .patience(0);
    let mut s = ReduceLROnPlateau::new(&mut opt, o).unwrap();
    let mut lrs = vec![];
    for m in [1.0, 1.05, 1.2, 1.25, f64::NAN, 1.31] {
        s.step(&mut opt, m).unwrap();
        lrs.push(opt.lr());
    }
    assert_eq!(lrs, [1.0, 0.1, 0.1, 0.010000000000000002, 0.0010000000000000002, 0.0010000000000000002]);
    assert_eq!(s.best(), 1.31);

    // PyTorch: ValueError('Factor should be < 1.0.')
    assert!(ReduceLROnPlateau::new(&mut opt, PlateauOptions::new().factor(1.0)).is_err());
}

#[test]
fn zero_grad_set_to_none_or_zeros() {
    let (p, q) = (param(vec![1.0, 2.0]), param(vec![3.0]));
    let opt = SGD::new(vec![p.clone(), q.clone()], 0.1).unwrap();
    grad(&p, vec![1.0, -1.0]);
    // set_to_none=False: p.grad becomes zeros of its shape; q (no grad) stays None.
    opt.zero_grad_with(false).unwrap();
    assert_eq!(grad_values(&p), vec![0.0, 0.0]);
    assert!(q.grad().is_none());
    opt.zero_grad_with(true).unwrap();
    assert!(p.grad().is_none());
}

#[test]
fn clip_grad_norm_p3_and_inf_match_pytorch() {
    // p.grad = [3, -4], q.grad = [2] (f64); clip_grad_norm_([p, q], 1.0, norm_type=3):
    // p3 4.626065009182741 [0.6484991770642701, -0.8646655694190268] [0.4323327847095134]
    // (hand check: (27 + 64 + 8)^(1/3) = 99^(1/3) = 4.6260650...)
    let (p, q) = (param(vec![0.0, 0.0]), param(vec![0.0]));
    grad(&p, vec![3.0, -4.0]);
    grad(&q, vec![2.0]);
    let total = clip_grad_norm_(&[p.clone(), q.clone()], 1.0, 3.0).unwrap();
    close(&[total.item().unwrap()], &[4.626065009182741], 1e-14);
    close(&grad_values(&p), &[0.6484991770642701, -0.8646655694190268], 1e-14);
    close(&grad_values(&q), &[0.4323327847095134], 1e-14);

    // norm_type=inf, max_norm 2: pinf 4.0 [1.4999996250000938, -1.999999500000125] [0.9999997500000625]
    grad(&p, vec![3.0, -4.0]);
    grad(&q, vec![2.0]);
    let total = clip_grad_norm_(&[p.clone(), q.clone()], 2.0, f64::INFINITY).unwrap();
    assert_eq!(total.item().unwrap(), 4.0);
    close(&grad_values(&p), &[1.4999996250000938, -1.999999500000125], 1e-15);
    close(&grad_values(&q), &[0.9999997500000625], 1e-15);

    // clip_grad_value_([p], 3.5) on [3, -4]: value [3.0, -3.5]
    grad(&p, vec![3.0, -4.0]);
    clip_grad_value_(std::slice::from_ref(&p), 3.5).unwrap();
    assert_eq!(grad_values(&p), vec![3.0, -3.5]);
    assert!(clip_grad_value_(std::slice::from_ref(&p), -1.0).is_err());
}

#[test]
fn clip_grad_norm_nonfinite() {
    // p.grad = [1, inf, -2] (f32):
    // error_if_nonfinite=True: RuntimeError "The total norm of order 2.0 for gradients from
    // `parameters` is non-finite ..." and the gradient is untouched [1.0, inf, -2.0];
    // otherwise: inf total inf [0.0, nan, -0.0] (coef = 1 / (inf + 1e-6) = 0, inf * 0 = nan)
    let p = Tensor::from(vec![0.0f32; 3]).requires_grad_(true).unwrap();
    p.set_grad(Some(TensorData::from(vec![1.0f32, f32::INFINITY, -2.0]))).unwrap();
    let err = clip_grad_norm_with(std::slice::from_ref(&p), 1.0, 2.0, true).unwrap_err().to_string();
    assert!(err.contains("non-finite") || err.contains("nonfinite"), "{err}");
    assert_eq!(grad_values(&p), vec![1.0, f64::INFINITY, -2.0]);

    let total = clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0).unwrap();
    assert_eq!(total.item().unwrap(), f64::INFINITY);
    let g = grad_values(&p);
    assert!(g[0] == 0.0 && g[1].is_nan() && g[2] == 0.0, "{g:?}");

    // p.grad = [1, nan, -2]: nan total nan [nan, nan, nan]
    p.set_grad(Some(TensorData::from(vec![1.0f32, f32::NAN, -2.0]))).unwrap();
    assert!(clip_grad_norm_with(std::slice::from_ref(&p), 1.0, 2.0, true).is_err());
    let total = clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0).unwrap();
    assert!(total.item().unwrap().is_nan());
    assert!(grad_values(&p).iter().all(|x| x.is_nan()));

    // Negative max_norm / norm_type are refused, not silently used.
    assert!(clip_grad_norm_(std::slice::from_ref(&p), -1.0, 2.0).is_err());
    assert!(clip_grad_norm_(&[p], 1.0, -2.0).is_err());
}
