using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.FileSystems;
using Photon.Kernel.Io;

namespace Photon.FileSystems.Tests.Vfs;

/// <summary>
/// An open whose filesystem call is still running when the mount is unmounted: unmount revokes the bindings, waits
/// for the call, then closes the filesystem (and its module may then be unloaded). The open ends Revoked, and the node
/// it got back must not be handed to the closed filesystem. Coyote found the old code releasing it directly
/// (MountedFileSystemUnloadRaceTests: module code ran after unload returned); this is that schedule, fixed in place.
/// </summary>
public sealed class OpenRacingUnmountTests
{
    [Fact]
    public async Task An_open_that_finishes_after_the_unmount_began_never_calls_the_closed_filesystem()
    {
        string img = Path.Combine(Path.GetTempPath(), $"photon-gated-{Guid.NewGuid():N}.img");
        File.WriteAllBytes(img, new byte[64 * 1024]);
        try
        {
            await using var k = new VfsKernel();
            var device = await k.OpenDeviceAsync(img);
            var fs = new GatedFileSystem();
            var mount = (await k.Vfs.MountAsync(new GatedDriver(fs), device, new MountOptions(), Principal.Kernel)).Value;
            var p = k.Tenant("t", mount, Rights.Read | Rights.Write);

            var open = k.Files.OpenAsync(p, "/mnt/data/f", Rights.Read).AsTask();
            await fs.OpenEntered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            var unmount = k.Vfs.UnmountAsync(mount, Principal.Kernel).AsTask();
            Assert.False(unmount.IsCompleted, "unmount must wait for the open in flight");
            fs.OpenGate.SetResult();

            var opened = await open.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(ErrorCode.Revoked, opened.Code);
            Assert.True((await unmount.WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
            Assert.True(fs.Disposed);
            Assert.Equal(0, fs.CallsAfterClose);
            Assert.Equal(0, fs.Releases); // the node went with the filesystem
        }
        finally { File.Delete(img); }
    }

    private sealed class GatedDriver(GatedFileSystem fs) : IFileSystemDriver
    {
        public string TypeName => "gated";
        public ValueTask<bool> ProbeAsync(IBlockDevice device, CancellationToken ct = default) => ValueTask.FromResult(true);
        public ValueTask<Result<IFileSystem>> MountAsync(IBlockDevice device, MountOptions options, CancellationToken ct = default) =>
            ValueTask.FromResult(Result<IFileSystem>.Success(fs));
    }

    /// <summary>One file, "/f"; its open waits for the test's gate; every call after the close starts is counted.</summary>
    private sealed class GatedFileSystem : IFileSystem, IFileNode
    {
        public TaskCompletionSource OpenEntered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public TaskCompletionSource OpenGate { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private volatile bool _closing;
        public bool Disposed { get; private set; }
        public int CallsAfterClose;
        public int Releases;

        private void Called() { if (_closing) Interlocked.Increment(ref CallsAfterClose); }

        public string TypeName => "gated";
        public bool IsReadOnly => false;
        public FileKind Kind => FileKind.File;

        public async ValueTask<Result<IFileNode>> OpenAsync(string path, CancellationToken ct = default)
        {
            Called();
            OpenEntered.TrySetResult();
            await OpenGate.Task;
            return Result<IFileNode>.Success(this);
        }

        public void Release() { Called(); Interlocked.Increment(ref Releases); }

        public ValueTask<Result> FlushAsync(CancellationToken ct = default) { Called(); _closing = true; return ValueTask.FromResult(Result.Ok); }
        public ValueTask DisposeAsync() { _closing = true; Disposed = true; return ValueTask.CompletedTask; }

        private static ValueTask<Result> No() => ValueTask.FromResult(Result.Fail(ErrorCode.NotSupported, "gated"));
        public ValueTask<Result<FileStat>> StatAsync(string path, CancellationToken ct = default) { Called(); return StatAsync(ct); }
        public ValueTask<Result<IReadOnlyList<DirectoryEntry>>> ReadDirectoryAsync(string path, CancellationToken ct = default) =>
            ValueTask.FromResult(Result<IReadOnlyList<DirectoryEntry>>.Fail(ErrorCode.NotSupported, "gated"));
        public ValueTask<Result> CreateFileAsync(string path, CancellationToken ct = default) => No();
        public ValueTask<Result> CreateDirectoryAsync(string path, CancellationToken ct = default) => No();
        public ValueTask<Result> DeleteAsync(string path, CancellationToken ct = default) => No();
        public ValueTask<Result> RenameAsync(string from, string to, CancellationToken ct = default) => No();
        public ValueTask<Result<FileStat>> StatAsync(CancellationToken ct = default) =>
            ValueTask.FromResult(Result<FileStat>.Success(new FileStat("f", FileKind.File, 0, DateTimeOffset.UnixEpoch)));
        public ValueTask<Result<int>> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default) { Called(); return ValueTask.FromResult(Result<int>.Success(0)); }
        public ValueTask<Result> WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default) => No();
        public ValueTask<Result> TruncateAsync(long length, CancellationToken ct = default) => No();
    }
}
