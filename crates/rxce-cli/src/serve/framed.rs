//! Framed peers: `tcp+smb` (direct-hosted framing) and `netbt` once its
//! session is up. Echo sends every message back as one message (its frame
//! header, then its body as it arrives: nothing is held whole in memory);
//! sink discards messages; source sends 64 KiB messages until the client
//! closes. On `netbt` a keepalive goes out whenever nothing was sent for the
//! keepalive interval (never inside an echoed message).

use std::io;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use rxce::wire::{keepalive_frame, FrameHeader, Framing};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::stats::Counters;
use super::stream::{pattern, CHUNK};
use super::Mode;

/// The payload size of each message source mode sends.
pub const SOURCE_MESSAGE_SIZE: usize = 64 * 1024;

/// Where the deframer is in the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Header,
    Body { remaining: usize },
    End,
}

/// One step of the incoming byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    /// A message of this many bytes starts.
    Start(usize),
    /// The next this-many bytes of the buffer are message body.
    Payload(usize),
    /// The message is complete.
    End,
    /// A session keepalive (nothing to do).
    Keepalive,
}

/// Cuts a received byte stream into frame pieces, without I/O.
#[derive(Debug)]
pub(crate) struct Deframer {
    framing: Framing,
    state: State,
}

fn protocol_error(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

impl Deframer {
    pub(crate) fn new(framing: Framing) -> Deframer {
        Deframer {
            framing,
            state: State::Header,
        }
    }

    /// True between a message's header and its end.
    pub(crate) fn mid_message(&self) -> bool {
        self.state != State::Header
    }

    /// The next piece at the front of `buf` and how many bytes of it the
    /// piece uses; `None` when more bytes are needed. A frame that breaks
    /// the framing is an `InvalidData` error.
    pub(crate) fn next(&mut self, buf: &[u8]) -> io::Result<Option<(Piece, usize)>> {
        match self.state {
            State::Header => {
                let Some(header) = buf.first_chunk::<{ rxce::wire::framing::HEADER_LEN }>() else {
                    return Ok(None);
                };
                match self.framing.decode_header(*header) {
                    Ok(FrameHeader::Message { len }) => {
                        self.state = if len == 0 {
                            State::End
                        } else {
                            State::Body { remaining: len }
                        };
                        Ok(Some((Piece::Start(len), header.len())))
                    }
                    Ok(FrameHeader::Keepalive) => Ok(Some((Piece::Keepalive, header.len()))),
                    Ok(FrameHeader::Control { packet_type, .. }) => Err(protocol_error(format!(
                        "session packet of type 0x{packet_type:02X} inside an established session"
                    ))),
                    Err(e) => Err(protocol_error(format!("bad frame header {header:02X?}: {e}"))),
                }
            }
            State::Body { remaining } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = remaining.min(buf.len());
                self.state = if n == remaining {
                    State::End
                } else {
                    State::Body {
                        remaining: remaining - n,
                    }
                };
                Ok(Some((Piece::Payload(n), n)))
            }
            State::End => {
                self.state = State::Header;
                Ok(Some((Piece::End, 0)))
            }
        }
    }
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
        while let Some((piece, used)) = deframer.next(&buf)? {
            let out = w.as_deref_mut().filter(|_| echo);
            match (piece, out) {
                (Piece::Start(len), Some(out)) => {
                    let header = framing
                        .encode_message_header(len)
                        .map_err(|e| protocol_error(e.to_string()))?;
                    out.write_all(&header).await?;
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
                (Piece::Start(_), None) | (Piece::Keepalive, _) => {}
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

    fn pieces(framing: Framing, mut bytes: &[u8]) -> io::Result<Vec<Piece>> {
        let mut d = Deframer::new(framing);
        let mut out = Vec::new();
        while let Some((piece, used)) = d.next(bytes)? {
            out.push(piece);
            bytes = &bytes[used..];
        }
        Ok(out)
    }

    #[test]
    fn deframer_cuts_messages_and_skips_keepalives() {
        let nb = Framing::NetbiosSession;
        let bytes = [0, 0, 0, 3, b'a', b'b', b'c', 0x85, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            pieces(nb, &bytes).unwrap(),
            [
                Piece::Start(3),
                Piece::Payload(3),
                Piece::End,
                Piece::Keepalive,
                Piece::Start(0),
                Piece::End,
                Piece::Start(1)
            ]
        );
    }

    #[test]
    fn deframer_rejects_control_packets_and_bad_headers() {
        let err = pieces(Framing::NetbiosSession, &[0x81, 0, 0, 0x44]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert!(err.to_string().contains("0x81"), "{err}");
        let err = pieces(Framing::DirectTcp, &[0x85, 0, 0, 0]).unwrap_err();
        assert!(err.to_string().contains("does not start with zero"), "{err}");
    }

    #[test]
    fn deframer_takes_a_body_in_parts() {
        let mut d = Deframer::new(Framing::DirectTcp);
        assert_eq!(d.next(&[0, 0]).unwrap(), None);
        assert_eq!(d.next(&[0, 0, 0, 5]).unwrap(), Some((Piece::Start(5), 4)));
        assert!(d.mid_message());
        assert_eq!(d.next(&[1, 2]).unwrap(), Some((Piece::Payload(2), 2)));
        assert_eq!(d.next(&[]).unwrap(), None);
        assert_eq!(d.next(&[3, 4, 5, 9]).unwrap(), Some((Piece::Payload(3), 3)));
        assert_eq!(d.next(&[9]).unwrap(), Some((Piece::End, 0)));
        assert!(!d.mid_message());
    }

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
