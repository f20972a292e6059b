//! Rebuild when a migration folder is added or changed: `embed_migrations!`
//! tracks the files it embeds, but not folders that appear later.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
