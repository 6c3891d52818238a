//! The small servers of lispd's control core and of lisp-ms (management on a Unix socket,
//! metrics over loopback HTTP), polled between other work without ever blocking: sockets are non-blocking, a request is
//! scanned for its terminator only in the bytes that just arrived, and a response is written as
//! far as the client reads it, a long one (a listing) produced page by page only as the client
//! drains what was written. What any local user can do to the control core is bounded: at most
//! [`MAX_CLIENTS`] connections per server (more are accepted and closed at once), requests of at
//! most `max_request` bytes within [`REQUEST_DEADLINE`], and a client that stops reading for
//! [`STALL_DEADLINE`] is dropped.

use std::convert::Infallible;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Connections served at once by one server.
pub const MAX_CLIENTS: usize = 16;
/// Connections taken from the backlog per poll (accepted or refused).
const ACCEPTS_PER_POLL: usize = 64;
/// How long a client may take to send its request, and to read some of the response.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
pub const STALL_DEADLINE: Duration = Duration::from_secs(5);
/// A streamed response is continued when less than this is waiting to be read.
const LOW_WATER: usize = 64 * 1024;

/// What a server makes of one request.
#[derive(Debug)]
pub enum Response<S> {
    /// The whole response.
    Bytes(Vec<u8>),
    /// A response produced piece by piece.
    Stream(S),
}

/// The requests a server answers.
pub trait Service {
    type Stream;
    fn answer(&mut self, request: &[u8]) -> Response<Self::Stream>;
    /// Appends more of `stream` to `out`; true when it is complete.
    fn continue_stream(&mut self, stream: &mut Self::Stream, out: &mut Vec<u8>) -> bool;
}

/// What one server did with its clients.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct ListenerStats {
    pub accepted: u64,
    pub answered: u64,
    /// Closed at once: [`MAX_CLIENTS`] were being served.
    pub refused_busy: u64,
    /// Request longer than the server takes.
    pub dropped_oversized: u64,
    /// No complete request within [`REQUEST_DEADLINE`], or nothing read for [`STALL_DEADLINE`].
    pub dropped_stalled: u64,
}

/// A connected stream the servers can use.
pub trait Stream: Read + Write {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()>;
}

impl Stream for UnixStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        UnixStream::set_nonblocking(self, on)
    }
}

impl Stream for TcpStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        TcpStream::set_nonblocking(self, on)
    }
}

enum Phase<L> {
    Reading {
        request: Vec<u8>,
        /// Bytes of `request` already searched for the terminator.
        scanned: usize,
    },
    Writing {
        out: Vec<u8>,
        sent: usize,
        more: Option<L>,
    },
}

struct Client<S, L> {
    stream: S,
    phase: Phase<L>,
    /// When the connection was accepted, then when the client last read something.
    progress: Instant,
}

enum Next {
    Keep,
    Done,
    Oversized,
    Stalled,
    Failed,
}

/// The connections of one server.
struct Clients<S, L> {
    clients: Vec<Client<S, L>>,
    terminator: &'static [u8],
    max_request: usize,
    stats: ListenerStats,
}

impl<S: Stream, L> Clients<S, L> {
    fn new(terminator: &'static [u8], max_request: usize) -> Self {
        Self {
            clients: Vec::new(),
            terminator,
            max_request,
            stats: ListenerStats::default(),
        }
    }

    fn add(&mut self, stream: S, now: Instant) {
        if self.clients.len() >= MAX_CLIENTS {
            self.stats.refused_busy += 1;
            return;
        }
        if stream.set_nonblocking(true).is_ok() {
            self.stats.accepted += 1;
            self.clients.push(Client {
                stream,
                phase: Phase::Reading {
                    request: Vec::new(),
                    scanned: 0,
                },
                progress: now,
            });
        }
    }

    /// Takes up to [`ACCEPTS_PER_POLL`] new connections from `accept`, then serves.
    fn poll(
        &mut self,
        mut accept: impl FnMut() -> Option<S>,
        service: &mut dyn Service<Stream = L>,
        now: Instant,
    ) {
        for _ in 0..ACCEPTS_PER_POLL {
            let Some(stream) = accept() else {
                break;
            };
            self.add(stream, now);
        }
        self.serve(service, now);
    }

