;; initapp.wat - a wasp-ABI handler pre-initialised by its `init` export.
;; init (run once at load, before the snapshot) writes "from-init" into
;; memory, sets the global $g to 42 and appends "init ran\n" to init.log
;; in the first granted directory (preopen fd 3, path_open + fd_write); any
;; WASI error traps, so the server cannot start without it. The handler
;; answers "mem=<the string at 1024> g=<$g>", then scribbles over both.
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasp" "resp_header" (func $resp_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (data (i32.const 0) "mem=")
  (data (i32.const 8) " g=")
  (data (i32.const 32) "Content-Type")
  (data (i32.const 48) "text/plain")
  (data (i32.const 256) "init.log")
  (data (i32.const 272) "init ran\0a")
  (data (i32.const 512) "from-init\00")
  (data (i32.const 1024) "unset\00")

  (func $strlen (param $p i32) (result i32)
    (local $q i32)
    (local.set $q (local.get $p))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $l)))
    (i32.sub (local.get $q) (local.get $p)))

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

  (func (export "init")
    (local $fd i32)
    (memory.copy (i32.const 1024) (i32.const 512) (i32.const 10))
    (global.set $g (i32.const 42))
    ;; path_open(3, 0, "init.log", O_CREAT, fd_write, none, APPEND, &fd@2000)
    (if (call $path_open (i32.const 3) (i32.const 0) (i32.const 256) (i32.const 8)
                         (i32.const 1) (i64.const 0x40) (i64.const 0)
                         (i32.const 1) (i32.const 2000))
      (then unreachable))
    (local.set $fd (i32.load (i32.const 2000)))
    ;; one iovec at 2008: "init ran\n"
    (i32.store (i32.const 2008) (i32.const 272))
    (i32.store (i32.const 2012) (i32.const 9))
    (if (call $fd_write (local.get $fd) (i32.const 2008) (i32.const 1) (i32.const 2016))
      (then unreachable))
    (if (i32.ne (i32.load (i32.const 2016)) (i32.const 9)) (then unreachable))
    (if (call $fd_close (local.get $fd)) (then unreachable)))

  (func (export "wasp_handle")
    (drop (call $resp_header (i32.const 32) (i32.const 12) (i32.const 48) (i32.const 10)))
    (drop (call $resp_body (i32.const 0) (i32.const 4)))
    (drop (call $resp_body (i32.const 1024) (call $strlen (i32.const 1024))))
    (drop (call $resp_body (i32.const 8) (i32.const 3)))
    (call $putnum (global.get $g))
    (memory.copy (i32.const 1024) (i32.const 256) (i32.const 9))
    (global.set $g (i32.const 99))))
