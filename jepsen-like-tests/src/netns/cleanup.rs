//! Leaving no namespace behind: the registry of what live topologies own (drained on SIGINT/SIGTERM/SIGHUP by
//! [`install_cleanup_on_signal`]), the removal of leftovers of a crashed run ([`remove_stale`]), and the check
//! whether this machine can run namespaces at all ([`netns_available`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::{ip, NetError, NAME_PREFIX};

/// What one live topology has created so far, for removal by a signal handler that cannot reach the topology.
#[derive(Debug, Clone, Default)]
pub(crate) struct Owned {
    /// Namespaces, in creation order.
    pub(crate) namespaces: Vec<String>,
    /// The veth end in the root namespace.
    pub(crate) root_link: Option<String>,
}

/// Live topologies of this process by registration id.
static LIVE: Mutex<BTreeMap<u64, Owned>> = Mutex::new(BTreeMap::new());

static NEXT_REGISTRATION: AtomicU64 = AtomicU64::new(1);

fn live() -> MutexGuard<'static, BTreeMap<u64, Owned>> {
    // The map stays consistent whatever panicked while holding the lock: every update is one insert or remove.
    LIVE.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A fresh registration id.
pub(crate) fn register() -> u64 {
    NEXT_REGISTRATION.fetch_add(1, Ordering::Relaxed)
}

/// Records what registration `id` owns now.
pub(crate) fn update(id: u64, owned: &Owned) {
    live().insert(id, owned.clone());
}

pub(crate) fn unregister(id: u64) {
    live().remove(&id);
}

/// Removes what `owned` names: SIGKILLs the processes left in its namespaces (node processes whose harness cannot
/// reap them any more), deletes the root-side veth, then the namespaces. Returns what it removed; errors go to
/// stderr, so it never fails half-way.
pub(crate) fn remove_owned(owned: &Owned, kill_processes: bool) -> Vec<String> {
    let mut removed = Vec::new();
    if let Some(link) = &owned.root_link {
        match ip::run(&["link", "del", link]) {
            Ok(_) => removed.push(format!("link {link}")),
            Err(error) if is_missing(&error) => {}
            Err(error) => eprintln!("dancu-jepsen: netns cleanup: {error}"),
        }
    }
    for namespace in owned.namespaces.iter().rev() {
        let killed = if kill_processes { kill_processes_in(namespace) } else { Vec::new() };
        match ip::run(&["netns", "del", namespace]) {
            Ok(_) if killed.is_empty() => removed.push(format!("netns {namespace}")),
            Ok(_) => removed.push(format!("netns {namespace} (killed pids {killed:?})")),
            Err(error) if is_missing(&error) => {}
            Err(error) => eprintln!("dancu-jepsen: netns cleanup: {error}"),
        }
    }
    removed
}

/// Whether `ip` failed because the object is already gone.
fn is_missing(error: &NetError) -> bool {
    let NetError::Command { stderr, .. } = error else {
        return false;
    };
    stderr.contains("No such file") || stderr.contains("Cannot find device") || stderr.contains("does not exist")
}

/// SIGKILLs every process `ip netns pids` lists in `namespace`; returns their ids.
fn kill_processes_in(namespace: &str) -> Vec<i32> {
    let pids = match ip::netns_pids(namespace) {
        Ok(pids) => pids,
        Err(error) => {
            eprintln!("dancu-jepsen: netns cleanup: {error}");
            return Vec::new();
        }
    };
    for &pid in &pids {
        // SAFETY: kill(2) has no memory-safety preconditions. The pid was just listed as living in a namespace
        // that one of our runs created and named; only that run's node processes enter it.
        let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
        if rc != 0 {
            eprintln!("dancu-jepsen: netns cleanup: SIGKILL pid {pid}: {}", std::io::Error::last_os_error());
        }
    }
    pids
}

/// Removes everything every live topology of this process has created, for a handler about to exit (see
/// [`install_cleanup_on_signal`]; call it from your own handler instead if you have one). Processes still inside
/// the namespaces are SIGKILLed, because the harness that would reap them is not going to run. Returns what it
/// removed.
pub fn cleanup_registered() -> Vec<String> {
    let owned: Vec<Owned> = std::mem::take(&mut *live()).into_values().collect();
    owned.iter().flat_map(|owned| remove_owned(owned, true)).collect()
}

/// Starts (once per process; later calls return the first outcome) a thread that, on SIGINT, SIGTERM or SIGHUP,
/// runs [`cleanup_registered`] and exits with 128 + the signal number (130 for Ctrl-C). The signals are caught
/// when this returns `Ok`. It replaces the default action of those signals for the whole process, so a runner that
/// wants to write a partial report on Ctrl-C should handle the signals itself and call [`cleanup_registered`].
pub fn install_cleanup_on_signal() -> Result<(), NetError> {
    static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();
    INSTALLED.get_or_init(spawn_signal_thread).clone().map_err(NetError::Signals)
}

