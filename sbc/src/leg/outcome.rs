//! How the INVITE client transaction progresses and fails (RFC 3261 §17.1.1): provisional
//! responses (trying, ringing, early media) and non-2xx finals (ACK, end cause, digest retry).

use std::time::Instant;

use tracing::warn;

use super::transaction::{ClientTx, T2, TIMER_F};
use super::{reason_for_status, EndReason, InviteState, LegEvent, TrunkLeg};
use crate::sdp;
use crate::sip::{Message, Method};

/// True when a provisional response asks for PRACK (RFC 3262 §3: Require: 100rel + RSeq).
fn is_reliable(msg: &Message) -> bool {
    let h = msg.headers();
    h.list("Require")
        .iter()
        .any(|t| t.eq_ignore_ascii_case("100rel"))
        && h.get("RSeq").is_some()
}

impl TrunkLeg {
    /// Sends PRACK for a new reliable provisional response; false for a repeated RSeq.
    fn acknowledge_reliable(&mut self, msg: &Message, now: Instant) -> bool {
        let Some(rseq) = msg
            .headers()
            .get("RSeq")
            .and_then(|v| v.trim().parse::<u32>().ok())
        else {
            return false;
        };
        if self.last_rseq.is_some_and(|last| rseq <= last) {
            return false;
        }
        self.last_rseq = Some(rseq);
        // The PRACK goes inside the early dialog the provisional response created (§12.1.2).
        let early = self.make_dialog(msg);
        self.pracks += 1;
        let (branch, via) = self.fresh_via();
        let mut req = self.base_request(
            Method::Prack,
            &early.target,
            &via,
            &early.remote_to,
            &early.routes,
        );
        req.headers
            .push("RAck", format!("{rseq} {} INVITE", self.id.cseq));
        let bytes = Message::Request(req).to_bytes();
        self.transmit(bytes.clone(), early.next_hop);
        let reliable = self.id.transport != crate::trunk::Transport::Udp;
        self.prack = Some(
            ClientTx::new(branch, bytes, early.next_hop, TIMER_F, Some(T2), now).over(reliable),
        );
        true
    }

    pub(super) fn on_provisional(&mut self, status: u16, msg: &Message, now: Instant) {
        if !matches!(
            self.invite_state,
            InviteState::Calling | InviteState::Proceeding
        ) {
            let abandoned = self.invite_state == InviteState::Terminated && self.dialog.is_none();
            if abandoned && self.cancel.is_none() {
                // A trunk we stopped waiting for (Timer B, or given up on so the call moved
                // elsewhere) is reaching someone after all: a provisional now allows the
                // CANCEL that stops it (§9.1).
                self.linger_from(now);
                self.send_cancel(now);
            }
            return;
        }
        // A provisional response stops Timer A, and Timer B only guards Calling (§17.1.1.2).
        self.invite_state = InviteState::Proceeding;
        self.invite.stop();
        if self.hangup_requested {
            self.send_cancel(now);
            return;
        }
        if status > 100 && is_reliable(msg) && !self.acknowledge_reliable(msg, now) {
            return; // a retransmission of a reliable provisional we already PRACKed
        }
        if status == 100 {
            if !self.said_trying {
                self.said_trying = true;
                self.event(LegEvent::Trying);
            }
            return;
        }
        if msg.has_sdp() {
            match sdp::parse_answer(msg.body()) {
                Ok(media) if !self.media_allowed(&media) => {
                    if self.early_media.as_ref() != Some(&media) {
                        // Refused once; the call rings on without early media.
                        self.refuse("early-media address", media.addr);
                        self.early_media = Some(media);
                    }
                }
                Ok(media) if self.early_media.as_ref() != Some(&media) => {
                    self.early_media = Some(media.clone());
                    self.event(LegEvent::EarlyMedia(media));
                }
                Ok(_) => {}
                Err(err) => warn!(call_id = %self.id.call_id, %err, "unusable early-media SDP"),
            }
        } else if (180..=182).contains(&status) && !self.said_ringing {
            self.said_ringing = true;
            self.event(LegEvent::Ringing);
        }
    }

    pub(super) fn on_invite_response(&mut self, status: u16, msg: &Message, now: Instant) {
        self.any_response = true;
        match status {
            100..=199 => self.on_provisional(status, msg, now),
            200..=299 => self.on_success(status, msg, now),
            _ => self.on_failure(status, msg, now),
        }
    }

    /// ACKs a final failure in the INVITE transaction (same branch, §17.1.1.3) and keeps the
    /// ACK for its retransmissions: the INVITE client transaction is then Completed.
    fn ack_failure(&mut self, msg: &Message) {
        let to = msg.headers().get("To").unwrap_or(&self.id.to).to_owned();
        let ack = self.base_request(
            Method::Ack,
            &self.id.request_uri,
            &self.invite_via,
            &to,
            &[],
        );
        let bytes = Message::Request(ack).to_bytes();
        self.transmit(bytes.clone(), self.id.trunk_addr);
        self.non2xx_ack = Some(bytes);
        self.invite.stop();
        self.invite_state = InviteState::Completed;
        self.cancel_deadline = None;
    }

    pub(super) fn on_failure(&mut self, status: u16, msg: &Message, now: Instant) {
        match self.invite_state {
            InviteState::Calling | InviteState::Proceeding => {
                self.ack_failure(msg);
                if matches!(status, 401 | 407) && self.retry_with_auth(status, msg, now) {
                    return;
                }
                let reason = if self.hangup_requested {
                    EndReason::HangupLocal
                } else {
                    reason_for_status(status)
                };
                self.end(reason, Some(status), now);
            }
            InviteState::Completed => {
                if let Some(ack) = self.non2xx_ack.clone() {
                    self.transmit(ack, self.id.trunk_addr);
                }
            }
            InviteState::Terminated if self.dialog.is_none() => {
                // The final response of a trunk we stopped waiting for (Timer B, or given up
                // on so the call moved elsewhere): the trunk resends it until ACKed (§17.2.1),
                // so ACK it and its copies; the call already had its end.
                self.ack_failure(msg);
                self.linger_from(now);
            }
            InviteState::Terminated => {}
        }
    }
}
