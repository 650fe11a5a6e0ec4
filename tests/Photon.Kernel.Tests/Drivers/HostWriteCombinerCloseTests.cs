using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// <c>HostWriteCombiner.Close</c> while a write is still counted in (queued behind a writer the test holds): it waits
/// blocked rather than spinning, returns after its bound if the write does not end, and the descriptor is released only
/// once that write has ended — never while a write could still reach it.
/// </summary>
public sealed class HostWriteCombinerCloseTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-write-close-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private (string Path, Microsoft.Win32.SafeHandles.SafeFileHandle Handle) Image()
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        using (var f = File.Create(path)) f.SetLength(1 << 20);
        return (path, File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite));
    }

    /// <summary>This thread's voluntary context switches (each time it blocked or slept).</summary>
    private static long VoluntarySwitches()
    {
        foreach (var line in File.ReadLines("/proc/thread-self/status"))
            if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal))
                return long.Parse(line["voluntary_ctxt_switches:".Length..].Trim());
        throw new InvalidOperationException("no voluntary_ctxt_switches in /proc/thread-self/status");
    }

    /// <summary>Whether descriptor <paramref name="fd"/> of this process is still open on <paramref name="path"/>.</summary>
    private static bool OpenOn(int fd, string path)
    {
        try { return new FileInfo($"/proc/self/fd/{fd}").LinkTarget == path; }
        catch (IOException) { return false; }
    }

    [Fact]
    public async Task Close_waits_for_a_write_in_progress_blocked_not_spinning()
    {
        var (_, handle) = Image();
        using var _h = handle;
        var combiner = new HostWriteCombiner("close-test", handle) { CloseWait = Patience };
        var holder = combiner.HoldWriter();
        Assert.True(combiner.TryWrite(0, new byte[4096], out var queued));
        Assert.False(queued.IsCompleted);

        long switches = -1;
        var closer = new Thread(() =>
        {
            long before = VoluntarySwitches();
            combiner.Close();
            switches = VoluntarySwitches() - before;
        }) { IsBackground = true };
        closer.Start();
        // The closer waits while the write is counted in: give it a while to spin, were it spinning.
        Thread.Sleep(300);
        Assert.True(closer.IsAlive, "Close returned while a write was still counted in");
        holder.Dispose(); // the writer ends the queued write Closed: the count falls to zero
        Assert.True(closer.Join(Patience));
        var error = await Assert.ThrowsAsync<KernelException>(() => queued.AsTask().WaitAsync(Patience));
        Assert.Equal(ErrorCode.Closed, error.Code);
        Assert.True(combiner.ReleasedFile);
        // A blocked wait is a handful of switches; SpinWait's Sleep(1)s over 300 ms are hundreds.
        Assert.InRange(switches, 0, 20);
    }

    [Fact]
    public async Task Close_returns_after_its_bound_and_the_last_write_to_end_releases_the_descriptor()
    {
        var (path, handle) = Image();
        int fd = (int)handle.DangerousGetHandle();
        var combiner = new HostWriteCombiner("close-test", handle) { CloseWait = TimeSpan.FromMilliseconds(50) };
        var holder = combiner.HoldWriter();
        Assert.True(combiner.TryWrite(4096, new byte[4096], out var queued));

        await Task.Factory.StartNew(combiner.Close, TaskCreationOptions.LongRunning).WaitAsync(Patience);
        Assert.False(combiner.ReleasedFile);
        handle.Dispose(); // what the storage does next: the descriptor stays open while the combiner holds it
        Assert.True(OpenOn(fd, path), "the descriptor closed under a write still counted in");
        Assert.True(combiner.TryWrite(0, new byte[16], out var late));
        Assert.Equal(ErrorCode.Closed, (await Assert.ThrowsAsync<KernelException>(() => late.AsTask())).Code);
        Assert.False(combiner.ReleasedFile, "a refused write released the descriptor");

        holder.Dispose();
        Assert.Equal(ErrorCode.Closed, (await Assert.ThrowsAsync<KernelException>(() => queued.AsTask().WaitAsync(Patience))).Code);
        Assert.True(combiner.ReleasedFile);
        Assert.False(OpenOn(fd, path), "the descriptor outlived the last write");
        combiner.Close(); // idempotent
    }
}
