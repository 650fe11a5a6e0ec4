;; Hostile: tries to open another tenant's counter by every spelling it can think of. Returns how many opens worked.
(module
  (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/tenant-a/counter")
  (data (i32.const 64) "../tenant-a/counter")
  (data (i32.const 128) "/../../tenant-a/counter")
  (data (i32.const 192) "/counter")
  (func $try (param $p i32) (param $n i32) (result i32)
    (i32.ge_s (call $open (local.get $p) (local.get $n) (i32.const 1)) (i32.const 0)))
  (func (export "run") (result i32)
    (i32.add (i32.add (call $try (i32.const 0) (i32.const 17)) (call $try (i32.const 64) (i32.const 19)))
             (i32.add (call $try (i32.const 128) (i32.const 23)) (call $try (i32.const 192) (i32.const 8))))))
