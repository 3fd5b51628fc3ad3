-- The calls each agent is ringing for or on now, cluster-wide: one row per call, in one of
-- the agent's `max_calls` numbered slots. The primary key makes taking a slot atomic across
-- every node on this database (no count-then-insert race), so two nodes never hand one agent
-- more calls than it carries. `state` is `ringing` until the agent answers, then `on_call`
-- from `since` (Unix ms). A row goes when its call ends, at its node's next start after a
-- crash, or at `expires_at` (Unix s, the longest a call may last) should the node never
-- come back.
CREATE TABLE agent_calls (
    agent TEXT NOT NULL,
    slot BIGINT NOT NULL,
    call_id TEXT NOT NULL,
    node TEXT NOT NULL,
    state TEXT NOT NULL,
    since BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (agent, slot)
);
CREATE INDEX agent_calls_node ON agent_calls (node);
CREATE INDEX agent_calls_call ON agent_calls (call_id);

-- What the router weighs beside an agent's calls, one row per agent made on its first
-- answered call: `idle_since` (Unix ms) when its last answered call ended (longest idle
-- rings first), `wrap_up_until` (Unix ms) before which it gets no new call, and `answered`,
-- the calls it answered on day `answered_day` (Unix ms / 86,400,000); the first answer of a
-- new day starts the count again.
CREATE TABLE agent_activity (
    agent TEXT PRIMARY KEY,
    idle_since BIGINT NOT NULL,
    wrap_up_until BIGINT NOT NULL,
    answered BIGINT NOT NULL,
    answered_day BIGINT NOT NULL
);
