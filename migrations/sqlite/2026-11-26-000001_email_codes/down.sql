DROP INDEX accounts_email_lower;
DROP TABLE email_verifications;
DROP TABLE email_codes;
