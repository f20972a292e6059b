-- Email codes (issue 13): one live code per account and purpose, stored as
-- a salted SHA-256 hash (atauth_core::email_code), with its attempts.
-- Verified addresses: the address an account proved it reads; verified
-- while it equals accounts.email.

CREATE TABLE email_codes (
    id         TEXT   NOT NULL PRIMARY KEY,
    did        TEXT   NOT NULL REFERENCES accounts (did) ON DELETE CASCADE,
    purpose    TEXT   NOT NULL,
    email      TEXT   NOT NULL,
    code_hash  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    attempts   BIGINT NOT NULL DEFAULT 0,
    UNIQUE (did, purpose)
);

CREATE INDEX email_codes_expires_at ON email_codes (expires_at);

CREATE TABLE email_verifications (
    did         TEXT   NOT NULL PRIMARY KEY REFERENCES accounts (did) ON DELETE CASCADE,
    email       TEXT   NOT NULL,
    verified_at BIGINT NOT NULL
);

-- "Forgot password?" looks accounts up by email, case-insensitively.
CREATE INDEX accounts_email_lower ON accounts (lower(email));
