//! Rebuilding a trunk dialog from the SIP messages recorded before a crash, so that a node
//! started again can end the call at the trunk (BYE, RFC 3261 §15.1.1) instead of leaving the
//! carrier to keep it up (and billing) until its own timers notice.
//!
//! Sans-IO: recorded message texts in, a [`InterruptedDialog`] out; the BYE itself is sent by a
//! [`crate::leg::TrunkLeg`] made from it ([`crate::leg::TrunkLeg::interrupted`]). The texts come
//! from the database but were taken off the network, so nothing here trusts them: a dialog
//! that cannot be rebuilt is an error, never a panic.

use std::net::SocketAddr;

use thiserror::Error;

use crate::leg::in_dialog_next_hop;
use crate::sip::{self, Message, Method};
use crate::trunk::Transport;

/// One SIP message of a call as its timeline recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordedMessage<'a> {
    /// True when we sent it (`sip_out`), false when we received it (`sip_in`).
    pub sent: bool,
    /// The trunk address it went to or came from (`ip:port`).
    pub peer: &'a str,
    /// The whole message text.
    pub text: &'a str,
}

/// A confirmed dialog with a trunk (RFC 3261 §12.1.2), rebuilt from recorded messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedDialog {
    /// The Call-ID.
    pub call_id: String,
    /// Our From header as sent, our tag included.
    pub from: String,
    /// Our tag.
    pub local_tag: String,
    /// The To header of the 2xx, the trunk's tag included.
    pub to: String,
    /// The trunk's tag.
    pub remote_tag: String,
    /// The remote target: the 2xx's Contact (the INVITE's Request-URI without one).
    pub target: String,
    /// The route set: the 2xx's Record-Route, reversed.
    pub routes: Vec<String>,
    /// The highest CSeq number we used in the dialog; the BYE takes the next one.
    pub last_cseq: u32,
    /// Where the 2xx came from: the trunk.
    pub trunk_addr: SocketAddr,
    /// The transport of our INVITE.
    pub transport: Transport,
}

/// Why a dialog could not be rebuilt.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RecoverError {
    /// No readable INVITE among the messages we sent.
    #[error("no readable INVITE sent")]
    NoInvite,
    /// Our INVITE lacks something a dialog needs.
    #[error("the INVITE sent has no usable {0}")]
    BadInvite(&'static str),
    /// No readable 2xx answered our last INVITE.
    #[error("no readable 2xx to the last INVITE sent")]
    NoAnswer,
    /// The 2xx lacks something a dialog needs.
    #[error("the 2xx has no usable {0}")]
    BadAnswer(&'static str),
}

impl InterruptedDialog {
    /// Rebuilds the dialog of our last INVITE from a call's recorded messages, in order.
    pub fn rebuild(messages: &[RecordedMessage<'_>]) -> Result<Self, RecoverError> {
        // Garbled texts are left out: what they held is simply not known.
        let parsed: Vec<(&RecordedMessage<'_>, Message)> = messages
            .iter()
            .filter_map(|m| Some((m, Message::parse(m.text.as_bytes()).ok()?)))
            .collect();
        let invite = parsed
            .iter()
            .rev()
            .find_map(|(m, msg)| match msg {
                Message::Request(r) if m.sent && r.method == Method::Invite => Some(msg),
                _ => None,
            })
            .ok_or(RecoverError::NoInvite)?;
        let Message::Request(invite_req) = invite else {
            return Err(RecoverError::NoInvite);
        };
        let call_id = invite
            .call_id()
            .filter(|c| !c.is_empty())
            .ok_or(RecoverError::BadInvite("Call-ID"))?;
        let from = invite
            .headers()
            .get("From")
            .ok_or(RecoverError::BadInvite("From"))?;
        let local_tag = invite
            .from_tag()
            .ok_or(RecoverError::BadInvite("From tag"))?;
        let cseq = invite.cseq().ok_or(RecoverError::BadInvite("CSeq"))?;
        let transport = invite
            .top_via()
            .and_then(via_transport)
            .ok_or(RecoverError::BadInvite("Via"))?;
        let (answer_peer, answer) = parsed
            .iter()
            .find(|(m, msg)| {
                !m.sent
                    && msg.status().is_some_and(|s| (200..300).contains(&s))
                    && msg.call_id() == Some(call_id)
                    && msg.cseq().as_ref() == Some(&cseq)
                    && msg.from_tag().as_deref() == Some(local_tag.as_str())
            })
            .map(|(m, msg)| (m.peer, msg))
            .ok_or(RecoverError::NoAnswer)?;
        let to = answer
            .headers()
            .get("To")
            .ok_or(RecoverError::BadAnswer("To"))?;
        let remote_tag = answer.to_tag().ok_or(RecoverError::BadAnswer("To tag"))?;
        let trunk_addr: SocketAddr = answer_peer
            .trim()
            .parse()
            .map_err(|_| RecoverError::BadAnswer("peer address"))?;
        let target = answer
            .contact_uri()
            .unwrap_or_else(|| invite_req.uri.clone());
        if sip::host_port(&target).is_none() {
            return Err(RecoverError::BadAnswer("Contact"));
        }
        let routes: Vec<String> = answer
            .headers()
            .list("Record-Route")
            .into_iter()
            .rev()
            .collect();
        if routes.iter().any(|r| sip::name_addr_uri(r).is_none()) {
            return Err(RecoverError::BadAnswer("Record-Route"));
        }
        // Every request we sent in the dialog counts (PRACKs and a BYE cut short included).
        let last_cseq = parsed
            .iter()
            .filter(|(m, msg)| {
                m.sent
                    && matches!(msg, Message::Request(_))
                    && msg.call_id() == Some(call_id)
                    && msg.from_tag().as_deref() == Some(local_tag.as_str())
            })
            .filter_map(|(_, msg)| msg.cseq().map(|c| c.number))
            .fold(cseq.number, u32::max);
        Ok(Self {
            call_id: call_id.to_owned(),
            from: from.to_owned(),
            local_tag,
            to: to.to_owned(),
            remote_tag,
            target,
            routes,
            last_cseq,
            trunk_addr,
            transport,
        })
    }

    /// Where the BYE goes: the first route, else the remote target, else the trunk (as for
    /// every in-dialog request, see [`crate::leg`]).
    pub fn next_hop(&self) -> SocketAddr {
        in_dialog_next_hop(self.transport, &self.routes, &self.target, self.trunk_addr)
    }
}

/// The transport of a Via value (`SIP/2.0/UDP host;branch=…`).
fn via_transport(via: &str) -> Option<Transport> {
    let protocol = via.split_whitespace().next()?;
    let (_, transport) = protocol.rsplit_once('/')?;
    match transport.to_ascii_uppercase().as_str() {
        "UDP" => Some(Transport::Udp),
        "TCP" => Some(Transport::Tcp),
        "TLS" => Some(Transport::Tls),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
