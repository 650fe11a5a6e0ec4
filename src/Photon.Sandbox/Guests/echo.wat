;; IPC echo: opens the channel endpoint bound at /chan, takes one message and sends it back.
;; Returns the message length, or a negative Photon error code (e.g. WouldBlock when nothing is waiting).
(module
  (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "photon" "ipc_recv" (func $recv (param i32 i32 i32) (result i32)))
  (import "photon" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/chan")
  (global $h (mut i32) (i32.const 0))
  (func (export "run") (result i32)
    (local $r i32) (local $n i32)
    (if (i32.eqz (global.get $h))
      (then
        (local.set $r (call $open (i32.const 0) (i32.const 5) (i32.const 3)))
        (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
        (global.set $h (local.get $r))))
    (local.set $n (call $recv (global.get $h) (i32.const 1024) (i32.const 4096)))
    (if (i32.lt_s (local.get $n) (i32.const 0)) (then (return (local.get $n))))
    (local.set $r (call $send (global.get $h) (i32.const 1024) (local.get $n)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (local.get $n)))
