//! Every control-message parser and the human decoder on arbitrary bytes: no panic, and what
//! parses re-emits to bytes that parse to the same value.
#![no_main]

use controlplane::decode::{decode, Input};
use controlplane::wire::info::{InfoPacket, InfoRepr};
use controlplane::wire::map_reply::MapReplyRepr;
use controlplane::wire::map_request::MapRequestRepr;
use controlplane::wire::registration::{MapNotifyRepr, MapRegisterRepr, RegistrationPacket};
use libfuzzer_sys::fuzz_target;

fn round_trip<R: PartialEq + std::fmt::Debug>(
    repr: R,
    emit: impl Fn(&R, &mut Vec<u8>) -> bool,
    parse: impl Fn(&[u8]) -> Option<R>,
) {
    let mut bytes = Vec::new();
    if emit(&repr, &mut bytes) {
        assert_eq!(parse(&bytes).as_ref(), Some(&repr));
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = MapRequestRepr::parse(data) {
        round_trip(
            m,
            |r, o| r.emit(o).is_ok(),
            |b| MapRequestRepr::parse(b).ok(),
        );
    }
    if let Ok(m) = MapReplyRepr::parse(data) {
        round_trip(m, |r, o| r.emit(o).is_ok(), |b| MapReplyRepr::parse(b).ok());
    }
    if let Ok(m) = MapRegisterRepr::parse(data) {
        round_trip(
            m,
            |r, o| r.emit(o).is_ok(),
            |b| MapRegisterRepr::parse(b).ok(),
        );
    }
    if let Ok(m) = MapNotifyRepr::parse(data) {
        round_trip(
            m,
            |r, o| r.emit(o).is_ok(),
            |b| MapNotifyRepr::parse(b).ok(),
        );
    }
    if let Ok(p) = RegistrationPacket::new_checked(data) {
        let _ = p.verify(b"fuzz-key");
    }
    if let Ok(m) = InfoRepr::parse(data) {
        round_trip(m, |r, o| r.emit(o).is_ok(), |b| InfoRepr::parse(b).ok());
    }
    if let Ok(p) = InfoPacket::new_checked(data) {
        let _ = p.verify(b"fuzz-key");
    }
    let _ = decode(data, Input::Control);
});
