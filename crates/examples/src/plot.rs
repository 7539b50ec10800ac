//! Charts for teaching: loss curves, per-epoch training curves, discrete distributions,
//! decision boundaries, named lines on one chart and tables of counts, written as PNG files.
//!
//! ```no_run
//! use torchlet_examples::plot;
//!
//! let losses = [2.3, 1.1, 0.7, 0.45, 0.38, 0.31];
//! plot::loss_curve("loss.png", "XOR training loss", &losses)?;
//!
//! plot::training_curves("digits.png", "digits MLP", &[0.9, 0.4, 0.3], &[0.85, 0.93, 0.95])?;
//!
//! let normal = [0.05, 0.25, 0.4, 0.25, 0.05];
//! let uniform = [0.2; 5];
//! plot::distributions("dists.png", &[("normal_dist", &normal), ("uniform_dist", &uniform)])?;
//!
//! let sweep = [(-3.0, 24.8), (-2.0, 11.2), (-1.0, 6.9), (0.0, 13.7)];
//! plot::lines("sweep.png", "lr sweep", "exponent", "loss", &[plot::Series { name: "loss", points: &sweep }], None)?;
//!
//! plot::count_table("counts.png", &['.', 'a'], &[0, 12, 9, 3])?;
//! # Ok::<(), torchlet::Error>(())
//! ```
//!
//! Everything is pure Rust: [`plotters`] draws into an in-memory RGB buffer with the bundled
//! DejaVu Sans font (no system fonts are looked up), and the buffer is encoded with [`png`].
//! The file is written to `<path>.tmp` first and then renamed, so a half-written PNG never
//! appears under `path`.
//!
//! Values that are NaN or infinite (a diverged step, a skipped evaluation) are left out of
//! the chart: a line is broken at them, a bar is not drawn. Data with no finite value at all,
//! an unwritable path and drawing failures are reported as [`Error::Io`] with op `"plot"`
//! and the path in the message; these functions never panic.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::ops::Range;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::OnceLock;

use plotters::backend::RGBPixel;
use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::register_font;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use torchlet::{Error, Result};

/// DejaVu Sans 2.37, embedded so text renders the same everywhere (license:
/// `assets/fonts/LICENSE-DejaVu.txt`).
static DEJAVU_SANS: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

/// The family name the bundled font is registered under with plotters.
const FONT: &str = "sans-serif";

/// Text sizes in pixels.
const TITLE_SIZE: u32 = 24;
const CAPTION_SIZE: u32 = 20;
const AXIS_DESC_SIZE: u32 = 16;
const TICK_LABEL_SIZE: u32 = 13;

/// matplotlib's default colour cycle, `tab10`: tab:blue, tab:orange, tab:green, tab:red,
/// tab:purple, tab:brown, tab:pink, tab:gray, tab:olive, tab:cyan.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];
/// Grid lines (at the labelled ticks only): light enough not to compete with the data.
const GRID: RGBColor = RGBColor(228, 228, 228);
/// Axis lines and tick marks.
const AXIS: RGBColor = RGBColor(90, 90, 90);
/// Titles and labels.
const TEXT: RGBColor = RGBColor(30, 30, 30);
/// The text in the cells of [`count_table`]: matplotlib's `'gray'`.
const CELL_TEXT: RGBColor = RGBColor(128, 128, 128);

/// Series with at most this many points get a marker on every point.
const MAX_MARKED_POINTS: usize = 40;

/// The drawing area every chart is drawn on.
type Area<'a> = DrawingArea<BitMapBackend<'a, RGBPixel>, Shift>;
/// What drawing on an [`Area`] returns.
type Drawn<'a> = DrawResult<(), BitMapBackend<'a, RGBPixel>>;

/// Plots a loss per training step as a line chart (x axis "step" from 0, y axis "loss"),
/// as an 800x500 PNG at `path`.
///
/// NaN and infinite losses are skipped (the line is broken there).
///
/// # Errors
///
/// [`Error::Io`] (op `"plot"`, message with the path) if `losses` has no finite value, the
/// values span more than an `f64` can hold, or the file cannot be written.
pub fn loss_curve(path: impl AsRef<Path>, title: &str, losses: &[f64]) -> Result<()> {
    let path = path.as_ref();
    let y_range = value_range(path, "losses", losses)?;
    let loss = LinePanel {
        caption: None,
        x_desc: "step",
        y_desc: "loss",
        values: losses,
        first_x: 0,
        y_range,
        color: PALETTE[0],
    };
    render(path, (800, 500), |root| {
        let area = root.titled(title, text_style(TITLE_SIZE))?;
        loss.draw(&area)
    })
}

/// Plots the training loss and the test accuracy of each epoch in two panels side by side
/// (x axis "epoch" from 1), as a 1000x450 PNG at `path`.
///
/// The accuracy is plotted as given (a fraction or a percentage); each y axis fits its
/// data. The two slices may have different lengths. NaN and infinite values are skipped.
///
/// # Errors
///
/// [`Error::Io`] (op `"plot"`, message with the path) if either slice has no finite value,
/// the values span more than an `f64` can hold, or the file cannot be written.
pub fn training_curves(
    path: impl AsRef<Path>,
    title: &str,
    losses_per_epoch: &[f64],
    accuracy_per_epoch: &[f64],
) -> Result<()> {
    let path = path.as_ref();
    let loss = LinePanel {
        caption: Some("training loss"),
        x_desc: "epoch",
        y_desc: "loss",
        values: losses_per_epoch,
        first_x: 1,
        y_range: value_range(path, "losses_per_epoch", losses_per_epoch)?,
        color: PALETTE[0],
    };
    let accuracy = LinePanel {
        caption: Some("test accuracy"),
        x_desc: "epoch",
        y_desc: "accuracy",
        values: accuracy_per_epoch,
        first_x: 1,
        y_range: value_range(path, "accuracy_per_epoch", accuracy_per_epoch)?,
        color: PALETTE[1],
    };
    render(path, (1000, 450), |root| {
        let area = root.titled(title, text_style(TITLE_SIZE))?;
        let panels = area.split_evenly((1, 2));
        loss.draw(&panels[0])?;
        accuracy.draw(&panels[1])
    })
}

