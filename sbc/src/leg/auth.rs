//! Answering a trunk's digest challenge (RFC 3261 §22.2): ACK the 401/407, then resend the
//! INVITE in a new transaction (new branch, CSeq + 1) carrying our credentials.
//!
//! Credentials only ever go out in answer to a challenge on a request we sent to this leg's
//! trunk (the response matched our branch and Call-ID, and ingress only admits trunk
//! addresses), so a third party cannot harvest them.

use std::time::Instant;

use tracing::{info, warn};

use super::transaction::{ClientTx, TIMER_B};
use super::{new_branch, random_hex, InviteState, TrunkLeg};
use crate::digest::{credentials, Answer, Challenge};
use crate::sip::Message;

/// Most INVITEs we send with credentials; another challenge after these means they are wrong
/// (a `stale=true` challenge earns one more try, RFC 2617 §3.2.1).
pub const MAX_AUTH_ATTEMPTS: u32 = 2;

impl TrunkLeg {
    /// Resends the INVITE with credentials for this challenge; false when we cannot or
    /// should not (no account, unusable challenge, credentials already refused).
    pub(super) fn retry_with_auth(&mut self, status: u16, msg: &Message, now: Instant) -> bool {
        if self.hangup_requested || self.ended {
            return false;
        }
        let Some((username, password)) = self.credentials.clone() else {
            warn!(call_id = %self.id.call_id, status, "trunk challenged but has no credentials");
            return false;
        };
        let (challenge_header, answer_header) = if status == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let Some(challenge) = Challenge::pick(msg.headers().get_all(challenge_header)) else {
            warn!(call_id = %self.id.call_id, status, "no digest challenge we can answer");
            return false;
        };
        if let Some(realm) = &self.realm {
            if !challenge.realm.eq_ignore_ascii_case(realm) {
                warn!(call_id = %self.id.call_id, offered = %challenge.realm, "challenge from a foreign realm refused");
                return false;
            }
        }
        let retry_allowed =
            self.auth_attempts == 0 || (challenge.stale && self.auth_attempts < MAX_AUTH_ATTEMPTS);
        if !retry_allowed {
            warn!(call_id = %self.id.call_id, realm = %challenge.realm, "credentials refused");
            return false;
        }
        self.auth_attempts += 1;
        let cnonce = random_hex(8);
        let value = credentials(
            &challenge,
            &Answer {
                username: &username,
                password: &password,
                method: "INVITE",
                uri: &self.id.request_uri,
                cnonce: &cnonce,
                nc: 1,
            },
        );
        let old_branch = self.invite.branch.clone();
        if let Some(ack) = self.non2xx_ack.take() {
            self.prior_invite = Some((old_branch, ack));
        }
        self.id.cseq += 1;
        let branch = new_branch();
        self.invite_via = super::via_value(self.id.transport, self.id.local_addr, &branch);
        let mut req = self.invite_request.clone();
        req.headers.set("Via", self.invite_via.as_str());
        req.headers.set("CSeq", format!("{} INVITE", self.id.cseq));
        req.headers.remove(answer_header);
        req.headers.push(answer_header, value);
        let bytes = Message::Request(req.clone()).to_bytes();
        self.invite_request = req;
        self.invite = ClientTx::new(
            branch,
            bytes.clone(),
            self.id.trunk_addr,
            TIMER_B,
            None,
            now,
        )
        .over(self.id.transport != crate::trunk::Transport::Udp);
        self.invite_state = InviteState::Calling;
        self.transmit(bytes, self.id.trunk_addr);
        info!(call_id = %self.id.call_id, realm = %challenge.realm, algorithm = challenge.algorithm.as_str(), "answering digest challenge");
        true
    }
}
