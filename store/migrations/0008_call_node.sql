-- The gateway node that handles each call, so a node starting again after a crash can close
-- the records of the calls it was carrying (they would stay "in progress" for ever).
ALTER TABLE calls ADD COLUMN node TEXT NOT NULL DEFAULT '';
CREATE INDEX calls_node_open ON calls (node) WHERE ended_at IS NULL;
