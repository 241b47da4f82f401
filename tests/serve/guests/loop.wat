;; loop.wat - a wasp-ABI handler that never returns: only the deadline
;; (or fuel) stops it.
(module
  (memory (export "memory") 1)
  (func (export "wasp_handle")
    (loop $forever (br $forever))))
