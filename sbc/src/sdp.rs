//! The SDP we send toward trunks (RFC 4566 / RFC 3264) and reading the trunk's answer.
//!
//! We only ever offer G.711 µ-law plus RFC 4733 telephone-events: every trunk speaks it and the
//! browsers offer it too, so media passes through without transcoding.

use std::net::{IpAddr, SocketAddr};

use thiserror::Error;

/// Static payload type of PCMU (RFC 3551 §6).
pub const PCMU_PT: u8 = 0;
/// The dynamic payload type we offer for telephone-event/8000 (RFC 4733).
pub const TELEPHONE_EVENT_PT: u8 = 101;

/// Where and how we receive audio on the trunk side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaOffer {
    /// Address the trunk should send RTP to.
    pub addr: SocketAddr,
    /// SDP session id (`o=` line); keep it stable for a call.
    pub session_id: u64,
    /// SDP session version (`o=` line); bump it when the description changes.
    pub session_version: u64,
}

/// What the remote side's SDP tells us about its audio.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteMedia {
    /// Where to send RTP.
    pub addr: SocketAddr,
    /// Payload types of the audio m-line, in the remote side's order of preference.
    pub payload_types: Vec<u8>,
    /// Payload type of telephone-event/8000, when offered.
    pub telephone_event_pt: Option<u8>,
    /// The direction the remote side states for itself (`a=sendonly`: it only sends).
    pub direction: Direction,
}

impl RemoteMedia {
    /// Whether we may send RTP to it: it receives and has a real address (not a hold).
    pub fn receives(&self) -> bool {
        !self.addr.ip().is_unspecified()
            && matches!(self.direction, Direction::SendRecv | Direction::RecvOnly)
    }

    /// Whether it says it sends RTP to us.
    pub fn sends(&self) -> bool {
        matches!(self.direction, Direction::SendRecv | Direction::SendOnly)
    }
}

/// Why an SDP could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SdpError {
    /// The body is not UTF-8 text.
    #[error("SDP is not UTF-8")]
    NotUtf8,
    /// No `m=audio` line.
    #[error("SDP has no audio stream")]
    NoAudio,
    /// The audio stream has port 0 (RFC 3264 §6: stream rejected).
    #[error("audio stream rejected (port 0)")]
    Rejected,
    /// No usable `c=` line for the audio stream.
    #[error("SDP has no usable connection address")]
    NoConnection,
    /// A line is malformed.
    #[error("malformed SDP line {0:?}")]
    BadLine(String),
}

/// Builds our audio offer (also usable as an answer to an offer of PCMU + telephone-event).
pub fn build_offer(offer: &MediaOffer) -> String {
    let ip = offer.addr.ip();
    let family = if ip.is_ipv4() { "IP4" } else { "IP6" };
    format!(
        "v=0\r\n\
         o=- {id} {ver} IN {family} {ip}\r\n\
         s=-\r\n\
         c=IN {family} {ip}\r\n\
         t=0 0\r\n\
         m=audio {port} RTP/AVP {PCMU_PT} {TELEPHONE_EVENT_PT}\r\n\
         a=rtpmap:{PCMU_PT} PCMU/8000\r\n\
         a=rtpmap:{TELEPHONE_EVENT_PT} telephone-event/8000\r\n\
         a=fmtp:{TELEPHONE_EVENT_PT} 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n",
        id = offer.session_id,
        ver = offer.session_version,
        port = offer.addr.port(),
    )
}

/// Parses a `c=IN IP4 addr` / `c=IN IP6 addr` value (a TTL or count suffix is ignored).
fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let bad = || SdpError::BadLine(format!("c={}", value.chars().take(60).collect::<String>()));
    let mut parts = value.split_whitespace();
    let (Some("IN"), Some(_family), Some(addr)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    let addr = addr.split('/').next().unwrap_or_default();
    addr.parse().map_err(|_| bad())
}

/// Reads the first audio stream of a remote SDP: its address (media-level `c=` over
/// session-level), payload types, telephone-event payload type and direction. A connection
/// address of 0.0.0.0 is refused: an answer must say where to send.
pub fn parse_answer(body: &[u8]) -> Result<RemoteMedia, SdpError> {
    let media = parse_media(body)?;
    if media.addr.ip().is_unspecified() {
        return Err(SdpError::NoConnection);
    }
    Ok(media)
}

/// Reads a new offer inside the call (re-INVITE, UPDATE) or the answer in an ACK like
/// [`parse_answer`], but accepts 0.0.0.0: the RFC 2543 hold (RFC 3264 §8.4), which
/// [`RemoteMedia::receives`] then reports as nothing to send to.
pub fn parse_offer(body: &[u8]) -> Result<RemoteMedia, SdpError> {
    parse_media(body)
}

