use std::time::{Duration, Instant};
use rand::rngs::StdRng;
use rand::SeedableRng;
use dancu_jepsen::checker::random_history::{break_one_read, linearizable_history, RandomHistoryConfig};
use dancu_jepsen::checker::{self, CheckConfig};

#[test]
fn scratch() {
    let budget = CheckConfig { time_budget: Duration::from_secs(20), n_threads: 1 };
    for (n_proc, info, cas, lat) in [(16u32, 0.5, 0.3, 1000u64), (32, 0.3, 0.5, 1000), (64, 0.2, 0.3, 5000), (16, 0.9, 0.0, 1000), (16, 0.5, 0.9, 1000)] {
        for seed in 0..3u64 {
            let config = RandomHistoryConfig { n_ops: 3000, n_processes: n_proc, n_keys: 1, info_share: info, cas_share: cas, latency_us_max: lat, ..Default::default() };
            let mut ops = linearizable_history(&mut StdRng::seed_from_u64(seed), &config);
            let t = Instant::now();
            let r = checker::check(&ops, &budget);
            let t_valid = t.elapsed();
            let b = break_one_read(&mut StdRng::seed_from_u64(seed), &mut ops).unwrap();
            let t = Instant::now();
            let r2 = checker::check(&ops, &budget);
            println!("p={n_proc} info={info} cas={cas} lat={lat} seed={seed}: {} {:?} | broken {} {:?} window={} ({})", r.verdict, t_valid, r2.verdict, t.elapsed(), r2.anomalies.first().map_or(0, |a| a.window.len()), b.how);
        }
    }
}
