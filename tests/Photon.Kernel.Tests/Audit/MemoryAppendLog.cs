using Photon.Kernel.Hal;

namespace Photon.Kernel.Tests.Audit;

/// <summary>An in-memory <see cref="IAppendLogStorage"/> whose appends can be made slow, to stand in for a disk that
/// cannot keep up with the kernel.</summary>
internal sealed class MemoryAppendLog(TimeSpan appendDelay = default) : IAppendLogStorage
{
    private readonly MemoryStream _data = new();
    private byte[]? _head;

    public string Name => "memory";
    public long Length { get { lock (_data) return _data.Length; } }
    public int Appends { get; private set; }

    public async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken ct = default)
    {
        if (appendDelay > TimeSpan.Zero) await Task.Delay(appendDelay, ct);
        lock (_data)
        {
            _data.Seek(0, SeekOrigin.End);
            _data.Write(data.Span);
            Appends++;
        }
    }

    public ValueTask FlushAsync(CancellationToken ct = default) => ValueTask.CompletedTask;

    public ValueTask<int> ReadAsync(long offset, Memory<byte> buffer, CancellationToken ct = default)
    {
        lock (_data)
        {
            var all = _data.GetBuffer().AsSpan(0, (int)_data.Length);
            if (offset >= all.Length) return ValueTask.FromResult(0);
            var n = Math.Min(buffer.Length, all.Length - (int)offset);
            all.Slice((int)offset, n).CopyTo(buffer.Span);
            return ValueTask.FromResult(n);
        }
    }

    public ValueTask WriteHeadAsync(ReadOnlyMemory<byte> head, CancellationToken ct = default)
    {
        _head = head.ToArray();
        return ValueTask.CompletedTask;
    }

    public ValueTask<byte[]?> ReadHeadAsync(CancellationToken ct = default) => ValueTask.FromResult(_head);

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
