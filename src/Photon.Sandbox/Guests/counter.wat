;; A counter service: opens the region bound at /counter (read+write) and increments the i32 at offset 0.
;; Returns the new value, or a negative Photon error code.
(module
  (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "photon" "region_read" (func $rr (param i32 i32 i32 i32) (result i32)))
  (import "photon" "region_write" (func $rw (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/counter")
  (global $h (mut i32) (i32.const 0))
  (func (export "run") (result i32)
    (local $r i32)
    (if (i32.eqz (global.get $h))
      (then
        (local.set $r (call $open (i32.const 0) (i32.const 8) (i32.const 3)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
        (global.set $h (local.get $r))))
    (local.set $r (call $rr (global.get $h) (i32.const 0) (i32.const 100) (i32.const 4)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.store (i32.const 100) (i32.add (i32.load (i32.const 100)) (i32.const 1)))
    (local.set $r (call $rw (global.get $h) (i32.const 0) (i32.const 100) (i32.const 4)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (i32.load (i32.const 100))))