/// Plots discrete distributions as bar charts side by side, one panel per `(name, probs)`
/// with the name as its caption, x axis "event" (`0..probs.len()`) and y axis
/// "probability" from 0 to 1 (extended if a value lies outside), as a 1500x500 PNG at `path`.
///
/// ```no_run
/// let normal = [0.01, 0.06, 0.24, 0.38, 0.24, 0.06, 0.01];
/// let uniform = [1.0 / 7.0; 7];
/// let random = [0.3, 0.05, 0.1, 0.2, 0.15, 0.1, 0.1];
/// torchlet_examples::plot::distributions(
///     "distributions.png",
///     &[("normal_dist", &normal), ("uniform_dist", &uniform), ("random_dist", &random)],
/// )?;
/// # Ok::<(), torchlet::Error>(())
/// ```
///
/// NaN and infinite probabilities are skipped (no bar).
///
/// # Errors
///
/// [`Error::Io`] (op `"plot"`, message with the path) if `named` is empty, a distribution
/// has no finite value, or the file cannot be written.
pub fn distributions(path: impl AsRef<Path>, named: &[(&str, &[f64])]) -> Result<()> {
    let path = path.as_ref();
    if named.is_empty() {
        return Err(plot_error(path, "no distributions to plot (got an empty list)"));
    }
    let panels = named
        .iter()
        .zip(PALETTE.iter().cycle())
        .map(|(&(name, probs), &color)| {
            let (lo, hi) = finite_min_max(probs).ok_or_else(|| no_finite_values(path, name, probs))?;
            // 0 to 1, with 5% headroom for values outside (which are not probabilities).
            let y_range = if lo < 0.0 { lo * 1.05 } else { 0.0 }..if hi > 1.0 { hi * 1.05 } else { 1.0 };
            Ok(BarPanel { name, probs, y_range, color })
        })
        .collect::<Result<Vec<_>>>()?;
    render(path, (1500, 500), |root| {
        for (panel, area) in panels.iter().zip(root.split_evenly((1, panels.len()))) {
            panel.draw(&area)?;
        }
        Ok(())
    })
}

/// A classifier's decisions on a grid of points (what `plt.contourf` draws): the grid's
/// coordinates along x and y, and for each point, row by row (`y` outer, `x` inner), whether
/// the class is positive.
pub struct Grid {
    /// The x coordinates of the grid's columns, increasing and evenly spaced.
    pub xs: Vec<f64>,
    /// The y coordinates of the grid's rows, increasing and evenly spaced.
    pub ys: Vec<f64>,
    /// `positive[r * xs.len() + c]`: the decision at `(xs[c], ys[r])`.
    pub positive: Vec<bool>,
}

/// Plots a binary classifier's decision regions and the labelled points on top, like the
/// micrograd notebook's `contourf` + `scatter` (Spectral colours: red for negative, blue for
/// positive), as a 600x600 PNG at `path`. `points` are `(x, y)` pairs, `labels` their classes
/// (positive when `> 0`).
///
/// # Errors
///
/// [`Error::Io`] (op `"plot"`, message with the path) if the grid is empty or its decisions do
/// not match its size, the points and labels differ in number, or the file cannot be written.
pub fn decision_boundary(
    path: impl AsRef<Path>,
    title: &str,
    grid: &Grid,
    points: &[(f64, f64)],
    labels: &[f64],
) -> Result<()> {
    let path = path.as_ref();
    let (nx, ny) = (grid.xs.len(), grid.ys.len());
    if nx < 2 || ny < 2 || grid.positive.len() != nx * ny {
        return Err(plot_error(path, format!("a grid needs at least 2 x 2 points and one decision per point (got {nx} x {ny} points, {} decisions)", grid.positive.len())));
    }
    if points.len() != labels.len() {
        return Err(plot_error(path, format!("{} points but {} labels", points.len(), labels.len())));
    }
    let (hx, hy) = (grid.xs[1] - grid.xs[0], grid.ys[1] - grid.ys[0]);
    let x_range = grid.xs[0] - hx / 2.0..grid.xs[nx - 1] + hx / 2.0;
    let y_range = grid.ys[0] - hy / 2.0..grid.ys[ny - 1] + hy / 2.0;
    // matplotlib's Spectral at its two ends, lightened for the regions.
    let (neg, pos) = (RGBColor(213, 62, 79), RGBColor(50, 136, 189));
    let light = |c: RGBColor| {
        RGBColor(
            ((c.0 as u16 + 2 * 255) / 3) as u8,
            ((c.1 as u16 + 2 * 255) / 3) as u8,
            ((c.2 as u16 + 2 * 255) / 3) as u8,
        )
    };
    render(path, (600, 600), |root| {
        let area = root.titled(title, text_style(TITLE_SIZE))?;
        let mut chart = ChartBuilder::on(&area)
            .margin(15)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_label_formatter(&|x| format!("{x:.1}")).y_label_formatter(&|y| format!("{y:.1}")).draw()?;
        chart.draw_series(grid.positive.iter().enumerate().map(|(i, &p)| {
            let (x, y) = (grid.xs[i % nx], grid.ys[i / nx]);
            let color = light(if p { pos } else { neg });
            Rectangle::new([(x - hx / 2.0, y - hy / 2.0), (x + hx / 2.0, y + hy / 2.0)], color.filled())
        }))?;
        chart.draw_series(
            points.iter().zip(labels).map(|(&p, &l)| {
                Circle::new(p, 5, ShapeStyle::from(if l > 0.0 { pos } else { neg }).filled())
            }),
        )?;
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 5, ShapeStyle::from(AXIS).stroke_width(1))))?;
        Ok(())
    })
}

