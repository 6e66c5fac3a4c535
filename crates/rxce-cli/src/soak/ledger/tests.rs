use super::*;

fn lineage() -> Lineage {
    Lineage {
        vc: 1,
        connection: 2,
        address: 3,
        transport: 4,
        connection_address: 3,
        connection_transport: 4,
    }
}

fn echo(framed: bool) -> VcLedger {
    let mut ledger = VcLedger::new(lineage(), 42);
    ledger.set_content(Content::Echo { framed });
    ledger
}

/// Indicates `data` with `available` and takes all of it.
fn take(ledger: &mut VcLedger, data: &[u8], available: usize) -> Result<(), String> {
    ledger.indication(data.len(), available)?;
    ledger.consume(data)
}

#[test]
fn a_stream_echo_must_come_back_intact_in_order_and_no_longer_than_sent() {
    let mut ledger = echo(false);
    let first = ledger.next_payload(10).unwrap().into_bytes();
    let second = ledger.next_payload(5).unwrap().into_bytes();
    let stream = [first, second].concat();
    take(&mut ledger, &stream[..7], 7).unwrap();
    take(&mut ledger, &stream[7..], 8).unwrap();
    assert_eq!(ledger.totals(), (15, 15));
    assert!(take(&mut ledger, &[0], 1)
        .unwrap_err()
        .contains("16 bytes came back where 15"));

    let mut ledger = echo(false);
    let mut sent = ledger.next_payload(100).unwrap().into_bytes();
    sent[60] ^= 1;
    assert!(take(&mut ledger, &sent, 100)
        .unwrap_err()
        .contains("byte 60 of the echo differs"));
}

#[test]
fn a_send_refused_or_cut_gives_its_pattern_positions_back() {
    let mut ledger = echo(false);
    let refused = ledger.next_payload(8).unwrap().into_bytes();
    ledger.not_sent(8, 0);
    let cut = ledger.next_payload(8).unwrap().into_bytes();
    assert_eq!(cut, refused, "the same positions again");
    ledger.not_sent(8, 3);
    let next = ledger.next_payload(4).unwrap().into_bytes();
    take(&mut ledger, &[&cut[..3], &next[..]].concat(), 7).unwrap();
    assert_eq!(ledger.totals(), (7, 7));
}

#[test]
fn a_framed_echo_comes_back_message_by_message() {
    let mut ledger = echo(true);
    let first = ledger.next_payload(6).unwrap().into_bytes();
    assert_eq!(
        ledger.next_payload(0).unwrap().into_bytes(),
        b"",
        "an empty message is not indicated"
    );
    let second = ledger.next_payload(4).unwrap().into_bytes();
    // Part of the first, then the rest into a client buffer.
    ledger.indication(4, 6).unwrap();
    ledger.consume(&first[..2]).unwrap();
    ledger.consume(&first[2..]).unwrap();
    // The second, indicated whole.
    take(&mut ledger, &second, 4).unwrap();
    assert_eq!(ledger.totals(), (10, 10));

    let mut ledger = echo(true);
    let _ = ledger.next_payload(6).unwrap().into_bytes();
    assert!(ledger.indication(6, 7).unwrap_err().contains("announces 7 bytes"));
    let mut ledger = echo(true);
    let a = ledger.next_payload(3).unwrap().into_bytes();
    let b = ledger.next_payload(3).unwrap().into_bytes();
    ledger.indication(3, 3).unwrap();
    assert!(ledger
        .consume(&[a, b].concat())
        .unwrap_err()
        .contains("where 3 were left"));
    let mut ledger = echo(true);
    assert!(ledger.indication(3, 3).unwrap_err().contains("none was sent"));
}

#[test]
fn each_asynchronous_send_is_submitted_then_completed_exactly_once() {
    let mut ledger = echo(false);
    ledger.submit(7);
    ledger.submitted(7).unwrap();
    ledger.completed(7, &Status::SUCCESS).unwrap();
    assert!(ledger.completed(7, &Status::SUCCESS).unwrap_err().contains("twice"));
    ledger.submit(8);
    assert!(ledger
        .completed(8, &Status::SUCCESS)
        .unwrap_err()
        .contains("before send-submitted"));
    ledger.submit(9);
    ledger.submitted(9).unwrap();
    assert!(ledger.submitted(9).unwrap_err().contains("twice"));
    assert!(ledger.refused(9).unwrap_err().contains("refused"));
    ledger.submit(10);
    ledger.refused(10).unwrap();
    ledger.submit(11);
    ledger.submitted(11).unwrap();
    ledger.torn_down();
    let broken = ledger.final_check();
    assert_eq!(broken.len(), 1, "{broken:?}");
    assert!(broken[0].contains("never completed (contexts [11])"), "{broken:?}");
}

