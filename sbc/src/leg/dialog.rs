//! The confirmed dialog (RFC 3261 §12): building it from the 2xx, ACKing, forked answers, and
//! requests the trunk sends inside it.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use tracing::warn;

use super::{EndReason, InviteState, LegEvent, TrunkLeg};
use crate::sdp;
use crate::sip::{self, Message, Method, Request};
use crate::trunk::{Transport, DEFAULT_SIP_PORT};

/// The confirmed dialog (RFC 3261 §12.1.2).
#[derive(Debug, Clone)]
pub(super) struct Dialog {
    /// The To header of the 2xx, tag included.
    pub(super) remote_to: String,
    pub(super) remote_tag: Option<String>,
    pub(super) target: String,
    pub(super) routes: Vec<String>,
    pub(super) next_hop: SocketAddr,
    /// The next hop the trunk asked for when it is outside the networks (`next_hop` is then
    /// the trunk's own address, so nothing goes there).
    pub(super) refused_hop: Option<SocketAddr>,
    pub(super) ack: Vec<u8>,
}

/// The address to send an in-dialog request to: the URI's host if it is an IP literal,
/// else the trunk (we resolve names only for the trunk itself).
fn next_hop(uri: &str, fallback: SocketAddr) -> SocketAddr {
    match sip::host_port(uri) {
        Some((host, port)) => match host.parse::<IpAddr>() {
            Ok(ip) => SocketAddr::new(ip, port.unwrap_or(DEFAULT_SIP_PORT)),
            Err(_) => fallback,
        },
        None => fallback,
    }
}

/// Where in-dialog requests go: the first route, else the remote target (RFC 3261 §12.2.1.1),
/// else the trunk.
pub(crate) fn in_dialog_next_hop(
    transport: Transport,
    routes: &[String],
    target: &str,
    trunk_addr: SocketAddr,
) -> SocketAddr {
    // Over TLS the connection we opened and verified is the only way to the trunk: a new
    // one to the Contact's address would have no name to check the certificate against
    // (RFC 5922 §7), so in-dialog requests go back over it (RFC 5923).
    if transport == Transport::Tls {
        return trunk_addr;
    }
    let hop_uri = routes
        .first()
        .and_then(|r| sip::name_addr_uri(r))
        .unwrap_or(target);
    next_hop(hop_uri, trunk_addr)
}

impl TrunkLeg {
    /// True when the trunk sent `req` inside our confirmed dialog (its tags, §12.2.2).
    pub(super) fn in_dialog(&self, req: &Request) -> bool {
        self.dialog.as_ref().is_some_and(|d| {
            let msg_to_tag = sip::header_param(req.headers.get("To").unwrap_or_default(), "tag");
            let msg_from_tag =
                sip::header_param(req.headers.get("From").unwrap_or_default(), "tag");
            msg_to_tag.as_deref() == Some(self.id.local_tag.as_str())
                && msg_from_tag == d.remote_tag
        })
    }

    pub(super) fn on_request(&mut self, req: Request, from: SocketAddr, now: Instant) {
        let in_dialog = self.in_dialog(&req);
        if in_dialog && !self.check_remote_cseq(&req, from) {
            return;
        }
        let (status, reason) = match (&req.method, in_dialog) {
            (Method::Ack, true) => return self.on_dialog_ack(&req),
            (Method::Ack, false) => return,
            (Method::Invite | Method::Update, true) => return self.on_reoffer(req, from, now),
            (Method::Bye, true) => (200, "OK"),
            (Method::Options | Method::Info, true) => (200, "OK"),
            // Transfers are refused: no one moves a call we placed (RFC 3515 is opt-in).
            (Method::Refer, true) => (403, "Forbidden"),
            (_, true) => (501, "Not Implemented"),
            (_, false) => (481, "Call/Transaction Does Not Exist"),
        };
        let resp = sip::response_to(&req, status, reason, None);
        self.transmit(Message::Response(resp).to_bytes(), from);
        if req.method == Method::Bye && in_dialog {
            if let Some(tx) = self.bye.as_mut() {
                tx.stop(); // BYE glare: the dialog is gone either way.
            }
            self.end(EndReason::HangupRemote, None, now);
        }
    }

