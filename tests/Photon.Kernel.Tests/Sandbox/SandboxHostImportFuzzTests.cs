using Photon.FileSystems.Fat;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Io;
using Photon.Sandbox;

namespace Photon.Kernel.Tests.Sandbox;

/// <summary>
/// Every host import a guest can call, called from a WAT guest with hostile arguments: negative, huge and wrapping
/// pointers and lengths, ranges past the end of guest memory, forged handle numbers (neighbours of real ones, wrong
/// generations, garbage). Each call must come back as a typed negative error code (or a correct success), never trap
/// the guest, and leave the kernel healthy and the instance's teardown complete.
/// </summary>
public sealed class SandboxHostImportFuzzTests
{
    private const int GuestMemoryBytes = 65536;
    private const int RegionBytes = 4096;

    // The paths sit where no hostile pointer lands, so random opens cannot mint a second handle to a granted object.
    // Thin exports over each import, so the test drives the arguments; clock_now's i64 is reduced to its sign bit.
    private const string Hostile = """
        (module
          (import "photon" "log" (func $log (param i32 i32) (result i32)))
          (import "photon" "clock_now" (func $clock (result i64)))
          (import "photon" "open" (func $open (param i32 i32 i32) (result i32)))
          (import "photon" "region_read" (func $rr (param i32 i32 i32 i32) (result i32)))
          (import "photon" "region_write" (func $rw (param i32 i32 i32 i32) (result i32)))
          (import "photon" "ipc_send" (func $send (param i32 i32 i32) (result i32)))
          (import "photon" "ipc_recv" (func $recv (param i32 i32 i32) (result i32)))
          (import "photon" "file_open" (func $fopen (param i32 i32 i32 i32) (result i32)))
          (import "photon" "file_read" (func $fread (param i32 i32 i32 i32) (result i32)))
          (import "photon" "file_write" (func $fwrite (param i32 i32 i32 i32) (result i32)))
          (import "photon" "file_close" (func $fclose (param i32) (result i32)))
          (memory (export "memory") 1)
          (data (i32.const 30000) "/region")
          (data (i32.const 30016) "/chan")
          (data (i32.const 30032) "/data/FUZZ.TXT")
          (func (export "log") (param i32 i32) (result i32) (call $log (local.get 0) (local.get 1)))
          (func (export "clock_now") (result i32) (i32.wrap_i64 (i64.shr_u (call $clock) (i64.const 63))))
          (func (export "open") (param i32 i32 i32) (result i32) (call $open (local.get 0) (local.get 1) (local.get 2)))
          (func (export "region_read") (param i32 i32 i32 i32) (result i32) (call $rr (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "region_write") (param i32 i32 i32 i32) (result i32) (call $rw (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "ipc_send") (param i32 i32 i32) (result i32) (call $send (local.get 0) (local.get 1) (local.get 2)))
          (func (export "ipc_recv") (param i32 i32 i32) (result i32) (call $recv (local.get 0) (local.get 1) (local.get 2)))
          (func (export "file_open") (param i32 i32 i32 i32) (result i32) (call $fopen (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "file_read") (param i32 i32 i32 i32) (result i32) (call $fread (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "file_write") (param i32 i32 i32 i32) (result i32) (call $fwrite (local.get 0) (local.get 1) (local.get 2) (local.get 3)))
          (func (export "file_close") (param i32) (result i32) (call $fclose (local.get 0))))
        """;

    private static readonly int[] HostileInts =
    [
        int.MinValue, int.MinValue + 1, -65536, -4097, -4096, -8, -1, 0, 1, 3, 4, 7, 100, 4095, 4096, 4097,
        GuestMemoryBytes - 4, GuestMemoryBytes - 1, GuestMemoryBytes, GuestMemoryBytes + 1, 64 * 1024 + 4096,
        1 << 20, (1 << 20) + 1, 1 << 30, 0x7fff_fff0, int.MaxValue - 1, int.MaxValue,
    ];

    private static bool InGuest(int ptr, int len) => len >= 0 && (long)(uint)ptr + len <= GuestMemoryBytes;

