namespace Photon.Kernel.Io;

/// <summary>
/// Large transfers split into chunks that are in flight together, so a multi-queue device (NVMe-style: several queue
/// pairs, each running its batch concurrently) sees queue depth greater than one. Every call returns only once all
/// its requests have completed, so nothing is left in flight after an error.
/// </summary>
public static class ParallelBlockIo
{
    /// <summary>Bytes per request: large enough that per-request overhead is small, small enough to spread a 1 MiB
    /// run over several queue slots.</summary>
    public const int ChunkBytes = 256 * 1024;

    /// <summary>Requests one call keeps in flight (bounded, so a huge buffer does not become thousands of tasks).</summary>
    public const int MaxInFlight = 16;

    /// <summary>Reads buffer.Length / SectorSize whole sectors at <paramref name="lba"/>.</summary>
    public static ValueTask<Result> ReadAsync(IBlockDevice device, long lba, Memory<byte> buffer, CancellationToken ct = default) =>
        buffer.Length <= ChunkBytes
            ? device.ReadAsync(lba, buffer, ct)
            : RunAsync(device, lba, buffer.Length, (at, chunk) => device.ReadAsync(at, buffer.Slice(chunk.Offset, chunk.Length), ct));

    /// <summary>Writes data.Length / SectorSize whole sectors at <paramref name="lba"/>.</summary>
    public static ValueTask<Result> WriteAsync(IBlockDevice device, long lba, ReadOnlyMemory<byte> data, CancellationToken ct = default) =>
        data.Length <= ChunkBytes
            ? device.WriteAsync(lba, data, ct)
            : RunAsync(device, lba, data.Length, (at, chunk) => device.WriteAsync(at, data.Slice(chunk.Offset, chunk.Length), ct));

    /// <summary>Awaits every operation (all of them, even after one failed) and returns the first failure.</summary>
    public static async ValueTask<Result> WhenAllAsync(IReadOnlyList<Task<Result>> operations)
    {
        Result first = Result.Ok;
        foreach (var op in operations)
        {
            var r = await op.ConfigureAwait(false);
            if (!r.IsOk && first.IsOk) first = r;
        }
        return first;
    }

    private static async ValueTask<Result> RunAsync(IBlockDevice device, long lba, int length,
        Func<long, (int Offset, int Length), ValueTask<Result>> issue)
    {
        int sector = device.SectorSize;
        if (sector <= 0 || length % sector != 0)
            return Result.Fail(ErrorCode.InvalidArgument, $"length {length} is not a multiple of the {sector}-byte sector");
        int chunk = Math.Max(sector, ChunkBytes / sector * sector);
        var inFlight = new Queue<Task<Result>>();
        Result first = Result.Ok;
        for (int done = 0; done < length && first.IsOk; done += chunk)
        {
            if (inFlight.Count == MaxInFlight)
            {
                var r = await inFlight.Dequeue().ConfigureAwait(false);
                if (!r.IsOk) { first = r; break; }
            }
            int n = Math.Min(chunk, length - done);
            inFlight.Enqueue(issue(lba + done / sector, (done, n)).AsTask());
        }
        while (inFlight.Count > 0)
        {
            var r = await inFlight.Dequeue().ConfigureAwait(false);
            if (!r.IsOk && first.IsOk) first = r;
        }
        return first;
    }
}
