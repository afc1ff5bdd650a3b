//! Compiles the echo ceiling's service with protox (pure Rust), so no system `protoc` is needed.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = ["dancu/bench/v1/echo.proto"];
    for file in files {
        println!("cargo:rerun-if-changed=proto/{file}");
    }
    let descriptors = protox::compile(files, ["proto"])?;
    tonic_prost_build::configure()
        // A reference-counted reply buffer: every reply shares one preallocated payload instead of copying it.
        .bytes(".dancu.bench.v1.EchoReply.payload")
        .skip_protoc_run()
        .compile_fds(descriptors)?;
    Ok(())
}
