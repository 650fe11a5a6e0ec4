namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IAtomicRecord"/>: a file replaced by write-to-temp, fsync, rename (atomic on
/// POSIX). Created owner-only (0600): the record is small but it is security state.</summary>
public sealed class HostAtomicFile(string path) : IAtomicRecord
{
    public const long MaxBytes = 64 * 1024;

    public string Name { get; } = path;

    public async ValueTask<byte[]?> ReadAsync(CancellationToken ct = default)
    {
        try
        {
            var info = new FileInfo(Name);
            if (!info.Exists) return null;
            if (info.Length > MaxBytes) throw new KernelException(ErrorCode.Corrupted, $"'{Name}' is larger than {MaxBytes} bytes");
            return await File.ReadAllBytesAsync(Name, ct).ConfigureAwait(false);
        }
        catch (UnauthorizedAccessException e) { throw new KernelException(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        var tmp = Name + ".tmp";
        try
        {
            File.Delete(tmp); // a stale temp from a crash would keep its old mode
            await using (var f = new FileStream(tmp, OwnerOnlyFile.CreateOptions(FileMode.CreateNew)))
            {
                await f.WriteAsync(data, ct).ConfigureAwait(false);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, Name, overwrite: true);
        }
        catch (UnauthorizedAccessException e) { throw new KernelException(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }
}
