-- Email codes (issue 13): one live code per account and purpose, stored as
-- a salted SHA-256 hash (atauth_core::email_code), with its attempts.
-- Verified addresses: the address an account proved it reads; verified
-- while it equals accounts.email. "C" collation: bytewise, as SQLite's BINARY.

CREATE TABLE email_codes (
    id         TEXT COLLATE "C" NOT NULL,
    did        TEXT COLLATE "C" NOT NULL,
    purpose    TEXT COLLATE "C" NOT NULL,
    email      TEXT   NOT NULL,
    code_hash  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT email_codes_pkey PRIMARY KEY (id),
    CONSTRAINT email_codes_did_purpose_key UNIQUE (did, purpose),
    CONSTRAINT email_codes_did_fkey FOREIGN KEY (did)
        REFERENCES accounts (did) ON DELETE CASCADE
);

CREATE INDEX email_codes_expires_at ON email_codes (expires_at);

CREATE TABLE email_verifications (
    did         TEXT COLLATE "C" NOT NULL,
    email       TEXT   NOT NULL,
    verified_at BIGINT NOT NULL,
    CONSTRAINT email_verifications_pkey PRIMARY KEY (did),
    CONSTRAINT email_verifications_did_fkey FOREIGN KEY (did)
        REFERENCES accounts (did) ON DELETE CASCADE
);

-- "Forgot password?" looks accounts up by email, case-insensitively.
CREATE INDEX accounts_email_lower ON accounts (lower(email));
