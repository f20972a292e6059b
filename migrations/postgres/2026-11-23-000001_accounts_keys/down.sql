DROP INDEX signing_keys_created_at_kid;
DROP TABLE signing_keys;
DROP TABLE accounts;
