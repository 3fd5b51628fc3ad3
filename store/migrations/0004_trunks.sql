-- Trunks live in the database (the config file only seeds them), so a dashboard edit
-- applies to the next call without a restart. Names are unique per organisation: tenants
-- pick names freely and never learn each other's (the SBC knows a trunk as "org/name").
-- `config` is the trunk's settings as JSON without the password; `secret` is the password
-- sealed with AES-256-GCM under the key file in the data dir ('' when there is none).
CREATE TABLE trunks (
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    config TEXT NOT NULL,
    secret TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (org, name)
);
