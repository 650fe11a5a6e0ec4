;; Hostile: hands the kernel pointers past its memory ("run"), then reads past it itself ("crash").
(module
  (import "photon" "log" (func $log (param i32 i32) (result i32)))
  (import "photon" "region_write" (func $rw (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (local $a i32) (local $b i32) (local $c i32)
    (local.set $a (call $log (i32.const 65530) (i32.const 100)))
    (local.set $b (call $log (i32.const -8) (i32.const 4)))
    (local.set $c (call $rw (i32.const 1) (i32.const 0) (i32.const 0x7ffffff0) (i32.const 64)))
    ;; all three must be refused with a negative code
    (i32.add (i32.add (i32.lt_s (local.get $a) (i32.const 0)) (i32.lt_s (local.get $b) (i32.const 0))) (i32.lt_s (local.get $c) (i32.const 0))))
  (func (export "crash") (result i32)
    (i32.load (i32.const 0x7ffffff0))))
