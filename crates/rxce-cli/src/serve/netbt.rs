//! The NetBIOS session service side of a `netbt` peer: read the client's
//! session request and answer it, positively for a name the peer accepts
//! (any name when it was given none), negatively with 0x82 "called name
//! not present" otherwise, and with 0x8F "unspecified error" for a request
//! that does not parse.

use std::io;

use bytes::{Buf, BytesMut};
use rxce::wire::nbss::{encode_session_response, parse_session_request, NegativeCode, SessionResponse};
use rxce::wire::NetbiosName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::stats::Counters;

/// True when a session calling `called` is accepted: `accept` is empty
/// (any name) or lists it (letters compared without case).
pub(crate) fn accepts(accept: &[NetbiosName], called: &NetbiosName) -> bool {
    accept.is_empty()
        || accept
            .iter()
            .any(|name| name.as_bytes().eq_ignore_ascii_case(called.as_bytes()))
}

/// Reads a session request and answers it. Returns the bytes received
/// after the request when the session is up, `None` when it was refused
/// (the response is sent and our direction ended) or the client left first.
pub(crate) async fn accept_session<S>(
    stream: &mut S,
    accept: &[NetbiosName],
    counters: &Counters,
) -> io::Result<Option<BytesMut>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        let refusal = match parse_session_request(&buf) {
            Ok(Some((request, used))) => {
                buf.advance(used);
                if accepts(accept, &request.called) {
                    stream
                        .write_all(&encode_session_response(&SessionResponse::Positive))
                        .await?;
                    tracing::debug!(called = %request.called, calling = %request.calling, "session accepted");
                    return Ok(Some(buf));
                }
                tracing::debug!(called = %request.called, calling = %request.calling, "session refused");
                NegativeCode::CalledNameNotPresent
            }
            Ok(None) => {
                if stream.read_buf(&mut buf).await? == 0 {
                    return Ok(None);
                }
                continue;
            }
            Err(e) => {
                tracing::debug!("bad session request: {e}");
                NegativeCode::Unspecified
            }
        };
        counters.refused();
        stream
            .write_all(&encode_session_response(&SessionResponse::Negative(refusal)))
            .await?;
        stream.shutdown().await?;
        return Ok(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rxce::wire::encode_session_request;

    fn name(text: &str) -> NetbiosName {
        NetbiosName::parse(text).unwrap()
    }

    #[test]
    fn names_match_without_case_and_an_empty_list_takes_any() {
        assert!(accepts(&[], &name("ANY")));
        assert!(accepts(
            &[name("files")],
            &NetbiosName::from_bytes(*b"files          \x20")
        ));
        assert!(!accepts(&[name("FILES")], &name("OTHER")));
        assert!(!accepts(&[name("FILES")], &name("FILES<00>")));
    }

    async fn answer(accept: &[NetbiosName], request: &[u8]) -> (Option<BytesMut>, Vec<u8>, u64) {
        let (mut client, mut server) = tokio::io::duplex(1024);
        client.write_all(request).await.unwrap();
        let counters = Counters::default();
        let outcome = accept_session(&mut server, accept, &counters).await.unwrap();
        drop(server);
        let mut response = Vec::new();
        client.read_to_end(&mut response).await.unwrap();
        (outcome, response, counters.snapshot().refused)
    }

    #[tokio::test]
    async fn accepted_names_get_a_positive_response_and_keep_what_follows() {
        let mut request = encode_session_request(&name("FILES"), &name("PC<00>"), None).unwrap();
        request.extend_from_slice(&[0, 0, 0, 1, 42]);
        let (rest, response, refused) = answer(&[name("FILES")], &request).await;
        assert_eq!(rest.as_deref(), Some(&[0, 0, 0, 1, 42][..]));
        assert_eq!(response, [0x82, 0, 0, 0]);
        assert_eq!(refused, 0);
    }

    #[tokio::test]
    async fn other_names_get_0x82_and_garbage_gets_0x8f() {
        let request = encode_session_request(&name("OTHER"), &name("PC<00>"), None).unwrap();
        let (rest, response, refused) = answer(&[name("FILES")], &request).await;
        assert!(rest.is_none());
        assert_eq!(response, [0x83, 0, 0, 1, 0x82]);
        assert_eq!(refused, 1);

        let (rest, response, refused) = answer(&[], &[0x85, 0, 0, 0]).await;
        assert!(rest.is_none());
        assert_eq!(response, [0x83, 0, 0, 1, 0x8F]);
        assert_eq!(refused, 1);
    }
}
