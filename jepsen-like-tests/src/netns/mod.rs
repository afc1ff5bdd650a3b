//! Real network partitions between node processes on one machine: one network namespace per node, all joined
//! through a router namespace whose policy rules drop traffic silently (`blackhole`), as a cut cable would.
//!
//! ```text
//!   root namespace (client, nemesis)      router dancu-<tag>-r (ip_forward=1)        node namespaces
//!   dancu-<tag>  10.S.250.1/24  ──veth──  root  10.S.250.2/24
//!   route 10.S.0.0/16 via 10.S.250.2                  n1    10.S.1.1/24  ──veth──  eth0 10.S.1.2/24  dancu-<tag>-n1
//!                                                     n2    10.S.2.1/24  ──veth──  eth0 10.S.2.2/24  dancu-<tag>-n2
//! ```
//!
//! `S` is 77 unless another live topology on this machine holds `10.77.0.0/16`; then the next free of 78..=86
//! (claimed atomically by adding the root route, so parallel runs do not collide). Nothing routes beyond these
//! namespaces: the router has no default route and the node namespaces reach only the router.
//!
//! A cut between two nodes is a pair of router rules `from A to B blackhole` (and back). Rules inside a node's own
//! namespace would fail fast with EINVAL instead of dropping, which is not a partition.
//!
//! Architecture Invariant: everything here is done by running iproute2's `ip`; this module never enters a
//! namespace itself, so the calling process and its threads stay in the root namespace.

mod cleanup;
mod ip;
mod shapes;

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::ops::RangeInclusive;

use dancu_cluster_config::{ClusterConfig, RaftConfig};

use cleanup::Owned;
pub use cleanup::{cleanup_registered, install_cleanup_on_signal, netns_available, remove_stale};
use shapes::{link, Cuts};

/// Every namespace and interface this module creates starts with this.
pub const NAME_PREFIX: &str = "dancu";

/// The client (this process, in the root namespace) as a party to [`NetTopology::cut`]; node ids are never 0.
pub const CLIENT: u64 = 0;

/// Port of every node's gRPC server in a [`namespaced_config`] (each node has its own address).
pub const NODE_GRPC_PORT: u16 = 7100;

/// Port of every node's metrics server in a [`namespaced_config`].
pub const NODE_METRICS_PORT: u16 = 9100;

/// Second octets a topology's `10.S.0.0/16` may use, tried in order.
const SUBNET_OCTETS: RangeInclusive<u8> = 77..=86;

/// Third octet of the link between the root namespace and the router.
const ROOT_LINK_OCTET: u8 = 250;

/// Node ids a topology can address: the node id is the third octet of its address.
const NODE_IDS: RangeInclusive<u64> = 1..=249;
const _: () = assert!(*NODE_IDS.end() < ROOT_LINK_OCTET as u64);

/// Nodes in one topology; bounds the number of rules a shape adds (two per cut link).
pub const NODES_PER_TOPOLOGY_MAX: usize = 32;

/// Characters of a run tag: `dancu-<tag>` must fit an interface name (15 characters).
const TAG_CHARS_MAX: usize = 8;
const _: () = assert!(NAME_PREFIX.len() + 1 + TAG_CHARS_MAX <= 15);

/// Building or changing a topology failed.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// `ip` ran and failed.
    #[error("`{command}` failed ({status}): {stderr}")]
    Command {
        /// The command line (a batch is quoted, cut after a few hundred characters).
        command: String,
        /// Its exit status.
        status: String,
        /// What it wrote to stderr.
        stderr: String,
    },
    /// `ip` could not be run.
    #[error("running `{command}`: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// `ip` printed something this module does not understand.
    #[error("unexpected output of `{command}`: {detail}")]
    Parse {
        /// The command line.
        command: String,
        /// What was wrong.
        detail: String,
    },
    /// The run tag cannot name namespaces and interfaces.
    #[error("run tag {tag:?}: {reason}")]
    BadTag {
        /// The tag.
        tag: String,
        /// Why it was refused.
        reason: String,
    },
    /// The nodes asked for are not valid here.
    #[error("node {node}: {reason}")]
    BadNode {
        /// The offending node id.
        node: u64,
        /// Why it was refused.
        reason: String,
    },
    /// Every candidate `10.S.0.0/16` is in use in the root namespace.
    #[error("no free 10.S.0.0/16 for a topology ({0})")]
    NoFreeSubnet(String),
    /// Blackhole rules (`(from, to)`) remained in the router after every delete succeeded (someone else added them).
    #[error("blackhole rules left after heal: {0}")]
    RulesLeft(String),
    /// The signal handler could not be installed.
    #[error("installing the cleanup signal handler: {0}")]
    Signals(String),
}

