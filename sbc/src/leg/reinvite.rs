//! New offers from the trunk inside the call (RFC 3261 §14.2, RFC 3311 UPDATE): hold, unhold
//! and moved media. We answer with our own SDP restated (same address, mirrored direction,
//! higher version), retransmit a 2xx to a re-INVITE until its ACK (§13.3.1.4), and tell the
//! application when the trunk's media address or direction changes (a hold with c=0.0.0.0
//! included, so the media bridge stops sending).

use std::net::SocketAddr;
use std::time::Instant;

use tracing::{debug, warn};

use super::transaction::{ClientTx, T2, TIMER_F};
use super::{LegEvent, TrunkLeg};
use crate::sdp::{self, Direction};
use crate::sip::{self, Message, Method, Request};

/// A re-INVITE or UPDATE we answered, kept to resend the answer to retransmissions.
#[derive(Debug)]
pub(super) struct Reoffer {
    cseq: u32,
    method: Method,
    response: Vec<u8>,
    to: SocketAddr,
    /// 2xx retransmission until the ACK (re-INVITE only).
    pub(super) ok_tx: Option<ClientTx>,
    /// The re-INVITE had no SDP: our 200 is the offer and the ACK carries the answer.
    answer_in_ack: bool,
}

impl TrunkLeg {
    /// Enforces RFC 3261 §12.2.2: a lower CSeq than seen before gets 500; a retransmitted
    /// re-INVITE/UPDATE gets its answer again. False when the request was dealt with here.
    pub(super) fn check_remote_cseq(&mut self, req: &Request, from: SocketAddr) -> bool {
        let Some(cseq) = Message::Request(req.clone()).cseq() else {
            return false;
        };
        if req.method == Method::Ack {
            return true; // ACK reuses the INVITE's number
        }
        if let Some(r) = &self.reoffer {
            if r.cseq == cseq.number && r.method == req.method {
                let bytes = r.response.clone();
                self.transmit(bytes, from);
                return false;
            }
        }
        if self.remote_cseq.is_some_and(|seen| cseq.number < seen) {
            let resp = sip::response_to(req, 500, "Server Internal Error", None);
            self.transmit(Message::Response(resp).to_bytes(), from);
            return false;
        }
        self.remote_cseq = Some(cseq.number);
        true
    }

    /// Answers an in-dialog INVITE or UPDATE.
    pub(super) fn on_reoffer(&mut self, req: Request, from: SocketAddr, now: Instant) {
        if self.reoffer.as_ref().is_some_and(|r| r.ok_tx.is_some()) && req.method == Method::Invite
        {
            // A second re-INVITE while the first awaits its ACK (RFC 3261 §14.2).
            let resp = sip::response_to(&req, 500, "Server Internal Error", None);
            self.transmit(Message::Response(resp).to_bytes(), from);
            return;
        }
        let msg = Message::Request(req.clone());
        let direction = if msg.has_sdp() {
            match sdp::parse_offer(&req.body) {
                Ok(media) if !self.media_allowed(&media) => {
                    // Not Acceptable Here (RFC 3261 §21.4.26): the old media stays.
                    self.refuse("new media address", media.addr);
                    let resp = sip::response_to(&req, 488, "Not Acceptable Here", None);
                    self.transmit(Message::Response(resp).to_bytes(), from);
                    return;
                }
                Ok(media) => self.event(LegEvent::MediaChanged(media)),
                Err(err) => {
                    debug!(call_id = %self.id.call_id, %err, "new offer without usable audio")
                }
            }
            sdp::offered_direction(&req.body).answer()
        } else if req.method == Method::Update {
            // An UPDATE without SDP only refreshes the session: nothing to answer.
            let resp = sip::response_to(&req, 200, "OK", None);
            self.transmit(Message::Response(resp).to_bytes(), from);
            return;
        } else {
            Direction::SendRecv
        };
        self.sdp_version += 1;
        let body = sdp::restate(&self.local_sdp, self.sdp_version, direction);
        let mut resp = sip::response_to(&req, 200, "OK", None);
        resp.headers.push("Contact", self.contact());
        resp.headers.push("Content-Type", "application/sdp");
        resp.body = body.into_bytes();
        let bytes = Message::Response(resp).to_bytes();
        self.transmit(bytes.clone(), from);
        let ok_tx = (req.method == Method::Invite)
            .then(|| ClientTx::new(String::new(), bytes.clone(), from, TIMER_F, Some(T2), now));
        let cseq = msg.cseq().map_or(0, |c| c.number);
        self.reoffer = Some(Reoffer {
            cseq,
            method: req.method,
            response: bytes,
            to: from,
            ok_tx,
            answer_in_ack: !msg.has_sdp(),
        });
    }

    /// The ACK for our 2xx to a re-INVITE: stop retransmitting; read its SDP answer if ours
    /// was the offer.
    pub(super) fn on_dialog_ack(&mut self, req: &Request) {
        let Some(r) = self.reoffer.as_mut() else {
            return;
        };
        let acked = Message::Request(req.clone())
            .cseq()
            .is_some_and(|c| c.number == r.cseq);
        if !acked || r.ok_tx.is_none() {
            return;
        }
        r.ok_tx = None;
        if r.answer_in_ack && Message::Request(req.clone()).has_sdp() {
            match sdp::parse_offer(&req.body) {
                Ok(media) => self.event(LegEvent::MediaChanged(media)),
                Err(err) => debug!(call_id = %self.id.call_id, %err, "ACK answer without address"),
            }
        }
    }

    /// Retransmits the 2xx to a re-INVITE (T1 doubling to T2, §13.3.1.4) until 64*T1.
    pub(super) fn tick_reoffer(&mut self, now: Instant) {
        let Some(r) = self.reoffer.as_mut() else {
            return;
        };
        let Some(tx) = r.ok_tx.as_mut() else {
            return;
        };
        if tx.tick(now, &mut self.outputs) {
            warn!(call_id = %self.id.call_id, to = %r.to, "no ACK for our 2xx to the re-INVITE");
            r.ok_tx = None;
        }
    }
}
