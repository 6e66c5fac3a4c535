//! The receive indication machine, byte by byte.

use std::collections::VecDeque;

use proptest::prelude::*;

use super::*;
use crate::budget::Budget;
use crate::buffer::BufferChain;

/// The sink-driven calls the tests make: each input, then every step until
/// the machine waits.
trait Driven {
    fn on_read(&mut self, n: usize, sink: &mut dyn IndicationSink) -> Progress;
    fn on_end(&mut self, sink: &mut dyn IndicationSink) -> Progress;
    fn resume(&mut self, sink: &mut dyn IndicationSink) -> Progress;
    fn fail(&mut self, status: Status, sink: &mut dyn IndicationSink);
}

impl Driven for ReceiveMachine {
    fn on_read(&mut self, n: usize, sink: &mut dyn IndicationSink) -> Progress {
        self.handle_read(n);
        self.drive(sink)
    }

    fn on_end(&mut self, sink: &mut dyn IndicationSink) -> Progress {
        self.handle_end();
        self.drive(sink)
    }

    fn resume(&mut self, sink: &mut dyn IndicationSink) -> Progress {
        self.handle_resume();
        self.drive(sink)
    }

    fn fail(&mut self, status: Status, sink: &mut dyn IndicationSink) {
        self.handle_failure(status);
        self.drive(sink);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Indicated {
        data: Vec<u8>,
        available: usize,
        flags: ReceiveFlags,
    },
    DataReady {
        bytes: Vec<u8>,
        copied: usize,
        status: Status,
    },
    Error(Status),
}

type Answer = Box<dyn FnMut(&Indication<'_>) -> ReceiveAnswer>;

/// A sink that answers from a script (then takes everything) and logs.
#[derive(Default)]
struct Script {
    answers: VecDeque<Answer>,
    log: Vec<Event>,
}

impl Script {
    fn answering(answers: Vec<Answer>) -> Script {
        Script {
            answers: answers.into(),
            ..Script::default()
        }
    }

    fn indications(&self) -> Vec<Vec<u8>> {
        self.log
            .iter()
            .filter_map(|e| match e {
                Event::Indicated { data, .. } => Some(data.clone()),
                _ => None,
            })
            .collect()
    }
}

fn buffer_bytes(buffer: Box<dyn ReceiveBuffer>, copied: usize) -> Vec<u8> {
    let any: Box<dyn std::any::Any + Send> = buffer;
    match any.downcast::<Vec<u8>>() {
        Ok(v) => v[..copied].to_vec(),
        Err(any) => match any.downcast::<BufferChain>() {
            Ok(chain) => chain.prefix(copied),
            Err(_) => panic!("unknown buffer type"),
        },
    }
}

impl IndicationSink for Script {
    fn receive(&mut self, indication: &Indication<'_>) -> ReceiveAnswer {
        self.log.push(Event::Indicated {
            data: indication.data.to_vec(),
            available: indication.available,
            flags: indication.flags,
        });
        match self.answers.pop_front() {
            Some(mut answer) => answer(indication),
            None => ReceiveAnswer::take_all(indication),
        }
    }

    fn data_ready(&mut self, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        self.log.push(Event::DataReady {
            bytes: buffer_bytes(buffer, copied),
            copied,
            status,
        });
    }

    fn error(&mut self, status: Status) {
        self.log.push(Event::Error(status));
    }
}

fn machine(lookahead: usize, framing: Option<Framing>) -> ReceiveMachine {
    let pool = Arc::new(BufferPool::new(lookahead, 4, Budget::new(usize::MAX)));
    ReceiveMachine::new(pool, framing, 1 << 20)
}

/// Feeds `bytes` as socket reads of at most `chunk` bytes; returns the last
/// progress (or the progress that stopped the reads).
fn feed(m: &mut ReceiveMachine, sink: &mut Script, bytes: &[u8], chunk: usize) -> Progress {
    let mut at = 0;
    let mut progress = Progress::NeedBytes;
    while at < bytes.len() {
        let Some(target) = m.read_target().unwrap() else {
            return progress;
        };
        let n = target.len().min(chunk).min(bytes.len() - at);
        target[..n].copy_from_slice(&bytes[at..at + n]);
        at += n;
        progress = m.on_read(n, sink);
    }
    progress
}

fn taken(n: usize) -> Answer {
    Box::new(move |_| ReceiveAnswer::Taken(n))
}

fn more(taken: usize, buffer: Box<dyn ReceiveBuffer>, size: usize) -> Answer {
    let mut buffer = Some(buffer);
    Box::new(move |_| ReceiveAnswer::MoreProcessingRequired {
        taken,
        buffer: buffer.take().expect("answered once"),
        size,
    })
}

fn not_accepted() -> Answer {
    Box::new(|_| ReceiveAnswer::NotAccepted)
}

fn nbss(payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut v = vec![0, (len >> 16) as u8, (len >> 8) as u8, len as u8];
    v.extend_from_slice(payload);
    v
}

#[test]
fn a_stream_indicates_what_arrived_and_takes_it() {
    let mut m = machine(64, None);
    let mut sink = Script::default();
    assert_eq!(feed(&mut m, &mut sink, b"hello", 64), Progress::NeedBytes);
    assert_eq!(
        sink.log,
        vec![Event::Indicated {
            data: b"hello".to_vec(),
            available: 5,
            flags: ReceiveFlags::NORMAL,
        }]
    );
    assert_eq!(
        m.stats(),
        ReceiveStats {
            tsdus: 1,
            bytes: 5,
            errors: 0
        }
    );
    m.release_idle_buffer();
    assert!(m.lookahead.is_none(), "an idle VC holds no buffer");
}

#[test]
fn bytes_not_taken_are_indicated_again_first() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![taken(2), taken(1)]);
    feed(&mut m, &mut sink, b"hello", 64);
    assert_eq!(
        sink.indications(),
        vec![b"hello".to_vec(), b"llo".to_vec(), b"lo".to_vec()]
    );
}

