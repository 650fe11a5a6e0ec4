using System.Text;
using Photon.Kernel.Capabilities;
using Photon.Sandbox;
using Photon.Sandbox.Wasi;

namespace Photon.Kernel.Tests.Sandbox.Wasi;

/// <summary>
/// WASI calls made by a hostile guest: every pointer, length and count it passes is checked against its memory and
/// answered with a WASI errno, the guest keeps running, and nothing escapes to the host. proc_exit stops only the
/// guest that calls it.
/// </summary>
public sealed class WasiHostileInputTests : IDisposable
{
    // errno values of wasi_snapshot_preview1.
    private const int Success = 0, BadF = 8, Fault = 21, Inval = 28, NameTooLong = 37, NotDir = 54, NotCapable = 76;

    /// <summary>Each import re-exported with i32 parameters (the test widens the i64 ones), plus store32 to lay out iovecs.</summary>
    private const string Wat = """
        (module
          (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "random_get" (func $random_get (param i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "fd_seek" (func $fd_seek (param i32 i64 i32 i32) (result i32)))
          (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
          (import "wasi_snapshot_preview1" "sock_accept" (func $sock_accept (param i32 i32 i32) (result i32)))
          (memory (export "memory") 40)
          (func (export "store32") (param i32 i32) (result i32) (i32.store (local.get 0) (local.get 1)) (i32.const 0))
          (func (export "load32") (param i32) (result i32) (i32.load (local.get 0)))
          (func (export "fd_write") (param i32 i32 i32 i32) (result i32) (call $fd_write (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "fd_read") (param i32 i32 i32 i32) (result i32) (call $fd_read (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "args_get") (param i32 i32) (result i32) (call $args_get (local.get 0) (local.get 1)))
          (func (export "args_sizes_get") (param i32 i32) (result i32) (call $args_sizes_get (local.get 0) (local.get 1)))
          (func (export "random_get") (param i32 i32) (result i32) (call $random_get (local.get 0) (local.get 1)))
          (func (export "poll") (param i32 i32 i32 i32) (result i32) (call $poll (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "path_open") (param i32 i32 i32 i32) (result i32)
            (call $path_open (local.get 0) (i32.const 1) (local.get 1) (local.get 2) (i32.const 0) (i64.const 0x3fffffff) (i64.const 0x3fffffff) (i32.const 0) (local.get 3)))
          (func (export "fd_seek") (param i32 i32 i32 i32) (result i32) (call $fd_seek (local.get 0) (i64.extend_i32_s (local.get 1)) (local.get 2) (local.get 3)))
          (func (export "sock_accept") (result i32) (call $sock_accept (i32.const 3) (i32.const 0) (i32.const 0)))
          (func (export "exit") (param i32) (result i32) (call $proc_exit (local.get 0)) (i32.const -1)))
        """;

    private const int MemoryBytes = 40 * 65536;
    private readonly SandboxHarness _h = new(new TenantQuota(MaxInstances: 4, MaxMemoryBytes: 32 * 1024 * 1024));
    private readonly CapturedOutput _out = new();

    public void Dispose() => _h.Dispose();

    private WasmInstance Start(string name = "hostile", byte[]? stdin = null)
    {
        var r = _h.Sandbox.InstantiateWasi(_h.TenantA, name, Wasmtime.Module.ConvertText(Wat), [],
            new WasiOptions { Args = ["prog", "arg1"], Stdin = stdin ?? [], Output = _out },
            new SandboxLimits(MaxMemoryBytes: 4 * 1024 * 1024));
        Assert.True(r.IsOk, r.IsOk ? "" : r.Error.ToString());
        return r.Value;
    }

    private static int Call(WasmInstance g, string export, params int[] args)
    {
        var r = g.Call(export, args);
        Assert.True(r.IsOk, $"{export}: {(r.IsOk ? "" : r.Error.ToString())}");
        return r.Value;
    }

    [Fact]
    public void A_well_formed_write_reaches_stdout_and_reports_its_length()
    {
        var g = Start();
        var text = "hi from wasi\n"u8.ToArray();
        for (int i = 0; i < text.Length; i += 4) Call(g, "store32", 64 + i, BitConverter.ToInt32([.. text.AsSpan(i, Math.Min(4, text.Length - i)), 0, 0, 0, 0], 0));
        Call(g, "store32", 0, 64);
        Call(g, "store32", 4, text.Length);
        Assert.Equal(Success, Call(g, "fd_write", 1, 0, 1, 8));
        Assert.Equal(text.Length, Call(g, "load32", 8));
        Assert.Equal("hi from wasi\n", _out.Stdout);
    }

