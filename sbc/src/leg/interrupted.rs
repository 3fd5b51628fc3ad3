//! A leg for a dialog rebuilt after a crash: it exists only to end the call with a BYE, run
//! as every other BYE (non-INVITE client transaction, RFC 3261 §17.1.2).

use std::time::Instant;

use super::dialog::Dialog;
use super::{new_branch, ClientTx, Identity, InviteState, TrunkLeg, TIMER_B};
use crate::interrupted::InterruptedDialog;

impl TrunkLeg {
    /// A leg in the confirmed dialog `d`, hanging up at once: its first output is the BYE
    /// (CSeq one above the last we used), sent from `local_addr` as the trunk knows us. It
    /// ends (`HangupLocal`) on any final response, a 481 included, or at Timer F.
    pub fn interrupted(
        d: &InterruptedDialog,
        local_addr: std::net::SocketAddr,
        now: Instant,
    ) -> Self {
        // The INVITE transaction is long over; a fresh branch no response can match.
        let mut invite = ClientTx::new(new_branch(), Vec::new(), d.trunk_addr, TIMER_B, None, now);
        invite.stop();
        let mut leg = Self::at_rest(
            Identity {
                call_id: d.call_id.clone(),
                local_tag: d.local_tag.clone(),
                // In-dialog requests count up from the INVITE's number (see `base_request`).
                cseq: d.last_cseq,
                request_uri: d.target.clone(),
                from: d.from.clone(),
                to: d.to.clone(),
                local_addr,
                trunk_addr: d.trunk_addr,
                transport: d.transport,
                // Its one destination, the dialog's next hop, was checked against the
                // networks before the leg was built (`Sbc::end_interrupted`).
                networks: crate::networks::Networks::any(),
                // The dialog's next hop was recorded as it was, pinned or not.
                pinned: false,
            },
            invite,
        );
        leg.invite_state = InviteState::Terminated;
        leg.any_response = true;
        leg.dialog = Some(Dialog {
            remote_to: d.to.clone(),
            remote_tag: Some(d.remote_tag.clone()),
            target: d.target.clone(),
            routes: d.routes.clone(),
            next_hop: d.next_hop(),
            refused_hop: None,
            ack: Vec::new(),
        });
        leg.hangup(now);
        leg
    }

    /// Where in-dialog requests go (the trunk before there is a dialog).
    pub(crate) fn next_hop(&self) -> std::net::SocketAddr {
        self.dialog
            .as_ref()
            .map_or(self.id.trunk_addr, |d| d.next_hop)
    }
}
