-- Accounts and the server's signing keys.
-- Timestamps are Unix seconds (BIGINT). Text columns use the "C" collation
-- so ordering is bytewise and independent of the database's locale, the
-- same order as SQLite's default BINARY collation.

CREATE TABLE accounts (
    did           TEXT COLLATE "C" NOT NULL,
    -- Handles are stored lowercase, so UNIQUE is case-insensitive.
    handle        TEXT COLLATE "C" NOT NULL CHECK (handle = lower(handle)),
    email         TEXT,
    password_hash TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    disabled_at   BIGINT,
    CONSTRAINT accounts_pkey PRIMARY KEY (did),
    CONSTRAINT accounts_handle_key UNIQUE (handle)
);

CREATE TABLE signing_keys (
    kid           TEXT COLLATE "C" NOT NULL,
    alg           TEXT   NOT NULL,
    private_pkcs8 BYTEA  NOT NULL,
    created_at    BIGINT NOT NULL,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (kid)
);

CREATE INDEX signing_keys_created_at_kid ON signing_keys (created_at, kid);