    /// Moves every client on as far as it goes without waiting.
    fn serve(&mut self, service: &mut dyn Service<Stream = L>, now: Instant) {
        let (terminator, max_request) = (self.terminator, self.max_request);
        let stats = &mut self.stats;
        self.clients.retain_mut(|client| {
            let next = client.step(terminator, max_request, service, now);
            match next {
                Next::Keep => return true,
                Next::Done => stats.answered += 1,
                Next::Oversized => stats.dropped_oversized += 1,
                Next::Stalled => stats.dropped_stalled += 1,
                Next::Failed => {}
            }
            false
        });
    }
}

impl<S: Stream, L> Client<S, L> {
    fn step(
        &mut self,
        terminator: &[u8],
        max_request: usize,
        service: &mut dyn Service<Stream = L>,
        now: Instant,
    ) -> Next {
        if let Phase::Reading { request, scanned } = &mut self.phase {
            let mut buffer = [0u8; 4096];
            let end = loop {
                let from = scanned.saturating_sub(terminator.len() - 1);
                if let Some(at) = request[from..]
                    .windows(terminator.len())
                    .position(|w| w == terminator)
                {
                    break from + at;
                }
                *scanned = request.len();
                if request.len() > max_request {
                    return Next::Oversized;
                }
                match self.stream.read(&mut buffer) {
                    Ok(0) => return Next::Failed,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        return if now.saturating_duration_since(self.progress) < REQUEST_DEADLINE {
                            Next::Keep
                        } else {
                            Next::Stalled
                        };
                    }
                    Err(_) => return Next::Failed,
                }
            };
            let (out, more) = match service.answer(&request[..end]) {
                Response::Bytes(out) => (out, None),
                Response::Stream(stream) => (Vec::new(), Some(stream)),
            };
            self.phase = Phase::Writing { out, sent: 0, more };
            self.progress = now;
        }
        let Phase::Writing { out, sent, more } = &mut self.phase else {
            return Next::Failed;
        };
        // One piece of a stream per poll, so a fast reader of a long listing cannot hold the
        // control core either.
        let mut continued = false;
        loop {
            if let Some(stream) = more.as_mut().filter(|_| !continued) {
                if out.len() - *sent < LOW_WATER {
                    out.drain(..*sent);
                    *sent = 0;
                    continued = true;
                    if service.continue_stream(stream, out) {
                        *more = None;
                    }
                }
            }
            if *sent == out.len() {
                return if more.is_none() {
                    Next::Done
                } else {
                    Next::Keep
                };
            }
            match self.stream.write(&out[*sent..]) {
                Ok(0) => return Next::Failed,
                Ok(n) => {
                    *sent += n;
                    self.progress = now;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    return if now.saturating_duration_since(self.progress) < STALL_DEADLINE {
                        Next::Keep
                    } else {
                        Next::Stalled
                    };
                }
                Err(_) => return Next::Failed,
            }
        }
    }
}

/// The management API's Unix socket: one JSON request line per connection.
pub struct ManagementSocket<L> {
    listener: UnixListener,
    path: PathBuf,
    clients: Clients<UnixStream, L>,
}

impl<L> std::fmt::Debug for ManagementSocket<L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagementSocket({})", self.path.display())
    }
}

impl<L> ManagementSocket<L> {
    /// Longest request line.
    const MAX_REQUEST: usize = 64 * 1024;

    /// Listens at `path` (its directory is created); a stale socket left by a dead lispd is
    /// replaced, a live one is an error.
    pub fn bind(path: &Path) -> Result<Self, String> {
        let context = |e: std::io::Error| format!("management socket {}: {e}", path.display());
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(context)?;
        }
        if path.exists() {
            if UnixStream::connect(path).is_ok() {
                return Err(format!(
                    "management socket {}: another lispd is listening there",
                    path.display()
                ));
            }
            std::fs::remove_file(path).map_err(context)?;
        }
        let listener = UnixListener::bind(path).map_err(context)?;
        listener.set_nonblocking(true).map_err(context)?;
        Ok(Self {
            listener,
            path: path.to_owned(),
            clients: Clients::new(b"\n", Self::MAX_REQUEST),
        })
    }

    /// Accepts, reads and answers what is ready.
    pub fn poll(&mut self, service: &mut dyn Service<Stream = L>, now: Instant) {
        let listener = &self.listener;
        self.clients
            .poll(|| listener.accept().ok().map(|(s, _)| s), service, now);
    }

    pub fn stats(&self) -> ListenerStats {
        self.clients.stats
    }
}

