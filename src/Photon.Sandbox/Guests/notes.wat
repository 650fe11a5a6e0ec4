;; Files: creates /data/NOTES.TXT on the mount granted as "data", writes a line, reads it back through a second open.
;; Returns the bytes read back, or a negative Photon error code.
(module
  (import "photon" "file_open" (func $open (param i32 i32 i32 i32) (result i32)))
  (import "photon" "file_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "photon" "file_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "photon" "file_close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "/data/NOTES.TXT")
  (data (i32.const 64) "written by a wasm guest\n")
  (func (export "run") (result i32)
    (local $h i32) (local $r i32)
    ;; rights Read|Write = 3, flags Create = 1
    (local.set $h (call $open (i32.const 0) (i32.const 15) (i32.const 3) (i32.const 1)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (local.set $r (call $write (local.get $h) (i32.const 0) (i32.const 64) (i32.const 24)))
    (if (i32.lt_s (local.get $r) (i32.const 0)) (then (return (local.get $r))))
    (drop (call $close (local.get $h)))
    (local.set $h (call $open (i32.const 0) (i32.const 15) (i32.const 1) (i32.const 0)))
    (if (i32.lt_s (local.get $h) (i32.const 0)) (then (return (local.get $h))))
    (local.set $r (call $read (local.get $h) (i32.const 0) (i32.const 256) (i32.const 100)))
    (drop (call $close (local.get $h)))
    (local.get $r))
  (func (export "read_only_write") (result i32)
    ;; asks for Write on a mount granted read-only: must come back negative
    (call $open (i32.const 0) (i32.const 15) (i32.const 2) (i32.const 1))))
