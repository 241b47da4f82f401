//! redact_rs.rs - a `wasp pipe` filter in Rust: the same as redact.c, every
//! IPv4 address in a record becomes its first two numbers and "x.x"
//! (10.1.2.3 -> 10.1.x.x). Built as a cdylib (a reactor: no `_start`):
//!
//!   rustc --target wasm32-wasi -O -C strip=symbols --crate-type cdylib \
//!         redact_rs.rs -o redact_rs.wasm
//!
//! The interface is docs/abi.md's section 6: the host asks for room with
//! `wasp_filter_buffer`, writes the batch there, calls `wasp_filter`; each
//! output leaves through the import `wasp.emit`.

#[link(wasm_import_module = "wasp")]
extern "C" {
    fn emit(value: *const u8, value_len: u32, key: *const u8, key_len: u32, ts_ms: i64) -> i32;
}

/// A record of the batch, as the host lays it out (24 bytes).
#[repr(C)]
pub struct Record {
    value: u32,
    value_len: u32,
    key: u32,
    key_len: u32,
    ts_ms: i64,
}

static mut BUFFER: Vec<u8> = Vec::new();

/// Room for the host's batch; the same area again when it is large enough.
#[no_mangle]
pub extern "C" fn wasp_filter_buffer(size: u32) -> *mut u8 {
    // One thread, and the host calls this only between batches.
    unsafe {
        if BUFFER.len() < size as usize {
            BUFFER = vec![0u8; size as usize];
        }
        BUFFER.as_mut_ptr()
    }
}

/// The length of an IPv4 address at the start of s, or 0.
fn ipv4_at(s: &[u8]) -> usize {
    let mut i = 0;
    for part in 0..4 {
        let mut digits = 0;
        while i < s.len() && s[i].is_ascii_digit() && digits < 3 {
            i += 1;
            digits += 1;
        }
        if digits == 0 {
            return 0;
        }
        if part < 3 {
            if i >= s.len() || s[i] != b'.' {
                return 0;
            }
            i += 1;
        }
    }
    if i < s.len() && s[i].is_ascii_digit() {
        0
    } else {
        i
    }
}

fn redact(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < s.len() {
        let starts = (i == 0 || !s[i - 1].is_ascii_digit()) && s[i].is_ascii_digit();
        let len = if starts { ipv4_at(&s[i..]) } else { 0 };
        if len == 0 {
            out.push(s[i]);
            i += 1;
            continue;
        }
        // the first two numbers stay
        let mut k = 0;
        let mut dots = 0;
        while dots < 2 {
            if s[i + k] == b'.' {
                dots += 1;
            }
            k += 1;
        }
        out.extend_from_slice(&s[i..i + k]);
        out.extend_from_slice(b"x.x");
        i += len;
    }
}

#[no_mangle]
pub extern "C" fn wasp_filter(batch: *const Record, count: u32) -> i32 {
    let records = unsafe { std::slice::from_raw_parts(batch, count as usize) };
    let mut out = Vec::new();
    for r in records {
        let value =
            unsafe { std::slice::from_raw_parts(r.value as usize as *const u8, r.value_len as usize) };
        out.clear();
        redact(value, &mut out);
        if unsafe { emit(out.as_ptr(), out.len() as u32, std::ptr::null(), u32::MAX, i64::MIN) } < 0 {
            return 1;
        }
    }
    0
}