impl<L> Drop for ManagementSocket<L> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The Prometheus endpoint: `GET /metrics` gets the metrics text, other paths 404.
pub struct MetricsListener {
    listener: TcpListener,
    clients: Clients<TcpStream, Infallible>,
}

impl std::fmt::Debug for MetricsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsListener({:?})", self.listener.local_addr())
    }
}

/// Answers HTTP requests with the text `body` makes.
pub struct MetricsService<F>(pub F);

impl<F> std::fmt::Debug for MetricsService<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsService")
    }
}

impl<F: FnMut() -> String> Service for MetricsService<F> {
    type Stream = Infallible;

    fn answer(&mut self, request: &[u8]) -> Response<Infallible> {
        let path = request.split(|&b| b == b' ').nth(1).unwrap_or_default();
        let (status, text) = match (request.starts_with(b"GET "), path) {
            (true, b"/metrics") => ("200 OK", (self.0)()),
            (true, _) => (
                "404 Not Found",
                String::from("the metrics are at /metrics\n"),
            ),
            (false, _) => ("405 Method Not Allowed", String::from("GET only\n")),
        };
        Response::Bytes(
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            )
            .into_bytes(),
        )
    }

    fn continue_stream(&mut self, stream: &mut Infallible, _: &mut Vec<u8>) -> bool {
        match *stream {}
    }
}

impl MetricsListener {
    /// Longest HTTP request head (a scraper's GET is a few hundred bytes).
    const MAX_REQUEST: usize = 8 * 1024;

    pub fn bind(address: SocketAddr) -> Result<Self, String> {
        let context = |e: std::io::Error| format!("metrics endpoint {address}: {e}");
        let listener = TcpListener::bind(address).map_err(context)?;
        listener.set_nonblocking(true).map_err(context)?;
        Ok(Self {
            listener,
            clients: Clients::new(b"\r\n\r\n", Self::MAX_REQUEST),
        })
    }

    /// Accepts, reads and answers what is ready.
    pub fn poll(&mut self, service: &mut dyn Service<Stream = Infallible>, now: Instant) {
        let listener = &self.listener;
        self.clients
            .poll(|| listener.accept().ok().map(|(s, _)| s), service, now);
    }

    pub fn stats(&self) -> ListenerStats {
        self.clients.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};

    /// Answers "echo X" with "X\n", and "stream N" with N lines, one per piece.
    struct Stub {
        pieces: usize,
    }

    impl Service for Stub {
        type Stream = usize;

        fn answer(&mut self, request: &[u8]) -> Response<usize> {
            let text = String::from_utf8_lossy(request);
            match text.split_once(' ') {
                Some(("stream", n)) => Response::Stream(n.parse().unwrap()),
                Some((_, rest)) => Response::Bytes(format!("{rest}\n").into_bytes()),
                None => Response::Bytes(b"?\n".to_vec()),
            }
        }

        fn continue_stream(&mut self, left: &mut usize, out: &mut Vec<u8>) -> bool {
            self.pieces += 1;
            out.extend_from_slice(&[b'x'; 1023]);
            out.push(b'\n');
            *left -= 1;
            *left == 0
        }
    }

    fn socket(name: &str) -> (ManagementSocket<usize>, PathBuf) {
        let path = std::env::temp_dir().join(format!("lispd-{name}-{}.sock", std::process::id()));
        (ManagementSocket::bind(&path).unwrap(), path)
    }

