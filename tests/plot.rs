//! `torchlet_examples::plot` writes real PNGs of the promised size with visible content, reports bad
//! paths and bad data as errors, and `torchlet_examples::progress::EpochBar` is quiet off a terminal.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use torchlet::Error;
use torchlet_examples::plot;
use torchlet_examples::progress::EpochBar;

/// matplotlib's tab:blue, tab:orange and tab:green, the series colours of the charts.
const BLUE: [u8; 3] = [31, 119, 180];
const ORANGE: [u8; 3] = [255, 127, 14];
const GREEN: [u8; 3] = [44, 160, 44];
/// tab:red, the fourth colour of the cycle.
const RED: [u8; 3] = [214, 39, 40];
/// The `hline` of `plot::lines` (the chart's text is a softer dark gray).
const BLACK: [u8; 3] = [0, 0, 0];
/// Blues at the largest and at a zero count, and the cells' text colour (matplotlib's gray).
const DARKEST_BLUE: [u8; 3] = [8, 48, 107];
const LIGHTEST_BLUE: [u8; 3] = [247, 251, 255];
const GRAY: [u8; 3] = [128, 128, 128];

/// A fresh path in the system temp dir (unique per process and call), removed on drop.
struct TempPng(PathBuf);

impl TempPng {
    fn new(name: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let file = format!("torchlet-plot-test-{}-{n}-{name}.png", std::process::id());
        TempPng(std::env::temp_dir().join(file))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempPng {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// What the PNG container says about an image, read without a decoder.
#[derive(Debug)]
struct PngInfo {
    width: u32,
    height: u32,
    /// Total length of the compressed pixel data (all IDAT chunks).
    idat_bytes: usize,
}

fn png_info(bytes: &[u8]) -> PngInfo {
    assert!(bytes.len() > 33, "too short for a PNG: {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "PNG signature");
    assert_eq!(&bytes[12..16], b"IHDR", "first chunk must be IHDR");
    let be32 = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (width, height) = (be32(16), be32(20));
    // Chunks: length (4) + type (4) + data (length) + CRC (4).
    let mut at = 8;
    let mut idat_bytes = 0;
    while at + 8 <= bytes.len() {
        let len = be32(at) as usize;
        if &bytes[at + 4..at + 8] == b"IDAT" {
            idat_bytes += len;
        }
        at += 12 + len;
    }
    assert_eq!(at, bytes.len(), "chunks must end exactly at the end of the file");
    PngInfo { width, height, idat_bytes }
}

/// Decoded RGB pixels (the `png` crate is already a dependency of torchlet).
struct Pixels {
    width: usize,
    rgb: Vec<u8>,
}

impl Pixels {
    fn read(path: &Path) -> Self {
        let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
        let mut reader = decoder.read_info().unwrap();
        let mut rgb = vec![0; reader.output_buffer_size()];
        let frame = reader.next_frame(&mut rgb).unwrap();
        assert_eq!(frame.color_type, png::ColorType::Rgb);
        rgb.truncate(frame.buffer_size());
        Pixels { width: frame.width as usize, rgb }
    }

    /// How many pixels in rows `rows` have exactly colour `rgb`.
    fn count(&self, rows: std::ops::Range<usize>, matches: impl Fn([u8; 3]) -> bool) -> usize {
        let row_bytes = self.width * 3;
        self.rgb[rows.start * row_bytes..rows.end * row_bytes]
            .chunks_exact(3)
            .filter(|p| matches([p[0], p[1], p[2]]))
            .count()
    }

    fn count_color(&self, rows: std::ops::Range<usize>, rgb: [u8; 3]) -> usize {
        self.count(rows, |p| p == rgb)
    }

    /// Dark (text-like) pixels in rows `rows`.
    fn count_dark(&self, rows: std::ops::Range<usize>) -> usize {
        self.count(rows, |p| p.iter().all(|&c| c < 100))
    }
}

/// Checks the file at `path` is a PNG of `width`x`height` with substantial content and
/// returns its pixels.
fn check_png(path: &Path, width: u32, height: u32) -> Pixels {
    let bytes = std::fs::read(path).unwrap();
    let info = png_info(&bytes);
    assert_eq!((info.width, info.height), (width, height), "{info:?}");
    // A blank white image of this size compresses to well under 5 KB.
    assert!(info.idat_bytes > 20_000, "image looks blank: {info:?}");
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    assert!(!Path::new(&tmp).exists(), "the temporary file must be renamed away");
    Pixels::read(path)
}

fn decaying_losses(n: usize) -> Vec<f64> {
    (0..n).map(|i| 2.3 * (-(i as f64) / 80.0).exp() + 0.1 + 0.05 * ((i * 37 % 11) as f64 / 11.0)).collect()
}

fn assert_plot_error(result: torchlet::Result<()>, path: &Path, expected: &str) {
    let err = result.expect_err("expected an error");
    assert!(matches!(err, Error::Io { op: "plot", .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "message must name the path: {msg}");
    assert!(msg.contains(expected), "message must say {expected:?}: {msg}");
}

#[test]
fn loss_curve_writes_an_800x500_png_with_title_and_line() {
    let out = TempPng::new("loss");
    plot::loss_curve(out.path(), "training loss", &decaying_losses(300)).unwrap();
    let pixels = check_png(out.path(), 800, 500);
    assert!(pixels.count_color(0..500, BLUE) > 1000, "the loss line must be drawn");
    assert!(pixels.count_dark(0..40) > 100, "the title must be rendered");
    assert!(pixels.count_dark(450..500) > 50, "the x axis label must be rendered");
}

#[test]
fn training_curves_write_a_1000x450_png_with_both_panels() {
    let out = TempPng::new("training");
    let losses = [0.92, 0.41, 0.30, 0.24, 0.20];
    let accuracy = [0.861, 0.912, 0.931, 0.944, 0.951];
    plot::training_curves(out.path(), "digits", &losses, &accuracy).unwrap();
    let pixels = check_png(out.path(), 1000, 450);
    assert!(pixels.count_color(0..450, BLUE) > 500, "loss panel");
    assert!(pixels.count_color(0..450, ORANGE) > 500, "accuracy panel");
    assert!(pixels.count_dark(0..40) > 100, "the title must be rendered");
}

#[test]
fn distributions_write_a_1500x500_png_with_one_panel_each() {
    let out = TempPng::new("dists");
    let normal = [0.004, 0.054, 0.242, 0.4, 0.242, 0.054, 0.004];
    let uniform = [1.0 / 7.0; 7];
    let random = [0.3, 0.05, 0.1, 0.2, 0.15, 0.1, 0.1];
    plot::distributions(
        out.path(),
        &[("normal_dist", &normal), ("uniform_dist", &uniform), ("random_dist", &random)],
    )
    .unwrap();
    let pixels = check_png(out.path(), 1500, 500);
    for color in [BLUE, ORANGE, GREEN] {
        assert!(pixels.count_color(0..500, color) > 5000, "bars of {color:?}");
    }
    assert!(pixels.count_dark(0..40) > 200, "the panel captions must be rendered");
}

#[test]
fn nan_and_infinite_values_are_skipped() {
    let out = TempPng::new("gaps");
    let mut losses = decaying_losses(100);
    losses[0] = f64::NAN;
    losses[50] = f64::INFINITY;
    losses[51] = f64::NAN;
    losses[99] = f64::NEG_INFINITY;
    plot::loss_curve(out.path(), "with gaps", &losses).unwrap();
    check_png(out.path(), 800, 500);

    plot::training_curves(out.path(), "gaps", &[1.0, f64::NAN, 0.5], &[f64::NAN, 0.9, 0.95]).unwrap();
    check_png(out.path(), 1000, 450);

    plot::distributions(out.path(), &[("p", &[0.5, f64::NAN, 0.5])]).unwrap();
    check_png(out.path(), 1500, 500);
}

#[test]
fn degenerate_but_valid_data_still_plots() {
    let out = TempPng::new("degenerate");
    // One point, a constant series, a tiny range, huge values, a single event, more than 1.
    for losses in [&[0.7][..], &[0.0; 20], &[1.0, 1.0 + 1e-12, 1.0 - 1e-12], &[1e12, 3e12, 2e12]] {
        plot::loss_curve(out.path(), "edge", losses).unwrap();
        check_png(out.path(), 800, 500);
    }
    plot::training_curves(out.path(), "one epoch", &[0.5], &[97.5]).unwrap();
    check_png(out.path(), 1000, 450);
    let many: Vec<f64> = (0..100).map(|i| (i % 7) as f64 / 50.0).collect();
    plot::distributions(out.path(), &[("one", &[1.0]), ("many", &many), ("above one", &[1.5, -0.2])])
        .unwrap();
    check_png(out.path(), 1500, 500);
}

#[test]
fn empty_or_non_finite_data_is_an_error() {
    let out = TempPng::new("empty");
    let p = out.path();
    assert_plot_error(plot::loss_curve(p, "t", &[]), p, "losses: nothing to plot (got an empty slice)");
    assert_plot_error(plot::loss_curve(p, "t", &[f64::NAN, f64::INFINITY]), p, "all 2 values are NaN");
    assert_plot_error(plot::loss_curve(p, "t", &[-f64::MAX, f64::MAX]), p, "too far apart");
    assert_plot_error(plot::training_curves(p, "t", &[1.0], &[]), p, "accuracy_per_epoch: nothing to plot");
    assert_plot_error(plot::training_curves(p, "t", &[], &[1.0]), p, "losses_per_epoch: nothing to plot");
    assert_plot_error(plot::distributions(p, &[]), p, "no distributions to plot");
    assert_plot_error(plot::distributions(p, &[("a", &[0.5]), ("b", &[])]), p, "b: nothing to plot");
    assert!(!p.exists(), "nothing is written for invalid data");
}

#[test]
fn an_unwritable_path_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("torchlet-plot-test-{}-no-such-dir", std::process::id()));
    let path = dir.join("loss.png");
    assert_plot_error(plot::loss_curve(&path, "t", &[1.0, 0.5]), &path, "cannot write the PNG");
    assert_plot_error(plot::training_curves(&path, "t", &[1.0], &[0.5]), &path, "cannot write the PNG");
    assert_plot_error(plot::distributions(&path, &[("p", &[1.0])]), &path, "cannot write the PNG");
    let points = [(0.0, 1.0), (1.0, 0.5)];
    let series = [plot::Series { name: "p", points: &points }];
    assert_plot_error(plot::lines(&path, "t", "x", "y", &series, Some(0.0)), &path, "cannot write the PNG");
    assert_plot_error(plot::count_table(&path, &['.', 'a'], &[0, 1, 2, 3]), &path, "cannot write the PNG");
    assert!(!dir.exists());
}

/// `n` points of a curve shaped like makemore's learning-rate sweep, x from -3 to 0.
fn sweep_like(n: usize, shift: f64) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let x = -3.0 + 3.0 * i as f64 / (n - 1) as f64;
            (x, shift + 2.5 + 8.0 * (x + 1.0).powi(2) + 0.3 * ((i * 37 % 11) as f64 / 11.0))
        })
        .collect()
}

#[test]
fn lines_write_a_1200x450_png_with_every_series_and_the_hline() {
    let out = TempPng::new("lines");
    let (a, b, c, d) =
        (sweep_like(1000, 0.0), sweep_like(200, 5.0), sweep_like(7, -2.0), sweep_like(50, 10.0));
    let series = [
        plot::Series { name: "loss", points: &a },
        plot::Series { name: "shifted", points: &b },
        plot::Series { name: "seven points", points: &c },
        plot::Series { name: "fourth", points: &d },
    ];
    plot::lines(out.path(), "sweep", "learning rate exponent", "loss", &series, Some(-1.0)).unwrap();
    let pixels = check_png(out.path(), 1200, 450);
    for color in [BLUE, ORANGE, GREEN, RED] {
        assert!(pixels.count_color(0..450, color) > 300, "line of {color:?}");
    }
    assert!(pixels.count_color(0..450, BLACK) > 1000, "the horizontal line must be drawn");
    assert!(pixels.count_dark(0..40) > 50, "the title must be rendered");
    assert!(pixels.count_dark(400..450) > 50, "the x axis label must be rendered");
}

#[test]
fn lines_skip_non_finite_points_and_unnamed_or_empty_series() {
    let out = TempPng::new("lines-gaps");
    let mut a = sweep_like(100, 0.0);
    a[0].1 = f64::NAN;
    a[40].0 = f64::INFINITY;
    a[41].1 = f64::NEG_INFINITY;
    let one = [(0.5, 3.0)];
    let series = [
        plot::Series { name: "gaps", points: &a },
        plot::Series { name: "", points: &one },
        plot::Series { name: "empty", points: &[] },
        plot::Series { name: "all NaN", points: &[(f64::NAN, 1.0), (1.0, f64::NAN)] },
    ];
    plot::lines(out.path(), "gaps", "x", "y", &series, Some(f64::NAN)).unwrap();
    check_png(out.path(), 1200, 450);
    // One point, one constant series, a line far below the data, no title.
    plot::lines(out.path(), "", "x", "y", &[plot::Series { name: "p", points: &one }], None).unwrap();
    check_png(out.path(), 1200, 450);
    let flat = [(0.0, 2.0), (1.0, 2.0)];
    plot::lines(out.path(), "flat", "x", "y", &[plot::Series { name: "f", points: &flat }], Some(-3.0))
        .unwrap();
    check_png(out.path(), 1200, 450);
}

#[test]
fn count_table_writes_a_1600x1600_png_with_blue_cells_and_gray_text() {
    let out = TempPng::new("counts");
    let labels: Vec<char> = std::iter::once('.').chain('a'..='z').collect();
    let counts: Vec<i64> =
        (0..27 * 27).map(|k| if k % 27 == 0 { 0 } else { (k * 7919 % 1800) as i64 }).collect();
    plot::count_table(out.path(), &labels, &counts).unwrap();
    let pixels = check_png(out.path(), 1600, 1600);
    assert!(pixels.count_color(0..1600, DARKEST_BLUE) > 1000, "the largest count's cell");
    assert!(pixels.count_color(0..1600, LIGHTEST_BLUE) > 27 * 1000, "the zero counts' cells");
    assert!(pixels.count_color(0..1600, GRAY) > 27 * 27 * 5, "the text of every cell");
    // Small tables and tables of zeros draw too.
    plot::count_table(out.path(), &['.'], &[0]).unwrap();
    check_png_size(out.path(), 1600, 1600);
    plot::count_table(out.path(), &['.', 'a'], &[0, 3, -1, 10]).unwrap();
    check_png_size(out.path(), 1600, 1600);
}

/// Checks the file at `path` is a PNG of `width`x`height` (however plain its content).
fn check_png_size(path: &Path, width: u32, height: u32) {
    let info = png_info(&std::fs::read(path).unwrap());
    assert_eq!((info.width, info.height), (width, height), "{info:?}");
}

#[test]
fn lines_and_count_tables_report_bad_data() {
    let out = TempPng::new("bad");
    let p = out.path();
    assert_plot_error(plot::lines(p, "t", "x", "y", &[], None), p, "no series to plot (got an empty list)");
    let empty = [plot::Series { name: "a", points: &[] }];
    assert_plot_error(plot::lines(p, "t", "x", "y", &empty, Some(1.0)), p, "every series is empty");
    let nan = [
        plot::Series { name: "a", points: &[(f64::NAN, 1.0), (0.0, f64::INFINITY)] },
        plot::Series { name: "b", points: &[(f64::NEG_INFINITY, f64::NAN)] },
    ];
    assert_plot_error(
        plot::lines(p, "t", "x", "y", &nan, None),
        p,
        "all 3 points have a NaN or infinite coordinate",
    );
    let far = [plot::Series { name: "a", points: &[(0.0, -f64::MAX), (1.0, f64::MAX)] }];
    assert_plot_error(plot::lines(p, "t", "x", "y", &far, None), p, "too far apart");
    assert_plot_error(plot::count_table(p, &[], &[]), p, "no labels");
    assert_plot_error(
        plot::count_table(p, &['.', 'a', 'b'], &[1; 8]),
        p,
        "3 labels need 3 x 3 = 9 counts, got 8",
    );
    assert_plot_error(plot::count_table(p, &['.'], &[1, 2]), p, "1 labels need 1 x 1 = 1 counts, got 2");
    assert!(!p.exists(), "nothing is written for invalid data");
}

#[test]
fn epoch_bar_is_quiet_and_does_not_panic_off_a_terminal() {
    let epochs = 2;
    for epoch in 1..=epochs {
        let mut bar = EpochBar::new(epoch, epochs, 10);
        if !std::io::stderr().is_terminal() {
            assert!(bar.is_hidden(), "stderr is not a terminal, so the bar must be hidden");
        }
        for batch in 0..10 {
            bar.tick(1.0 / (batch + 1) as f64);
        }
        // More ticks than announced batches, and odd values, are fine too.
        bar.tick(f64::NAN);
        bar.finish(0.95);
    }
    EpochBar::new(1, 1, 0).finish(f64::NAN);
}
