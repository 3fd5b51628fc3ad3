-- The dashboard: organisations, their users and login sessions, call records (CDRs) with their
-- event timelines, and an audit log. Portable like 0001: TEXT ids, BIGINT Unix seconds (event
-- times in milliseconds, to order a SIP ladder), INTEGER booleans.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Dashboard users. password_hash is an argon2id PHC string; role is owner, admin or viewer.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT
);
CREATE INDEX users_org ON users (org);

-- Dashboard logins. Only a hash of the cookie's secret is kept; csrf is the token every
-- state-changing form of this login must carry.
CREATE TABLE login_sessions (
    id_sha256 TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX login_sessions_user ON login_sessions (user_id);

-- Call detail records: inserted when a call starts, updated as it progresses and when it ends,
-- so a crash leaves a record without an end rather than no record.
CREATE TABLE calls (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    campaign TEXT NOT NULL,
    session_id TEXT NOT NULL,
    number TEXT NOT NULL,
    destination TEXT NOT NULL,
    trunk TEXT NOT NULL,
    sip_call_id TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    answered_at BIGINT,
    ended_at BIGINT,
    disposition TEXT,
    sip_status BIGINT
);
CREATE INDEX calls_org_started ON calls (org, started_at);
CREATE INDEX calls_session ON calls (session_id);

-- A call's timeline: states, SIP messages (the ladder), media and browser events.
CREATE TABLE call_events (
    call_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    kind TEXT NOT NULL,
    detail TEXT NOT NULL,
    PRIMARY KEY (call_id, seq)
);

-- Who changed what in the dashboard.
CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    user_id TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org, at);
