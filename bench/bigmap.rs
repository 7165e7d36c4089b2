//! Tenant-map scale: generates N tenant files of M domains, then measures load time,
//! resident memory, and lookup latency at growing map sizes (it must stay flat: a lookup
//! costs a few hash probes whatever the number of domains).
//!
//! `cargo run --release --example bigmap -- [total_domains]` (default 1,000,000).

use std::hint::black_box;
use std::time::Instant;

use realmgate::discovery::map::load_dir;

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn generate(dir: &std::path::Path, total: usize) {
    let per_file = 1000.min(total);
    for f in 0..total.div_ceil(per_file) {
        let mut text = format!("account = \"tenant{f}\"\ndomains = [\n");
        for d in 0..per_file {
            text.push_str(&format!("  \"d{d}-t{f}.example.com\",\n"));
        }
        text.push_str("]\ninclude_subdomains = true\n");
        std::fs::write(dir.join(format!("tenant{f}.toml")), text).unwrap();
    }
}

fn main() {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    println!("size\tload_s\trss_mb\tlookup_hit_ns\tlookup_sub_ns\tlookup_miss_ns");
    let mut size = 1000;
    while size <= total {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), size);
        let before = rss_mb();
        let start = Instant::now();
        let map = load_dir(dir.path()).expect("generated files are valid");
        let load = start.elapsed().as_secs_f64();
        let rss = rss_mb() - before;
        let files = size.div_ceil(1000.min(size));
        let probes: Vec<String> = (0..10_000)
            .map(|i| format!("d{}-t{}.example.com", i % 1000.min(size), i % files))
            .collect();
        let subs: Vec<String> = probes.iter().map(|p| format!("eu.{p}")).collect();
        let misses: Vec<String> = (0..10_000)
            .map(|i| format!("x{i}.nowhere.example"))
            .collect();
        let time = |names: &[String]| {
            let start = Instant::now();
            for _ in 0..10 {
                for n in names {
                    black_box(map.lookup(black_box(n)));
                }
            }
            start.elapsed().as_nanos() as f64 / (names.len() * 10) as f64
        };
        println!(
            "{size}\t{load:.3}\t{rss:.0}\t{:.0}\t{:.0}\t{:.0}",
            time(&probes),
            time(&subs),
            time(&misses)
        );
        drop(map);
        size *= 10;
    }
}
