//! makemore part 5 (`crates/examples/src/makemore_wavenet.rs`) against PyTorch 2.9.1:
//! `tools/lectures/makemore_wavenet.py --steps 5` printed the quoted lines.

mod printed;

/// What PyTorch printed: the first 8 contexts of the training set, the parameter count, the
/// first losses, train/val loss in eval mode and 20 names sampled from the global generator.
const PYTORCH: &str = "\
........ --> m
.......m --> i
......mi --> g
.....mig --> n
....mign --> o
...migno --> n
..mignon --> .
........ --> r
76579
      0/      5: 3.2882
      1/      5: 3.2532
      2/      5: 3.1960
      3/      5: 3.1642
      4/      5: 3.1658
train 3.248053789138794
val 3.242227554321289
ckbptq.
zytdtzk.
hteoieoutfbg.
zfywjxbswncvywysxfhx.
scdpeembsa.
h.
liqcijhcxrwxiqfjyrnyprnmjekqafmmagtikd.
ydflvozpi.
dacnqyxexbdcqdpkbggrix.
liqmirvui.
vnhbctwrmkonfcrcehgxmzhkroxfcqqol.
cxsayvrxfudlty.
ppf.
v.
kgeotnonyrsdxb.
zorubjeumuhcebamwfbwhbunypod.
oqsswtvmzkoqttu.
ukygviuugehfttmvecbxlcporvn.
swfxlcuqnoiouiazehopkgjh.
pblnixmecxsvveq.";

#[test]
fn five_steps_eval_and_samples_are_pytorchs() -> torchlet::Result<()> {
    let mut lines = vec![];
    let lossi = torchlet_examples::makemore_wavenet::run(5, |l| lines.push(l))?;
    printed::assert_lines_close(&lines, PYTORCH, 1e-6);
    // lossi is log10 of the printed losses (step 0 printed 3.2882)
    assert_eq!(lossi.len(), 5);
    assert!((10f64.powf(lossi[0]) - 3.2882).abs() < 5e-5, "{lossi:?}");
    Ok(())
}
