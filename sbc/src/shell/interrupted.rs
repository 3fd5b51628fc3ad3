//! Ending, after a restart, the trunk dialogs of calls a crash interrupted: a [`TrunkLeg`] made
//! from the rebuilt dialog sends its BYE from our SIP socket, like any other call's.

use std::time::Instant;

use tokio::sync::mpsc;
use tracing::info;

use super::{Command, Sbc, SbcError, TrunkCall};
use crate::interrupted::InterruptedDialog;
use crate::leg::TrunkLeg;
use crate::trunk::Transport;

impl Sbc {
    /// Sends a BYE in `dialog` (see [`TrunkLeg::interrupted`]) and returns the call, whose events
    /// end when the BYE is done and whose trace holds its messages. Refused when the BYE would
    /// go to an address no current trunk has or outside `[sip] trunk_networks`: a trunk removed
    /// since must not get traffic.
    pub fn end_interrupted(&self, dialog: &InterruptedDialog) -> Result<TrunkCall, SbcError> {
        if dialog.transport != Transport::Udp {
            return Err(SbcError::InterruptedTransport(dialog.transport));
        }
        let to = dialog.next_hop();
        let trunk_addrs = self
            .trunk_addrs
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if !trunk_addrs.contains(&to.ip()) || !self.dns.networks.allows(to.ip()) {
            return Err(SbcError::NotATrunk(to));
        }
        let leg = TrunkLeg::interrupted(dialog, self.advertised, Instant::now());
        let (events_tx, events) = mpsc::unbounded_channel();
        let (trace_tx, trace) = mpsc::unbounded_channel();
        self.commands
            .send(Command::Recover {
                leg: Box::new(leg),
                events: events_tx,
                trace: trace_tx,
            })
            .map_err(|_| SbcError::Stopped)?;
        info!(call_id = %dialog.call_id, %to, "BYE for an interrupted dialog after a restart");
        Ok(TrunkCall {
            call_id: dialog.call_id.clone(),
            events,
            trace: Some(trace),
            commands: self.commands.clone(),
        })
    }
}
