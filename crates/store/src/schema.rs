//! The diesel schema, shared by both backends. Only types that mean the
//! same on SQLite and PostgreSQL are used (Text, BigInt, Bool, Binary,
//! Nullable); migrations/sqlite and migrations/postgres create these tables.

diesel::table! {
    /// Accounts: see `atauth_core::store::AccountStore`.
    accounts (did) {
        /// The account's DID (primary key).
        did -> Text,
        /// Lowercase handle, unique.
        handle -> Text,
        /// Optional email address.
        email -> Nullable<Text>,
        /// argon2id PHC string.
        password_hash -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds, when disabled.
        disabled_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// The server's signing keys: see `atauth_core::store::KeyStore`.
    signing_keys (kid) {
        /// Key id (primary key).
        kid -> Text,
        /// JWS algorithm.
        alg -> Text,
        /// PKCS#8 DER of the private key.
        private_pkcs8 -> Binary,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Authorization requests: see `atauth_core::store::RequestStore`.
    authorization_requests (id) {
        /// `RequestId` string (primary key).
        id -> Text,
        /// The client that pushed it.
        client_id -> Text,
        /// `ClientAuth` as JSON.
        client_auth -> Text,
        /// `AuthorizationParams` as JSON.
        params -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds: the request's, then the code's expiry.
        expires_at -> BigInt,
        /// The browser device bound first.
        device_id -> Nullable<Text>,
        /// The approving account's DID.
        sub -> Nullable<Text>,
        /// SHA-256 of the code, unique.
        code_hash -> Nullable<Text>,
        /// Unix seconds, when the code was exchanged.
        consumed_at -> Nullable<BigInt>,
    }
}

diesel::table! {
    /// OAuth sessions: see `atauth_core::store::SessionStore`.
    oauth_sessions (id) {
        /// `SessionId` string (primary key).
        id -> Text,
        /// The account (deleting it deletes the session).
        did -> Text,
        /// The client.
        client_id -> Text,
        /// `ClientAuth` as JSON.
        client_auth -> Text,
        /// Granted scope.
        scope -> Text,
        /// DPoP key thumbprint.
        dpop_jkt -> Text,
        /// The authorization request that started it.
        request_id -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        expires_at -> BigInt,
        /// SHA-256 of the current refresh token, unique.
        refresh_hash -> Nullable<Text>,
        /// Unix seconds.
        refresh_expires_at -> Nullable<BigInt>,
        /// SHA-256 of the refresh token the last rotation replaced.
        previous_refresh_hash -> Nullable<Text>,
        /// Unix seconds.
        rotated_at -> Nullable<BigInt>,
        /// Unix seconds.
        last_used_at -> BigInt,
    }
}

diesel::table! {
    /// Browser devices: see `atauth_core::store::DeviceStore`.
    devices (id) {
        /// `DeviceId` string (primary key).
        id -> Text,
        /// SHA-256 of the cookie secret, unique.
        secret_hash -> Text,
        /// Last seen user agent.
        user_agent -> Nullable<Text>,
        /// Last seen client IP.
        ip -> Nullable<Text>,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        last_seen_at -> BigInt,
    }
}

diesel::table! {
    /// Accounts signed in on devices.
    device_accounts (device_id, did) {
        /// The device (deleting it deletes the row).
        device_id -> Text,
        /// The account (deleting it deletes the row).
        did -> Text,
        /// Unix seconds.
        authenticated_at -> BigInt,
        /// Stay signed in.
        remember -> Bool,
    }
}

diesel::table! {
    /// Remembered consent: see `atauth_core::store::AuthorizedClientStore`.
    authorized_clients (did, client_id) {
        /// The account (deleting it deletes the row).
        did -> Text,
        /// The client.
        client_id -> Text,
        /// Approved scope.
        scope -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        updated_at -> BigInt,
    }
}

diesel::table! {
    /// One-time values seen: see `atauth_core::replay::ReplayStore`.
    replay (namespace, key) {
        /// Purpose of the value (`dpop`, `client_assertion`, …).
        namespace -> Text,
        /// The value, unique within its namespace.
        key -> Text,
        /// Unix seconds; at or after this the entry is expired.
        expires_at -> BigInt,
    }
}

diesel::table! {
    /// Clients the operator trusts: see `atauth_core::store::TrustedClientStore`.
    trusted_clients (client_id) {
        /// The client_id (primary key).
        client_id -> Text,
        /// Unix seconds.
        created_at -> BigInt,
    }
}

diesel::table! {
    /// Email codes: see `atauth_core::store::EmailCodeStore`.
    email_codes (id) {
        /// Random id (primary key); salts the hash.
        id -> Text,
        /// The account (deleting it deletes the row).
        did -> Text,
        /// `verify_email`, `reset_password` or `sign_in`; unique per account.
        purpose -> Text,
        /// The address the code was sent to.
        email -> Text,
        /// Salted SHA-256 of the code.
        code_hash -> Text,
        /// Unix seconds.
        created_at -> BigInt,
        /// Unix seconds.
        expires_at -> BigInt,
        /// Tries taken.
        attempts -> BigInt,
    }
}

diesel::table! {
    /// Verified addresses: see `atauth_core::store::EmailCodeStore`.
    email_verifications (did) {
        /// The account (primary key; deleting it deletes the row).
        did -> Text,
        /// The address verified.
        email -> Text,
        /// Unix seconds.
        verified_at -> BigInt,
    }
}

diesel::joinable!(device_accounts -> devices (device_id));

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    signing_keys,
    authorization_requests,
    oauth_sessions,
    devices,
    device_accounts,
    authorized_clients,
    replay,
    trusted_clients,
    email_codes,
    email_verifications,
);
