//! Rebuilds the binary when a migration is added or changed:
//! `sqlx::migrate!` embeds the files of `src/store/migrations` at compile
//! time, and cargo does not watch them by itself.
fn main() {
    println!("cargo:rerun-if-changed=src/store/migrations");
}
