//! `rxce`: try the RDBSS connection engine from the command line.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use rxce::wire::NetbiosName;
use rxce::Status;
use rxce_cli::endpoint::{self, Endpoint, Host, Kind};
use rxce_cli::serve::{Mode, PeerOptions};

/// The endpoint forms, for the help of the commands that take them.
const ENDPOINTS_HELP: &str = "\
Endpoints (URLs):
  tcp://HOST:PORT                       TCP, a bare byte stream
  tcp+smb://HOST[:PORT]                 TCP with SMB direct-hosted framing (port 445 by default)
  tcp+rpc://HOST[:PORT]                 TCP with ONC RPC record marking, NFS (port 111 by default)
  tcp+9p://HOST[:PORT]                  TCP with 9P framing (port 564 by default)
  netbt://HOST[:PORT][?called=NAME&calling=NAME]
                                        NetBIOS session service (port 139 by default)
  udp://HOST:PORT                       UDP datagrams
  unix:PATH                             a Unix-domain socket file
  unix:@NAME                            an abstract Unix-domain socket (Linux; no file)
  memory:NAME                           the engine's in-process transport
HOST is a DNS name or an IP address; an IPv6 address goes in brackets: tcp://[::1]:8445.";

/// The rxce connection engine on the command line.
#[derive(Debug, Parser)]
#[command(name = "rxce", version, about, long_about = None)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace);
    /// `RUST_LOG` overrides it.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the engine end to end against embedded peers (TCP on loopback
    /// and in memory) and print what happened. Needs no server.
    Demo,
    /// Serve peers (echo, sink or source) on endpoints until interrupted.
    ///
    /// Starts a peer on every --listen endpoint and prints one line per
    /// endpoint, `listening URL`, with the address actually bound (so port 0
    /// works). Runs until Ctrl-C, SIGTERM or --duration, then prints, per
    /// endpoint, the connections accepted, the NetBIOS sessions refused, the
    /// payload bytes received and sent (without frame headers), the messages
    /// (framed transports) or datagrams (udp) each way, and the NetBIOS
    /// keepalives sent. udp counts distinct sources as connections.
    ///
    /// tcp+smb and netbt echo per message: each message comes back as one
    /// message. netbt answers session requests positively for the names given
    /// with --accept-name (any name when none is given) and negatively (0x82,
    /// called name not present) otherwise. udp echoes each datagram to its
    /// source; source mode needs a client that can close, so it serves tcp,
    /// tcp+smb, netbt and unix only. memory endpoints live inside one process
    /// and cannot be served to others.
    Serve(ServeArgs),
    /// Ask an SMB server for an SMB2 NEGOTIATE over direct-hosted TCP and
    /// over the NetBIOS session service, and compare the answers.
    ///
    /// Tries direct-hosted TCP (the engine's tcp+smb transport, --direct-port)
    /// and the NetBIOS session service (netbt, --netbt-port) at once, each
    /// through its own transport, address and connection. netbt calls the
    /// server by --called-name, else by the first label of SERVER uppercased
    /// when SERVER is a DNS name, else by *SMBSERVER; the engine retries with
    /// *SMBSERVER when the server refuses the name. Over each connection that
    /// comes up it sends an SMB2 NEGOTIATE offering every dialect and reads the
    /// whole-message answer. Every wait ends by --timeout: a port that never
    /// answers (black-holed) gives STATUS_IO_TIMEOUT for its transport.
    ///
    /// The table has a column per transport: address, called name, status,
    /// connect and negotiate times, dialect, server GUID, largest read, write
    /// and transaction, and capabilities. The winner is the first transport, in
    /// the order tcp, netbt, that negotiated.
    ///
    /// With --json, stdout gets exactly one JSON object:
    /// {"server": ..., "attempts": [{"transport": "tcp"|"netbt", "address":
    /// "IP:PORT", "status": "STATUS_...", "connect_ms": n, "negotiate":
    /// {"dialect": "0x0311", "server_guid": ..., "max_read": n, "max_write": n,
    /// "max_transact": n, "capabilities": [...]} or null}], "winner":
    /// "tcp"|"netbt"|null}. The address is the host name and port when the
    /// attempt failed before the engine connected.
    ///
    /// `rxce probe smb SERVER` is the same. `rxce probe nfs SERVER` asks
    /// rpcbind (--rpcbind-port, 111) over tcp+rpc for its registrations
    /// (PMAP v2 DUMP) and calls NULL on every registered version of NFS,
    /// mountd and the lock manager over the protocol and port registered
    /// (tcp+rpc or udp): a row per program, version and transport with the
    /// status, round trip and the reply's accept state (SUCCESS,
    /// PROG_UNAVAIL, PROG_MISMATCH(l-h), RPC_MISMATCH, AUTH_ERROR(...)).
    /// JSON: {"rpcbind", "rpcbind_status", "rpcbind_rtt_ms", "registrations",
    /// "programs": [{"program", "name", "version", "transport", "port",
    /// "status", "rtt_ms", "reply"}]}. `rxce probe 9p SERVER[:PORT]` (port 564)
    /// sends Tversion over tcp+9p offering 9P2000.L, then 9P2000.u and 9P2000
    /// when the server answers "unknown", and reports the version and msize
    /// chosen; with --attach NAME also Tattach and the root qid. JSON:
    /// {"server", "status", "connect_ms", "offers": [{"offered", "answered",
    /// "msize", "rtt_ms"}], "version", "msize", "attach", "attach_result",
    /// "root_qid"}.
    ///
    /// Exit status: 0 when at least one transport negotiated (nfs: an NFS
    /// version answered NULL; 9p: a version was agreed and an attach asked
    /// for succeeded), 1 otherwise, 2 for bad arguments.
    Probe(ProbeArgs),
    /// Build one connection over the given endpoints and relay stdin and
    /// stdout through it.
    ///
    /// Every URL is one attempt (one transport and address each); --policy
    /// picks what is kept: the first success, the best (the earlier URL among
    /// equals), or all of them as VCs of one connection. The attempt table
    /// (endpoint, remote tried, status, time, kept) goes to stderr. Then
    /// stdin goes out on the first VC (one TSDU — one message on framed
    /// transports — per read of up to 64 KiB) and whatever any VC receives
    /// goes to stdout, until either side closes: the end of stdin disconnects
    /// gracefully and waits (up to 5 s) for the peer's end; the peer's end
    /// stops the input.
    ///
    /// Exit status: 0 after an orderly end, 1 with the NTSTATUS name and text
    /// on stderr when the build fails or a VC ends abortively, 2 for bad
    /// arguments.
    Connect(ConnectArgs),
    /// Run a seeded random mix of the whole API against real peers for a
    /// while, checking the engine's promises as it goes.
    ///
    /// Lanes (--lanes) run side by side, each one operation at a time from a
    /// generator seeded with --seed (random when absent; always printed):
    /// builds and tear-downs of transports, addresses, connections and VCs,
    /// races over several transports, sends (synchronous, asynchronous,
    /// non-blocking, partial), receive answers of all three kinds, resumes,
    /// graceful disconnects, datagrams and torn-down handles, over tcp,
    /// tcp+smb, netbt, udp, unix and memory. The peers are embedded echo peers
    /// and, where Samba is installed, a private smbd (tcp+smb and netbt; SMB2
    /// NEGOTIATE then ECHO); a quarter of the TCP-based connections go through
    /// a fault proxy (latency, resets, stalls, partitions).
    ///
    /// Checked as it runs: every asynchronous send completes exactly once;
    /// every byte echoed comes back intact and in order (or the VC reported
    /// why not); nothing is indicated after a tear-down returned; torn-down
    /// handles give STATUS_INVALID_HANDLE; statuses are the documented ones.
    /// At the end: no live object, descriptors back where they started, and
    /// (runs of 320 s or more: 4 minutes after the warm-up) no upward trend of
    /// memory and descriptors after the warm-up.
    ///
    /// Prints a progress line every 10 s and a summary: operations by kind
    /// with p50/p99/max latency, outcomes by NTSTATUS, throughput, memory and
    /// descriptors with their trend, and the promises. With --json, stdout
    /// gets one JSON object per line: {"event": "progress", ...} every 10 s,
    /// then {"event": "summary", ...}.
    ///
    /// Exit status: 0 when every promise held, 1 when one broke (the seed to
    /// replay it is printed), 2 for bad arguments.
    Soak(SoakArgs),
    /// Read from an SMB2 server with the engine: `get` a file, `ls` a
    /// directory (anonymous or guest logons; URLs like smb://HOST:PORT/SHARE/PATH).
    Smb(rxce_cli::smb::SmbArgs),
}

