//! misc.rs - clocks, randomness, stdin and exit codes from Rust's std:
//! SystemTime near the host's time (argv[1], seconds since the epoch),
//! Instant monotonic across a sleep, random_get through the raw import,
//! stdin read to its end, and std::process::exit(argv[2]).
use std::io::Read;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

#[link(wasm_import_module = "wasi_snapshot_preview1")]
extern "C" {
    fn random_get(buf: *mut u8, len: usize) -> u16;
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    let e = unsafe { random_get(v.as_mut_ptr(), n) };
    assert_eq!(e, 0, "random_get failed with errno {}", e);
    v
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let host: i64 = args[1].parse().unwrap();
    let code: i32 = args[2].parse().unwrap();

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    println!(
        "SystemTime within 60 s of the host: {}",
        (now - host).abs() < 60
    );

    let t0 = Instant::now();
    let mut prev = t0;
    let mut backwards = 0;
    for _ in 0..10000 {
        let t = Instant::now();
        if t < prev {
            backwards += 1;
        }
        prev = t;
    }
    println!("Instant went backwards: {} times", backwards);
    let t1 = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    let slept = t1.elapsed();
    println!(
        "sleep 30 ms measured >= 30 ms: {}, < 5 s: {}",
        slept >= Duration::from_millis(30),
        slept < Duration::from_secs(5)
    );

    let a = random(32);
    let b = random(32);
    println!(
        "random: two calls differ: {}, not all zero: {}",
        a != b,
        a.iter().any(|&x| x != 0)
    );
    let big = random(1 << 16);
    let mut seen = [false; 256];
    big.iter().for_each(|&x| seen[x as usize] = true);
    println!(
        "random: distinct byte values in 64 KiB: {}",
        seen.iter().filter(|&&s| s).count()
    );

    let mut input = Vec::new();
    std::io::stdin().read_to_end(&mut input).unwrap();
    let lines = input
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .count();
    println!("stdin: {} bytes, {} lines", input.len(), lines);

    println!("exiting with {}", code);
    std::process::exit(code);
}