/// A router namespace and one namespace per node, with the cuts currently in effect. Dropping it deletes every
/// namespace and the root-side veth it created (the node processes must be stopped first: a namespace with a
/// process inside outlives its name).
#[derive(Debug)]
pub struct NetTopology {
    tag: String,
    /// `S` of `10.S.0.0/16`.
    subnet_octet: u8,
    router: String,
    /// Node id -> its namespace.
    node_namespaces: BTreeMap<u64, String>,
    owned: Owned,
    registration: u64,
    cuts: Cuts,
}

impl NetTopology {
    /// Creates, for run tag `tag` (1–8 characters of `[0-9a-z]`, e.g. [`fresh_tag`]), the router namespace
    /// `dancu-<tag>-r`, a namespace `dancu-<tag>-nN` per node and the root-side veth `dancu-<tag>`; see the module
    /// documentation for the addresses. On failure, removes what it made (and only that).
    pub fn create(tag: &str, node_ids: &[u64]) -> Result<NetTopology, NetError> {
        check_tag(tag)?;
        check_nodes(node_ids)?;
        let registration = cleanup::register();
        let mut topology = NetTopology {
            tag: tag.to_string(),
            subnet_octet: 0,
            router: format!("{NAME_PREFIX}-{tag}-r"),
            node_namespaces: node_ids.iter().map(|&node| (node, format!("{NAME_PREFIX}-{tag}-n{node}"))).collect(),
            owned: Owned::default(),
            registration,
            cuts: Cuts::new(),
        };
        // On an error, dropping `topology` removes what was made so far.
        topology.build_router()?;
        topology.build_root_link()?;
        for node in node_ids {
            topology.build_node(*node)?;
        }
        Ok(topology)
    }

    fn add_namespace(&mut self, namespace: &str) -> Result<(), NetError> {
        ip::run(&["netns", "add", namespace])?;
        self.owned.namespaces.push(namespace.to_string());
        cleanup::update(self.registration, &self.owned);
        ip::run(&["-n", namespace, "link", "set", "lo", "up"])?;
        Ok(())
    }

    fn build_router(&mut self) -> Result<(), NetError> {
        let router = self.router.clone();
        self.add_namespace(&router)?;
        enable_forwarding(&router)
    }

    /// The veth between the root namespace and the router, and the root route to every node through it.
    fn build_root_link(&mut self) -> Result<(), NetError> {
        let root_link = format!("{NAME_PREFIX}-{}", self.tag);
        ip::run(&["link", "add", "name", &root_link, "type", "veth", "peer", "name", "root", "netns", &self.router])?;
        self.owned.root_link = Some(root_link.clone());
        cleanup::update(self.registration, &self.owned);
        ip::run(&["link", "set", &root_link, "up"])?;
        self.subnet_octet = claim_subnet(&root_link)?;
        let root_side = format!("{}/24", self.root_link_ip(1));
        ip::run(&["addr", "add", &root_side, "dev", &root_link])?;
        let router_side = format!("{}/24", self.root_link_ip(2));
        let lines = [format!("addr add {router_side} dev root"), "link set root up".to_string()];
        ip::batch(&["-n", &self.router], &lines)
    }

    fn build_node(&mut self, node: u64) -> Result<(), NetError> {
        let namespace = self.node_namespaces[&node].clone();
        self.add_namespace(&namespace)?;
        let gateway = self.node_gateway(node);
        let router_lines = [
            format!("link add name n{node} type veth peer name eth0 netns {namespace}"),
            format!("addr add {gateway}/24 dev n{node}"),
            format!("link set n{node} up"),
        ];
        ip::batch(&["-n", &self.router], &router_lines)?;
        let node_lines = [
            format!("addr add {}/24 dev eth0", self.node_ip(node)),
            "link set eth0 up".to_string(),
            format!("route add default via {gateway}"),
        ];
        ip::batch(&["-n", &namespace], &node_lines)
    }
}

/// Addresses and names.
impl NetTopology {
    /// The run tag.
    pub fn tag(&self) -> &str {
        &self.tag
    }

    /// Every node id, ascending.
    pub fn node_ids(&self) -> Vec<u64> {
        self.node_namespaces.keys().copied().collect()
    }

