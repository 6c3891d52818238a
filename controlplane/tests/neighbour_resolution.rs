//! The neighbour resolution machine under the attacks of issue 20 (items 2 and 4): floods of
//! dead on-link next hops and of unsolicited advertisements, driven with explicit time.

use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use controlplane::neighbour_resolution::{
    Learned, NeighbourLimits, NeighbourResolution, HOLD_DOWN, RETRANSMIT, TRIES,
};

const PORT: u32 = 1;

fn on_link(i: u32) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(
        0x2001,
        0xdb8,
        0xa,
        0,
        0,
        0,
        (i >> 16) as u16,
        i as u16,
    ))
}

/// Steps the machine in 10 ms ticks until `until`, returning solicitations per whole second.
fn run(machine: &mut NeighbourResolution, from: Instant, seconds: u64) -> Vec<usize> {
    let mut per_second = vec![0; seconds as usize];
    for tick in 0..seconds * 100 {
        let now = from + Duration::from_millis(tick * 10);
        if machine.poll_timeout().is_some_and(|due| due <= now) {
            machine.handle_timeout(now);
        }
        while machine.poll_solicitation().is_some() {
            per_second[(tick / 100) as usize] += 1;
        }
    }
    per_second
}

#[test]
fn ten_thousand_dead_next_hops_cost_a_bounded_number_of_solicitations_per_second() {
    let limits = NeighbourLimits::default();
    let mut machine = NeighbourResolution::new(limits);
    let start = Instant::now();
    for i in 0..10_000 {
        machine.want((PORT, on_link(i)), false, start);
    }
    assert_eq!(
        machine.len(),
        (0, limits.max_unresolved),
        "only max_unresolved next hops are held"
    );
    assert_eq!(
        machine.stats().neighbour_wants_refused_full,
        10_000 - limits.max_unresolved as u64
    );
    let per_second = run(&mut machine, start, 60);
    println!("solicitations per second: {per_second:?}");
    assert!(per_second
        .iter()
        .all(|&n| n <= limits.solicitations_per_sec as usize));
    let total: usize = per_second.iter().sum();
    assert_eq!(
        total,
        limits.max_unresolved * usize::from(TRIES),
        "each dead next hop is solicited {TRIES} times, then held down and forgotten"
    );
    assert_eq!(machine.len(), (0, 0), "every dead next hop aged out");
    assert_eq!(
        machine.stats().neighbour_resolutions_failed,
        limits.max_unresolved as u64
    );
}

#[test]
fn a_held_down_next_hop_is_not_solicited_again_until_its_hold_down_ends() {
    let mut machine = NeighbourResolution::new(NeighbourLimits::default());
    let start = Instant::now();
    let dead = (PORT, on_link(7));
    machine.want(dead, false, start);
    let first_attempt = run(&mut machine, start, 4);
    assert_eq!(first_attempt.iter().sum::<usize>(), usize::from(TRIES));
    // Traffic keeps asking for it while it is held down: nothing is sent.
    let later = start + Duration::from_secs(4);
    machine.want(dead, false, later);
    assert_eq!(machine.stats().neighbour_wants_held_down, 1);
    assert_eq!(machine.poll_solicitation(), None);
    // After the hold-down the entry is gone, and a new want starts a new attempt.
    let after = start + Duration::from_secs(3) * u32::from(TRIES) + HOLD_DOWN;
    run(&mut machine, later, (after - later).as_secs() + 1);
    assert_eq!(machine.len(), (0, 0));
}

#[test]
fn configured_next_hops_are_retried_with_backoff_for_good() {
    let mut machine = NeighbourResolution::new(NeighbourLimits::default());
    let start = Instant::now();
    let gateway = (PORT, on_link(1));
    machine.want(gateway, true, start);
    let per_second = run(&mut machine, start, 600);
    let total: usize = per_second.iter().sum();
    // Attempts at 0, then hold-downs of 5, 10, 20, 40, 80, 160, 300 s between them.
    assert!(
        (7 * usize::from(TRIES)..=9 * usize::from(TRIES)).contains(&total),
        "{total} solicitations in 10 minutes: {per_second:?}"
    );
    assert_eq!(machine.len(), (0, 1), "still wanted");
    let now = start + Duration::from_secs(600);
    machine.learn(gateway, [2, 0, 0, 0, 0, 1], Learned::Answer, now);
    assert_eq!(machine.len(), (1, 0));
    assert_eq!(machine.take_changed(), vec![PORT]);
}

