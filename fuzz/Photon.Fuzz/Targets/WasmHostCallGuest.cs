namespace Photon.Fuzz.Targets;

/// <summary>
/// The wasm target's fixed guest: one page of memory with some paths laid out (at 1024: "/region", 1040: "/chan",
/// 1056: "/data/HELLO.TXT", 1088: "HELLO.TXT", 1104: "Sub/A long name.txt", 1136: "new dir"), and one export per
/// host import that passes its i32 arguments straight through (an i64 argument is built from two i32 halves, low
/// first). store32/load32 (addresses masked into the page) let an input lay out iovecs, subscriptions and strings.
/// </summary>
internal static class WasmHostCallGuest
{
    public sealed record Call(string Export, int Arity, bool Wasi);

    /// <summary>The input's call byte picks from this list (modulo its length); the order is the seeds' format.</summary>
    public static readonly Call[] Calls =
    [
        new("log", 2, false),
        new("clock_now", 0, false),
        new("open", 3, false),
        new("region_read", 4, false),
        new("region_write", 4, false),
        new("ipc_send", 3, false),
        new("ipc_recv", 3, false),
        new("file_open", 4, false),
        new("file_read", 4, false),
        new("file_write", 4, false),
        new("file_close", 1, false),
        new("args_sizes_get", 2, true),
        new("args_get", 2, true),
        new("environ_sizes_get", 2, true),
        new("environ_get", 2, true),
        new("clock_res_get", 2, true),
        new("clock_time_get", 4, true),
        new("random_get", 2, true),
        new("poll_oneoff", 4, true),
        new("fd_read", 4, true),
        new("fd_pread", 6, true),
        new("fd_write", 4, true),
        new("fd_pwrite", 6, true),
        new("fd_seek", 5, true),
        new("fd_tell", 2, true),
        new("fd_close", 1, true),
        new("fd_fdstat_get", 2, true),
        new("fd_fdstat_set_flags", 2, true),
        new("fd_filestat_get", 2, true),
        new("fd_filestat_set_size", 3, true),
        new("fd_readdir", 6, true),
        new("fd_prestat_get", 2, true),
        new("fd_prestat_dir_name", 3, true),
        new("fd_sync", 1, true),
        new("path_open", 11, true),
        new("path_filestat_get", 5, true),
        new("path_create_directory", 3, true),
        new("path_unlink_file", 3, true),
        new("path_remove_directory", 3, true),
        new("path_rename", 6, true),
        new("store32", 2, false),
        new("load32", 1, false),
    ];

