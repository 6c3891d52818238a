//! lispctl's side of the management API: one JSON request line over lispd's Unix socket, the
//! response rendered as a table for people or passed through as JSON for scripts.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use controlplane::management_api as api;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// Sends `request` (without the version, which is added) and returns the result, or the error
/// lispd gave, or why lispd could not be asked.
pub fn call(socket: &Path, mut request: Value) -> Result<Value, String> {
    request["version"] = json!(controlplane::management::VERSION);
    let mut stream = UnixStream::connect(socket).map_err(|e| {
        format!(
            "cannot reach lispd at {} ({e}): is lispd running, and is this its [management] socket?",
            socket.display()
        )
    })?;
    // A trace waits up to TRACE_WAIT for its packets before lispd answers.
    let wait = controlplane::management::TRACE_WAIT + Duration::from_secs(5);
    stream
        .set_read_timeout(Some(wait))
        .and_then(|()| stream.set_write_timeout(Some(Duration::from_secs(5))))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .map_err(|e| format!("sending to lispd: {e}"))?;
    let mut line = String::new();
    BufReader::new(stream)
        .read_line(&mut line)
        .map_err(|e| format!("reading lispd's answer: {e}"))?;
    let response: Value =
        serde_json::from_str(&line).map_err(|e| format!("lispd answered {line:?}: {e}"))?;
    if response["ok"] == json!(true) {
        Ok(response["result"].clone())
    } else {
        Err(response["error"]
            .as_str()
            .unwrap_or("lispd refused the request")
            .to_owned())
    }
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Columns padded to their widest cell.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
    };
    let mut out = line(header.iter().map(|h| h.to_string()).collect());
    out.push('\n');
    for row in rows {
        out.push_str(&line(row));
        out.push('\n');
    }
    out
}

/// A result as typed rows (one answer or a list of them), or why it is not what lispd answers.
fn rows<T: DeserializeOwned>(result: &Value) -> Result<Vec<T>, String> {
    let list = match result {
        Value::Array(_) => result.clone(),
        one => Value::Array(vec![one.clone()]),
    };
    serde_json::from_value(list).map_err(|e| format!("unexpected answer ({e}): {result}\n"))
}

/// Renders typed rows, or says what did not parse.
fn render<T: DeserializeOwned>(
    result: &Value,
    header: &[&str],
    row: impl FnMut(T) -> Vec<String>,
) -> String {
    match rows::<T>(result) {
        Ok(rows) => table(header, rows.into_iter().map(row).collect()),
        Err(e) => e,
    }
}

fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

