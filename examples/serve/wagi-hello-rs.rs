//! wagi-hello-rs.rs - a WAGI handler in Rust (std only): the request comes in
//! CGI environment variables and on stdin (the body); the response goes to
//! stdout as CGI header lines, a blank line and the body.
//!
//!   make examples        (builds examples/serve/wagi-hello-rs.wasm with
//!                         /usr/bin/rustc --target wasm32-wasi -O -C strip=symbols)
//!   echo -n hello > /tmp/body
//!   build/wasp run --env REQUEST_METHOD=POST --env PATH_INFO=/x --stdin /tmp/body \
//!       examples/serve/wagi-hello-rs.wasm
//!
//! prints
//!
//!   Content-Type: text/plain
//!
//!   hello from WAGI (Rust), POST /x
//!   body: 5 bytes
//!
//! plus a "query: ..." line when QUERY_STRING is not empty. A failure to
//! read the body ends the process with a non-zero exit code: the client
//! gets 500.
use std::env;
use std::io::{self, Read, Write};

/// The variable's value, or "" when it is not set (or not UTF-8).
fn var(name: &str) -> String {
    env::var(name).unwrap_or_default()
}

/// Counts the bytes on stdin without keeping them.
fn body_len() -> io::Result<u64> {
    let mut buf = [0u8; 16 * 1024];
    let mut stdin = io::stdin().lock();
    let mut total = 0u64;
    loop {
        match stdin.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn main() -> io::Result<()> {
    let len = body_len()?;
    let query = var("QUERY_STRING");

    let mut out = String::from("Content-Type: text/plain\n\n");
    out += &format!(
        "hello from WAGI (Rust), {} {}\n",
        var("REQUEST_METHOD"),
        var("PATH_INFO")
    );
    if !query.is_empty() {
        out += &format!("query: {}\n", query);
    }
    out += &format!("body: {} bytes\n", len);

    let mut stdout = io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()
}
