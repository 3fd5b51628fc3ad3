-- Campaigns live in the database (the config file only seeds them), so a dashboard edit
-- applies to the next call without a restart. `config` is the campaign's settings as JSON
-- (the same fields as a [[campaigns]] entry of the config file).
CREATE TABLE campaigns (
    public_id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    config TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX campaigns_org ON campaigns (org);
