-- Clients the operator trusts (`atauth client trust add`), besides those in
-- the configuration: their name and logo are shown to users (SPEC §3
-- "Display"). Read by every running instance.

CREATE TABLE trusted_clients (
    client_id  TEXT   NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