fn parse_media(body: &[u8]) -> Result<RemoteMedia, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    let mut session_conn: Option<IpAddr> = None;
    let mut media_conn: Option<IpAddr> = None;
    let mut audio: Option<(u16, Vec<u8>)> = None;
    let mut telephone_event_pt = None;
    let mut in_audio = false;
    let mut seen_media = false;
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        let Some((kind, value)) = line.split_once('=') else {
            if line.trim().is_empty() {
                continue;
            }
            return Err(SdpError::BadLine(line.chars().take(60).collect()));
        };
        match kind {
            "m" => {
                seen_media = true;
                in_audio = false;
                if audio.is_some() {
                    // Only the first audio stream matters; later ones must not override it.
                    continue;
                }
                let mut parts = value.split_whitespace();
                if parts.next() != Some("audio") {
                    continue;
                }
                let port = parts
                    .next()
                    .and_then(|p| p.split('/').next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| SdpError::BadLine(line.chars().take(60).collect()))?;
                let _proto = parts.next();
                let pts = parts.filter_map(|p| p.parse::<u8>().ok()).collect();
                audio = Some((port, pts));
                in_audio = true;
            }
            "c" if !seen_media => session_conn = Some(parse_connection(value)?),
            "c" if in_audio => media_conn = Some(parse_connection(value)?),
            "a" if in_audio => {
                if let Some(map) = value.strip_prefix("rtpmap:") {
                    let mut parts = map.split_whitespace();
                    let pt = parts.next().and_then(|p| p.parse::<u8>().ok());
                    let codec = parts.next().unwrap_or_default();
                    if codec.eq_ignore_ascii_case("telephone-event/8000") {
                        telephone_event_pt = pt;
                    }
                }
            }
            _ => {}
        }
    }
    let (port, payload_types) = audio.ok_or(SdpError::NoAudio)?;
    if port == 0 {
        return Err(SdpError::Rejected);
    }
    let ip = media_conn.or(session_conn).ok_or(SdpError::NoConnection)?;
    Ok(RemoteMedia {
        addr: SocketAddr::new(ip, port),
        payload_types,
        telephone_event_pt,
        direction: offered_direction(body),
    })
}

/// The media direction a remote offer asks for (RFC 3264 §6.1, RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Both ways (the default).
    SendRecv,
    /// The offerer only sends (it puts us on hold with music, say).
    SendOnly,
    /// The offerer only receives.
    RecvOnly,
    /// No media either way.
    Inactive,
}

impl Direction {
    /// The direction an answer takes for this offered one (RFC 3264 §6.1).
    pub fn answer(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            other => other,
        }
    }

    fn attribute(self) -> &'static str {
        match self {
            Self::SendRecv => "a=sendrecv",
            Self::SendOnly => "a=sendonly",
            Self::RecvOnly => "a=recvonly",
            Self::Inactive => "a=inactive",
        }
    }
}

/// The direction of the first audio stream (media-level attribute over session-level).
/// A connection address of 0.0.0.0 is the RFC 2543 way of saying sendonly (RFC 3264 §8.4).
pub fn offered_direction(body: &[u8]) -> Direction {
    let text = String::from_utf8_lossy(body);
    let (mut session, mut media, mut in_audio, mut seen_audio) = (None, None, false, false);
    let mut held = false;
    for line in text.lines().map(str::trim) {
        if let Some(m) = line.strip_prefix("m=") {
            in_audio = !seen_audio && m.starts_with("audio");
            seen_audio |= in_audio;
            continue;
        }
        if line.starts_with("c=") && line.contains(" 0.0.0.0") && (in_audio || !seen_audio) {
            held = true;
        }
        let dir = match line {
            "a=sendrecv" => Direction::SendRecv,
            "a=sendonly" => Direction::SendOnly,
            "a=recvonly" => Direction::RecvOnly,
            "a=inactive" => Direction::Inactive,
            _ => continue,
        };
        if in_audio {
            media.get_or_insert(dir);
        } else if !seen_audio {
            session.get_or_insert(dir);
        }
    }
    match media.or(session).unwrap_or(Direction::SendRecv) {
        Direction::SendRecv if held => Direction::SendOnly,
        dir => dir,
    }
}

