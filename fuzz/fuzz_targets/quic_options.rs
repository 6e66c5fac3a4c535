//! The `quic` transport's connection options (`rxce::provider::quic::
//! options::QuicOptions::parse`): what a C caller puts in the connection
//! information's Options, and what a `quic://` URL's query becomes.
//!
//! Properties, on every input:
//! - parsing never panics; a refusal is STATUS_INVALID_PARAMETER naming
//!   the problem;
//! - whatever parses encodes to text that parses to the same options.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce::provider::quic::options::QuicOptions;
use rxce::Status;

fuzz_target!(|data: &[u8]| {
    match QuicOptions::parse(data) {
        Ok(options) => {
            let encoded = options.encode();
            assert_eq!(QuicOptions::parse(encoded.as_bytes()).as_ref(), Ok(&options), "{encoded:?}");
        }
        Err(status) => {
            assert_eq!(status, Status::INVALID_PARAMETER);
            assert!(status.to_string().contains("quic options"), "{status}");
        }
    }
});
