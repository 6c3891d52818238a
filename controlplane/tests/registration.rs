//! The registration machine, driven with explicit time: two map-servers with different keys and
//! algorithms, Map-Notify verification and Map-Notify-Ack, a silent server backed off while the
//! other stays registered, and hostile notifies refused without changing state.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use controlplane::clock::WallClock;
use controlplane::nonce::NonceSource;
use controlplane::registration::{
    MapServerPeer, Notified, NotifyRefused, Registration, State, Timers,
};
use controlplane::wire::address::Address;
use controlplane::wire::auth::AuthAlgorithm;
use controlplane::wire::record::{Action, EidRecord, LocatorRecord};
use controlplane::wire::registration::{self, MapNotifyRepr, MapRegisterRepr, RegistrationPacket};

/// The Unix time machines of these tests start at.
fn clock(t0: Instant) -> WallClock {
    WallClock::new(t0, Duration::from_secs(1_800_000_000))
}

fn server(last: u8, key: &str, algorithm: AuthAlgorithm) -> MapServerPeer {
    MapServerPeer {
        address: SocketAddr::new(Ipv4Addr::new(192, 0, 2, last).into(), 4342),
        name: None,
        key: key.as_bytes().to_vec(),
        key_id: 0,
        algorithm,
        want_map_notify: true,
        proxy_reply: false,
        instance_id: None,
    }
}

fn records() -> Vec<EidRecord> {
    vec![EidRecord {
        ttl: 1440,
        mask_len: 24,
        action: Action::NoAction,
        authoritative: true,
        map_version: 0,
        eid: Address::Ipv4(Ipv4Addr::new(10, 1, 0, 0)),
        locators: vec![LocatorRecord::unicast(
            Address::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            1,
            100,
            true,
        )],
    }]
}

/// What a map-server answers to a Map-Register it accepts: a Map-Notify signed with its key.
fn notify_for(register: &[u8], key: &str, algorithm: AuthAlgorithm) -> Vec<u8> {
    let request = MapRegisterRepr::parse(register).unwrap();
    let mut notify = MapNotifyRepr {
        ack: false,
        rtr: false,
        body: request.body,
    };
    notify.body.prepare_auth(0, algorithm);
    let mut bytes = Vec::new();
    notify.emit(&mut bytes).unwrap();
    registration::sign(&mut bytes, key.as_bytes()).unwrap();
    bytes
}

#[test]
fn each_server_gets_its_own_key_and_a_silent_one_is_backed_off() {
    let t0 = Instant::now();
    let (a, b) = (
        server(100, "key-a", AuthAlgorithm::HmacSha1),
        server(101, "key-b", AuthAlgorithm::HmacSha256),
    );
    let timers = Timers {
        interval: Duration::from_secs(60),
        notify_timeout: Duration::from_secs(3),
        retry: Duration::from_secs(1),
    };
    let mut machine = Registration::new(
        vec![a.clone(), b.clone()],
        records(),
        None,
        timers,
        NonceSource::seeded(42),
        clock(t0),
        t0,
    );
    assert_eq!(machine.poll_timeout(), Some(t0));
    machine.handle_timeout(t0);
    let sent: Vec<_> = std::iter::from_fn(|| machine.poll_transmit()).collect();
    assert_eq!(sent.len(), 2);
    for (transmit, (server, key, other)) in sent
        .iter()
        .zip([(&a, "key-a", "key-b"), (&b, "key-b", "key-a")])
    {
        assert_eq!(transmit.destination, server.address);
        let packet = RegistrationPacket::new_checked(&transmit.payload[..]).unwrap();
        assert_eq!(packet.algorithm_id(), server.algorithm.id());
        assert_eq!(
            packet.auth_data().len(),
            server.algorithm.output_len(),
            "full HMAC length"
        );
        assert!(
            packet.verify(key.as_bytes()),
            "signed with this server's key"
        );
        assert!(!packet.verify(other.as_bytes()));
        let register = MapRegisterRepr::parse(&transmit.payload).unwrap();
        assert!(register.want_map_notify);
        assert_eq!(register.body.records, records());
    }
    assert!(machine.status().iter().all(|s| s.state == State::Waiting));

    // A answers; B stays silent. A Map-Notify that answers our Map-Register is not acknowledged
    // (RFC 9301; a deployed map-server crashes on the ack).
    let notify = notify_for(&sent[0].payload, "key-a", AuthAlgorithm::HmacSha1);
    assert_eq!(
        machine.handle_notify(a.address, &notify, t0 + Duration::from_millis(20)),
        Ok(Notified::Registered)
    );
    assert!(machine.poll_transmit().is_none(), "no Map-Notify-Ack");
    assert_eq!(machine.status()[0].state, State::Registered);

    // B's notify times out: failing, retried after 1 s, then 2 s, then 4 s; A is untouched.
    machine.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(machine.status()[1].state, State::Failing { failures: 1 });
    assert!(machine.poll_transmit().is_none());
    let mut retries = Vec::new();
    let mut now = t0 + Duration::from_secs(3);
    while now < t0 + Duration::from_secs(30) {
        now += Duration::from_millis(100);
        machine.handle_timeout(now);
        while let Some(t) = machine.poll_transmit() {
            assert_eq!(
                t.destination, b.address,
                "only the failing server is retried before A's interval"
            );
            retries.push(now.duration_since(t0).as_millis());
        }
    }
    assert_eq!(
        retries,
        vec![4000, 9000, 16000, 27000],
        "1 s, 2 s, 4 s, 8 s after each 3 s timeout"
    );
    assert_eq!(machine.status()[0].state, State::Registered);

    // A is re-registered at its interval.
    machine.handle_timeout(t0 + Duration::from_secs(60));
    let periodic: Vec<_> = std::iter::from_fn(|| machine.poll_transmit()).collect();
    assert!(periodic.iter().any(|t| t.destination == a.address));
}

