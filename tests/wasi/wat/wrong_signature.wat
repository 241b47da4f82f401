;; wrong_signature.wat - imports fd_write with the wrong type. wasp run
;; must refuse it before running anything, naming the import.
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $fd_write (i32.const 1)))
    (call $exit (i32.const 9))))
