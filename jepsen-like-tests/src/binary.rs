//! Finding the `dancu-node` executable to run.

use std::path::{Path, PathBuf};

use crate::HarnessError;

/// Environment variable naming the `dancu-node` executable explicitly.
pub const NODE_BIN_ENV: &str = "DANCU_NODE_BIN";

/// File name of the node executable in a cargo target directory.
const NODE_BIN_NAME: &str = "dancu-node";

/// Directories above the current executable searched for the node binary (`target/release/deps/x` → `deps`,
/// `release`, `target`).
const ANCESTORS_SEARCHED_MAX: usize = 3;

/// The node executable: `$DANCU_NODE_BIN` when set, else `dancu-node` in the cargo target directory the current
/// executable was built into (`target/<profile>/`, found by walking up from it), else `target/release/`.
pub fn node_binary() -> Result<PathBuf, HarnessError> {
    if let Some(path) = std::env::var_os(NODE_BIN_ENV) {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        let reason = format!("{NODE_BIN_ENV}={} is not a file", path.display());
        return Err(HarnessError::NodeBinaryNotFound { reason });
    }
    let exe = std::env::current_exe().map_err(|source| HarnessError::io("locating the current executable", source))?;
    let candidates = candidates(&exe);
    if let Some(found) = candidates.iter().find(|candidate| candidate.is_file()) {
        return Ok(found.clone());
    }
    let searched: Vec<String> = candidates.iter().map(|path| path.display().to_string()).collect();
    Err(HarnessError::NodeBinaryNotFound { reason: format!("looked for {}", searched.join(", ")) })
}

/// Where the node binary may be, best first, for an executable at `exe`.
fn candidates(exe: &Path) -> Vec<PathBuf> {
    let ancestors: Vec<&Path> = exe.ancestors().skip(1).take(ANCESTORS_SEARCHED_MAX).collect();
    let mut found: Vec<PathBuf> = ancestors.iter().map(|dir| dir.join(NODE_BIN_NAME)).collect();
    // A debug-profile executable (a `cargo test` without --release) may still drive a release node.
    for dir in ancestors {
        let release = dir.join("release").join(NODE_BIN_NAME);
        if dir.join("CACHEDIR.TAG").is_file() && !found.contains(&release) {
            found.push(release);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(exe: &str, expected: &[&str]) {
        let expected: Vec<PathBuf> = expected.iter().map(PathBuf::from).collect();
        assert_eq!(candidates(Path::new(exe)), expected);
    }

    #[test]
    fn test_executables_look_in_their_profile_directory_first() {
        check(
            "/nonexistent/target/release/deps/cluster-0123",
            &[
                "/nonexistent/target/release/deps/dancu-node",
                "/nonexistent/target/release/dancu-node",
                "/nonexistent/target/dancu-node",
            ],
        );
    }

    #[test]
    fn a_binary_beside_the_node_finds_it_first() {
        check(
            "/nonexistent/target/release/dancu-demo",
            &["/nonexistent/target/release/dancu-node", "/nonexistent/target/dancu-node", "/nonexistent/dancu-node"],
        );
    }

    #[test]
    fn a_debug_executable_falls_back_to_the_release_node() {
        let target = tempfile::tempdir().unwrap();
        std::fs::write(target.path().join("CACHEDIR.TAG"), "Signature: 8a477f597d28d172789f06886806bc55").unwrap();
        let exe = target.path().join("debug").join("deps").join("cluster-0123");
        let found = candidates(&exe);
        assert_eq!(found.last(), Some(&target.path().join("release").join("dancu-node")));
    }
}
