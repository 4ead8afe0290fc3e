//! soketi's `/metrics?json=1` form: prom-client's `getMetricsAsJSON()`, an array with one
//! object per family, written from the text exposition [`super::render`] produced.
//!
//! ```text
//! [{"help":"…","name":"soketi_connected","type":"gauge",
//!   "values":[{"value":3,"labels":{"app_id":"app-id","port":"6001"}}],"aggregator":"sum"}, …]
//! ```
//!
//! Histogram samples carry prom-client's `metricName` (`…_bucket`, `…_sum`, `…_count`) and an
//! `le` label that is a number, or the string `"+Inf"`. Non-finite values, which JSON cannot
//! hold, are `null` (what `JSON.stringify` makes of them).
//!
//! Converting the text rather than walking the counters a second time keeps one encoder: the
//! JSON has exactly the families, series and values of the text scrape taken at the same
//! moment. Sans-IO: bytes in, bytes out. The input is [`super::render`]'s, so a line that does
//! not parse is skipped rather than reported.

/// Appends the JSON form of `text` (a 0.0.4 exposition) to `out`.
pub fn exposition_to_json(text: &str, out: &mut Vec<u8>) {
    out.push(b'[');
    let mut family: Option<Family<'_>> = None;
    let mut first_family = true;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            if let Some(f) = family.take() {
                f.finish(out, &mut first_family);
            }
            family = Some(Family {
                name,
                help: unescape(help, false),
                kind: "untyped",
                values: Vec::new(),
            });
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "untyped"));
            match &mut family {
                Some(f) if f.name == name => f.kind = kind,
                _ => {
                    if let Some(f) = family.take() {
                        f.finish(out, &mut first_family);
                    }
                    family = Some(Family {
                        name,
                        help: String::new(),
                        kind,
                        values: Vec::new(),
                    });
                }
            }
        } else if line.starts_with('#') || line.is_empty() {
            continue;
        } else if let (Some(f), Some(sample)) = (&mut family, Sample::parse(line)) {
            if sample.name.starts_with(f.name) {
                f.push(&sample);
            }
        }
    }
    if let Some(f) = family.take() {
        f.finish(out, &mut first_family);
    }
    out.push(b']');
}

/// One family being collected: its `values` array is built as it goes.
struct Family<'a> {
    name: &'a str,
    help: String,
    kind: &'a str,
    values: Vec<u8>,
}

impl Family<'_> {
    fn push(&mut self, s: &Sample<'_>) {
        let v = &mut self.values;
        v.extend_from_slice(if v.is_empty() { b"{" } else { b",{" });
        let histogram = self.kind == "histogram";
        if histogram {
            // prom-client's order for histogram samples: labels, value, metricName.
            labels(v, &s.labels, true);
            v.push(b',');
            value(v, s.value);
            v.extend_from_slice(b",\"metricName\":");
            string(v, s.name);
        } else {
            value(v, s.value);
            v.push(b',');
            labels(v, &s.labels, false);
        }
        v.push(b'}');
    }

    fn finish(self, out: &mut Vec<u8>, first: &mut bool) {
        if !*first {
            out.push(b',');
        }
        *first = false;
        out.extend_from_slice(b"{\"help\":");
        string(out, &self.help);
        out.extend_from_slice(b",\"name\":");
        string(out, self.name);
        out.extend_from_slice(b",\"type\":");
        string(out, self.kind);
        out.extend_from_slice(b",\"values\":[");
        out.extend_from_slice(&self.values);
        out.extend_from_slice(b"],\"aggregator\":\"sum\"}");
    }
}

/// One sample line: `name{k="v",…} value` or `name value`.
struct Sample<'a> {
    name: &'a str,
    labels: Vec<(&'a str, String)>,
    value: &'a str,
}

