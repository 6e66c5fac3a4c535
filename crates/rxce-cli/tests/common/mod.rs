//! Driving the real `rxce` binary: spawn it, read what it prints, stop it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn rxce() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rxce"))
}

/// A running `rxce serve`.
pub struct Served {
    child: Child,
    stdout: BufReader<ChildStdout>,
    /// The bound URLs, in the order of the `--listen` arguments.
    pub urls: Vec<String>,
}

/// What `rxce serve` printed after it stopped.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    /// Everything after the `listening` lines.
    pub stdout: String,
    pub stderr: String,
    /// The exit table's cells, header first.
    pub table: Vec<Vec<String>>,
}

impl Finished {
    /// The row of the first endpoint listed.
    pub fn first_row(&self) -> std::collections::HashMap<String, String> {
        self.row(&self.table[1][0])
    }

    /// The table row of the endpoint `url`, as a map from column to cell.
    pub fn row(&self, url: &str) -> std::collections::HashMap<String, String> {
        let header = &self.table[0];
        let row = self
            .table
            .iter()
            .find(|r| r[0] == url)
            .unwrap_or_else(|| panic!("no row for {url} in\n{}", self.stdout));
        header.iter().cloned().zip(row.iter().cloned()).collect()
    }
}

/// Starts `rxce serve ARGS` and waits for its `listening` lines (one per
/// `--listen`).
pub fn serve(args: &[&str]) -> Served {
    let expected = args.iter().filter(|a| **a == "--listen").count();
    let mut child = rxce()
        .arg("serve")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rxce serve starts");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut urls = Vec::new();
    while urls.len() < expected {
        let mut line = String::new();
        if stdout.read_line(&mut line).unwrap() == 0 {
            let mut stderr = String::new();
            child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
            let status = child.wait().unwrap();
            panic!("rxce serve {args:?} ended ({status}) before listening: {stderr}");
        }
        let url = line
            .trim_end()
            .strip_prefix("listening ")
            .unwrap_or_else(|| panic!("not a listening line: {line:?}"));
        urls.push(url.to_owned());
    }
    Served { child, stdout, urls }
}

impl Served {
    /// The socket address of the `n`th endpoint (an inet one).
    pub fn addr(&self, n: usize) -> std::net::SocketAddr {
        let url = &self.urls[n];
        let after = url.split("://").nth(1).expect("an inet URL");
        after.parse().unwrap_or_else(|e| panic!("{url}: {e}"))
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and collects the output.
    #[cfg(unix)]
    pub fn terminate(self) -> Finished {
        // SAFETY: kill(2) on the child's own pid, which we have not reaped.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "SIGTERM sent");
        self.finish(Duration::from_secs(10))
    }

    /// Waits (at most `within`) for the process to end by itself and
    /// collects the output.
    pub fn finish(mut self, within: Duration) -> Finished {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > within {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("rxce serve did not end within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        self.stdout.read_to_string(&mut stdout).unwrap();
        let mut stderr = String::new();
        self.child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
        let table = rxce_cli::table::cells(&stdout);
        Finished {
            status,
            stdout,
            stderr,
            table,
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `rxce ARGS` to the end.
pub fn run(args: &[&str]) -> std::process::Output {
    rxce().args(args).stdin(Stdio::null()).output().expect("rxce runs")
}

/// The expected byte cell for `n` bytes.
pub fn bytes(n: u64) -> String {
    rxce_cli::table::bytes(n)
}

/// The number of bytes a byte cell (`512 B`, `1.5 KiB`) stands for,
/// roughly.
pub fn parse_bytes(cell: &str) -> f64 {
    let (value, unit) = cell
        .split_once(' ')
        .unwrap_or_else(|| panic!("not a byte cell: {cell:?}"));
    let value: f64 = value.parse().unwrap();
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other:?}"),
    };
    value * scale
}

/// An rxce connection handler that hands every whole message (framed
/// transports) or every indication (streams) to a channel.
pub struct Messages {
    tx: std::sync::Mutex<std::sync::mpsc::Sender<Vec<u8>>>,
}

impl Messages {
    pub fn new() -> (std::sync::Arc<Messages>, std::sync::mpsc::Receiver<Vec<u8>>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (
            std::sync::Arc::new(Messages {
                tx: std::sync::Mutex::new(tx),
            }),
            rx,
        )
    }

    fn deliver(&self, message: Vec<u8>) {
        let _ = self.tx.lock().unwrap().send(message);
    }
}

impl rxce::ConnectionEventHandler for Messages {
    fn receive(&self, _vc: &rxce::Vc, indication: &rxce::Indication<'_>) -> rxce::ReceiveAnswer {
        let whole = indication.available.max(indication.data.len());
        if indication.data.len() == whole {
            self.deliver(indication.data.to_vec());
            return rxce::ReceiveAnswer::take_all(indication);
        }
        rxce::ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0u8; whole]),
            size: whole,
        }
    }

    fn data_ready(&self, _vc: &rxce::Vc, buffer: Box<dyn rxce::ReceiveBuffer>, copied: usize, status: rxce::Status) {
        assert!(status.is_success(), "{status}");
        let any: Box<dyn std::any::Any + Send> = buffer;
        let mut bytes = any.downcast::<Vec<u8>>().expect("our buffer");
        bytes.truncate(copied);
        self.deliver(*bytes);
    }
}