/// One named line of a [`lines`] chart.
#[derive(Debug, Clone, Copy)]
pub struct Series<'a> {
    /// The series' entry in the legend; a series with an empty name gets none.
    pub name: &'a str,
    /// The `(x, y)` points, joined by straight lines in the order given. A point with a NaN
    /// or infinite coordinate is left out and breaks the line there.
    pub points: &'a [(f64, f64)],
}

/// Plots several named series as lines on one chart, like repeated `plt.plot(xs, ys)` calls
/// followed by `plt.legend()`, as a 1200x450 PNG at `path`.
///
/// The series take matplotlib's default colours in order (tab:blue, tab:orange, tab:green,
/// ... cycling after ten), and a legend with their names is placed where it covers the fewest
/// points and segments (matplotlib's `loc="best"`). Both axes fit every finite point of every
/// series, with a 5% margin. `hline` adds a black horizontal reference line across the chart at
/// that y (the axes include it), like makemore part 3's `plt.plot([0, len(ud)], [-3, -3], 'k')`;
/// a NaN or infinite `hline` is not drawn.
///
/// ```no_run
/// use torchlet_examples::plot::{self, Series};
///
/// let sweep: Vec<(f64, f64)> = (0..1000).map(|i| (-3.0 + 3.0 * i as f64 / 999.0, 2.5)).collect();
/// let series = [Series { name: "loss", points: &sweep }];
/// plot::lines("sweep.png", "learning-rate sweep", "learning rate exponent", "loss", &series, None)?;
/// # Ok::<(), torchlet::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] (op `"plot"`, message with the path) if `series` is empty or holds no point
/// with finite coordinates, the values span more than an `f64` can hold, or the file cannot
/// be written.
pub fn lines(
    path: impl AsRef<Path>,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series<'_>],
    hline: Option<f64>,
) -> Result<()> {
    let path = path.as_ref();
    if series.is_empty() {
        return Err(plot_error(path, "no series to plot (got an empty list)"));
    }
    let runs: Vec<Vec<Vec<(f64, f64)>>> =
        series.iter().map(|s| finite_point_runs(s.points.iter().copied())).collect();
    let finite = || runs.iter().flatten().flatten();
    if finite().next().is_none() {
        let total: usize = series.iter().map(|s| s.points.len()).sum();
        let msg = if total == 0 {
            "series: nothing to plot (every series is empty)".to_string()
        } else {
            format!("series: nothing to plot (all {total} points have a NaN or infinite coordinate)")
        };
        return Err(plot_error(path, msg));
    }
    let hline = hline.filter(|h| h.is_finite());
    let xs: Vec<f64> = finite().map(|p| p.0).collect();
    let ys: Vec<f64> = finite().map(|p| p.1).chain(hline).collect();
    let x_range = value_range(path, "x", &xs)?;
    let y_range = value_range(path, "y", &ys)?;
    render(path, (1200, 450), |root| {
        let area = root.titled(title, text_style(TITLE_SIZE))?;
        let mut chart = ChartBuilder::on(&area)
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(70)
            .build_cartesian_2d(x_range.clone(), y_range.clone())?;
        let (x_format, y_format) = (TickFormat::for_range(&x_range), TickFormat::for_range(&y_range));
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_label_formatter(&|x| x_format.label(*x))
            .y_label_formatter(&|y| y_format.label(*y))
            .x_desc(x_desc)
            .y_desc(y_desc)
            .draw()?;
        for ((s, runs), &color) in series.iter().zip(&runs).zip(PALETTE.iter().cycle()) {
            draw_runs(&mut chart, runs, color)?;
            if !s.name.is_empty() {
                // An empty series carries the legend entry, whatever the runs are.
                chart
                    .draw_series(LineSeries::new(std::iter::empty(), color))?
                    .label(s.name)
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
            }
        }
        let hline_ends = hline.map(|h| [(x_range.start, h), (x_range.end, h)]);
        if let Some(ends) = hline_ends {
            chart.draw_series(LineSeries::new(ends, BLACK.stroke_width(2)))?;
        }
        let names: Vec<&str> = series.iter().map(|s| s.name).filter(|n| !n.is_empty()).collect();
        if !names.is_empty() {
            let obstacles =
                runs.iter().flatten().map(Vec::as_slice).chain(hline_ends.as_ref().map(|e| &e[..]));
            let position = best_legend_position(&chart, &names, obstacles);
            chart
                .configure_series_labels()
                .position(position)
                .label_font(text_style(TICK_LABEL_SIZE))
                .background_style(WHITE.mix(0.8))
                .border_style(GRID)
                .draw()?;
        }
        Ok(())
    })
}