#[test]
fn hostile_notifies_are_refused_without_changing_state() {
    let t0 = Instant::now();
    let a = server(100, "key-a", AuthAlgorithm::HmacSha256);
    let mut machine = Registration::new(
        vec![a.clone()],
        records(),
        None,
        Timers::default(),
        NonceSource::seeded(7),
        clock(t0),
        t0,
    );
    machine.handle_timeout(t0);
    let register = machine.poll_transmit().unwrap();
    let good = notify_for(&register.payload, "key-a", AuthAlgorithm::HmacSha256);

    let stranger = SocketAddr::new(Ipv4Addr::new(203, 0, 113, 9).into(), 4342);
    assert_eq!(
        machine.handle_notify(stranger, &good, t0),
        Err(NotifyRefused::UnknownServer)
    );
    let forged = notify_for(&register.payload, "wrong-key", AuthAlgorithm::HmacSha256);
    assert_eq!(
        machine.handle_notify(a.address, &forged, t0),
        Err(NotifyRefused::BadAuthentication)
    );
    let mut stale = MapNotifyRepr::parse(&good).unwrap();
    stale.body.nonce ^= 1;
    stale.body.prepare_auth(0, AuthAlgorithm::HmacSha256);
    let mut stale_bytes = Vec::new();
    stale.emit(&mut stale_bytes).unwrap();
    registration::sign(&mut stale_bytes, b"key-a").unwrap();
    assert_eq!(
        machine.handle_notify(a.address, &good[..10], t0),
        Err(NotifyRefused::Malformed)
    );
    assert_eq!(
        machine.status()[0].state,
        State::Waiting,
        "nothing above changed the state"
    );
    assert!(
        machine.poll_transmit().is_none(),
        "no ack for refused messages"
    );

    // An authenticated Map-Notify for no Map-Register of ours is the map-server's own news:
    // acknowledged, with nothing changed.
    assert_eq!(
        machine.handle_notify(a.address, &stale_bytes, t0),
        Ok(Notified::Unsolicited)
    );
    assert_eq!(machine.status()[0].state, State::Waiting);
    let ack = machine.poll_transmit().expect("Map-Notify-Ack");
    assert_eq!(ack.destination, a.address);
    assert!(MapNotifyRepr::parse(&ack.payload).unwrap().ack);
    assert!(RegistrationPacket::new_checked(&ack.payload[..])
        .unwrap()
        .verify(b"key-a"));

    assert_eq!(
        machine.handle_notify(a.address, &good, t0),
        Ok(Notified::Registered)
    );
    assert_eq!(machine.status()[0].state, State::Registered);
    assert!(
        machine.poll_transmit().is_none(),
        "the solicited one is not acked"
    );
}

#[test]
fn database_changes_register_at_once() {
    let t0 = Instant::now();
    let mut machine = Registration::new(
        vec![server(100, "k", AuthAlgorithm::HmacSha1)],
        records(),
        None,
        Timers::default(),
        NonceSource::seeded(1),
        clock(t0),
        t0,
    );
    machine.handle_timeout(t0);
    let _ = machine.poll_transmit();
    let first = machine.status()[0].next_register;
    let mut changed = records();
    changed[0].locators[0].priority = 5;
    let later = t0 + Duration::from_secs(10);
    machine.set_records(changed.clone(), later);
    assert!(machine.status()[0].next_register < first);
    machine.handle_timeout(later + Duration::from_secs(3));
    let register = std::iter::from_fn(|| machine.poll_transmit())
        .last()
        .expect("re-registered");
    assert_eq!(
        MapRegisterRepr::parse(&register.payload)
            .unwrap()
            .body
            .records,
        changed
    );
}
