//! Live charts from Prometheus: the last 15 minutes of the numbers the ops and analytics
//! pages show, drawn as SVG on the server (no script, no CDN; readable on a phone).
//!
//! Why pictures: a queue falling 200 messages a second behind and a healthy one look the
//! same in a table until someone reads the digits; a line climbing is seen at a glance
//! (lesson 4), and so is a projection's lag line that stopped moving (lesson 11).
//!
//! Each chart is one or more PromQL range queries against `PROMETHEUS_URL` (the local
//! Prometheus `./dev` runs, or docker-compose's); the queries use only metric names the
//! services export, which `tests/metric_names.rs` checks. When Prometheus does not answer,
//! the chart says so instead of drawing nothing.

use std::{fmt::Write, time::Duration};

use chrono::Utc;
use serde::Deserialize;

/// One line (or one line per label value) on a chart.
pub struct Series {
    pub query: &'static str,
    /// The label that names each line (`queue`, `consumer`), or a fixed name.
    pub name: Name,
}

pub enum Name {
    Label(&'static str),
    Fixed(&'static str),
}

pub struct Chart {
    pub id: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
    pub series: &'static [Series],
}

/// The ops page: queues, outbox, checkout rate and latency, 503s, fan-out and replica lag.
pub const OPS: &[Chart] = &[
    Chart {
        id: "queue-depth",
        title: "Messages waiting per queue",
        unit: "messages",
        series: &[Series {
            query: r#"max by (queue) (queue_messages{role="main"})"#,
            name: Name::Label("queue"),
        }],
    },
    Chart {
        id: "queue-oldest",
        title: "Oldest message age per queue",
        unit: "s",
        series: &[Series {
            query: r#"max by (queue) (queue_oldest_message_age_seconds{role="main"})"#,
            name: Name::Label("queue"),
        }],
    },
    Chart {
        id: "queue-rates",
        title: "Publish and deliver rates, all main queues",
        unit: "msg/s",
        series: &[
            Series {
                query: r#"sum(queue_publish_rate{role="main"})"#,
                name: Name::Fixed("published"),
            },
            Series {
                query: r#"sum(queue_deliver_rate{role="main"})"#,
                name: Name::Fixed("delivered"),
            },
        ],
    },
    Chart {
        id: "outbox-backlog",
        title: "Outbox backlog (events not yet published)",
        unit: "events",
        series: &[Series {
            query: "max(outbox_backlog)",
            name: Name::Fixed("backlog"),
        }],
    },
    Chart {
        id: "checkout-rate",
        title: "Checkouts per second, and 503s",
        unit: "/s",
        series: &[
            Series {
                query: r#"sum(rate(http_requests_total{service="order",route="/orders",method="POST"}[1m]))"#,
                name: Name::Fixed("POST /orders"),
            },
            Series {
                query: r#"sum(rate(http_requests_total{service="order",route="/orders",method="POST",status="503"}[1m]))"#,
                name: Name::Fixed("503"),
            },
        ],
    },
    Chart {
        id: "checkout-latency",
        title: "POST /orders latency",
        unit: "s",
        series: &[
            Series {
                query: r#"histogram_quantile(0.5, sum by (le) (rate(http_request_duration_seconds_bucket{service="order",route="/orders",method="POST"}[1m])))"#,
                name: Name::Fixed("p50"),
            },
            Series {
                query: r#"histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{service="order",route="/orders",method="POST"}[1m])))"#,
                name: Name::Fixed("p99"),
            },
        ],
    },
    Chart {
        id: "compensations",
        title: "Compensations per second, by outcome (rate-limited)",
        unit: "/s",
        series: &[Series {
            // A minute's window: a burst of undos is seen even when a scrape or two is
            // missed while the machine is busy (a 20 s window lost whole bursts in CI).
            query: "sum by (outcome) (rate(order_compensations_total[1m]))",
            name: Name::Label("outcome"),
        }],
    },
    Chart {
        id: "fanout-lag",
        title: "Fan-out lag p99 per consumer (event written to effect applied)",
        unit: "s",
        series: &[Series {
            query: r#"histogram_quantile(0.99, sum by (consumer, le) (rate(consumer_lag_seconds_bucket[1m])))"#,
            name: Name::Label("consumer"),
        }],
    },
    Chart {
        id: "replica-lag",
        title: "Read replica lag per service",
        unit: "s",
        series: &[Series {
            query: "max by (service) (db_replica_lag_seconds)",
            name: Name::Label("service"),
        }],
    },
];

/// The analytics page: how far behind the projection is, and what it counts.
pub const ANALYTICS: &[Chart] = &[
    Chart {
        id: "projection-lag",
        title: "Projection lag (time since the newest heartbeat applied)",
        unit: "s",
        series: &[Series {
            query: "time() - max(analytics_last_heartbeat_timestamp_seconds)",
            name: Name::Fixed("lag"),
        }],
    },
    Chart {
        id: "analytics-consumed",
        title: "Events applied per second, by consumer",
        unit: "/s",
        series: &[Series {
            query: r#"sum by (consumer) (rate(consumer_messages_total{outcome="handled"}[1m]))"#,
            name: Name::Label("consumer"),
        }],
    },
];

/// What the charts cover, and the spacing of their points.
const WINDOW: Duration = Duration::from_secs(15 * 60);
const STEP_SECS: u64 = 5;

/// A chart ready for the template: its SVG (built here, from numbers only) and a note.
pub struct Drawn {
    pub id: &'static str,
    pub title: &'static str,
    pub svg: String,
    /// Points drawn, over all lines.
    pub points: usize,
    /// The time of the newest point (Unix seconds; 0 without any): new points arrive at the
    /// right as Prometheus scrapes (the browser test watches it move).
    pub last_at: i64,
    pub problem: Option<String>,
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    result: Vec<Result_>,
}

#[derive(Deserialize)]
struct Result_ {
    metric: std::collections::BTreeMap<String, String>,
    values: Vec<(f64, String)>,
}

struct Line {
    name: String,
    points: Vec<(f64, f64)>,
}

/// Where the charts' numbers come from: Prometheus (`PROMETHEUS_URL`).
#[derive(Clone)]
pub struct Source {
    http: reqwest::Client,
    url: String,
}

impl Source {
    pub fn new(url: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            url,
        }
    }

    /// Asks Prometheus for every series of every chart, at once, and draws them.
    pub async fn draw_all(&self, charts: &'static [Chart]) -> Vec<Drawn> {
        futures_util::future::join_all(charts.iter().map(|c| draw(&self.http, &self.url, c))).await
    }
}

async fn draw(http: &reqwest::Client, prometheus: &str, chart: &'static Chart) -> Drawn {
    let end = Utc::now().timestamp() as f64;
    let start = end - WINDOW.as_secs_f64();
    let mut lines = Vec::new();
    for series in chart.series {
        match range(http, prometheus, series.query, start, end).await {
            Ok(results) => lines.extend(results.into_iter().map(|r| {
                Line {
                    name: match series.name {
                        Name::Label(label) => r.metric.get(label).cloned().unwrap_or_else(|| "?".into()),
                        Name::Fixed(name) => name.to_string(),
                    },
                    points: r
                        .values
                        .iter()
                        .filter_map(|(t, v)| v.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| (*t, v)))
                        .collect(),
                }
            })),
            Err(problem) => {
                return Drawn {
                    id: chart.id,
                    title: chart.title,
                    svg: String::new(),
                    points: 0,
                    last_at: 0,
                    problem: Some(problem),
                };
            }
        }
    }
    let points = lines.iter().map(|l| l.points.len()).sum();
    let last_at = lines
        .iter()
        .filter_map(|l| l.points.last().map(|p| p.0 as i64))
        .max()
        .unwrap_or(0);
    Drawn {
        id: chart.id,
        title: chart.title,
        svg: svg(&lines, start, end, chart.unit),
        points,
        last_at,
        problem: None,
    }
}

