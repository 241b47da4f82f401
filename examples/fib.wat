;; fib.wat - Fibonacci numbers twice over, for tests and benchmarks.
;;
;; fib_recursive(n) is the naive doubly recursive definition: exponential
;; in n, a workout for calls and returns. fib_iterative(n) is a loop with
;; two accumulators: linear in n, a workout for locals and back-edges.
;; Both return fib(n) as an i64 with fib(0) = 0 and fib(1) = 1, so the
;; two can be checked against each other (fib(90) still fits in an i64).
(module
  (func $fib_recursive (export "fib_recursive") (param $n i32) (result i64)
    (if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
      (then (i64.extend_i32_u (local.get $n)))
      (else
        (i64.add
          (call $fib_recursive (i32.sub (local.get $n) (i32.const 1)))
          (call $fib_recursive (i32.sub (local.get $n) (i32.const 2)))))))

  (func $fib_iterative (export "fib_iterative") (param $n i32) (result i64)
    (local $a i64) (local $b i64) (local $next i64)
    (local.set $b (i64.const 1))
    (block $done
      (loop $step
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $next (i64.add (local.get $a) (local.get $b)))
        (local.set $a (local.get $b))
        (local.set $b (local.get $next))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $step)))
    (local.get $a)))
