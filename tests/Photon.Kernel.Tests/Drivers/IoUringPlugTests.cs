using Photon.Kernel.Hal.Host;
using Photon.Kernel.Hal.Host.IoUring;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// A plug on the io_uring backend belongs to the thread that took it: what that thread queues waits for its unplug and
/// then goes to the kernel in one enter, reaped and finished by the unplugging thread; other threads' operations are
/// never held back; closing while a plug holds operations ends each of them as closed.
/// </summary>
public sealed class IoUringPlugTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uring-plug-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    private string CachedFile(int bytes, out byte[] content)
    {
        var path = Path.Combine(_dir, Guid.NewGuid().ToString("N") + ".img");
        content = new byte[bytes];
        new Random(11).NextBytes(content);
        File.WriteAllBytes(path, content); // just written: its pages are in the page cache
        return path;
    }

    [Fact]
    public async Task Operations_queued_under_a_plug_wait_for_the_unplug_and_go_in_with_one_enter()
    {
        var path = CachedFile(64 * 1024, out var content);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        await using var ring = IoUringFile.Open(handle).Value;
        var buffers = Enumerable.Range(0, 8).Select(_ => new byte[4096]).ToArray();
        long entersBefore = ring.SubmittingEnters;
        ring.Plug();
        var reads = buffers.Select((b, i) => ring.ReadAsync(i * 4096L, b)).ToArray();
        Assert.All(reads, r => Assert.False(r.IsCompleted)); // held: not even submitted
        Assert.Equal(entersBefore, ring.SubmittingEnters);
        ring.Unplug();
        Assert.Equal(entersBefore + 1, ring.SubmittingEnters);
        for (int i = 0; i < reads.Length; i++)
        {
            Assert.Equal(4096, await reads[i].AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(content.AsSpan(i * 4096, 4096).ToArray(), buffers[i]);
        }
    }

    [Fact]
    public async Task Another_threads_plug_never_holds_back_an_operation()
    {
        var path = CachedFile(64 * 1024, out var content);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        await using var ring = IoUringFile.Open(handle).Value;
        var held = new byte[4096];
        ValueTask<int> heldRead = default;
        using var plugged = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var plugger = new Thread(() =>
        {
            ring.Plug();
            heldRead = ring.ReadAsync(0, held);
            plugged.Set();
            release.Wait();
            ring.Unplug();
        });
        plugger.Start();
        Assert.True(plugged.Wait(TimeSpan.FromSeconds(30)));
        // This thread holds no plug: its read goes in at once and completes while the other thread's plug is held.
        var mine = new byte[4096];
        Assert.Equal(4096, await ring.ReadAsync(4096, mine).AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(content.AsSpan(4096, 4096).ToArray(), mine);
        Assert.False(heldRead.IsCompleted);
        release.Set();
        Assert.True(plugger.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(4096, await heldRead.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(content.AsSpan(0, 4096).ToArray(), held);
    }

    [Fact]
    public async Task Closing_while_a_plug_holds_operations_ends_each_as_closed_at_the_unplug()
    {
        var path = CachedFile(64 * 1024, out _);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read);
        var ring = IoUringFile.Open(handle).Value;
        ring.Plug();
        var reads = Enumerable.Range(0, 4).Select(i => ring.ReadAsync(i * 4096L, new byte[4096])).ToArray();
        var fsync = ring.FsyncAsync(dataOnly: true);
        // The plug is this thread's, so no await between Plug and Unplug (a continuation may resume on another thread).
        var closing = ring.DisposeAsync().AsTask(); // held operations are not in the kernel: the close need not wait for them
        ring.Unplug();
        await closing.WaitAsync(TimeSpan.FromSeconds(30));
        foreach (var r in reads) Assert.Equal(IoUringFile.ClosedResult, await r.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(IoUringFile.ClosedResult, await fsync.AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task A_plugged_batch_through_the_storage_reads_its_bytes_and_a_closed_one_is_a_typed_Closed()
    {
        var path = CachedFile(64 * 1024, out var content);
        var storage = HostImageStorage.Open(path, backend: HostStorageBackend.IoUring).Value;
        storage.Plug();
        var buffers = Enumerable.Range(0, 4).Select(_ => new byte[4096]).ToArray();
        var reads = buffers.Select((b, i) => storage.ReadAsync(i * 4096L, b).AsTask()).ToArray();
        storage.Unplug();
        for (int i = 0; i < reads.Length; i++)
        {
            Assert.Equal(4096, await reads[i].WaitAsync(TimeSpan.FromSeconds(30)));
            Assert.Equal(content.AsSpan(i * 4096, 4096).ToArray(), buffers[i]);
        }
        Assert.True(storage.RingCounters.Inline + storage.RingCounters.Deferred >= 4);
        storage.Plug();
        var late = storage.ReadAsync(0, new byte[4096]).AsTask();
        var closing = storage.DisposeAsync().AsTask();
        storage.Unplug();
        var e = await Assert.ThrowsAsync<KernelException>(() => late.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(ErrorCode.Closed, e.Code);
        await closing.WaitAsync(TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_data_only_flush_of_a_written_file_succeeds()
    {
        var path = CachedFile(8192, out _);
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite);
        await using var ring = IoUringFile.Open(handle).Value;
        Assert.Equal(4096, await ring.WriteAsync(0, new byte[4096]));
        Assert.Equal(0, await ring.FsyncAsync(dataOnly: true));
        Assert.Equal(0, await ring.FsyncAsync());
    }
}
