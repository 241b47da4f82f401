;; print.wat - the smallest guest of a host print: prints "hello, world".
;;
;; The host provides env.print(ptr, len), which writes len bytes of this
;; module's exported memory starting at ptr. _start is the entry point a
;; runner calls. The text lives in an active data segment at address 16, so
;; it is in memory before _start runs. This module must never need WASI.
(module
  (import "env" "print" (func $print (param $ptr i32) (param $len i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "hello, world\n")

  (func $start (export "_start")
    (call $print (i32.const 16) (i32.const 13))))
