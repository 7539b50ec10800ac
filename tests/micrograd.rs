//! The micrograd walkthrough reproduces the demo notebook's printed numbers
//! (karpathy/micrograd, `demo.ipynb`, "step k loss ..., accuracy ...%"): same data
//! (`data/moons.csv`), same initial weights (Python's `random.uniform(-1, 1)` after
//! `random.seed(1337)`), same loss and hand-written SGD. Only the order of the sums differs
//! from micrograd's scalar loop, so the losses agree to ~1e-15 relative, not bit for bit.

use torchlet_examples::micrograd::{load_moons, loss, mlp, moons_default_path, step};

/// The notebook's output for steps 0-19 and 97-99.
const NOTEBOOK: [(usize, f64, f64); 23] = [
    (0, 0.8958441028683222, 50.0),
    (1, 1.7235905336972022, 81.0),
    (2, 0.7429006313851131, 77.0),
    (3, 0.7705641260584198, 82.0),
    (4, 0.3692793385976538, 84.0),
    (5, 0.313545481918522, 86.0),
    (6, 0.2814234349772435, 89.0),
    (7, 0.26888733313983904, 91.0),
    (8, 0.2567147286057417, 91.0),
    (9, 0.2704862551637922, 91.0),
    (10, 0.24507023853658053, 91.0),
    (11, 0.2509905529791503, 92.0),
    (12, 0.21560951851922952, 91.0),
    (13, 0.23090378446402726, 93.0),
    (14, 0.20152151227899445, 92.0),
    (15, 0.22574506279282217, 93.0),
    (16, 0.19447987596204114, 92.0),
    (17, 0.21089496199246363, 93.0),
    (18, 0.159830773563036, 94.0),
    (19, 0.1845374874688392, 93.0),
    (97, 0.010979446081684675, 100.0),
    (98, 0.010978888332907229, 100.0),
    (99, 0.010978370135492717, 100.0),
];

#[test]
fn the_notebook_numbers_step_by_step() {
    let data = load_moons(&moons_default_path()).unwrap();
    assert_eq!((data.x.dims(), data.y.dims()), (vec![100, 2], vec![100, 1]));
    let model = mlp(1337).unwrap();
    assert_eq!(torchlet::nn::Module::num_parameters(&model), 337); // "number of parameters 337"
    let mut printed = NOTEBOOK.iter().peekable();
    for k in 0..100 {
        let (l, acc) = step(&model, &data, k).unwrap();
        if let Some(&&(kk, want_loss, want_acc)) = printed.peek() {
            if kk == k {
                assert!(
                    (l - want_loss).abs() <= 1e-13 * want_loss,
                    "step {k}: loss {l} vs the notebook's {want_loss}"
                );
                assert_eq!(acc * 100.0, want_acc, "step {k}");
                printed.next();
            }
        }
    }
    assert!(printed.next().is_none());
    // The trained model classifies every point.
    assert_eq!(loss(&model, &data).unwrap().1, 1.0);
}