#[test]
fn nothing_may_be_indicated_after_the_tear_down_returned() {
    let mut ledger = echo(false);
    ledger.check_live("a receive indication").unwrap();
    ledger.torn_down();
    assert!(ledger.is_torn_down());
    assert_eq!(
        ledger.check_live("a receive indication").unwrap_err(),
        "a receive indication after the tear-down of VC 1 returned"
    );
}

#[test]
fn a_clean_end_owes_every_byte_an_abortive_one_does_not() {
    let mut ledger = echo(false);
    let sent = ledger.next_payload(10).unwrap().into_bytes();
    take(&mut ledger, &sent[..4], 4).unwrap();
    ledger.initiated_disconnect();
    ledger.disconnected(DisconnectFlags::RELEASE, Status::SUCCESS).unwrap();
    let broken = ledger.final_check();
    assert!(broken[0].contains("4 of the 10 bytes"), "{broken:?}");
    assert!(ledger
        .disconnected(DisconnectFlags::ABORT, Status::CONNECTION_RESET)
        .unwrap_err()
        .contains("second disconnect"));

    let mut ledger = echo(false);
    let sent = ledger.next_payload(10).unwrap().into_bytes();
    take(&mut ledger, &sent[..4], 4).unwrap();
    ledger
        .disconnected(DisconnectFlags::ABORT, Status::CONNECTION_RESET)
        .unwrap();
    assert_eq!(ledger.final_check(), Vec::<String>::new());

    let mut ledger = echo(true);
    let sent = ledger.next_payload(10).unwrap().into_bytes();
    take(&mut ledger, &sent, 10).unwrap();
    ledger.initiated_disconnect();
    ledger.disconnected(DisconnectFlags::RELEASE, Status::SUCCESS).unwrap();
    assert_eq!(ledger.final_check(), Vec::<String>::new());
}

#[test]
fn an_smbd_answer_is_read_across_indications() {
    let mut ledger = VcLedger::new(lineage(), 1);
    ledger.set_content(Content::Smb(SmbConversation::default()));
    let negotiate = ledger.next_payload(1000).unwrap().into_bytes();
    assert_eq!(negotiate[12], 0);
    assert_eq!(ledger.next_payload(1), None, "no credit before the answer");
    let mut answer = negotiate[..64].to_vec();
    answer[16] = 1;
    answer[14] = 3;
    let mut body = vec![0u8; 64];
    body[0] = 65;
    answer.extend_from_slice(&body);
    ledger.indication(30, answer.len()).unwrap();
    ledger.consume(&answer[..30]).unwrap();
    ledger.indication(answer.len() - 30, answer.len() - 30).unwrap();
    ledger.consume(&answer[30..]).unwrap();
    assert!(ledger.next_payload(1).is_some(), "credits granted");
    assert!(ledger.indication(4, 4).is_ok());
    assert!(ledger.consume(b"junk").unwrap_err().contains("bad ECHO answer"));
}

#[test]
fn the_lineage_names_every_object_whose_tear_down_reaches_the_vc() {
    let lineage = Lineage {
        address: 30,
        transport: 40,
        ..lineage()
    };
    for id in [1, 2, 3, 4, 30, 40] {
        assert!(lineage.contains(id));
    }
    assert!(!lineage.contains(5));
}

#[test]
fn a_lost_vc_is_rebuilt_or_given_up_once() {
    let mut ledger = echo(false);
    ledger.rebuild_ended("reconnected").unwrap();
    assert_eq!(
        ledger.rebuild_ended("reconnected").unwrap_err(),
        "reconnected after reconnected for the same lost VC"
    );
    assert!(ledger.rebuild_ended("reconnect-failed").is_err());
}
