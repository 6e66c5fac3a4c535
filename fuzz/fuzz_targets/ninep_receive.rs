//! The receive machine on 9P framing (`tcp+9p`): `size[4]` stripped, sizes below 7 and above the limit refused. See `rxce_fuzz::framed_receive` for the
//! input and the properties checked.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rxce_wire::framing::Framing;

fuzz_target!(|data: &[u8]| rxce_fuzz::framed_receive::run(Framing::NineP, data));