    /// The node's address, `10.S.N.2`. Panics on a node not in the topology (a caller bug).
    pub fn node_ip(&self, node: u64) -> Ipv4Addr {
        assert!(self.node_namespaces.contains_key(&node), "node {node} is not in topology {}", self.tag);
        Ipv4Addr::new(10, self.subnet_octet, node_octet(node), 2)
    }

    /// The client's (root namespace's) address on the link to the router, `10.S.250.1`.
    pub fn client_ip(&self) -> Ipv4Addr {
        self.root_link_ip(1)
    }

    fn node_gateway(&self, node: u64) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet_octet, node_octet(node), 1)
    }

    fn root_link_ip(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet_octet, ROOT_LINK_OCTET, host)
    }

    /// The router namespace's name.
    pub fn router_namespace(&self) -> &str {
        &self.router
    }

    /// The node's namespace name. Panics on a node not in the topology.
    pub fn node_namespace(&self, node: u64) -> &str {
        self.node_namespaces.get(&node).unwrap_or_else(|| panic!("node {node} is not in topology {}", self.tag))
    }

    /// Every namespace this topology created.
    pub fn namespaces(&self) -> Vec<String> {
        self.owned.namespaces.clone()
    }

    /// The command prefix that runs a program inside the node's namespace: `["ip", "netns", "exec", "<ns>"]`.
    /// `ip netns exec` execs the program, so the spawned pid is the program's and signals reach it directly.
    pub fn exec_prefix(&self, node: u64) -> Vec<String> {
        [ip::IP, "netns", "exec", self.node_namespace(node)].map(str::to_string).to_vec()
    }

    /// [`NetTopology::exec_prefix`] of every node, for [`crate::ClusterSpec::node_command_prefix`].
    pub fn command_prefixes(&self) -> BTreeMap<u64, Vec<String>> {
        self.node_namespaces.keys().map(|&node| (node, self.exec_prefix(node))).collect()
    }
}

/// Cuts and partition shapes. A cut drops traffic both ways, silently. A shape replaces every cut in effect
/// (client cuts included) in one `ip` call, so the cuts afterwards are exactly the shape's; each returns a
/// description for the fault log.
impl NetTopology {
    /// Drops traffic between `a` and `b` (either may be [`CLIENT`]). Cutting a cut link does nothing.
    pub fn cut(&mut self, a: u64, b: u64) -> Result<(), NetError> {
        let mut target = self.cuts.clone();
        target.insert(self.checked_link(a, b)?);
        self.set_cuts(target)
    }

    /// Drops traffic between the node and the client (this process), e.g. to isolate a node completely after
    /// [`NetTopology::isolate`].
    pub fn cut_client(&mut self, node: u64) -> Result<(), NetError> {
        self.cut(CLIENT, node)
    }

    /// Removes every blackhole rule of the router, including any a failed call left behind, and checks that none
    /// remains.
    pub fn heal(&mut self) -> Result<(), NetError> {
        let lines: Vec<String> =
            self.blackhole_rules()?.iter().map(|(from, to)| rule_line("del", *from, *to)).collect();
        // `-force`: delete all, even if one is already gone.
        let deleted = ip::batch(&["-force", "-n", &self.router], &lines);
        let left = self.blackhole_rules()?;
        self.cuts = self.cuts_of(&left);
        deleted?;
        if !left.is_empty() {
            return Err(NetError::RulesLeft(format!("{left:?}")));
        }
        Ok(())
    }

    /// The node cut from every other node; the client still reaches it.
    pub fn isolate(&mut self, node: u64) -> Result<String, NetError> {
        let all = self.node_ids();
        self.check_members(&[node])?;
        self.set_cuts(shapes::isolate(node, &all))?;
        let rest: Vec<u64> = all.into_iter().filter(|&other| other != node).collect();
        Ok(format!("isolate node {node}: [{node}] | {rest:?}"))
    }

    /// Every node of `side_a` cut from every node of `side_b` (disjoint); nodes in neither side keep all links.
    pub fn split(&mut self, side_a: &[u64], side_b: &[u64]) -> Result<String, NetError> {
        self.check_members(side_a)?;
        self.check_members(side_b)?;
        if let Some(both) = side_a.iter().find(|node| side_b.contains(node)) {
            return Err(NetError::BadNode { node: *both, reason: "is on both sides of a split".to_string() });
        }
        self.set_cuts(shapes::split(side_a, side_b))?;
        Ok(format!("split {side_a:?} | {side_b:?}"))
    }

