//! Reads a file from a 9P2000.L server through `tcp+9p`:
//!
//! ```text
//! cargo run -p rxce --example ninep_read -- 127.0.0.1:5640 /srv/export dir/file
//! ```
//!
//! Tversion, Tattach to the export, Twalk to the file, Tlopen read-only,
//! then Tread in a loop until a read comes back empty, and Tclunk. Each
//! Rread's data goes straight into the caller's buffer: the receive handler
//! takes the 7-byte `type[1] tag[2] count[4]` and answers
//! MORE_PROCESSING_REQUIRED with the buffer the caller set up for that
//! read, so the data is copied once, from the socket or the lookahead,
//! whatever the lookahead's size. Prints the length and an FNV-1a 64
//! checksum of the file.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use rxce::wire::ninep::{self, msg};
use rxce::{
    ConnectionEventHandler, ConnectionInformation, DisconnectFlags, Engine, EngineConfig, Indication, ReceiveAnswer,
    ReceiveBuffer, ReceiveFlags, SendOptions, Status, TransportAddress, Vc,
};
use tokio::sync::mpsc;

/// What the handler hands the caller.
#[derive(Debug)]
enum Reply {
    /// A whole message other than Rread (from `type[1]`).
    Message(Vec<u8>),
    /// An Rread's data, in the caller's buffer.
    Read(Result<Vec<u8>, Status>),
    /// The VC is gone.
    Closed(Status),
}

/// The receive handler: Rread data into the caller's buffer, other
/// replies whole.
struct Client {
    /// The buffer for the next Rread (set by the caller before its Tread).
    read_buffer: Mutex<Option<Vec<u8>>>,
    replies: mpsc::UnboundedSender<Reply>,
}

/// `type[1] tag[2] count[4]` of an Rread.
const RREAD_HEADER: usize = 7;

impl ConnectionEventHandler for Client {
    fn receive(&self, _vc: &Vc, indication: &Indication<'_>) -> ReceiveAnswer {
        let data = indication.data;
        let entire = indication.flags.contains(ReceiveFlags::ENTIRE_MESSAGE);
        if data.len() < RREAD_HEADER && !entire {
            // Too little to know what it is: wait for more of it.
            return ReceiveAnswer::Taken(0);
        }
        if data.first() == Some(&msg::RREAD) && data.len() >= RREAD_HEADER {
            let count = u32::from_le_bytes([data[3], data[4], data[5], data[6]]) as usize;
            let mut buffer = self.read_buffer.lock().unwrap().take().unwrap_or_default();
            if count > buffer.len() || count != indication.available - RREAD_HEADER {
                let _ = self.replies.send(Reply::Read(Err(Status::INVALID_NETWORK_RESPONSE
                    .with_message(format!("an Rread of {count} bytes does not fit the read asked for")))));
                return ReceiveAnswer::take_all(indication);
            }
            buffer.truncate(count);
            return ReceiveAnswer::MoreProcessingRequired {
                taken: RREAD_HEADER,
                buffer: Box::new(buffer),
                size: count,
            };
        }
        let _ = self.replies.send(Reply::Message(data.to_vec()));
        ReceiveAnswer::take_all(indication)
    }

    fn data_ready(&self, _vc: &Vc, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        let any: Box<dyn std::any::Any> = buffer;
        let reply = match any.downcast::<Vec<u8>>() {
            Ok(mut bytes) if status.is_success() => {
                bytes.truncate(copied);
                Ok(*bytes)
            }
            _ => Err(status),
        };
        let _ = self.replies.send(Reply::Read(reply));
    }

    fn disconnect(&self, _vc: &Vc, _flags: DisconnectFlags, status: Status) {
        let _ = self.replies.send(Reply::Closed(status));
    }
}

fn protocol(what: impl std::fmt::Display) -> Status {
    Status::INVALID_NETWORK_RESPONSE.with_message(what.to_string())
}

/// One 9P session of the example.
struct Session {
    vc: Vc,
    client: Arc<Client>,
    replies: mpsc::UnboundedReceiver<Reply>,
}

impl Session {
    async fn next(&mut self) -> Result<Reply, Status> {
        match self.replies.recv().await {
            Some(Reply::Closed(status)) | Some(Reply::Read(Err(status))) => Err(status),
            Some(reply) => Ok(reply),
            None => Err(Status::CONNECTION_DISCONNECTED.with_message("the handler is gone")),
        }
    }

