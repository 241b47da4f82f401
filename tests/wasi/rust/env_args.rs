//! env_args.rs - arguments and environment as Rust's std sees them:
//! env::args() (argv[0] cut to its last path component), then env::vars()
//! sorted, then env::var of the names given after a "--names" argument.
use std::env;

fn main() {
    let args: Vec<String> = env::args().collect();
    println!("args: {}", args.len());
    let base = args[0].rsplit('/').next().unwrap();
    println!("arg 0: {}", base);
    for (i, a) in args.iter().enumerate().skip(1) {
        println!("arg {}: {:?}", i, a);
    }
    let mut vars: Vec<(String, String)> = env::vars().collect();
    vars.sort();
    println!("vars: {}", vars.len());
    for (k, v) in &vars {
        println!("var {}={:?}", k, v);
    }
    if let Some(pos) = args.iter().position(|a| a == "--names") {
        for name in &args[pos + 1..] {
            match env::var(name) {
                Ok(v) => println!("env {}: {:?}", name, v),
                Err(_) => println!("env {}: (unset)", name),
            }
        }
    }
}
