//! The ETR path and the frame classifier on arbitrary bytes: every input gets a class and a
//! verdict, never a panic; a decapsulated packet is a valid inner IP packet.
#![no_main]

use std::net::IpAddr;
use std::sync::OnceLock;

use dataplane::mapcache::{DatabaseWriter, Instances};
use dataplane::pipeline::{
    classify, decapsulate, feedback_channel, inspect, AllowedSources, CoreCounters, EchoNonces,
    EtrContext, EtrVerdict, LocalRlocs, VecBuffer,
};
use dataplane::rcu::Qsbr;
use libfuzzer_sys::fuzz_target;

struct Fixture {
    database: DatabaseWriter,
    qsbr: std::sync::Arc<Qsbr>,
    local: LocalRlocs,
    allowed: AllowedSources,
    instances: Instances,
}

fn fixture() -> &'static std::sync::Mutex<Fixture> {
    static FIXTURE: OnceLock<std::sync::Mutex<Fixture>> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let qsbr = Qsbr::new(1);
        // The default instance and instance 7 both hold the same EID space.
        let instances = Instances::new([7]).unwrap();
        let mut database = DatabaseWriter::new(instances.clone(), qsbr.clone());
        for prefix in ["10.0.0.0/8", "2001:db8::/32"] {
            for instance_id in [0, 7] {
                database
                    .insert(prefix.parse().unwrap(), instance_id)
                    .unwrap();
            }
        }
        database.publish();
        let local = LocalRlocs {
            all: vec![
                "192.0.2.1".parse::<IpAddr>().unwrap(),
                "2001:db8:ff::1".parse().unwrap(),
            ],
            ..LocalRlocs::default()
        };
        std::sync::Mutex::new(Fixture {
            database,
            qsbr,
            local,
            allowed: AllowedSources::new(&["192.0.2.0/24".parse().unwrap()]).unwrap(),
            instances,
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture().lock().unwrap();
    let _ = classify(data, &fixture.local);
    let reader = fixture.qsbr.register().unwrap();
    let database = fixture.database.shared();
    let counters = CoreCounters::default();
    let (mut feedback, _rx) = feedback_channel(4);
    let echo = EchoNonces::default();
    let mut ctx = EtrContext {
        database: database.view(&reader),
        instances: &fixture.instances,
        local: &fixture.local,
        counters: &counters,
        feedback: &mut feedback,
        echo: &echo,
        // The ETR, the proxy-ETR (for any ITR or only for 192.0.2.0/24) and the RTR, by the
        // last byte.
        proxy_etr: data.last().is_some_and(|b| b & 1 == 1),
        proxy_etr_allowed: if data.last().is_some_and(|b| b & 4 == 4) {
            &fixture.allowed
        } else {
            &AllowedSources::default()
        },
        reencapsulate: data.last().is_some_and(|b| b & 2 == 2),
    };
    let mut buffer = VecBuffer::new(64, data, 4096);
    match decapsulate(&mut ctx, &mut buffer) {
        EtrVerdict::Decapsulated { destination, .. }
        | EtrVerdict::NativeForward { destination }
        | EtrVerdict::Reencapsulate { destination } => {
            let inner = inspect(dataplane::pipeline::PacketBuffer::data(&buffer))
                .expect("decapsulated packets are valid IP");
            assert_eq!(inner.destination(), destination);
        }
        EtrVerdict::ToControl => {
            let inner = inspect(dataplane::pipeline::PacketBuffer::data(&buffer))
                .expect("decapsulated packets are valid IP");
            assert!(fixture.local.is_ours(inner.destination()));
        }
        EtrVerdict::Drop(_) => {}
    }
});
