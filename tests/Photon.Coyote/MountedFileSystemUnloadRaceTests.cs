using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Processes;
using Photon.Kernel.Syscalls;

namespace Photon.Coyote;

/// <summary>
/// Unloading a filesystem module while a filesystem it mounted is in use (the racing module of
/// <see cref="ModuleUnloadRaceTests"/>, whose driver now mounts a one-file filesystem; every call into it is
/// counted module code that crosses a scheduling point). The rule: unload is refused with Busy while a mount from
/// the module exists; once the mount is closed (unmount drained its calls and detached its open files) unload goes
/// ahead. Invariant: unload either answers Busy and changes nothing (the module keeps serving the mount), or, once
/// it has returned Ok, no module code runs — not a read, write or open in flight, not a mount that finished
/// during the unload, not the release of a file closed late; every call ends Ok or typed (Revoked, Closed,
/// NotFound), none hangs; the module leaves nothing registered or listed.
/// </summary>
public static class MountedFileSystemUnloadRaceTests
{
    private static readonly Rights FileRights = Rights.Read | Rights.Write | Rights.Enumerate | Rights.Create;

    private sealed record Setup(ModuleUnloadRaceTests.World W, VirtualFileSystem Vfs, FileSyscalls Files, CapabilityToken Control);

    private static async Task<Setup> BootAsync()
    {
        InterleavingPoints.Enable();
        var w = ModuleUnloadRaceTests.NewWorld();
        var vfs = new VirtualFileSystem(w.Caps, w.Namespaces);
        var control = await ModuleUnloadRaceTests.LoadAsync(w);
        return new Setup(w, vfs, new FileSyscalls(vfs, w.Caps), control);
    }

    private static async Task<(CapabilityToken Mount, Process Tenant, Handle File)> MountAndOpenAsync(Setup s)
    {
        var mount = await s.Vfs.MountAsync(s.W.Registry, s.W.Registry.Capability, new NoDevice(), new MountOptions(), Principal.Kernel);
        Specification.Assert(mount.IsOk, $"mount failed: {mount}");
        var ns = s.W.Namespaces.CreateChild(s.W.Root, "tenant").Value;
        s.W.Namespaces.CreateChild(ns, "mnt").Unwrap();
        s.Vfs.Bind(ns, "/mnt/data", mount.Value, FileRights, Principal.Kernel).Unwrap();
        var tenant = s.W.Processes.Spawn("svc", ns).Value.Process;
        var file = await s.Files.OpenAsync(tenant, "/mnt/data/f", Rights.Read | Rights.Write);
        Specification.Assert(file.IsOk, $"open failed: {file}");
        return (mount.Value, tenant, file.Value);
    }

    /// <summary>One read, one write and one open through the mount; each must end Ok or typed.</summary>
    private static Task<ErrorCode>[] StartIo(Setup s, Process tenant, Handle file) =>
    [
        Task.Run(async () => (await s.Files.ReadAsync(tenant, file, 0, new byte[16])).Code),
        Task.Run(async () => (await s.Files.WriteAsync(tenant, file, 0, "x"u8.ToArray())).Code),
        Task.Run(async () => (await s.Files.OpenAsync(tenant, "/mnt/data/f", Rights.Read)).Code),
    ];

    private static async Task AssertTyped(Task<ErrorCode>[] io, params ErrorCode[] allowed)
    {
        foreach (var t in io)
        {
            var code = await t;
            Specification.Assert(code == ErrorCode.None || allowed.Contains(code), $"an I/O call ended {code}");
        }
    }

    private static void AssertUnloadedCleanly(Setup s)
    {
        Specification.Assert(RacingDriverModule.CallsAfterUnload(s.W.StateKey) == 0, $"{RacingDriverModule.CallsAfterUnload(s.W.StateKey)} calls ran module code after unload returned: " + RacingDriverModule.LateCall());
        Specification.Assert(RacingDriverModule.Inside(s.W.StateKey) == 0, $"{RacingDriverModule.Inside(s.W.StateKey)} calls still inside module code");
        Specification.Assert(s.W.Registry.TypeNames.Count == 0, "the driver is still registered");
        Specification.Assert(s.W.Loader.Modules.Count == 0, "the loader still lists the module");
        Specification.Assert(s.W.Caps.VerifyInvariants().IsOk, "derivation tree invariants broken");
    }

