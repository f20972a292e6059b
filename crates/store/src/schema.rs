//! The diesel schema, shared by both backends. Only types that mean the
//! same on SQLite and PostgreSQL are used (Text, BigInt, Binary, Nullable);
//! migrations/sqlite and migrations/postgres create these tables.

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

diesel::allow_tables_to_appear_in_same_query!(accounts, signing_keys);
