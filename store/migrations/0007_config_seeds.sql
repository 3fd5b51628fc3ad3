-- Config-file entries ([[trunks]], [[campaigns]]) already copied into the database. The
-- dashboard owns them afterwards: one deleted there is not brought back by the next restart.
CREATE TABLE config_seeds (
    kind TEXT NOT NULL,
    org TEXT NOT NULL,
    name TEXT NOT NULL,
    seeded_at BIGINT NOT NULL,
    PRIMARY KEY (kind, org, name)
);
