//! `dancuctl`: the dancu operator and user CLI. All logic lives in `dancu_client::cli`.

/// Import and gen allocate a record's strings by the million; mimalloc is markedly faster than glibc there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    dancu_client::cli::main()
}
