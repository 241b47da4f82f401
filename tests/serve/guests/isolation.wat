;; isolation.wat - a wasp-ABI handler with state a request could leak to the
;; next one if instances were reused: it answers
;;   <the 32-byte buffer at 1024> g=<global $g> pages=<memory.size>
;; and only then copies the request body over the buffer, sets $g to
;; 1000 + the body length and grows memory by a page. With a fresh instance
;; per request every answer is "initial-content-0123456789abcdef g=7 pages=1".
(module
  (import "wasp" "req_body" (func $req_body (param i32 i32 i32) (result i32)))
  (import "wasp" "resp_header" (func $resp_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 7))
  (data (i32.const 0) " g=")
  (data (i32.const 8) " pages=")
  (data (i32.const 32) "Content-Type")
  (data (i32.const 48) "text/plain")
  (data (i32.const 1024) "initial-content-0123456789abcdef")

  (func $putnum (param $n i32)
    (local $p i32) (local $u i32)
    (local.set $p (i32.const 128))
    (local.set $u (local.get $n))
    (loop $l
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $u) (i32.const 10))))
      (local.set $u (i32.div_u (local.get $u) (i32.const 10)))
      (br_if $l (local.get $u)))
    (drop (call $resp_body (local.get $p) (i32.sub (i32.const 128) (local.get $p)))))

  (func (export "wasp_handle")
    (local $n i32)
    (drop (call $resp_header (i32.const 32) (i32.const 12) (i32.const 48) (i32.const 10)))
    (drop (call $resp_body (i32.const 1024) (i32.const 32)))
    (drop (call $resp_body (i32.const 0) (i32.const 3)))
    (call $putnum (global.get $g))
    (drop (call $resp_body (i32.const 8) (i32.const 7)))
    (call $putnum (memory.size))
    (local.set $n (call $req_body (i32.const 1024) (i32.const 32) (i32.const 0)))
    (global.set $g (i32.add (i32.const 1000) (local.get $n)))
    (drop (memory.grow (i32.const 1)))))
