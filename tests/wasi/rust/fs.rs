//! fs.rs - files and directories through Rust's std::fs on wasm32-wasi:
//! create, write, read, seek, set_len, metadata, append, read_dir,
//! create_dir_all, rename, remove_file, remove_dir, remove_dir_all,
//! hard_link, read_link, copy. Run with --dir HOST::/sandbox on an empty
//! directory; leaves sandbox/keep/ behind for run.sh to check on the host.
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};

fn errno<T>(r: io::Result<T>) -> String {
    match r {
        Ok(_) => "ok".to_string(),
        Err(e) => match e.raw_os_error() {
            Some(n) => format!("errno={}", n),
            None => format!("error {:?}", e.kind()),
        },
    }
}

fn listing(dir: &str) -> String {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| {
                let e = e.unwrap();
                let t = e.file_type().unwrap();
                let mut n = e.file_name().into_string().unwrap();
                if t.is_dir() {
                    n.push('/');
                } else if t.is_symlink() {
                    n.push('@');
                }
                n
            })
            .collect(),
        Err(e) => return format!("{}", errno::<()>(Err(e))),
    };
    names.sort();
    names.join(" ")
}

fn main() -> io::Result<()> {
    let mut f = File::create("/sandbox/a.txt")?;
    f.write_all(b"hello, rust\n")?;
    println!("position after write: {}", f.seek(SeekFrom::Current(0))?);
    drop(f);
    println!(
        "read_to_string: {:?}",
        fs::read_to_string("/sandbox/a.txt")?
    );

    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/sandbox/a.txt")?;
    f.seek(SeekFrom::Start(7))?;
    let mut buf = [0u8; 4];
    f.read_exact(&mut buf)?;
    println!("read 4 at 7: {:?}", std::str::from_utf8(&buf).unwrap());
    f.seek(SeekFrom::End(-5))?;
    f.write_all(b"RUST")?;
    f.set_len(16)?;
    let md = f.metadata()?;
    println!(
        "len after set_len 16: {} is_file={}",
        md.len(),
        md.is_file()
    );
    f.set_len(11)?;
    drop(f);
    println!("contents: {:?}", fs::read("/sandbox/a.txt")?);

    let mut f = OpenOptions::new().append(true).open("/sandbox/a.txt")?;
    f.write_all(b"+more")?;
    drop(f);
    println!("after append: {:?}", fs::read_to_string("/sandbox/a.txt")?);
    println!(
        "create_new existing: {}",
        errno(
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open("/sandbox/a.txt")
        )
    );
    println!("open missing: {}", errno(File::open("/sandbox/missing")));

    fs::create_dir_all("/sandbox/x/y/z")?;
    fs::write("/sandbox/x/y/z/deep.txt", "deep")?;
    fs::write("/sandbox/x/one.txt", "1")?;
    println!(
        "create_dir existing: {}",
        errno(fs::create_dir("/sandbox/x"))
    );
    println!("list /sandbox: {}", listing("/sandbox"));
    println!("list /sandbox/x: {}", listing("/sandbox/x"));
    println!(
        "remove_dir non-empty: {}",
        errno(fs::remove_dir("/sandbox/x"))
    );
    println!(
        "metadata dir: is_dir={}",
        fs::metadata("/sandbox/x/y")?.is_dir()
    );

    fs::rename("/sandbox/x/one.txt", "/sandbox/x/uno.txt")?;
    fs::rename("/sandbox/x/y", "/sandbox/x/why")?;
    println!("list /sandbox/x after renames: {}", listing("/sandbox/x"));
    fs::copy("/sandbox/a.txt", "/sandbox/x/copy.txt")?;
    println!("copy: {:?}", fs::read_to_string("/sandbox/x/copy.txt")?);

    fs::hard_link("/sandbox/a.txt", "/sandbox/x/hard.txt")?;
    println!(
        "hard_link then read: {:?}",
        fs::read_to_string("/sandbox/x/hard.txt")?
    );
    fs::remove_file("/sandbox/a.txt")?;
    println!(
        "after removing the original: {:?}",
        fs::read_to_string("/sandbox/x/hard.txt")?
    );
    println!(
        "read_link of a file: {}",
        errno(fs::read_link("/sandbox/x/hard.txt"))
    );
    println!(
        "symlink_metadata of a file: is_symlink={}",
        fs::symlink_metadata("/sandbox/x/hard.txt")?
            .file_type()
            .is_symlink()
    );

    fs::remove_dir_all("/sandbox/x/why")?;
    println!(
        "list /sandbox/x after remove_dir_all: {}",
        listing("/sandbox/x")
    );
    fs::rename("/sandbox/x", "/sandbox/keep")?;
    println!("list /sandbox: {}", listing("/sandbox"));
    Ok(())
}
