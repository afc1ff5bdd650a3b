//! `dancuctl`: the dancu operator and user CLI. All logic lives in `dancu_client::cli`.

fn main() -> std::process::ExitCode {
    dancu_client::cli::main()
}
