//! The report's charts as typed geometry: every bar's position, size, colour and value computed
//! here, the SVG markup written by the HTML template (`templates/report.html`, autoescaped). Each
//! bar carries `data-group`, `data-series` and `data-value`, so a test (or a screen reader's user
//! inspecting the DOM) reads the numbers the bars stand for.

use serde::Serialize;

/// Okabe-Ito colours: distinguishable with every common colour-vision deficiency.
pub fn colour(series: &str) -> &'static str {
    match series {
        "compliant" => "#009E73",
        "non_compliant" | "critical_level" | "CRITICAL" => "#D55E00",
        "not_scanned" | "UNSPECIFIED" => "#9AA5B1",
        "unknown" | "stale" | "INFORMATIONAL" => "#CC79A7",
        "security" | "LOW" => "#0072B2",
        "unmanaged" | "HIGH" => "#E69F00",
        "MEDIUM" => "#56B4E9",
        _ => "#555555",
    }
}

/// A series' label in legends and tooltips.
pub fn label(series: &str) -> String {
    match series {
        "compliant" => "Compliant".into(),
        "non_compliant" => "Non-compliant".into(),
        "not_scanned" => "Not scanned".into(),
        "unknown" => "Unknown".into(),
        "security" => "Missing security patches".into(),
        "critical_level" => "Missing CRITICAL-level patches".into(),
        "unmanaged" => "Unmanaged".into(),
        "stale" => "Stale".into(),
        "nodes" => "Nodes".into(),
        other if other.chars().all(|c| c.is_ascii_uppercase()) => {
            let mut s = other.to_lowercase();
            if let Some(first) = s.get_mut(0..1) {
                first.make_ascii_uppercase();
            }
            s
        }
        other => other.to_owned(),
    }
}

fn text_width(text: &str, size: f64) -> f64 {
    text.chars().count() as f64 * size * 0.56
}

/// (axis end, tick step) for counts: whole-number steps of 1, 2, 2.5 or 5 times a power of ten.
pub fn nice_axis(maximum: f64, ticks: f64) -> (f64, f64) {
    if maximum <= 0.0 {
        return (1.0, 1.0);
    }
    let raw = maximum / ticks;
    let power = 10f64.powf(raw.log10().floor());
    let mut step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power)
        .max(1.0);
    if step.fract() != 0.0 && step < 10.0 {
        step = step.ceil();
    }
    ((maximum / step).ceil() * step, step)
}

fn fmt(n: f64) -> String {
    if n.fract() == 0.0 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

/// One bar (or stacked segment).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Bar {
    /// The category it belongs to.
    pub group: String,
    /// Its series.
    pub series: String,
    /// The value it stands for.
    pub value: u64,
    /// Geometry.
    pub x: f64,
    /// Geometry.
    pub y: f64,
    /// Geometry.
    pub width: f64,
    /// Geometry.
    pub height: f64,
    /// Fill colour.
    pub fill: &'static str,
    /// Tooltip.
    pub tip: String,
}

/// A value label after a bar.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Label {
    /// Text.
    pub text: String,
    /// Position.
    pub x: f64,
    /// Position.
    pub y: f64,
    /// Text tooltip (category labels).
    pub tip: String,
}

/// A legend entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LegendItem {
    /// Text.
    pub text: String,
    /// Swatch colour.
    pub fill: &'static str,
    /// Position.
    pub x: f64,
}

/// A grid line with its tick label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tick {
    /// Position.
    pub x: f64,
    /// Text.
    pub text: String,
}

/// A horizontal bar chart, laid out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BarChart {
    /// `data-chart`.
    pub name: String,
    /// Title and accessible label.
    pub title: String,
    /// Canvas width.
    pub width: f64,
    /// Canvas height.
    pub height: f64,
    /// Left edge of the plot.
    pub left: f64,
    /// Top edge of the plot.
    pub top: f64,
    /// Baseline of the plot.
    pub axis_y: f64,
    /// Legend entries.
    pub legend: Vec<LegendItem>,
    /// Grid.
    pub ticks: Vec<Tick>,
    /// Category labels.
    pub categories: Vec<Label>,
    /// Bars.
    pub bars: Vec<Bar>,
    /// Value labels.
    pub values: Vec<Label>,
}

