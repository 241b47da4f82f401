;; bare_start.wat - a command with no imports whose _start simply returns:
;; wasp run exits 0 and prints nothing.
(module
  (memory (export "memory") 1)
  (func (export "_start")))