impl<'a> Sample<'a> {
    fn parse(line: &'a str) -> Option<Sample<'a>> {
        let name_end = line.find(['{', ' '])?;
        let name = &line[..name_end];
        let mut rest = &line[name_end..];
        let mut labels = Vec::new();
        if let Some(mut l) = rest.strip_prefix('{') {
            loop {
                if let Some(after) = l.strip_prefix('}') {
                    rest = after;
                    break;
                }
                l = l.strip_prefix(',').unwrap_or(l);
                let (key, after) = l.split_once("=\"")?;
                // The value ends at the first `"` not escaped by a backslash.
                let bytes = after.as_bytes();
                let mut i = 0;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                let raw = after.get(..i)?;
                labels.push((key, unescape(raw, true)));
                l = after.get(i + 1..)?;
            }
        }
        let value = rest.trim().split(' ').next()?;
        value.parse::<f64>().ok()?;
        Some(Sample {
            name,
            labels,
            value,
        })
    }
}

/// Undoes the exposition's escapes: `\\` and `\n` (HELP), and `\"` too (label values).
fn unescape(s: &str, quotes: bool) -> String {
    if !s.contains('\\') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

fn string(out: &mut Vec<u8>, s: &str) {
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// A sample value as a JSON number; `+Inf`, `-Inf` and `NaN` as `null`.
fn value(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(b"\"value\":");
    number_or_null(out, text);
}

fn number_or_null(out: &mut Vec<u8>, text: &str) {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => {
            // The exposition's own digits (integers via itoa, floats via ryu) are valid JSON
            // numbers, except a leading `+`, which Rust's parser accepts and JSON does not.
            out.extend_from_slice(text.trim_start_matches('+').as_bytes());
        }
        _ => out.extend_from_slice(b"null"),
    }
}

/// The `labels` object; for histograms `le` is a number (prom-client keeps the bucket bound
/// as a number), or `"+Inf"`.
fn labels(out: &mut Vec<u8>, labels: &[(&str, String)], histogram: bool) {
    out.extend_from_slice(b"\"labels\":{");
    for (i, (key, v)) in labels.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        string(out, key);
        out.push(b':');
        let finite = v.parse::<f64>().is_ok_and(f64::is_finite);
        if histogram && *key == "le" && finite {
            number_or_null(out, v);
        } else {
            string(out, v);
        }
    }
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn convert(text: &str) -> Value {
        let mut out = Vec::new();
        exposition_to_json(text, &mut out);
        serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out));
        })
    }

    #[test]
    fn families_values_labels_and_histograms() {
        let text = "\
# HELP soketi_connected The number of currently connected sockets.
# TYPE soketi_connected gauge
soketi_connected{app_id=\"a\\\\b\\\"c\\nd\",port=\"6001\"} 3
soketi_connected{app_id=\"x\",port=\"6001\"} -1
# HELP process_cpu_seconds_total Total CPU \\\\ time\\nspent.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 0.25
# HELP lat_seconds Latency.
# TYPE lat_seconds histogram
lat_seconds_bucket{port=\"6001\",le=\"0.000025\"} 1
lat_seconds_bucket{port=\"6001\",le=\"+Inf\"} 2
lat_seconds_sum{port=\"6001\"} 1.5e-5
lat_seconds_count{port=\"6001\"} 2
# HELP empty_total Nothing yet.
# TYPE empty_total counter
";
        assert_eq!(
            convert(text),
            json!([
                {"help": "The number of currently connected sockets.", "name": "soketi_connected",
                 "type": "gauge", "aggregator": "sum", "values": [
                    {"value": 3, "labels": {"app_id": "a\\b\"c\nd", "port": "6001"}},
                    {"value": -1, "labels": {"app_id": "x", "port": "6001"}},
                ]},
                {"help": "Total CPU \\ time\nspent.", "name": "process_cpu_seconds_total",
                 "type": "counter", "aggregator": "sum",
                 "values": [{"value": 0.25, "labels": {}}]},
                {"help": "Latency.", "name": "lat_seconds", "type": "histogram",
                 "aggregator": "sum", "values": [
                    {"labels": {"port": "6001", "le": 0.000025}, "value": 1,
                     "metricName": "lat_seconds_bucket"},
                    {"labels": {"port": "6001", "le": "+Inf"}, "value": 2,
                     "metricName": "lat_seconds_bucket"},
                    {"labels": {"port": "6001"}, "value": 1.5e-5, "metricName": "lat_seconds_sum"},
                    {"labels": {"port": "6001"}, "value": 2, "metricName": "lat_seconds_count"},
                ]},
                {"help": "Nothing yet.", "name": "empty_total", "type": "counter",
                 "aggregator": "sum", "values": []},
            ])
        );
        assert_eq!(convert(""), json!([]));
        let odd = "# TYPE x gauge\nx NaN\nx{a=\"1\"} +Inf\nnot a sample line{\nx{a=\"\n";
        assert_eq!(
            convert(odd),
            json!([{"help": "", "name": "x", "type": "gauge", "aggregator": "sum", "values": [
                {"value": null, "labels": {}}, {"value": null, "labels": {"a": "1"}},
            ]}])
        );
    }

    /// The whole scrape of the fixture converts, family for family and sample for sample.
    #[test]
    fn a_real_scrape_converts_entirely() {
        use crate::metrics::encode::tests::{app_ids, fixture};
        use crate::metrics::{render, ScrapeContext};
        let stats = fixture();
        let ids = app_ids();
        let mut text = Vec::new();
        render(
            &mut text,
            &ScrapeContext {
                stats: &stats,
                app_ids: &ids,
                port: 6001,
                prefix: "soketi_",
                port_in_name: false,
                process: None,
            },
        );
        let text = String::from_utf8(text).unwrap();
        let v = convert(&text);
        let families = v.as_array().unwrap();
        assert_eq!(families.len(), text.matches("# TYPE ").count());
        let samples: usize = families
            .iter()
            .map(|f| f["values"].as_array().unwrap().len())
            .sum();
        let lines = text.lines().filter(|l| !l.starts_with('#')).count();
        assert_eq!(samples, lines);
        let connected = families
            .iter()
            .find(|f| f["name"] == "soketi_connected")
            .unwrap();
        assert_eq!(connected["type"], "gauge");
        assert_eq!(connected["values"][0]["labels"]["port"], "6001");
    }
}
