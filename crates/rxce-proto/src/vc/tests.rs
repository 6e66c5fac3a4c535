//! The VC machine on a fake clock, with no socket: bytes are fed in and
//! written out by hand, time is a number of milliseconds.

use std::io::IoSlice;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rxce_wire::framing::Framing;
use smallvec::SmallVec;

use super::*;
use crate::budget::Budget;
use crate::buffer::SendBuffers;
use crate::tdi::SendOptions;

const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(20);

fn config(framing: Option<Framing>) -> VcConfig {
    VcConfig {
        framing,
        max_message_size: 1 << 20,
        send_queue_limit: 16,
        keepalive: None,
        dead_peer_timeout: None,
        disconnect_timeout: DISCONNECT_TIMEOUT,
    }
}

/// A clock that starts at an arbitrary instant and moves only when told.
struct Clock(Instant);

impl Clock {
    fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

fn machine_with(config: VcConfig, budget: usize) -> (VcMachine, Clock) {
    let clock = Clock(Instant::now());
    let pool = Arc::new(BufferPool::new(64, 4, Budget::new(budget)));
    (VcMachine::new(config, pool, clock.at(0)), clock)
}

fn machine(config: VcConfig) -> (VcMachine, Clock) {
    machine_with(config, usize::MAX)
}

/// Writes everything the machine has to write, `max` bytes at a time;
/// returns the bytes and whether our direction was ended.
fn write_out(m: &mut VcMachine, max: usize, mine: Option<u64>) -> (Vec<u8>, bool) {
    let mut wire = Vec::new();
    let mut shut = false;
    loop {
        match m.poll_transmit() {
            Transmit::Idle => return (wire, shut),
            Transmit::Shutdown => {
                shut = true;
                m.handle_shutdown_sent();
            }
            Transmit::Bytes => {
                let bytes: Vec<u8> = {
                    let mut slices: SmallVec<[IoSlice<'_>; MAX_SLICES]> = SmallVec::new();
                    m.gather(&mut slices);
                    slices.iter().flat_map(|s| s.to_vec()).take(max).collect()
                };
                let n = bytes.len();
                wire.extend(bytes);
                m.handle_written(n, mine);
            }
        }
    }
}

/// Feeds `bytes` as one read at `now` (the driver looks at the clock
/// before it waits again).
fn feed(m: &mut VcMachine, bytes: &[u8], now: Instant) {
    let target = m.read_target().expect("the VC reads");
    target[..bytes.len()].copy_from_slice(bytes);
    m.handle_read(bytes.len());
    m.poll_timeout(now);
}

/// Every event now, answering indications with `answer`.
fn events(m: &mut VcMachine, mut answer: impl FnMut(&[u8]) -> ReceiveAnswer) -> Vec<String> {
    let mut log = Vec::new();
    while let Some(event) = m.poll_event() {
        match event {
            VcEvent::Indicate(lent) => {
                let data = lent.indication().data.to_vec();
                log.push(format!("indicate {:?}", String::from_utf8_lossy(&data)));
                let a = answer(&data);
                m.answer(lent, a);
            }
            VcEvent::DataReady { copied, status, .. } => log.push(format!("data-ready {copied} {}", status.name())),
            VcEvent::Error(status) => log.push(format!("error {}", status.name())),
            VcEvent::SendSubmitted(context) => log.push(format!("submitted {context}")),
            VcEvent::SendComplete { context, status, bytes } => {
                log.push(format!("complete {context} {} {bytes}", status.name()))
            }
            VcEvent::SendPossible(room) => log.push(format!("send-possible {room}")),
            VcEvent::Disconnect { flags, status, lost } => {
                log.push(format!("disconnect {flags:?} {} lost={lost}", status.name()))
            }
        }
    }
    log
}

fn take_all(data: &[u8]) -> ReceiveAnswer {
    ReceiveAnswer::Taken(data.len())
}

fn send(m: &mut VcMachine, bytes: &'static [u8], completion: Completion) -> u64 {
    let mut data = SendBuffers::from(bytes);
    assert_eq!(m.admit(&mut data, SendOptions::empty()), Ok(Admit::Now));
    m.push(data, SendOptions::empty(), completion)
}

#[test]
fn sends_go_out_in_order_and_complete_once_each() {
    let (mut m, _) = machine(config(None));
    let waited = send(&mut m, b"abc", Completion::Waiter);
    send(&mut m, b"defg", Completion::Callback(7));
    assert!(m.task_must_write(), "an asynchronous send is the task's to write");
    assert_eq!(m.outcome(waited, 3), None, "still queued");
    let (wire, shut) = write_out(&mut m, 2, Some(waited));
    assert_eq!(wire, b"abcdefg");
    assert!(!shut);
    assert_eq!(m.outcome(waited, 3), Some(Ok(3)));
    assert_eq!(events(&mut m, take_all), ["submitted 7", "complete 7 STATUS_SUCCESS 4"]);
    assert!(!m.task_must_write());
    assert_eq!(m.send_stats().tsdus, 2);
    assert_eq!(m.send_stats().bytes, 7);
}

#[test]
fn framed_sends_carry_their_header() {
    let (mut m, _) = machine(config(Some(Framing::DirectTcp)));
    send(&mut m, b"hi", Completion::Detached);
    assert_eq!(write_out(&mut m, usize::MAX, None).0, b"\0\0\0\x02hi");
}

#[test]
fn a_full_queue_refuses_a_non_blocking_send_then_says_when_there_is_room() {
    let (mut m, _) = machine(config(None));
    send(&mut m, b"0123456789abcdef", Completion::Detached);
    let mut data = SendBuffers::from(&b"x"[..]);
    assert_eq!(
        m.admit(&mut data, SendOptions::empty()),
        Ok(Admit::WaitForRoom),
        "a blocking send waits"
    );
    let refused = m.admit(&mut data, SendOptions::NON_BLOCKING).unwrap_err();
    assert_eq!(refused, Status::DEVICE_NOT_READY);
    assert!(events(&mut m, take_all).is_empty());
    write_out(&mut m, 6, None);
    assert_eq!(events(&mut m, take_all), ["send-possible 6"], "once, at the first room");
    assert_eq!(m.last_event(), last_event::SEND_POSSIBLE);
}

#[test]
fn a_graceful_disconnect_writes_first_ends_our_side_then_waits_for_the_peer() {
    let (mut m, clock) = machine(config(None));
    send(&mut m, b"last", Completion::Callback(1));
    m.initiate_disconnect(clock.at(0)).unwrap();
    assert_eq!(m.state(), VcState::Disconnecting);
    let mut data = SendBuffers::from(&b"late"[..]);
    assert_eq!(
        m.admit(&mut data, SendOptions::empty()),
        Err(Status::CONNECTION_DISCONNECTED)
    );
    let (wire, shut) = write_out(&mut m, usize::MAX, None);
    assert_eq!((wire.as_slice(), shut), (&b"last"[..], true));
    assert_eq!(m.poll_timeout(clock.at(0)), Some(clock.at(0) + DISCONNECT_TIMEOUT));
    m.handle_end();
    assert_eq!(
        events(&mut m, take_all),
        [
            "submitted 1",
            "complete 1 STATUS_SUCCESS 4",
            "disconnect DisconnectFlags(RELEASE) STATUS_SUCCESS lost=false"
        ]
    );
    assert_eq!(m.state(), VcState::Disconnected);
    assert!(m.is_finished());
    assert_eq!(m.take_close(), None, "an orderly end needs no reset");
}

#[test]
fn a_peer_that_never_ends_its_side_is_cut_off_at_the_deadline() {
    let (mut m, clock) = machine(config(None));
    m.initiate_disconnect(clock.at(0)).unwrap();
    write_out(&mut m, usize::MAX, None);
    let deadline = m.poll_timeout(clock.at(5)).unwrap();
    m.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(m.state(), VcState::Disconnecting, "not yet");
    m.handle_timeout(deadline);
    assert_eq!(m.take_close(), Some(Close::Abortive));
    let log = events(&mut m, take_all);
    assert_eq!(log, ["disconnect DisconnectFlags(ABORT) STATUS_IO_TIMEOUT lost=false"]);
    assert!(m.is_finished());
}

#[test]
fn the_peer_s_end_while_active_is_a_release_and_sends_still_go() {
    let (mut m, clock) = machine(config(None));
    feed(&mut m, b"bye", clock.at(1));
    m.handle_end();
    assert_eq!(
        events(&mut m, take_all),
        [
            "indicate \"bye\"",
            "disconnect DisconnectFlags(RELEASE) STATUS_REMOTE_DISCONNECT lost=true"
        ]
    );
    assert_eq!(m.state(), VcState::PeerReleased);
    send(&mut m, b"still", Completion::Detached);
    assert_eq!(write_out(&mut m, usize::MAX, None).0, b"still");
    assert!(!m.is_finished());
}

#[test]
fn a_failure_fails_queued_sends_returns_the_client_buffer_and_indicates_one_abort() {
    let (mut m, clock) = machine(config(None));
    let waited = send(&mut m, b"queued", Completion::Waiter);
    send(&mut m, b"async", Completion::Callback(3));
    feed(&mut m, b"ab", clock.at(1));
    let mut offered = false;
    let log = events(&mut m, |_| {
        offered = true;
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![0u8; 10]),
            size: 10,
        }
    });
    assert!(offered);
    assert_eq!(log, ["submitted 3", "indicate \"ab\""]);
    m.handle_io_error(Status::CONNECTION_RESET);
    assert_eq!(m.take_close(), Some(Close::Abortive));
    assert_eq!(m.outcome(waited, 6), Some(Err(Status::CONNECTION_RESET)));
    assert_eq!(
        events(&mut m, take_all),
        [
            "complete 3 STATUS_CONNECTION_RESET 0",
            "data-ready 2 STATUS_CONNECTION_RESET",
            "disconnect DisconnectFlags(ABORT) STATUS_CONNECTION_RESET lost=true"
        ]
    );
    assert_eq!(m.send_stats().errors, 2);
    let mut data = SendBuffers::from(&b"x"[..]);
    assert_eq!(
        m.admit(&mut data, SendOptions::empty()),
        Err(Status::CONNECTION_DISCONNECTED)
    );
    assert!(m.is_finished());
}