    [Fact]
    public async Task Sandbox_every_host_import_refuses_hostile_arguments_with_typed_errors_and_the_kernel_stays_healthy()
    {
        using var h = new SandboxHarness();
        var dir = Directory.CreateTempSubdirectory("photon-wasm-fuzz-").FullName;
        try
        {
            // A FAT volume for the file imports, a region and a channel whose other end a native process holds.
            var img = Path.Combine(dir, "fat.img");
            using (var f = File.Create(img)) f.SetLength(16 * 1024 * 1024);
            Run("mkfs.vfat", $"-F 16 {img}");
            var vfs = new VirtualFileSystem(h.Caps, h.Ns);
            var storage = HostImageStorage.Open(img).Value;
            var (nvme, nvmeCap) = Photon.Kernel.Drivers.Block.NvmeBlockDevice.Start(storage, h.Caps).Value;
            var mount = (await vfs.MountAsync(new FatFileSystemDriver(), nvme.Open(nvmeCap), new MountOptions(), Principal.Kernel)).Value;
            using var sandbox = new WasmSandbox(h.Caps, h.Ns, h.Pm, h.Mm, h.Ipc, () => h.Clock.Monotonic, vfs: vfs);
            var region = h.Mm.Allocate(RegionBytes, Principal.Kernel).Value;
            var (svc, svcControl) = h.Pm.Spawn("svc", h.TenantA).Value;
            var (mine, theirs) = h.Ipc.CreateChannel(svc).Value;
            var before = h.Snapshot();

            var g = sandbox.Instantiate(h.TenantA, "hostile", Hostile,
            [
                new SandboxGrant("region", region, Rights.Read | Rights.Write),
                new SandboxGrant("chan", svc.TokenOf(theirs).Value, Rights.Read | Rights.Write),
                new SandboxGrant("data", mount, Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create),
            ]).Value;
            int Call(string export, params int[] args)
            {
                var r = g.Call(export, args);
                Assert.True(r.IsOk, $"{export}({string.Join(", ", args)}) killed the guest: {r}");
                Assert.True(r.Value >= 0 || (Enum.IsDefined((ErrorCode)(-r.Value)) && r.Value != 0),
                    $"{export}({string.Join(", ", args)}) returned {r.Value}, not a typed error");
                return r.Value;
            }
            var hRegion = Call("open", 30000, 7, (int)(Rights.Read | Rights.Write));
            var hChan = Call("open", 30016, 5, (int)(Rights.Read | Rights.Write));
            var hFile = Call("file_open", 30032, 14, (int)(Rights.Read | Rights.Write), (int)OpenFlags.Create);
            Assert.All(new[] { hRegion, hChan, hFile }, x => Assert.True(x > 0));
            var real = new[] { hRegion, hChan, hFile };
            // Forgeries: neighbours, other generations of the same slot, and garbage.
            var handles = real.Concat(real.SelectMany(x => new[] { x + 1, x - 1, x ^ (1 << 20), x + (1 << 20), x | (2047 << 20), -x }))
                .Concat(HostileInts).Distinct().ToArray();

            var rng = new Random(0x5eed);
            int Any() => rng.Next(4) == 0 ? rng.Next(int.MinValue, int.MaxValue) : HostileInts[rng.Next(HostileInts.Length)];
            int AnyHandle() => handles[rng.Next(handles.Length)];
            int sent = 0, received = 0;
            for (int i = 0; i < 600; i++)
            {
                int ptr = Any(), len = Any(), offset = Any(), handle = AnyHandle();
                // A third of the rounds are nearly valid, so the checks behind the range checks get exercised too.
                if (i % 3 == 0) (ptr, len, offset, handle) = (rng.Next(GuestMemoryBytes), rng.Next(0, 5000), rng.Next(-8, RegionBytes + 8), real[rng.Next(real.Length)]);

                var log = Call("log", ptr, len);
                Assert.Equal(len <= 4096 && InGuest(ptr, len) ? 0 : -(int)ErrorCode.OutOfRange, log);

                Assert.Equal(0, Call("clock_now"));

                var opened = Call("open", ptr, len, Any());
                Assert.True(opened < 0 || InGuest(ptr, len), $"open({ptr}, {len}) succeeded outside guest memory");

                foreach (var op in new[] { "region_read", "region_write" })
                {
                    var r = Call(op, handle, offset, ptr, len);
                    var valid = handle == hRegion && offset >= 0 && len >= 0 && offset <= RegionBytes - len && InGuest(ptr, len);
                    Assert.True(valid ? r == len : r < 0, $"{op}(h={handle}, off={offset}, ptr={ptr}, len={len}) = {r}");
                }

                var s = Call("ipc_send", handle, ptr, len);
                Assert.True(s < 0 || (handle == hChan && InGuest(ptr, len) && s == len), $"ipc_send(h={handle}, ptr={ptr}, len={len}) = {s}");
                if (s >= 0) sent++;
                if (i % 10 == 0) h.Ipc.TrySend(svc, mine, new byte[rng.Next(0, 5000)]);
                var n = Call("ipc_recv", handle, ptr, len);
                Assert.True(n < 0 || (handle == hChan && InGuest(ptr, n) && n <= len), $"ipc_recv(h={handle}, ptr={ptr}, cap={len}) = {n}");
                if (n >= 0) received++;

                var fo = Call("file_open", ptr, len, Any(), Any());
                Assert.True(fo < 0 || InGuest(ptr, len));
                var fr = Call("file_read", handle, offset, ptr, len);
                Assert.True(fr < 0 || (handle == hFile && offset >= 0 && InGuest(ptr, fr) && fr <= len), $"file_read(h={handle}, off={offset}, ptr={ptr}, len={len}) = {fr}");
                // Writes stay inside the first MiB of the file so the volume does not fill up and hide other checks.
                var fw = Call("file_write", handle, offset & 0xFFFFF, ptr, len);
                Assert.True(fw < 0 || (handle == hFile && InGuest(ptr, len) && fw == Math.Min(len, 1024 * 1024)), $"file_write(h={handle}, ptr={ptr}, len={len}) = {fw}");
                if (handle != hFile) Assert.True(Call("file_close", handle) < 0);
            }

            // The good paths still work after all that, and the guest was never killed.
            Assert.Equal(WasmInstanceState.Running, g.State);
            Assert.Equal(4, Call("region_write", hRegion, 0, 0, 4));
            Assert.Equal(5, Call("ipc_send", hChan, 30016, 5));
            while (h.Ipc.TryReceive(svc, mine).IsOk) { }
            Assert.Equal(0, Call("file_close", hFile));
            Assert.True(Call("file_close", hFile) < 0); // a closed handle is gone
            Assert.True(sent > 0 && received > 0, $"the fuzz never hit the real channel (sent {sent}, received {received})");
            h.AssertHealthy();

            // Stopping the guest gives back every handle it opened along the way.
            await g.StopAsync();
            // What svc queued for the guest is still charged to tenant-a until someone receives it: drain it.
            while (h.Ipc.TryReceive(svc, theirs).IsOk) { }
            Assert.Equal(before, h.Snapshot());
            Assert.Equal(0, sandbox.LiveInstances);
            Assert.Equal((0, 0L), (sandbox.Tenants["/tenant-a"].Instances, sandbox.Tenants["/tenant-a"].MemoryBytes));
            h.AssertHealthy();
            await h.Pm.DestroyAsync(svcControl);
            Assert.True((await vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
            await storage.DisposeAsync();
            Run("fsck.vfat", $"-n {img}");
        }
        finally { Directory.Delete(dir, true); }
    }

    [Theory]
    [InlineData("(module {0} (func (export \"memory\") (result i32) (i32.const 0)))")]   // "memory" is not a memory
    [InlineData("(module {0})")]                                                            // no memory at all
    public void Sandbox_host_imports_refuse_guests_whose_memory_export_is_missing_or_not_a_memory(string shape)
    {
        using var h = new SandboxHarness();
        const string body = """
            (import "photon" "log" (func $log (param i32 i32) (result i32)))
            (import "photon" "ipc_recv" (func $recv (param i32 i32 i32) (result i32)))
            (func (export "log") (result i32) (call $log (i32.const 0) (i32.const 0)))
            (func (export "recv") (result i32) (call $recv (i32.const 1) (i32.const 0) (i32.const 16)))
            """;
        var g = h.Sandbox.Instantiate(h.TenantA, "nomem", string.Format(shape, body), []).Value;
        Assert.Equal(-(int)ErrorCode.OutOfRange, g.Call("log").Value);
        Assert.Equal(-(int)ErrorCode.OutOfRange, g.Call("recv").Value);
        Assert.Equal(WasmInstanceState.Running, g.State);
    }

    private static void Run(string tool, string args)
    {
        using var p = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{tool} {args}: {output}");
    }
}
