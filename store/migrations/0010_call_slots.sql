-- The calls a campaign carries right now, cluster-wide: one row per call, in one of the
-- campaign's `max_concurrent_calls` numbered slots. The primary key makes taking a slot
-- atomic across every node on this database (no count-then-insert race); a slot is given
-- back when its call ends, by the node's next start after a crash, or at `expires_at` (the
-- longest a call may last) should its node never come back.
CREATE TABLE call_slots (
    campaign TEXT NOT NULL,
    slot BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    node TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (campaign, slot)
);
CREATE INDEX call_slots_node ON call_slots (node);
