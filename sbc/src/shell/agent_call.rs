//! Calls to an agent's registered device: the same leg as a trunk call, sent where the
//! device's REGISTER came from and kept there for the whole dialog (it may sit behind NAT),
//! screened as an agent's address, never trusted as a trunk.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Command, Sbc, SbcError, TrunkCall};
use crate::context::CallContext;
use crate::destination::Destination;
use crate::leg::{check_params, new_call_identity, LegParams};
use crate::sip;
use crate::trunk::{CallerIdHeader, Transport, TrunkConfig};
use c2c_token::VerifiedCall;

/// A device that answers nothing at all for this long is gone (Timer A's third resend).
const DEVICE_SILENCE: Duration = Duration::from_secs(4);

/// An agent's device as the registrar bound it: where and how a call to it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentDevice {
    /// The agent's SIP username (the Request-URI's user when the Contact has none).
    pub username: String,
    /// The Contact URI it registered.
    pub contact: String,
    /// Where its REGISTER came from: every request of the call goes there.
    pub source: SocketAddr,
    /// The transport it registered over (TCP: the connection it keeps open).
    pub transport: Transport,
}

impl AgentDevice {
    /// The Request-URI of a call to it: the Contact's user and host, without parameters
    /// (a parameter could carry what no visitor-facing check has seen).
    fn request_uri(&self) -> Option<String> {
        let (host, port) = sip::host_port(&self.contact)?;
        let host = match host.contains(':') {
            true => format!("[{host}]"),
            false => host,
        };
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let user = contact_user(&self.contact)
            .filter(|u| Destination::parse(&format!("sip:{u}@{host}"), "contact").is_ok())
            .unwrap_or(&self.username);
        Some(format!("sip:{user}@{host}{port}"))
    }
}

/// The user part of a `sip:` Contact URI, if it has one.
fn contact_user(contact: &str) -> Option<&str> {
    let (_scheme, rest) = contact.split_once(':')?;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or_default();
    (!user.is_empty()).then_some(user)
}

impl Sbc {
    /// Places `call` on an agent's registered device, with our SDP offer and the visitor's
    /// web context. The device must be inside the registrar's networks.
    pub async fn place_agent_call(
        &self,
        call: &VerifiedCall,
        device: &AgentDevice,
        context: &CallContext,
        sdp_offer: &str,
    ) -> Result<TrunkCall, SbcError> {
        self.ring_devices(call, std::slice::from_ref(device), context, sdp_offer)
            .await
    }

    /// Rings every device at once (ring_all): the first to answer takes the call (its index
    /// comes as [`crate::leg::LegEvent::Picked`] before the answer), the others are
    /// cancelled with `Reason: SIP;cause=200;text="Call completed elsewhere"` (RFC 3326).
    /// Devices outside the registrar's networks are refused before anything is sent.
    pub async fn ring_devices(
        &self,
        call: &VerifiedCall,
        devices: &[AgentDevice],
        context: &CallContext,
        sdp_offer: &str,
    ) -> Result<TrunkCall, SbcError> {
        let networks = self.agent_networks.clone().ok_or(SbcError::NoRegistrar)?;
        let identity = new_call_identity();
        let call_id = identity.call_id.clone();
        let mut candidates = Vec::with_capacity(devices.len());
        for device in devices {
            if !networks.allows(device.source.ip()) {
                return Err(SbcError::OutsideAgentNetworks(device.source));
            }
            if device.transport == Transport::Tls {
                return Err(SbcError::DeviceTransport(device.transport));
            }
            let destination = device
                .request_uri()
                .ok_or_else(|| SbcError::BadContact(device.contact.clone()))?;
            let trunk = TrunkConfig {
                name: format!("agent:{}", device.username),
                host: device.source.ip().to_string(),
                port: device.source.port(),
                transport: device.transport,
                // The agent sees the visitor's session number as the caller.
                caller_id_header: CallerIdHeader::From,
                from_domain: Some(self.advertised.ip().to_string()),
                ..TrunkConfig::default()
            };
            let params = LegParams {
                trunk,
                trunk_addr: device.source,
                local_addr: self.advertised,
                call: call.clone(),
                destination,
                context: context.clone(),
                sdp_offer: sdp_offer.to_owned(),
                give_up_after: Some(DEVICE_SILENCE),
                // One Call-ID and From tag for every device, as a forking proxy would.
                continues: Some(identity.clone()),
                networks: networks.clone(),
                pinned: true,
            };
            check_params(&params)?;
            candidates.push(params);
        }
        if candidates.is_empty() {
            return Err(SbcError::NoDestination(0));
        }
        let (events_tx, events) = mpsc::unbounded_channel();
        let (trace_tx, trace) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Place {
                candidates,
                fork: true,
                events: events_tx,
                trace: trace_tx,
                conns: Vec::new(),
            })
            .map_err(|_| SbcError::Stopped)?;
        Ok(TrunkCall {
            call_id,
            events,
            trace: Some(trace),
            commands: self.commands.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(contact: &str) -> AgentDevice {
        AgentDevice {
            username: "alice".into(),
            contact: contact.into(),
            source: "192.0.2.10:5062".parse().expect("addr"),
            transport: Transport::Udp,
        }
    }

    #[test]
    fn the_request_uri_is_the_contact_without_parameters() {
        for (contact, uri) in [
            (
                "sip:alice-7f3a@10.0.0.5:5060;transport=udp;ob",
                Some("sip:alice-7f3a@10.0.0.5:5060"),
            ),
            ("sip:10.0.0.5", Some("sip:alice@10.0.0.5")),
            ("sip:%0d%0a@10.0.0.5", Some("sip:alice@10.0.0.5")),
            (
                "sip:bob@[2001:db8::1]:5070",
                Some("sip:bob@[2001:db8::1]:5070"),
            ),
            ("tel:+15550100", None),
        ] {
            assert_eq!(device(contact).request_uri().as_deref(), uri, "{contact}");
        }
    }
}