/// What a bar chart shows.
#[derive(Debug, Clone, PartialEq)]
pub struct BarSpec<'a> {
    /// `data-chart`.
    pub name: &'a str,
    /// Title.
    pub title: String,
    /// (key, label, tooltip) per category.
    pub categories: Vec<(String, String, String)>,
    /// Series keys.
    pub series: Vec<String>,
    /// The value of (category index, series index).
    pub values: Vec<Vec<u64>>,
    /// One bar per category with a segment per series, or a bar per series.
    pub stacked: bool,
    /// Colour per category (single-series charts coloured by category), else by series.
    pub category_colours: Option<Vec<&'static str>>,
    /// Legend entries (series keys or levels); `None` shows the series.
    pub legend: Option<Vec<String>>,
}

impl BarSpec<'_> {
    /// Lays the chart out on a 960-wide canvas.
    pub fn layout(&self) -> BarChart {
        let width = 960.0;
        let label_w = self
            .categories
            .iter()
            .map(|(_, l, _)| text_width(l, 12.0))
            .fold(60.0, f64::max)
            + 16.0;
        let (left, right) = (label_w, width - 56.0);
        let plot_w = right - left;
        let legend_keys = self.legend.clone().unwrap_or_else(|| self.series.clone());
        let legend_h = if legend_keys.is_empty() { 6.0 } else { 30.0 };
        let single = self.stacked || self.series.len() == 1;
        let band = if single {
            26.0
        } else {
            12.0 + 16.0 * self.series.len() as f64
        };
        let bar_h = if single { 16.0 } else { 13.0 };
        let top = legend_h + 4.0;
        let rows = self.categories.len().max(1) as f64;
        let height = top + band * rows + 30.0;
        let maximum = self
            .values
            .iter()
            .map(|v| {
                if self.stacked {
                    v.iter().sum::<u64>()
                } else {
                    v.iter().copied().max().unwrap_or(0)
                }
            })
            .max()
            .unwrap_or(0) as f64;
        let (end, step) = nice_axis(maximum, 5.0);
        let scale = plot_w / end;
        let mut x = left;
        let legend = legend_keys
            .iter()
            .map(|k| {
                let item = LegendItem {
                    text: label(k),
                    fill: colour(k),
                    x,
                };
                x += 17.0 + text_width(&item.text, 12.0) + 22.0;
                item
            })
            .collect();
        let axis_y = top + band * rows;
        let mut ticks = Vec::new();
        let mut tick = 0.0;
        while tick <= end + 1e-9 {
            ticks.push(Tick {
                x: left + tick * scale,
                text: fmt(tick),
            });
            tick += step;
        }
        let (mut bars, mut values, mut categories) = (Vec::new(), Vec::new(), Vec::new());
        for (i, (cat, text, tip)) in self.categories.iter().enumerate() {
            let y0 = top + i as f64 * band;
            categories.push(Label {
                text: text.clone(),
                x: left - 8.0,
                y: y0 + band / 2.0 + 4.0,
                tip: tip.clone(),
            });
            let row = &self.values[i];
            let fill_of = |j: usize| {
                self.category_colours
                    .as_ref()
                    .and_then(|c| c.get(i).copied())
                    .unwrap_or_else(|| colour(&self.series[j]))
            };
            if self.stacked {
                let y = y0 + (band - bar_h) / 2.0;
                let mut x = left;
                for (j, s) in self.series.iter().enumerate() {
                    let w = row[j] as f64 * scale;
                    bars.push(Bar {
                        group: cat.clone(),
                        series: s.clone(),
                        value: row[j],
                        x,
                        y,
                        width: w,
                        height: bar_h,
                        fill: fill_of(j),
                        tip: format!("{text} - {}: {}", label(s), row[j]),
                    });
                    x += w;
                }
                values.push(Label {
                    text: row.iter().sum::<u64>().to_string(),
                    x: x + 6.0,
                    y: y + bar_h - 3.0,
                    tip: String::new(),
                });
            } else {
                for (j, s) in self.series.iter().enumerate() {
                    let y = if single {
                        y0 + (band - bar_h) / 2.0
                    } else {
                        y0 + 6.0 + j as f64 * 16.0
                    };
                    let w = row[j] as f64 * scale;
                    bars.push(Bar {
                        group: cat.clone(),
                        series: s.clone(),
                        value: row[j],
                        x: left,
                        y,
                        width: w,
                        height: bar_h,
                        fill: fill_of(j),
                        tip: format!("{text} - {}: {}", label(s), row[j]),
                    });
                    values.push(Label {
                        text: row[j].to_string(),
                        x: left + w + 6.0,
                        y: y + bar_h - 3.0,
                        tip: String::new(),
                    });
                }
            }
        }
        BarChart {
            name: self.name.to_owned(),
            title: self.title.clone(),
            width,
            height,
            left,
            top,
            axis_y,
            legend,
            ticks,
            categories,
            bars,
            values,
        }
    }
}

