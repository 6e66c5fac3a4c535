//! The receive machine on ONC RPC record marking (`tcp+rpc`): fragments joined in the lookahead, records over the limit, empty-fragment floods, records cut by the end. See `rxce_fuzz::framed_receive` for the
//! input and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_wire::framing::Framing;

fuzz_target!(|data: &[u8]| rxce_fuzz::framed_receive::run(Framing::RpcRecord, data));
