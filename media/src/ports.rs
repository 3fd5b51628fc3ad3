//! Media ports from the configured `[media]` range: for the trunk side an even port for RTP
//! with the odd one above it for RTCP (RFC 3550 §11), for the WebRTC side a single port
//! (RTP and RTCP are multiplexed there, RFC 5761).

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU32, Ordering};

/// Default lowest media port.
pub const DEFAULT_PORT_MIN: u16 = 20000;
/// Default highest media port.
pub const DEFAULT_PORT_MAX: u16 = 39999;

/// Why no media socket could be had.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// Every port (or even/odd pair) in the range is taken.
    #[error("no free media port left in {min}-{max}: widen [media] port_min/port_max or take fewer calls")]
    Exhausted {
        /// Lowest port of the range.
        min: u16,
        /// Highest port of the range.
        max: u16,
    },
}

/// The RTP and RTCP sockets of the trunk side of one call.
#[derive(Debug)]
pub struct RtpPair {
    /// Even port: RTP (and RTCP when the trunk multiplexes it).
    pub rtp: UdpSocket,
    /// The odd port above: RTCP.
    pub rtcp: UdpSocket,
}

/// A range of UDP ports, handed out round-robin so a port just freed is not reused at once
/// (late packets of the last call would land in the next one).
#[derive(Debug)]
pub struct PortPool {
    min: u16,
    max: u16,
    next: AtomicU32,
}

impl PortPool {
    /// A pool of `min..=max` (given the wrong way round, the two are swapped).
    pub fn new(min: u16, max: u16) -> Self {
        let (min, max) = (min.min(max), max.max(min));
        let span = u32::from(max - min) + 1;
        PortPool {
            min,
            max,
            next: AtomicU32::new(rand::random::<u32>() % span),
        }
    }

    /// Binds any free port of the range on `ip` (the WebRTC side).
    pub fn bind_one(&self, ip: IpAddr) -> Result<UdpSocket, PortError> {
        let span = self.span();
        for _ in 0..span {
            let port = self.port_at(self.next.fetch_add(1, Ordering::Relaxed) % span);
            if let Ok(s) = UdpSocket::bind(SocketAddr::new(ip, port)) {
                return Ok(s);
            }
        }
        Err(self.exhausted())
    }

    /// Binds a free even port and the odd one above it on `ip` (the trunk side's RTP and RTCP).
    pub fn bind_pair(&self, ip: IpAddr) -> Result<RtpPair, PortError> {
        let first_even = self.min.saturating_add(self.min % 2);
        if first_even >= self.max {
            return Err(self.exhausted());
        }
        let pairs = u32::from(self.max - first_even).div_ceil(2);
        for _ in 0..pairs {
            let i = (self.next.fetch_add(2, Ordering::Relaxed) / 2) % pairs;
            // i < pairs, so the even port and the one above stay within min..=max.
            let even = first_even + 2 * (i as u16);
            let Ok(rtp) = UdpSocket::bind(SocketAddr::new(ip, even)) else {
                continue;
            };
            if let Ok(rtcp) = UdpSocket::bind(SocketAddr::new(ip, even + 1)) {
                return Ok(RtpPair { rtp, rtcp });
            }
        }
        Err(self.exhausted())
    }

    fn span(&self) -> u32 {
        u32::from(self.max - self.min) + 1
    }

    fn port_at(&self, offset: u32) -> u16 {
        // offset < span, so this stays within min..=max.
        self.min + offset as u16
    }

    fn exhausted(&self) -> PortError {
        PortError::Exhausted {
            min: self.min,
            max: self.max,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOPBACK: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    /// A port the OS picked as free just now, and the socket holding it.
    fn taken() -> (UdpSocket, u16) {
        let s = UdpSocket::bind((LOOPBACK, 0)).expect("bind");
        let port = s.local_addr().expect("addr").port();
        (s, port)
    }

    #[test]
    fn pairs_are_even_and_adjacent() {
        // Try a few OS-chosen regions until one has a free pair (others may hold ports).
        for _ in 0..20 {
            let (probe, port) = taken();
            drop(probe);
            let even = port & !1;
            let pool = PortPool::new(even, even + 1);
            if let Ok(pair) = pool.bind_pair(LOOPBACK) {
                let rtp = pair.rtp.local_addr().expect("rtp").port();
                let rtcp = pair.rtcp.local_addr().expect("rtcp").port();
                assert_eq!((rtp, rtcp), (even, even + 1));
                return;
            }
        }
        panic!("no free even/odd pair found");
    }

    #[test]
    fn a_full_range_is_a_clear_error() {
        let (_held, port) = taken();
        let even = port & !1;
        // The only pair of this range has one port held.
        let pool = PortPool::new(even, even + 1);
        let e = pool.bind_pair(LOOPBACK).expect_err("exhausted").to_string();
        assert!(e.contains("port_min/port_max"), "{e}");
        // A single-port range whose port is held.
        let pool = PortPool::new(port, port);
        assert!(matches!(
            pool.bind_one(LOOPBACK),
            Err(PortError::Exhausted { min, max }) if min == port && max == port
        ));
        // A range too small for a pair.
        let pool = PortPool::new(20001, 20001);
        assert!(pool.bind_pair(LOOPBACK).is_err());
    }

    #[test]
    fn single_ports_come_from_the_range() {
        for _ in 0..20 {
            let (probe, port) = taken();
            drop(probe);
            let pool = PortPool::new(port, port);
            if let Ok(s) = pool.bind_one(LOOPBACK) {
                assert_eq!(s.local_addr().expect("addr").port(), port);
                return;
            }
        }
        panic!("no free port found");
    }
}
