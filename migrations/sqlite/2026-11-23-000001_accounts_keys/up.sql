-- Accounts and the server's signing keys.
-- Timestamps are Unix seconds (BIGINT). Text compares bytewise (BINARY
-- collation), the same order as the "C" collation on PostgreSQL.

CREATE TABLE accounts (
    did           TEXT   NOT NULL PRIMARY KEY,
    -- Handles are stored lowercase, so UNIQUE is case-insensitive.
    handle        TEXT   NOT NULL UNIQUE CHECK (handle = lower(handle)),
    email         TEXT,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT
);

CREATE TABLE signing_keys (
    kid           TEXT   NOT NULL PRIMARY KEY,
    alg           TEXT   NOT NULL,
    private_pkcs8 BLOB   NOT NULL,
    created_at    BIGINT NOT NULL
);

CREATE INDEX signing_keys_created_at_kid ON signing_keys (created_at, kid);