/// Plots a table of counts as makemore part 1 draws its bigram counts `N`:
/// `plt.imshow(N, cmap='Blues')` with, in every cell, the two labels `itos[i] + itos[j]` above
/// the cell's centre and the count below it, and no axes (`plt.axis('off')`).
/// `counts` holds the `n x n` table row by row, `n = labels.len()`; row `i`, column `j` is
/// `counts[i * n + j]`. The PNG at `path` is 1600x1600 (larger only for tables of more than
/// 1568 rows), the cells square; the text is left out when the cells are too small for it.
///
/// The colours are matplotlib's Blues at `count / max(counts)`: near-white (247, 251, 255) for
/// 0, dark blue (8, 48, 107) for the largest count, linear between the nine colours the map is
/// made of. Negative counts are drawn as 0. The text is the lecture's gray, except on cells
/// dark enough that white reads better, where it is white.
///
/// ```no_run
/// let labels = ['.', 'a', 'b'];
/// let counts = [0, 4, 1, 3, 2, 5, 1, 6, 0];
/// torchlet_examples::plot::count_table("counts.png", &labels, &counts)?;
/// # Ok::<(), torchlet::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::Io`] (op `"plot"`, message with the path) if `labels` is empty, `counts` does not
/// hold `n * n` values, or the file cannot be written.
pub fn count_table(path: impl AsRef<Path>, labels: &[char], counts: &[i64]) -> Result<()> {
    let path = path.as_ref();
    let n = labels.len();
    if n == 0 {
        return Err(plot_error(path, "no labels: a count table needs at least one row"));
    }
    if n.checked_mul(n) != Some(counts.len()) {
        let want = n.saturating_mul(n);
        return Err(plot_error(
            path,
            format!("{n} labels need {n} x {n} = {want} counts, got {}", counts.len()),
        ));
    }
    let max = counts.iter().copied().max().unwrap_or(0);
    // Cells of whole pixels, centred, with a margin of at least 16 pixels.
    let cell = (1568 / n).max(1);
    let Ok(side) = u32::try_from((n * cell + 32).max(1600)) else {
        return Err(plot_error(path, format!("a table of {n} x {n} counts is too large to draw")));
    };
    let (cell, offset) = (cell as i32, (side as i32 - n as i32 * cell as i32) / 2);
    // Three tenths of a cell, so that four digits fit across it.
    let font_size = (cell as f64 * 0.3).min(40.0) as u32;
    let colors: Vec<RGBColor> =
        counts.iter().map(|&c| blues(if max > 0 { c.max(0) as f64 / max as f64 } else { 0.0 })).collect();
    render(path, (side, side), |root| {
        for (k, &color) in colors.iter().enumerate() {
            let (x0, y0) = (offset + (k % n) as i32 * cell, offset + (k / n) as i32 * cell);
            root.draw(&Rectangle::new([(x0, y0), (x0 + cell, y0 + cell)], color.filled()))?;
        }
        if font_size < 6 {
            return Ok(());
        }
        let font = (FONT, font_size).into_font();
        for (k, (&count, &color)) in counts.iter().zip(&colors).enumerate() {
            let (i, j) = (k / n, k % n);
            let (cx, cy) = (offset + j as i32 * cell + cell / 2, offset + i as i32 * cell + cell / 2);
            let text_color = cell_text_color(color);
            let text = TextStyle::from(font.clone()).color(&text_color);
            // matplotlib's va="bottom" / va="top" at the centre: the pair above, the count below.
            let pair: String = [labels[i], labels[j]].iter().collect();
            root.draw(&Text::new(pair, (cx, cy - 1), text.pos(Pos::new(HPos::Center, VPos::Bottom))))?;
            root.draw(&Text::new(
                count.to_string(),
                (cx, cy + 2),
                text.pos(Pos::new(HPos::Center, VPos::Top)),
            ))?;
        }
        Ok(())
    })
}

/// One line chart: `values[i]` plotted at x = `first_x + i`.
struct LinePanel<'a> {
    caption: Option<&'a str>,
    x_desc: &'a str,
    y_desc: &'a str,
    values: &'a [f64],
    first_x: usize,
    y_range: Range<f64>,
    color: RGBColor,
}

impl LinePanel<'_> {
    fn draw<'b>(&self, area: &Area<'b>) -> Drawn<'b> {
        // x is continuous so the first and last point get a margin (and a whole marker), but
        // only whole steps/epochs are labelled.
        let first = self.first_x as f64;
        let last = first + self.values.len().saturating_sub(1) as f64;
        let pad = ((last - first) * 0.03).max(0.5);
        let mut builder = ChartBuilder::on(area);
        builder.margin(15).x_label_area_size(45).y_label_area_size(70);
        if let Some(caption) = self.caption {
            builder.caption(caption, text_style(CAPTION_SIZE));
        }
        let mut chart = builder.build_cartesian_2d(first - pad..last + pad, self.y_range.clone())?;
        let y_format = TickFormat::for_range(&self.y_range);
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.x_labels(self.values.len().clamp(2, 10))
            .x_label_formatter(&|x| whole_number_label(*x))
            .y_label_formatter(&|y| y_format.label(*y))
            .x_desc(self.x_desc)
            .y_desc(self.y_desc)
            .draw()?;

        draw_runs(&mut chart, &finite_runs(self.values, first), self.color)
    }
}

