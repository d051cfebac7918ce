// Finds libqlaster-consumer: $QLASTER_LIB_DIR when set, else pkg-config's
// qlaster-consumer, else the project's default build folder (build/release/consumer of
// this source tree). The folder found is passed on to dependent build scripts as
// DEP_QLASTER_CONSUMER_LIB_DIR (the qlaster crate uses it for an rpath in its tests and
// examples).
use std::env;
use std::path::PathBuf;
use std::process::Command;

fn pkg_config_dir() -> Option<String> {
    let out = Command::new("pkg-config")
        .args(["--libs-only-L", "qlaster-consumer"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let dir = text
        .split_whitespace()
        .find_map(|flag| flag.strip_prefix("-L").map(str::to_owned));
    // An installed package in a default folder prints no -L: the linker finds it.
    Some(dir.unwrap_or_default())
}

fn main() {
    println!("cargo:rerun-if-env-changed=QLASTER_LIB_DIR");
    println!("cargo:rerun-if-env-changed=PKG_CONFIG_PATH");
    let dir = if let Ok(dir) = env::var("QLASTER_LIB_DIR") {
        dir
    } else if let Some(dir) = pkg_config_dir() {
        dir
    } else {
        let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        let default = manifest.join("../../build/release/consumer");
        default
            .canonicalize()
            .unwrap_or(default)
            .to_string_lossy()
            .into_owned()
    };
    if !dir.is_empty() {
        println!("cargo:rustc-link-search=native={dir}");
        println!("cargo:lib_dir={dir}");
    }
    println!("cargo:rustc-link-lib=dylib=qlaster-consumer");
}
