-- OAuth state: authorization requests and their codes, sessions and their
-- refresh tokens, browser devices and their sign-ins, remembered consent,
-- and one-time values seen (replay protection).
-- Timestamps are Unix seconds (BIGINT). Identifiers and hashes use the "C"
-- collation (bytewise, as SQLite's BINARY). Secrets are stored only as
-- SHA-256 hashes. JSON columns hold serde JSON text.

CREATE TABLE authorization_requests (
    id          TEXT COLLATE "C" NOT NULL,
    client_id   TEXT COLLATE "C" NOT NULL,
    client_auth TEXT   NOT NULL,
    params      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    -- No foreign keys: requests are short-lived and purged by expiry.
    device_id   TEXT COLLATE "C",
    sub         TEXT COLLATE "C",
    code_hash   TEXT COLLATE "C",
    consumed_at BIGINT,
    CONSTRAINT authorization_requests_pkey PRIMARY KEY (id),
    CONSTRAINT authorization_requests_code_hash_key UNIQUE (code_hash)
);

CREATE INDEX authorization_requests_expires_at ON authorization_requests (expires_at);

CREATE TABLE oauth_sessions (
    id                    TEXT COLLATE "C" NOT NULL,
    did                   TEXT COLLATE "C" NOT NULL,
    client_id             TEXT COLLATE "C" NOT NULL,
    client_auth           TEXT   NOT NULL,
    scope                 TEXT   NOT NULL,
    dpop_jkt              TEXT   NOT NULL,
    -- No foreign key: requests are purged while their sessions live on.
    request_id            TEXT COLLATE "C" NOT NULL,
    created_at            BIGINT NOT NULL,
    expires_at            BIGINT NOT NULL,
    refresh_hash          TEXT COLLATE "C",
    refresh_expires_at    BIGINT,
    previous_refresh_hash TEXT COLLATE "C",
    rotated_at            BIGINT,
    last_used_at          BIGINT NOT NULL,
    CONSTRAINT oauth_sessions_pkey PRIMARY KEY (id),
    CONSTRAINT oauth_sessions_refresh_hash_key UNIQUE (refresh_hash),
    -- Deleting an account revokes its sessions.
    CONSTRAINT oauth_sessions_did_fkey FOREIGN KEY (did)
        REFERENCES accounts (did) ON DELETE CASCADE
);

CREATE INDEX oauth_sessions_request_id ON oauth_sessions (request_id);
CREATE INDEX oauth_sessions_previous_refresh_hash ON oauth_sessions (previous_refresh_hash);
CREATE INDEX oauth_sessions_did_client_id ON oauth_sessions (did, client_id);
CREATE INDEX oauth_sessions_expires_at ON oauth_sessions (expires_at);

CREATE TABLE devices (
    id           TEXT COLLATE "C" NOT NULL,
    secret_hash  TEXT COLLATE "C" NOT NULL,
    user_agent   TEXT,
    ip           TEXT,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    CONSTRAINT devices_pkey PRIMARY KEY (id),
    CONSTRAINT devices_secret_hash_key UNIQUE (secret_hash)
);

CREATE TABLE device_accounts (
    device_id        TEXT COLLATE "C" NOT NULL,
    did              TEXT COLLATE "C" NOT NULL,
    authenticated_at BIGINT  NOT NULL,
    remember         BOOLEAN NOT NULL,
    CONSTRAINT device_accounts_pkey PRIMARY KEY (device_id, did),
    CONSTRAINT device_accounts_device_id_fkey FOREIGN KEY (device_id)
        REFERENCES devices (id) ON DELETE CASCADE,
    CONSTRAINT device_accounts_did_fkey FOREIGN KEY (did)
        REFERENCES accounts (did) ON DELETE CASCADE
);

CREATE INDEX device_accounts_did ON device_accounts (did);

CREATE TABLE authorized_clients (
    did        TEXT COLLATE "C" NOT NULL,
    client_id  TEXT COLLATE "C" NOT NULL,
    scope      TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CONSTRAINT authorized_clients_pkey PRIMARY KEY (did, client_id),
    CONSTRAINT authorized_clients_did_fkey FOREIGN KEY (did)
        REFERENCES accounts (did) ON DELETE CASCADE
);

CREATE TABLE replay (
    namespace  TEXT COLLATE "C" NOT NULL,
    "key"      TEXT COLLATE "C" NOT NULL,
    expires_at BIGINT NOT NULL,
    CONSTRAINT replay_pkey PRIMARY KEY (namespace, "key")
);

CREATE INDEX replay_expires_at ON replay (expires_at);