/// A chart with `f64` axes, as [`LinePanel`] and [`lines`] draw on.
type XyChart<'a, 'b> =
    ChartContext<'a, BitMapBackend<'b, RGBPixel>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Draws one series, split into `runs` of finite points, as a line of `color` broken between
/// runs; short series (and lone points between gaps) also get a marker on every point.
fn draw_runs<'b>(chart: &mut XyChart<'_, 'b>, runs: &[Vec<(f64, f64)>], color: RGBColor) -> Drawn<'b> {
    let points: usize = runs.iter().map(Vec::len).sum();
    let line = color.stroke_width(2);
    for run in runs {
        chart.draw_series(LineSeries::new(run.iter().copied(), line))?;
        // A lone point between gaps has no line through it: mark it so it is not lost.
        if points <= MAX_MARKED_POINTS || run.len() == 1 {
            chart.draw_series(run.iter().map(|&p| Circle::new(p, 3, color.filled())))?;
        }
    }
    Ok(())
}

/// One bar chart of a discrete distribution: bar `i` has height `probs[i]`.
struct BarPanel<'a> {
    name: &'a str,
    probs: &'a [f64],
    y_range: Range<f64>,
    color: RGBColor,
}

impl BarPanel<'_> {
    fn draw<'b>(&self, area: &Area<'b>) -> Drawn<'b> {
        let last_event = self.probs.len().saturating_sub(1);
        let mut chart = ChartBuilder::on(area)
            .caption(self.name, text_style(CAPTION_SIZE))
            .margin(15)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d((0..last_event).into_segmented(), self.y_range.clone())?;
        let y_format = TickFormat::for_range(&self.y_range);
        let mut mesh = chart.configure_mesh();
        style_mesh(&mut mesh);
        mesh.disable_x_mesh()
            .x_desc("event")
            .y_desc("probability")
            .x_label_formatter(&|x| match x {
                SegmentValue::Exact(i) | SegmentValue::CenterOf(i) => i.to_string(),
                SegmentValue::Last => String::new(),
            })
            .y_label_formatter(&|y| y_format.label(*y))
            .draw()?;
        let bars = self.probs.iter().enumerate().filter(|(_, p)| p.is_finite());
        chart.draw_series(
            Histogram::vertical(&chart)
                .style(self.color.filled())
                .margin(if self.probs.len() > 30 { 1 } else { 6 })
                .data(bars.map(|(i, &p)| (i, p))),
        )?;
        Ok(())
    }
}

/// The mesh style shared by all panels: light grid, grey axes, readable labels.
fn style_mesh<X: Ranged, Y: Ranged>(mesh: &mut MeshStyle<'_, '_, X, Y, BitMapBackend<'_, RGBPixel>>) {
    // Only the labelled ticks get grid lines. (Transparent lines are skipped by the
    // rasterizer; `max_light_lines(0)` would make plotters' integer key-point search overflow.)
    mesh.light_line_style(TRANSPARENT)
        .bold_line_style(GRID)
        .axis_style(AXIS)
        .label_style(text_style(TICK_LABEL_SIZE))
        .axis_desc_style(text_style(AXIS_DESC_SIZE));
}

/// How the y tick labels of one axis are written: fixed-point with as many decimals as the
/// tick step needs, or scientific for very large or small values.
#[derive(Debug, Clone, Copy, PartialEq)]
enum TickFormat {
    /// `0.25`, `2.0`, `150`.
    Fixed { decimals: usize },
    /// `1.5e-5`, `2.25e12`.
    Scientific { mantissa_decimals: usize },
}

impl TickFormat {
    /// The format for an axis showing `range`.
    fn for_range(range: &Range<f64>) -> Self {
        let step_exponent = tick_step_exponent(range);
        let magnitude = range.start.abs().max(range.end.abs());
        if (1e-4..1e6).contains(&magnitude) && step_exponent >= -6 {
            TickFormat::Fixed { decimals: step_exponent.min(0).unsigned_abs() as usize }
        } else {
            let digits = magnitude.log10().floor() as i32 - step_exponent;
            TickFormat::Scientific { mantissa_decimals: digits.clamp(1, 12) as usize }
        }
    }

    /// The label of the tick at `y`.
    fn label(self, y: f64) -> String {
        match self {
            TickFormat::Fixed { decimals } => {
                let label = format!("{y:.decimals$}");
                // A tick a rounding error below zero reads "0.0", not "-0.0".
                match label.strip_prefix('-') {
                    Some(zero) if zero.bytes().all(|b| b == b'0' || b == b'.') => zero.to_string(),
                    _ => label,
                }
            }
            TickFormat::Scientific { .. } if y == 0.0 => "0".into(),
            TickFormat::Scientific { mantissa_decimals } => format!("{y:.mantissa_decimals$e}"),
        }
    }
}

/// The power of ten of the y tick step plotters uses for `range`: the smallest 1, 2 or 5
/// times a power of ten that puts at most 10 ticks on the axis.
fn tick_step_exponent(range: &Range<f64>) -> i32 {
    let start = (((range.end - range.start) / 10.0).log10().floor() as i32).clamp(-320, 310);
    for exponent in start..start + 3 {
        for mantissa in [1.0, 2.0, 5.0] {
            let step = mantissa * 10f64.powi(exponent);
            let ticks = (range.end / step).floor() - (range.start / step).ceil() + 1.0;
            if ticks <= 10.0 {
                return exponent;
            }
        }
    }
    start + 3
}

