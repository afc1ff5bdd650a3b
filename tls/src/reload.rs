//! TLS configurations that follow their files: a renewed certificate is picked up by the next connection.
//!
//! The files are checked every [`WATCH_INTERVAL`] and on SIGHUP. A reload that fails (a half-deployed pair, an
//! expired certificate) keeps the last good configuration and says why in the log: a bad file never takes a
//! running node off the network.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::{ArcSwap, ArcSwapOption};
use rustls::{ClientConfig, ServerConfig};

use crate::{PeerIdentity, TlsDir, TlsError};

/// How often the files are looked at (a stat of three files).
pub const WATCH_INTERVAL: Duration = Duration::from_secs(1);

type Fingerprint = Vec<Option<(SystemTime, u64)>>;

/// One party's current TLS configurations.
pub struct ReloadingTls {
    dir: TlsDir,
    server: ArcSwapOption<ServerConfig>,
    client: ArcSwap<ClientConfig>,
    loaded: Mutex<Fingerprint>,
}

impl std::fmt::Debug for ReloadingTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingTls").field("dir", &self.dir).finish_non_exhaustive()
    }
}

impl ReloadingTls {
    /// Loads the files; any problem is an error naming the file.
    pub fn load(dir: TlsDir) -> Result<Arc<ReloadingTls>, TlsError> {
        let fingerprint = dir.fingerprint();
        let material = dir.load()?;
        Ok(Arc::new(ReloadingTls {
            dir,
            server: ArcSwapOption::new(material.server),
            client: ArcSwap::new(material.client),
            loaded: Mutex::new(fingerprint),
        }))
    }

    pub fn identity(&self) -> &PeerIdentity {
        &self.dir.identity
    }

    pub fn dir(&self) -> &TlsDir {
        &self.dir
    }

    /// What a new incoming connection is handshaken with (nodes only).
    pub fn server_config(&self) -> Option<Arc<ServerConfig>> {
        self.server.load_full()
    }

    /// What a new outgoing connection is handshaken with.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.client.load_full()
    }

    /// Loads the files again if they changed (or `force`); true when new configurations are in use.
    pub fn reload(&self, force: bool) -> Result<bool, TlsError> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let fingerprint = self.dir.fingerprint();
        if !force && fingerprint == *loaded {
            return Ok(false);
        }
        // Remember the attempt even if it fails: a broken file is reported once, not every second.
        *loaded = fingerprint;
        let material = self.dir.load()?;
        self.server.store(material.server);
        self.client.store(material.client);
        Ok(true)
    }

    /// Watches the files (and SIGHUP) for as long as the runtime runs.
    pub fn watch(self: &Arc<Self>) {
        let tls = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
            let mut tick = tokio::time::interval(WATCH_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let forced = tokio::select! {
                    _ = tick.tick() => false,
                    Some(()) = async { match hangups.as_mut() { Some(signal) => signal.recv().await, None => None } } => true,
                };
                let Some(tls) = tls.upgrade() else { return };
                match tls.reload(forced) {
                    Ok(true) => tracing::info!(identity = %tls.dir.identity, "TLS certificate and authority reloaded"),
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(%error, "TLS files changed but were not loaded; the previous ones stay in use")
                    }
                }
            }
        });
    }
}