    /// `nodes` in a ring in the given order (shuffle it with the run's seed), each reaching only its two ring
    /// neighbours: with five nodes every node sees a majority including itself, and no two see the same one.
    pub fn majorities_ring(&mut self, nodes: &[u64]) -> Result<String, NetError> {
        self.check_members(nodes)?;
        let cuts = shapes::majorities_ring(nodes);
        self.set_cuts(cuts.clone())?;
        let views: Vec<String> = nodes
            .iter()
            .map(|&node| {
                let seen: Vec<u64> = nodes
                    .iter()
                    .copied()
                    .filter(|&other| other == node || !cuts.contains(&link(node, other)))
                    .collect();
                format!("{node} sees {seen:?}")
            })
            .collect();
        Ok(format!("majorities ring {nodes:?}: {}", views.join(", ")))
    }

    /// The first half of `nodes` cut from the second, both joined through the middle node (at least three nodes).
    pub fn bridge(&mut self, nodes: &[u64]) -> Result<String, NetError> {
        self.check_members(nodes)?;
        if nodes.len() < 3 {
            let node = nodes.first().copied().unwrap_or(CLIENT);
            return Err(NetError::BadNode { node, reason: format!("a bridge needs 3 nodes or more, got {nodes:?}") });
        }
        self.set_cuts(shapes::bridge(nodes))?;
        let (left, middle, right) = shapes::bridge_sides(nodes);
        Ok(format!("bridge {left:?} <-> {middle} <-> {right:?}"))
    }

    /// The cut links as the router's rules show them now, read back from the kernel (not from this struct's own
    /// bookkeeping): the suite's proof that a partition took effect.
    pub fn cuts_in_kernel(&self) -> Result<Vec<(u64, u64)>, NetError> {
        Ok(shapes::to_vec(&self.cuts_of(&self.blackhole_rules()?)))
    }

    /// The cut links in effect, each `(low, high)`; [`CLIENT`] (0) stands for the client.
    pub fn active_cuts(&self) -> Vec<(u64, u64)> {
        shapes::to_vec(&self.cuts)
    }

    /// Makes `target` the cuts in effect: deletes the rules of cuts not in it and adds the missing ones, in one
    /// `ip` batch. If the batch fails, the cuts are read back from the router so `active_cuts` stays true.
    fn set_cuts(&mut self, target: Cuts) -> Result<(), NetError> {
        let mut lines = Vec::new();
        for &(a, b) in self.cuts.difference(&target) {
            lines.extend(self.rule_lines("del", a, b));
        }
        for &(a, b) in target.difference(&self.cuts) {
            lines.extend(self.rule_lines("add", a, b));
        }
        if let Err(error) = ip::batch(&["-n", &self.router], &lines) {
            match self.blackhole_rules() {
                Ok(rules) => self.cuts = self.cuts_of(&rules),
                Err(read_error) => {
                    eprintln!("dancu-jepsen: reading the rules back after a failed change: {read_error}")
                }
            }
            return Err(error);
        }
        self.cuts = target;
        Ok(())
    }

    fn rule_lines(&self, verb: &str, a: u64, b: u64) -> [String; 2] {
        let (ip_a, ip_b) = (self.party_ip(a), self.party_ip(b));
        [rule_line(verb, ip_a, ip_b), rule_line(verb, ip_b, ip_a)]
    }

    /// The router's blackhole rules as `(from, to)`.
    fn blackhole_rules(&self) -> Result<Vec<(Ipv4Addr, Ipv4Addr)>, NetError> {
        ip::parse_blackhole_rules(&ip::run(&["-j", "-n", &self.router, "rule", "show"])?)
    }

    /// The links with a rule in at least one direction.
    fn cuts_of(&self, rules: &[(Ipv4Addr, Ipv4Addr)]) -> Cuts {
        let parties: BTreeMap<Ipv4Addr, u64> =
            self.node_ids().into_iter().chain([CLIENT]).map(|party| (self.party_ip(party), party)).collect();
        rules
            .iter()
            .filter_map(|(from, to)| Some(link(*parties.get(from)?, *parties.get(to)?)))
            .collect::<BTreeSet<_>>()
    }

    fn party_ip(&self, party: u64) -> Ipv4Addr {
        if party == CLIENT {
            self.client_ip()
        } else {
            self.node_ip(party)
        }
    }

