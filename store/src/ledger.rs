//! The cluster-wide ledger of spent call-token ids.

use c2c_token::{LedgerFuture, TokenError, TokenLedger, CLOCK_SKEW_S};

use super::Store;

impl TokenLedger for Store {
    fn claim<'a>(&'a self, jti: &'a str, exp: i64, now: i64) -> LedgerFuture<'a> {
        Box::pin(async move {
            // The primary key makes the insert the single point of truth across nodes.
            let inserted = sqlx::query(
                "INSERT INTO used_token_ids (jti, expires_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            )
            .bind(jti)
            .bind(exp)
            .execute(self.pool())
            .await
            .map_err(|e| TokenError::Ledger(e.to_string()))?
            .rows_affected();
            // Forget ids whose tokens expired (they can never verify again); one claim in 64
            // does the sweep so it costs nothing noticeable.
            if rand::random::<u8>() < 4 {
                let _ = sqlx::query("DELETE FROM used_token_ids WHERE expires_at < $1")
                    .bind(now - CLOCK_SKEW_S - 60)
                    .execute(self.pool())
                    .await;
            }
            Ok(inserted == 1)
        })
    }
}
