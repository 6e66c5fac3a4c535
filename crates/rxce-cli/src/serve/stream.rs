//! Byte-stream peers (`tcp`, `unix`, `memory`): echo, sink and source on
//! a connection's read and write halves.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::stats::Counters;
use super::Mode;

/// Bytes read per call.
pub(crate) const CHUNK: usize = 64 * 1024;
/// Length of the pattern's cycle.
const CYCLE: usize = 251;
/// Bytes written per call in source mode: whole cycles of the pattern, so
/// the stream is one unbroken `0, 1, ..., 250, 0, ...` sequence.
const SOURCE_WRITE: usize = CYCLE * (CHUNK / CYCLE);

/// Serves one connection in `mode` until the client's end (echo and sink
/// then end ours) or, for source, until the client closes or stops reading.
pub async fn serve<R, W>(mode: Mode, mut r: R, mut w: W, counters: &Counters) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; CHUNK];
    match mode {
        Mode::Echo => loop {
            let n = r.read(&mut buf).await?;
            if n == 0 {
                return w.shutdown().await;
            }
            counters.received(n);
            w.write_all(&buf[..n]).await?;
            counters.sent(n);
        },
        Mode::Sink => {
            drain(&mut r, &mut buf, counters).await?;
            w.shutdown().await
        }
        Mode::Source => {
            let data = pattern(SOURCE_WRITE);
            // The client's end stops the flow; a write error means it is gone.
            tokio::select! {
                drained = drain(&mut r, &mut buf, counters) => drained,
                poured = pour(&mut w, &data, counters) => poured,
            }
        }
    }
}

/// Reads and counts until the end of the client's data.
async fn drain<R: AsyncRead + Unpin>(r: &mut R, buf: &mut [u8], counters: &Counters) -> io::Result<()> {
    loop {
        let n = r.read(buf).await?;
        if n == 0 {
            return Ok(());
        }
        counters.received(n);
    }
}

/// Writes `data` over and over until a write fails.
async fn pour<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8], counters: &Counters) -> io::Result<()> {
    loop {
        w.write_all(data).await?;
        counters.sent(data.len());
    }
}

/// `len` bytes of a recognisable pattern (`0, 1, ..., 250, 0, 1, ...`).
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % CYCLE) as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn echo_sends_back_and_ends_after_the_client() {
        let (client, server) = tokio::io::duplex(1024);
        let counters = Counters::default();
        let (r, w) = tokio::io::split(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let peer = serve(Mode::Echo, r, w, &counters);
        let talk = async {
            cw.write_all(b"hello").await.unwrap();
            cw.shutdown().await.unwrap();
            let mut back = Vec::new();
            cr.read_to_end(&mut back).await.unwrap();
            back
        };
        let (served, back) = tokio::join!(peer, talk);
        served.unwrap();
        assert_eq!(back, b"hello");
        let s = counters.snapshot();
        assert_eq!((s.bytes_received, s.bytes_sent), (5, 5));
    }

    #[tokio::test]
    async fn sink_discards_and_source_stops_at_the_clients_end() {
        let (client, server) = tokio::io::duplex(1024);
        let counters = Counters::default();
        let (r, w) = tokio::io::split(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let talk = async {
            cw.write_all(&[1; 3000]).await.unwrap();
            cw.shutdown().await.unwrap();
            let mut back = Vec::new();
            cr.read_to_end(&mut back).await.unwrap();
            back
        };
        let (served, back) = tokio::join!(serve(Mode::Sink, r, w, &counters), talk);
        served.unwrap();
        assert!(back.is_empty());
        assert_eq!(counters.snapshot().bytes_received, 3000);

        let (client, server) = tokio::io::duplex(1024);
        let counters = Counters::default();
        let (r, w) = tokio::io::split(server);
        let (mut cr, mut cw) = tokio::io::split(client);
        let talk = async {
            let mut got = vec![0u8; 5000];
            cr.read_exact(&mut got).await.unwrap();
            cw.shutdown().await.unwrap();
            got
        };
        let (served, got) = tokio::join!(serve(Mode::Source, r, w, &counters), talk);
        served.unwrap();
        assert_eq!(got, pattern(5000));
    }
}
