-- The calls waiting for an agent, per campaign, across every node: the node holding the
-- visitor's socket writes its call here and polls its position. Higher `priority` goes
-- first, then the earlier `since` (Unix ms), then the call id, so every node computes the
-- same order. A row goes when its call is rung, gives up or ends, at its node's next start,
-- or at `expires_at` (Unix s: the queue's longest wait) should the node never come back.
CREATE TABLE call_queue (
    call_id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    node TEXT NOT NULL,
    priority BIGINT NOT NULL,
    since BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX call_queue_campaign ON call_queue (campaign, priority, since);
CREATE INDEX call_queue_node ON call_queue (node);

-- Handle times are read per campaign over recently ended calls (the queue's wait estimate).
CREATE INDEX calls_campaign_ended ON calls (campaign, ended_at);
