//! Writing call detail records: a call's changes are applied in order, and whatever is queued
//! together goes in one transaction (one lock and one WAL commit on SQLite instead of ten).

use std::collections::HashMap;

use sqlx::AnyConnection;

use super::calls::NewCall;
use super::{Store, StoreError};

/// The timeline entry of a call closed by [`Store::close_interrupted_calls`].
const INTERRUPTED_NOTE: &str = "interrupted: the gateway stopped during the call";

/// The figures of [`CallMedia`], in its field order.
const MEDIA_COLUMNS: &str = "from_browser, to_browser, from_trunk, to_trunk, \
     lost_from_browser, lost_from_trunk, dropped_foreign, trunk_reports, trunk_lost, \
     trunk_jitter_us";

/// A `call_media` row with its call id.
#[derive(sqlx::FromRow)]
struct MediaRow {
    call_id: String,
    #[sqlx(flatten)]
    media: CallMedia,
}

/// One change to a call's record (serialised as such in the application's spool).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum CallWrite {
    /// The record as the call starts (a crash mid-call still leaves it).
    Insert(Box<NewCall>),
    /// The destination being called now (a campaign hunts through several in order).
    Destination(String),
    /// The trunk leg's SIP Call-ID.
    SipCallId(String),
    /// Answered at (Unix seconds); the first answer counts.
    Answered(i64),
    /// A timeline entry; `peer` is the trunk address for SIP messages, else empty.
    Event {
        /// Unix milliseconds.
        at_ms: i64,
        /// `state`, `sip_out`, `sip_in`, `error`, `end`…
        kind: String,
        /// Trunk address of a SIP message, else empty.
        peer: String,
        /// The state, the whole SIP message, the reason.
        detail: String,
    },
    /// The media figures, once the media stopped.
    Media(CallMedia),
    /// Completes the record; a record is ended once.
    End {
        /// Unix seconds.
        at: i64,
        /// Why it ended (the signalling `ended` reason).
        disposition: String,
        /// Final SIP status from the trunk, if any.
        sip_status: Option<u16>,
    },
}

/// A call's media figures (RTP packets counted on each side of the gateway).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow, serde::Serialize, serde::Deserialize,
)]
pub struct CallMedia {
    /// RTP packets received from the browser.
    pub from_browser: i64,
    /// RTP packets sent to the browser.
    pub to_browser: i64,
    /// RTP packets received from the trunk.
    pub from_trunk: i64,
    /// RTP packets sent to the trunk.
    pub to_trunk: i64,
    /// Packets of the browser's stream that never arrived (sequence gaps).
    pub lost_from_browser: i64,
    /// Packets of the trunk's stream that never arrived (sequence gaps).
    pub lost_from_trunk: i64,
    /// Packets from addresses the trunk had not signalled, dropped.
    pub dropped_foreign: i64,
    /// RTCP sender/receiver reports received from the trunk.
    pub trunk_reports: i64,
    /// Packets of our stream the trunk reported lost (last report).
    pub trunk_lost: i64,
    /// Interarrival jitter of our stream at the trunk (last report), microseconds.
    pub trunk_jitter_us: i64,
}

impl Store {
    /// Applies a call's writes in order, in one transaction: all or none.
    pub async fn apply_call_writes(
        &self,
        call_id: &str,
        writes: &[CallWrite],
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        for w in writes {
            apply(&mut tx, call_id, w).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a call as it starts.
    pub async fn insert_call(&self, c: &NewCall) -> Result<(), StoreError> {
        let w = CallWrite::Insert(Box::new(c.clone()));
        self.apply_call_writes(&c.id, &[w]).await
    }

    /// Sets the trunk leg's SIP Call-ID once it is known.
    pub async fn set_call_sip_id(&self, id: &str, sip_call_id: &str) -> Result<(), StoreError> {
        let w = CallWrite::SipCallId(sip_call_id.to_owned());
        self.apply_call_writes(id, &[w]).await
    }

    /// Marks a call answered (the first answer counts).
    pub async fn call_answered(&self, id: &str, at: i64) -> Result<(), StoreError> {
        self.apply_call_writes(id, &[CallWrite::Answered(at)]).await
    }

    /// Completes a call's record; a record is ended once.
    pub async fn end_call(
        &self,
        id: &str,
        at: i64,
        disposition: &str,
        sip_status: Option<u16>,
    ) -> Result<(), StoreError> {
        let w = CallWrite::End {
            at,
            disposition: disposition.to_owned(),
            sip_status,
        };
        self.apply_call_writes(id, &[w]).await
    }

    /// Appends an event to a call's timeline.
    pub async fn add_call_event(
        &self,
        call_id: &str,
        at_ms: i64,
        kind: &str,
        detail: &str,
    ) -> Result<(), StoreError> {
        self.add_sip_event(call_id, at_ms, kind, "", detail).await
    }

    /// Appends a SIP message (its whole text) exchanged with `peer` to a call's timeline.
    pub async fn add_sip_event(
        &self,
        call_id: &str,
        at_ms: i64,
        kind: &str,
        peer: &str,
        message: &str,
    ) -> Result<(), StoreError> {
        let w = CallWrite::Event {
            at_ms,
            kind: kind.to_owned(),
            peer: peer.to_owned(),
            detail: message.to_owned(),
        };
        self.apply_call_writes(call_id, &[w]).await
    }

    /// Closes the records `node` left open when it stopped without ending its calls (a
    /// crash, a kill): disposition `interrupted`, ended at the last thing recorded of each,
    /// with a timeline entry saying so. Returns how many were closed.
    pub async fn close_interrupted_calls(
        &self,
        node: &str,
        now_ms: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO call_events (call_id, seq, at_ms, kind, detail, peer) \
             SELECT id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM call_events e \
             WHERE e.call_id = calls.id), $1, 'end', $2, '' \
             FROM calls WHERE node = $3 AND ended_at IS NULL",
        )
        .bind(now_ms)
        .bind(INTERRUPTED_NOTE)
        .bind(node)
        .execute(&mut *tx)
        .await?;
        // The last entry before ours is the last sign of life.
        let closed = sqlx::query(
            "UPDATE calls SET disposition = 'interrupted', ended_at = COALESCE((SELECT \
             MAX(at_ms) FROM call_events e WHERE e.call_id = calls.id AND e.detail <> $1) \
             / 1000, started_at) WHERE node = $2 AND ended_at IS NULL",
        )
        .bind(INTERRUPTED_NOTE)
        .bind(node)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(closed.rows_affected())
    }

