using System.Threading.Channels;
using Photon.Kernel.Hal;

namespace Photon.Net.Tests;

/// <summary>Two network devices joined by an in-memory cable with seeded loss, reordering and duplication, so the
/// two-stack tests exercise retransmission and reassembly deterministically enough to debug.</summary>
public sealed class WireEnd(string name, byte[] mac) : INetworkDevice
{
    internal readonly Channel<byte[]> Inbox = Channel.CreateUnbounded<byte[]>();
    internal WireEnd? Peer;
    internal double Loss, Reorder, Duplicate;
    internal Random Rng = new(1);
    private byte[]? _held;
    internal long Sent;
    /// <summary>When set, every frame this end transmits is kept (for independent decoding in tests).</summary>
    internal System.Collections.Concurrent.ConcurrentQueue<byte[]>? Capture;
    /// <summary>When set, frames it returns true for are lost (deterministic loss for tests).</summary>
    internal Func<byte[], bool>? Drop;

    public string Name => name;
    public ReadOnlyMemory<byte> MacAddress => mac;
    public int Mtu { get; init; } = 1500;

    public static (WireEnd A, WireEnd B) Pair(double loss = 0, int seed = 1, double reorder = 0, double duplicate = 0, int mtu = 1500)
    {
        var a = new WireEnd("wire0", [2, 0, 0, 0, 0, 1]) { Loss = loss, Reorder = reorder, Duplicate = duplicate, Rng = new Random(seed), Mtu = mtu };
        var b = new WireEnd("wire1", [2, 0, 0, 0, 0, 2]) { Loss = loss, Reorder = reorder, Duplicate = duplicate, Rng = new Random(seed + 1), Mtu = mtu };
        a.Peer = b;
        b.Peer = a;
        return (a, b);
    }

    public ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        Interlocked.Increment(ref Sent);
        Capture?.Enqueue(frame.ToArray());
        lock (Rng)
        {
            if (Drop?.Invoke(frame.ToArray()) == true || Rng.NextDouble() < Loss) return ValueTask.CompletedTask;
            var copy = frame.ToArray();
            if (_held is null && Rng.NextDouble() < Reorder) { _held = copy; return ValueTask.CompletedTask; } // overtaken by the next frame
            Peer!.Inbox.Writer.TryWrite(copy);
            if (Rng.NextDouble() < Duplicate) Peer.Inbox.Writer.TryWrite(copy);
            if (_held is not null) { Peer.Inbox.Writer.TryWrite(_held); _held = null; }
        }
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

/// <summary>Two started stacks on one wire, 10.9.0.1 (left) and 10.9.0.2 (right).</summary>
public sealed class TwoStacks : IAsyncDisposable
{
    public static readonly Photon.Kernel.Hal.Host.HostTimers Timers = new(new Photon.Kernel.Hal.Host.HostClock());
    public NetworkStack Left { get; }
    public NetworkStack Right { get; }
    public WireEnd A { get; }
    public WireEnd B { get; }

    public TwoStacks(double loss = 0, int seed = 1, double reorder = 0, double duplicate = 0, NetworkStackOptions? options = null, int mtu = 1500, bool sack = true)
    {
        (A, B) = WireEnd.Pair(loss, seed, reorder, duplicate, mtu);
        options ??= new NetworkStackOptions { TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200), TcpSack = sack };
        Left = new NetworkStack(Timers, options);
        Right = new NetworkStack(Timers, options);
        Left.AddInterface(A, Ipv4Cidr.Parse("10.9.0.1/24").Value).Unwrap();
        Right.AddInterface(B, Ipv4Cidr.Parse("10.9.0.2/24").Value).Unwrap();
        Left.Start();
        Right.Start();
    }

    public static Ipv4Address Ip(string s) => Ipv4Address.Parse(s).Value;

    /// <summary>A TCP connection from left to a listener on right's <paramref name="port"/>.</summary>
    public async Task<(Tcp.TcpConnection Client, Tcp.TcpConnection Server, Tcp.TcpListener Listener)> ConnectAsync(ushort port)
    {
        var listener = Right.Tcp.Listen(port).Value;
        var accept = listener.AcceptAsync();
        var client = (await Left.Tcp.ConnectAsync(new IpEndpoint(Ip("10.9.0.2"), port))).Value;
        var server = (await accept).Value;
        return (client, server, listener);
    }

    public async ValueTask DisposeAsync()
    {
        await Left.DisposeAsync();
        await Right.DisposeAsync();
        // A bug in the stack is caught and counted rather than killing its loops; no test may trip one.
        Assert.True(Left.Dropped(DropReason.InternalError) == 0, $"left stack internal error: {Left.LastInternalError}");
        Assert.True(Right.Dropped(DropReason.InternalError) == 0, $"right stack internal error: {Right.LastInternalError}");
        Assert.Equal(0, Left.Dropped(DropReason.TooBigToSend) + Right.Dropped(DropReason.TooBigToSend));
    }
}
