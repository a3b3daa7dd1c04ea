//! Rebuild when a migration is added: `sqlx::migrate!` embeds the directory at compile time but
//! cargo does not watch it by itself.

fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
