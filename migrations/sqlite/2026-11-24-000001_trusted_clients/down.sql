DROP TABLE trusted_clients;
