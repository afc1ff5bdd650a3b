//! `dancu-demo`: runs a three-node dancu cluster on this machine (the ports of
//! `cluster-config/examples/local-3-secure.toml`: mutual TLS, with certificates it makes for every node and caller
//! unless they exist; `--config cluster-config/examples/local-3.toml` runs it insecure-plaintext), generates a synthetic population and imports it (the same path as
//! `dancuctl gen` + `dancuctl import`), shows who leads what and one lookup at every consistency level, then serves
//! until Ctrl-C.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use dancu_client::certificates::issue_for_config;
use dancu_client::proto::Consistency;
use dancu_client::{Client, ClientOptions, ImportOptions, TlsIdentity};
use dancu_cluster_config::ClusterConfig;
use dancu_jepsen::{node_binary, ClusterSpec, LocalCluster};
use dancu_synthetic::Population;
use dancu_tls::{PeerIdentity, TlsDir};

/// The caller the demo acts as in a mutual-TLS configuration, and how long the certificates it makes are valid.
const DEMO_CALLER: &str = "admin";
const CERT_DAYS: u32 = 365;

/// How long the cluster may take to elect a leader for every partition.
const HEALTHY_TIMEOUT: Duration = Duration::from_secs(120);

/// Run a local three-node dancu cluster with synthetic data, until Ctrl-C.
#[derive(Debug, Parser)]
#[command(name = "dancu-demo")]
struct Args {
    /// Cluster configuration to run (its node addresses are the ports used).
    #[arg(long, default_value = "cluster-config/examples/local-3-secure.toml")]
    config: PathBuf,
    /// Data directories (`node-N/`) and logs (`node-N.log`); kept after exit, so a second run restarts on them.
    #[arg(long, default_value = "demo-data")]
    data_dir: PathBuf,
    /// Synthetic citizens to generate and import.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Seed of the synthetic population (the same seed writes the same people).
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = ClusterConfig::load(&args.config)?;
    // Mutual TLS: the demo's operator is the `admin` caller of the example, with certificates made once.
    let certs = args.data_dir.join("certs");
    let tls = if config.requires_tls() {
        if !certs.join("ca.crt").exists() {
            let issued = issue_for_config(&config, &certs, CERT_DAYS, CERT_DAYS)?;
            println!(
                "made a certificate authority and {} certificates in {}/",
                issued.identities.len(),
                certs.display()
            );
        }
        Some(TlsIdentity { dir: certs.clone(), name: DEMO_CALLER.to_string() })
    } else {
        None
    };
    let spec = ClusterSpec {
        fixed_config: Some(args.config.clone()),
        base_dir: Some(args.data_dir.clone()),
        keep_dir: true,
        tls: tls.as_ref().map(|tls| TlsDir::new(&tls.dir, PeerIdentity::Caller(tls.name.clone()))),
        ..ClusterSpec::new(node_binary()?)
    };
    println!("starting the nodes of {} (data and logs in {}/)", args.config.display(), args.data_dir.display());
    let mut cluster = LocalCluster::start(spec)?;
    cluster.wait_healthy(HEALTHY_TIMEOUT).await?;
    let options = ClientOptions { purpose: "demo".to_string(), tls: tls.clone(), ..ClientOptions::default() };
    let client = Client::connect(&cluster.endpoints(), options.clone()).await?;
    let population = Population::new(args.seed, args.records)?;
    load(&client, &population, &args.data_dir).await?;
    print_leaders(&cluster).await?;
    let mut sample = population.citizens();
    let (first, second) = (sample.next(), sample.next());
    if let Some(first) = &first {
        print_lookups(&cluster, &first.id, options).await?;
    }
    println!();
    let dancuctl = dancuctl_path();
    let config = match &tls {
        Some(tls) => format!("{} --tls-dir {} --identity {}", args.config.display(), tls.dir.display(), tls.name),
        None => args.config.display().to_string(),
    };
    let example_id = second.as_ref().map_or_else(|| "ID".to_string(), |person| person.id.clone());
    println!("The cluster is running. Try:");
    println!("  {dancuctl} --config {config} status");
    if let Some(person) = second {
        let dob =
            person.date_of_birth.map(|d| format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)).unwrap_or_default();
        println!("  {dancuctl} --config {config} get {} --consistency stale", person.id);
        println!(
            "  {dancuctl} --config {config} verify {} --name '{}' --dob {dob} --output json",
            person.id, person.full_name
        );
        println!("  {dancuctl} --config {config} household {}", person.id);
        println!(
            "  {dancuctl} --config {config} search --name '{}' --dob {dob}",
            dancu_synthetic::unaccented(&person.full_name)
        );
    }
    if let Some(tls) = &tls {
        let config = format!("{} --tls-dir {}", args.config.display(), tls.dir.display());
        println!("As the example's other callers (each sees and may do only what its role allows):");
        println!("  {dancuctl} --config {config} --identity bank --purpose kyc whoami");
        println!("  {dancuctl} --config {config} --identity health-ministry --purpose treatment get {example_id} --output json");
        println!("  {dancuctl} --config {config} --identity hanoi-police --purpose investigation get {example_id}");
    }
    println!("Press Ctrl-C to stop it.");
    tokio::signal::ctrl_c().await.context("waiting for Ctrl-C")?;
    println!("stopping the nodes");
    for node in cluster.node_ids() {
        cluster.stop(node)?;
    }
    Ok(())
}

