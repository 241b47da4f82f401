//! hello-rs.rs - the hello example in Rust, built with Debian's rustc:
//!
//!   /usr/bin/rustc --target wasm32-wasi -O -C strip=symbols examples/hello-rs.rs -o hello-rs.wasm
//!   build/wasp run hello-rs.wasm        -> hello, world
//!   build/wasp run hello-rs.wasm wasp   -> hello, wasp
fn main() {
    let who = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "world".to_string());
    println!("hello, {}", who);
}