    /// <summary>Unload racing reads, writes and opens on a mount nobody unmounts: always Busy, and the I/O all
    /// succeeds (the module keeps serving); after an unmount the unload goes ahead and the old file is dead.</summary>
    [Test]
    public static async Task UnloadRacingIoOnMountedFileSystem_IsRefusedBusy()
    {
        var s = await BootAsync();
        var (mount, tenant, file) = await MountAndOpenAsync(s);
        var io = StartIo(s, tenant, file);
        var unload = await s.W.Loader.UnloadAsync(s.Control, ModuleUnloadRaceTests.Admin);
        Specification.Assert(unload.Code == ErrorCode.Busy, $"unload with a live mount ended {unload}");
        await AssertTyped(io);
        Specification.Assert(s.W.Registry.TypeNames.Count == 1, "a refused unload unregistered the driver");
        var unmounted = await s.Vfs.UnmountAsync(mount, Principal.Kernel);
        Specification.Assert(unmounted.IsOk, $"unmount failed: {unmounted}");
        var again = await s.W.Loader.UnloadAsync(s.Control, ModuleUnloadRaceTests.Admin);
        RacingDriverModule.MarkUnloaded(s.W.StateKey);
        Specification.Assert(again.IsOk, $"unload after unmount failed: {again}");
        var late = await s.Files.ReadAsync(tenant, file, 0, new byte[16]);
        Specification.Assert(late.Code is ErrorCode.Revoked or ErrorCode.Closed or ErrorCode.InvalidHandle, $"a read after unload ended {late.Code}");
        AssertUnloadedCleanly(s);
    }

    /// <summary>Unload racing unmount, reads, writes, opens and a late close of the open file: unload is Busy until
    /// the unmount finished (then a retry succeeds), and after it returned Ok no module code runs.</summary>
    [Test]
    public static async Task UnloadRacingUnmountAndIo_NoModuleCodeRunsAfterUnload()
    {
        var s = await BootAsync();
        var (mount, tenant, file) = await MountAndOpenAsync(s);
        var io = StartIo(s, tenant, file);
        var unmount = Task.Run(async () => await s.Vfs.UnmountAsync(mount, Principal.Kernel));
        var close = Task.Run(() => s.Files.Close(tenant, file).Code);
        var unload = Task.Run(async () =>
        {
            var r = await s.W.Loader.UnloadAsync(s.Control, ModuleUnloadRaceTests.Admin);
            if (r.IsOk) RacingDriverModule.MarkUnloaded(s.W.StateKey);
            return r;
        });
        var first = await unload;
        Specification.Assert(first.IsOk || first.Code == ErrorCode.Busy, $"unload ended {first}");
        var unmounted = await unmount;
        Specification.Assert(unmounted.IsOk, $"unmount failed: {unmounted}");
        if (!first.IsOk)
        {
            var retry = await s.W.Loader.UnloadAsync(s.Control, ModuleUnloadRaceTests.Admin);
            RacingDriverModule.MarkUnloaded(s.W.StateKey);
            Specification.Assert(retry.IsOk, $"unload after unmount failed: {retry}");
        }
        await AssertTyped(io, ErrorCode.Revoked, ErrorCode.Closed, ErrorCode.InvalidHandle, ErrorCode.NotFound);
        var closed = await close;
        Specification.Assert(closed is ErrorCode.None or ErrorCode.Revoked or ErrorCode.InvalidHandle, $"close ended {closed}");
        AssertUnloadedCleanly(s);
    }

    /// <summary>A mount (probe, then the driver's mount) racing unload: either the mount got in first and the
    /// unload is Busy until it is unmounted, or the mount ends typed and no filesystem of the unloaded module is
    /// left mounted; either way no module code runs after the unload returned.</summary>
    [Test]
    public static async Task MountRacingUnload_LeavesNoMountOfAnUnloadedModule()
    {
        var s = await BootAsync();
        var mounting = Task.Run(async () =>
            await s.Vfs.MountAsync(s.W.Registry, s.W.Registry.Capability, new NoDevice(), new MountOptions(), Principal.Kernel));
        var unload = Task.Run(async () =>
        {
            var r = await s.W.Loader.UnloadAsync(s.Control, ModuleUnloadRaceTests.Admin);
            if (r.IsOk) RacingDriverModule.MarkUnloaded(s.W.StateKey);
            return r;
        });
        var first = await unload;
        var mount = await mounting;
        if (first.IsOk)
        {
            Specification.Assert(!mount.IsOk, "a mount of the unloaded module's filesystem survived the unload");
            Specification.Assert(mount.Code is ErrorCode.Revoked or ErrorCode.NotSupported, $"the refused mount ended {mount.Code}");
        }
        else
        {
            Specification.Assert(first.Code == ErrorCode.Busy && mount.IsOk, $"unload ended {first} while the mount ended {mount}");
            Specification.Assert((await s.Vfs.UnmountAsync(mount.Value, Principal.Kernel)).IsOk, "unmount failed");
            var retry = await s.W.Loader.UnloadAsync(s.Control, ModuleUnloadRaceTests.Admin);
            RacingDriverModule.MarkUnloaded(s.W.StateKey);
            Specification.Assert(retry.IsOk, $"unload after unmount failed: {retry}");
        }
        AssertUnloadedCleanly(s);
    }
}
