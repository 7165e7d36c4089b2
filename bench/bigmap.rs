//! Tenant-map scale: generates N tenant files of M domains, then measures load time,
//! resident memory, and lookup latency at growing map sizes (it must stay flat: a lookup
//! costs a few hash probes whatever the number of domains).
//!
//! `cargo run --release --example bigmap -- [total_domains]` (default 1,000,000).
//!
//! `cargo run --release --example bigmap -- --postgres URL [total_domains]` measures the
//! PostgreSQL tenant source instead: it writes the generated directory under /tmp, times
//! `tenant import` into URL (the first import, then an unchanged re-import), and the lookup
//! latency through the source cold (one query each) and warm (the moka `Directory`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use realmgate::discovery::map::load_dir;
use realmgate::discovery::{Directory, PgSource, TenantSource};

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

/// Probes of the generated map: exact hits, subdomain hits, misses.
fn probes(size: usize) -> [Vec<String>; 3] {
    let files = size.div_ceil(1000.min(size));
    let hits: Vec<String> = (0..10_000)
        .map(|i| {
            format!(
                "d{}-t{}.example.com",
                (i * 7919) % 1000.min(size),
                i % files
            )
        })
        .collect();
    let subs = hits.iter().map(|p| format!("eu.{p}")).collect();
    let misses = (0..10_000)
        .map(|i| format!("x{i}.nowhere.example"))
        .collect();
    [hits, subs, misses]
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

async fn postgres(url: &str, total: usize) {
    let dir = std::path::PathBuf::from(format!("/tmp/realmgate-bigmap-{total}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    generate(&dir, total);
    println!("generated {total} domains in {}", dir.display());
    for run in ["first import", "unchanged re-import"] {
        let start = Instant::now();
        let summary = realmgate::app::import_tenants(url, &dir)
            .await
            .expect("import");
        println!(
            "{run}: {:.2} s ({} added, {} unchanged, {} domain rows written)",
            start.elapsed().as_secs_f64(),
            summary.added,
            summary.unchanged,
            summary.domains_written
        );
    }
    let source = Arc::new(PgSource::open(url).await.expect("open"));
    let directory = Directory::new(source.clone(), 1_000_000, Duration::from_secs(300));
    println!("probe\tcold_p50_us\tcold_p99_us\twarm_mean_ns");
    for (name, names) in ["hit", "subdomain", "miss"].iter().zip(probes(total)) {
        let mut cold = Vec::with_capacity(names.len());
        for n in &names {
            let start = Instant::now();
            let found = source.by_domain(n).await.expect("query");
            cold.push(start.elapsed());
            assert_eq!(found.is_some(), *name != "miss", "{n}");
        }
        cold.sort();
        for n in &names {
            directory.by_domain(n).await.expect("fill");
        }
        let start = Instant::now();
        for _ in 0..10 {
            for n in &names {
                black_box(directory.by_domain(black_box(n)).await.expect("cached"));
            }
        }
        let warm = start.elapsed().as_nanos() as f64 / (names.len() * 10) as f64;
        println!(
            "{name}\t{:.0}\t{:.0}\t{warm:.0}",
            percentile(&cold, 0.5),
            percentile(&cold, 0.99)
        );
    }
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let postgres_url = args.iter().position(|a| a == "--postgres").map(|i| {
        let url = args.get(i + 1).cloned().expect("--postgres URL");
        args.drain(i..=i + 1);
        url
    });
    let total: usize = args
        .first()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    if let Some(url) = postgres_url {
        let runtime = tokio::runtime::Runtime::new().expect("runtime");
        return runtime.block_on(postgres(&url, total));
    }
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
        let [probes, subs, misses] = probes(size);
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