#[test]
fn taking_nothing_waits_for_more_bytes() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![taken(0)]);
    assert_eq!(feed(&mut m, &mut sink, b"hel", 64), Progress::NeedBytes);
    assert_eq!(sink.indications(), vec![b"hel".to_vec()]);
    assert!(m.wants_bytes());
    feed(&mut m, &mut sink, b"lo", 64);
    assert_eq!(sink.indications(), vec![b"hel".to_vec(), b"hello".to_vec()]);
}

#[test]
fn taking_more_than_indicated_takes_what_was_indicated() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![taken(99)]);
    feed(&mut m, &mut sink, b"abc", 64);
    feed(&mut m, &mut sink, b"d", 64);
    assert_eq!(sink.indications(), vec![b"abc".to_vec(), b"d".to_vec()]);
}

#[test]
fn lookahead_boundaries_of_one_exact_and_oversize() {
    for (lookahead, input_len) in [(1, 5), (8, 8), (8, 20), (8, 0)] {
        let input: Vec<u8> = (0..input_len as u8).collect();
        let mut m = machine(lookahead, None);
        let mut sink = Script::default();
        feed(&mut m, &mut sink, &input, usize::MAX);
        let got = sink.indications();
        assert!(got.iter().all(|i| i.len() <= lookahead && !i.is_empty()));
        assert_eq!(got.concat(), input, "lookahead {lookahead}, {input_len} bytes");
    }
}

#[test]
fn a_full_lookahead_the_client_will_not_take_pauses_until_resume() {
    let mut m = machine(4, None);
    let mut sink = Script::answering(vec![taken(0)]);
    assert_eq!(feed(&mut m, &mut sink, b"abcdef", 64), Progress::Paused);
    assert!(!m.wants_bytes());
    assert_eq!(m.read_target().unwrap().map(|t| t.len()), None);
    assert_eq!(m.resume(&mut sink), Progress::NeedBytes);
    assert_eq!(
        sink.log[1],
        Event::Indicated {
            data: b"abcd".to_vec(),
            available: 4,
            flags: ReceiveFlags::NORMAL | ReceiveFlags::FORCE_INDICATION,
        }
    );
    feed(&mut m, &mut sink, b"ef", 64);
    assert_eq!(sink.indications().concat(), b"abcdabcdef");
}

#[test]
fn not_accepted_keeps_the_bytes_and_stops_reading_until_resume() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![not_accepted()]);
    assert_eq!(feed(&mut m, &mut sink, b"xyz", 64), Progress::Paused);
    assert!(!m.wants_bytes());
    assert!(m.read_target().unwrap().is_none());
    assert_eq!(m.resume(&mut sink), Progress::NeedBytes);
    assert_eq!(sink.indications(), vec![b"xyz".to_vec(), b"xyz".to_vec()]);
    // A second resume with nothing rejected indicates nothing.
    m.resume(&mut sink);
    assert_eq!(sink.indications().len(), 2);
}

#[test]
fn more_processing_fills_the_client_buffer_then_data_ready() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![more(2, Box::new(vec![0u8; 10]), 10)]);
    assert_eq!(feed(&mut m, &mut sink, b"abcdef", 64), Progress::NeedBytes);
    assert!(m.filling());
    // The socket now reads straight into the client buffer.
    let target_len = m.read_target().unwrap().unwrap().len();
    assert_eq!(target_len, 6, "the rest of the client buffer, not the lookahead");
    feed(&mut m, &mut sink, b"ghijklmn", 3);
    assert_eq!(
        sink.log[1],
        Event::DataReady {
            bytes: b"cdefghijkl".to_vec(),
            copied: 10,
            status: Status::SUCCESS,
        }
    );
    assert_eq!(sink.indications(), vec![b"abcdef".to_vec(), b"mn".to_vec()]);
}

