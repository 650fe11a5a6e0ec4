;; Hostile: guesses handle numbers (small integers and generation-1 handles) and counts how many work. Must be 0.
(module
  (import "photon" "region_read" (func $rr (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (local $i i32) (local $ok i32)
    (loop $next
      (if (i32.ge_s (call $rr (local.get $i) (i32.const 0) (i32.const 0) (i32.const 4)) (i32.const 0))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (if (i32.ge_s (call $rr (i32.or (i32.const 0x100000) (local.get $i)) (i32.const 0) (i32.const 0) (i32.const 4)) (i32.const 0))
        (then (local.set $ok (i32.add (local.get $ok) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $next (i32.lt_u (local.get $i) (i32.const 4096))))
    (local.get $ok)))
