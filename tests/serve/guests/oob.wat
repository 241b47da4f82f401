;; oob.wat - a wasp-ABI handler that hands resp_body a pointer far beyond
;; its one page of memory: the request must trap (500), the host must not read it.
(module
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "wasp_handle")
    (drop (call $resp_body (i32.const 0x7ffffff0) (i32.const 4096)))))
