//! Time per record of hiding `ethnicity` and `religion` from stored records: `field_mask::strip` on the encoded bytes
//! against decoding into a `Citizen`, clearing the two fields and encoding again.
//!
//! `cargo run --release -p dancu-node --example mask_speed -- [COUNT] [PASSES] [SEED]`

use std::hint::black_box;
use std::time::Instant;

use dancu_node::service::field_mask::{strip, FieldMask};
use dancu_proto::v1::Citizen;
use dancu_proto::Message;
use dancu_synthetic::Population;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(Ok(10_000), |a| a.parse())?;
    let passes: usize = args.next().map_or(Ok(7), |a| a.parse())?;
    let seed: u64 = args.next().map_or(Ok(42), |a| a.parse())?;
    let records: Vec<Vec<u8>> = Population::new(seed, count)?.citizens().map(|c| c.encode_to_vec()).collect();
    let record_bytes_mean = records.iter().map(Vec::len).sum::<usize>() as f64 / records.len().max(1) as f64;
    let mask = FieldMask::from_names(&["ethnicity", "religion"])?;

    // Both ways must give the same bytes, or the timing compares different work.
    let mut out = Vec::with_capacity(1024);
    for record in &records {
        strip(record, &mask, &mut out)?;
        let mut expected = Vec::new();
        decode_clear_encode(record, &mut expected)?;
        assert_eq!(out, expected, "strip and decode-clear-encode disagree");
        out.clear();
    }

    let mut strip_ns = Vec::with_capacity(passes);
    let mut decode_ns = Vec::with_capacity(passes);
    for _ in 0..passes {
        strip_ns.push(time_per_record(&records, |record, out| strip(record, &mask, out).map_err(Into::into))?);
        decode_ns.push(time_per_record(&records, decode_clear_encode)?);
    }
    let (strip_median, decode_median) = (median(&mut strip_ns), median(&mut decode_ns));
    println!("{} records, {record_bytes_mean:.0} bytes each on average, {passes} passes, seed {seed}", records.len());
    println!("strip (wire walk):           {strip_median:8.1} ns/record (median; best {:.1})", strip_ns[0]);
    println!("decode, clear, encode:       {decode_median:8.1} ns/record (median; best {:.1})", decode_ns[0]);
    println!("ratio decode / strip:        {:8.1}x", decode_median / strip_median);
    Ok(())
}

type Step = Result<(), Box<dyn std::error::Error>>;

fn decode_clear_encode(record: &[u8], out: &mut Vec<u8>) -> Step {
    let mut citizen = Citizen::decode(record)?;
    citizen.ethnicity.clear();
    citizen.religion.clear();
    citizen.encode(out)?;
    Ok(())
}

/// Runs `mask` over every record once, into one reused buffer (as a reply writer would), and returns ns per record.
fn time_per_record(records: &[Vec<u8>], mut mask: impl FnMut(&[u8], &mut Vec<u8>) -> Step) -> Result<f64, String> {
    let mut out = Vec::with_capacity(1024);
    let started = Instant::now();
    for record in records {
        mask(black_box(record), &mut out).map_err(|e| e.to_string())?;
        black_box(&out);
        out.clear();
    }
    Ok(started.elapsed().as_nanos() as f64 / records.len().max(1) as f64)
}

/// Sorts `samples` and returns the middle one (the first is then the best).
fn median(samples: &mut [f64]) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}
