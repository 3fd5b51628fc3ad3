//! Free loopback ports, picked by the kernel.

use std::net::{TcpListener, UdpSocket};

/// A TCP port free on 127.0.0.1 right now.
pub fn free_tcp() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free TCP port on loopback: {e}"))
}

/// A UDP port free on 127.0.0.1 right now.
pub fn free_udp() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free UDP port on loopback: {e}"))
}

/// An even UDP port whose successor is free too (RTP on even, RTCP on the next one).
pub fn free_udp_pair() -> u16 {
    for _ in 0..100 {
        let p = free_udp();
        let even = p & !1;
        if UdpSocket::bind(("127.0.0.1", even)).is_ok()
            && UdpSocket::bind(("127.0.0.1", even + 1)).is_ok()
        {
            return even;
        }
    }
    panic!("no free even/odd UDP port pair on loopback")
}
