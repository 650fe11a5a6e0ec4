;; Logs a greeting through the kernel and returns the log call's status.
(module
  (import "photon" "log" (func $log (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "hello from a wasm guest")
  (func (export "run") (result i32)
    (call $log (i32.const 0) (i32.const 23))))
