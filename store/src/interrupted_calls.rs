//! What a node started after a crash needs to end, at the trunk, the calls it was carrying:
//! its answered calls still open, with the SIP messages each exchanged with its trunk.

use super::calls::CallEvent;
use super::{Store, StoreError};

/// An answered call a node left open, with its SIP ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterruptedCall {
    /// Call id.
    pub id: String,
    /// Organisation.
    pub org: String,
    /// Trunk name.
    pub trunk: String,
    /// SIP Call-ID of the trunk leg.
    pub sip_call_id: String,
    /// Its `sip_out` / `sip_in` events, in order.
    pub messages: Vec<CallEvent>,
}

impl Store {
    /// The answered calls `node` has not ended (a crash cut them off), oldest first, with
    /// their SIP messages; read before [`Store::close_interrupted_calls`] closes them.
    pub async fn interrupted_calls(&self, node: &str) -> Result<Vec<InterruptedCall>, StoreError> {
        let calls: Vec<(String, String, String, String)> = sqlx::query_as(
            "SELECT id, org, trunk, sip_call_id FROM calls WHERE node = $1 \
             AND ended_at IS NULL AND answered_at IS NOT NULL ORDER BY started_at, id",
        )
        .bind(node)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(calls.len());
        for (id, org, trunk, sip_call_id) in calls {
            let messages = sqlx::query_as(
                "SELECT seq, at_ms, kind, detail, peer FROM call_events WHERE call_id = $1 \
                 AND kind IN ('sip_out', 'sip_in') ORDER BY seq",
            )
            .bind(id.as_str())
            .fetch_all(self.pool())
            .await?;
            out.push(InterruptedCall {
                id,
                org,
                trunk,
                sip_call_id,
                messages,
            });
        }
        Ok(out)
    }
}