async fn range(
    http: &reqwest::Client,
    prometheus: &str,
    query: &str,
    start: f64,
    end: f64,
) -> Result<Vec<Result_>, String> {
    let url = format!("{}/api/v1/query_range", prometheus.trim_end_matches('/'));
    let step = STEP_SECS.to_string();
    let (start, end) = (format!("{start:.0}"), format!("{end:.0}"));
    let res = http
        .get(url)
        .query(&[
            ("query", query),
            ("start", &start),
            ("end", &end),
            ("step", &step),
        ])
        .timeout(Duration::from_secs(3))
        .send()
        .await
        .map_err(|e| format!("Prometheus does not answer: {e}"))?;
    if !res.status().is_success() {
        return Err(format!("Prometheus answered {}", res.status()));
    }
    res.json::<Answer>()
        .await
        .map(|a| a.data.result)
        .map_err(|e| format!("Prometheus' answer does not read: {e}"))
}

const PALETTE: [&str; 8] = [
    "#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
];
const W: f64 = 640.0;
const H: f64 = 200.0;
const LEFT: f64 = 56.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;

/// The lines as an SVG: axes from 0 to the highest value, 15 minutes wide, a legend with
/// each line's latest value. Every text in it is a number or a label value, escaped.
fn svg(lines: &[Line], start: f64, end: f64, unit: &str) -> String {
    let top = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.1))
        .fold(0.0_f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let (plot_w, plot_h) = (W - LEFT - 8.0, H - TOP - BOTTOM);
    let x = |t: f64| LEFT + (t - start) / (end - start) * plot_w;
    let y = |v: f64| TOP + plot_h - v / top * plot_h;
    let legend_h = 18.0 * lines.len().max(1) as f64;
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<svg viewBox="0 0 {W} {}" width="100%" role="img" xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif">"#,
        H + legend_h
    );
    let _ = write!(
        out,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ccc"/>"##
    );
    for frac in [0.0, 0.5, 1.0] {
        let v = top * frac;
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="end" fill="#555">{}</text>"##,
            LEFT - 4.0,
            y(v) + 4.0,
            short(v)
        );
    }
    let _ = write!(
        out,
        r##"<text x="4" y="{}" fill="#555">{}</text>"##,
        TOP + plot_h + 16.0,
        escape(unit)
    );
    let _ = write!(
        out,
        r##"<text x="{LEFT}" y="{}" fill="#555">−15 min</text><text x="{}" y="{}" text-anchor="end" fill="#555">now</text>"##,
        H - 6.0,
        W - 8.0,
        H - 6.0
    );
    if lines.iter().all(|l| l.points.is_empty()) {
        let _ = write!(
            out,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#888">no data yet</text>"##,
            LEFT + plot_w / 2.0,
            TOP + plot_h / 2.0
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let colour = PALETTE[i % PALETTE.len()];
        let points: Vec<String> = line
            .points
            .iter()
            .map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v)))
            .collect();
        let _ = write!(
            out,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{}"/>"#,
            points.join(" ")
        );
        let last = line.points.last().map_or("–".to_string(), |p| short(p.1));
        // The peak too: a burst that is over by the time someone looks still shows.
        let peak = line.points.iter().map(|p| p.1).fold(f64::NAN, f64::max);
        let peak = if peak.is_nan() {
            "–".to_string()
        } else {
            short(peak)
        };
        let ly = H + 14.0 + 18.0 * i as f64;
        let _ = write!(
            out,
            r#"<rect x="{LEFT}" y="{}" width="10" height="10" fill="{colour}"/><text x="{}" y="{ly}">{}: {} {} (peak {})</text>"#,
            ly - 9.0,
            LEFT + 14.0,
            escape(&line.name),
            last,
            escape(unit),
            peak
        );
    }
    out.push_str("</svg>");
    out
}

