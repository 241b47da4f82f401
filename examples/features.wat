;; features.wat - one module using the WebAssembly 2.0 features wasp
;; supports beyond the MVP, so that decoding, validation and `wasp inspect`
;; see each of them in a real module:
;;
;;   tables and elements  a funcref table filled by an active element
;;                        segment, used by call_indirect; a declarative one
;;   globals              a mutable exported counter
;;   multi-value          a function returning two values, a block taking two
;;   bulk memory          memory.fill, memory.init and data.drop
;;   passive data         a segment copied in only by memory.init
;;   reference types      ref.func, ref.is_null
;;   SIMD                 i32x4 splat, add and extract_lane on v128
(module
  (type $binop (func (param i32 i32) (result i32)))

  (table $ops 2 funcref)
  (elem (table $ops) (i32.const 0) func $add $sub)
  (elem declare func $swap)

  (memory (export "memory") 1)
  (data $greeting "passive bytes")

  (global $counter (export "counter") (mut i32) (i32.const 0))

  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))

  ;; apply(op, x, y) calls ops[op](x, y): 0 adds, 1 subtracts.
  (func $apply (export "apply") (param $op i32) (param $x i32) (param $y i32) (result i32)
    (call_indirect $ops (type $binop) (local.get $x) (local.get $y) (local.get $op)))

  ;; Multi-value: two results, and a block that takes two parameters.
  (func $swap (export "swap") (param $a i32) (param $b i64) (result i64 i32)
    (local.get $b) (local.get $a))
  (func $sum_swapped (export "sum_swapped") (param $a i32) (param $b i64) (result i64)
    (call $swap (local.get $a) (local.get $b))
    (block (param i64 i32) (result i64)
      (i64.extend_i32_s)
      (i64.add)))

  ;; Bulk memory and the passive segment.
  (func $fill (export "fill") (param $dst i32) (param $byte i32) (param $len i32)
    (memory.fill (local.get $dst) (local.get $byte) (local.get $len)))
  (func $init (export "init") (param $dst i32)
    (memory.init $greeting (local.get $dst) (i32.const 0) (i32.const 13))
    (data.drop $greeting))

  ;; Reference types.
  (func $swap_ref (export "swap_ref") (result funcref) (ref.func $swap))
  (func $has_ref (export "has_ref") (result i32)
    (i32.eqz (ref.is_null (ref.func $add))))

  (func $bump (export "bump") (result i32)
    (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
    (global.get $counter))

  ;; SIMD: x + 1, computed in lane 0 of a vector.
  (func $simd_inc (export "simd_inc") (param $x i32) (result i32)
    (i32x4.extract_lane 0
      (i32x4.add (i32x4.splat (local.get $x)) (v128.const i32x4 1 2 3 4)))))