    [Fact]
    public void Hostile_pointers_lengths_and_counts_get_errnos_and_the_guest_keeps_running()
    {
        var g = Start();
        Assert.Equal(Fault, Call(g, "fd_write", 1, MemoryBytes - 4, 1, 8));           // iovec array runs off the end
        Assert.Equal(Inval, Call(g, "fd_write", 1, 0, 1_000_000, 8));                  // more than IOV_MAX iovecs
        Assert.Equal(Inval, Call(g, "fd_write", 1, 0, -1, 8));
        Call(g, "store32", 0, 16);
        Call(g, "store32", 4, -1);                                                      // a 4 GiB buffer
        Assert.Equal(Fault, Call(g, "fd_write", 1, 0, 1, 8));
        Call(g, "store32", 0, MemoryBytes - 8);
        Call(g, "store32", 4, 16);                                                      // buffer straddles the end
        Assert.Equal(Fault, Call(g, "fd_write", 1, 0, 1, 8));
        Call(g, "store32", 0, 16);
        Call(g, "store32", 4, 4);
        Assert.Equal(Fault, Call(g, "fd_write", 1, 0, 1, -4));                          // result pointer outside memory
        Assert.Equal(BadF, Call(g, "fd_write", 99, 0, 1, 8));
        Assert.Equal(BadF, Call(g, "fd_read", 1, 0, 1, 8));                             // stdout is not readable
        Assert.Equal(Fault, Call(g, "args_get", MemoryBytes - 2, 0));
        Assert.Equal(Fault, Call(g, "args_sizes_get", -1, 0));
        Assert.Equal(Fault, Call(g, "random_get", MemoryBytes - 10, 100));
        Assert.Equal(Inval, Call(g, "random_get", 0, int.MaxValue));
        Assert.Equal(Inval, Call(g, "poll", 0, 1024, 0, 8));                            // no subscriptions
        Assert.Equal(Inval, Call(g, "poll", 0, 1024, int.MaxValue, 8));
        Assert.Equal(Fault, Call(g, "poll", MemoryBytes - 10, 1024, 1, 8));
        Assert.Equal(NameTooLong, Call(g, "path_open", 1, 0, int.MaxValue, 8));
        Assert.Equal(Fault, Call(g, "path_open", 1, MemoryBytes - 2, 4, 8));
        Assert.Equal(BadF, Call(g, "path_open", 3, 0, 4, 8));                           // no preopen at fd 3
        Call(g, "store32", 100, 0x64636261);                                            // "abcd"
        Assert.Equal(NotDir, Call(g, "path_open", 1, 100, 4, 8));                       // stdout is not a directory
        Call(g, "store32", 100, 0x64006261);
        Assert.Equal(25, Call(g, "path_open", 1, 100, 4, 8));                           // a NUL inside a path: EILSEQ
        Assert.Equal(70, Call(g, "fd_seek", 1, 0, 0, 8));                                // stdio cannot seek: ESPIPE
        Assert.Equal(BadF, Call(g, "fd_seek", 99, 0, 0, 8));
        Assert.Equal(58, Call(g, "sock_accept"));                                        // sockets: ENOTSUP
        // Still healthy: a good write works, nothing leaked to the host, the kernel's invariants hold.
        Call(g, "store32", 0, 16);
        Call(g, "store32", 4, 0);
        Assert.Equal(Success, Call(g, "fd_write", 1, 0, 1, 8));
        Assert.Equal(WasmInstanceState.Running, g.State);
        _h.AssertHealthy();
    }

    [Fact]
    public void Empty_iovecs_are_skipped_not_taken_for_the_end_of_a_transfer()
    {
        // wasi-libc's stdio writes [buffered bytes, new bytes] and the first is often empty: answering 0 there would
        // make it retry forever.
        var g = Start(stdin: "abc"u8.ToArray());
        Call(g, "store32", 64, 0x0a216b6f);                                             // "ok!\n"
        Call(g, "store32", 0, 64);
        Call(g, "store32", 4, 0);
        Call(g, "store32", 8, 64);
        Call(g, "store32", 12, 4);
        Assert.Equal(Success, Call(g, "fd_write", 1, 0, 2, 16));
        Assert.Equal(4, Call(g, "load32", 16));
        Assert.Equal("ok!\n", _out.Stdout);
        Call(g, "store32", 8, 128);
        Assert.Equal(Success, Call(g, "fd_read", 0, 0, 2, 16));
        Assert.Equal(3, Call(g, "load32", 16));
    }

    [Fact]
    public void A_huge_read_is_bounded_to_one_transfer_and_charged_as_fuel()
    {
        var stdin = new byte[3 * 1024 * 1024];
        new Random(1).NextBytes(stdin);
        var g = Start(stdin: stdin);
        Call(g, "store32", 0, 4096);
        Call(g, "store32", 4, MemoryBytes - 4096);                                      // ~2.5 MiB asked for
        long before = g.FuelUsed;
        Assert.Equal(Success, Call(g, "fd_read", 0, 0, 1, 8));
        Assert.Equal(1024 * 1024, Call(g, "load32", 8));                                // one transfer is at most 1 MiB
        Assert.True(g.FuelUsed - before >= 1024 * 1024 / 16, $"fuel charged {g.FuelUsed - before}");
        Assert.Equal(BitConverter.ToInt32(stdin, 0), Call(g, "load32", 4096));
    }

