-- Clients the operator trusts (`atauth client trust add`), besides those in
-- the configuration: their name and logo are shown to users (SPEC §3
-- "Display"). Read by every running instance. "C" collation: bytewise, as
-- SQLite's BINARY.

CREATE TABLE trusted_clients (
    client_id  TEXT COLLATE "C" NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT trusted_clients_pkey PRIMARY KEY (client_id)
);
