//! Counters as operators read them: a stats struct's numeric fields as name/value pairs (for
//! stop reports, Prometheus and DPDK telemetry alike).

/// Every numeric field of `stats` (a struct of counters) as (`prefix` + name, value).
pub fn counters(prefix: &str, stats: &impl serde::Serialize) -> Vec<(String, u64)> {
    match serde_json::to_value(stats) {
        Ok(serde_json::Value::Object(fields)) => fields
            .iter()
            .filter_map(|(k, v)| Some((format!("{prefix}{k}"), v.as_u64()?)))
            .collect(),
        _ => Vec::new(),
    }
}

/// `name value` for every non-zero counter of `stats`, space separated.
pub fn nonzero_counters(stats: &impl serde::Serialize) -> String {
    counters("", stats)
        .iter()
        .filter(|(_, v)| *v > 0)
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