#[test]
fn a_tear_down_cancels_everything_and_indicates_nothing() {
    let (mut m, clock) = machine(config(None));
    send(&mut m, b"queued", Completion::Callback(9));
    feed(&mut m, b"data", clock.at(1));
    m.tear_down().unwrap();
    assert_eq!(m.take_close(), Some(Close::Orderly));
    assert_eq!(
        events(&mut m, take_all),
        ["submitted 9", "complete 9 STATUS_CANCELLED 0"],
        "the cancelled completion only: no indication, no disconnect"
    );
    assert!(m.is_finished());
    assert_eq!(m.tear_down(), Err(Status::INVALID_HANDLE));
    assert_eq!(m.resume_receive(), Err(Status::INVALID_HANDLE));
    assert_eq!(m.send_stats().errors, 0, "a cancellation is no error");
}

#[test]
fn a_tear_down_while_an_indication_is_out_returns_a_buffer_offered_after_it_untouched() {
    let (mut m, clock) = machine(config(None));
    feed(&mut m, b"abc", clock.at(1));
    let Some(VcEvent::Indicate(lent)) = m.poll_event() else {
        panic!("an indication")
    };
    m.tear_down().unwrap();
    m.answer(
        lent,
        ReceiveAnswer::MoreProcessingRequired {
            taken: 0,
            buffer: Box::new(vec![7u8; 4]),
            size: 4,
        },
    );
    match m.poll_event() {
        Some(VcEvent::DataReady { buffer, copied, status }) => {
            assert_eq!((copied, status), (0, Status::CANCELLED));
            let any: Box<dyn std::any::Any> = buffer;
            assert_eq!(*any.downcast::<Vec<u8>>().unwrap(), vec![7u8; 4]);
        }
        other => panic!("{other:?}"),
    }
    assert!(m.poll_event().is_none());
    assert!(m.is_finished());
}