/// The arguments of `rxce soak`.
#[derive(Debug, Args)]
struct SoakArgs {
    /// How long the mix runs, in seconds (decimals allowed) or with units
    /// (`10m`); the tear-down and final checks come after.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = rxce_cli::parse_nonzero_duration)]
    duration: Duration,
    /// The seed of the mix (random when absent).
    #[arg(long)]
    seed: Option<u64>,
    /// Lanes running side by side.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    lanes: u16,
    /// Do not use a private smbd even where Samba is installed.
    #[arg(long)]
    no_smbd: bool,
    /// Print JSON lines on stdout instead of text.
    #[arg(long)]
    json: bool,
}

/// The arguments of `rxce connect`.
#[derive(Debug, Args)]
#[command(after_help = ENDPOINTS_HELP)]
struct ConnectArgs {
    /// Which successes to keep.
    #[arg(long, value_enum, default_value_t = Policy::First)]
    policy: Policy,
    /// Milliseconds between the starts of successive endpoints' attempts.
    #[arg(long, value_name = "MS", default_value_t = 5)]
    stagger: u64,
    /// The longest the connection build may take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// The endpoints to try.
    #[arg(value_name = "URL", required = true, value_parser = parse_endpoint)]
    endpoints: Vec<Endpoint>,
}

