namespace Photon.Kernel.FileSystems;

/// <summary>
/// One-shot path calls for tools and tests (open, one call on the node, release). Anything that reads or writes a
/// file more than once should keep the node from <see cref="IFileSystem.OpenAsync"/> instead.
/// </summary>
public static class FileSystemPaths
{
    public static async ValueTask<Result<int>> ReadAsync(this IFileSystem fs, string path, long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        var node = await fs.OpenAsync(path, ct).ConfigureAwait(false);
        if (!node.IsOk) return node.Error;
        try { return await node.Value.ReadAsync(offset, buffer, ct).ConfigureAwait(false); }
        finally { node.Value.Release(); }
    }

    public static async ValueTask<Result> WriteAsync(this IFileSystem fs, string path, long offset, ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        var node = await fs.OpenAsync(path, ct).ConfigureAwait(false);
        if (!node.IsOk) return node.Error;
        try { return await node.Value.WriteAsync(offset, data, ct).ConfigureAwait(false); }
        finally { node.Value.Release(); }
    }

    public static async ValueTask<Result> TruncateAsync(this IFileSystem fs, string path, long length, CancellationToken ct = default)
    {
        var node = await fs.OpenAsync(path, ct).ConfigureAwait(false);
        if (!node.IsOk) return node.Error;
        try { return await node.Value.TruncateAsync(length, ct).ConfigureAwait(false); }
        finally { node.Value.Release(); }
    }
}