/// A ring segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Segment {
    /// Series.
    pub series: String,
    /// Value.
    pub value: u64,
    /// Colour.
    pub stroke: &'static str,
    /// Dash length.
    pub length: f64,
    /// Gap length.
    pub gap: f64,
    /// Dash offset.
    pub offset: f64,
    /// Tooltip.
    pub tip: String,
}

/// A ring of segments with a number in its centre.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Donut {
    /// `data-chart`.
    pub name: String,
    /// Accessible label.
    pub caption: String,
    /// Centre text.
    pub centre: String,
    /// Radius.
    pub r: f64,
    /// Segments.
    pub segments: Vec<Segment>,
}

/// Lays out a ring of (series, value) parts.
pub fn donut(name: &str, parts: &[(&str, u64)], centre: String, caption: &str) -> Donut {
    let total: u64 = parts.iter().map(|p| p.1).sum();
    let r = 54.0;
    let circumference = 2.0 * std::f64::consts::PI * r;
    let mut offset = 0.0;
    let segments = parts
        .iter()
        .map(|(series, value)| {
            let length = if total > 0 {
                circumference * *value as f64 / total as f64
            } else {
                0.0
            };
            let s = Segment {
                series: (*series).to_owned(),
                value: *value,
                stroke: colour(series),
                length,
                gap: circumference - length,
                offset: -offset,
                tip: format!("{}: {value}", label(series)),
            };
            offset += length;
            s
        })
        .collect();
    Donut {
        name: name.to_owned(),
        caption: caption.to_owned(),
        centre,
        r,
        segments,
    }
}

/// A point of a line chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    pub date: String,
    /// The value (percent).
    pub value: f64,
    /// Position.
    pub x: f64,
    /// Position.
    pub y: f64,
}

/// A line chart of a percentage over dates, laid out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LineChart {
    /// `data-chart`.
    pub name: String,
    /// Title and accessible label.
    pub title: String,
    /// Canvas.
    pub width: f64,
    /// Canvas.
    pub height: f64,
    /// Plot edges.
    pub left: f64,
    /// Plot edges.
    pub right: f64,
    /// Plot edges.
    pub top: f64,
    /// Plot edges.
    pub bottom: f64,
    /// The polyline's `points` attribute.
    pub path: String,
    /// Each point (a marker with its date and value).
    pub points: Vec<Point>,
    /// Horizontal grid: (y, label).
    pub grid: Vec<Tick>,
    /// Date labels under the axis: (x, label).
    pub dates: Vec<Tick>,
}

