//! An SVG chart of ramp results: the relay's CPU and the packet loss against the number of
//! concurrent calls, one line per relay. Plain SVG text, no plotting crate.

use std::fmt::Write;

use super::stats::Report;

const WIDTH: f64 = 760.0;
const PANEL_H: f64 = 230.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const GAP: f64 = 70.0;
const COLOURS: [&str; 4] = ["#0b6bcb", "#d9480f", "#2b8a3e", "#862e9c"];

/// One panel's series: (label, points (calls, value)).
type Series = Vec<(String, Vec<(f64, f64)>)>;

/// The chart for these runs (grouped by `target`), as an SVG document.
pub fn svg(reports: &[Report], title: &str) -> String {
    let mut targets: Vec<String> = Vec::new();
    for r in reports {
        if !targets.contains(&r.target) {
            targets.push(r.target.clone());
        }
    }
    let series = |value: &dyn Fn(&Report) -> Option<f64>| -> Series {
        targets
            .iter()
            .map(|t| {
                let mut pts: Vec<(f64, f64)> = reports
                    .iter()
                    .filter(|r| &r.target == t)
                    .filter_map(|r| Some((r.calls as f64, value(r)?)))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                (t.clone(), pts)
            })
            .collect()
    };
    let cpu = series(&|r| r.server.as_ref().map(|s| s.cpu_s_per_s));
    let loss = series(&|r| Some(r.loss_pct));
    let max_n = reports.iter().map(|r| r.calls as f64).fold(1.0, f64::max);
    let height = TOP + 2.0 * PANEL_H + GAP + 50.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{x}" y="22" font-size="15" text-anchor="middle">{title}</text>
"#,
        x = WIDTH / 2.0,
        title = escape(title)
    );
    panel(&mut s, TOP, "relay CPU (s/s, 2 cores = 2.0)", &cpu, max_n);
    panel(&mut s, TOP + PANEL_H + GAP, "packet loss (%)", &loss, max_n);
    let _ = writeln!(
        s,
        r#"<text x="{x}" y="{y}" text-anchor="middle">concurrent calls (N)</text>"#,
        x = LEFT + (WIDTH - LEFT - RIGHT) / 2.0,
        y = height - 12.0
    );
    for (i, t) in targets.iter().enumerate() {
        let x = LEFT + 330.0 + 130.0 * i as f64;
        let c = COLOURS[i % COLOURS.len()];
        let _ = writeln!(
            s,
            r#"<rect x="{x}" y="{y}" width="14" height="4" fill="{c}"/><text x="{tx}" y="{ty}">{t}</text>"#,
            y = TOP - 8.0,
            tx = x + 20.0,
            ty = TOP - 3.0,
            t = escape(t)
        );
    }
    s.push_str("</svg>\n");
    s
}

fn panel(s: &mut String, top: f64, label: &str, series: &Series, max_n: f64) {
    let plot_w = WIDTH - LEFT - RIGHT;
    let max_y = series
        .iter()
        .flat_map(|(_, p)| p.iter().map(|(_, y)| *y))
        .fold(0.0, f64::max);
    let max_y = nice_ceiling(max_y);
    let x_of = |n: f64| LEFT + plot_w * n / max_n;
    let y_of = |v: f64| top + PANEL_H - PANEL_H * v / max_y;
    let _ = write!(
        s,
        r##"<text x="{LEFT}" y="{ly}">{label}</text>
<rect x="{LEFT}" y="{top}" width="{plot_w}" height="{PANEL_H}" fill="none" stroke="#888"/>
"##,
        ly = top - 6.0,
        label = escape(label)
    );
    for i in 0..=4 {
        let v = max_y * f64::from(i) / 4.0;
        let y = y_of(v);
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" x2="{x2}" y1="{y}" y2="{y}" stroke="#eee"/><text x="{tx}" y="{ty}" text-anchor="end">{v}</text>"##,
            x2 = LEFT + plot_w,
            tx = LEFT - 6.0,
            ty = y + 4.0,
            v = trim(v)
        );
        let n = max_n * f64::from(i) / 4.0;
        let _ = writeln!(
            s,
            r#"<text x="{x}" y="{y}" text-anchor="middle">{n}</text>"#,
            x = x_of(n),
            y = top + PANEL_H + 16.0,
            n = n.round()
        );
    }
    for (i, (_, points)) in series.iter().enumerate() {
        let c = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = points
            .iter()
            .map(|(n, v)| format!("{:.1},{:.1}", x_of(*n), y_of(*v)))
            .collect();
        let _ = writeln!(
            s,
            r#"<polyline fill="none" stroke="{c}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        );
        for (n, v) in points {
            let _ = writeln!(
                s,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{c}"/>"#,
                x_of(*n),
                y_of(*v)
            );
        }
    }
}

/// The next "round" number at or above `v` (1, 2, 5 × 10^k), so axes read well.
fn nice_ceiling(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * mag)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_round_up_to_readable_numbers() {
        assert_eq!(nice_ceiling(0.0), 1.0);
        assert_eq!(nice_ceiling(0.7), 1.0);
        assert_eq!(nice_ceiling(1.3), 2.0);
        assert_eq!(nice_ceiling(3.1), 5.0);
        assert_eq!(nice_ceiling(0.012), 0.02);
    }

    #[test]
    fn a_chart_has_one_line_per_relay() {
        let mut a = Report {
            target: "c2c".into(),
            calls: 50,
            ..Report::default()
        };
        let mut b = a.clone();
        b.target = "rtpengine".into();
        a.loss_pct = 0.01;
        let svg = svg(&[a, b], "test <chart>");
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<polyline").count(), 4);
        assert!(svg.contains("test &lt;chart&gt;"));
    }
}