/// An x tick label for a step or epoch: whole numbers only (a tick between two steps,
/// which plotters may place on a short axis, gets no label).
fn whole_number_label(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}", x.round() + 0.0) // `+ 0.0` turns -0 into 0
    } else {
        String::new()
    }
}

/// Where the legend of a [`lines`] chart with entries `names` covers the fewest vertices and
/// segments of `obstacles` (polylines in data coordinates), as matplotlib's `loc="best"`
/// chooses: the candidates in matplotlib's order, the first of the least covered wins. The
/// legend's size is worked out as plotters lays it out (default margin 10, legend area 30).
fn best_legend_position<'p>(
    chart: &XyChart<'_, '_>,
    names: &[&str],
    obstacles: impl Iterator<Item = &'p [(f64, f64)]>,
) -> SeriesLabelPosition {
    use SeriesLabelPosition::*;
    let mut text = MultiLineText::<(i32, i32), &str>::new((0, 0), text_style(TICK_LABEL_SIZE));
    names.iter().for_each(|name| text.push_line(*name));
    let Ok((text_w, text_h)) = text.estimate_dimension() else {
        return UpperRight;
    };
    let (w, h) = (f64::from(text_w + 30 + 2 * 10), f64::from(text_h + 2 * 10));
    let (xs, ys) = chart.plotting_area().get_pixel_range();
    let (x0, y0, area_w, area_h) = (
        f64::from(xs.start),
        f64::from(ys.start),
        f64::from(xs.end - xs.start),
        f64::from(ys.end - ys.start),
    );
    let pixels: Vec<Vec<(f64, f64)>> = obstacles
        .map(|line| {
            line.iter()
                .map(|p| {
                    let (x, y) = chart.backend_coord(p);
                    (f64::from(x), f64::from(y))
                })
                .collect()
        })
        .collect();
    let candidates = [
        UpperRight,
        UpperLeft,
        LowerLeft,
        LowerRight,
        MiddleRight,
        MiddleLeft,
        LowerMiddle,
        UpperMiddle,
        MiddleMiddle,
    ];
    let covered = |position: &SeriesLabelPosition| {
        // plotters' `layout_label_area`, inside the plotting area.
        let left = match position {
            UpperLeft | MiddleLeft | LowerLeft => 5.0,
            UpperMiddle | MiddleMiddle | LowerMiddle => (area_w - w) / 2.0,
            _ => area_w - w - 5.0,
        };
        let top = match position {
            UpperLeft | UpperMiddle | UpperRight => 5.0,
            MiddleLeft | MiddleMiddle | MiddleRight => (area_h - h) / 2.0,
            _ => area_h - h - 5.0,
        };
        let (lo, hi) = ((x0 + left, y0 + top), (x0 + left + w, y0 + top + h));
        pixels
            .iter()
            .map(|line| {
                let vertices = line.iter().filter(|&&p| segment_hits_box(p, p, lo, hi)).count();
                let segments = line.windows(2).filter(|s| segment_hits_box(s[0], s[1], lo, hi)).count();
                vertices + segments
            })
            .sum::<usize>()
    };
    let counts: Vec<usize> = candidates.iter().map(covered).collect();
    let best = (0..candidates.len()).min_by_key(|&i| counts[i]).unwrap_or(0);
    candidates[best].clone()
}

/// Whether the segment from `a` to `b` touches the box from `lo` to `hi` (Liang-Barsky
/// clipping; `a == b` tests a point).
fn segment_hits_box(a: (f64, f64), b: (f64, f64), lo: (f64, f64), hi: (f64, f64)) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut enter, mut leave) = (0.0f64, 1.0f64);
    for (p, q) in [(-dx, a.0 - lo.0), (dx, hi.0 - a.0), (-dy, a.1 - lo.1), (dy, hi.1 - a.1)] {
        if p == 0.0 {
            if q < 0.0 {
                return false; // parallel to this edge and outside it
            }
        } else if p < 0.0 {
            enter = enter.max(q / p);
        } else {
            leave = leave.min(q / p);
        }
    }
    enter <= leave
}

/// matplotlib's Blues colormap at `t` in `[0, 1]`: linear between the nine ColorBrewer
/// colours it is made of, equally spaced, from near-white (247, 251, 255) at 0 to dark blue
/// (8, 48, 107) at 1.
fn blues(t: f64) -> RGBColor {
    const STOPS: [(u8, u8, u8); 9] = [
        (247, 251, 255),
        (222, 235, 247),
        (198, 219, 239),
        (158, 202, 225),
        (107, 174, 214),
        (66, 146, 198),
        (33, 113, 181),
        (8, 81, 156),
        (8, 48, 107),
    ];
    let at = t.clamp(0.0, 1.0) * (STOPS.len() - 1) as f64;
    let i = (at.floor() as usize).min(STOPS.len() - 2);
    let (from, to, f) = (STOPS[i], STOPS[i + 1], at - i as f64);
    let mix = |a: u8, b: u8| (f64::from(a) + (f64::from(b) - f64::from(a)) * f).round() as u8;
    RGBColor(mix(from.0, to.0), mix(from.1, to.1), mix(from.2, to.2))
}

