//! A rough load loop against a running cluster: N concurrent tasks doing puts or gets through the
//! client for a fixed time, printing ops/s and latency percentiles. The real side-by-side
//! benchmark (dancu vs etcd vs ceilings) is a separate tool; this is for quick sanity figures.
//!
//! `cargo run --release -p dancu-client --example rough_load -- 127.0.0.1:7101 put 64 10`
//! arguments: ENDPOINT[,ENDPOINT...] put|get|read-index|follower|stale CONCURRENCY SECONDS

use std::sync::Arc;
use std::time::{Duration, Instant};

use dancu_client::proto::{Citizen, Consistency, Date, Sex};
use dancu_client::{Client, ClientOptions};

/// Distinct synthetic IDs the loop writes and reads (spread over several provinces).
const N_KEYS: u64 = 2_000;
const PROVINCES: [&str; 8] = ["001", "079", "048", "031", "092", "038", "040", "022"];

fn synthetic(key: u64) -> Citizen {
    let code = PROVINCES[(key % PROVINCES.len() as u64) as usize];
    Citizen {
        id: format!("{code}090{:06}", key),
        full_name: "Lê Thị Hoa".into(),
        date_of_birth: Some(Date { year: 1990, month: 5, day: 17 }),
        sex: Sex::Male.into(),
        ..Citizen::default()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [endpoints, op, concurrency, seconds] = args.as_slice() else {
        return Err("usage: rough_load ENDPOINTS put|get|read-index|follower|stale CONCURRENCY SECONDS".into());
    };
    let endpoints: Vec<String> = endpoints.split(',').map(str::to_string).collect();
    let concurrency: u64 = concurrency.parse()?;
    let duration = Duration::from_secs(seconds.parse()?);
    let client = Arc::new(Client::connect(&endpoints, ClientOptions::default()).await?);
    let consistency = match op.as_str() {
        "put" => None,
        "get" => Some(Consistency::Linearizable),
        other => Some(dancu_client::parse_consistency(other)?),
    };
    if consistency.is_some() {
        for key in 0..N_KEYS.min(200) {
            client.put(synthetic(key), None).await?;
        }
    }
    let started = Instant::now();
    let tasks = (0..concurrency).map(|task| {
        let client = client.clone();
        tokio::spawn(async move {
            let (mut latencies_us, mut n_errors) = (Vec::new(), 0u64);
            let mut key = task;
            while started.elapsed() < duration {
                let t = Instant::now();
                let result = match consistency {
                    None => client.put(synthetic(key % N_KEYS), None).await.map(|_| ()),
                    Some(level) => client.get(&synthetic(key % 200).id, level).await.map(|_| ()),
                };
                match result {
                    Ok(()) => latencies_us.push(t.elapsed().as_micros() as u64),
                    Err(_) => n_errors += 1,
                }
                key += concurrency;
            }
            (latencies_us, n_errors)
        })
    });
    let (mut all, mut n_errors) = (Vec::new(), 0);
    for task in futures::future::join_all(tasks).await {
        let (latencies, errors) = task?;
        all.extend(latencies);
        n_errors += errors;
    }
    let elapsed = started.elapsed().as_secs_f64();
    all.sort_unstable();
    let pct =
        |p: f64| all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1))).copied().unwrap_or(0);
    println!(
        "{op} concurrency={concurrency}: {} ok, {n_errors} errors in {elapsed:.1} s = {:.0} ops/s; p50 {:.2} ms, p99 {:.2} ms",
        all.len(),
        all.len() as f64 / elapsed,
        pct(0.50) as f64 / 1000.0,
        pct(0.99) as f64 / 1000.0
    );
    Ok(())
}
