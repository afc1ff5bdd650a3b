//! Running iproute2's `ip`: one command, or a batch of commands read from stdin in one process (`ip -batch -`), with
//! the exit status checked and stderr quoted in the error.

use std::io::Write;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

use super::NetError;

/// The iproute2 executable, found through `PATH`.
pub(crate) const IP: &str = "ip";

/// Characters of a batch quoted in an error; a long batch is cut there.
const BATCH_QUOTED_CHARS_MAX: usize = 600;

/// Runs `ip <args>` and returns its stdout.
pub(crate) fn run(args: &[&str]) -> Result<String, NetError> {
    let command = format!("{IP} {}", args.join(" "));
    let output = Command::new(IP)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| NetError::Spawn { command: command.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(NetError::Command { command, status: output.status.to_string(), stderr });
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Runs every line of `lines` in one `ip <options> -batch -`. Without `-force` in `options`, `ip` stops at the first
/// failing line (the lines before it have taken effect); with it, `ip` runs them all and fails if any failed.
pub(crate) fn batch(options: &[&str], lines: &[String]) -> Result<(), NetError> {
    if lines.is_empty() {
        return Ok(());
    }
    let script = lines.join("\n") + "\n";
    let command = format!("{IP} {} -batch - <<< {:?}", options.join(" "), quote_cut(&lines.join("; ")));
    let mut child = Command::new(IP)
        .args(options)
        .args(["-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetError::Spawn { command: command.clone(), source })?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // Written from another thread: `ip` may fill its stderr pipe with one error per line before it reads all of
    // stdin, and it blocks there until `wait_with_output` drains stderr.
    let output = std::thread::scope(|scope| {
        let writer = scope.spawn(move || stdin.write_all(script.as_bytes()));
        let output = child.wait_with_output();
        // A write error (EPIPE when `ip` stopped at a failing line) is explained by `ip`'s own status and stderr.
        let _ = writer.join();
        output
    })
    .map_err(|source| NetError::Spawn { command: command.clone(), source })?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
        return Err(NetError::Command { command, status: output.status.to_string(), stderr });
    }
    Ok(())
}

fn quote_cut(text: &str) -> String {
    match text.char_indices().nth(BATCH_QUOTED_CHARS_MAX) {
        Some((cut_idx, _)) => format!("{}…", &text[..cut_idx]),
        None => text.to_string(),
    }
}

/// Names from `ip -j netns list` (empty output, when `/run/netns` does not exist yet, is no namespace).
pub(crate) fn netns_names() -> Result<Vec<String>, NetError> {
    let output = run(&["-j", "netns", "list"])?;
    json_names(&output, "name", "ip -j netns list")
}

/// Interface names of the root namespace, from `ip -j link show`.
pub(crate) fn root_link_names() -> Result<Vec<String>, NetError> {
    let output = run(&["-j", "link", "show"])?;
    json_names(&output, "ifname", "ip -j link show")
}

/// The string field `key` of every object of the JSON array `output`.
fn json_names(output: &str, key: &str, command: &str) -> Result<Vec<String>, NetError> {
    let entries = json_array(output, command)?;
    Ok(entries.iter().filter_map(|entry| entry.get(key)?.as_str().map(str::to_string)).collect())
}

fn json_array(output: &str, command: &str) -> Result<Vec<serde_json::Value>, NetError> {
    if output.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parsed: serde_json::Value = serde_json::from_str(output)
        .map_err(|error| NetError::Parse { command: command.to_string(), detail: error.to_string() })?;
    match parsed {
        serde_json::Value::Array(entries) => Ok(entries),
        other => Err(NetError::Parse { command: command.to_string(), detail: format!("not an array: {other}") }),
    }
}

/// The `(from, to)` of every blackhole rule in `ip -j rule show`'s output.
pub(crate) fn parse_blackhole_rules(output: &str) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, NetError> {
    let command = "ip -j rule show";
    let mut rules = Vec::new();
    for entry in json_array(output, command)? {
        if entry.get("action").and_then(serde_json::Value::as_str) != Some("blackhole") {
            continue;
        }
        let address = |key: &str| -> Result<Ipv4Addr, NetError> {
            let text = entry.get(key).and_then(serde_json::Value::as_str).unwrap_or("all");
            text.parse().map_err(|_| NetError::Parse {
                command: command.to_string(),
                detail: format!("a blackhole rule with {key} {text:?}, not one host: {entry}"),
            })
        };
        rules.push((address("src")?, address("dst")?));
    }
    Ok(rules)
}

/// The process ids `ip netns pids` lists for a namespace.
pub(crate) fn netns_pids(namespace: &str) -> Result<Vec<i32>, NetError> {
    let output = run(&["netns", "pids", namespace])?;
    output
        .split_whitespace()
        .map(|word| {
            word.parse().map_err(|_| NetError::Parse {
                command: format!("ip netns pids {namespace}"),
                detail: format!("{word:?} is not a process id"),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackhole_rules_are_read_and_other_rules_skipped() {
        let output = r#"[{"priority":0,"src":"all","table":"local"},
            {"priority":32764,"src":"10.77.2.2","dst":"10.77.1.2","action":"blackhole"},
            {"priority":32766,"src":"all","table":"main"}]"#;
        let expected = vec![(Ipv4Addr::new(10, 77, 2, 2), Ipv4Addr::new(10, 77, 1, 2))];
        assert_eq!(parse_blackhole_rules(output).unwrap(), expected);
        assert_eq!(parse_blackhole_rules("").unwrap(), Vec::new());
    }

    #[test]
    fn a_blackhole_rule_not_between_two_hosts_is_an_error() {
        let output = r#"[{"priority":32764,"src":"all","dst":"10.77.1.2","action":"blackhole"}]"#;
        let error = parse_blackhole_rules(output).unwrap_err().to_string();
        assert!(error.contains("src \"all\""), "{error}");
    }

    #[test]
    fn names_come_from_the_json_listing() {
        let output = r#"[{"name":"dancu-ab12-n1"},{"name":"dancu-ab12-r","id":0}]"#;
        assert_eq!(json_names(output, "name", "test").unwrap(), ["dancu-ab12-n1", "dancu-ab12-r"]);
        assert_eq!(json_names("\n", "name", "test").unwrap(), Vec::<String>::new());
    }
}