/// The text colour for a cell of `background`: the lecture's gray, or white where white
/// contrasts more with the cell (WCAG contrast ratio), so that dark cells stay readable.
fn cell_text_color(background: RGBColor) -> RGBColor {
    // Relative luminance of an sRGB colour.
    let luminance = |c: RGBColor| {
        let linear = |v: u8| {
            let v = f64::from(v) / 255.0;
            if v <= 0.04045 {
                v / 12.92
            } else {
                ((v + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * linear(c.0) + 0.7152 * linear(c.1) + 0.0722 * linear(c.2)
    };
    let contrast = |a: RGBColor, b: RGBColor| {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    };
    if contrast(WHITE, background) > contrast(CELL_TEXT, background) {
        WHITE
    } else {
        CELL_TEXT
    }
}

/// The bundled font at `size` pixels in the text colour.
fn text_style(size: u32) -> TextStyle<'static> {
    (FONT, size).into_font().color(&TEXT)
}

/// Registers the bundled font with plotters (once per process).
fn ensure_font(path: &Path) -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_ok());
    if ok {
        Ok(())
    } else {
        Err(plot_error(path, "the bundled DejaVu Sans font could not be loaded"))
    }
}

/// Draws a `size` figure with `draw` on a white background and writes it as a PNG to `path`.
fn render(path: &Path, size: (u32, u32), draw: impl for<'a> FnOnce(&Area<'a>) -> Drawn<'a>) -> Result<()> {
    ensure_font(path)?;
    let (width, height) = size;
    let mut pixels = vec![0u8; width as usize * height as usize * 3];
    {
        let backend = BitMapBackend::<RGBPixel>::with_buffer_and_format(&mut pixels, size)
            .map_err(|e| plot_error(path, format!("drawing failed: {e}")))?;
        let root = backend.into_drawing_area();
        // The inputs are validated (finite, non-degenerate ranges), but plotters has internal
        // asserts and integer arithmetic that can panic on corner cases; such a panic becomes
        // an error here instead of taking the training run down. The pixel buffer it may have
        // left half-drawn is discarded.
        let drawn = panic::catch_unwind(AssertUnwindSafe(|| {
            root.fill(&WHITE).and_then(|()| draw(&root)).and_then(|()| root.present())
        }));
        match drawn {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(plot_error(path, format!("drawing failed: {e}"))),
            Err(_) => return Err(plot_error(path, "drawing failed: plotters panicked")),
        }
    }
    write_png(path, size, &pixels)
}

