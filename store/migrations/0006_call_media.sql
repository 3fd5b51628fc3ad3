-- A call's media figures, written once when its media stops: RTP counted both ways, packets
-- missing from each incoming stream (sequence gaps), and what the trunk's RTCP reports said
-- about the stream we sent it. No row: the call never had media (refused, failed early).
CREATE TABLE call_media (
    call_id TEXT PRIMARY KEY,
    from_browser BIGINT NOT NULL,
    to_browser BIGINT NOT NULL,
    from_trunk BIGINT NOT NULL,
    to_trunk BIGINT NOT NULL,
    lost_from_browser BIGINT NOT NULL,
    lost_from_trunk BIGINT NOT NULL,
    dropped_foreign BIGINT NOT NULL,
    trunk_reports BIGINT NOT NULL,
    trunk_lost BIGINT NOT NULL,
    trunk_jitter_us BIGINT NOT NULL
);
