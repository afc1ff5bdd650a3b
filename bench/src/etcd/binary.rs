//! Finding the etcd executable and asking it its version.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::CompareError;

/// The environment variable naming the etcd executable when no path is given.
pub const ETCD_BIN_ENV: &str = "ETCD_BIN";
const ETCD_BIN_NAME: &str = "etcd";

/// The executable to run: `explicit`, else `$ETCD_BIN`, else `etcd` on `PATH`.
pub fn find(explicit: Option<&Path>) -> Result<PathBuf, CompareError> {
    if let Some(path) = explicit {
        return existing(path).ok_or_else(|| CompareError::EtcdMissing { searched: path.display().to_string() });
    }
    if let Some(path) = std::env::var_os(ETCD_BIN_ENV) {
        let path = PathBuf::from(path);
        return existing(&path)
            .ok_or_else(|| CompareError::EtcdMissing { searched: format!("{ETCD_BIN_ENV}={}", path.display()) });
    }
    let search_path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&search_path)
        .find_map(|dir| existing(&dir.join(ETCD_BIN_NAME)))
        .ok_or_else(|| CompareError::EtcdMissing { searched: format!("{ETCD_BIN_NAME} on PATH, {ETCD_BIN_ENV} unset") })
}

fn existing(path: &Path) -> Option<PathBuf> {
    path.is_file().then(|| path.to_path_buf())
}

/// `etcd 3.4.23`, from the `etcd Version: 3.4.23` line of `etcd --version`.
pub fn version(bin: &Path) -> Result<String, CompareError> {
    let output = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|source| CompareError::io(format!("running {} --version", bin.display()), source))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_version(&stdout).ok_or_else(|| {
        CompareError::etcd(format!("{} --version", bin.display()), format!("no version line in {stdout:?}"))
    })
}

fn parse_version(stdout: &str) -> Option<String> {
    let line = stdout.lines().find_map(|line| line.trim().strip_prefix("etcd Version:"))?;
    Some(format!("etcd {}", line.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_line_is_parsed() {
        let stdout = "etcd Version: 3.4.23\nGit SHA: Not provided\nGo Version: go1.19.8\n";
        assert_eq!(parse_version(stdout).as_deref(), Some("etcd 3.4.23"));
        assert_eq!(parse_version("etcdctl version: 3.4.23\n"), None);
    }

    #[test]
    fn explicit_path_that_does_not_exist_is_missing() {
        let error = find(Some(Path::new("/nonexistent/etcd"))).unwrap_err();
        assert!(matches!(error, CompareError::EtcdMissing { .. }), "{error}");
    }
}