/// The policies of `rxce connect`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Policy {
    /// The first endpoint to connect wins.
    First,
    /// Wait for the others, keep the best.
    Best,
    /// Keep every success as a VC of the connection.
    All,
}

fn parse_endpoint(text: &str) -> Result<Endpoint, String> {
    Endpoint::parse(text).map_err(|e| e.to_string())
}

/// The arguments of `rxce serve`.
#[derive(Debug, Args)]
#[command(after_help = ENDPOINTS_HELP)]
struct ServeArgs {
    /// An endpoint to serve; repeat for several.
    #[arg(long = "listen", value_name = "URL", required = true, value_parser = parse_listen)]
    listen: Vec<Endpoint>,
    /// What each peer does with a connection.
    #[arg(long, value_enum, default_value_t = Mode::Echo)]
    mode: Mode,
    /// Stop after this many seconds (decimals allowed), or a duration with
    /// units (`500ms`, `2m`).
    #[arg(long, value_name = "SECS", value_parser = rxce_cli::parse_nonzero_duration)]
    duration: Option<Duration>,
    /// A called NetBIOS name netbt endpoints accept (`NAME` or `NAME<XX>`,
    /// suffix 0x20 by default); repeat for several. Without any, every name
    /// is accepted.
    #[arg(long = "accept-name", value_name = "NAME", value_parser = parse_accept_name)]
    accept_names: Vec<NetbiosName>,
    /// Send a NetBIOS keepalive on a netbt session after this many seconds
    /// without sending; 0 sends none.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = rxce_cli::parse_duration)]
    keepalive: Duration,
    /// The certificate chain (PEM or DER) of quic endpoints; without it a
    /// self-signed certificate is generated, its SHA-256 fingerprint
    /// printed and put in the listening URL as `?pin=`.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<std::path::PathBuf>,
    /// The private key (PEM or PKCS#8 DER) of `--cert`.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<std::path::PathBuf>,
}