/// A number in a few characters: 0.0123, 1.5, 240, 12.3k.
fn short(v: f64) -> String {
    match v.abs() {
        a if a >= 10_000.0 => format!("{:.1}k", v / 1000.0),
        a if a >= 100.0 => format!("{v:.0}"),
        a if a >= 1.0 => format!("{v:.1}"),
        0.0 => "0".into(),
        _ => format!("{v:.3}"),
    }
}

/// Text for SVG or HTML: the five characters that could end an element or attribute.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_is_drawn_within_the_plot_and_labels_are_escaped() {
        let lines = [Line {
            name: "<q>".into(),
            points: vec![(0.0, 0.0), (450.0, 5.0), (900.0, 10.0)],
        }];
        let svg = svg(&lines, 0.0, 900.0, "msg");
        assert!(svg.contains("<polyline"), "{svg}");
        assert!(svg.contains("&lt;q&gt;: 10.0 msg"), "{svg}");
        assert!(!svg.contains("<q>"));
        // The last point is at the right edge, the highest value below the top.
        assert!(svg.contains(&format!("{:.1},", W - 8.0)), "{svg}");
    }

    #[test]
    fn no_data_says_so() {
        assert!(svg(&[], 0.0, 900.0, "s").contains("no data yet"));
    }
}