/// Lays out `(date, percent)` points, oldest first, on a 0-100 % axis; dates spaced by time.
pub fn line_chart(name: &str, title: &str, series: &[(String, f64)]) -> LineChart {
    let (width, height) = (960.0, 240.0);
    let (left, right, top, bottom) = (48.0, width - 24.0, 16.0, height - 34.0);
    let day = |d: &str| crate::history::days_between("2000-01-01", d) as f64;
    let first = series.first().map_or(0.0, |p| day(&p.0));
    let last = series.last().map_or(0.0, |p| day(&p.0));
    let span = (last - first).max(1.0);
    let x_of = |d: &str| {
        if series.len() == 1 {
            (left + right) / 2.0
        } else {
            left + (day(d) - first) / span * (right - left)
        }
    };
    let y_of = |v: f64| bottom - v.clamp(0.0, 100.0) / 100.0 * (bottom - top);
    let points: Vec<Point> = series
        .iter()
        .map(|(date, value)| Point {
            date: date.clone(),
            value: *value,
            x: x_of(date),
            y: y_of(*value),
        })
        .collect();
    let path = points
        .iter()
        .map(|p| format!("{:.1},{:.1}", p.x, p.y))
        .collect::<Vec<_>>()
        .join(" ");
    let grid = [0.0, 25.0, 50.0, 75.0, 100.0]
        .iter()
        .map(|v| Tick {
            x: y_of(*v),
            text: format!("{v}%"),
        })
        .collect();
    let mut dates: Vec<Tick> = Vec::new();
    for p in [points.first(), points.last()].into_iter().flatten() {
        if dates.iter().all(|d| d.text != p.date) {
            dates.push(Tick {
                x: p.x,
                text: p.date.clone(),
            });
        }
    }
    LineChart {
        name: name.to_owned(),
        title: title.to_owned(),
        width,
        height,
        left,
        right,
        top,
        bottom,
        path,
        points,
        grid,
        dates,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice_axis(0.0, 5.0), (1.0, 1.0));
        assert_eq!(nice_axis(7.0, 5.0), (8.0, 2.0));
        assert_eq!(nice_axis(143.0, 5.0), (150.0, 50.0));
        assert_eq!(nice_axis(3.0, 5.0), (3.0, 1.0));
    }

    #[test]
    fn stacked_segments_are_proportional_and_keep_zero_values() {
        let chart = BarSpec {
            name: "c",
            title: "t".into(),
            categories: vec![("a/r".into(), "a/r".into(), "a/r".into())],
            series: vec![
                "compliant".into(),
                "non_compliant".into(),
                "not_scanned".into(),
            ],
            values: vec![vec![30, 10, 0]],
            stacked: true,
            category_colours: None,
            legend: None,
        }
        .layout();
        assert_eq!(chart.bars.len(), 3);
        let (a, b) = (&chart.bars[0], &chart.bars[1]);
        assert!((a.width / b.width - 3.0).abs() < 1e-9);
        assert_eq!(b.x, a.x + a.width);
        assert_eq!(chart.bars[2].width, 0.0);
        assert_eq!(chart.values[0].text, "40");
    }

    #[test]
    fn line_points_are_placed_by_date_and_value() {
        let chart = line_chart(
            "t",
            "t",
            &[
                ("2026-11-01".into(), 50.0),
                ("2026-11-03".into(), 100.0),
                ("2026-11-11".into(), 0.0),
            ],
        );
        let xs: Vec<f64> = chart.points.iter().map(|p| p.x).collect();
        assert!(
            ((xs[1] - xs[0]) * 4.0 - (xs[2] - xs[1])).abs() < 1e-9,
            "{xs:?}"
        );
        assert_eq!(chart.points[1].y, chart.top);
        assert_eq!(chart.points[2].y, chart.bottom);
        assert_eq!(chart.dates.len(), 2);
    }

    #[test]
    fn a_donut_goes_round_once() {
        let ring = donut(
            "d",
            &[("compliant", 3), ("non_compliant", 1)],
            "75%".into(),
            "x",
        );
        let sum: f64 = ring.segments.iter().map(|s| s.length).sum();
        assert!((sum - 2.0 * std::f64::consts::PI * ring.r).abs() < 1e-9);
        assert_eq!(ring.segments[1].offset, -ring.segments[0].length);
    }
}