/// The arguments of `rxce probe`.
#[derive(Debug, Args)]
struct ProbeArgs {
    /// `[smb|nfs|9p] SERVER`: the protocol (smb when left out) and the
    /// server, a DNS name or an IP address (IPv6 with or without brackets;
    /// for 9p, `HOST[:PORT]`).
    #[arg(value_name = "[PROTOCOL] SERVER", num_args = 1..=2, required = true)]
    target: Vec<String>,
    /// nfs: rpcbind's port.
    #[arg(long, value_name = "PORT", default_value_t = 111, value_parser = clap::value_parser!(u16).range(1..))]
    rpcbind_port: u16,
    /// 9p: attach to this tree (aname) after the version.
    #[arg(long, value_name = "NAME")]
    attach: Option<String>,
    /// 9p: the user name of Tattach.
    #[arg(long, value_name = "NAME", default_value = "root")]
    uname: String,
    /// 9p: the msize offered.
    #[arg(long, value_name = "BYTES", default_value_t = 65536, value_parser = clap::value_parser!(u32).range(64..))]
    msize: u32,
    /// The direct-hosted TCP port.
    #[arg(long, value_name = "PORT", default_value_t = 445, value_parser = clap::value_parser!(u16).range(1..))]
    direct_port: u16,
    /// The NetBIOS session service port.
    #[arg(long, value_name = "PORT", default_value_t = 139, value_parser = clap::value_parser!(u16).range(1..))]
    netbt_port: u16,
    /// Also try SMB over QUIC on this UDP port (SMB 3.1.1 only).
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    quic_port: Option<u16>,
    /// The quic attempt's certificate options (`sni=NAME&ca=FILE&pin=SHA256`,
    /// as in a quic:// URL's query); without them the system's roots are
    /// trusted.
    #[arg(long, value_name = "OPTIONS", default_value = "")]
    quic_options: String,
    /// The NetBIOS name netbt calls (`NAME` or `NAME<XX>`, suffix 0x20 by
    /// default).
    #[arg(long, value_name = "NAME", value_parser = parse_called_name)]
    called_name: Option<NetbiosName>,
    /// The longest each transport's attempt (connect and NEGOTIATE) may
    /// take, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Print one JSON object on stdout instead of the table.
    #[arg(long)]
    json: bool,
}

fn parse_listen(text: &str) -> Result<Endpoint, String> {
    let endpoint = Endpoint::parse(text).map_err(|e| e.to_string())?;
    if endpoint.kind() == Kind::Memory {
        return Err(format!(
            "bad endpoint \"{}\": a memory endpoint exists only inside one process: serve tcp, tcp+smb, netbt, udp or unix",
            text.escape_debug()
        ));
    }
    Ok(endpoint)
}

fn parse_accept_name(text: &str) -> Result<NetbiosName, String> {
    endpoint::parse_called_name(text).map_err(|e| format!("bad NetBIOS name {text:?}: {e}"))
}

fn parse_called_name(text: &str) -> Result<NetbiosName, String> {
    parse_accept_name(text)
}

fn parse_server(text: &str) -> Result<Host, String> {
    if text.matches(':').count() == 1 && !text.starts_with('[') {
        return Err(format!(
            "bad server {text:?}: give the host alone and the ports with --direct-port and --netbt-port"
        ));
    }
    Host::parse(text).map_err(|problem| format!("bad server {text:?}: {problem}"))
}

