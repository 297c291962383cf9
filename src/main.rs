// The testbench allocates many short-lived JSON values per simulated call;
// mimalloc handles that churn markedly faster than the system allocator.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(gauntlet::cli::main());
}
