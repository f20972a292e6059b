-- OAuth state: authorization requests and their codes, sessions and their
-- refresh tokens, browser devices and their sign-ins, remembered consent,
-- and one-time values seen (replay protection).
-- Timestamps are Unix seconds (BIGINT). Text compares bytewise (BINARY
-- collation, as "C" on PostgreSQL). Secrets are stored only as SHA-256
-- hashes. JSON columns hold serde JSON text.

CREATE TABLE authorization_requests (
    id          TEXT   NOT NULL PRIMARY KEY,
    client_id   TEXT   NOT NULL,
    client_auth TEXT   NOT NULL,
    params      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- No foreign keys: requests are short-lived and purged by expiry.
    device_id   TEXT,
    sub         TEXT,
    code_hash   TEXT UNIQUE,
    consumed_at BIGINT
);

CREATE INDEX authorization_requests_expires_at ON authorization_requests (expires_at);

CREATE TABLE oauth_sessions (
    id                    TEXT   NOT NULL PRIMARY KEY,
    -- Deleting an account revokes its sessions.
    did                   TEXT   NOT NULL REFERENCES accounts (did) ON DELETE CASCADE,
    client_id             TEXT   NOT NULL,
    client_auth           TEXT   NOT NULL,
    scope                 TEXT   NOT NULL,
    dpop_jkt              TEXT   NOT NULL,
    -- No foreign key: requests are purged while their sessions live on.
    request_id            TEXT   NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    refresh_hash          TEXT UNIQUE,
    refresh_expires_at    BIGINT,
    previous_refresh_hash TEXT,
    rotated_at            BIGINT,
    last_used_at          BIGINT NOT NULL
);

CREATE INDEX oauth_sessions_request_id ON oauth_sessions (request_id);
CREATE INDEX oauth_sessions_previous_refresh_hash ON oauth_sessions (previous_refresh_hash);
CREATE INDEX oauth_sessions_did_client_id ON oauth_sessions (did, client_id);
CREATE INDEX oauth_sessions_expires_at ON oauth_sessions (expires_at);

CREATE TABLE devices (
    id           TEXT   NOT NULL PRIMARY KEY,
    secret_hash  TEXT   NOT NULL UNIQUE,
    user_agent   TEXT,
    ip           TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL
);

CREATE TABLE device_accounts (
    device_id        TEXT    NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    did              TEXT    NOT NULL REFERENCES accounts (did) ON DELETE CASCADE,
    authenticated_at BIGINT  NOT NULL,
    remember         BOOLEAN NOT NULL CHECK (remember IN (0, 1)),
    PRIMARY KEY (device_id, did)
);

CREATE INDEX device_accounts_did ON device_accounts (did);

CREATE TABLE authorized_clients (
    did        TEXT   NOT NULL REFERENCES accounts (did) ON DELETE CASCADE,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (did, client_id)
);

CREATE TABLE replay (
    namespace  TEXT   NOT NULL,
    "key"      TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (namespace, "key")
);

CREATE INDEX replay_expires_at ON replay (expires_at);