/// Exits with clap's usage error (code 2) for `subcommand`.
fn usage_error(subcommand: &str, message: String) -> ! {
    let mut cli = Cli::command();
    cli.build();
    let error = match cli.find_subcommand_mut(subcommand) {
        Some(command) => command.error(clap::error::ErrorKind::ArgumentConflict, message),
        None => cli.error(clap::error::ErrorKind::ArgumentConflict, message),
    };
    error.exit()
}

/// Prints `text` and a newline on stdout; a closed stdout (`| head`) is
/// not worth a panic.
fn print(text: &str) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{text}").and_then(|()| stdout.flush());
}

/// Prints a failing status the same way for every command.
fn fail(command: &str, status: &Status) -> ExitCode {
    eprintln!("rxce {command}: {status}");
    ExitCode::from(1)
}

fn runtime() -> Result<tokio::runtime::Runtime, Status> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Status::from_io(e, "starting the runtime"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    rxce_cli::init_logging(cli.verbose);
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(status) => return fail("", &status),
    };
    match cli.command {
        Command::Demo => demo(&runtime),
        Command::Serve(args) => serve(&runtime, args),
        Command::Probe(args) => probe(&runtime, args),
        Command::Connect(args) => connect(&runtime, args),
        Command::Soak(args) => soak(&runtime, &args),
        Command::Smb(args) => rxce_cli::smb::main(&runtime, args),
    }
}

fn soak(runtime: &tokio::runtime::Runtime, args: &SoakArgs) -> ExitCode {
    let seed = args.seed.unwrap_or_else(|| fastrand::u64(..));
    let mut options = rxce_cli::soak::SoakOptions::new(args.duration, seed);
    options.lanes = usize::from(args.lanes);
    options.smbd = !args.no_smbd;
    eprintln!(
        "rxce soak: seed {seed}, {:.0} s, {} lanes",
        args.duration.as_secs_f64(),
        options.lanes
    );
    let json = args.json;
    let outcome = runtime.block_on(rxce_cli::soak::run(&options, |progress| {
        if json {
            print(&progress.json().to_string());
        } else {
            eprintln!("{}", progress.render());
        }
    }));
    let summary = match outcome {
        Ok(summary) => summary,
        Err(status) => return fail("soak", &status),
    };
    if json {
        print(&summary.json().to_string());
    } else {
        print(&summary.render());
    }
    if summary.held() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "rxce soak: a promise broke; replay the same mix with `{}`",
            summary.replay()
        );
        ExitCode::from(1)
    }
}

fn connect(runtime: &tokio::runtime::Runtime, args: ConnectArgs) -> ExitCode {
    let options = rxce_cli::connect::ConnectOptions {
        policy: match args.policy {
            Policy::First => rxce::SelectPolicy::FirstSuccessful,
            Policy::Best => rxce::SelectPolicy::BestSuccessful,
            Policy::All => rxce::SelectPolicy::AllSuccessful,
        },
        stagger: Duration::from_millis(args.stagger),
        timeout: Duration::from_millis(args.timeout),
    };
    let endpoints = args.endpoints;
    let outcome = runtime.block_on(rxce_cli::connect::run(
        &endpoints,
        &options,
        tokio::io::stdin(),
        tokio::io::stdout(),
        |attempts| eprintln!("{}", rxce_cli::connect::render_attempts(&endpoints, attempts)),
    ));
    match outcome {
        Ok(summary) => {
            eprintln!(
                "rxce connect: {} sent, {} received",
                rxce_cli::table::bytes(summary.sent),
                rxce_cli::table::bytes(summary.received)
            );
            ExitCode::SUCCESS
        }
        Err(status) => fail("connect", &status),
    }
}

fn demo(runtime: &tokio::runtime::Runtime) -> ExitCode {
    match runtime.block_on(rxce_cli::demo::run()) {
        Ok(rows) => {
            print(&rxce_cli::demo::render(&rows));
            print("rxce demo: every step succeeded");
            ExitCode::SUCCESS
        }
        Err((rows, status)) => {
            print(&rxce_cli::demo::render(&rows));
            fail("demo", &status)
        }
    }
}

