using Photon.FileSystems.Ext4;
using Photon.FileSystems.Tests.Crash;
using Photon.Kernel;
using Photon.Kernel.FileSystems;
using Xunit.Abstractions;

namespace Photon.FileSystems.Tests.Ext4;

/// <summary>
/// A device that fails part-way through the crash workload (every request from the N-th on answers IoError or
/// Revoked): each call returns Ok or that same typed error — nothing throws, nothing reported as corruption — and the
/// disk left behind mounts read-write in Photon (which replays the journal if a commit got that far) and is
/// <c>e2fsck -fn</c> clean afterwards.
/// </summary>
public sealed class Ext4DeviceFailureTests(ITestOutputHelper output)
{
    private static int Budget(int ci) =>
        int.TryParse(Environment.GetEnvironmentVariable("PHOTON_FAILURE_POINTS"), out int n) && n > 0 ? n : ci;

    /// <summary>Runs the workload until the first failed call; returns the requests made and the unexpected failures.</summary>
    private static async Task<(long Requests, List<string> Unexpected)> RunAsync(FailingBlockDevice device, List<CrashOp> ops)
    {
        var unexpected = new List<string>();
        var mount = await new Ext4FileSystemDriver().MountAsync(device, new MountOptions());
        if (!mount.IsOk)
        {
            if (mount.Code != device.Failure) unexpected.Add($"mount: {mount.Error}");
            return (device.Requests, unexpected);
        }
        foreach (var op in ops)
        {
            var r = await op.RunAsync(mount.Value);
            if (r.IsOk) continue;
            if (r.Code != device.Failure) unexpected.Add($"{op}: {r.Error}");
            break;
        }
        await mount.Value.DisposeAsync();
        return (device.Requests, unexpected);
    }

    [Fact]
    public async Task Ext4_DeviceFailingAtAnyRequest_IsATypedError_AndLeavesAFsckCleanVolume()
    {
        using var s = new Ext4Scratch();
        var pristine = File.ReadAllBytes(s.MakeImage("base.img", "8M", null, "-b", "1024"));
        var ops = CrashWorkloads.Mixed(1024);
        var healthy = await RunAsync(new FailingBlockDevice(new MemoryBlockDevice((byte[])pristine.Clone()), long.MaxValue), ops);
        Assert.Empty(healthy.Unexpected);
        int points = (int)Math.Min(healthy.Requests + 1, Budget(24));
        var failures = new List<string>();
        string img = s.PathOf("failed.img");
        foreach (var code in new[] { ErrorCode.IoError, ErrorCode.Revoked })
        {
            for (int k = 0; k < points && failures.Count < 5; k++)
            {
                long failAfter = k * healthy.Requests / Math.Max(points - 1, 1) + (code == ErrorCode.Revoked ? 1 : 0);
                var disk = new MemoryBlockDevice((byte[])pristine.Clone());
                var run = await RunAsync(new FailingBlockDevice(disk, failAfter, code), ops);
                failures.AddRange(run.Unexpected.Select(u => $"{code} after {failAfter}: {u}"));

                var remount = await new Ext4FileSystemDriver().MountAsync(disk, new MountOptions());
                if (!remount.IsOk) { failures.Add($"{code} after {failAfter}: remount failed: {remount.Error}"); continue; }
                var tree = await TreeSnapshot.TakeAsync(remount.Value);
                await remount.Value.DisposeAsync();
                await File.WriteAllBytesAsync(img, disk.Data);
                var (exit, fsck) = Ext4Scratch.Fsck(img);
                if (exit != 0) failures.Add($"{code} after {failAfter}: e2fsck -fn exit {exit} (tree {tree})\n{fsck}");
            }
        }
        output.WriteLine($"ext4 1 KiB: workload makes {healthy.Requests} device requests; {2 * points} failure points checked");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }
}