#[test]
fn a_resume_asked_during_the_indication_it_follows_is_not_lost() {
    let (mut m, clock) = machine(config(None));
    feed(&mut m, b"abc", clock.at(1));
    let Some(VcEvent::Indicate(lent)) = m.poll_event() else {
        panic!("an indication")
    };
    // Another thread resumes before the callback has answered.
    m.resume_receive().unwrap();
    m.answer(lent, ReceiveAnswer::NotAccepted);
    assert_eq!(
        events(&mut m, take_all),
        ["indicate \"abc\""],
        "indicated again after the answer"
    );
}

#[test]
fn a_silent_peer_is_dead_after_the_timeout_but_not_while_the_client_holds_bytes() {
    let timeout = Duration::from_secs(2);
    let (mut m, clock) = machine(VcConfig {
        dead_peer_timeout: Some(timeout),
        ..config(None)
    });
    assert_eq!(m.poll_timeout(clock.at(0)), Some(clock.at(2000)));
    feed(&mut m, b"x", clock.at(1500));
    events(&mut m, |_| ReceiveAnswer::NotAccepted);
    // The client holds the byte: the clock stops.
    assert_eq!(m.poll_timeout(clock.at(9000)), None);
    m.handle_timeout(clock.at(9000));
    assert_eq!(m.state(), VcState::Active);
    m.resume_receive().unwrap();
    events(&mut m, take_all);
    // It starts again when reading does (seen last at 9000 while held).
    assert_eq!(m.poll_timeout(clock.at(9100)), Some(clock.at(9000) + timeout));
    m.handle_timeout(clock.at(10_999));
    assert_eq!(m.state(), VcState::Active);
    m.handle_timeout(clock.at(11_000));
    assert_eq!(
        events(&mut m, take_all),
        ["disconnect DisconnectFlags(ABORT) STATUS_IO_TIMEOUT lost=true"]
    );
}

