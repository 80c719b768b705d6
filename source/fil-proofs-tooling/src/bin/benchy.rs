//! Fixture benchy: `benchy window-post --size 32GiB` prints one compact JSON line, with
//! kebab-case keys shaped like the real report.
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let cmd = args.get(1).map(String::as_str).unwrap_or("");
    let size = args
        .iter()
        .position(|a| a == "--size")
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_default();
    if !matches!(cmd, "window-post" | "winning-post") || size.is_empty() {
        eprintln!("usage: benchy window-post|winning-post --size SIZE");
        std::process::exit(2);
    }
    let start = Instant::now();
    let comm = filecoin_proofs::seal(64);
    let ms = start.elapsed().as_millis();
    let gpu = if cfg!(feature = "cuda") {
        "cuda"
    } else {
        "cpu"
    };
    println!(
        "{{\"git\":{{\"hash\":\"fixture\",\"date\":\"\"}},\"system\":{{\"system\":\"{}\"}},\"benchmarks\":{{\"inputs\":{{\"sector-size\":\"{}\"}},\"outputs\":{{\"gen-{}-wall-time-ms\":{},\"gen-{}-cpu-time-ms\":{},\"comm\":{}}}}}}}",
        gpu, size, cmd, ms, cmd, ms, comm
    );
}