    pub(super) fn on_success(&mut self, status: u16, msg: &Message, now: Instant) {
        let to_tag = msg.to_tag();
        if let Some(dialog) = &self.dialog {
            if dialog.remote_tag == to_tag {
                // A retransmitted 2xx: the ACK was lost, send it again (§13.2.2.4).
                let (ack, hop) = (dialog.ack.clone(), dialog.next_hop);
                self.transmit(ack, hop);
            } else {
                // A second, forked answer: confirm it and end it at once (§13.2.2.4).
                let extra = self.make_dialog(msg);
                self.transmit(extra.ack.clone(), extra.next_hop);
                let (_, via) = self.fresh_via();
                let bye = self.base_request(
                    Method::Bye,
                    &extra.target,
                    &via,
                    &extra.remote_to,
                    &extra.routes,
                );
                self.transmit(Message::Request(bye).to_bytes(), extra.next_hop);
            }
            return;
        }
        self.invite.stop();
        self.invite_state = InviteState::Terminated;
        self.cancel_deadline = None;
        let dialog = self.make_dialog(msg);
        self.transmit(dialog.ack.clone(), dialog.next_hop);
        let refused_hop = dialog.refused_hop;
        self.dialog = Some(dialog);
        if let Some(hop) = refused_hop {
            // ACK and BYE go to the trunk's own address: the dialog cannot go on.
            self.refuse("Contact/Record-Route next hop", hop);
            self.hangup_requested = true;
            self.send_bye(now);
            self.end(EndReason::Failed, Some(status), now);
            return;
        }
        if self.hangup_requested || self.ended {
            // We hung up (or gave up, maybe moving the call to another trunk) before the answer
            // won the race: ACK, then BYE (§9.1, §13.2.2.4), and stay to see it through.
            self.linger_from(now);
            self.send_bye(now);
            return;
        }
        match sdp::parse_answer(msg.body()) {
            Ok(media) if !self.media_allowed(&media) => {
                self.refuse("media address", media.addr);
                self.hangup_requested = true;
                self.send_bye(now);
                self.end(EndReason::Failed, Some(status), now);
            }
            Ok(media) => self.event(LegEvent::Answered(media)),
            Err(err) => {
                warn!(call_id = %self.id.call_id, %err, "answer without usable SDP, hanging up");
                self.hangup_requested = true;
                self.send_bye(now);
                self.end(EndReason::Failed, Some(status), now);
            }
        }
    }

    /// Builds the dialog state and its ACK from a 2xx (route set = Record-Route reversed, §12.1.2).
    pub(super) fn make_dialog(&self, msg: &Message) -> Dialog {
        let remote_to = msg.headers().get("To").unwrap_or(&self.id.to).to_owned();
        let target = msg
            .contact_uri()
            .unwrap_or_else(|| self.id.request_uri.clone());
        let routes: Vec<String> = msg
            .headers()
            .list("Record-Route")
            .into_iter()
            .rev()
            .collect();
        let wanted = match self.id.pinned {
            true => self.id.trunk_addr,
            false => in_dialog_next_hop(self.id.transport, &routes, &target, self.id.trunk_addr),
        };
        let allowed = wanted == self.id.trunk_addr || self.id.networks.allows(wanted.ip());
        let (next_hop, refused_hop) = match allowed {
            true => (wanted, None),
            false => (self.id.trunk_addr, Some(wanted)),
        };
        let (_, via) = self.fresh_via();
        let ack = self.base_request(Method::Ack, &target, &via, &remote_to, &routes);
        Dialog {
            remote_tag: msg.to_tag(),
            remote_to,
            target,
            routes,
            next_hop,
            refused_hop,
            ack: Message::Request(ack).to_bytes(),
        }
    }
}