    #[test]
    fn a_request_in_pieces_is_answered_and_a_long_one_dropped() {
        let (mut server, path) = socket("pieces");
        let mut service = Stub { pieces: 0 };
        let mut client = UnixStream::connect(&path).unwrap();
        for piece in ["ec", "ho he", "llo\n"] {
            client.write_all(piece.as_bytes()).unwrap();
            server.poll(&mut service, Instant::now());
        }
        let mut line = String::new();
        BufReader::new(&client).read_line(&mut line).unwrap();
        assert_eq!(line, "hello\n");
        let mut long = UnixStream::connect(&path).unwrap();
        long.set_nonblocking(true).unwrap();
        let chunk = vec![b'a'; 8192];
        for _ in 0..16 {
            let _ = long.write(&chunk);
            server.poll(&mut service, Instant::now());
        }
        let stats = server.stats();
        assert_eq!((stats.answered, stats.dropped_oversized), (1, 1));
    }

    #[test]
    fn clients_beyond_the_limit_are_refused_and_stalled_ones_dropped() {
        let (mut server, path) = socket("limit");
        let mut service = Stub { pieces: 0 };
        let t0 = Instant::now();
        let idle: Vec<UnixStream> = (0..MAX_CLIENTS + 4)
            .map(|_| UnixStream::connect(&path).unwrap())
            .collect();
        server.poll(&mut service, t0);
        assert_eq!(server.stats().accepted, MAX_CLIENTS as u64);
        assert_eq!(server.stats().refused_busy, 4);
        server.poll(&mut service, t0 + REQUEST_DEADLINE);
        assert_eq!(server.stats().dropped_stalled, MAX_CLIENTS as u64);
        drop(idle);
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"echo again\n").unwrap();
        server.poll(&mut service, t0 + REQUEST_DEADLINE);
        let mut line = String::new();
        BufReader::new(&client).read_line(&mut line).unwrap();
        assert_eq!(
            line, "again\n",
            "served again once the stalled ones are gone"
        );
    }

    #[test]
    fn metrics_are_served_at_their_path_only() {
        let mut service = MetricsService(|| String::from("lispd_up 1\n"));
        let status = |service: &mut MetricsService<_>, request: &[u8]| match service.answer(request)
        {
            Response::Bytes(bytes) => String::from_utf8_lossy(&bytes)
                .lines()
                .next()
                .unwrap_or_default()
                .to_owned(),
            Response::Stream(never) => match never {},
        };
        assert_eq!(
            status(&mut service, b"GET /metrics HTTP/1.1\r\nHost: x"),
            "HTTP/1.1 200 OK"
        );
        assert_eq!(
            status(&mut service, b"GET / HTTP/1.1"),
            "HTTP/1.1 404 Not Found"
        );
        assert_eq!(
            status(&mut service, b"POST /metrics HTTP/1.1"),
            "HTTP/1.1 405 Method Not Allowed"
        );
    }

    #[test]
    fn a_stream_is_produced_only_as_fast_as_it_is_read() {
        let (mut server, path) = socket("stream");
        let mut service = Stub { pieces: 0 };
        let mut client = UnixStream::connect(&path).unwrap();
        client.write_all(b"stream 10000\n").unwrap();
        // Nobody reads: production stops at what the socket buffer and the low-water mark hold.
        for _ in 0..1000 {
            server.poll(&mut service, Instant::now());
        }
        let produced_unread = service.pieces;
        assert!(
            produced_unread < 1000,
            "{produced_unread} pieces for a silent reader"
        );
        // Reading it all: one piece per poll at most.
        client.set_nonblocking(true).unwrap();
        let mut received = 0;
        let mut buffer = vec![0u8; 1 << 16];
        let mut polls = 0;
        while received < 10_000 * 1024 {
            let before = service.pieces;
            server.poll(&mut service, Instant::now());
            assert!(service.pieces - before <= 1, "one piece per poll");
            polls += 1;
            while let Ok(n) = client.read(&mut buffer) {
                if n == 0 {
                    break;
                }
                received += n;
            }
        }
        assert_eq!(received, 10_000 * 1024);
        assert!(polls >= 10_000 - produced_unread);
        server.poll(&mut service, Instant::now());
        assert_eq!(server.stats().answered, 1);
    }
}
