-- Portable between SQLite and PostgreSQL: TEXT ids, BIGINT Unix seconds, INTEGER booleans.

-- Call-token ids already spent (DESIGN §3: a jti is accepted once, cluster-wide).
CREATE TABLE used_token_ids (
    jti TEXT PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX used_token_ids_expires ON used_token_ids (expires_at);

-- Caller-ID numbers lent to web sessions. One row per number that was ever in a pool; a number
-- is lent when expires_at is in the future, so a number has at most one holder at a time.
CREATE TABLE number_leases (
    number TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    session_id TEXT,
    leased_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX number_leases_lru ON number_leases (campaign, expires_at);

-- The visitor context behind each token.
CREATE TABLE web_sessions (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    campaign TEXT NOT NULL,
    number TEXT NOT NULL,
    page_url TEXT NOT NULL,
    referrer TEXT NOT NULL,
    utm TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX web_sessions_number ON web_sessions (number, created_at);
CREATE INDEX web_sessions_campaign ON web_sessions (campaign, created_at);

-- Callback requests left when a campaign was closed or busy.
CREATE TABLE callback_requests (
    id TEXT PRIMARY KEY,
    campaign TEXT NOT NULL,
    phone TEXT NOT NULL,
    name TEXT NOT NULL,
    consent INTEGER NOT NULL,
    ip TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    done_at BIGINT
);
CREATE INDEX callback_requests_campaign ON callback_requests (campaign, created_at);

-- API keys for server-to-server lookups; only a hash of the secret is kept.
CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    label TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);
