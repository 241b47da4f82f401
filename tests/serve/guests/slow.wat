;; slow.wat - a wasp-ABI handler that spins for 700 ms of the monotonic
;; clock (WASI clock_time_get), then answers 65536 bytes: byte i is
;; 'a' + i % 26. Used to have requests in flight during SIGTERM and SIGHUP.
(module
  (import "wasi_snapshot_preview1" "clock_time_get"
    (func $clock_time_get (param i32 i64 i32) (result i32)))
  (import "wasp" "resp_header" (func $resp_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 32) "Content-Type")
  (data (i32.const 48) "text/plain")

  (func $now (result i64)
    (if (call $clock_time_get (i32.const 1) (i64.const 1) (i32.const 0))
      (then unreachable))
    (i64.load (i32.const 0)))

  (func (export "wasp_handle")
    (local $start i64) (local $i i32)
    (local.set $start (call $now))
    (loop $spin
      (br_if $spin (i64.lt_u (i64.sub (call $now) (local.get $start)) (i64.const 700000000))))
    (loop $fill
      (i32.store8 (i32.add (i32.const 65536) (local.get $i))
                  (i32.add (i32.const 97) (i32.rem_u (local.get $i) (i32.const 26))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $fill (i32.lt_u (local.get $i) (i32.const 65536))))
    (drop (call $resp_header (i32.const 32) (i32.const 12) (i32.const 48) (i32.const 10)))
    (drop (call $resp_body (i32.const 65536) (i32.const 65536)))))
