//! `uniffi-bindgen`: generates the Kotlin, Swift and Python bindings from the built library.
//!
//! It lives in this crate so that the generator and the library always use the same uniffi
//! version (`=0.32.2` in `Cargo.toml`): a mismatch fails at load time with a checksum error.
//! `scripts/bindings.sh` runs it.

fn main() {
    uniffi::uniffi_bindgen_main()
}
