;; v2.wat - a wasp-ABI handler answering "v2" (the reload test's new version).
(module
  (import "wasp" "resp_header" (func $resp_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "v2")
  (data (i32.const 16) "Content-Type")
  (data (i32.const 32) "text/plain")
  (func (export "wasp_handle")
    (drop (call $resp_header (i32.const 16) (i32.const 12) (i32.const 32) (i32.const 10)))
    (drop (call $resp_body (i32.const 0) (i32.const 2)))))