/// Waits for Ctrl-C or SIGTERM (handlers installed before it returns) and
/// names the one that came.
#[cfg(unix)]
fn stop_signal() -> Result<impl std::future::Future<Output = String>, Status> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt()).map_err(|e| Status::from_io(e, "handling SIGINT"))?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| Status::from_io(e, "handling SIGTERM"))?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "SIGINT".to_owned(),
            _ = terminate.recv() => "SIGTERM".to_owned(),
        }
    })
}

/// Waits for Ctrl-C or Ctrl-Break, a console's two stop keys (handlers
/// installed before it returns), and names the one that came.
#[cfg(windows)]
fn stop_signal() -> Result<impl std::future::Future<Output = String>, Status> {
    use tokio::signal::windows::{ctrl_break, ctrl_c};
    let mut interrupt = ctrl_c().map_err(|e| Status::from_io(e, "handling Ctrl-C"))?;
    let mut brk = ctrl_break().map_err(|e| Status::from_io(e, "handling Ctrl-Break"))?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => "Ctrl-C".to_owned(),
            _ = brk.recv() => "Ctrl-Break".to_owned(),
        }
    })
}

fn serve(runtime: &tokio::runtime::Runtime, args: ServeArgs) -> ExitCode {
    if args.mode == Mode::Source {
        if let Some(udp) = args.listen.iter().find(|e| e.kind() == Kind::Udp) {
            let message = format!("--mode source cannot serve {udp}: udp has no connection for a client to close");
            usage_error("serve", message);
        }
    }
    let options = PeerOptions {
        mode: args.mode,
        accept_names: args.accept_names,
        keepalive: Some(args.keepalive).filter(|d| !d.is_zero()),
        engine: None,
        certificate: args.cert.zip(args.key),
    };
    runtime.block_on(async {
        let stop = match stop_signal() {
            Ok(stop) => stop,
            Err(status) => return fail("serve", &status),
        };
        let mut stdout = std::io::stdout();
        match rxce_cli::serve::run(&args.listen, &options, args.duration, stop, &mut stdout).await {
            Ok(report) => {
                print(&report.render());
                ExitCode::SUCCESS
            }
            Err(status) => fail("serve", &status),
        }
    })
}

/// Resolves `host` (a DNS name or an IP, IPv6 in brackets or not) with
/// `port`, within the probe's timeout.
fn probe_address(
    runtime: &tokio::runtime::Runtime,
    host: &str,
    port: u16,
    timeout: Duration,
) -> Result<std::net::SocketAddr, Status> {
    let host = Host::parse(host)
        .map_err(|problem| Status::INVALID_PARAMETER.with_message(format!("bad server {host:?}: {problem}")))?;
    let text = host.to_string();
    runtime.block_on(async {
        let found = tokio::time::timeout(timeout, tokio::net::lookup_host((text.trim_matches(['[', ']']), port)))
            .await
            .map_err(|_| Status::IO_TIMEOUT.with_message(format!("resolving {text} took too long")))?
            .map_err(|e| Status::from_io(e, format!("resolving {text}")))?;
        let mut found: Vec<_> = found.collect();
        found.sort_by_key(|a| !a.is_ipv4());
        found
            .into_iter()
            .next()
            .ok_or_else(|| Status::BAD_NETWORK_PATH.with_message(format!("{text} has no address")))
    })
}

/// Splits `HOST[:PORT]` (`[V6]:PORT`, or a bare IPv6 address).
fn host_port(text: &str, default: u16) -> Result<(String, u16), String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        match rest.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, port)) => (host, Some(port.strip_prefix(':').ok_or("bad port")?)),
            None => return Err(format!("bad server {text:?}: no closing bracket")),
        }
    } else if text.matches(':').count() == 1 {
        let (host, port) = text.split_once(':').expect("one colon");
        (host, Some(port))
    } else {
        (text, None)
    };
    let port = match port {
        Some(p) => p.parse::<u16>().map_err(|_| format!("bad port in {text:?}"))?,
        None => default,
    };
    Ok((host.to_owned(), port))
}