    /// The media figures of those of `call_ids` that have them, by call id.
    pub async fn calls_media(
        &self,
        call_ids: &[&str],
    ) -> Result<HashMap<String, CallMedia>, StoreError> {
        let mut out = HashMap::with_capacity(call_ids.len());
        // Bounded lists keep every statement well under both engines' placeholder limits.
        for chunk in call_ids.chunks(500) {
            let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
            let sql = format!(
                "SELECT call_id, {MEDIA_COLUMNS} FROM call_media WHERE call_id IN ({})",
                marks.join(", ")
            );
            let mut q = sqlx::query_as::<_, MediaRow>(sqlx::AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(*id);
            }
            for row in q.fetch_all(self.pool()).await? {
                out.insert(row.call_id, row.media);
            }
        }
        Ok(out)
    }

    /// A call's media figures; None when its media never ran or has not stopped yet.
    pub async fn call_media(&self, call_id: &str) -> Result<Option<CallMedia>, StoreError> {
        Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {MEDIA_COLUMNS} FROM call_media WHERE call_id = $1"
        )))
        .bind(call_id)
        .fetch_optional(self.pool())
        .await?)
    }
}

async fn apply(conn: &mut AnyConnection, call_id: &str, w: &CallWrite) -> Result<(), sqlx::Error> {
    let q = match w {
        CallWrite::Insert(c) => sqlx::query(
            "INSERT INTO calls (id, org, campaign, session_id, number, destination, trunk, \
             sip_call_id, started_at, node) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(c.id.as_str())
        .bind(c.org.as_str())
        .bind(c.campaign.as_str())
        .bind(c.session_id.as_str())
        .bind(c.number.as_str())
        .bind(c.destination.as_str())
        .bind(c.trunk.as_str())
        .bind(c.sip_call_id.as_str())
        .bind(c.started_at)
        .bind(c.node.as_str()),
        CallWrite::Destination(d) => sqlx::query("UPDATE calls SET destination = $1 WHERE id = $2")
            .bind(d.as_str())
            .bind(call_id),
        CallWrite::SipCallId(s) => sqlx::query("UPDATE calls SET sip_call_id = $1 WHERE id = $2")
            .bind(s.as_str())
            .bind(call_id),
        CallWrite::Answered(at) => {
            sqlx::query("UPDATE calls SET answered_at = $1 WHERE id = $2 AND answered_at IS NULL")
                .bind(*at)
                .bind(call_id)
        }
        // The next seq in the same statement: one writer per call, so no race within a call.
        CallWrite::Event {
            at_ms,
            kind,
            peer,
            detail,
        } => sqlx::query(
            "INSERT INTO call_events (call_id, seq, at_ms, kind, detail, peer) \
             SELECT $1, COALESCE(MAX(seq), 0) + 1, $2, $3, $4, $5 FROM call_events \
             WHERE call_id = $6",
        )
        .bind(call_id)
        .bind(*at_ms)
        .bind(kind.as_str())
        .bind(detail.as_str())
        .bind(peer.as_str())
        .bind(call_id),
        CallWrite::Media(m) => sqlx::query(
            "INSERT INTO call_media (call_id, from_browser, to_browser, from_trunk, to_trunk, \
             lost_from_browser, lost_from_trunk, dropped_foreign, trunk_reports, trunk_lost, \
             trunk_jitter_us) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT DO NOTHING",
        )
        .bind(call_id)
        .bind(m.from_browser)
        .bind(m.to_browser)
        .bind(m.from_trunk)
        .bind(m.to_trunk)
        .bind(m.lost_from_browser)
        .bind(m.lost_from_trunk)
        .bind(m.dropped_foreign)
        .bind(m.trunk_reports)
        .bind(m.trunk_lost)
        .bind(m.trunk_jitter_us),
        CallWrite::End {
            at,
            disposition,
            sip_status,
        } => sqlx::query(
            "UPDATE calls SET ended_at = $1, disposition = $2, sip_status = $3 \
             WHERE id = $4 AND ended_at IS NULL",
        )
        .bind(*at)
        .bind(disposition.as_str())
        .bind(sip_status.map(i64::from))
        .bind(call_id),
    };
    q.execute(conn).await?;
    Ok(())
}
