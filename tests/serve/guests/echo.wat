;; echo.wat - a wasp-ABI handler that answers with what it was asked.
;;
;; Body (text/plain), one field a line:
;;   method=<req_method>
;;   uri=<req_uri>
;;   x-test=<req_header("x-test") or "(none)">
;;   body-len=<req_body_len>
;;   body=<the body, read 1000 bytes at a time through req_body's offset>
;;   headers:
;;   <req_headers, "name: value\n" lines>
;; Status: the 3-digit request header X-Status if present, else the default.
;; Response headers: Content-Type: text/plain, X-Echo-Method: <method>,
;; X-Bad-Header-Rc (what resp_header answered for the name "bad name"),
;; X-Bad-Value-Rc (for a value holding CR LF), X-Bad-Status-Rc (for
;; resp_status(1000)): each should be -1.
;;
;; Memory: strings in 128-byte slots below 2048, buffers above.
(module
  (import "wasp" "req_method" (func $req_method (param i32 i32) (result i32)))
  (import "wasp" "req_uri" (func $req_uri (param i32 i32) (result i32)))
  (import "wasp" "req_header" (func $req_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "req_headers" (func $req_headers (param i32 i32) (result i32)))
  (import "wasp" "req_body_len" (func $req_body_len (result i32)))
  (import "wasp" "req_body" (func $req_body (param i32 i32 i32) (result i32)))
  (import "wasp" "resp_status" (func $resp_status (param i32) (result i32)))
  (import "wasp" "resp_header" (func $resp_header (param i32 i32 i32 i32) (result i32)))
  (import "wasp" "resp_body" (func $resp_body (param i32 i32) (result i32)))
  (memory (export "memory") 2)

  (data (i32.const 0) "method=")
  (data (i32.const 128) "\0auri=")
  (data (i32.const 256) "\0ax-test=")
  (data (i32.const 384) "\0abody-len=")
  (data (i32.const 512) "\0abody=")
  (data (i32.const 640) "\0aheaders:\0a")
  (data (i32.const 768) "x-test")
  (data (i32.const 896) "x-status")
  (data (i32.const 1024) "Content-Type")
  (data (i32.const 1152) "text/plain")
  (data (i32.const 1280) "X-Echo-Method")
  (data (i32.const 1408) "bad name")
  (data (i32.const 1536) "X-Bad-Header-Rc")
  (data (i32.const 1664) "X-Bad-Status-Rc")
  (data (i32.const 1792) "(none)")
  (data (i32.const 1920) "X-Bad-Value-Rc")
  (data (i32.const 1984) "a\0d\0ab")

  ;; buffers
  (global $METHOD i32 (i32.const 2048))   ;; cap 64
  (global $NUMEND i32 (i32.const 2240))   ;; digits written backwards from here
  (global $XSTATUS i32 (i32.const 2304))  ;; cap 8
  (global $URI i32 (i32.const 4096))      ;; cap 4096
  (global $XTEST i32 (i32.const 8192))    ;; cap 4096
  (global $HDRS i32 (i32.const 12288))    ;; cap 16384
  (global $BODY i32 (i32.const 65536))    ;; cap 65536
  (global $numlen (mut i32) (i32.const 0))

  (func $min (param $a i32) (param $b i32) (result i32)
    (select (local.get $a) (local.get $b) (i32.lt_u (local.get $a) (local.get $b))))

  (func $strlen (param $p i32) (result i32)
    (local $q i32)
    (local.set $q (local.get $p))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (i32.load8_u (local.get $q))))
        (local.set $q (i32.add (local.get $q) (i32.const 1)))
        (br $l)))
    (i32.sub (local.get $q) (local.get $p)))

  (func $puts (param $p i32)
    (drop (call $resp_body (local.get $p) (call $strlen (local.get $p)))))

  ;; Writes n in decimal just below $NUMEND; returns where it starts and
  ;; sets $numlen.
  (func $fmtnum (param $n i32) (result i32)
    (local $p i32) (local $u i32) (local $neg i32)
    (local.set $p (global.get $NUMEND))
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
    (global.set $numlen (i32.sub (global.get $NUMEND) (local.get $p)))
    (local.get $p))

  (func $putnum (param $n i32)
    (local $p i32)
    (local.set $p (call $fmtnum (local.get $n)))
    (drop (call $resp_body (local.get $p) (global.get $numlen))))

  ;; header NAME (a slot) = the decimal n
  (func $numheader (param $name i32) (param $n i32)
    (local $p i32)
    (local.set $p (call $fmtnum (local.get $n)))
    (drop (call $resp_header (local.get $name) (call $strlen (local.get $name))
                             (local.get $p) (global.get $numlen))))

  (func $digit (param $p i32) (result i32)
    (i32.sub (i32.load8_u (local.get $p)) (i32.const 48)))

  (func (export "wasp_handle")
    (local $mlen i32) (local $ulen i32) (local $xlen i32) (local $hlen i32)
    (local $blen i32) (local $got i32) (local $n i32) (local $slen i32)

    ;; status: invalid codes are refused, then X-Status or the default
    (call $numheader (i32.const 1664) (call $resp_status (i32.const 1000)))
    (local.set $slen (call $req_header (i32.const 896) (i32.const 8) (global.get $XSTATUS) (i32.const 8)))
    (if (i32.eq (local.get $slen) (i32.const 3))
      (then
        (drop (call $resp_status
          (i32.add
            (i32.add
              (i32.mul (call $digit (global.get $XSTATUS)) (i32.const 100))
              (i32.mul (call $digit (i32.add (global.get $XSTATUS) (i32.const 1))) (i32.const 10)))
            (call $digit (i32.add (global.get $XSTATUS) (i32.const 2))))))))

    (local.set $mlen (call $min (call $req_method (global.get $METHOD) (i32.const 64)) (i32.const 64)))
    (local.set $ulen (call $min (call $req_uri (global.get $URI) (i32.const 4096)) (i32.const 4096)))
    (local.set $xlen (call $req_header (i32.const 768) (i32.const 6) (global.get $XTEST) (i32.const 4096)))
    (local.set $hlen (call $min (call $req_headers (global.get $HDRS) (i32.const 16384)) (i32.const 16384)))
    (local.set $blen (call $req_body_len))

    ;; the body, 1000 bytes at a time
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $got) (i32.const 65536)))
        (local.set $n (call $req_body
          (i32.add (global.get $BODY) (local.get $got))
          (call $min (i32.const 1000) (i32.sub (i32.const 65536) (local.get $got)))
          (local.get $got)))
        (br_if $done (i32.le_s (local.get $n) (i32.const 0)))
        (local.set $got (i32.add (local.get $got) (local.get $n)))
        (br $l)))

    (drop (call $resp_header (i32.const 1024) (i32.const 12) (i32.const 1152) (i32.const 10)))
    (drop (call $resp_header (i32.const 1280) (i32.const 13) (global.get $METHOD) (local.get $mlen)))
    (call $numheader (i32.const 1536)
      (call $resp_header (i32.const 1408) (i32.const 8) (i32.const 1152) (i32.const 10)))
    (call $numheader (i32.const 1920)
      (call $resp_header (i32.const 1280) (i32.const 13) (i32.const 1984) (i32.const 4)))

    (call $puts (i32.const 0))
    (drop (call $resp_body (global.get $METHOD) (local.get $mlen)))
    (call $puts (i32.const 128))
    (drop (call $resp_body (global.get $URI) (local.get $ulen)))
    (call $puts (i32.const 256))
    (if (i32.lt_s (local.get $xlen) (i32.const 0))
      (then (call $puts (i32.const 1792)))
      (else (drop (call $resp_body (global.get $XTEST) (call $min (local.get $xlen) (i32.const 4096))))))
    (call $puts (i32.const 384))
    (call $putnum (local.get $blen))
    (call $puts (i32.const 512))
    (drop (call $resp_body (global.get $BODY) (local.get $got)))
    (call $puts (i32.const 640))
    (drop (call $resp_body (global.get $HDRS) (local.get $hlen)))))
