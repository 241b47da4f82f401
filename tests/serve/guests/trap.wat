;; trap.wat - a wasp-ABI handler that starts a response ("partial") and then
;; executes `unreachable`: the client must get 500, never the partial body.
(module
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "partial")
  (func (export "wasp_handle")
    (drop (call $resp_body (i32.const 0) (i32.const 7)))
    unreachable))