fn spawn_signal_thread() -> Result<(), String> {
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel::<Result<(), String>>(1);
    std::thread::Builder::new()
        .name("dancu-netns-signals".to_string())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread().enable_io().build() {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = ready_tx.send(Err(format!("starting the signal runtime: {error}")));
                    return;
                }
            };
            runtime.block_on(wait_and_clean(ready_tx));
        })
        .map_err(|error| format!("spawning the signal thread: {error}"))?;
    ready_rx.recv().map_err(|_| "the signal thread ended before it was ready".to_string())?
}

async fn wait_and_clean(ready_tx: std::sync::mpsc::SyncSender<Result<(), String>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let streams = (signal(SignalKind::interrupt()), signal(SignalKind::terminate()), signal(SignalKind::hangup()));
    let (mut interrupt, mut terminate, mut hangup) = match streams {
        (Ok(interrupt), Ok(terminate), Ok(hangup)) => (interrupt, terminate, hangup),
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => {
            let _ = ready_tx.send(Err(format!("catching signals: {error}")));
            return;
        }
    };
    let _ = ready_tx.send(Ok(()));
    let signal_number = tokio::select! {
        _ = interrupt.recv() => libc::SIGINT,
        _ = terminate.recv() => libc::SIGTERM,
        _ = hangup.recv() => libc::SIGHUP,
    };
    let removed = cleanup_registered();
    eprintln!("dancu-jepsen: caught signal {signal_number}; removed {}", removed.join(", "));
    std::process::exit(128 + signal_number);
}

/// Deletes leftovers of crashed runs whose names start with `prefix` (which must start with `dancu`): network
/// namespaces (after SIGKILLing the processes inside them) and root-namespace interfaces. What a live topology of
/// this process owns is kept. Pass `dancu-<tag>` to clean one run; pass `dancu` only when no other run is live on
/// the machine, because another process's topology looks exactly like a leftover. Returns what it removed; errors
/// go to stderr.
pub fn remove_stale(prefix: &str) -> Vec<String> {
    assert!(prefix.starts_with(NAME_PREFIX), "remove_stale only removes names starting with {NAME_PREFIX:?}");
    let owned_here: Vec<String> = live()
        .values()
        .flat_map(|owned| owned.namespaces.iter().chain(owned.root_link.as_ref()).cloned().collect::<Vec<_>>())
        .collect();
    let stale = |name: &String| name.starts_with(prefix) && !owned_here.contains(name);
    let namespaces = ip::netns_names().unwrap_or_else(|error| {
        eprintln!("dancu-jepsen: remove_stale: {error}");
        Vec::new()
    });
    let links = ip::root_link_names().unwrap_or_else(|error| {
        eprintln!("dancu-jepsen: remove_stale: {error}");
        Vec::new()
    });
    let mut removed = Vec::new();
    for root_link in links.into_iter().filter(stale) {
        removed.extend(remove_owned(&Owned { namespaces: Vec::new(), root_link: Some(root_link) }, true));
    }
    let namespaces: Vec<String> = namespaces.into_iter().filter(stale).collect();
    removed.extend(remove_owned(&Owned { namespaces, root_link: None }, true));
    removed
}

/// Whether this process can build topologies: it runs as root, `ip` runs, and a scratch namespace can be created,
/// given a veth pair, a blackhole rule and IP forwarding, and deleted. `Err` says which step failed.
pub fn netns_available() -> Result<(), String> {
    // SAFETY: geteuid(2) has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        return Err(format!("not root (euid {euid}): network namespaces need CAP_NET_ADMIN and CAP_SYS_ADMIN"));
    }
    ip::run(&["-V"]).map_err(|error| format!("iproute2 `ip` does not run: {error}"))?;
    static PROBES: AtomicU64 = AtomicU64::new(0);
    let scratch = format!("{NAME_PREFIX}-probe-{}-{}", std::process::id(), PROBES.fetch_add(1, Ordering::Relaxed));
    ip::run(&["netns", "add", &scratch]).map_err(|error| format!("cannot create a network namespace: {error}"))?;
    let probed = probe(&scratch);
    let deleted = ip::run(&["netns", "del", &scratch]);
    probed?;
    deleted.map_err(|error| format!("cannot delete a network namespace: {error}"))?;
    Ok(())
}

fn probe(scratch: &str) -> Result<(), String> {
    let lines = ["link add name probe0 type veth peer name probe1", "rule add from 10.0.0.1 to 10.0.0.2 blackhole"];
    let lines: Vec<String> = lines.iter().map(ToString::to_string).collect();
    ip::batch(&["-n", scratch], &lines).map_err(|error| format!("veth or blackhole rule unsupported: {error}"))?;
    super::enable_forwarding(scratch).map_err(|error| format!("cannot enable IP forwarding: {error}"))
}
