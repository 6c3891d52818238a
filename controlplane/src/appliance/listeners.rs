//! The control core's small servers (management on a Unix socket, metrics over loopback HTTP),
//! polled between packet bursts without blocking: connections are accepted and read
//! non-blockingly, a request is complete at its terminator, the response is written with a short
//! timeout and the connection closed. A client that stalls is dropped after a deadline.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest request accepted, and how long a client may take to send it.
const MAX_REQUEST: usize = 64 * 1024;
const REQUEST_DEADLINE: Duration = Duration::from_secs(2);
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// A connected stream the servers can use.
pub trait Stream: Read + Write {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()>;
}

impl Stream for UnixStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        UnixStream::set_nonblocking(self, on)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        UnixStream::set_write_timeout(self, timeout)
    }
}

impl Stream for TcpStream {
    fn set_nonblocking(&self, on: bool) -> std::io::Result<()> {
        TcpStream::set_nonblocking(self, on)
    }
    fn set_write_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }
}

struct Client<S> {
    stream: S,
    request: Vec<u8>,
    since: Instant,
}

/// Connections of one listener, each waiting for its request.
struct Clients<S> {
    clients: Vec<Client<S>>,
    terminator: &'static [u8],
}

impl<S: Stream> Clients<S> {
    fn add(&mut self, stream: S) {
        if stream.set_nonblocking(true).is_ok() {
            self.clients.push(Client {
                stream,
                request: Vec::new(),
                since: Instant::now(),
            });
        }
    }

    /// Reads what arrived; answers complete requests with `answer`; drops finished, failed and
    /// stalled clients.
    fn serve(&mut self, answer: &mut dyn FnMut(&[u8]) -> Vec<u8>) {
        let terminator = self.terminator;
        self.clients.retain_mut(|client| {
            let mut buffer = [0u8; 4096];
            loop {
                match client.stream.read(&mut buffer) {
                    Ok(0) => return false,
                    Ok(n) => client.request.extend_from_slice(&buffer[..n]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(_) => return false,
                }
                if client.request.len() > MAX_REQUEST {
                    return false;
                }
            }
            let Some(end) = client
                .request
                .windows(terminator.len())
                .position(|w| w == terminator)
            else {
                return client.since.elapsed() < REQUEST_DEADLINE;
            };
            let response = answer(&client.request[..end]);
            let _ = client.stream.set_nonblocking(false);
            let _ = client.stream.set_write_timeout(Some(WRITE_TIMEOUT));
            let _ = client.stream.write_all(&response);
            false
        });
    }
}

/// The management API's Unix socket: one JSON request line per connection.
pub struct ManagementSocket {
    listener: UnixListener,
    path: PathBuf,
    clients: Clients<UnixStream>,
}

impl std::fmt::Debug for ManagementSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ManagementSocket({})", self.path.display())
    }
}

impl ManagementSocket {
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
            clients: Clients {
                clients: Vec::new(),
                terminator: b"\n",
            },
        })
    }

    /// Accepts, reads and answers: `answer` gets a request line and returns the response line.
    pub fn poll(&mut self, answer: &mut dyn FnMut(&str) -> String) {
        while let Ok((stream, _)) = self.listener.accept() {
            self.clients.add(stream);
        }
        self.clients.serve(&mut |request| {
            let mut line = answer(&String::from_utf8_lossy(request));
            line.push('\n');
            line.into_bytes()
        });
    }
}

impl Drop for ManagementSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The Prometheus endpoint: any HTTP GET gets the metrics text.
pub struct MetricsListener {
    listener: TcpListener,
    clients: Clients<TcpStream>,
}

impl std::fmt::Debug for MetricsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MetricsListener({:?})", self.listener.local_addr())
    }
}

impl MetricsListener {
    pub fn bind(address: SocketAddr) -> Result<Self, String> {
        let context = |e: std::io::Error| format!("metrics endpoint {address}: {e}");
        let listener = TcpListener::bind(address).map_err(context)?;
        listener.set_nonblocking(true).map_err(context)?;
        Ok(Self {
            listener,
            clients: Clients {
                clients: Vec::new(),
                terminator: b"\r\n\r\n",
            },
        })
    }

    /// Answers every complete request with `body()`.
    pub fn poll(&mut self, body: &mut dyn FnMut() -> String) {
        while let Ok((stream, _)) = self.listener.accept() {
            self.clients.add(stream);
        }
        self.clients.serve(&mut |request| {
            let (status, text) = if request.starts_with(b"GET ") {
                ("200 OK", body())
            } else {
                ("405 Method Not Allowed", String::from("GET only\n"))
            };
            format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
                text.len()
            )
            .into_bytes()
        });
    }
}
