-- Agents: the people who take the calls, per organisation. `max_calls` bounds how many calls
-- one agent carries at once; `away` is the state the agent or an admin set (1), else 0.
CREATE TABLE agents (
    id TEXT PRIMARY KEY,
    org TEXT NOT NULL,
    display_name TEXT NOT NULL,
    max_calls BIGINT NOT NULL,
    away BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX agents_org ON agents (org);

-- Free skill tags with a level of 1 to 5 (`lang:de` 5, `product:billing` 3).
CREATE TABLE agent_skills (
    agent TEXT NOT NULL,
    skill TEXT NOT NULL,
    level BIGINT NOT NULL,
    PRIMARY KEY (agent, skill)
);

-- How an agent is reached, rung in `position` order: `sip` (the devices registered with the
-- agent's SIP account), `browser` (the agent console) or `phone` (an E.164 number in
-- `target`, dialled through the trunk named in `trunk`; `confirm_digit` asks the person who
-- answers to press it before the call is theirs, so a voicemail never takes it).
CREATE TABLE agent_contacts (
    agent TEXT NOT NULL,
    position BIGINT NOT NULL,
    kind TEXT NOT NULL,
    target TEXT NOT NULL,
    trunk TEXT NOT NULL,
    confirm_digit TEXT NOT NULL,
    PRIMARY KEY (agent, position)
);

-- An agent's SIP account at the registrar: never the password, only HA1 = H(user:realm:pw)
-- per digest algorithm for `realm` (a new realm needs new passwords). Usernames are unique
-- on the registrar, across organisations.
CREATE TABLE agent_credentials (
    username TEXT PRIMARY KEY,
    agent TEXT NOT NULL UNIQUE,
    org TEXT NOT NULL,
    realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- The devices registered now, written by the node whose registrar holds them, so that every
-- node and the dashboard see the same; `source` is where the device is reached (the address
-- its REGISTER came from), `expires_at` when it lapses unless refreshed.
CREATE TABLE agent_registrations (
    username TEXT NOT NULL,
    contact TEXT NOT NULL,
    agent TEXT NOT NULL,
    org TEXT NOT NULL,
    source TEXT NOT NULL,
    transport TEXT NOT NULL,
    node TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (username, contact)
);
CREATE INDEX agent_registrations_agent ON agent_registrations (agent);
CREATE INDEX agent_registrations_node ON agent_registrations (node);
