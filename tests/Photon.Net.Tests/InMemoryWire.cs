using System.Threading.Channels;
using Photon.Kernel.Hal;

namespace Photon.Net.Tests;

/// <summary>Two network devices joined by an in-memory cable (seeded loss for the two-stack tests).</summary>
public sealed class WireEnd(string name, byte[] mac) : INetworkDevice
{
    internal readonly Channel<byte[]> Inbox = Channel.CreateUnbounded<byte[]>();
    internal WireEnd? Peer;
    internal double Loss;
    internal Random Rng = new(1);

    public string Name => name;
    public ReadOnlyMemory<byte> MacAddress => mac;
    public int Mtu => 1500;

    public static (WireEnd A, WireEnd B) Pair(double loss = 0, int seed = 1)
    {
        var a = new WireEnd("wire0", [2, 0, 0, 0, 0, 1]) { Loss = loss, Rng = new Random(seed) };
        var b = new WireEnd("wire1", [2, 0, 0, 0, 0, 2]) { Loss = loss, Rng = new Random(seed + 1) };
        a.Peer = b;
        b.Peer = a;
        return (a, b);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        lock (Rng) if (Rng.NextDouble() < Loss) return ValueTask.CompletedTask;
        Peer!.Inbox.Writer.TryWrite(frame.ToArray());
        return ValueTask.CompletedTask;
    }

    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default)
    {
        var f = await Inbox.Reader.ReadAsync(ct);
        f.AsSpan(0, Math.Min(f.Length, buffer.Length)).CopyTo(buffer.Span);
        return Math.Min(f.Length, buffer.Length);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
