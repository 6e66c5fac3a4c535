//! The race on a fake clock: time is a number of milliseconds from the
//! origin, attempts succeed and fail when the test says so.

use std::time::{Duration, Instant};

use super::*;

/// A clock that starts at an arbitrary instant and moves only when told.
struct Clock(Instant);

impl Clock {
    fn at(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

fn config(policy: SelectPolicy) -> RaceConfig {
    RaceConfig {
        policy,
        transport_stagger: Duration::from_millis(5),
        address_stagger: Duration::from_millis(10),
        attempt_timeout: Duration::from_millis(1000),
        deadline: None,
        best_wait: Duration::from_millis(500),
    }
}

fn plan(binding: usize) -> AttemptPlan {
    AttemptPlan {
        binding,
        resolved: 0,
        quality: 0,
    }
}

/// A race over one attempt per binding, begun at 0 ms.
fn race(config: RaceConfig, bindings: usize) -> (Race, Clock) {
    let clock = Clock(Instant::now());
    let mut race = Race::new(config, clock.at(0));
    for binding in 0..bindings {
        assert_eq!(race.add_attempt(plan(binding)), binding);
    }
    race.begin(clock.at(0));
    (race, clock)
}

fn actions(race: &mut Race) -> Vec<Action> {
    std::iter::from_fn(|| race.poll_action()).collect()
}

fn codes(race: &Race) -> Vec<Status> {
    (0..race.len())
        .map(|n| Status::from_code(race.status(n).code()))
        .collect()
}

#[test]
fn first_successful_staggers_its_attempts_and_the_first_success_wins() {
    let (mut r, clock) = race(config(SelectPolicy::FirstSuccessful), 3);
    assert_eq!(actions(&mut r), [Action::Start(0), Action::Wait(1), Action::Wait(2)]);
    assert_eq!(r.poll_timeout(), Some(clock.at(5)));
    r.handle_timeout(clock.at(4));
    assert!(actions(&mut r).is_empty(), "nothing is due before 5 ms");
    r.handle_timeout(clock.at(5));
    assert_eq!(actions(&mut r), [Action::Start(1)]);
    assert_eq!(r.poll_timeout(), Some(clock.at(10)));
    r.handle_success(1, clock.at(7));
    assert_eq!(
        actions(&mut r),
        [Action::Cancel(0), Action::Cancel(2), Action::Finish(Ok(vec![1]))],
        "the losers, running or still waiting, are cancelled before the end"
    );
    assert_eq!(codes(&r), [Status::CANCELLED, Status::SUCCESS, Status::CANCELLED]);
    assert_eq!(r.elapsed(1), Duration::from_millis(7));
    assert_eq!(r.elapsed(0), Duration::from_millis(7));
    assert!(r.is_finished());
    assert_eq!(r.poll_timeout(), None);
}

#[test]
fn the_address_stagger_spaces_the_addresses_of_one_host_name_in_every_policy() {
    for policy in [
        SelectPolicy::FirstSuccessful,
        SelectPolicy::BestSuccessful,
        SelectPolicy::AllSuccessful,
    ] {
        let clock = Clock(Instant::now());
        let mut r = Race::new(config(policy), clock.at(0));
        for resolved in 0..3 {
            r.add_attempt(AttemptPlan {
                binding: 0,
                resolved,
                quality: 0,
            });
        }
        r.add_attempt(plan(1));
        r.begin(clock.at(0));
        // Only first successful staggers the second binding (5 ms).
        let second = if policy == SelectPolicy::FirstSuccessful {
            Action::Wait(3)
        } else {
            Action::Start(3)
        };
        assert_eq!(
            actions(&mut r),
            [Action::Start(0), Action::Wait(1), Action::Wait(2), second],
            "{policy:?}"
        );
        let mut started = Vec::new();
        for ms in 1..=20 {
            r.handle_timeout(clock.at(ms));
            for action in actions(&mut r) {
                started.push((ms, action));
            }
        }
        let mut expected = vec![(10, Action::Start(1)), (20, Action::Start(2))];
        if policy == SelectPolicy::FirstSuccessful {
            expected.insert(0, (5, Action::Start(3)));
        }
        assert_eq!(started, expected, "{policy:?}");
    }
}

#[test]
fn a_zero_stagger_starts_everything_at_once() {
    let config = RaceConfig {
        transport_stagger: Duration::ZERO,
        ..config(SelectPolicy::FirstSuccessful)
    };
    let (mut r, clock) = race(config, 2);
    assert_eq!(actions(&mut r), [Action::Start(0), Action::Start(1)]);
    assert_eq!(r.poll_timeout(), Some(clock.at(1000)), "the attempts' own deadline");
}

#[test]
fn best_successful_waits_for_the_others_then_takes_quality_then_binding() {
    let clock = Clock(Instant::now());
    let mut r = Race::new(config(SelectPolicy::BestSuccessful), clock.at(0));
    for (binding, quality) in [(0, 1), (1, 5), (2, 5), (3, 0)] {
        r.add_attempt(AttemptPlan {
            binding,
            resolved: 0,
            quality,
        });
    }
    r.begin(clock.at(0));
    assert_eq!(
        actions(&mut r),
        [Action::Start(0), Action::Start(1), Action::Start(2), Action::Start(3)]
    );
    r.handle_success(0, clock.at(10));
    assert!(
        actions(&mut r).is_empty(),
        "a success does not end a best-successful race"
    );
    assert_eq!(r.poll_timeout(), Some(clock.at(510)), "the best wait");
    r.handle_success(2, clock.at(20));
    r.handle_success(1, clock.at(30));
    r.handle_failure(3, Status::CONNECTION_REFUSED, clock.at(40));
    assert_eq!(
        actions(&mut r),
        [Action::Finish(Ok(vec![1]))],
        "every attempt ended: quality 5 wins, binding 1 before binding 2"
    );
    assert_eq!(
        codes(&r),
        [
            Status::CANCELLED,
            Status::SUCCESS,
            Status::CANCELLED,
            Status::CONNECTION_REFUSED
        ]
    );
    assert!(
        r.status(2).to_string().contains("a better transport won"),
        "{}",
        r.status(2)
    );
}

#[test]
fn the_best_wait_ends_a_best_successful_race() {
    let (mut r, clock) = race(config(SelectPolicy::BestSuccessful), 2);
    actions(&mut r);
    r.handle_success(1, clock.at(100));
    r.handle_timeout(clock.at(599));
    assert!(actions(&mut r).is_empty());
    r.handle_timeout(clock.at(600));
    assert_eq!(actions(&mut r), [Action::Cancel(0), Action::Finish(Ok(vec![1]))]);
    assert_eq!(codes(&r), [Status::CANCELLED, Status::SUCCESS]);
}

#[test]
fn equal_best_successes_go_to_the_first_connected() {
    let clock = Clock(Instant::now());
    let mut r = Race::new(config(SelectPolicy::BestSuccessful), clock.at(0));
    for resolved in 0..2 {
        r.add_attempt(AttemptPlan {
            binding: 0,
            resolved,
            quality: 3,
        });
    }
    r.begin(clock.at(0));
    actions(&mut r);
    r.handle_timeout(clock.at(10));
    assert_eq!(actions(&mut r), [Action::Start(1)]);
    r.handle_success(1, clock.at(11));
    r.handle_success(0, clock.at(12));
    assert_eq!(actions(&mut r), [Action::Finish(Ok(vec![1]))]);
}

#[test]
fn all_successful_keeps_every_success_in_the_order_they_connected() {
    let (mut r, clock) = race(config(SelectPolicy::AllSuccessful), 3);
    assert_eq!(actions(&mut r), [Action::Start(0), Action::Start(1), Action::Start(2)]);
    r.handle_success(2, clock.at(1));
    r.handle_failure(1, Status::CONNECTION_REFUSED, clock.at(2));
    assert!(actions(&mut r).is_empty());
    r.handle_success(0, clock.at(3));
    assert_eq!(actions(&mut r), [Action::Finish(Ok(vec![2, 0]))]);
}

#[test]
fn an_attempt_runs_out_of_time_from_its_own_start() {
    let (mut r, clock) = race(config(SelectPolicy::FirstSuccessful), 2);
    assert_eq!(actions(&mut r), [Action::Start(0), Action::Wait(1)]);
    r.handle_timeout(clock.at(5));
    assert_eq!(actions(&mut r), [Action::Start(1)]);
    assert_eq!(r.poll_timeout(), Some(clock.at(1000)));
    r.handle_timeout(clock.at(1000));
    assert_eq!(actions(&mut r), [Action::Cancel(0)], "the other has 5 ms left");
    assert_eq!(*r.status(0), Status::IO_TIMEOUT);
    assert_eq!(r.poll_timeout(), Some(clock.at(1005)));
    r.handle_timeout(clock.at(1005));
    assert_eq!(
        actions(&mut r),
        [Action::Cancel(1), Action::Finish(Err(Status::IO_TIMEOUT))]
    );
}

#[test]
fn the_build_deadline_cuts_every_attempt_short() {
    let config = RaceConfig {
        deadline: Some(Duration::from_millis(300)),
        ..config(SelectPolicy::AllSuccessful)
    };
    let (mut r, clock) = race(config, 2);
    actions(&mut r);
    assert_eq!(r.poll_timeout(), Some(clock.at(300)));
    r.handle_timeout(clock.at(300));
    let end = actions(&mut r);
    assert_eq!(end[..2], [Action::Cancel(0), Action::Cancel(1)]);
    let Action::Finish(Err(status)) = &end[2] else {
        panic!("{end:?}");
    };
    assert_eq!(*status, Status::IO_TIMEOUT);
    assert!(status.to_string().contains("deadline"), "{status}");
    assert_eq!(codes(&r), [Status::IO_TIMEOUT, Status::IO_TIMEOUT]);
    assert_eq!(r.elapsed(1), Duration::from_millis(300));
}

#[test]
fn the_deadline_counts_from_the_origin_and_keeps_what_succeeded() {
    let clock = Clock(Instant::now());
    let config = RaceConfig {
        deadline: Some(Duration::from_millis(300)),
        ..config(SelectPolicy::AllSuccessful)
    };
    let mut r = Race::new(config, clock.at(0));
    r.add_attempt(plan(0));
    r.add_attempt(plan(1));
    // Planning (name resolution) took 100 ms.
    r.begin(clock.at(100));
    actions(&mut r);
    r.handle_success(1, clock.at(150));
    r.handle_timeout(clock.at(300));
    assert_eq!(actions(&mut r), [Action::Cancel(0), Action::Finish(Ok(vec![1]))]);
}

#[test]
fn a_telling_failure_survives_the_deadline() {
    let config = RaceConfig {
        deadline: Some(Duration::from_millis(300)),
        ..config(SelectPolicy::AllSuccessful)
    };
    let (mut r, clock) = race(config, 2);
    actions(&mut r);
    r.handle_failure(1, Status::CONNECTION_REFUSED.with_message("refused"), clock.at(10));
    r.handle_timeout(clock.at(300));
    assert_eq!(
        actions(&mut r),
        [Action::Cancel(0), Action::Finish(Err(Status::CONNECTION_REFUSED))],
        "a refusal says more than the deadline"
    );
}

#[test]
fn the_most_telling_status_wins_and_ties_go_to_binding_order() {
    let statuses = [
        Status::CANCELLED,
        Status::IO_TIMEOUT.with_message("first timeout"),
        Status::CONNECTION_REFUSED.with_message("first refusal"),
        Status::IO_TIMEOUT,
        Status::CONNECTION_REFUSED.with_message("second refusal"),
    ];
    let chosen = most_telling(statuses.iter()).unwrap();
    assert_eq!(*chosen, Status::CONNECTION_REFUSED);
    assert!(chosen.to_string().contains("first refusal"), "{chosen}");
    let server_said = [
        Status::CONNECTION_RESET,
        Status::REMOTE_NOT_LISTENING,
        Status::CONNECTION_REFUSED,
    ];
    assert_eq!(*most_telling(server_said.iter()).unwrap(), Status::REMOTE_NOT_LISTENING);
    assert!(most_telling([].iter()).is_none());

    // In a race, binding order: an attempt that failed to plan (added last)
    // on binding 0 beats an equal failure on binding 1.
    let clock = Clock(Instant::now());
    let mut r = Race::new(config(SelectPolicy::AllSuccessful), clock.at(0));
    r.add_attempt(plan(1));
    r.add_failed(0, Status::BAD_NETWORK_PATH.with_message("binding 0"));
    r.begin(clock.at(0));
    assert_eq!(actions(&mut r), [Action::Start(0)]);
    r.handle_failure(0, Status::BAD_NETWORK_PATH.with_message("binding 1"), clock.at(1));
    let end = actions(&mut r);
    let [Action::Finish(Err(status))] = &end[..] else {
        panic!("{end:?}");
    };
    assert!(status.to_string().contains("binding 0"), "{status}");
}

#[test]
fn a_race_with_nothing_to_run_ends_at_once() {
    let clock = Clock(Instant::now());
    let mut r = Race::new(config(SelectPolicy::FirstSuccessful), clock.at(0));
    r.add_failed(0, Status::BAD_NETWORK_PATH);
    r.add_failed(1, Status::HOST_UNREACHABLE);
    r.begin(clock.at(0));
    assert_eq!(actions(&mut r), [Action::Finish(Err(Status::HOST_UNREACHABLE))]);
    assert_eq!(r.elapsed(0), Duration::ZERO);

    let mut empty = Race::new(config(SelectPolicy::FirstSuccessful), clock.at(0));
    empty.begin(clock.at(0));
    assert_eq!(actions(&mut empty), [Action::Finish(Err(Status::INVALID_HANDLE))]);
}

#[test]
fn a_waiting_attempt_cancelled_from_outside_ends_without_starting() {
    let (mut r, clock) = race(config(SelectPolicy::FirstSuccessful), 2);
    actions(&mut r);
    // A cancel-connect-request reaches both, one still waiting to start.
    r.handle_failure(1, Status::CANCELLED, clock.at(1));
    assert!(actions(&mut r).is_empty());
    assert_eq!(r.poll_timeout(), Some(clock.at(1000)), "no start is due any more");
    r.handle_failure(0, Status::CANCELLED, clock.at(2));
    assert_eq!(actions(&mut r), [Action::Finish(Err(Status::CANCELLED))]);
}

#[test]
fn results_after_an_attempt_is_over_change_nothing() {
    let (mut r, clock) = race(config(SelectPolicy::FirstSuccessful), 2);
    actions(&mut r);
    r.handle_timeout(clock.at(5));
    r.handle_success(0, clock.at(6));
    assert_eq!(
        actions(&mut r),
        [Action::Start(1), Action::Cancel(1), Action::Finish(Ok(vec![0]))]
    );
    // The loser connects anyway, then another result comes for the winner.
    r.handle_success(1, clock.at(7));
    r.handle_failure(0, Status::CONNECTION_RESET, clock.at(8));
    r.handle_timeout(clock.at(5000));
    assert!(actions(&mut r).is_empty());
    assert_eq!(codes(&r), [Status::SUCCESS, Status::CANCELLED]);

    // An attempt cut short by its own deadline that connects at last.
    let (mut r, clock) = race(config(SelectPolicy::AllSuccessful), 2);
    actions(&mut r);
    r.handle_success(1, clock.at(10));
    r.handle_timeout(clock.at(1000));
    assert_eq!(actions(&mut r), [Action::Cancel(0), Action::Finish(Ok(vec![1]))]);
    r.handle_success(0, clock.at(1001));
    assert!(actions(&mut r).is_empty());
    assert_eq!(*r.status(0), Status::IO_TIMEOUT);
}

#[test]
fn a_failure_with_nothing_else_running_starts_the_next_attempt_at_once() {
    // Windows' order of SMB transports: tcp+smb, then quic only after it
    // fails (or after a long stagger while it still tries).
    let long = RaceConfig {
        transport_stagger: Duration::from_millis(800),
        ..config(SelectPolicy::FirstSuccessful)
    };
    let (mut r, clock) = race(long.clone(), 3);
    assert_eq!(actions(&mut r), [Action::Start(0), Action::Wait(1), Action::Wait(2)]);
    r.handle_failure(0, Status::CONNECTION_REFUSED, clock.at(3));
    assert_eq!(
        actions(&mut r),
        [Action::Start(1)],
        "the next starts at the failure, not at 800 ms"
    );
    assert_eq!(r.poll_timeout(), Some(clock.at(1003)));
    r.handle_success(1, clock.at(20));
    assert_eq!(actions(&mut r), [Action::Cancel(2), Action::Finish(Ok(vec![1]))]);

    // While the first still runs, the stagger holds; a success means the
    // second never starts.
    let (mut r, clock) = race(long.clone(), 2);
    actions(&mut r);
    r.handle_timeout(clock.at(500));
    assert!(actions(&mut r).is_empty());
    r.handle_success(0, clock.at(600));
    assert_eq!(actions(&mut r), [Action::Cancel(1), Action::Finish(Ok(vec![0]))]);

    // A cancellation from outside starts nothing.
    let (mut r, clock) = race(long, 2);
    actions(&mut r);
    r.handle_failure(0, Status::CANCELLED, clock.at(1));
    assert!(actions(&mut r).is_empty(), "no start after a cancel");

    // Other policies start everything at once anyway.
    let (mut r, _) = race(config(SelectPolicy::AllSuccessful), 2);
    assert_eq!(actions(&mut r), [Action::Start(0), Action::Start(1)]);
}