#[test]
fn sixty_thousand_unsolicited_advertisements_leave_the_table_as_it_was() {
    let limits = NeighbourLimits::default();
    let mut machine = NeighbourResolution::new(limits);
    let now = Instant::now();
    let wanted = (PORT, on_link(70_000));
    machine.want(wanted, false, now);
    machine.learn(wanted, [2, 0, 0, 0, 0, 9], Learned::Answer, now);
    machine.take_changed();
    for i in 0..60_000 {
        machine.learn((PORT, on_link(i)), [2, 0, 0, 0, 1, 1], Learned::Answer, now);
    }
    assert_eq!(machine.len(), (1, 0));
    assert_eq!(machine.stats().neighbours_unsolicited_ignored, 60_000);
    assert!(machine.take_changed().is_empty(), "nothing to republish");
    // An advertisement for a next hop we hold does update it (a NIC was replaced).
    machine.learn(wanted, [2, 0, 0, 0, 0, 10], Learned::Answer, now);
    assert_eq!(
        machine.macs(PORT).collect::<Vec<_>>(),
        vec![(wanted.1, [2, 0, 0, 0, 0, 10])]
    );
}

#[test]
fn requests_to_us_fill_the_table_only_to_its_bound() {
    let limits = NeighbourLimits {
        max_resolved: 1000,
        ..NeighbourLimits::default()
    };
    let mut machine = NeighbourResolution::new(limits);
    let now = Instant::now();
    for i in 0..60_000 {
        machine.learn(
            (PORT, on_link(i)),
            [2, 0, 0, 0, 1, 1],
            Learned::RequestToUs,
            now,
        );
    }
    assert_eq!(machine.len(), (1000, 0));
    assert_eq!(machine.stats().neighbours_requests_not_learned, 59_000);
    // A next hop we need still gets in, in place of the oldest.
    let later = now + Duration::from_secs(1);
    let needed = (PORT, on_link(99_999));
    machine.want(needed, false, later);
    machine.learn(needed, [2, 0, 0, 0, 0, 2], Learned::Answer, later);
    assert_eq!(machine.len(), (1000, 0));
    assert_eq!(machine.stats().neighbours_evicted, 1);
    assert!(machine.macs(PORT).any(|(a, _)| a == needed.1));
}

#[test]
fn a_learned_neighbour_is_refreshed_and_dropped_when_it_stops_answering() {
    let limits = NeighbourLimits::default();
    let mut machine = NeighbourResolution::new(limits);
    let start = Instant::now();
    let host = (PORT, on_link(5));
    machine.want(host, false, start);
    assert_eq!(run(&mut machine, start, 1)[0], 1);
    machine.learn(host, [2, 0, 0, 0, 0, 5], Learned::Answer, start);
    machine.take_changed();
    // Used unchanged until reachable_for, then solicited again while still used.
    let refresh = start + limits.reachable_for;
    let quiet = run(&mut machine, start, limits.reachable_for.as_secs());
    assert_eq!(quiet.iter().sum::<usize>(), 0, "nothing until the refresh");
    let refreshing = run(&mut machine, refresh, 1);
    assert_eq!(refreshing[0], 1);
    assert_eq!(machine.len(), (1, 0), "still usable while refreshing");
    // No answer to the refresh: dropped, and the port's table republished.
    run(&mut machine, refresh + RETRANSMIT, u64::from(TRIES) + 1);
    assert_eq!(machine.len().0, 0);
    assert_eq!(machine.stats().neighbours_expired, 1);
    assert_eq!(machine.take_changed(), vec![PORT]);
}
