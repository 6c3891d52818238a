#!/usr/bin/env python3
"""An 802.1Q switch for tests on kernels built without VLAN support (no 8021q, no bridge VLAN
filtering, no tc vlan action): one trunk port and access ports, each access port in one VLAN.

    vlan_switch.py TRUNK VLAN=ACCESS [VLAN=ACCESS ...]

Frames from an access port leave the trunk tagged with its VLAN; tagged frames from the trunk
leave by their VLAN's access port untagged; anything else is dropped. The kernel moves a
received tag into packet metadata before packet sockets see the frame, so the tag is read
from PACKET_AUXDATA (or from the frame, if still there).
"""

import select
import signal
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 1 << 4
TPID = 0x8100
AUXDATA = struct.Struct("IIIHHHH")


def open_port(ifname):
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((ifname, 0))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    return sock


def receive(sock):
    """The frame untagged and its VLAN (None: untagged), or None for our own transmissions."""
    frame, ancillary, _, address = sock.recvmsg(65536, socket.CMSG_SPACE(AUXDATA.size))
    if address[2] == PACKET_OUTGOING:
        return None
    for level, kind, data in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= AUXDATA.size:
            status, _, _, _, _, tci, _ = AUXDATA.unpack(data[: AUXDATA.size])
            if status & TP_STATUS_VLAN_VALID:
                return frame, tci & 0x0FFF
    if len(frame) >= 18 and struct.unpack("!H", frame[12:14])[0] == TPID:
        vlan = struct.unpack("!H", frame[14:16])[0] & 0x0FFF
        return frame[:12] + frame[16:], vlan
    return frame, None


def main():
    trunk = open_port(sys.argv[1])
    access = {}
    for spec in sys.argv[2:]:
        vlan, ifname = spec.split("=", 1)
        access[int(vlan)] = open_port(ifname)
    vlan_of = {sock: vlan for vlan, sock in access.items()}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"switching {sys.argv[1]} and {len(access)} VLAN(s)", flush=True)
    while True:
        ready, _, _ = select.select([trunk, *access.values()], [], [])
        for sock in ready:
            received = receive(sock)
            if received is None:
                continue
            frame, vlan = received
            if sock is trunk:
                if vlan in access:
                    access[vlan].send(frame)
            elif vlan is None:
                tag = struct.pack("!HH", TPID, vlan_of[sock])
                trunk.send(frame[:12] + tag + frame[12:])


if __name__ == "__main__":
    main()
