//! The ECM path as the control core runs it: outer ECM, inner IPv4/IPv6 + UDP, then the inner
//! control message; and the Data-Map-Notify, the same inner datagram behind a LISP data header.
#![no_main]

use controlplane::wire::data_map_notify::DataMapNotifyRepr;
use controlplane::wire::ecm::EcmRepr;
use controlplane::wire::map_request::MapRequestRepr;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ecm) = EcmRepr::parse(data) {
        let _ = MapRequestRepr::parse(&ecm.message);
        let mut bytes = Vec::new();
        if ecm.emit(&mut bytes).is_ok() {
            assert_eq!(EcmRepr::parse(&bytes).ok(), Some(ecm));
        }
    }
    if let Ok(notify) = DataMapNotifyRepr::parse(data) {
        let mut bytes = Vec::new();
        if notify.emit(&mut bytes).is_ok() {
            assert_eq!(DataMapNotifyRepr::parse(&bytes).ok(), Some(notify));
        }
    }
});
