//! Generates bindings over the system DPDK (found through pkg-config) and compiles the C wrappers
//! bindgen writes for DPDK's static inline fast-path functions, plus `csrc/helpers.c` for macros.

use std::env;
use std::path::PathBuf;

fn main() {
    let dpdk = pkg_config::Config::new()
        .atleast_version("22.11")
        .probe("libdpdk")
        .expect(
            "DPDK 22.11 development files not found: apt install dpdk-dev libdpdk-dev pkg-config",
        );
    // The cflags carry `-include rte_config.h -march=...`; the SSE inlines do not compile without them.
    let cflags: Vec<String> = pkg_cflags().split_whitespace().map(str::to_owned).collect();
    let manifest =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let csrc = manifest.join("csrc");

    let out = PathBuf::from(env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let wrappers = out.join("static_fns");

    // PMD libraries are loaded by EAL at run time; link only those whose API we call directly.
    println!("cargo:rustc-link-lib=rte_net_ring");
    println!("cargo:rustc-link-lib=rte_bus_vdev");
    println!("cargo:rustc-link-lib=rte_pdump");
    println!("cargo:rerun-if-changed=csrc");
    let bindings = bindgen::Builder::default()
        .header(csrc.join("wrapper.h").to_string_lossy())
        .clang_args(&cflags)
        .clang_arg("-DALLOW_EXPERIMENTAL_API")
        .clang_arg(format!("-I{}", csrc.display()))
        .allowlist_function("rte_.*|lisp_.*")
        .allowlist_type("rte_.*")
        .allowlist_var("RTE_.*|LISP_.*|RING_F_.*|SOCKET_ID_ANY|LCORE_ID_ANY")
        .blocklist_item("per_lcore_.*")
        .blocklist_function("rte_lpm_lookupx4")
        // Inline families the project never calls: halves the C compile time.
        .blocklist_function("rte_(cryptodev|security|event|ipsec|sched|acl|graph|node|vhost|regexdev|dmadev|gpu|bbdev|compressdev|rawdev|pipeline|table|port_|distributor|member|efd|bpf|power|flow|mtr|tm_|pmd_)_?.*")
        .opaque_type("rte_arp_hdr")
        .opaque_type("rte_arp_ipv4")
        .opaque_type("rte_l2tpv2_combined_msg_hdr")
        .opaque_type("rte_gtp_psc_.*")
        .derive_debug(false)
        .generate_comments(false)
        .derive_default(true)
        .layout_tests(true)
        .prepend_enum_name(false)
        .wrap_static_fns(true)
        .wrap_static_fns_path(&wrappers)
        .generate()
        .expect("bindgen failed over csrc/wrapper.h");
    bindings
        .write_to_file(out.join("bindings.rs"))
        .expect("write bindings.rs");

    let mut build = cc::Build::new();
    build
        .file(wrappers.with_extension("c"))
        .file(csrc.join("helpers.c"))
        .include(&csrc)
        .define("ALLOW_EXPERIMENTAL_API", None)
        .flag_if_supported("-Wno-deprecated-declarations")
        .flag_if_supported("-Wno-duplicate-decl-specifier")
        .opt_level(2);
    for path in &dpdk.include_paths {
        build.include(path);
    }
    for flag in cflags.iter().filter(|f| !f.starts_with("-I")) {
        build.flag(flag);
    }
    // `-include rte_config.h` arrives as two tokens; they stay adjacent because order is kept.
    build.compile("lisp_dpdk_wrappers");
}

fn pkg_cflags() -> String {
    let output = std::process::Command::new("pkg-config")
        .args(["--cflags", "libdpdk"])
        .output()
        .expect("run pkg-config --cflags libdpdk");
    String::from_utf8(output.stdout).expect("pkg-config prints UTF-8")
}