    /// Sends `request` and returns the reply of type `want` (from `type[1]`).
    async fn rpc(&mut self, request: Vec<u8>, want: u8) -> Result<Vec<u8>, Status> {
        let asked = request[0];
        self.vc.send(request, SendOptions::empty()).await?;
        match self.next().await? {
            Reply::Message(message) => match ninep::expect_reply(&message, want).map_err(protocol)? {
                Ok(_) => Ok(message),
                Err(error) => Err(Status::REQUEST_NOT_ACCEPTED.with_message(format!("T{asked}: {error}"))),
            },
            other => Err(protocol(format!("unexpected {other:?}"))),
        }
    }
}

/// Reads `path` (names from the export's root) from the 9P server at
/// `server`, attached to `aname`.
pub async fn read_file(engine: &Engine, server: SocketAddr, aname: &str, path: &[&str]) -> Result<Vec<u8>, Status> {
    let transport = engine.build_transport("tcp+9p", 0)?;
    let address = transport.build_address(TransportAddress::any_ipv4(), Arc::new(rxce::NoEvents))?;
    let (replies_tx, replies) = mpsc::unbounded_channel();
    let client = Arc::new(Client {
        read_buffer: Mutex::new(None),
        replies: replies_tx,
    });
    let (_connection, vc) = address
        .build_connection(ConnectionInformation::to(server), client.clone())
        .await?;
    let mut s = Session { vc, client, replies };
    let result = async {
        let rversion = s.rpc(ninep::tversion(1 << 20, "9P2000.L"), msg::RVERSION).await?;
        let mut r = ninep::Reader::new(&rversion[3..]);
        let msize = r.u32().map_err(protocol)?;
        let version = r.str().map_err(protocol)?;
        if version != "9P2000.L" {
            return Err(Status::NOT_SUPPORTED.with_message(format!("the server speaks {version:?}, not 9P2000.L")));
        }
        s.rpc(ninep::tattach(1, 0, "root", aname, 0), msg::RATTACH).await?;
        let rwalk = s.rpc(ninep::twalk(2, 0, 1, path), msg::RWALK).await?;
        let walked = u16::from_le_bytes([rwalk[3], rwalk[4]]);
        if usize::from(walked) != path.len() {
            return Err(Status::BAD_NETWORK_PATH.with_message(format!("walked {walked} of {} names", path.len())));
        }
        let rlopen = s.rpc(ninep::tlopen(3, 1, 0), msg::RLOPEN).await?;
        let mut r = ninep::Reader::new(&rlopen[3..]);
        r.qid().map_err(protocol)?;
        let iounit = r.u32().map_err(protocol)?;
        // What one Tread may ask for: msize less the I/O header allowance
        // of 24 bytes (P9_IOHDRSZ; diod answers EIO to more).
        let mut count = msize.saturating_sub(24).max(1);
        if iounit != 0 {
            count = count.min(iounit);
        }
        let mut file = Vec::new();
        loop {
            *s.client.read_buffer.lock().unwrap() = Some(vec![0u8; count as usize]);
            s.vc.send(ninep::tread(4, 1, file.len() as u64, count), SendOptions::empty())
                .await?;
            let data = match s.next().await? {
                Reply::Read(Ok(data)) => data,
                Reply::Message(message) => {
                    let error = ninep::expect_reply(&message, msg::RREAD).map_err(protocol)?;
                    return Err(match error {
                        Err(error) => Status::REQUEST_NOT_ACCEPTED.with_message(format!("Tread: {error}")),
                        Ok(_) => protocol("an Rread that was not read into the buffer"),
                    });
                }
                other => return Err(protocol(format!("unexpected {other:?}"))),
            };
            if data.is_empty() {
                break;
            }
            file.extend_from_slice(&data);
        }
        s.rpc(ninep::tclunk(5, 1), msg::RCLUNK).await?;
        Ok(file)
    }
    .await;
    transport.tear_down().await?;
    result
}

/// FNV-1a, 64 bits.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[allow(dead_code)] // the tests include this file for `read_file`
fn main() -> Result<(), Status> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, aname, path] = &args[..] else {
        eprintln!("usage: ninep_read HOST:PORT EXPORT PATH");
        std::process::exit(2);
    };
    let server: SocketAddr = server
        .parse()
        .map_err(|e| Status::INVALID_PARAMETER.with_message(format!("{server}: {e}")))?;
    let names: Vec<&str> = path.split('/').filter(|n| !n.is_empty()).collect();
    let engine = Engine::new(EngineConfig::default())?;
    let file = engine
        .runtime()
        .clone()
        .block_on(read_file(&engine, server, aname, &names))?;
    println!("{} bytes, fnv1a64 {:016x}", file.len(), fnv1a(&file));
    Ok(())
}