#[test]
fn more_processing_with_indicated_bytes_covering_the_whole_buffer() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![more(1, Box::new(vec![0u8; 3]), 3)]);
    feed(&mut m, &mut sink, b"abcdefg", 64);
    assert_eq!(
        sink.log,
        vec![
            Event::Indicated {
                data: b"abcdefg".to_vec(),
                available: 7,
                flags: ReceiveFlags::NORMAL,
            },
            Event::DataReady {
                bytes: b"bcd".to_vec(),
                copied: 3,
                status: Status::SUCCESS,
            },
            Event::Indicated {
                data: b"efg".to_vec(),
                available: 3,
                flags: ReceiveFlags::NORMAL,
            },
        ]
    );
}

#[test]
fn more_processing_sizes_zero_and_beyond_the_buffer() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![
        more(0, Box::new(vec![0u8; 4]), 0),
        more(0, Box::new(vec![0u8; 2]), 100),
    ]);
    feed(&mut m, &mut sink, b"abc", 64);
    assert_eq!(
        sink.log[1],
        Event::DataReady {
            bytes: vec![],
            copied: 0,
            status: Status::SUCCESS,
        }
    );
    assert_eq!(
        sink.log[3],
        Event::DataReady {
            bytes: b"ab".to_vec(),
            copied: 2,
            status: Status::SUCCESS,
        },
        "the size is capped by the buffer's capacity"
    );
    assert_eq!(sink.indications().last().unwrap(), b"c");
}

#[test]
fn more_processing_into_a_multi_segment_chain() {
    let mut m = machine(4, None);
    let chain = BufferChain::with_lengths(&[2, 0, 3, 5]);
    let mut sink = Script::answering(vec![more(0, Box::new(chain), 10)]);
    feed(&mut m, &mut sink, b"0123456789", 1);
    assert_eq!(
        sink.log[1],
        Event::DataReady {
            bytes: b"0123456789".to_vec(),
            copied: 10,
            status: Status::SUCCESS,
        }
    );
}

#[test]
fn the_end_during_a_fill_hands_the_buffer_back_with_what_it_holds() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![more(0, Box::new(vec![0u8; 10]), 10)]);
    feed(&mut m, &mut sink, b"abc", 64);
    assert_eq!(m.on_end(&mut sink), Progress::Ended);
    match &sink.log[1] {
        Event::DataReady { bytes, copied, status } => {
            assert_eq!(bytes, b"abc");
            assert_eq!(*copied, 3);
            assert_eq!(*status, Status::CONNECTION_DISCONNECTED);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_failure_during_a_fill_hands_the_buffer_back_with_the_failure() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![more(0, Box::new(vec![0u8; 10]), 10)]);
    feed(&mut m, &mut sink, b"abcd", 64);
    m.fail(Status::CONNECTION_RESET, &mut sink);
    assert_eq!(
        sink.log[1],
        Event::DataReady {
            bytes: b"abcd".to_vec(),
            copied: 4,
            status: Status::CONNECTION_RESET,
        }
    );
    assert_eq!(m.drive(&mut sink), Progress::Failed(Status::CONNECTION_RESET));
    assert!(m.read_target().unwrap().is_none());
}

#[test]
fn the_end_after_held_bytes_indicates_them_first() {
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![taken(0)]);
    feed(&mut m, &mut sink, b"tail", 64);
    // Bytes the client took nothing of, waiting for more, come again at the
    // end with FORCE_INDICATION: no more will come.
    assert_eq!(m.on_end(&mut sink), Progress::Ended);
    let flags: Vec<ReceiveFlags> = sink
        .log
        .iter()
        .filter_map(|e| match e {
            Event::Indicated { flags, .. } => Some(*flags),
            _ => None,
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            ReceiveFlags::NORMAL,
            ReceiveFlags::NORMAL | ReceiveFlags::FORCE_INDICATION
        ]
    );
    assert_eq!(sink.indications(), vec![b"tail".to_vec(), b"tail".to_vec()]);
    assert_eq!(m.declined(), 0);
    // Refused once more, forced: the client declined them; they are
    // counted, and the machine comes to its end (no resume is waited for).
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![taken(0), taken(0)]);
    feed(&mut m, &mut sink, b"tail", 64);
    assert_eq!(m.on_end(&mut sink), Progress::Ended);
    assert_eq!(sink.indications(), vec![b"tail".to_vec(); 2]);
    assert_eq!(m.declined(), 4);
    let mut m = machine(64, None);
    let mut sink = Script::answering(vec![not_accepted()]);
    feed(&mut m, &mut sink, b"tail", 64);
    assert_eq!(
        m.on_end(&mut sink),
        Progress::Paused,
        "rejected bytes wait for the resume"
    );
    assert_eq!(m.resume(&mut sink), Progress::Ended);
    assert_eq!(sink.indications(), vec![b"tail".to_vec(), b"tail".to_vec()]);
}

#[test]
fn a_failed_machine_gets_no_more_indications() {
    let mut m = machine(64, None);
    let mut sink = Script::default();
    feed(&mut m, &mut sink, b"a", 1);
    m.fail(Status::CANCELLED, &mut sink);
    assert!(m.read_target().unwrap().is_none());
    assert_eq!(m.drive(&mut sink), Progress::Failed(Status::CANCELLED));
    assert_eq!(sink.indications(), vec![b"a".to_vec()]);
}