    fn checked_link(&self, a: u64, b: u64) -> Result<(u64, u64), NetError> {
        let nodes: Vec<u64> = [a, b].into_iter().filter(|&party| party != CLIENT).collect();
        self.check_members(&nodes)?;
        if a == b {
            return Err(NetError::BadNode { node: a, reason: "cannot be cut from itself".to_string() });
        }
        Ok(link(a, b))
    }

    fn check_members(&self, nodes: &[u64]) -> Result<(), NetError> {
        for (idx, node) in nodes.iter().enumerate() {
            if !self.node_namespaces.contains_key(node) {
                let reason = format!("is not in this topology (nodes {:?})", self.node_ids());
                return Err(NetError::BadNode { node: *node, reason });
            }
            if nodes[..idx].contains(node) {
                return Err(NetError::BadNode { node: *node, reason: format!("is listed twice in {nodes:?}") });
            }
        }
        Ok(())
    }
}

impl Drop for NetTopology {
    /// Deletes the root-side veth (with it the route to the nodes) and every namespace; the router's rules go with
    /// its namespace. Errors are printed, never raised.
    fn drop(&mut self) {
        cleanup::remove_owned(&self.owned, false);
        cleanup::unregister(self.registration);
    }
}

fn rule_line(verb: &str, from: Ipv4Addr, to: Ipv4Addr) -> String {
    format!("rule {verb} from {from} to {to} blackhole")
}

fn node_octet(node: u64) -> u8 {
    u8::try_from(node).expect("node ids are checked to be at most 249 at creation")
}

/// Writes 1 to the namespace's `net.ipv4.ip_forward` (`/proc/sys/net` shows the namespace of the process reading
/// it, here a shell started inside the namespace).
pub(crate) fn enable_forwarding(namespace: &str) -> Result<(), NetError> {
    ip::run(&["netns", "exec", namespace, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward"]).map(drop)
}

/// Takes the first free `10.S.0.0/16` by adding the root route to it through `root_link`: the kernel refuses a
/// second identical route, so two runs claiming at once cannot both win. A candidate overlapping any existing root
/// route (other than the default route) is skipped, so no real network is ever shadowed.
fn claim_subnet(root_link: &str) -> Result<u8, NetError> {
    let routes = ip::run(&["-j", "route", "show"])?;
    let mut tried = Vec::new();
    for octet in SUBNET_OCTETS {
        let subnet = format!("10.{octet}.0.0/16");
        if routes_overlap(&routes, octet)? {
            tried.push(format!("{subnet} overlaps a route"));
            continue;
        }
        let gateway = Ipv4Addr::new(10, octet, ROOT_LINK_OCTET, 2).to_string();
        match ip::run(&["route", "add", &subnet, "via", &gateway, "dev", root_link, "onlink"]) {
            Ok(_) => return Ok(octet),
            Err(NetError::Command { stderr, .. }) if stderr.contains("File exists") => {
                tried.push(format!("{subnet} taken"));
            }
            Err(error) => return Err(error),
        }
    }
    Err(NetError::NoFreeSubnet(tried.join(", ")))
}

/// Whether a route of `ip -j route show`'s output overlaps `10.<octet>.0.0/16` (the default route does not count).
fn routes_overlap(routes_json: &str, octet: u8) -> Result<bool, NetError> {
    let routes: Vec<serde_json::Value> = if routes_json.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(routes_json)
            .map_err(|error| NetError::Parse { command: "ip -j route show".to_string(), detail: error.to_string() })?
    };
    let candidate = (u32::from(Ipv4Addr::new(10, octet, 0, 0)), 16u32);
    Ok(routes.iter().filter_map(|route| route.get("dst")?.as_str()).filter_map(parse_prefix).any(|prefix| {
        let shorter = prefix.1.min(candidate.1);
        prefix.1 > 0 && (prefix.0 ^ candidate.0).checked_shr(32 - shorter).unwrap_or(0) == 0
    }))
}

/// `a.b.c.d/len` or a bare address (a /32) as `(address, len)`; `None` for `default` and anything else.
fn parse_prefix(text: &str) -> Option<(u32, u32)> {
    let (address, len) = match text.split_once('/') {
        Some((address, len)) => (address, len.parse().ok()?),
        None => (text, 32),
    };
    let address: Ipv4Addr = address.parse().ok()?;
    (len <= 32).then_some((u32::from(address), len))
}

fn check_tag(tag: &str) -> Result<(), NetError> {
    let bad = |reason: &str| Err(NetError::BadTag { tag: tag.to_string(), reason: reason.to_string() });
    if tag.is_empty() || tag.len() > TAG_CHARS_MAX {
        return bad("must be 1 to 8 characters");
    }
    if !tag.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase()) {
        return bad("must be lowercase letters and digits");
    }
    Ok(())
}

