// The testbench allocates many short-lived JSON values per simulated call;
// mimalloc handles that churn markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

// `gauntlet proxy` runs for hours holding little: transparent huge pages are
// turned off before mimalloc (initialised by a later, unnumbered constructor)
// touches its first arena page, since each 2 MiB page it touches stays
// resident whole. glibc passes the process's arguments to these functions.
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array.00098"]
static KEEP_PROXY_PAGES_SMALL: extern "C" fn(i32, *const *const std::ffi::c_char, *const *const std::ffi::c_char) = {
    extern "C" fn keep_proxy_pages_small(argc: i32, argv: *const *const std::ffi::c_char, _env: *const *const std::ffi::c_char) {
        // SAFETY: glibc hands `.init_array` functions its argc/argv, which hold argc valid C strings.
        let first = (argc >= 2 && !argv.is_null()).then(|| unsafe { std::ffi::CStr::from_ptr(*argv.add(1)) });
        if first.is_some_and(|a| a.to_bytes() == b"proxy") {
            gauntlet::cli::proxy::keep_pages_small();
        }
    }
    keep_proxy_pages_small
};

fn main() {
    std::process::exit(gauntlet::cli::main());
}