#[test]
fn an_answer_after_a_failure_hands_its_buffer_back_untouched() {
    let mut m = machine(64, None);
    let target = m.read_target().unwrap().unwrap();
    target[..3].copy_from_slice(b"abc");
    m.handle_read(3);
    let ReceiveStep::Indicate(lent) = m.poll() else {
        panic!("an indication")
    };
    assert_eq!(lent.indication().data, b"abc");
    // Out with the client: nothing more is read or indicated.
    assert!(m.read_target().unwrap().is_none());
    assert!(matches!(m.poll(), ReceiveStep::Wait(Progress::Answering)));
    // The VC is torn down while the client looks at the bytes; the client
    // then answers with a buffer to fill.
    m.handle_failure(Status::CANCELLED);
    m.answer(
        lent,
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0xEEu8; 8]),
            size: 8,
        },
    );
    match m.poll() {
        ReceiveStep::DataReady { buffer, copied, status } => {
            assert_eq!(copied, 0);
            assert_eq!(status, Status::CANCELLED);
            assert_eq!(buffer_bytes(buffer, 8), vec![0xEE; 8], "not one byte written");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(m.poll(), ReceiveStep::Wait(Progress::Failed(_))));
    assert_eq!(m.stats().tsdus, 0);
}

#[test]
fn framed_messages_are_indicated_whole_and_keepalives_skipped() {
    let mut m = machine(64, Some(Framing::NetbiosSession));
    let mut sink = Script::default();
    let mut wire = nbss(b"first");
    wire.extend_from_slice(&[0x85, 0, 0, 0]);
    wire.extend(nbss(b"second message"));
    feed(&mut m, &mut sink, &wire, 3);
    let whole = ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE;
    assert_eq!(
        sink.log,
        vec![
            Event::Indicated {
                data: b"first".to_vec(),
                available: 5,
                flags: whole,
            },
            Event::Indicated {
                data: b"second message".to_vec(),
                available: 14,
                flags: whole,
            },
        ]
    );
    assert_eq!(m.stats().tsdus, 2);
}