/// `dancuctl` beside this executable (both are built into the same target directory), relative to the current
/// directory when inside it.
fn dancuctl_path() -> String {
    let fallback = PathBuf::from("target/release/dancuctl");
    let beside = std::env::current_exe().ok().and_then(|exe| Some(exe.parent()?.join("dancuctl")));
    let path = beside.unwrap_or(fallback);
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd).unwrap_or(&path).display().to_string()
}

/// Writes the population as JSON lines under the data directory (the file `dancuctl import` would read) and
/// imports it.
async fn load(client: &Client, population: &Population, data_dir: &Path) -> anyhow::Result<()> {
    let path = data_dir.join(format!("synthetic-seed{}-{}.jsonl", population.seed(), population.count()));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).with_context(|| path.display().to_string())?);
    let generated = population.write_json(2, &mut file)?;
    drop(file);
    println!(
        "generated {} synthetic citizens into {} ({:.0} records/s)",
        generated.n_records,
        path.display(),
        generated.records_per_s()
    );
    let reader = BufReader::new(std::fs::File::open(&path).with_context(|| path.display().to_string())?);
    let summary = dancu_client::import(client, reader, &ImportOptions::default(), |_| {})
        .await
        .map_err(|failure| anyhow::anyhow!("import failed: {failure}"))?;
    println!(
        "imported {} records (written {}, unchanged {}), {} bad lines, in {:.1} s ({:.0} records/s)",
        summary.lines,
        summary.written,
        summary.unchanged,
        summary.bad_lines.len(),
        summary.seconds,
        summary.records_per_s
    );
    Ok(())
}

/// One line per node: its address and how many partitions it hosts and leads.
async fn print_leaders(cluster: &LocalCluster) -> anyhow::Result<()> {
    println!();
    println!("{:<6} {:<20} {:>8} {:>6} {:>14}", "node", "address", "hosted", "leads", "applied (sum)");
    for node in cluster.node_ids() {
        let status = cluster.status(node).await?;
        let hosted = status.partitions.iter().filter(|partition| partition.replicas.contains(&node)).count();
        let leads = status.partitions.iter().filter(|partition| partition.local_role == "leader").count();
        let applied: u64 = status.partitions.iter().map(|partition| partition.last_applied).sum();
        println!("{node:<6} {:<20} {hosted:>8} {leads:>6} {applied:>14}", cluster.addr(node));
    }
    Ok(())
}

/// The same record read at every consistency level, each from the first node (which may be a follower).
async fn print_lookups(cluster: &LocalCluster, id: &str, options: ClientOptions) -> anyhow::Result<()> {
    println!();
    println!("lookups of {id} through node 1 (synthetic data):");
    let first_node = cluster.node_ids()[0];
    let client = Client::connect(&[cluster.addr(first_node)], options).await?;
    let levels = [Consistency::Linearizable, Consistency::ReadIndex, Consistency::Follower, Consistency::Stale];
    for level in levels {
        let started = Instant::now();
        let answer = client.get(id, level).await?.context("a record the demo wrote is missing")?;
        let name = answer.citizen.map(|citizen| citizen.full_name).unwrap_or_default();
        let served_by = answer.meta.map_or(0, |meta| meta.served_by);
        println!(
            "  {:<13} {name:<22} revision {} log index {:>5} served by node {served_by} in {:.1?}",
            level.as_str_name().trim_start_matches("CONSISTENCY_").to_lowercase(),
            answer.revision,
            answer.log_index,
            started.elapsed()
        );
    }
    Ok(())
}
