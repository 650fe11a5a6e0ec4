using Photon.FileSystems.Ext4;
using Photon.FileSystems.Tests.Ext4;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// ext4 groups operations into one journal transaction until fsync, unmount, size or age commits it; the mount's
/// periodic writeback is what commits an idle mount's group by age (jbd2's commit thread): without it, a file created
/// and then left alone would exist only in memory until the next operation.
/// </summary>
public sealed class MountWriteBackTests
{
    [Fact]
    public async Task A_file_created_on_an_idle_ext4_mount_reaches_the_disk_without_an_fsync()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        await using var k = new VfsKernel(writeBack: TimeSpan.FromMilliseconds(100));
        var device = await k.OpenDeviceAsync(img);
        var mount = (await k.Vfs.MountAsync(new Ext4FileSystemDriver(), device, new MountOptions(), Principal.Kernel)).Value;
        var p = k.Tenant("t", mount, Rights.Read | Rights.Write | Rights.Create | Rights.Enumerate);
        Assert.True((await k.Files.CreateFileAsync(p, "/mnt/data/idle.txt")).IsOk);

        // Another, read-only mount of the image (the journal replayed in memory) sees the file once a writeback
        // committed it: the group's commit interval is 5 s, so within about 5 s plus one writeback interval.
        bool seen = false;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        while (!seen && DateTime.UtcNow < deadline)
        {
            seen = await OnDiskAsync(img, "/idle.txt");
            if (!seen) await Task.Delay(200);
        }
        Assert.True(seen, "the idle mount's file never reached the image");

        Assert.True((await k.Vfs.UnmountAsync(mount, Principal.Kernel)).IsOk);
        var (code, output) = Ext4Scratch.Fsck(img);
        Assert.True(code == 0, output);
    }

    [Fact]
    public async Task Unmounting_while_a_writeback_waits_closes_at_once_and_the_mount_answers_revoked()
    {
        using var s = new Ext4Scratch();
        string img = s.MakeImage("w.img", "8M");
        await using var k = new VfsKernel(writeBack: TimeSpan.FromHours(1));
        var device = await k.OpenDeviceAsync(img);
        var mount = (await k.Vfs.MountAsync(new Ext4FileSystemDriver(), device, new MountOptions(), Principal.Kernel)).Value;
        var p = k.Tenant("t", mount, Rights.Read | Rights.Write | Rights.Create | Rights.Enumerate);
        Assert.True((await k.Files.CreateFileAsync(p, "/mnt/data/a.txt")).IsOk);
        var unmount = k.Vfs.UnmountAsync(mount, Principal.Kernel).AsTask();
        Assert.Same(unmount, await Task.WhenAny(unmount, Task.Delay(TimeSpan.FromSeconds(60))));
        Assert.True((await unmount).IsOk);
        Assert.True(await OnDiskAsync(img, "/a.txt"));                 // unmount committed the group
        Assert.False((await k.Files.CreateFileAsync(p, "/mnt/data/b.txt")).IsOk);
    }

    private static async Task<bool> OnDiskAsync(string img, string path)
    {
        // The writer may be mid-checkpoint: a view that does not mount is "not yet".
        try
        {
            var (ro, st) = await Ext4Scratch.MountAsync(img, readOnly: true);
            try { return (await ro.StatAsync(path)).IsOk; }
            finally { await Ext4Scratch.UnmountAsync(ro, st); }
        }
        catch (InvalidOperationException) { return false; }
    }
}