    public const string Wat = """
    (module
      (import "photon" "log" (func $log (param i32 i32) (result i32)))
      (import "photon" "clock_now" (func $clock_now  (result i64)))
      (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
      (import "photon" "region_read" (func $region_read (param i32 i32 i32 i32) (result i32)))
      (import "photon" "region_write" (func $region_write (param i32 i32 i32 i32) (result i32)))
      (import "photon" "ipc_send" (func $ipc_send (param i32 i32 i32) (result i32)))
      (import "photon" "ipc_recv" (func $ipc_recv (param i32 i32 i32) (result i32)))
      (import "photon" "file_open" (func $file_open (param i32 i32 i32 i32) (result i32)))
      (import "photon" "file_read" (func $file_read (param i32 i32 i32 i32) (result i32)))
      (import "photon" "file_write" (func $file_write (param i32 i32 i32 i32) (result i32)))
      (import "photon" "file_close" (func $file_close (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "clock_res_get" (func $clock_res_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "clock_time_get" (func $clock_time_get (param i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_pread" (func $fd_pread (param i32 i32 i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_pwrite" (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_tell" (func $fd_tell (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_fdstat_get" (func $fd_fdstat_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_fdstat_set_flags" (func $fd_fdstat_set_flags (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_filestat_get" (func $fd_filestat_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_filestat_set_size" (func $fd_filestat_set_size (param i32 i64) (result i32)))
      (import "wasi_snapshot_preview1" "fd_readdir" (func $fd_readdir (param i32 i32 i32 i64 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_sync" (func $fd_sync (param i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_filestat_get" (func $path_filestat_get (param i32 i32 i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_create_directory" (func $path_create_directory (param i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_unlink_file" (func $path_unlink_file (param i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_remove_directory" (func $path_remove_directory (param i32 i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "path_rename" (func $path_rename (param i32 i32 i32 i32 i32 i32) (result i32)))
      (memory (export "memory") 1 1)
      (data (i32.const 1024) "/region")
      (data (i32.const 1040) "/chan")
      (data (i32.const 1056) "/data/HELLO.TXT")
      (data (i32.const 1088) "HELLO.TXT")
      (data (i32.const 1104) "Sub/A long name.txt")
      (data (i32.const 1136) "new dir")
      (func $wide (param i32 i32) (result i64) (i64.or (i64.extend_i32_u (local.get 0)) (i64.shl (i64.extend_i32_u (local.get 1)) (i64.const 32))))
      ;; memory helpers: addresses are masked into the one page, so the guest itself never traps
      (func (export "store32") (param i32 i32) (result i32) (i32.store (i32.and (local.get 0) (i32.const 0xfffc)) (local.get 1)) (i32.const 0))
      (func (export "load32") (param i32) (result i32) (i32.load (i32.and (local.get 0) (i32.const 0xfffc))))
      (func (export "log") (param i32 i32) (result i32) (call $log (local.get 0) (local.get 1)))
      (func (export "clock_now")  (result i32) (i32.wrap_i64 (i64.shr_u (call $clock_now ) (i64.const 63))))
      (func (export "open") (param i32 i32 i32) (result i32) (call $open (local.get 0) (local.get 1) (local.get 2)))
      (func (export "region_read") (param i32 i32 i32 i32) (result i32) (call $region_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "region_write") (param i32 i32 i32 i32) (result i32) (call $region_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "ipc_send") (param i32 i32 i32) (result i32) (call $ipc_send (local.get 0) (local.get 1) (local.get 2)))
      (func (export "ipc_recv") (param i32 i32 i32) (result i32) (call $ipc_recv (local.get 0) (local.get 1) (local.get 2)))
      (func (export "file_open") (param i32 i32 i32 i32) (result i32) (call $file_open (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "file_read") (param i32 i32 i32 i32) (result i32) (call $file_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "file_write") (param i32 i32 i32 i32) (result i32) (call $file_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "file_close") (param i32) (result i32) (call $file_close (local.get 0)))
      (func (export "args_sizes_get") (param i32 i32) (result i32) (call $args_sizes_get (local.get 0) (local.get 1)))
      (func (export "args_get") (param i32 i32) (result i32) (call $args_get (local.get 0) (local.get 1)))
      (func (export "environ_sizes_get") (param i32 i32) (result i32) (call $environ_sizes_get (local.get 0) (local.get 1)))
      (func (export "environ_get") (param i32 i32) (result i32) (call $environ_get (local.get 0) (local.get 1)))
      (func (export "clock_res_get") (param i32 i32) (result i32) (call $clock_res_get (local.get 0) (local.get 1)))
      (func (export "clock_time_get") (param i32 i32 i32 i32) (result i32) (call $clock_time_get (local.get 0) (call $wide (local.get 1) (local.get 2)) (local.get 3)))
      (func (export "random_get") (param i32 i32) (result i32) (call $random_get (local.get 0) (local.get 1)))
      (func (export "poll_oneoff") (param i32 i32 i32 i32) (result i32) (call $poll_oneoff (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "fd_read") (param i32 i32 i32 i32) (result i32) (call $fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "fd_pread") (param i32 i32 i32 i32 i32 i32) (result i32) (call $fd_pread (local.get 0) (local.get 1) (local.get 2) (call $wide (local.get 3) (local.get 4)) (local.get 5)))
      (func (export "fd_write") (param i32 i32 i32 i32) (result i32) (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
      (func (export "fd_pwrite") (param i32 i32 i32 i32 i32 i32) (result i32) (call $fd_pwrite (local.get 0) (local.get 1) (local.get 2) (call $wide (local.get 3) (local.get 4)) (local.get 5)))
      (func (export "fd_seek") (param i32 i32 i32 i32 i32) (result i32) (call $fd_seek (local.get 0) (call $wide (local.get 1) (local.get 2)) (local.get 3) (local.get 4)))
      (func (export "fd_tell") (param i32 i32) (result i32) (call $fd_tell (local.get 0) (local.get 1)))
      (func (export "fd_close") (param i32) (result i32) (call $fd_close (local.get 0)))
      (func (export "fd_fdstat_get") (param i32 i32) (result i32) (call $fd_fdstat_get (local.get 0) (local.get 1)))
      (func (export "fd_fdstat_set_flags") (param i32 i32) (result i32) (call $fd_fdstat_set_flags (local.get 0) (local.get 1)))
      (func (export "fd_filestat_get") (param i32 i32) (result i32) (call $fd_filestat_get (local.get 0) (local.get 1)))
      (func (export "fd_filestat_set_size") (param i32 i32 i32) (result i32) (call $fd_filestat_set_size (local.get 0) (call $wide (local.get 1) (local.get 2))))
      (func (export "fd_readdir") (param i32 i32 i32 i32 i32 i32) (result i32) (call $fd_readdir (local.get 0) (local.get 1) (local.get 2) (call $wide (local.get 3) (local.get 4)) (local.get 5)))
      (func (export "fd_prestat_get") (param i32 i32) (result i32) (call $fd_prestat_get (local.get 0) (local.get 1)))
      (func (export "fd_prestat_dir_name") (param i32 i32 i32) (result i32) (call $fd_prestat_dir_name (local.get 0) (local.get 1) (local.get 2)))
      (func (export "fd_sync") (param i32) (result i32) (call $fd_sync (local.get 0)))
      (func (export "path_open") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32) (call $path_open (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (call $wide (local.get 5) (local.get 6)) (call $wide (local.get 7) (local.get 8)) (local.get 9) (local.get 10)))
      (func (export "path_filestat_get") (param i32 i32 i32 i32 i32) (result i32) (call $path_filestat_get (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4)))
      (func (export "path_create_directory") (param i32 i32 i32) (result i32) (call $path_create_directory (local.get 0) (local.get 1) (local.get 2)))
      (func (export "path_unlink_file") (param i32 i32 i32) (result i32) (call $path_unlink_file (local.get 0) (local.get 1) (local.get 2)))
      (func (export "path_remove_directory") (param i32 i32 i32) (result i32) (call $path_remove_directory (local.get 0) (local.get 1) (local.get 2)))
      (func (export "path_rename") (param i32 i32 i32 i32 i32 i32) (result i32) (call $path_rename (local.get 0) (local.get 1) (local.get 2) (local.get 3) (local.get 4) (local.get 5)))
    )
    """;

    /// <summary>The FAT12 seed volume (fuzz/corpus/fat/fat12-files.img: HELLO.TXT, Sub/A long name.txt), embedded.</summary>
    public static byte[] FatImage
    {
        get
        {
            using var resource = typeof(WasmHostCallGuest).Assembly.GetManifestResourceStream("wasm-fat12.img")
                ?? throw new InvalidOperationException("wasm-fat12.img is not embedded");
            using var copy = new MemoryStream();
            resource.CopyTo(copy);
            return copy.ToArray();
        }
    }
}
