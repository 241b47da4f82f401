;; bigtable.wat - a wasp-ABI handler whose module declares a table of 50
;; million entries (400 MB of host memory) in 100 bytes: the table must
;; count against the app's memory limit (issue 10, F04).
(module
  (table 50000000 funcref)
  (memory (export "memory") 1)
  (func (export "wasp_handle")))