#[test]
fn a_message_longer_than_the_lookahead_comes_in_pieces() {
    let mut m = machine(8, Some(Framing::DirectTcp));
    let mut sink = Script::default();
    let payload: Vec<u8> = (0..20).collect();
    feed(&mut m, &mut sink, &nbss(&payload), 64);
    let avail: Vec<usize> = sink
        .log
        .iter()
        .map(|e| match e {
            Event::Indicated { available, .. } => *available,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(avail, vec![20, 16, 8], "available is the rest of the message");
    assert_eq!(sink.indications().concat(), payload);
    match sink.log.last().unwrap() {
        Event::Indicated { flags, .. } => assert!(flags.contains(ReceiveFlags::ENTIRE_MESSAGE)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn more_processing_on_a_framed_transport_stops_at_the_message_end() {
    let mut m = machine(8, Some(Framing::DirectTcp));
    let mut sink = Script::answering(vec![more(4, Box::new(vec![0u8; 100]), 100)]);
    let payload: Vec<u8> = (0..30).collect();
    let mut wire = nbss(&payload);
    wire.extend(nbss(b"next"));
    feed(&mut m, &mut sink, &wire, 12);
    assert_eq!(
        sink.log[1],
        Event::DataReady {
            bytes: payload[4..].to_vec(),
            copied: 26,
            status: Status::SUCCESS,
        }
    );
    assert_eq!(sink.indications().last().unwrap(), b"next");
    assert_eq!(m.stats().tsdus, 2);
}

#[test]
fn an_oversize_message_is_a_protocol_error_without_allocation() {
    let pool = Arc::new(BufferPool::new(64, 4, Budget::new(usize::MAX)));
    let mut m = ReceiveMachine::new(pool, Some(Framing::DirectTcp), 1000);
    let mut sink = Script::default();
    let progress = feed(&mut m, &mut sink, &[0, 0x01, 0, 0, 1, 2, 3], 64);
    assert!(matches!(progress, Progress::Failed(ref s) if *s == Status::INVALID_NETWORK_RESPONSE));
    match &sink.log[..] {
        [Event::Error(status)] => {
            assert_eq!(*status, Status::INVALID_NETWORK_RESPONSE);
            assert!(status.to_string().contains("65536-byte message"), "{status}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(m.stats().errors, 1);
}

#[test]
fn session_control_frames_and_bad_headers_mid_session_are_protocol_errors() {
    for wire in [vec![0x82, 0, 0, 0], vec![0x83, 0, 0, 1, 0x80]] {
        let mut m = machine(64, Some(Framing::NetbiosSession));
        let mut sink = Script::default();
        let progress = feed(&mut m, &mut sink, &wire, 64);
        assert!(matches!(progress, Progress::Failed(_)), "{wire:?}");
        assert!(matches!(sink.log[..], [Event::Error(_)]));
    }
    let mut m = machine(64, Some(Framing::DirectTcp));
    let mut sink = Script::default();
    assert!(matches!(
        feed(&mut m, &mut sink, &[0x85, 0, 0, 0], 64),
        Progress::Failed(_)
    ));
}

#[test]
fn a_message_cut_short_by_the_end_is_a_protocol_error() {
    for (wire, answers) in [
        (vec![0u8, 0], vec![]),
        (vec![0, 0, 0, 9, 1, 2], vec![]),
        (vec![0, 0, 0, 9, 1, 2], vec![taken(0)]),
    ] {
        let mut m = machine(64, Some(Framing::DirectTcp));
        let mut sink = Script::answering(answers);
        feed(&mut m, &mut sink, &wire, 64);
        let progress = m.on_end(&mut sink);
        assert!(
            matches!(progress, Progress::Failed(ref s) if *s == Status::INVALID_NETWORK_RESPONSE),
            "{wire:?}: {progress:?}"
        );
        assert!(sink.log.iter().any(|e| matches!(e, Event::Error(_))));
    }
}

#[test]
fn an_empty_message_counts_but_indicates_nothing() {
    let mut m = machine(64, Some(Framing::DirectTcp));
    let mut sink = Script::default();
    let mut wire = nbss(b"");
    wire.extend(nbss(b"x"));
    feed(&mut m, &mut sink, &wire, 64);
    assert_eq!(sink.indications(), vec![b"x".to_vec()]);
    assert_eq!(m.stats().tsdus, 2);
    assert_eq!(m.on_end(&mut sink), Progress::Ended);
}

#[test]
fn an_exhausted_budget_reads_nothing_and_recovers() {
    let budget = Budget::new(10);
    let pool = Arc::new(BufferPool::new(64, 4, budget.clone()));
    let mut m = ReceiveMachine::new(pool, None, 1 << 20);
    assert_eq!(m.read_target().unwrap_err(), Status::INSUFFICIENT_RESOURCES);
    let budget = Budget::new(64);
    let pool = Arc::new(BufferPool::new(64, 4, budget.clone()));
    let mut m = ReceiveMachine::new(pool, None, 1 << 20);
    let mut sink = Script::default();
    feed(&mut m, &mut sink, b"ok", 64);
    assert_eq!(budget.used(), 64);
    m.release_idle_buffer();
    assert_eq!(budget.used(), 0);
}

fn rpc(payload: &[u8], fragment: usize) -> Vec<u8> {
    rxce_wire::record::encode_record(payload, fragment)
}

fn whole() -> ReceiveFlags {
    ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE
}

#[test]
fn an_rpc_record_in_fragments_is_indicated_whole_without_its_headers() {
    for chunk in [1, 3, 5, 64] {
        let mut m = machine(64, Some(Framing::RpcRecord));
        let mut sink = Script::default();
        let mut wire = rpc(b"hello, record", 4);
        wire.extend(rpc(b"x", 4));
        feed(&mut m, &mut sink, &wire, chunk);
        assert_eq!(
            sink.log,
            vec![
                Event::Indicated {
                    data: b"hello, record".to_vec(),
                    available: 13,
                    flags: whole(),
                },
                Event::Indicated {
                    data: b"x".to_vec(),
                    available: 1,
                    flags: whole(),
                },
            ],
            "reads of {chunk}"
        );
        assert_eq!(m.stats().tsdus, 2);
        assert_eq!(m.on_end(&mut sink), Progress::Ended);
    }
}

#[test]
fn an_rpc_record_longer_than_the_lookahead_comes_in_pieces() {
    let payload: Vec<u8> = (0..50).collect();
    let mut m = machine(16, Some(Framing::RpcRecord));
    let mut sink = Script::default();
    feed(&mut m, &mut sink, &rpc(&payload, 7), 64);
    assert_eq!(sink.indications().concat(), payload);
    let flags: Vec<bool> = sink
        .log
        .iter()
        .map(|e| match e {
            Event::Indicated { flags, .. } => flags.contains(ReceiveFlags::ENTIRE_MESSAGE),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(flags.last(), Some(&true), "the end of the record is whole");
    assert!(flags[..flags.len() - 1].iter().all(|f| !f), "{flags:?}");
    assert_eq!(m.stats().tsdus, 1);
}

#[test]
fn more_processing_fills_across_rpc_fragments_then_the_next_record() {
    let payload: Vec<u8> = (0..200).map(|i| i as u8).collect();
    for chunk in [1, 6, 100] {
        let mut m = machine(16, Some(Framing::RpcRecord));
        let mut sink = Script::answering(vec![more(2, Box::new(vec![0u8; 1000]), 1000)]);
        let mut wire = rpc(&payload, 9);
        wire.extend(rpc(b"next", 3));
        feed(&mut m, &mut sink, &wire, chunk);
        assert_eq!(
            sink.log[1],
            Event::DataReady {
                bytes: payload[2..].to_vec(),
                copied: 198,
                status: Status::SUCCESS,
            },
            "reads of {chunk}"
        );
        assert_eq!(sink.indications().last().unwrap(), b"next");
        assert_eq!(m.stats().tsdus, 2);
    }
}

#[test]
fn an_rpc_record_made_of_empty_fragments_is_skipped() {
    let mut m = machine(64, Some(Framing::RpcRecord));
    let mut sink = Script::default();
    let mut wire = vec![0, 0, 0, 0, 0, 0, 0, 0, 0x80, 0, 0, 0];
    wire.extend(rpc(b"ab", 1));
    feed(&mut m, &mut sink, &wire, 64);
    assert_eq!(sink.indications(), vec![b"ab".to_vec()]);
    assert_eq!(m.stats().tsdus, 2);
}

fn rpc_failure(m: &mut ReceiveMachine, wire: &[u8], end: bool) -> String {
    let mut sink = Script::default();
    let mut progress = feed(m, &mut sink, wire, 4096);
    if end && !matches!(progress, Progress::Failed(_)) {
        progress = m.on_end(&mut sink);
    }
    assert!(
        matches!(progress, Progress::Failed(ref s) if *s == Status::INVALID_NETWORK_RESPONSE),
        "{progress:?}"
    );
    match sink.log.last() {
        Some(Event::Error(status)) => status.to_string(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_rpc_records_are_protocol_errors_without_allocation() {
    let pool = || Arc::new(BufferPool::new(64, 4, Budget::new(usize::MAX)));
    // One fragment of 0x7FFFFFFF bytes: refused on its header.
    let mut m = ReceiveMachine::new(pool(), Some(Framing::RpcRecord), 1 << 20);
    let text = rpc_failure(&mut m, &[0xff, 0xff, 0xff, 0xff, 1, 2, 3], false);
    assert!(text.contains("2147483647 bytes"), "{text}");
    // Fragments adding up to more than the limit.
    let mut m = ReceiveMachine::new(pool(), Some(Framing::RpcRecord), 1000);
    let text = rpc_failure(&mut m, &rpc(&[7u8; 1001], 600), false);
    assert!(text.contains("at least 1001 bytes; the limit is 1000"), "{text}");
    // Empty fragments that never end the record.
    let mut m = ReceiveMachine::new(pool(), Some(Framing::RpcRecord), 1000);
    let flood = vec![0u8; 4 * 1000];
    let text = rpc_failure(&mut m, &flood, false);
    assert!(text.contains("empty fragments"), "{text}");
    // A million 1-byte fragments: a record of a million bytes, refused at
    // the fragment that passes the limit...
    let ones = rpc(&vec![5u8; 1_000_000], 1);
    let mut m = ReceiveMachine::new(pool(), Some(Framing::RpcRecord), 1000);
    let text = rpc_failure(&mut m, &ones, false);
    assert!(text.contains("at least 1001 bytes"), "{text}");
    // ...or, under a larger limit, delivered in lookahead-sized pieces with
    // no header byte among them (one pass over the held bytes per read).
    let mut m = ReceiveMachine::new(pool(), Some(Framing::RpcRecord), 1 << 20);
    let mut sink = Script::default();
    feed(&mut m, &mut sink, &ones, 4096);
    let got = sink.indications().concat();
    assert_eq!(got.len(), 1_000_000);
    assert!(got.iter().all(|&b| b == 5));
    assert_eq!(m.stats().tsdus, 1);
    // The stream ends inside a record: between fragments, inside one.
    for wire in [
        vec![0, 0, 0, 2, 1, 2],
        vec![0, 0, 0, 2, 1, 2, 0x80, 0],
        vec![0x80, 0, 0, 9, 1],
    ] {
        let mut m = ReceiveMachine::new(pool(), Some(Framing::RpcRecord), 1000);
        let text = rpc_failure(&mut m, &wire, true);
        assert!(text.contains("ended"), "{wire:?}: {text}");
    }
}

#[test]
fn nine_p_messages_start_after_their_size() {
    let mut m = machine(64, Some(Framing::NineP));
    let mut sink = Script::default();
    // Rversion-like: size 7+, type 101, tag 0xFFFF, then body.
    let wire = [11, 0, 0, 0, 101, 0xff, 0xff, 1, 2, 3, 4, 7, 0, 0, 0, 100, 1, 0];
    feed(&mut m, &mut sink, &wire, 2);
    assert_eq!(
        sink.indications(),
        vec![vec![101, 0xff, 0xff, 1, 2, 3, 4], vec![100, 1, 0]]
    );
    for wire in [vec![3u8, 0, 0, 0], vec![0, 0, 0, 0]] {
        let mut m = machine(64, Some(Framing::NineP));
        let text = rpc_failure(&mut m, &wire, false);
        assert!(text.contains("size below 7"), "{text}");
    }
    let pool = Arc::new(BufferPool::new(64, 4, Budget::new(usize::MAX)));
    let mut m = ReceiveMachine::new(pool, Some(Framing::NineP), 8188);
    let text = rpc_failure(&mut m, &[0x01, 0x20, 0, 0, 100], false);
    assert!(text.contains("8189-byte message"), "{text}");
}

/// What a property-test handler does with one indication.
#[derive(Debug, Clone)]
enum Choice {
    TakeAll,
    Take(usize),
    More { taken: usize, segments: Vec<usize> },
    Reject,
}

fn choice() -> impl Strategy<Value = Choice> {
    prop_oneof![
        3 => Just(Choice::TakeAll),
        3 => (0usize..40).prop_map(Choice::Take),
        2 => ((0usize..40), proptest::collection::vec(0usize..50, 1..4))
            .prop_map(|(taken, segments)| Choice::More { taken, segments }),
        1 => Just(Choice::Reject),
    ]
}

/// Rebuilds the byte stream from indications and data-ready buffers.
struct Rebuild {
    choices: Vec<Choice>,
    next: usize,
    got: Vec<u8>,
    rejected: bool,
    resumed: bool,
}

impl IndicationSink for Rebuild {
    fn receive(&mut self, indication: &Indication<'_>) -> ReceiveAnswer {
        // After a resume the client makes progress, or nothing ever would.
        let choice = if std::mem::take(&mut self.resumed) {
            Choice::TakeAll
        } else {
            self.choices[self.next % self.choices.len()].clone()
        };
        self.next += 1;
        let n = indication.data.len();
        match choice {
            Choice::TakeAll => {
                self.got.extend_from_slice(indication.data);
                ReceiveAnswer::Taken(n)
            }
            Choice::Take(k) => {
                let k = k.min(n);
                self.got.extend_from_slice(&indication.data[..k]);
                ReceiveAnswer::Taken(k)
            }
            Choice::More { taken, segments } => {
                let k = taken.min(n);
                self.got.extend_from_slice(&indication.data[..k]);
                let chain = BufferChain::with_lengths(&segments);
                let size = chain.capacity();
                ReceiveAnswer::MoreProcessingRequired {
                    taken: k,
                    buffer: Box::new(chain),
                    size,
                }
            }
            Choice::Reject => {
                self.rejected = true;
                ReceiveAnswer::NotAccepted
            }
        }
    }

    fn data_ready(&mut self, buffer: Box<dyn ReceiveBuffer>, copied: usize, status: Status) {
        // A fill the stream's end cut short still hands back what it holds.
        assert!(
            status == Status::SUCCESS || status == Status::CONNECTION_DISCONNECTED,
            "{status}"
        );
        self.got.extend(buffer_bytes(buffer, copied));
    }

    fn error(&mut self, status: Status) {
        panic!("unexpected error {status}");
    }
}

/// Drives the machine like the VC task does: read when it wants bytes,
/// resume when it paused (the client resumes at once), end at the end.
fn pump(m: &mut ReceiveMachine, sink: &mut Rebuild, input: &[u8], reads: &[usize]) {
    let mut at = 0;
    let mut r = 0;
    let mut guard = 0;
    loop {
        guard += 1;
        assert!(guard < 100_000, "no progress");
        if sink.rejected || !m.wants_bytes() {
            sink.rejected = false;
            sink.resumed = true;
            let progress = m.resume(sink);
            if progress == Progress::Ended {
                return;
            }
            continue;
        }
        if at == input.len() {
            match m.on_end(sink) {
                Progress::Ended => return,
                Progress::Paused => continue,
                other => panic!("{other:?}"),
            }
        }
        let target = m.read_target().unwrap().expect("wants bytes");
        let n = target.len().min(reads[r % reads.len()]).min(input.len() - at);
        r += 1;
        target[..n].copy_from_slice(&input[at..at + n]);
        at += n;
        m.on_read(n, sink);
    }
}

proptest! {
    #[test]
    fn the_client_rebuilds_exactly_the_bytes_sent(
        sizes in proptest::collection::vec(0usize..300, 1..12),
        choices in proptest::collection::vec(choice(), 1..8),
        reads in proptest::collection::vec(1usize..200, 1..6),
        lookahead in 1usize..96,
    ) {
        let input: Vec<u8> = (0..sizes.iter().sum::<usize>()).map(|i| (i * 7 % 251) as u8).collect();
        let mut m = machine(lookahead, None);
        let mut sink = Rebuild { choices, next: 0, got: Vec::new(), rejected: false, resumed: false };
        // A client that takes nothing would stall; the driver resumes it.
        pump(&mut m, &mut sink, &input, &reads);
        // Every byte, in order, or declined at the very end (refused after
        // a forced indication) and counted: nothing vanishes.
        prop_assert!(input.starts_with(&sink.got));
        prop_assert_eq!(sink.got.len() + m.declined(), input.len());
    }

    #[test]
    fn framed_clients_rebuild_every_message(
        sizes in proptest::collection::vec(0usize..300, 1..10),
        choices in proptest::collection::vec(choice(), 1..8),
        reads in proptest::collection::vec(1usize..200, 1..6),
        lookahead in 4usize..96,
    ) {
        let mut wire = Vec::new();
        let mut payload = Vec::new();
        for (k, size) in sizes.iter().enumerate() {
            let message: Vec<u8> = (0..*size).map(|i| (i + k) as u8).collect();
            wire.extend(nbss(&message));
            payload.extend(message);
        }
        let mut m = machine(lookahead, Some(Framing::DirectTcp));
        let mut sink = Rebuild { choices, next: 0, got: Vec::new(), rejected: false, resumed: false };
        pump(&mut m, &mut sink, &wire, &reads);
        // Every message's bytes, or declined at the end and counted.
        prop_assert_eq!(sink.got.len() + m.declined(), payload.len());
    }
}

proptest! {
    #[test]
    fn rpc_clients_rebuild_every_record(
        sizes in proptest::collection::vec(0usize..300, 1..10),
        fragment in 1usize..70,
        choices in proptest::collection::vec(choice(), 1..8),
        reads in proptest::collection::vec(1usize..200, 1..6),
        lookahead in 4usize..96,
    ) {
        let mut wire = Vec::new();
        let mut payload = Vec::new();
        for (k, size) in sizes.iter().enumerate() {
            let message: Vec<u8> = (0..*size).map(|i| (i * 3 + k) as u8).collect();
            wire.extend(rpc(&message, fragment));
            payload.extend(message);
        }
        let mut m = machine(lookahead, Some(Framing::RpcRecord));
        let mut sink = Rebuild { choices, next: 0, got: Vec::new(), rejected: false, resumed: false };
        pump(&mut m, &mut sink, &wire, &reads);
        // No header byte reaches the client; every byte of every record
        // does, in order, or is declined at the end and counted.
        prop_assert!(payload.starts_with(&sink.got));
        prop_assert_eq!(sink.got.len() + m.declined(), payload.len());
        prop_assert_eq!(m.stats().tsdus, sizes.len() as u64);
    }
}

fn datagrams() -> ReceiveMachine {
    ReceiveMachine::for_datagrams(Arc::new(BufferPool::new(64, 1, Budget::new(usize::MAX))))
}

/// Receives one datagram and runs the machine against `sink`.
fn datagram(m: &mut ReceiveMachine, sink: &mut Script, bytes: &[u8]) -> Progress {
    let target = m.read_target().unwrap().expect("a datagram can be read");
    target[..bytes.len()].copy_from_slice(bytes);
    m.handle_datagram(bytes.len());
    m.drive(sink)
}

#[test]
fn datagrams_are_indicated_once_and_whole_and_what_is_left_is_dropped() {
    let mut m = datagrams();
    let mut sink = Script::answering(vec![taken(1)]);
    assert_eq!(datagram(&mut m, &mut sink, b"first"), Progress::NeedBytes);
    assert_eq!(datagram(&mut m, &mut sink, b""), Progress::NeedBytes);
    assert_eq!(datagram(&mut m, &mut sink, b"second"), Progress::NeedBytes);
    let whole = ReceiveFlags::NORMAL | ReceiveFlags::ENTIRE_MESSAGE;
    assert_eq!(
        sink.log,
        vec![
            Event::Indicated {
                data: b"first".to_vec(),
                available: 5,
                flags: whole
            },
            Event::Indicated {
                data: Vec::new(),
                available: 0,
                flags: whole
            },
            Event::Indicated {
                data: b"second".to_vec(),
                available: 6,
                flags: whole
            },
        ],
        "the 4 bytes not taken of the first are dropped, not indicated again"
    );
    assert_eq!(m.stats().tsdus, 3);
}

#[test]
fn a_datagram_copied_into_a_short_buffer_is_cut_with_buffer_overflow() {
    let mut m = datagrams();
    let mut sink = Script::answering(vec![
        more(1, Box::new(vec![0u8; 3]), 10),
        more(0, Box::new(vec![0u8; 8]), 8),
    ]);
    datagram(&mut m, &mut sink, b"abcdefg");
    datagram(&mut m, &mut sink, b"xyz");
    let ready: Vec<(Vec<u8>, Status)> = sink
        .log
        .iter()
        .filter_map(|e| match e {
            Event::DataReady { bytes, status, .. } => Some((bytes.clone(), status.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        ready,
        vec![
            (b"bcd".to_vec(), Status::BUFFER_OVERFLOW),
            (b"xyz".to_vec(), Status::SUCCESS)
        ]
    );
    assert_eq!(sink.indications(), vec![b"abcdefg".to_vec(), b"xyz".to_vec()]);
}

#[test]
fn a_datagram_not_accepted_is_held_until_the_resume_then_forced() {
    let mut m = datagrams();
    let mut sink = Script::answering(vec![not_accepted()]);
    assert_eq!(datagram(&mut m, &mut sink, b"held"), Progress::Paused);
    assert!(m.read_target().unwrap().is_none(), "nothing more is read");
    assert_eq!(m.resume(&mut sink), Progress::NeedBytes);
    match &sink.log[1] {
        Event::Indicated { data, flags, .. } => {
            assert_eq!(data, b"held");
            assert!(flags.contains(ReceiveFlags::FORCE_INDICATION | ReceiveFlags::ENTIRE_MESSAGE));
        }
        other => panic!("{other:?}"),
    }
    assert!(m.read_target().unwrap().is_some());
}
