namespace Photon.Kernel.Hal.Host;

/// <summary>Host backend of <see cref="IAppendLogStorage"/>: a file opened for append, fsync on flush, and a
/// "&lt;file&gt;.head" sidecar replaced with write-to-temp + rename (atomic on POSIX).</summary>
public sealed class HostAppendLog : IAppendLogStorage
{
    private readonly FileStream _stream;
    private readonly string _headPath;

    private HostAppendLog(string path, FileStream stream)
    {
        Name = path;
        _stream = stream;
        _headPath = path + ".head";
    }

    public string Name { get; }
    public long Length => _stream.Length;

    public static Result<HostAppendLog> Open(string path)
    {
        try
        {
            var s = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.Read, 4096, FileOptions.Asynchronous);
            s.Seek(0, SeekOrigin.End);
            return new HostAppendLog(path, s);
        }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }

    /// <summary>Opens an existing log for reading and verification only.</summary>
    public static Result<HostAppendLog> OpenExisting(string path)
    {
        if (!File.Exists(path)) return Errors.Of(ErrorCode.NotFound, $"no audit log at '{path}'");
        try
        {
            var s = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 4096, FileOptions.Asynchronous);
            return new HostAppendLog(path, s);
        }
        catch (UnauthorizedAccessException e) { return Errors.Of(ErrorCode.AccessDenied, e.Message); }
        catch (IOException e) { return Errors.Of(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        try
        {
            _stream.Seek(0, SeekOrigin.End);
            await _stream.WriteAsync(data, ct).ConfigureAwait(false);
        }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask FlushAsync(CancellationToken ct = default)
    {
        try
        {
            await _stream.FlushAsync(ct).ConfigureAwait(false);
            _stream.Flush(flushToDisk: true);
        }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        try { return await RandomAccess.ReadAsync(_stream.SafeFileHandle, buffer, offset, ct).ConfigureAwait(false); }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask WriteHeadAsync(ReadOnlyMemory<byte> head, CancellationToken ct = default)
    {
        var tmp = _headPath + ".tmp";
        try
        {
            await using (var f = new FileStream(tmp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            {
                await f.WriteAsync(head, ct).ConfigureAwait(false);
                f.Flush(flushToDisk: true);
            }
            File.Move(tmp, _headPath, overwrite: true);
        }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public async ValueTask<byte[]?> ReadHeadAsync(CancellationToken ct = default)
    {
        try { return File.Exists(_headPath) ? await File.ReadAllBytesAsync(_headPath, ct).ConfigureAwait(false) : null; }
        catch (IOException e) { throw new KernelException(ErrorCode.IoError, e.Message); }
    }

    public ValueTask DisposeAsync() => _stream.DisposeAsync();
}
