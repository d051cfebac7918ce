// Lets this crate's own tests and examples find libqlaster-consumer at run time where
// qlaster-sys found it at link time (an rpath); programs that depend on the crate choose
// for themselves (the loader's path, LD_LIBRARY_PATH, or an rpath of their own).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_QLASTER_CONSUMER_LIB_DIR");
    if let Ok(dir) = std::env::var("DEP_QLASTER_CONSUMER_LIB_DIR") {
        if !dir.is_empty() {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
        }
    }
}
