//! escape.rs - sandbox escapes tried the way a Rust program would, through
//! std::fs (wasi-libc finds the preopen, the engine resolves the rest).
//! Run with --dir CASE/box::/sandbox --dir CASE/robox::/ro:ro on the tree
//! that run.sh builds for tests/wasi/c/escape.c and readonly.c. Every
//! attempt must fail with ENOTCAPABLE (76); run.sh checks the host after.
use std::fs::{self, File, OpenOptions};
use std::io;

fn report(label: &str, r: io::Result<()>) {
    match r {
        Ok(()) => println!("escape {}: ALLOWED", label),
        Err(e) => match e.raw_os_error() {
            Some(n) => println!("escape {}: refused errno={}", label, n),
            None => println!("escape {}: refused ({:?})", label, e.kind()),
        },
    }
}

fn main() {
    let read = |p: &str| File::open(p).map(|_| ());
    let write = |p: &str| {
        OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(p)
            .map(|_| ())
    };
    let create = |p: &str| File::create(p).map(|_| ());
    let ok = fs::read_to_string("/sandbox/data.txt").map(|s| s == "data\n");
    println!("control read /sandbox/data.txt: {:?}", ok.ok());

    report(
        "read /sandbox/../secret.txt",
        read("/sandbox/../secret.txt"),
    );
    report(
        "read /sandbox/sub/../../secret.txt",
        read("/sandbox/sub/../../secret.txt"),
    );
    report("read /sandbox/link_secret", read("/sandbox/link_secret"));
    report(
        "read /sandbox/link_abs_secret",
        read("/sandbox/link_abs_secret"),
    );
    report(
        "read /sandbox/link_etc/passwd",
        read("/sandbox/link_etc/passwd"),
    );
    report(
        "read /sandbox/link_up/secret.txt",
        read("/sandbox/link_up/secret.txt"),
    );
    report(
        "read_dir /sandbox/link_upup",
        fs::read_dir("/sandbox/link_upup").map(|_| ()),
    );
    report(
        "read_dir /sandbox/..",
        fs::read_dir("/sandbox/..").map(|_| ()),
    );
    report(
        "metadata /sandbox/../secret.txt",
        fs::metadata("/sandbox/../secret.txt").map(|_| ()),
    );
    report(
        "metadata /sandbox/link_secret",
        fs::metadata("/sandbox/link_secret").map(|_| ()),
    );
    report(
        "truncate /sandbox/link_secret",
        write("/sandbox/link_secret"),
    );
    report(
        "truncate /sandbox/link_up/secret.txt",
        write("/sandbox/link_up/secret.txt"),
    );
    report(
        "create /sandbox/../created.txt",
        create("/sandbox/../created.txt"),
    );
    report(
        "create /sandbox/link_up/created.txt",
        create("/sandbox/link_up/created.txt"),
    );
    report(
        "create_dir /sandbox/../newdir",
        fs::create_dir("/sandbox/../newdir"),
    );
    report(
        "create_dir /sandbox/link_up/newdir",
        fs::create_dir("/sandbox/link_up/newdir"),
    );
    report(
        "remove_file /sandbox/../secret.txt",
        fs::remove_file("/sandbox/../secret.txt"),
    );
    report(
        "remove_file /sandbox/link_up/secret.txt",
        fs::remove_file("/sandbox/link_up/secret.txt"),
    );
    report(
        "remove_dir /sandbox/../outside",
        fs::remove_dir("/sandbox/../outside"),
    );
    report(
        "remove_dir /sandbox/link_up/outside",
        fs::remove_dir("/sandbox/link_up/outside"),
    );
    report(
        "rename data.txt -> /sandbox/../moved.txt",
        fs::rename("/sandbox/data.txt", "/sandbox/../moved.txt"),
    );
    report(
        "rename data.txt -> /sandbox/link_up/moved.txt",
        fs::rename("/sandbox/data.txt", "/sandbox/link_up/moved.txt"),
    );
    report(
        "rename /sandbox/../secret.txt -> stolen.txt",
        fs::rename("/sandbox/../secret.txt", "/sandbox/stolen.txt"),
    );
    report(
        "hard_link /sandbox/../secret.txt",
        fs::hard_link("/sandbox/../secret.txt", "/sandbox/hard.txt"),
    );
    report(
        "hard_link /sandbox/link_up/secret.txt",
        fs::hard_link("/sandbox/link_up/secret.txt", "/sandbox/hard.txt"),
    );
    report(
        "hard_link data.txt -> /sandbox/../outlink.txt",
        fs::hard_link("/sandbox/data.txt", "/sandbox/../outlink.txt"),
    );
    report(
        "read_link /sandbox/../outside_link",
        fs::read_link("/sandbox/../outside_link").map(|_| ()),
    );
    report(
        "copy /sandbox/link_secret -> copy.txt",
        fs::copy("/sandbox/link_secret", "/sandbox/copy.txt").map(|_| ()),
    );
    report(
        "copy data.txt -> /sandbox/link_up/copied.txt",
        fs::copy("/sandbox/data.txt", "/sandbox/link_up/copied.txt").map(|_| ()),
    );

    report("write /ro/keep.txt", write("/ro/keep.txt"));
    report(
        "append /ro/keep.txt",
        OpenOptions::new()
            .append(true)
            .open("/ro/keep.txt")
            .map(|_| ()),
    );
    report("create /ro/new.txt", create("/ro/new.txt"));
    report("fs-write /ro/keep.txt", fs::write("/ro/keep.txt", "gone"));
    report("create_dir /ro/newdir", fs::create_dir("/ro/newdir"));
    report("remove_file /ro/keep.txt", fs::remove_file("/ro/keep.txt"));
    report("remove_dir /ro/keepdir", fs::remove_dir("/ro/keepdir"));
    report(
        "rename /ro/keep.txt -> /ro/renamed.txt",
        fs::rename("/ro/keep.txt", "/ro/renamed.txt"),
    );
    report(
        "rename /ro/keep.txt -> /sandbox/stolen.txt",
        fs::rename("/ro/keep.txt", "/sandbox/stolen.txt"),
    );
    report(
        "hard_link /ro/keep.txt -> /sandbox/keep_rw.txt",
        fs::hard_link("/ro/keep.txt", "/sandbox/keep_rw.txt"),
    );
    report(
        "copy /sandbox/data.txt -> /ro/data.txt",
        fs::copy("/sandbox/data.txt", "/ro/data.txt").map(|_| ()),
    );
    let f = File::open("/ro/keep.txt");
    report(
        "set_len on /ro/keep.txt opened for reading",
        f.and_then(|f| f.set_len(0)),
    );
    println!(
        "control read /ro/keep.txt: {:?}",
        fs::read_to_string("/ro/keep.txt").ok()
    );
}
