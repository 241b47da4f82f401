;; grow.wat - a wasp-ABI handler that tries to grow its memory (one 64 KiB
;; page to start) by 32 pages (2 MiB), then by one page, and answers
;;   big=<first memory.grow result> small=<second> pages=<memory.size>
;; Under limits.memory 1MiB (16 pages) that is "big=-1 small=1 pages=2";
;; with no limit "big=1 small=33 pages=34".
(module
  (import "wasp" "resp_header" (func $resp_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "big=")
  (data (i32.const 8) " small=")
  (data (i32.const 16) " pages=")
  (data (i32.const 32) "Content-Type")
  (data (i32.const 48) "text/plain")

  (func $putnum (param $n i32)
    (local $p i32) (local $u i32) (local $neg i32)
    (local.set $p (i32.const 128))
    (local.set $neg (i32.lt_s (local.get $n) (i32.const 0)))
    (local.set $u (select (i32.sub (i32.const 0) (local.get $n)) (local.get $n) (local.get $neg)))
    (loop $l
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p) (i32.add (i32.const 48) (i32.rem_u (local.get $u) (i32.const 10))))
      (local.set $u (i32.div_u (local.get $u) (i32.const 10)))
      (br_if $l (local.get $u)))
    (if (local.get $neg)
      (then
        (local.set $p (i32.sub (local.get $p) (i32.const 1)))
        (i32.store8 (local.get $p) (i32.const 45))))
    (drop (call $resp_body (local.get $p) (i32.sub (i32.const 128) (local.get $p)))))

  (func (export "wasp_handle")
    (local $big i32) (local $small i32)
    (local.set $big (memory.grow (i32.const 32)))
    (local.set $small (memory.grow (i32.const 1)))
    (drop (call $resp_header (i32.const 32) (i32.const 12) (i32.const 48) (i32.const 10)))
    (drop (call $resp_body (i32.const 0) (i32.const 4)))
    (call $putnum (local.get $big))
    (drop (call $resp_body (i32.const 8) (i32.const 7)))
    (call $putnum (local.get $small))
    (drop (call $resp_body (i32.const 16) (i32.const 7)))
    (call $putnum (memory.size))))
