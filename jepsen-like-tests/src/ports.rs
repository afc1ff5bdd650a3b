//! Free loopback ports for a local cluster.
//!
//! The OS picks each port (bind to `127.0.0.1:0`); the listeners are held until all ports are chosen, so the ports
//! are distinct, then released for the nodes to bind. Another process may take a port in between: the cluster
//! notices the node failing to listen and starts over with new ports.

use std::net::{Ipv4Addr, TcpListener};

use crate::HarnessError;

/// Ports one cluster may ask for at once (a 5-node cluster needs 5).
const PORTS_PER_REQUEST_MAX: usize = 64;

/// `n_ports` distinct loopback TCP ports that were free a moment ago.
pub fn free_loopback_ports(n_ports: usize) -> Result<Vec<u16>, HarnessError> {
    assert!(n_ports <= PORTS_PER_REQUEST_MAX, "asked for {n_ports} ports, at most {PORTS_PER_REQUEST_MAX}");
    let listeners = (0..n_ports)
        .map(|_| TcpListener::bind((Ipv4Addr::LOCALHOST, 0)))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| HarnessError::io("binding 127.0.0.1:0 to pick a free port", source))?;
    let ports = listeners
        .iter()
        .map(|listener| listener.local_addr().map(|addr| addr.port()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| HarnessError::io("reading a picked port", source))?;
    drop(listeners);
    Ok(ports)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn ports_are_distinct_nonzero_and_bindable_once_released() {
        let ports = free_loopback_ports(5).unwrap();
        assert_eq!(ports.len(), 5);
        assert_eq!(ports.iter().collect::<HashSet<_>>().len(), 5, "{ports:?}");
        assert!(ports.iter().all(|&port| port != 0));
        for port in ports {
            TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap();
        }
    }

    #[test]
    fn zero_ports_is_an_empty_list() {
        assert_eq!(free_loopback_ports(0).unwrap(), Vec::<u16>::new());
    }
}
