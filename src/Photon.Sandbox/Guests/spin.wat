;; Hostile: never returns. Fuel runs out and the sandbox kills it.
(module
  (memory (export "memory") 1)
  (func (export "run") (result i32)
    (loop $forever (br $forever))
    (i32.const 0)))