fn probe(runtime: &tokio::runtime::Runtime, args: ProbeArgs) -> ExitCode {
    let timeout = Duration::from_millis(args.timeout);
    let (protocol, server) = match &args.target[..] {
        [server] => ("smb", server.as_str()),
        [protocol, server] => (protocol.as_str(), server.as_str()),
        _ => usage_error("probe", "give [smb|nfs|9p] SERVER".into()),
    };
    match protocol.to_ascii_lowercase().as_str() {
        "smb" => {}
        "nfs" => {
            let address = match probe_address(runtime, server, args.rpcbind_port, timeout) {
                Ok(address) => address,
                Err(status) => return fail("probe", &status),
            };
            let options = rxce_cli::probe::files::NfsOptions {
                rpcbind: address,
                timeout,
            };
            let spinner = rxce_cli::spinner::Spinner::start(format!("probing nfs at {address}"));
            let probed = runtime.block_on(rxce_cli::probe::files::probe_nfs(&options));
            spinner.finish();
            let probe = match probed {
                Ok(probe) => probe,
                Err(status) => return fail("probe", &status),
            };
            if args.json {
                print(&rxce_cli::probe::files::json_nfs(&probe));
            } else {
                print(&rxce_cli::probe::files::render_nfs(&probe));
            }
            return if probe.found_nfs() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        "9p" => {
            let (host, port) = match host_port(server, rxce::wire::ninep::PORT) {
                Ok(hp) => hp,
                Err(message) => usage_error("probe", message),
            };
            let address = match probe_address(runtime, &host, port, timeout) {
                Ok(address) => address,
                Err(status) => return fail("probe", &status),
            };
            let options = rxce_cli::probe::files::NinePOptions {
                server: address,
                msize: args.msize,
                attach: args.attach.clone(),
                uname: args.uname.clone(),
                timeout,
            };
            let spinner = rxce_cli::spinner::Spinner::start(format!("probing 9p at {address}"));
            let probed = runtime.block_on(rxce_cli::probe::files::probe_9p(&options));
            spinner.finish();
            let probe = match probed {
                Ok(probe) => probe,
                Err(status) => return fail("probe", &status),
            };
            if args.json {
                print(&rxce_cli::probe::files::json_9p(&probe));
            } else {
                print(&rxce_cli::probe::files::render_9p(&probe));
            }
            let attached = probe.attach.is_none() || probe.attach_result.as_deref() == Some("SUCCESS");
            return if probe.version.is_some() && attached {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            };
        }
        other => usage_error("probe", format!("unknown protocol {other:?}: smb, nfs or 9p")),
    }
    let server = match parse_server(server) {
        Ok(server) => server,
        Err(message) => usage_error("probe", message),
    };
    let options = rxce_cli::probe::ProbeOptions {
        server,
        direct_port: args.direct_port,
        netbt_port: args.netbt_port,
        called_name: args.called_name,
        timeout: Duration::from_millis(args.timeout),
        quic_port: args.quic_port,
        quic_options: args.quic_options,
    };
    let what = if options.quic_port.is_some() {
        "tcp, netbt, quic"
    } else {
        "tcp, netbt"
    };
    let spinner = rxce_cli::spinner::Spinner::start(format!("probing {} ({what})", options.server));
    let probed = runtime.block_on(rxce_cli::probe::run(&options));
    spinner.finish();
    let probe = match probed {
        Ok(probe) => probe,
        Err(status) => return fail("probe", &status),
    };
    if args.json {
        print(&rxce_cli::probe::json(&probe));
    } else {
        print(&rxce_cli::probe::render(&probe));
    }
    if probe.winner().is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
