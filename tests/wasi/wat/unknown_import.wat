;; unknown_import.wat - imports a function wasi_snapshot_preview1 does not
;; have. wasp run must refuse it before running anything, naming the import;
;; if _start ran anyway it would print "RAN".
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "no_such_call" (func $nope (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "RAN\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 4))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $nope (i32.const 0)))))