fn check_nodes(node_ids: &[u64]) -> Result<(), NetError> {
    if node_ids.len() > NODES_PER_TOPOLOGY_MAX {
        let reason = format!("a topology holds at most {NODES_PER_TOPOLOGY_MAX} nodes, got {}", node_ids.len());
        return Err(NetError::BadNode { node: node_ids[NODES_PER_TOPOLOGY_MAX], reason });
    }
    for (idx, node) in node_ids.iter().enumerate() {
        if !NODE_IDS.contains(node) {
            return Err(NetError::BadNode { node: *node, reason: "must be 1..=249 (it is an address octet)".into() });
        }
        if node_ids[..idx].contains(node) {
            return Err(NetError::BadNode { node: *node, reason: "is listed twice".to_string() });
        }
    }
    Ok(())
}

/// A run tag of 4 hex digits from the process id and the clock, for runs that need no particular one.
pub fn fresh_tag() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |since| since.as_nanos());
    static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let calls = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // FNV-1a over the three inputs: enough to spread consecutive values over 16 bits.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in [u64::from(std::process::id()), nanos as u64, u64::from(calls)].iter().flat_map(|v| v.to_le_bytes()) {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:04x}", hash & 0xffff)
}

/// The configuration of a cluster whose nodes run in `topology`: the shape of [`crate::loopback_config`] (one
/// central datacenter, 63 partitions) with node `N` at `10.S.N.2:7100` and its metrics at `10.S.N.2:9100`.
/// Plaintext as returned; with [`crate::ClusterSpec::mutual_tls`] the harness makes it mutual TLS and issues each
/// node's certificate for its namespace address. Panics on a node not in the topology.
pub fn namespaced_config(
    topology: &NetTopology,
    node_ids: &[u64],
    replicas: u8,
    raft: Option<RaftConfig>,
) -> ClusterConfig {
    let mut config = crate::loopback_config(&vec![NODE_GRPC_PORT; node_ids.len()], replicas, raft.unwrap_or_default());
    for (node, &id) in config.nodes.iter_mut().zip(node_ids) {
        let ip = topology.node_ip(id);
        node.id = id;
        node.addr = format!("{ip}:{NODE_GRPC_PORT}");
        node.metrics_addr = Some(format!("{ip}:{NODE_METRICS_PORT}"));
    }
    config
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_must_fit_interface_names() {
        assert!(check_tag("ab12").is_ok());
        assert!(check_tag("12345678").is_ok());
        assert!(check_tag("").is_err());
        assert!(check_tag("123456789").is_err());
        assert!(check_tag("AB12").is_err());
        assert!(check_tag("a-b").is_err());
        assert!(check_tag(&fresh_tag()).is_ok());
    }

    #[test]
    fn node_ids_are_address_octets_below_the_root_link() {
        assert!(check_nodes(&[1, 2, 249]).is_ok());
        assert!(check_nodes(&[0]).is_err());
        assert!(check_nodes(&[250]).is_err());
        assert!(check_nodes(&[1, 1]).is_err());
        assert!(check_nodes(&(1..=33).collect::<Vec<_>>()).is_err());
    }

    #[test]
    fn a_candidate_subnet_overlapping_a_route_is_skipped() {
        let routes = r#"[{"dst":"default","gateway":"192.0.2.1","dev":"eth0"},
            {"dst":"192.0.2.0/24","dev":"eth0"},{"dst":"10.77.0.0/16","dev":"dancu-ab12"},
            {"dst":"10.80.3.0/24","dev":"x"},{"dst":"10.0.0.0/8","dev":"y"},{"dst":"10.81.1.1","dev":"z"}]"#;
        assert!(routes_overlap(routes, 77).unwrap(), "the same /16");
        assert!(routes_overlap(routes, 80).unwrap(), "a /24 inside");
        assert!(routes_overlap(routes, 81).unwrap(), "a host inside");
        let without_the_slash_8 = routes.replace(r#",{"dst":"10.0.0.0/8","dev":"y"}"#, "");
        assert!(!routes_overlap(&without_the_slash_8, 78).unwrap(), "nothing there");
        assert!(routes_overlap(routes, 78).unwrap(), "a /8 around it");
        assert!(!routes_overlap("", 77).unwrap());
    }
}
