//! What the makemore walkthroughs share: the names of `data/names.txt`, the character
//! vocabulary (`.` is 0, the letters 1..=26), the bigrams of every name and sampling a name
//! one character at a time, the data splits and context-window sampling of parts 2-5.

use torchlet::tensor_core::random::PyRandom;
use torchlet::{Error, Generator, Result, Tensor};

/// The names of `data/names.txt`, one per line.
pub fn load_names() -> Result<Vec<String>> {
    let path = crate::project_path("data/names.txt");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::invalid("load_names", format!("cannot read {}: {e}", path.display())))?;
    Ok(text.lines().map(str::to_string).collect())
}

/// The lecture's `itos`: `.` then the sorted distinct characters of `words`.
pub fn vocabulary(words: &[String]) -> Vec<char> {
    let chars: std::collections::BTreeSet<char> = words.iter().flat_map(|w| w.chars()).collect();
    std::iter::once('.').chain(chars).collect()
}

/// Every bigram of every name with `.` marking start and end, as `(xs, ys)` index tensors:
/// `xs[i]` is followed by `ys[i]` (the lecture's `zip(chs, chs[1:])`).
pub fn bigrams(words: &[String], itos: &[char]) -> (Tensor, Tensor) {
    let stoi = |c: char| itos.iter().position(|&x| x == c).unwrap_or(0) as i64;
    let (mut xs, mut ys) = (vec![], vec![]);
    for w in words {
        let chs: Vec<char> = std::iter::once('.').chain(w.chars()).chain(std::iter::once('.')).collect();
        for pair in chs.windows(2) {
            xs.push(stoi(pair[0]));
            ys.push(stoi(pair[1]));
        }
    }
    (Tensor::from(xs), Tensor::from(ys))
}

/// `count` names sampled as the lecture does: from `ix = 0`, draw the next index from
/// `probs_of(ix)` with `torch.multinomial(p, 1, replacement=True, generator=g)` until `.`.
pub fn sample_names(
    count: usize,
    itos: &[char],
    g: &mut Generator,
    probs_of: impl Fn(usize) -> Result<Tensor>,
) -> Result<Vec<String>> {
    (0..count)
        .map(|_| {
            let (mut out, mut ix) = (String::new(), 0);
            loop {
                ix = probs_of(ix)?.multinomial_with(1, true, g)?.item()? as usize;
                out.push(itos[ix]);
                if ix == 0 {
                    return Ok(out);
                }
            }
        })
        .collect()
}

/// The lecture's `build_dataset`: for every character of every name (and the closing `.`),
/// the `block_size` characters before it (`.`-padded) as a row of `x` and the character as
/// `y`: `x` `(n, block_size)`, `y` `(n)`, both i64.
pub fn build_dataset(words: &[String], itos: &[char], block_size: usize) -> Result<(Tensor, Tensor)> {
    let stoi = |c: char| itos.iter().position(|&x| x == c).unwrap_or(0) as i64;
    let (mut x, mut y) = (vec![], vec![]);
    for w in words {
        let mut context = vec![0i64; block_size];
        for ix in w.chars().map(stoi).chain(std::iter::once(0)) {
            x.extend_from_slice(&context);
            y.push(ix);
            context.remove(0); // crop and append
            context.push(ix);
        }
    }
    let n = y.len();
    Ok((Tensor::from(x).view([n, block_size])?, Tensor::from(y)))
}

/// The data of makemore parts 2-5: the vocabulary and the lecture's 80/10/10 split of the
/// names after `random.seed(42); random.shuffle(words)`, each part as `build_dataset` pairs.
pub struct Splits {
    /// `.` then the letters (`itos`).
    pub itos: Vec<char>,
    /// Training contexts `(n, block_size)` and next characters `(n)`.
    pub train: (Tensor, Tensor),
    /// Development (validation) contexts and next characters.
    pub dev: (Tensor, Tensor),
    /// Test contexts and next characters.
    pub test: (Tensor, Tensor),
}

/// `data/names.txt` shuffled by Python's `random` from seed 42 and cut at 80% and 90%, with
/// contexts of `block_size` characters.
pub fn splits(block_size: usize) -> Result<Splits> {
    let mut words = load_names()?;
    let itos = vocabulary(&words);
    PyRandom::seed(42).shuffle(&mut words); // random.seed(42); random.shuffle(words)
    let (n1, n2) = ((0.8 * words.len() as f64) as usize, (0.9 * words.len() as f64) as usize);
    Ok(Splits {
        train: build_dataset(&words[..n1], &itos, block_size)?,
        dev: build_dataset(&words[n1..n2], &itos, block_size)?,
        test: build_dataset(&words[n2..], &itos, block_size)?,
        itos,
    })
}

/// `count` names sampled as parts 2-5 do: from a context of `block_size` dots, `next` draws
/// the next character from the model given the context `(1, block_size)`, which then shifts
/// in (`context = context[1:] + [ix]`), until `.` is drawn.
pub fn sample_with_context(
    count: usize,
    block_size: usize,
    itos: &[char],
    mut next: impl FnMut(&Tensor) -> Result<i64>,
) -> Result<Vec<String>> {
    (0..count)
        .map(|_| {
            let (mut name, mut context) = (String::new(), vec![0i64; block_size]);
            loop {
                let ix = next(&Tensor::from(context.clone()).view([1, block_size])?)?;
                context.remove(0);
                context.push(ix);
                name.push(itos.get(ix as usize).copied().unwrap_or('?'));
                if ix == 0 {
                    return Ok(name);
                }
            }
        })
        .collect()
}
