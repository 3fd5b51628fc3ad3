//! Decoding the gateway's signalling frames, written against [`Fields`] so the same code reads a
//! parsed JS object in the browser (`json.rs`) and a test value on the host.
//!
//! Field names follow the serde attributes of `c2c_wire::ServerMessage`.

use c2c_wire::ServerMessage;

use crate::state::{call_state_from_str, end_reason_from_str};

/// Reads the fields of one JSON object.
pub trait Fields {
    /// A string field; `None` when absent or not a string.
    fn string(&self, key: &str) -> Option<String>;
    /// A number field; `None` when absent, `null` or not a number.
    fn number(&self, key: &str) -> Option<f64>;
}

/// A server signalling frame; `None` for unknown or malformed frames, which the widget ignores
/// so an older widget keeps working with a newer gateway.
pub fn server_message(v: &impl Fields) -> Option<ServerMessage> {
    Some(match v.string("type")?.as_str() {
        "answer" => ServerMessage::Answer {
            sdp: v.string("sdp")?,
        },
        "state" => ServerMessage::State {
            state: call_state_from_str(&v.string("state")?)?,
        },
        "ended" => ServerMessage::Ended {
            reason: end_reason_from_str(&v.string("reason")?)?,
        },
        "error" => ServerMessage::Error {
            code: v.string("code")?,
            message: v.string("message").unwrap_or_default(),
        },
        // `as` saturates: a negative or fractional number cannot wrap around. Position 0 is
        // not on the wire (1 is next); read it as next rather than drop the frame.
        "queue" => ServerMessage::Queue {
            position: (v.number("position")? as u32).max(1),
            estimated_wait_s: v.number("estimated_wait_s").map(|w| w as u32),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use c2c_wire::{CallState, EndReason};

    /// A value of a flat JSON object.
    enum Val {
        Str(String),
        Num(f64),
        /// `null`, `true`, `false`.
        Other,
    }

    /// A flat JSON object, as every signalling frame is, read the way `JSON.parse` would
    /// (enough JSON for these tests; no nesting).
    struct Obj(Vec<(String, Val)>);

    impl Fields for Obj {
        fn string(&self, key: &str) -> Option<String> {
            self.0.iter().find_map(|(k, v)| match v {
                Val::Str(s) if k == key => Some(s.clone()),
                _ => None,
            })
        }
        fn number(&self, key: &str) -> Option<f64> {
            self.0.iter().find_map(|(k, v)| match v {
                Val::Num(n) if k == key => Some(*n),
                _ => None,
            })
        }
    }

    /// Reads a JSON string whose opening quote was consumed.
    fn json_string(chars: &mut std::iter::Peekable<std::str::Chars>) -> String {
        let mut s = String::new();
        while let Some(c) = chars.next() {
            match c {
                '"' => break,
                '\\' => s.push(chars.next().expect("escaped char")),
                c => s.push(c),
            }
        }
        s
    }

    fn parse(text: &str) -> Obj {
        let body = text.trim();
        let body = body.strip_prefix('{').and_then(|b| b.strip_suffix('}'));
        let mut chars = body.expect("an object").chars().peekable();
        let mut fields = Vec::new();
        loop {
            while chars.next_if(|c| c.is_whitespace() || *c == ',').is_some() {}
            match chars.next() {
                None => return Obj(fields),
                Some('"') => {}
                Some(c) => panic!("unexpected {c:?} in {text}"),
            }
            let key = json_string(&mut chars);
            while chars.next_if(|c| c.is_whitespace() || *c == ':').is_some() {}
            let val = if chars.next_if_eq(&'"').is_some() {
                Val::Str(json_string(&mut chars))
            } else {
                let mut raw = String::new();
                while let Some(c) = chars.next_if(|c| *c != ',') {
                    raw.push(c);
                }
                raw.trim().parse().map_or(Val::Other, Val::Num)
            };
            fields.push((key, val));
        }
    }

    fn frame(text: &str) -> Option<ServerMessage> {
        server_message(&parse(text))
    }

    #[test]
    fn queue_frames_with_and_without_an_estimate() {
        assert_eq!(
            frame(r#"{"type":"queue","position":2,"estimated_wait_s":75}"#),
            Some(ServerMessage::Queue {
                position: 2,
                estimated_wait_s: Some(75)
            })
        );
        let unknown = Some(ServerMessage::Queue {
            position: 1,
            estimated_wait_s: None,
        });
        assert_eq!(frame(r#"{"type":"queue","position":1}"#), unknown);
        assert_eq!(
            frame(r#"{"type":"queue","position":1,"estimated_wait_s":null}"#),
            unknown
        );
        assert_eq!(
            frame(r#"{"type":"queue","position":1,"estimated_wait_s":"soon"}"#),
            unknown
        );
        assert_eq!(frame(r#"{"type":"queue","position":0}"#), unknown);
        assert_eq!(frame(r#"{"type":"queue"}"#), None, "no position");
        assert_eq!(frame(r#"{"type":"queue","position":"2"}"#), None);
        // Field order and spacing do not matter; fields a newer gateway adds are ignored.
        assert_eq!(
            frame(r#"{ "estimated_wait_s": 300, "agents": 4, "position": 7, "type": "queue" }"#),
            Some(ServerMessage::Queue {
                position: 7,
                estimated_wait_s: Some(300)
            })
        );
    }

    #[test]
    fn the_other_frames_and_unknown_ones() {
        assert_eq!(
            frame(r#"{"type":"state","state":"ringing"}"#),
            Some(ServerMessage::State {
                state: CallState::Ringing
            })
        );
        assert_eq!(
            frame(r#"{"type":"ended","reason":"no_agent"}"#),
            Some(ServerMessage::Ended {
                reason: EndReason::NoAgent
            })
        );
        assert_eq!(
            frame(r#"{"type":"error","code":"no_agent"}"#),
            Some(ServerMessage::Error {
                code: "no_agent".into(),
                message: String::new()
            })
        );
        assert_eq!(
            frame(r#"{"type":"answer","sdp":"v=0"}"#),
            Some(ServerMessage::Answer { sdp: "v=0".into() })
        );
        assert_eq!(frame(r#"{"type":"stats","rtt":3}"#), None);
        assert_eq!(frame(r#"{"type":"state","state":"on_hold"}"#), None);
        assert_eq!(frame(r#"{"kind":"queue"}"#), None, "no type");
    }
}
