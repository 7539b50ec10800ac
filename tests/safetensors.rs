//! Safetensors files: a model saved by PyTorch loads and reproduces PyTorch's outputs, round
//! trips are bit-exact in f32 and f64, files are byte-identical to Hugging Face's writer's,
//! malformed files and bad keys are errors naming the path and the tensor (never panics, on
//! 20,000 mutated files either) that leave the model unchanged, saving is atomic (a write
//! that fails midway leaves the previous file loadable), and the XOR example's `--graph`
//! output has the expected shape.

use std::path::{Path, PathBuf};
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

/// A fresh, empty directory of its own (to check that no temporary file is left behind).
fn temp_dir(name: &str) -> PathBuf {
    let dir = temp(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names of the entries of `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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

// ---------------------------------------------------------------------------------------
// The codec: byte layout of Hugging Face's writer, and every validation of the reader.
// ---------------------------------------------------------------------------------------

/// The header of a file written by torchlet, without its padding.
fn header_of(bytes: &[u8]) -> &str {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0, "the data section starts 8-byte aligned");
    std::str::from_utf8(&bytes[8..8 + n]).unwrap().trim_end_matches(' ')
}

#[test]
fn tensors_are_ordered_like_hugging_faces_writer_by_dtype_alignment_then_name() {
    // What safetensors.torch.save(sd, metadata={"format": "pt"}) (safetensors 0.8.0) writes
    // for this state dict: I64 first, then F64, F32 and BOOL, each group by name (bytes, so
    // "Z" before "idx"); 432 bytes, a multiple of 8, so no padding.
    let state = vec![
        ("idx".to_string(), TensorData::from(vec![-3i64, 0, i64::MAX])),
        ("mask".to_string(), TensorData::from(vec![true, false, true])),
        ("scalar".to_string(), TensorData::scalar(2.5f32)),
        ("empty".to_string(), TensorData::zeros([0, 4], DType::F32)),
        (
            "t".to_string(),
            TensorData::from_vec((0..6).map(f64::from).collect::<Vec<_>>(), [2, 3]).unwrap().t().unwrap(),
        ),
        ("b".to_string(), TensorData::from(vec![1.0f64])),
        ("Z".to_string(), TensorData::from(vec![7i64])),
    ];
    let bytes = save(&state).unwrap();
    assert_eq!(u64::from_le_bytes(bytes[..8].try_into().unwrap()), 432);
    assert_eq!(
        header_of(&bytes),
        concat!(
            r#"{"__metadata__":{"format":"pt"},"Z":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},"#,
            r#""idx":{"dtype":"I64","shape":[3],"data_offsets":[8,32]},"#,
            r#""b":{"dtype":"F64","shape":[1],"data_offsets":[32,40]},"#,
            r#""t":{"dtype":"F64","shape":[3,2],"data_offsets":[40,88]},"#,
            r#""empty":{"dtype":"F32","shape":[0,4],"data_offsets":[88,88]},"#,
            r#""scalar":{"dtype":"F32","shape":[],"data_offsets":[88,92]},"#,
            r#""mask":{"dtype":"BOOL","shape":[3],"data_offsets":[92,95]}}"#
        )
    );
    // The data: the transposed f64 tensor is stored row-major, as PyTorch's .contiguous().
    let data = &bytes[8 + 432..];
    assert_eq!(data.len(), 95);
    let t: Vec<f64> = data[40..88].chunks(8).map(|c| f64::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(t, [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    assert_eq!(&data[92..], [1, 0, 1]);
    // Loading returns the file order.
    let names: Vec<String> = load(&bytes).unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["Z", "idx", "b", "t", "empty", "scalar", "mask"]);
}

#[test]
fn resaving_the_pytorch_file_gives_hugging_faces_bytes() {
    // safetensors.torch.save_file(load_file(p), q, metadata={"format": "pt"}) writes the same
    // data section as p and this header.
    let original = std::fs::read(data("xor_model.safetensors")).unwrap();
    let n = u64::from_le_bytes(original[..8].try_into().unwrap()) as usize;
    let bytes = save(&load(&original).unwrap()).unwrap();
    assert_eq!(
        header_of(&bytes),
        r#"{"__metadata__":{"format":"pt"},"0.bias":{"dtype":"F32","shape":[5],"data_offsets":[0,20]},"0.weight":{"dtype":"F32","shape":[5,2],"data_offsets":[20,60]},"2.bias":{"dtype":"F32","shape":[2],"data_offsets":[60,68]},"2.weight":{"dtype":"F32","shape":[2,5],"data_offsets":[68,108]}}"#
    );
    assert_eq!(&bytes[bytes.len() - 108..], &original[8 + n..]);
    assert_eq!(bytes.len(), 8 + 280 + 108); // the 275-byte header padded to 280
}

#[test]
fn names_with_escapes_and_unicode_round_trip_and_are_escaped_like_serde_json() {
    let name = "e\"\\\n\u{1}\u{7f}é😀/";
    let state =
        vec![(name.to_string(), TensorData::from([1.0f32])), (String::new(), TensorData::from([2.0f32]))];
    let bytes = save(&state).unwrap();
    // Byte for byte what Hugging Face's writer (serde_json) produces: \" \\ \n \u0001, and
    // DEL, non-ASCII and '/' verbatim; the empty name sorts first.
    assert_eq!(
        header_of(&bytes),
        "{\"__metadata__\":{\"format\":\"pt\"},\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"e\\\"\\\\\\n\\u0001\u{7f}é😀/\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}"
    );
    let back = load(&bytes).unwrap();
    assert_eq!(back.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["", name]);
    assert_eq!(back[1].1.to_f64_vec(), [1.0]);
    // Other writers may escape more: \/, \u00e9 and a surrogate pair for 😀 read the same.
    let header = r#"{"\u00e9\ud83d\ude00\/":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}"#;
    let back = load(&handmade(header, &1.5f32.to_le_bytes())).unwrap();
    assert_eq!(back[0].0, "é😀/");
}

#[test]
fn metadata_and_any_header_order_are_accepted() {
    // Tensors listed out of offset order (older writers sorted by name only), whitespace,
    // and metadata with several entries: the tensors come back in offset order.
    let header = r#"{ "b": {"dtype": "I64", "shape": [1], "data_offsets": [4, 12]},
                      "__metadata__": {"format": "pt", "note": "x"},
                      "a": {"data_offsets": [0, 4], "shape": [], "dtype": "F32"} }   "#;
    let mut payload = 0.5f32.to_le_bytes().to_vec();
    payload.extend_from_slice(&(-9i64).to_le_bytes());
    let back = load(&handmade(header, &payload)).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!((back[0].0.as_str(), back[0].1.dims(), back[0].1.to_f64_vec()), ("a", &[][..], vec![0.5]));
    assert_eq!(
        (back[1].0.as_str(), back[1].1.dtype(), back[1].1.to_f64_vec()),
        ("b", DType::I64, vec![-9.0])
    );
    // An empty file (no tensors) is valid, with or without metadata.
    assert!(load(&handmade("{}", &[])).unwrap().is_empty());
    assert!(load(&handmade(r#"{"__metadata__":{}}"#, &[])).unwrap().is_empty());
}

/// `load(bytes)` fails with `Error::Io` ("not a valid safetensors file") mentioning `words`.
fn malformed(bytes: &[u8], words: &[&str]) {
    let e = load(bytes).expect_err("the file is malformed");
    let msg = e.to_string();
    assert!(matches!(e, Error::Io { op: "load", .. }), "{msg}");
    assert!(msg.starts_with("load: <bytes> is not a valid safetensors file: "), "{msg}");
    for w in words {
        assert!(msg.contains(w), "missing {w:?} in: {msg}");
    }
}

#[test]
fn every_layout_rule_is_checked() {
    let t = |name: &str, dtype: &str, shape: &str, b: usize, e: usize| {
        format!(r#""{name}":{{"dtype":"{dtype}","shape":{shape},"data_offsets":[{b},{e}]}}"#)
    };
    let file = |tensors: &[String], data_len: usize| {
        handmade(&format!("{{{}}}", tensors.join(",")), &vec![0; data_len])
    };
    // The reference: two tensors back to back.
    assert_eq!(load(&file(&[t("a", "F32", "[2]", 0, 8), t("b", "F64", "[1]", 8, 16)], 16)).unwrap().len(), 2);
    malformed(
        &file(&[t("a", "F32", "[2]", 0, 8), t("b", "F64", "[1]", 12, 20)], 20),
        &["\"b\"", "leaves a gap", "ends at 8"],
    );
    malformed(&file(&[t("a", "F32", "[2]", 0, 8), t("b", "F64", "[1]", 4, 12)], 12), &["\"b\"", "overlaps"]);
    malformed(&file(&[t("a", "F32", "[2]", 4, 12)], 12), &["leaves a gap", "ends at 0"]);
    malformed(&file(&[t("a", "F32", "[0]", 8, 0)], 8), &["end before they begin"]);
    malformed(&file(&[t("a", "F32", "[2]", 0, 8)], 9), &["cover 8 bytes", "holds 9 bytes"]);
    malformed(&file(&[t("a", "F32", "[2]", 0, 8)], 7), &["cover 8 bytes", "holds 7 bytes"]);
    malformed(&file(&[t("a", "F64", "[3]", 0, 16)], 16), &["(16 bytes)", "need 24 bytes"]);
    malformed(
        &file(&[t("a", "F32", "[4294967296,4294967296,2]", 0, 0)], 0),
        &["shape [4294967296, 4294967296, 2]", "overflows"],
    );
    malformed(&file(&[t("a", "F4", "[3]", 0, 1)], 1), &["whole number of bytes"]);
    malformed(&file(&[t("a", "F32", "[1]", 0, 4), t("a", "F32", "[1]", 4, 8)], 8), &["duplicate key \"a\""]);
    // Zero-sized tensors may share an offset, and are returned in header order.
    let back = load(&file(&[t("y", "F32", "[0]", 0, 0), t("x", "I64", "[2,0]", 0, 0)], 0)).unwrap();
    assert_eq!(back.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["y", "x"]);
}

#[test]
fn header_length_and_encoding_are_checked_before_anything_is_allocated() {
    malformed(b"", &["header too small", "the file is 0 bytes"]);
    malformed(&[1, 0, 0], &["header too small"]);
    // A huge declared length is refused without reading (or allocating) it.
    let mut bytes = u64::MAX.to_le_bytes().to_vec();
    bytes.extend_from_slice(b"{}");
    malformed(&bytes, &["header too large", "18446744073709551615"]);
    bytes[..8].copy_from_slice(&100_000_001u64.to_le_bytes());
    malformed(&bytes, &["header too large"]);
    bytes[..8].copy_from_slice(&100_000_000u64.to_le_bytes());
    malformed(&bytes, &["invalid header length", "declared as 100000000 bytes but only 2 follow"]);
    malformed(&handmade("{\"\u{e9}\":{}}", &[])[..11], &["invalid header length"]);
    let mut bad_utf8 = handmade(r#"{"ab":{}}"#, &[]);
    bad_utf8[10] = 0xff;
    malformed(&bad_utf8, &["invalid UTF-8 in header"]);
    malformed(
        &handmade(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, &[0; 4]),
        &["invalid JSON in header", "found the end of the header"],
    );
    malformed(
        &handmade(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":0}}"#, &[0; 4]),
        &["unknown field \"x\" in tensor \"a\""],
    );
    malformed(&handmade(r#"{"__metadata__":{"format":1}}"#, &[]), &["\"__metadata__\" values are strings"]);
    // NUL padding (not JSON whitespace) is refused, like Hugging Face's reader does.
    malformed(&handmade("{}\0\0\0\0\0\0", &[]), &["invalid JSON in header", "at byte 2"]);
}

#[test]
fn dtypes_torchlet_cannot_hold_are_invalid_argument_errors_naming_the_tensor() {
    for (dtype, size, hint) in
        [("F16", 2, "v.float()"), ("U8", 1, "v.long()"), ("C64", 8, "v.float()"), ("F8_E4M3", 1, "v.float()")]
    {
        let header = format!(r#"{{"w\n":{{"dtype":"{dtype}","shape":[1],"data_offsets":[0,{size}]}}}}"#);
        let e = load(&handmade(&header, &vec![0; size])).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument { op: "load", .. }), "{e}");
        let msg = e.to_string();
        assert!(
            msg.contains(&format!(
                "<bytes>: tensor \"w\\n\" has dtype {dtype}, which torchlet does not support"
            )),
            "{msg}"
        );
        assert!(msg.contains(hint), "{msg}");
    }
    let e =
        load(&handmade(r#"{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}"#, &[0; 16])).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument { .. }), "{e}");
    assert!(
        e.to_string().contains("tensor \"w\" has dtype \"F128\", which is not a safetensors dtype"),
        "{e}"
    );
}

// ---------------------------------------------------------------------------------------
// No panics: thousands of mutated and truncated files.
// ---------------------------------------------------------------------------------------

/// SplitMix64: a deterministic PRNG, enough to drive the mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`0` when `n == 0`).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes the JSON parser gives meaning to, and some it must reject.
const INTERESTING: &[u8] =
    b"{}[]\":,\\/u0123456789-+.eE \t\n\rbfnrtxF3I6BOL_\x00\x01\x1f\x7f\xc3\xa9\xed\xa0\x80\xf0\x9f\xff";

/// One random edit of `v`: flip a bit, set a byte (often an interesting one), delete,
/// duplicate or insert a range, change one digit (keeps the JSON valid, moves offsets) or
/// lengthen a number.
fn mutate(rng: &mut Rng, v: &mut Vec<u8>) {
    let at = rng.below(v.len() + 1);
    let byte = at.min(v.len().saturating_sub(1)); // an existing byte, when there is one
    match rng.below(8) {
        0 if !v.is_empty() => v[byte] ^= 1 << rng.below(8),
        1 if !v.is_empty() => v[byte] = INTERESTING[rng.below(INTERESTING.len())],
        2 if !v.is_empty() => v[byte] = rng.next() as u8,
        3 => {
            let end = (at + 1 + rng.below(8)).min(v.len());
            v.drain(at.min(end)..end);
        }
        4 => {
            let start = rng.below(v.len() + 1);
            let end = (start + rng.below(24)).min(v.len());
            let piece = v[start..end].to_vec();
            v.splice(at..at, piece);
        }
        5 => {
            let piece: Vec<u8> =
                (0..1 + rng.below(4)).map(|_| INTERESTING[rng.below(INTERESTING.len())]).collect();
            v.splice(at..at, piece);
        }
        6 => {
            let digits: Vec<usize> = (0..v.len()).filter(|&i| v[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                v[digits[rng.below(digits.len())]] = b'0' + rng.below(10) as u8;
            }
        }
        _ => {
            // Lengthen a number by up to 20 digits: huge shapes and offsets.
            let digits: Vec<usize> = (0..v.len()).filter(|&i| v[i].is_ascii_digit()).collect();
            if !digits.is_empty() {
                let at = digits[rng.below(digits.len())];
                let more: Vec<u8> = (0..1 + rng.below(20)).map(|_| b'1' + rng.below(9) as u8).collect();
                v.splice(at..at, more);
            }
        }
    }
}

/// A mutated file: header and data edited separately, then usually reassembled with the
/// right length field (so the parser and the layout checks are reached), sometimes with a
/// wrong one, sometimes truncated or bit-flipped as a whole.
fn mutated_file(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let n = u64::from_le_bytes(seed[..8].try_into().unwrap()) as usize;
    let (mut header, mut payload) = (seed[8..8 + n].to_vec(), seed[8 + n..].to_vec());
    for _ in 0..1 + rng.below(3) {
        if rng.below(4) == 0 {
            mutate(rng, &mut payload);
        } else {
            mutate(rng, &mut header);
        }
    }
    let len = match rng.below(10) {
        0 => rng.next(),
        1 => (header.len() as u64).wrapping_add(rng.below(17) as u64).wrapping_sub(8),
        2 => [0, 100_000_000, 100_000_001, u64::MAX][rng.below(4)],
        _ => header.len() as u64,
    };
    let mut bytes = len.to_le_bytes().to_vec();
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&payload);
    match rng.below(8) {
        0 => bytes.truncate(rng.below(bytes.len() + 1)),
        1 => mutate(rng, &mut bytes),
        _ => {}
    }
    bytes
}

#[test]
fn load_never_panics_on_mutated_or_truncated_files() {
    let mixed = save(&[
        ("idx".to_string(), TensorData::from(vec![-3i64, 0, i64::MAX])),
        ("mask".to_string(), TensorData::from(vec![true, false, true])),
        ("scalar".to_string(), TensorData::scalar(2.5f64)),
        ("empty".to_string(), TensorData::zeros([0, 4], DType::F32)),
        ("é\"\\\n".to_string(), TensorData::from([[1.0f32, 2.0], [3.0, 4.0]])),
    ])
    .unwrap();
    let escapes = handmade(
        r#"{"__metadata__":{"k\u00e9":"v\ud83d\ude00"}, "a\/b\t": {"dtype":"F32", "shape":[1,1], "data_offsets":[0,4]}, "z":{"dtype":"BOOL","shape":[2],"data_offsets":[4,6]}}"#,
        &[0, 0, 128, 63, 1, 0],
    );
    let seeds = [std::fs::read(data("xor_model.safetensors")).unwrap(), mixed, escapes];
    for seed in &seeds {
        load(seed).expect("the seed files are valid");
    }
    const CASES: usize = 20_000;
    let mut rng = Rng(0x5afe_7e45);
    let (mut ok, mut invalid) = (0, 0);
    // Each check of the reader, by a phrase of its message, and how often it fired.
    let mut checks = [
        ("header too small", 0),
        ("header too large", 0),
        ("invalid header length", 0),
        ("invalid UTF-8 in header", 0),
        ("invalid JSON in header", 0),
        ("which end before they begin", 0),
        ("overlaps the previous tensor", 0),
        ("leaves a gap", 0),
        ("whose size overflows", 0),
        ("), but dtype", 0),
        ("does not fill a whole number of bytes", 0),
        ("the tensors cover", 0),
    ];
    for case in 0..CASES {
        let bytes = mutated_file(&mut rng, &seeds[case % seeds.len()]);
        let outcome = std::panic::catch_unwind(|| load(&bytes))
            .unwrap_or_else(|_| panic!("load panicked on case {case}: {bytes:?}"));
        match outcome {
            Ok(state) => {
                ok += 1;
                // Whatever was accepted re-encodes losslessly.
                let again = save(&state).unwrap();
                assert_eq!(save(&load(&again).unwrap()).unwrap(), again, "case {case}");
            }
            Err(e) => {
                let msg = e.to_string();
                match e {
                    Error::Io { op: "load", .. } => {
                        assert!(
                            msg.starts_with("load: <bytes> is not a valid safetensors file: "),
                            "case {case}: {msg}"
                        );
                        let check = checks.iter_mut().find(|(phrase, _)| msg.contains(phrase));
                        check.unwrap_or_else(|| panic!("case {case}: unexpected message {msg}")).1 += 1;
                    }
                    Error::InvalidArgument { op: "load", .. } => {
                        assert!(msg.starts_with("load: <bytes>: tensor \""), "case {case}: {msg}");
                        invalid += 1;
                    }
                    other => panic!("case {case}: unexpected error kind {other:?}"),
                }
            }
        }
    }
    // The mutations reach every check of the reader, and accept some files too.
    assert!(ok > CASES / 50, "only {ok} of {CASES} mutated files loaded");
    assert!(invalid > 0, "no mutated file reached the dtype or value checks");
    for (phrase, count) in checks {
        // Sub-byte dtypes (F4, F6_*) with an odd element count are too rare a mutation to
        // count on; every_layout_rule_is_checked covers them.
        let rare = phrase == "does not fill a whole number of bytes";
        assert!(count > 0 || rare, "no mutated file failed with {phrase:?}");
    }
}

// ---------------------------------------------------------------------------------------
// Atomic saving: a failed save leaves the previous file as it was.
// ---------------------------------------------------------------------------------------

/// Set in the child process of `a_save_that_fails_midway_leaves_the_previous_file_intact`:
/// the path to save to.
const CHILD_PATH: &str = "TORCHLET_SAFETENSORS_TEST_CHILD_PATH";

#[cfg(unix)]
#[test]
fn a_save_that_fails_midway_leaves_the_previous_file_intact() {
    use std::process::Command;
    const NAME: &str = "a_save_that_fails_midway_leaves_the_previous_file_intact";
    if let Some(path) = std::env::var_os(CHILD_PATH) {
        // The child: a 64 KiB checkpoint under a file-size limit of 1 block (512 or 1024
        // bytes). The write gets EFBIG partway (SIGXFSZ is ignored, so it is an error, not
        // a kill).
        let big = vec![("w".to_string(), TensorData::ones([128, 128], DType::F32))];
        match save_file(&big, &path) {
            Ok(()) => println!("CHILD-RESULT: the save succeeded"),
            Err(e) => println!("CHILD-RESULT: {e:?}"),
        }
        return;
    }
    let dir = temp_dir("efbig");
    let path = dir.join("model.safetensors");
    let old = xor_model(1, DType::F32);
    save_safetensors(&old, &path).unwrap();
    let old_bytes = std::fs::read(&path).unwrap();

    let out = Command::new("sh")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 1 || exit 97; exec "$0" "$@""#)
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env(CHILD_PATH, &path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {:?}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let result = stdout
        .lines()
        .find_map(|l| l.split_once("CHILD-RESULT: ").map(|(_, r)| r))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        result
            .starts_with(&format!("save_file: cannot write {}: writing the temporary file", path.display())),
        "the child's save must fail: {result}"
    );
    assert!(result.contains("File too large"), "{result}");
    assert!(result.contains("was left as it was"), "{result}");

    // The previous checkpoint is byte for byte what it was, loads, and no temporary file is
    // left beside it.
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
    let fresh = xor_model(2, DType::F32);
    load_safetensors(&fresh, &path).unwrap();
    assert_eq!(bits(&fresh), bits(&old));
    assert_eq!(listing(&dir), ["model.safetensors"]);
}

#[test]
fn saving_over_a_directory_fails_and_leaves_no_temporary_file() {
    let dir = temp_dir("over_a_directory");
    let target = dir.join("model.safetensors");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("inside"), b"keep").unwrap();
    let e = save_safetensors(&xor_model(0, DType::F32), &target).unwrap_err();
    assert!(matches!(e, Error::Io { op: "save_safetensors", .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("cannot write {}: cannot rename the temporary file", target.display())),
        "{msg}"
    );
    assert_eq!(listing(&dir), ["model.safetensors"], "the temporary file was removed");
    assert_eq!(std::fs::read(target.join("inside")).unwrap(), b"keep");
}

#[test]
fn a_failed_save_leaves_the_previous_file_and_a_good_one_replaces_it() {
    let dir = temp_dir("replace");
    let path = dir.join("m.safetensors");
    let (a, b) = (xor_model(1, DType::F32), xor_model(2, DType::F32));
    save_safetensors(&a, &path).unwrap();
    let a_bytes = std::fs::read(&path).unwrap();
    // A state dict that cannot be encoded: nothing is written at all.
    let t = TensorData::from([1.0f32]);
    assert!(save_file(&[("k".into(), t.clone()), ("k".into(), t)], &path).is_err());
    assert_eq!(std::fs::read(&path).unwrap(), a_bytes);
    // A good save replaces the file, keeps its permissions, and leaves nothing else behind.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    }
    save_safetensors(&b, &path).unwrap();
    let fresh = xor_model(3, DType::F32);
    load_safetensors(&fresh, &path).unwrap();
    assert_eq!(bits(&fresh), bits(&b));
    assert_eq!(listing(&dir), ["m.safetensors"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o640);
    }
}

#[test]
fn a_read_only_file_or_directory_is_not_replaced() {
    let dir = temp_dir("read_only");
    let path = dir.join("m.safetensors");
    let old = xor_model(1, DType::F32);
    save_safetensors(&old, &path).unwrap();
    let old_bytes = std::fs::read(&path).unwrap();
    let set_readonly = |p: &Path, on: bool| {
        let mut perms = std::fs::metadata(p).unwrap().permissions();
        perms.set_readonly(on);
        std::fs::set_permissions(p, perms).unwrap();
    };

    // A read-only file is refused, as std::fs::write refuses it (even for root).
    set_readonly(&path, true);
    let e = save_safetensors(&xor_model(2, DType::F32), &path).unwrap_err();
    assert!(matches!(e, Error::Io { .. }) && e.to_string().contains("read-only"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
    set_readonly(&path, false);

    // A read-only directory: no temporary file can be created. (Root ignores directory
    // permissions, so the check only means something for other users.)
    set_readonly(&dir, true);
    let probe = dir.join("probe");
    let enforced = std::fs::File::create(&probe).is_err();
    let _ = std::fs::remove_file(&probe);
    let result = save_safetensors(&xor_model(2, DType::F32), &path);
    set_readonly(&dir, false);
    if enforced {
        let e = result.unwrap_err();
        assert!(e.to_string().contains("cannot create a temporary file in"), "{e}");
        assert_eq!(std::fs::read(&path).unwrap(), old_bytes);
        let fresh = xor_model(3, DType::F32);
        load_safetensors(&fresh, &path).unwrap();
        assert_eq!(bits(&fresh), bits(&old));
    } else {
        eprintln!("running as root: directory permissions are not enforced, skipped that part");
        result.unwrap();
    }
    assert_eq!(listing(&dir), ["m.safetensors"]);
}

#[cfg(unix)]
#[test]
fn saving_through_a_symbolic_link_replaces_the_linked_file() {
    let dir = temp_dir("symlink");
    let (real, link) = (dir.join("ckpt-1.safetensors"), dir.join("latest.safetensors"));
    save_safetensors(&xor_model(1, DType::F32), &real).unwrap();
    std::os::unix::fs::symlink("ckpt-1.safetensors", &link).unwrap();
    let b = xor_model(2, DType::F32);
    save_safetensors(&b, &link).unwrap();
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    let fresh = xor_model(3, DType::F32);
    load_safetensors(&fresh, &real).unwrap();
    assert_eq!(bits(&fresh), bits(&b));
    assert_eq!(listing(&dir), ["ckpt-1.safetensors", "latest.safetensors"]);
}