#[test]
fn keepalives_go_out_on_an_idle_session_only_after_the_first_message() {
    let interval = Duration::from_secs(60);
    let (mut m, clock) = machine(VcConfig {
        keepalive: Some(interval),
        ..config(Some(Framing::NetbiosSession))
    });
    let first = m.poll_timeout(clock.at(0)).unwrap();
    assert_eq!(first, clock.at(60_000));
    m.handle_timeout(first);
    assert!(!m.task_must_write(), "no keepalive before the first message");
    send(&mut m, b"hello", Completion::Detached);
    write_out(&mut m, usize::MAX, None);
    let second = m.poll_timeout(first).unwrap();
    m.handle_timeout(second);
    assert!(!m.task_must_write(), "a message went out during the interval");
    let third = m.poll_timeout(second).unwrap();
    m.handle_timeout(third);
    assert!(m.task_must_write());
    assert_eq!(write_out(&mut m, usize::MAX, None).0, [0x85, 0, 0, 0]);
    assert_eq!(m.send_stats().tsdus, 1, "a keepalive is no TSDU");
}

#[test]
fn no_budget_for_a_receive_buffer_retries_after_a_short_while() {
    let (mut m, clock) = machine_with(config(None), 0);
    assert!(m.read_target().is_none());
    assert!(!m.wants_bytes());
    let retry = m.poll_timeout(clock.at(0)).unwrap();
    assert_eq!(retry, clock.at(10));
    assert!(m.read_target().is_none(), "not before the retry");
    m.handle_timeout(retry);
    assert!(m.wants_bytes());
}

#[test]
fn a_protocol_error_is_an_error_then_one_abortive_disconnect() {
    let (mut m, clock) = machine(config(Some(Framing::DirectTcp)));
    feed(&mut m, &[1, 0, 0, 0], clock.at(1));
    assert_eq!(
        events(&mut m, take_all),
        [
            "error STATUS_INVALID_NETWORK_RESPONSE",
            "disconnect DisconnectFlags(ABORT) STATUS_INVALID_NETWORK_RESPONSE lost=true"
        ]
    );
    assert_eq!(m.take_close(), Some(Close::Abortive));
    assert_eq!(m.receive_stats().errors, 1);
}

#[test]
fn a_client_panic_ends_the_vc_without_counting_it_lost() {
    let (mut m, _) = machine(config(None));
    m.fail(Status::UNHANDLED_EXCEPTION);
    assert_eq!(
        events(&mut m, take_all),
        ["disconnect DisconnectFlags(ABORT) STATUS_UNHANDLED_EXCEPTION lost=false"]
    );
    // Once over, a later failure changes nothing.
    m.fail(Status::CONNECTION_RESET);
    assert!(events(&mut m, take_all).is_empty());
}

#[test]
fn an_idle_vc_gives_its_receive_buffer_back() {
    let clock = Clock(Instant::now());
    let pool = Arc::new(BufferPool::new(64, 4, Budget::new(usize::MAX)));
    let mut m = VcMachine::new(config(None), pool.clone(), clock.at(0));
    feed(&mut m, b"abc", clock.at(1));
    assert_eq!(pool.free_count(), 0, "the buffer is out while bytes are held");
    events(&mut m, take_all);
    m.handle_read_idle();
    assert_eq!(pool.free_count(), 1);
}
