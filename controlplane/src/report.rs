//! Counters as operators read them in logs and stop reports.

/// `name value` for every non-zero counter of `stats`, space separated.
pub fn nonzero_counters(stats: &impl serde::Serialize) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(stats) else {
        return String::new();
    };
    fields
        .iter()
        .filter(|(_, v)| v.as_u64().is_some_and(|n| n > 0))
        .map(|(k, v)| format!("{k} {v}"))
        .collect::<Vec<_>>()
        .join(" ")
}
