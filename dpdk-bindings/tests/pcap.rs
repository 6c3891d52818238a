//! A `net_pcap` vdev writes exactly the packets we send, and replays exactly the packets in a file.

mod common;

use std::fs::File;
use std::time::Duration;

use common::{eal, frame, pool};
use dpdk_bindings::{attach_vdev, MbufBurst, Port, PortConfig};
use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};

fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("dpdk-bindings-{}-{name}.pcap", std::process::id()))
}

#[test]
fn tx_pcap_holds_exactly_what_was_sent() {
    let (eal, _serial) = eal();
    let pool = pool(eal, "pcap_tx_pool");
    let out = temp_path("tx");
    let rx_in = temp_path("tx-empty-rx");
    PcapWriter::new(File::create(&rx_in).expect("create empty rx pcap")).expect("pcap header");

    let devargs = format!(
        "net_pcap_tx0,rx_pcap={},tx_pcap={}",
        rx_in.display(),
        out.display()
    );
    let id = attach_vdev(eal, &devargs).expect("probe net_pcap");
    let sent: Vec<Vec<u8>> = (0..50).map(|i| frame(60 + i * 29, i as u8)).collect();
    {
        let mut port = Port::configure(eal, id, &pool, PortConfig::default()).expect("configure");
        port.start().expect("start");
        let mut tx = port.tx_queue(0).expect("tx queue");
        for chunk in sent.chunks(16) {
            let mut burst = MbufBurst::new();
            for bytes in chunk {
                let mut mbuf = pool.alloc().expect("mbuf");
                mbuf.write_packet(bytes).expect("fits");
                burst.push(mbuf).expect("room");
            }
            assert_eq!(tx.tx_burst(&mut burst), chunk.len());
        }
        // Port close (on drop) flushes and closes the capture.
    }

    let mut reader = PcapReader::new(File::open(&out).expect("open capture")).expect("pcap");
    let mut captured = Vec::new();
    while let Some(packet) = reader.next_packet() {
        captured.push(packet.expect("pcap record").data.into_owned());
    }
    assert_eq!(captured, sent);
    assert_eq!(pool.in_use(), 0);
    std::fs::remove_file(out).ok();
    std::fs::remove_file(rx_in).ok();
}

#[test]
fn rx_pcap_replays_the_file() {
    let (eal, _serial) = eal();
    let pool = pool(eal, "pcap_rx_pool");
    let input = temp_path("rx");
    let written: Vec<Vec<u8>> = (0..20).map(|i| frame(64 + i, 100 + i as u8)).collect();
    {
        let mut writer =
            PcapWriter::new(File::create(&input).expect("create pcap")).expect("pcap header");
        for bytes in &written {
            writer
                .write_packet(&PcapPacket::new(Duration::ZERO, bytes.len() as u32, bytes))
                .expect("write record");
        }
    }
    let devargs = format!("net_pcap_rx0,rx_pcap={}", input.display());
    let id = attach_vdev(eal, &devargs).expect("probe net_pcap");
    let mut port = Port::configure(eal, id, &pool, PortConfig::default()).expect("configure");
    port.start().expect("start");
    let mut rx = port.rx_queue(0).expect("rx queue");
    let mut received = Vec::new();
    let mut burst = MbufBurst::new();
    for _ in 0..100 {
        if rx.rx_burst(&mut burst) == 0 && received.len() == written.len() {
            break;
        }
        received.extend(burst.as_slice().iter().map(|m| m.data().to_vec()));
        burst.free_all();
    }
    assert_eq!(received, written);
    drop(rx);
    port.stop().expect("stop");
    assert_eq!(pool.in_use(), 0);
    std::fs::remove_file(input).ok();
}