/// Encodes RGB `pixels` as a PNG at `path`, through `<path>.tmp` so that `path` never holds
/// a partial file.
fn write_png(path: &Path, (width, height): (u32, u32), pixels: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = Path::new(&tmp);
    let encode = || -> std::result::Result<(), Box<dyn std::error::Error>> {
        let mut file = BufWriter::new(File::create(tmp)?);
        let mut encoder = png::Encoder::new(&mut file, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header()?;
        writer.write_image_data(pixels)?;
        writer.finish()?;
        file.flush()?;
        fs::rename(tmp, path)?;
        Ok(())
    };
    encode().map_err(|e| {
        let _ = fs::remove_file(tmp);
        plot_error(path, format!("cannot write the PNG: {e}"))
    })
}

/// Splits `values` at its NaN/infinite entries into runs of `(x, value)` points, with
/// `values[i]` at x = `first_x + i`.
fn finite_runs(values: &[f64], first_x: f64) -> Vec<Vec<(f64, f64)>> {
    finite_point_runs(values.iter().enumerate().map(|(i, &v)| (first_x + i as f64, v)))
}

/// Splits `points` at those with a NaN or infinite coordinate into runs of finite points.
fn finite_point_runs(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<Vec<(f64, f64)>> {
    let mut runs = vec![];
    let mut run = vec![];
    for (x, y) in points {
        if x.is_finite() && y.is_finite() {
            run.push((x, y));
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    runs
}

/// The smallest and largest finite value, or `None` if there is none.
fn finite_min_max(values: &[f64]) -> Option<(f64, f64)> {
    values
        .iter()
        .filter(|v| v.is_finite())
        .fold(None, |acc, &v| Some(acc.map_or((v, v), |(lo, hi): (f64, f64)| (lo.min(v), hi.max(v)))))
}

/// A y range that shows every finite value of `values` with a 5% margin (a constant series
/// gets a band around its value).
fn value_range(path: &Path, what: &str, values: &[f64]) -> Result<Range<f64>> {
    let (lo, hi) = finite_min_max(values).ok_or_else(|| no_finite_values(path, what, values))?;
    let magnitude = lo.abs().max(hi.abs());
    // Differences below a millionth of the values are rounding noise: draw those series as
    // constant rather than zooming in until the tick labels all read the same.
    let pad = if hi - lo > magnitude * 1e-6 {
        (hi - lo) * 0.05
    } else if magnitude > 0.0 {
        magnitude * 0.1
    } else {
        1.0
    };
    let range = (lo - pad)..(hi + pad);
    if range.start.is_finite() && range.end.is_finite() && range.start < range.end {
        Ok(range)
    } else {
        Err(plot_error(path, format!("{what}: values from {lo:e} to {hi:e} are too far apart to plot")))
    }
}

/// The error for a series without a single finite value.
fn no_finite_values(path: &Path, what: &str, values: &[f64]) -> Error {
    let msg = if values.is_empty() {
        format!("{what}: nothing to plot (got an empty slice)")
    } else {
        format!("{what}: nothing to plot (all {} values are NaN or infinite)", values.len())
    };
    plot_error(path, msg)
}

/// An [`Error::Io`] for `path`.
fn plot_error(path: &Path, msg: impl std::fmt::Display) -> Error {
    Error::Io { op: "plot", msg: format!("{}: {msg}", path.display()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tick_formats_follow_the_tick_step() {
        let fixed = |decimals| TickFormat::Fixed { decimals };
        let sci = |mantissa_decimals| TickFormat::Scientific { mantissa_decimals };
        assert_eq!(TickFormat::for_range(&(0.0..1.0)), fixed(1)); // 0.0, 0.1, ..., 1.0
        assert_eq!(TickFormat::for_range(&(0.05..0.95)), fixed(1)); // 0.1, ..., 0.9
        assert_eq!(TickFormat::for_range(&(0.855..0.97)), fixed(2)); // 0.86, 0.88, ...
        assert_eq!(TickFormat::for_range(&(-25.0..525.0)), fixed(0)); // 0, 50, ...
        assert_eq!(TickFormat::for_range(&(0.9e12..3.1e12)), sci(1)); // 1.0e12, 1.2e12, ...
        assert_eq!(TickFormat::for_range(&(1.0e-7..1.1e-7)), sci(2)); // 1.00e-7, 1.01e-7, ...
        assert_eq!(TickFormat::for_range(&(0.999999..1.000001)), sci(7)); // step 5e-7
        assert_eq!(fixed(2).label(0.25), "0.25");
        assert_eq!(fixed(1).label(2.0), "2.0");
        assert_eq!(fixed(1).label(-0.5), "-0.5");
        assert_eq!(fixed(0).label(150.0), "150");
        assert_eq!(fixed(1).label(0.0), "0.0");
        assert_eq!(fixed(1).label(-1e-17), "0.0");
        assert_eq!(fixed(0).label(-0.0), "0");
        assert_eq!(sci(1).label(0.0), "0");
        assert_eq!(sci(1).label(1.5e-5), "1.5e-5");
        assert_eq!(sci(2).label(2.25e12), "2.25e12");
        assert_eq!(whole_number_label(3.0), "3");
        assert_eq!(whole_number_label(-0.0), "0");
        assert_eq!(whole_number_label(2.5), "");
    }

    #[test]
    fn runs_split_at_non_finite_values() {
        let v = [1.0, f64::NAN, 2.0, 3.0, f64::INFINITY, f64::NEG_INFINITY, 4.0];
        let runs = finite_runs(&v, 1.0);
        assert_eq!(runs, vec![vec![(1.0, 1.0)], vec![(3.0, 2.0), (4.0, 3.0)], vec![(7.0, 4.0)]]);
        assert!(finite_runs(&[f64::NAN], 0.0).is_empty());
    }

    #[test]
    fn segments_touch_boxes_as_clipping_says() {
        let (lo, hi) = ((0.0, 0.0), (10.0, 5.0));
        assert!(segment_hits_box((1.0, 1.0), (1.0, 1.0), lo, hi)); // a point inside
        assert!(!segment_hits_box((11.0, 1.0), (11.0, 1.0), lo, hi)); // a point outside
        assert!(segment_hits_box((-5.0, 2.0), (15.0, 2.0), lo, hi)); // across, no vertex inside
        assert!(!segment_hits_box((-5.0, 6.0), (15.0, 6.0), lo, hi)); // above
        assert!(!segment_hits_box((9.0, 8.0), (13.0, 4.0), lo, hi)); // past the corner
        assert!(segment_hits_box((8.0, 7.0), (12.0, 3.0), lo, hi)); // through the corner
    }

    #[test]
    fn blues_runs_from_near_white_to_dark_blue_and_text_stays_readable() {
        assert_eq!(blues(0.0), RGBColor(247, 251, 255));
        assert_eq!(blues(-1.0), RGBColor(247, 251, 255));
        assert_eq!(blues(0.5), RGBColor(107, 174, 214));
        assert_eq!(blues(1.0), RGBColor(8, 48, 107));
        assert_eq!(blues(2.0), RGBColor(8, 48, 107));
        assert_eq!(cell_text_color(blues(0.0)), CELL_TEXT);
        assert_eq!(cell_text_color(blues(0.2)), CELL_TEXT);
        assert_eq!(cell_text_color(blues(1.0)), WHITE);
    }

    #[test]
    fn value_ranges_pad_and_reject_what_cannot_be_drawn() {
        let p = Path::new("x.png");
        assert_eq!(value_range(p, "v", &[1.0, 3.0]).unwrap(), 0.9..3.1);
        assert_eq!(value_range(p, "v", &[2.0, 2.0]).unwrap(), 1.8..2.2);
        assert_eq!(value_range(p, "v", &[0.0]).unwrap(), -1.0..1.0);
        // Near-constant: padded by 10% of the value, not 5% of the 1e-12 spread.
        let near_constant = value_range(p, "v", &[1.0, 1.0 + 1e-12]).unwrap();
        assert!((near_constant.start - 0.9).abs() < 1e-9 && (near_constant.end - 1.1).abs() < 1e-9);
        assert_eq!(value_range(p, "v", &[f64::NAN, 5.0, f64::INFINITY]).unwrap(), 4.5..5.5);
        assert!(value_range(p, "v", &[]).is_err());
        assert!(value_range(p, "v", &[f64::NAN]).is_err());
        assert!(value_range(p, "v", &[-f64::MAX, f64::MAX]).is_err());
    }
}
