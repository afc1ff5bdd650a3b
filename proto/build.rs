//! Compiles dancu.v1 with protox (pure Rust), so no system `protoc` is needed.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "dancu/v1/citizen.proto",
        "dancu/v1/registry.proto",
        "dancu/v1/encoded.proto",
        "dancu/v1/audit.proto",
        "dancu/v1/raft.proto",
        "dancu/v1/admin.proto",
    ];
    for file in files {
        println!("cargo:rerun-if-changed={file}");
    }
    let descriptors = protox::compile(files, ["."])?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptor_path = out_dir.join("dancu_descriptor.bin");
    std::fs::write(&descriptor_path, prost::Message::encode_to_vec(&descriptors))?;
    tonic_prost_build::configure()
        // Shared, reference-counted buffers: a stored entry is sent to every follower without a copy.
        .bytes(".dancu.v1.AppendEntriesRequestEncoded.entries")
        // A batch-get reply's records stay slices of the received buffer until the caller decodes them.
        .bytes(".dancu.v1.BatchGetResultEncoded.citizen")
        .file_descriptor_set_path(&descriptor_path)
        .skip_protoc_run()
        .compile_fds(descriptors)?;
    Ok(())
}
