//! Which metric names the code exports, and which ones the Grafana dashboard and the
//! Prometheus alerting rules use: so that a query can never name a metric that does not
//! exist (a renamed metric otherwise leaves an empty panel, or an alert that never fires,
//! and nothing fails).
//!
//! The exported names are read from the source: every `metrics::counter!`, `gauge!` and
//! `histogram!` in services/, shared/ and frontend/ (a name that is not a string literal
//! fails the scan, since it could not be checked). The live scrape in metrics.rs holds that
//! list against what the services really serve.
#![allow(dead_code)]

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// As the `# TYPE` line of the Prometheus text format says it.
    pub fn exposition(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the repository")
        .to_path_buf()
}

pub const DASHBOARD: &str = "scripts/docker/grafana/dashboards/platform.json";
pub const ALERT_RULES: &str = "scripts/prometheus/alerts.yml";

/// Every metric the code records, by name, with its kind and the file that records it.
pub fn declared() -> BTreeMap<String, (Kind, String)> {
    let root = repo_root();
    let mut found = BTreeMap::new();
    for dir in ["services", "shared", "frontend"] {
        let mut files = Vec::new();
        rust_files(&root.join(dir), &mut files);
        for file in files {
            let text = fs::read_to_string(&file).unwrap();
            let shown = file.strip_prefix(&root).unwrap().display().to_string();
            for (name, kind) in macro_names(&text, &shown) {
                if let Some((other, at)) = found.insert(name.clone(), (kind, shown.clone()))
                    && other != kind
                {
                    panic!("{name} is a {other:?} in {at} and a {kind:?} in {shown}");
                }
            }
        }
    }
    assert!(
        found.len() > 20,
        "the scan found only {found:?}: has the source moved?"
    );
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy();
        if path.is_dir() {
            if !matches!(name.as_ref(), "target" | "node_modules" | ".git") {
                rust_files(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// The names in `metrics::counter!("name"`, `metrics::gauge!(` and `metrics::histogram!(`.
fn macro_names(text: &str, file: &str) -> Vec<(String, Kind)> {
    let mut names = Vec::new();
    for (call, kind) in [
        ("metrics::counter!(", Kind::Counter),
        ("metrics::gauge!(", Kind::Gauge),
        ("metrics::histogram!(", Kind::Histogram),
    ] {
        for (at, _) in text.match_indices(call) {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            if text[line_start..at].trim_start().starts_with("//") {
                continue; // documentation that names the macro
            }
            let rest = text[at + call.len()..].trim_start();
            let name = rest
                .strip_prefix('"')
                .and_then(|r| r.split_once('"'))
                .map(|(name, _)| name)
                .unwrap_or_else(|| {
                    panic!("{file}: a metric whose name is not a string literal ({call}{}); the dashboard check cannot see it", &rest[..rest.len().min(40)])
                });
            names.push((name.to_string(), kind));
        }
    }
    names
}

/// The series names a metric appears as in the exposition format.
pub fn series_names(declared: &BTreeMap<String, (Kind, String)>) -> BTreeMap<String, String> {
    let mut series = BTreeMap::new();
    for (name, (kind, _)) in declared {
        match kind {
            Kind::Histogram => {
                for suffix in ["_bucket", "_sum", "_count"] {
                    series.insert(format!("{name}{suffix}"), name.clone());
                }
            }
            Kind::Counter | Kind::Gauge => {
                series.insert(name.clone(), name.clone());
            }
        }
    }
    series
}

/// Every PromQL expression of the dashboard (any `expr` of any panel or target).
pub fn dashboard_queries() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("expr", serde_json::Value::String(expr)) => out.push(expr.clone()),
                        _ => walk(v, out),
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let text = fs::read_to_string(repo_root().join(DASHBOARD)).unwrap();
    let mut out = Vec::new();
    walk(&serde_json::from_str(&text).unwrap(), &mut out);
    out
}

/// Every `expr:` of the alerting rules (on one line, or a `|` / `>` block below it).
pub fn rule_queries() -> Vec<String> {
    let text = fs::read_to_string(repo_root().join(ALERT_RULES)).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(value) = line.trim_start().strip_prefix("expr:") else {
            continue;
        };
        let value = value.trim();
        if value.starts_with(['|', '>']) {
            let indent = line.len() - line.trim_start().len();
            let block: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| l.trim().is_empty() || l.len() - l.trim_start().len() > indent)
                .map(|l| l.trim())
                .collect();
            out.push(block.join(" "));
        } else {
            out.push(value.trim_matches(['"', '\'']).to_string());
        }
    }
    out
}

/// The metric names a PromQL expression selects: what is left once strings, label
/// matchers, ranges, grouping labels, functions, aggregations, keywords, numbers and
/// Grafana variables are taken out.
pub fn promql_metrics(expr: &str) -> BTreeSet<String> {
    const AGGREGATIONS: &[&str] = &[
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
        "limitk",
        "limit_ratio",
    ];
    const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "inf", "nan", "atan2"];
    const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let skip_to = |mut i: usize, close: char| {
        while i < chars.len() && chars[i] != close {
            if chars[i] == '"' || chars[i] == '\'' {
                let quote = chars[i];
                i += 1;
                while i < chars.len() && chars[i] != quote {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
        i + 1
    };
    while i < chars.len() {
        let c = chars[i];
        match c {
            '"' | '\'' | '`' => {
                let mut j = i + 1;
                while j < chars.len() && chars[j] != c {
                    j += if chars[j] == '\\' { 2 } else { 1 };
                }
                i = j + 1;
            }
            '{' => i = skip_to(i + 1, '}'),
            '[' => i = skip_to(i + 1, ']'),
            '$' => {
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            }
            c if c.is_alphabetic() || c == '_' || c == ':' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == ':') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let mut next = i;
                while next < chars.len() && chars[next].is_whitespace() {
                    next += 1;
                }
                let called = chars.get(next) == Some(&'(');
                if LABEL_LISTS.contains(&word.as_str()) {
                    if called {
                        i = skip_to(next + 1, ')');
                    }
                } else if !called
                    && !AGGREGATIONS.contains(&word.as_str())
                    && !KEYWORDS.contains(&word.to_lowercase().as_str())
                {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

/// Each query's metric names that no exported series has, as "`name` in `query`".
pub fn unknown_names(queries: &[String], series: &BTreeMap<String, String>) -> Vec<String> {
    let mut unknown = Vec::new();
    for query in queries {
        for name in promql_metrics(query) {
            if !series.contains_key(&name) {
                unknown.push(format!("{name} (in {query})"));
            }
        }
    }
    unknown
}

#[test]
fn promql_names_are_found() {
    let names = |q: &str| promql_metrics(q).into_iter().collect::<Vec<_>>();
    assert_eq!(
        names(
            r#"histogram_quantile(0.95, sum by (consumer, le) (rate(consumer_lag_seconds_bucket{role="a{b}"}[$__rate_interval])))"#
        ),
        ["consumer_lag_seconds_bucket"]
    );
    assert_eq!(
        names("time() - max without (job) (a_timestamp_seconds offset 5m) > 30 and on (x) b unless c"),
        ["a_timestamp_seconds", "b", "c"]
    );
    assert_eq!(
        names(r#"max by (queue) (queue_messages{role="dead_letter"}) > 0"#),
        ["queue_messages"]
    );
    assert_eq!(names("sum(increase(emails_total[1h]))"), ["emails_total"]);
}
