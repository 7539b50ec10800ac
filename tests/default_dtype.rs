//! `set_default_dtype`, like `torch.set_default_dtype`: a process-wide setting, so it has this
//! test binary to itself (tests in one binary run in parallel threads).

use torchlet::prelude::*;

#[test]
fn the_default_dtype_decides_literals_creation_and_promotion() {
    // torch.set_default_dtype(torch.float64):
    //   torch.tensor([0.5]).dtype -> float64; torch.zeros(2).dtype -> float64;
    //   (torch.tensor([1, 2]) * 0.5).dtype -> float64; torch.tensor([1, 2]) / 2 -> float64
    set_default_dtype(DType::F64).unwrap();
    assert_eq!(Tensor::from(vec![0.1]).to_vec::<f64>().unwrap(), vec![0.1]);
    assert_eq!(Tensor::zeros([2]).unwrap().dtype(), DType::F64);
    assert_eq!(Tensor::randn([2]).unwrap().dtype(), DType::F64);
    let i = Tensor::from(vec![1, 2]);
    assert_eq!((&i * 0.5).dtype(), DType::F64);
    assert_eq!((&i / 2).dtype(), DType::F64);
    // torch.set_default_dtype(torch.int64): "only floating-point types are supported as the
    // default type"
    assert!(set_default_dtype(DType::I64).is_err());
    assert_eq!(torchlet::default_dtype(), DType::F64, "a refused change changes nothing");
    set_default_dtype(DType::F32).unwrap();
    assert_eq!(Tensor::from(vec![0.1]).dtype(), DType::F32);
    assert_eq!((&i * 0.5).dtype(), DType::F32);
}
