//! Safetensors files: a model saved by PyTorch loads and reproduces PyTorch's outputs, round
//! trips are bit-exact in f32 and f64, malformed files and bad keys are errors naming the
//! path and the tensor (never panics) that leave the model unchanged, and the XOR example's
//! `--graph` output has the expected shape.

use std::path::PathBuf;
use torchlet::nn::safetensors::{load, load_file, save, save_file};
use torchlet::nn::{load_safetensors, save_safetensors, Linear, Module, Sequential, Sigmoid};
use torchlet::{DType, Error, Generator, Tensor, TensorData};
use torchlet_examples::demos::{train_xor, xor_graph_dot, xor_inputs};

fn data(name: &str) -> PathBuf {
    torchlet_examples::project_path("tests/data").join(name)
}

/// A fresh path in the temp directory, unique per test (tests run in parallel).
fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("torchlet-safetensors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// PyTorch's `Sequential(Linear(2,5), Sigmoid(), Linear(5,2), Sigmoid())`, in `dtype`.
fn xor_model(seed: u64, dtype: DType) -> Sequential {
    let mut g = Generator::new(seed);
    let mut lin = |i: usize, o: usize| {
        let w = Tensor::randn_with([o, i], dtype, &mut g).unwrap();
        let b = Tensor::randn_with([o], dtype, &mut g).unwrap();
        Linear::from_weights(w, Some(b)).unwrap()
    };
    let (l0, l2) = (lin(2, 5), lin(5, 2));
    Sequential::new().add(l0).add(Sigmoid).add(l2).add(Sigmoid)
}

/// Every parameter as raw bits (f32 and f64 both widen exactly to f64).
fn bits(m: &dyn Module) -> Vec<(String, Vec<u64>)> {
    m.state_dict()
        .into_iter()
        .map(|(n, v)| (n, v.to_f64_vec().iter().map(|x| x.to_bits()).collect()))
        .collect()
}

/// A safetensors file from a header JSON and the data bytes, written by hand.
fn handmade(header: &str, payload: &[u8]) -> Vec<u8> {
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// Loads `bytes` (written to a temp file `name`) into a model and checks the error: its
/// variant, that it names the path and contains every word of `words`, and that the model
/// is unchanged.
fn load_error(name: &str, bytes: &[u8], words: &[&str]) -> Error {
    let path = temp(name);
    std::fs::write(&path, bytes).unwrap();
    let m = xor_model(0, DType::F32);
    let before = bits(&m);
    let e = load_safetensors(&m, &path).expect_err("the load should fail");
    assert_eq!(bits(&m), before, "a failed load must leave the model unchanged");
    let msg = e.to_string();
    assert!(msg.starts_with("load_safetensors: "), "{msg}");
    assert!(msg.contains(&path.display().to_string()), "the error names the path: {msg}");
    for w in words {
        assert!(msg.contains(w), "missing {w:?} in: {msg}");
    }
    e
}

#[test]
fn a_model_saved_by_pytorch_reproduces_pytorchs_outputs() {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("xor_model.json")).unwrap()).unwrap();
    let want: Vec<f64> = json["output"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
        .collect();
    let input: Vec<f32> = json["input"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32))
        .collect();

    let m = xor_model(0, DType::F32);
    load_safetensors(&m, data("xor_model.safetensors")).unwrap();
    let out = m.forward(&Tensor::from_vec(input, [4, 2]).unwrap()).unwrap();
    assert_eq!(out.dims(), [4, 2]);
    for (got, want) in out.to_f64_vec().iter().zip(&want) {
        assert!((got - want).abs() < 1e-6, "got {got}, PyTorch {want}");
    }
    let keys: Vec<String> = m.state_dict().into_iter().map(|(n, _)| n).collect();
    let json_keys: Vec<&str> =
        json["state_dict_keys"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(keys, json_keys);
}

#[test]
fn load_file_returns_the_tensors_in_file_order() {
    // safetensors.torch.save_file sorts by name: 0.bias comes before 0.weight.
    let sd = load_file(data("xor_model.safetensors")).unwrap();
    let summary: Vec<(&str, DType, &[usize])> =
        sd.iter().map(|(n, v)| (n.as_str(), v.dtype(), v.dims())).collect();
    assert_eq!(
        summary,
        [
            ("0.bias", DType::F32, &[5][..]),
            ("0.weight", DType::F32, &[5, 2][..]),
            ("2.bias", DType::F32, &[2][..]),
            ("2.weight", DType::F32, &[2, 5][..]),
        ]
    );
}

fn round_trip(dtype: DType, name: &str) {
    let (src, dst) = (xor_model(1, dtype), xor_model(2, dtype));
    assert_ne!(bits(&src), bits(&dst));
    let path = temp(name);
    save_safetensors(&src, &path).unwrap();
    load_safetensors(&dst, &path).unwrap();
    assert_eq!(bits(&src), bits(&dst), "{dtype} parameters are identical bit for bit");
    let x = xor_inputs().to_dtype(dtype).unwrap();
    let (a, b) = (src.forward(&x).unwrap().to_f64_vec(), dst.forward(&x).unwrap().to_f64_vec());
    assert_eq!(
        a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
        b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
    );
    for (_, v) in load_file(&path).unwrap() {
        assert_eq!(v.dtype(), dtype);
    }
}

#[test]
fn round_trip_f32_is_bit_exact() {
    round_trip(DType::F32, "round_trip_f32.safetensors");
}

#[test]
fn round_trip_f64_is_bit_exact() {
    round_trip(DType::F64, "round_trip_f64.safetensors");
}

#[test]
fn files_have_pytorchs_layout_and_format_metadata() {
    // One tensor, checked byte by byte: header length, JSON header padded with spaces to a
    // multiple of 8, then little-endian values.
    let bytes = save(&[("w".to_string(), TensorData::from([1.0f32, -2.0]))]).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap().trim_end();
    assert_eq!(
        header,
        r#"{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#
    );
    let payload: Vec<u8> = [1.0f32.to_le_bytes(), (-2.0f32).to_le_bytes()].concat();
    assert_eq!(&bytes[8 + n..], payload.as_slice());
}

#[test]
fn i64_bool_scalars_empty_and_strided_tensors_round_trip() {
    let strided =
        TensorData::from_vec((0..6).map(|i| i as f64).collect::<Vec<_>>(), [2, 3]).unwrap().t().unwrap();
    let state = vec![
        ("idx".to_string(), TensorData::from(vec![-3i64, 0, i64::MAX])),
        ("mask".to_string(), TensorData::from(vec![true, false, true])),
        ("scalar".to_string(), TensorData::scalar(2.5f32)),
        ("empty".to_string(), TensorData::zeros([0, 4], DType::F32)),
        ("t".to_string(), strided.clone()),
    ];
    let path = temp("mixed.safetensors");
    save_file(&state, &path).unwrap();
    let back = load_file(&path).unwrap();
    assert_eq!(back.len(), state.len());
    for (name, v) in &state {
        let (_, w) = back.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!((w.dtype(), w.dims()), (v.dtype(), v.dims()), "{name}");
        assert_eq!(w.to_f64_vec(), v.to_f64_vec(), "{name}");
    }
    assert_eq!(load(&save(&state).unwrap()).unwrap().len(), 5);
}

#[test]
fn saving_rejects_duplicate_and_reserved_keys_and_unwritable_paths() {
    let t = TensorData::from([1.0f32]);
    let e = save(&[("a".into(), t.clone()), ("a".into(), t.clone())]).unwrap_err();
    assert!(
        matches!(e, Error::InvalidArgument { .. }) && e.to_string().contains("duplicate key \"a\""),
        "{e}"
    );
    let e = save(&[("__metadata__".into(), t.clone())]).unwrap_err();
    assert!(e.to_string().contains("reserved"), "{e}");
    let path = temp("no-such-dir").join("x.safetensors");
    let e = save_safetensors(&xor_model(0, DType::F32), &path).unwrap_err();
    assert!(matches!(e, Error::Io { op: "save_safetensors", .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("cannot write {}", path.display())), "{e}");
}

#[test]
fn truncated_file_is_an_io_error() {
    let bytes = std::fs::read(data("xor_model.safetensors")).unwrap();
    for cut in [0, 5, 8, 100, bytes.len() - 1] {
        let e = load_error(
            &format!("truncated{cut}.safetensors"),
            &bytes[..cut],
            &["not a valid safetensors file"],
        );
        assert!(matches!(e, Error::Io { .. }), "{e:?}");
    }
}

#[test]
fn garbage_header_is_an_io_error() {
    let e =
        load_error("garbage.safetensors", &handmade("this is not json", &[]), &["invalid JSON in header"]);
    assert!(matches!(e, Error::Io { .. }), "{e:?}");
    // Not a safetensors file at all: the first 8 bytes read as an absurd header length.
    load_error("text.safetensors", b"hello, world, this is text", &["not a valid safetensors file"]);
    // A header length pointing past the end of the file.
    let mut bytes = handmade("{}", &[]);
    bytes[..8].copy_from_slice(&1000u64.to_le_bytes());
    load_error("long_header.safetensors", &bytes, &["invalid header length"]);
}

#[test]
fn offsets_out_of_range_are_an_io_error() {
    let header = r#"{"0.weight":{"dtype":"F32","shape":[5,2],"data_offsets":[0,400]}}"#;
    load_error("offsets.safetensors", &handmade(header, &[0; 40]), &["not a valid safetensors file"]);
    // Offsets that disagree with the shape.
    let header = r#"{"0.weight":{"dtype":"F32","shape":[5,2],"data_offsets":[0,36]}}"#;
    load_error("offsets2.safetensors", &handmade(header, &[0; 36]), &["not a valid safetensors file"]);
    // A shape whose byte size overflows.
    let header = r#"{"0.weight":{"dtype":"F32","shape":[18446744073709551615,4],"data_offsets":[0,0]}}"#;
    load_error("overflow.safetensors", &handmade(header, &[]), &["not a valid safetensors file"]);
}

#[test]
fn missing_extra_and_misshaped_keys_are_reported() {
    let full = load_file(data("xor_model.safetensors")).unwrap();
    let without = |key: &str| full.iter().filter(|(n, _)| n != key).cloned().collect::<Vec<_>>();

    let e = load_error(
        "missing.safetensors",
        &save(&without("2.bias")).unwrap(),
        &["Missing key(s) in state_dict: \"2.bias\""],
    );
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");

    let mut extra = full.clone();
    extra.push(("4.weight".into(), TensorData::zeros([1], DType::F32)));
    load_error(
        "extra.safetensors",
        &save(&extra).unwrap(),
        &["Unexpected key(s) in state_dict: \"4.weight\""],
    );

    let mut shaped = without("0.weight");
    shaped.push(("0.weight".into(), TensorData::zeros([5, 3], DType::F32)));
    load_error(
        "misshaped.safetensors",
        &save(&shaped).unwrap(),
        &["size mismatch for 0.weight: copying a param with shape [5, 3] from checkpoint, the shape in current model is [5, 2]"],
    );

    let doubled: Vec<_> = full.iter().map(|(n, v)| (n.clone(), v.to_dtype(DType::F64))).collect();
    load_error(
        "f64.safetensors",
        &save(&doubled).unwrap(),
        &["dtype mismatch for 0.bias", "from checkpoint"],
    );
}

#[test]
fn f16_and_bf16_tensors_are_rejected_with_a_conversion_hint() {
    // What torch.save_file writes for {"0.weight": torch.tensor([1.0, 2.0], dtype=torch.float16)}:
    // 1.0 = 0x3c00, 2.0 = 0x4000 in IEEE half precision.
    let header = r#"{"0.weight":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}"#;
    let e = load_error(
        "f16.safetensors",
        &handmade(header, &[0x00, 0x3c, 0x00, 0x40]),
        &["tensor \"0.weight\" has dtype F16", "does not support", "v.float()"],
    );
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e:?}");
    let header = r#"{"b":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]}}"#;
    let e = load(&handmade(header, &[0x80, 0x3f])).unwrap_err();
    assert!(e.to_string().contains("tensor \"b\" has dtype BF16"), "{e}");
    let header = r#"{"i":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}"#;
    let e = load(&handmade(header, &[1, 0, 0, 0])).unwrap_err();
    assert!(e.to_string().contains("dtype I32") && e.to_string().contains("v.long()"), "{e}");
}

#[test]
fn bad_bool_bytes_are_rejected() {
    let header = r#"{"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}}"#;
    let e = load(&handmade(header, &[1, 7])).unwrap_err();
    assert!(e.to_string().contains("holds the byte 7 at element 1"), "{e}");
}

#[test]
fn nonexistent_path_is_an_io_error() {
    let path = temp("does-not-exist.safetensors");
    let m = xor_model(0, DType::F32);
    let e = load_safetensors(&m, &path).unwrap_err();
    assert!(matches!(e, Error::Io { op: "load_safetensors", .. }), "{e:?}");
    assert!(e.to_string().contains(&format!("cannot read {}", path.display())), "{e}");
    let e = load_file(&path).unwrap_err();
    assert!(matches!(e, Error::Io { op: "load_file", .. }), "{e:?}");
}

#[test]
fn the_trained_xor_network_saves_and_loads() {
    // What `cargo run --example xor -- --save PATH` writes, loaded into a fresh network.
    let run = train_xor(0, 200, 0.5).unwrap();
    let path = temp("xor_trained.safetensors");
    save_safetensors(&run.model, &path).unwrap();
    let fresh =
        Sequential::new().add(Linear::new(2, 5).unwrap()).add(Sigmoid).add(Linear::new(5, 2).unwrap());
    load_safetensors(&fresh, &path).unwrap();
    let x = xor_inputs();
    let probs = fresh.forward(&x).unwrap().softmax(1).unwrap();
    assert_eq!(probs.to_vec::<f32>().unwrap(), run.probabilities.to_vec::<f32>().unwrap());
}

#[test]
fn xor_graph_has_the_networks_leaves_and_ops() {
    let run = train_xor(0, 20, 0.5).unwrap();
    let dot = xor_graph_dot(&run).unwrap();
    assert!(dot.starts_with("digraph torchlet {") && dot.ends_with("}\n"), "{dot}");
    // Leaves: 0.weight, 0.bias, 2.weight, 2.bias, the input and the target.
    assert_eq!(dot.matches("shape=ellipse").count(), 6, "{dot}");
    for leaf in [
        "0.weight\\n[5, 2]",
        "0.bias\\n[5]",
        "2.weight\\n[2, 5]",
        "2.bias\\n[2]",
        "input\\n[4, 2]",
        "target\\n[4]",
    ] {
        assert!(dot.contains(&format!("label=\"{leaf}\"")), "missing leaf {leaf}:\n{dot}");
    }
    // Ops: linear, sigmoid, linear, cross-entropy.
    assert_eq!(dot.matches("shape=box").count(), 4, "{dot}");
    assert_eq!(dot.matches("AddmmBackward0\\n").count(), 2, "{dot}");
    for op in [
        "SigmoidBackward0\\n[4, 5]",
        "AddmmBackward0\\n[4, 5]",
        "AddmmBackward0\\n[4, 2]",
        "NllLossBackward0\\n[]",
    ] {
        assert!(dot.contains(op), "missing op {op}:\n{dot}");
    }
    // Edges: (input, 0.weight, 0.bias) -> linear -> sigmoid; (sigmoid, 2.weight, 2.bias) ->
    // linear; (linear, target) -> cross-entropy.
    assert_eq!(dot.matches(" -> ").count(), 9, "{dot}");
    assert!(!dot.contains("freed"), "the graph was drawn before any backward:\n{dot}");
}
