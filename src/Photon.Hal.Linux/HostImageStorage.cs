using Microsoft.Win32.SafeHandles;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IBlockStorage"/>: a disk image file accessed with asynchronous positional I/O.</summary>
public sealed class HostImageStorage : IBlockStorage
{
    private readonly SafeFileHandle _handle;

    private HostImageStorage(string path, SafeFileHandle handle, bool readOnly)
    {
        Name = path;
        _handle = handle;
        IsReadOnly = readOnly;
    }

    public string Name { get; }
    public bool IsReadOnly { get; }
    public long Length => RandomAccess.GetLength(_handle);

    /// <summary>Opens an existing image file.</summary>
    public static Result<HostImageStorage> Open(string path, bool readOnly = false)
    {
        try
        {
            var handle = File.OpenHandle(path, FileMode.Open, readOnly ? FileAccess.Read : FileAccess.ReadWrite,
                readOnly ? FileShare.ReadWrite : FileShare.Read, FileOptions.Asynchronous);
            return new HostImageStorage(path, handle, readOnly);
        }
        catch (FileNotFoundException) { return Errors.Of(ErrorCode.NotFound, $"image '{path}' does not exist"); }
        catch (DirectoryNotFoundException) { return Errors.Of(ErrorCode.NotFound, $"image '{path}' does not exist"); }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }

    /// <summary>Creates (or truncates) a sparse image file of <paramref name="length"/> bytes.</summary>
    public static Result<HostImageStorage> Create(string path, long length)
    {
        if (length <= 0) return Errors.Of(ErrorCode.InvalidArgument, "image length must be positive");
        try
        {
            var handle = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite, FileShare.Read, FileOptions.Asynchronous);
            RandomAccess.SetLength(handle, length);
            return new HostImageStorage(path, handle, false);
        }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = await RandomAccess.ReadAsync(_handle, buffer[total..], offset + total, cancellationToken).ConfigureAwait(false);
                if (n == 0) break;
                total += n;
            }
            return total;
        }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask WriteAsync(long offset, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        if (IsReadOnly) throw new KernelException(ErrorCode.ReadOnly, $"{Name} is read-only");
        try { await RandomAccess.WriteAsync(_handle, data, offset, cancellationToken).ConfigureAwait(false); }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        try { RandomAccess.FlushToDisk(_handle); }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        _handle.Dispose();
        return ValueTask.CompletedTask;
    }
}