fn cache_locators(locators: &[api::CacheLocator]) -> String {
    locators
        .iter()
        .map(|l| {
            let down = if l.up { "" } else { " down" };
            format!("{} p{} w{}{down}", l.address, l.priority, l.weight)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The map-cache, one entry or all.
pub fn cache_table(result: &Value) -> String {
    render(
        result,
        &["PREFIX", "ACTION", "ORIGIN", "EXPIRES(s)", "LOCATORS"],
        |e: api::CacheEntry| {
            vec![
                e.prefix.to_string(),
                e.action,
                match e.origin {
                    api::Origin::Static => "static".into(),
                    api::Origin::Learned => "learned".into(),
                },
                or_dash(e.expires_in_secs),
                cache_locators(&e.locators),
            ]
        },
    )
}

pub fn database_table(result: &Value) -> String {
    render(
        result,
        &["PREFIX", "TTL(min)", "REGISTER", "VERSION", "LOCATORS"],
        |e: api::DatabaseEntry| {
            let locators = e
                .locators
                .iter()
                .map(|l| format!("{} p{} w{}", or_dash(l.address), l.priority, l.weight))
                .collect::<Vec<_>>()
                .join(", ");
            vec![
                e.prefix,
                e.ttl_minutes.to_string(),
                e.register.to_string(),
                e.map_version.to_string(),
                locators,
            ]
        },
    )
}

pub fn servers_table(result: &Value) -> String {
    let servers: api::Servers = match serde_json::from_value(result.clone()) {
        Ok(servers) => servers,
        Err(e) => return format!("unexpected answer ({e}): {result}\n"),
    };
    let registration = table(
        &[
            "MAP-SERVER",
            "NAME",
            "STATE",
            "FAILURES",
            "REGISTERED(s ago)",
            "NEXT(s)",
            "NAT",
        ],
        servers
            .map_servers
            .into_iter()
            .map(|s| {
                vec![
                    s.address.to_string(),
                    or_dash(s.name),
                    s.state,
                    s.failures.to_string(),
                    or_dash(s.registered_secs_ago),
                    s.next_register_in_secs.to_string(),
                    or_dash(s.nat),
                ]
            })
            .collect(),
    );
    if servers.peers.is_empty() {
        return registration;
    }
    let peers = table(
        &["PEER", "ADDRESS", "NAME"],
        servers
            .peers
            .into_iter()
            .map(|p| vec![p.role, p.address.to_string(), or_dash(p.name)])
            .collect(),
    );
    format!("{registration}\n{peers}")
}

pub fn instances_table(result: &Value) -> String {
    render(
        result,
        &[
            "INSTANCE",
            "INTERFACES",
            "MAP-CACHE",
            "DATABASE",
            "ENCAPSULATED",
            "DECAPSULATED",
        ],
        |i: api::InstanceEntry| {
            vec![
                i.instance_id.to_string(),
                or_dash(Some(i.interfaces.join(" ")).filter(|s| !s.is_empty())),
                i.map_cache_entries.to_string(),
                i.database_prefixes.to_string(),
                i.encapsulated.to_string(),
                i.decapsulated.to_string(),
            ]
        },
    )
}

pub fn neighbours_table(result: &Value) -> String {
    render(
        result,
        &["PORT", "ADDRESS", "MAC"],
        |n: api::NeighbourEntry| vec![n.port, n.address.to_string(), n.mac],
    )
}

/// Non-zero counters of each group: the data cores' totals, each port, each data core, the
/// control core, the control plane, the control loop and the management/metrics servers.
pub fn stats_table(result: &Value) -> String {
    let mut groups: Vec<(String, &Value)> = vec![("data".into(), &result["data"])];
    for (kind, prefix) in [("ports", "port "), ("cores", "core ")] {
        if let Some(members) = result[kind].as_object() {
            groups.extend(
                members
                    .iter()
                    .map(|(name, v)| (format!("{prefix}{name}"), v)),
            );
        }
    }
    groups.push(("control".into(), &result["control"]));
    groups.push(("control_plane".into(), &result["control_plane"]));
    groups.push(("control_loop".into(), &result["control_loop"]));
    if let Some(servers) = result["servers"].as_object() {
        groups.extend(
            servers
                .iter()
                .map(|(name, v)| (format!("server {name}"), v)),
        );
    }
    let mut rows = Vec::new();
    for (group, counters) in groups {
        if let Some(counters) = counters.as_object() {
            for (name, value) in counters {
                if value.as_u64().is_some_and(|v| v > 0) || value.is_string() {
                    rows.push(vec![group.clone(), name.clone(), text(value)]);
                }
            }
        }
    }
    table(&["GROUP", "COUNTER", "VALUE"], rows)
}

/// lisp-ms's sites.
pub fn sites_table(result: &Value) -> String {
    let rows = result.as_array().cloned().unwrap_or_default();
    let list = |v: &Value| {
        v.as_array()
            .map(|items| items.iter().map(text).collect::<Vec<_>>().join(" "))
            .unwrap_or_default()
    };
    table(
        &["SITE", "PREFIXES", "MOBILE", "REGISTERED"],
        rows.iter()
            .map(|s| {
                vec![
                    text(&s["name"]),
                    list(&s["prefixes"]),
                    list(&s["mobile_prefixes"]),
                    text(&s["registered_prefixes"]),
                ]
            })
            .collect(),
    )
}

/// lisp-ms's registrations, merged per prefix.
pub fn registrations_table(result: &Value) -> String {
    let rows = result.as_array().cloned().unwrap_or_default();
    table(
        &["SITE", "PREFIX", "INSTANCE", "LOCATORS", "REGISTRANTS"],
        rows.iter()
            .map(|r| {
                vec![
                    text(&r["site"]),
                    text(&r["prefix"]),
                    text(&r["instance_id"]),
                    r["locators"]
                        .as_array()
                        .map(|l| l.iter().map(text).collect::<Vec<_>>().join(" "))
                        .unwrap_or_default(),
                    text(&r["registrants"]),
                ]
            })
            .collect(),
    )
}

/// lisp-ms's counters, the non-zero ones.
pub fn ms_stats_table(result: &Value) -> String {
    let rows = result
        .as_object()
        .map(|counters| {
            counters
                .iter()
                .filter(|(_, v)| v.as_u64().is_some_and(|v| v > 0))
                .map(|(name, v)| vec![name.clone(), text(v)])
                .collect()
        })
        .unwrap_or_default();
    table(&["COUNTER", "VALUE"], rows)
}

/// A packet trace: each packet's port, length, class and fate.
pub fn trace_table(result: &Value) -> String {
    let mut index = 0..;
    render(
        result,
        &["#", "PORT", "LENGTH", "CLASS", "OUTCOME", "TO"],
        |t: api::TraceEntry| {
            vec![
                index.next().unwrap_or_default().to_string(),
                t.port.to_string(),
                t.length.to_string(),
                t.class,
                t.outcome,
                or_dash(t.to),
            ]
        },
    )
}