/// Our SDP again, for an answer or a new offer in the same session: the `o=` version set to
/// `version` and the audio direction set to `direction` (RFC 3264 §8).
pub fn restate(our_sdp: &str, version: u64, direction: Direction) -> String {
    let mut out = String::with_capacity(our_sdp.len() + 16);
    for line in our_sdp.lines() {
        let line = line.trim_end_matches('\r');
        if let Some(origin) = line.strip_prefix("o=") {
            let mut parts: Vec<String> = origin.split(' ').map(str::to_owned).collect();
            if let Some(v) = parts.get_mut(2) {
                *v = version.to_string();
            }
            out.push_str(&format!("o={}\r\n", parts.join(" ")));
        } else if matches!(
            line,
            "a=sendrecv" | "a=sendonly" | "a=recvonly" | "a=inactive"
        ) {
            out.push_str(direction.attribute());
            out.push_str("\r\n");
        } else if !line.is_empty() {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_offer_parses_back() {
        let addr: SocketAddr = "192.0.2.10:40000".parse().expect("addr");
        let sdp = build_offer(&MediaOffer {
            addr,
            session_id: 42,
            session_version: 1,
        });
        assert!(sdp.contains("m=audio 40000 RTP/AVP 0 101\r\n"));
        assert!(sdp.contains("a=fmtp:101 0-16\r\n"));
        let media = parse_answer(sdp.as_bytes()).expect("parse");
        assert_eq!(media.addr, addr);
        assert_eq!(media.payload_types, vec![0, 101]);
        assert_eq!(media.telephone_event_pt, Some(101));
    }

    #[test]
    fn media_level_connection_wins_and_ipv6_works() {
        let sdp = "v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\nc=IN IP4 1.1.1.1\nt=0 0\n\
                   m=video 5000 RTP/AVP 96\nc=IN IP4 9.9.9.9\n\
                   m=audio 6000 RTP/AVP 8 0 98\nc=IN IP6 2001:db8::5\n\
                   a=rtpmap:98 telephone-event/8000\nm=audio 7000 RTP/AVP 0\nc=IN IP4 7.7.7.7\n";
        let media = parse_answer(sdp.as_bytes()).expect("parse");
        assert_eq!(media.addr, "[2001:db8::5]:6000".parse().expect("addr"));
        assert_eq!(media.payload_types, vec![8, 0, 98]);
        assert_eq!(media.telephone_event_pt, Some(98));
    }

    #[test]
    fn hold_offers_are_answered_with_the_mirrored_direction() {
        let ours = build_offer(&MediaOffer {
            addr: "192.0.2.10:40000".parse().expect("addr"),
            session_id: 42,
            session_version: 1,
        });
        let hold = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 0\r\na=sendonly\r\n";
        assert_eq!(offered_direction(hold), Direction::SendOnly);
        assert_eq!(
            offered_direction(b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 5 RTP/AVP 0\r\n"),
            Direction::SendOnly
        );
        assert_eq!(
            offered_direction(b"v=0\r\na=inactive\r\nm=audio 5 RTP/AVP 0\r\n"),
            Direction::Inactive
        );
        assert_eq!(
            offered_direction(b"v=0\r\nm=audio 5 RTP/AVP 0\r\n"),
            Direction::SendRecv
        );
        let answer = restate(&ours, 2, offered_direction(hold).answer());
        assert!(
            answer.contains("o=- 42 2 IN IP4 192.0.2.10\r\n"),
            "{answer}"
        );
        assert!(answer.contains("a=recvonly\r\n") && !answer.contains("a=sendrecv"));
        assert!(answer.contains("m=audio 40000 RTP/AVP 0 101\r\n"));
    }

    #[test]
    fn hold_offers_say_there_is_nothing_to_send_to() {
        let held = b"v=0\r\nc=IN IP4 0.0.0.0\r\nm=audio 5000 RTP/AVP 0\r\n";
        assert_eq!(parse_answer(held), Err(SdpError::NoConnection));
        let media = parse_offer(held).expect("hold offer");
        assert!(!media.receives());
        let sendonly = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\na=sendonly\r\n";
        let media = parse_offer(sendonly).expect("sendonly offer");
        assert_eq!(media.direction, Direction::SendOnly);
        assert!(!media.receives() && media.sends());
        let inactive = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\na=inactive\r\n";
        let media = parse_offer(inactive).expect("inactive offer");
        assert!(!media.receives() && !media.sends());
        let unhold = b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5000 RTP/AVP 0\r\n";
        let media = parse_offer(unhold).expect("unhold offer");
        assert!(media.receives() && media.sends());
    }

    #[test]
    fn rejected_and_broken_answers() {
        let base = "v=0\r\nc=IN IP4 10.0.0.1\r\nm=audio 0 RTP/AVP 0\r\n";
        assert_eq!(parse_answer(base.as_bytes()), Err(SdpError::Rejected));
        assert_eq!(
            parse_answer(b"v=0\r\nm=audio 4000 RTP/AVP 0\r\n"),
            Err(SdpError::NoConnection)
        );
        assert_eq!(parse_answer(b"v=0\r\n"), Err(SdpError::NoAudio));
        assert_eq!(parse_answer(&[0xff, 0xfe]), Err(SdpError::NotUtf8));
        assert!(parse_answer(b"v=0\r\nc=IN IP4 nonsense\r\nm=audio 1 RTP/AVP 0").is_err());
        assert!(parse_answer(b"v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 99999 RTP/AVP 0").is_err());
        assert!(parse_answer(b"garbage").is_err());
    }
}