    [Fact]
    public void Proc_exit_stops_only_that_guest_with_its_code()
    {
        var quitter = Start("quitter");
        var other = Start("other");
        var r = quitter.Call("exit", 42);
        Assert.True(r.IsOk);
        Assert.Equal(42, r.Value);
        Assert.Equal(42, quitter.ExitCode);
        Assert.Equal(WasmInstanceState.Stopped, quitter.State);
        Assert.True(quitter.Exited.Wait(TimeSpan.FromSeconds(10)));
        Assert.Equal(ErrorCode.Closed, quitter.Call("load32", 0).Code);
        // The other guest, and the host process, carry on.
        Call(other, "store32", 0, 16);
        Call(other, "store32", 4, 0);
        Assert.Equal(Success, Call(other, "fd_write", 1, 0, 1, 8));
        Assert.Equal(WasmInstanceState.Running, other.State);
        _h.AssertHealthy();
    }

    [Fact]
    public void Bad_options_are_refused_before_anything_is_created()
    {
        var before = _h.Snapshot();
        var bytes = Wasmtime.Module.ConvertText(Wat);
        Assert.Equal(ErrorCode.InvalidArgument, _h.Sandbox.InstantiateWasi(_h.TenantA, "x", bytes, [], new WasiOptions { Args = ["a\0b"] }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _h.Sandbox.InstantiateWasi(_h.TenantA, "x", bytes, [], new WasiOptions { Args = [new string('a', WasiOptions.MaxArgBytes)] }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _h.Sandbox.InstantiateWasi(_h.TenantA, "x", "not wasm"u8.ToArray(), [], new WasiOptions()).Code);
        // A preopen that names nothing granted: no VFS here, and no binding either way.
        Assert.False(_h.Sandbox.InstantiateWasi(_h.TenantA, "x", bytes, [], new WasiOptions { Preopens = [new WasiPreopen("/data", "data")] }).IsOk);
        Assert.Equal(before, _h.Snapshot());
        _h.AssertHealthy();
    }

    [Fact]
    public async Task The_kv_example_serves_requests_over_Photon_IPC_and_exits_0_on_quit()
    {
        var (svc, _) = _h.Pm.Spawn("client", _h.TenantA).Value;
        var (mine, theirs) = _h.Ipc.CreateChannel(svc).Value;
        var kv = _h.Sandbox.InstantiateWasi(_h.TenantA, "kv", File.ReadAllBytes(WasiExamples.Program("kv")),
            [new SandboxGrant("chan", svc.TokenOf(theirs).Value, Rights.Read | Rights.Write | Rights.Delegate)], new WasiOptions { Output = _out },
            new SandboxLimits(FuelPerCall: 20_000_000_000)).Value;
        var running = Task.Run(kv.RunCommand);
        async Task<string> Ask(string request)
        {
            Assert.True(_h.Ipc.TrySend(svc, mine, Encoding.UTF8.GetBytes(request)).IsOk);
            var reply = await _h.Ipc.ReceiveAsync(svc, mine).WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(reply.IsOk, reply.IsOk ? "" : reply.Error.ToString());
            return Encoding.UTF8.GetString(reply.Value.Data);
        }
        Assert.Equal("(none)", await Ask("get colour"));
        Assert.Equal("ok", await Ask("set colour blue green"));
        Assert.Equal("blue green", await Ask("get colour"));
        Assert.Equal("ok", await Ask("set size 3"));
        Assert.Equal("2", await Ask("count"));
        Assert.Equal("ok", await Ask("del colour"));
        Assert.Equal("(none)", await Ask("get colour"));
        Assert.StartsWith("error:", await Ask("frobnicate"));
        Assert.Equal("bye", await Ask("quit"));
        var exit = await running.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(exit.IsOk, exit.IsOk ? "" : exit.Error.ToString());
        Assert.Equal(0, exit.Value);
        Assert.True(await kv.Exited.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t => t.IsCompletedSuccessfully));
    }

    [Fact]
    public void The_SDK_header_error_codes_and_rights_match_the_kernel()
    {
        var header = File.ReadAllText(Path.Combine(WasiExamples.Repo, "examples", "sdk", "photon.h"));
        var defines = System.Text.RegularExpressions.Regex.Matches(header, @"#define PHOTON_E([A-Z]+)\s+(\d+)");
        Assert.NotEmpty(defines);
        foreach (System.Text.RegularExpressions.Match m in defines)
        {
            var code = Enum.GetValues<ErrorCode>().Single(c => c.ToString().Equals(m.Groups[1].Value, StringComparison.OrdinalIgnoreCase));
            Assert.Equal((int)code, int.Parse(m.Groups[2].Value));
        }
        var rights = System.Text.RegularExpressions.Regex.Matches(header, @"#define PHOTON_RIGHT_([A-Z]+)\s+\(1 << (\d+)\)");
        Assert.NotEmpty(rights);
        foreach (System.Text.RegularExpressions.Match m in rights)
            Assert.Equal((int)Enum.Parse<Rights>(m.Groups[1].Value, ignoreCase: true), 1 << int.Parse(m.Groups[2].Value));
    }
}
