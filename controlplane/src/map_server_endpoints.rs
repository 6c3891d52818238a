//! lisp-ms's management socket (`lispctl --ms show sites|registrations|stats`) and Prometheus
//! endpoint, served from its loop with the same bounded, non-blocking servers lispd uses.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::listeners::{ManagementSocket, MetricsListener, MetricsService, Response, Service};
use crate::management::{response_line, VERSION};
use crate::map_server::MapServer;
use crate::map_server_runner::RunnerStats;
use crate::metrics;

/// What lisp-ms's management socket answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum MsRequest {
    /// Every configured site and how many of its prefixes are registered.
    ShowSites,
    /// Every registration, merged per prefix.
    ShowRegistrations,
    /// The map-server's counters and the loop's.
    ShowStats,
}

#[derive(Debug, Deserialize)]
struct Envelope {
    version: u32,
    #[serde(flatten)]
    request: MsRequest,
}

/// The endpoints lisp-ms was asked to serve.
#[derive(Debug, Default)]
pub struct Endpoints {
    management: Option<ManagementSocket<Infallible>>,
    metrics: Option<MetricsListener>,
}

impl Endpoints {
    pub fn bind(management: Option<&Path>, metrics: Option<SocketAddr>) -> Result<Self, String> {
        Ok(Self {
            management: management.map(ManagementSocket::bind).transpose()?,
            metrics: metrics.map(MetricsListener::bind).transpose()?,
        })
    }

    /// Whether any endpoint is served (the loop then wakes often enough to answer).
    pub fn any(&self) -> bool {
        self.management.is_some() || self.metrics.is_some()
    }

    /// Answers the clients that are ready.
    pub fn poll(&mut self, server: &MapServer, runner: &RunnerStats, now: Instant) {
        if let Some(metrics) = &mut self.metrics {
            metrics.poll(
                &mut MetricsService(|| metrics::map_server_exposition(server, runner)),
                now,
            );
        }
        if let Some(management) = &mut self.management {
            management.poll(&mut MsService { server, runner }, now);
        }
    }
}

struct MsService<'a> {
    server: &'a MapServer,
    runner: &'a RunnerStats,
}

impl Service for MsService<'_> {
    type Stream = Infallible;

    fn answer(&mut self, request: &[u8]) -> Response<Infallible> {
        Response::Bytes(response_line(respond(request, self.server, self.runner)).into_bytes())
    }

    fn continue_stream(&mut self, stream: &mut Infallible, _: &mut Vec<u8>) -> bool {
        match *stream {}
    }
}

/// The outcome of one request line.
pub fn respond(request: &[u8], server: &MapServer, runner: &RunnerStats) -> Result<Value, String> {
    let envelope: Envelope =
        serde_json::from_slice(request).map_err(|e| format!("bad request: {e}"))?;
    if envelope.version != VERSION {
        return Err(format!(
            "protocol version {} is not spoken here (this lisp-ms speaks {VERSION})",
            envelope.version
        ));
    }
    let value = |v: Result<Value, serde_json::Error>| v.map_err(|e| e.to_string());
    match envelope.request {
        MsRequest::ShowSites => value(serde_json::to_value(server.sites())),
        MsRequest::ShowRegistrations => value(serde_json::to_value(server.registrations())),
        MsRequest::ShowStats => {
            let mut stats = value(serde_json::to_value(server.stats()))?;
            if let Value::Object(fields) = &mut stats {
                for (name, counter) in [
                    ("loop_wakeups", &runner.wakeups),
                    ("datagrams", &runner.datagrams),
                    ("refusals_not_logged", &runner.refusals_not_logged),
                ] {
                    fields.insert(name.into(), json!(counter.load(Ordering::Relaxed)));
                }
            }
            Ok(stats)
        }
    }
}
