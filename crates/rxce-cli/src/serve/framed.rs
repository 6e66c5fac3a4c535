//! Framed peers: `tcp+smb` (direct-hosted framing), `netbt` once its
//! session is up, `tcp+rpc` (ONC RPC record marking) and `tcp+9p`. Echo sends every message back as one message (its frame
//! header, then its body as it arrives: nothing is held whole in memory);
//! sink discards messages; source sends 64 KiB messages until the client
//! closes. On `netbt` a keepalive goes out whenever nothing was sent for the
//! keepalive interval (never inside an echoed message).

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rxce::wire::framing::{keepalive_frame, Deframer, Framing, Piece};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::stats::Counters;
use super::stream::{pattern, CHUNK};
use super::Mode;

/// The payload size of each message source mode sends.
pub const SOURCE_MESSAGE_SIZE: usize = 64 * 1024;

fn protocol_error(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Serves one framed connection in `mode`. `received` holds bytes already
/// read after the session setup; `keepalive` is the idle interval after
/// which a keepalive frame goes out (framings with keepalives only).
pub(crate) async fn serve<R, W>(
    framing: Framing,
    mode: Mode,
    mut r: R,
    mut w: W,
    received: BytesMut,
    keepalive: Option<Duration>,
    counters: &Counters,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let keepalive = keepalive.filter(|_| framing.has_keepalive());
    match mode {
        Mode::Echo | Mode::Sink => {
            let echo = mode == Mode::Echo;
            receive(framing, &mut r, Some(&mut w), echo, received, keepalive, counters).await
        }
        Mode::Source => {
            let message = source_message(framing)?;
            tokio::select! {
                drained = receive(framing, &mut r, None::<&mut W>, false, received, None, counters) => drained,
                poured = pour(&mut w, &message, counters) => poured,
            }
        }
    }
}

/// Reads messages until the client's end; echoes them when `echo`, sends
/// keepalives on idle when `keepalive` and a writer are given.
async fn receive<R, W>(
    framing: Framing,
    r: &mut R,
    mut w: Option<&mut W>,
    echo: bool,
    mut buf: BytesMut,
    keepalive: Option<Duration>,
    counters: &Counters,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut deframer = Deframer::new(framing);
    let mut next_keepalive = keepalive.map(|d| Instant::now() + d);
    loop {
        while let Some((piece, used)) = deframer.next(&buf).map_err(|e| protocol_error(e.to_string()))? {
            let out = w.as_deref_mut().filter(|_| echo);
            match (piece, out) {
                (Piece::Start(_) | Piece::Fragment(_), Some(out)) => {
                    // The header goes back as it came (an RPC record keeps
                    // its fragments).
                    out.write_all(&buf[..used]).await?;
                }
                (Piece::Payload(n), out) => {
                    counters.received(n);
                    if let Some(out) = out {
                        out.write_all(&buf[..n]).await?;
                        counters.sent(n);
                    }
                }
                (Piece::End, out) => {
                    counters.message_received();
                    if out.is_some() {
                        counters.message_sent();
                        next_keepalive = keepalive.map(|d| Instant::now() + d);
                    }
                }
                (Piece::Start(_) | Piece::Fragment(_), None) | (Piece::Keepalive, _) => {}
            }
            buf.advance(used);
        }
        if buf.capacity() - buf.len() < CHUNK / 4 {
            buf.reserve(CHUNK);
        }
        // A keepalive never goes inside a message being echoed.
        let idle_at = next_keepalive.filter(|_| w.is_some() && !(echo && deframer.mid_message()));
        tokio::select! {
            read = r.read_buf(&mut buf) => {
                if read? == 0 {
                    if deframer.mid_message() {
                        return Err(protocol_error("the client closed inside a message".into()));
                    }
                    if let Some(w) = w {
                        w.shutdown().await?;
                    }
                    return Ok(());
                }
            }
            () = sleep_until_some(idle_at) => {
                if let Some(w) = w.as_deref_mut() {
                    w.write_all(&keepalive_frame()).await?;
                    counters.keepalive_sent();
                }
                next_keepalive = keepalive.map(|d| Instant::now() + d);
            }
        }
    }
}

/// Sleeps until `at`, or forever without one.
async fn sleep_until_some(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// One source message: its frame header and a 64 KiB body.
fn source_message(framing: Framing) -> io::Result<Vec<u8>> {
    let header = framing
        .encode_message_header(SOURCE_MESSAGE_SIZE)
        .map_err(|e| protocol_error(e.to_string()))?;
    let mut message = header.to_vec();
    message.extend_from_slice(&pattern(SOURCE_MESSAGE_SIZE));
    Ok(message)
}

/// Sends `message` over and over until a write fails.
async fn pour<W: AsyncWrite + Unpin>(w: &mut W, message: &[u8], counters: &Counters) -> io::Result<()> {
    let body = message.len() - rxce::wire::framing::HEADER_LEN;
    loop {
        w.write_all(message).await?;
        counters.sent(body);
        counters.message_sent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_preserves_messages() {
        let (client, server) = tokio::io::duplex(64);
        let counters = Counters::default();
        let (r, w) = tokio::io::split(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let peer = serve(Framing::DirectTcp, Mode::Echo, r, w, BytesMut::new(), None, &counters);
        let talk = async {
            let sent = [0, 0, 0, 2, 7, 8, 0, 0, 0, 0, 0, 0, 0, 1, 9];
            cw.write_all(&sent).await.unwrap();
            cw.shutdown().await.unwrap();
            let mut back = Vec::new();
            cr.read_to_end(&mut back).await.unwrap();
            assert_eq!(back, sent);
        };
        let (served, ()) = tokio::join!(peer, talk);
        served.unwrap();
        let s = counters.snapshot();
        assert_eq!(
            (s.bytes_received, s.bytes_sent, s.messages_received, s.messages_sent),
            (3, 3, 3, 3)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn idle_netbios_sessions_get_keepalives() {
        let (client, server) = tokio::io::duplex(64);
        let counters = Counters::default();
        let (r, w) = tokio::io::split(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let interval = Duration::from_secs(60);
        let peer = serve(
            Framing::NetbiosSession,
            Mode::Sink,
            r,
            w,
            BytesMut::new(),
            Some(interval),
            &counters,
        );
        let talk = async {
            let mut frame = [0u8; 4];
            cr.read_exact(&mut frame).await.unwrap();
            assert_eq!(frame, keepalive_frame());
            cr.read_exact(&mut frame).await.unwrap();
            assert_eq!(frame, keepalive_frame());
            cw.shutdown().await.unwrap();
        };
        let (served, ()) = tokio::join!(peer, talk);
        served.unwrap();
        assert_eq!(counters.snapshot().keepalives_sent, 2);
    }
}
