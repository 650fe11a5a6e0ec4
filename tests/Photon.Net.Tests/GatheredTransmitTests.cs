using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Hal;
using Photon.Net.Tcp;
using Photon.Net.Wire;
using static Photon.Net.Tests.StackTests;

namespace Photon.Net.Tests;

/// <summary>
/// A test NIC that gathers (<see cref="NetworkOffloads.ScatterGather"/>) with checksum offload, as the AF_PACKET device
/// does with sendmmsg iovecs: a gathered frame is read from its pieces — the headers and the payload where it lies in
/// the sender's send buffer — at the moment the NIC sends it, the partial checksum finished over those bytes, and a
/// plain frame handed to the wire. It can replay an old gathered frame later, read from its pieces again then.
/// </summary>
internal sealed class GatheringDevice(WireEnd inner) : INetworkDevice, INetworkOffloads
{
    public long GatheredFrames, WholeDataFrames, Withdrawn;
    /// <summary>Keep every frame that carries lent memory (it holds a <see cref="TxLease"/>) after sending a copy of it, as
    /// a slow queue still holding it would: <see cref="ReadKept"/> reads them later.</summary>
    public bool KeepLeased;
    private readonly List<ReadOnlyMemory<byte>> _keptLeased = new();
    /// <summary>When set: the first frame carrying lent memory from this gathered frame on is left "being read" (its
    /// lease entered, a copy in progress) until <see cref="FinishHeldRead"/>.</summary>
    public int HoldReadAt = -1;
    private TxLease? _held;
    /// <summary>When set: the gathered frame with this number is kept, and replayed (read again from its pieces) just
    /// before the gathered frame numbered <see cref="ReplayAt"/> goes out.</summary>
    public int KeepAt = -1, ReplayAt = -1;
    public byte[]? KeptBytes, ReplayedBytes;
    private ReadOnlyMemory<byte> _kept;
    private readonly HashSet<byte[]> _payloadArrays = new(ReferenceEqualityComparer.Instance);

    /// <summary>Whether a gathered frame's payload referenced <paramref name="array"/> (the caller's memory).</summary>
    public bool SawPayloadIn(byte[] array) { lock (_payloadArrays) return _payloadArrays.Contains(array); }

    public string Name => inner.Name;
    public ReadOnlyMemory<byte> MacAddress => inner.MacAddress;
    public int Mtu => inner.Mtu;
    public NetworkOffloads Offloads => NetworkOffloads.TcpChecksum | NetworkOffloads.ScatterGather;
    public int LargestReceivedFrame => inner.Mtu + 14;

    public async ValueTask SendAsync(ReadOnlyMemory<byte> frame, CancellationToken ct = default)
    {
        byte[] bytes;
        if (OffloadedFrame.TryGetGathered(frame, out var headers, out var first, out var second, out var lease))
        {
            long n = Interlocked.Increment(ref GatheredFrames);
            if (n == ReplayAt && !_kept.IsEmpty && Gather(_kept) is { } replayed)
            {
                ReplayedBytes = replayed;
                await inner.SendAsync(Finish(_kept, ReplayedBytes), ct);
            }
            if (lease is not null && !lease.TryEnter()) { Interlocked.Increment(ref Withdrawn); return; } // dropped unread
            try { bytes = [.. headers, .. first.Span, .. second.Span]; }
            finally
            {
                if (lease is not null && HoldReadAt >= 0 && n >= HoldReadAt && _held is null) _held = lease; // still "reading"
                else lease?.Exit();
            }
            if (lease is not null && KeepLeased) lock (_keptLeased) _keptLeased.Add(frame);
            lock (_payloadArrays)
                foreach (var piece in new[] { first, second })
                    if (System.Runtime.InteropServices.MemoryMarshal.TryGetArray(piece, out var segment) && segment.Array is { } array)
                        _payloadArrays.Add(array);
            if (n == KeepAt) { _kept = frame; KeptBytes = bytes.ToArray(); }
        }
        else
        {
            bytes = frame.ToArray();
            if (bytes.Length > Ipv4Frame.TransportAt + 20 && bytes[23] == 6 && bytes.Length - Ipv4Frame.TransportAt > (bytes[Ipv4Frame.TransportAt + 12] >> 4) * 4)
                Interlocked.Increment(ref WholeDataFrames);
        }
        await inner.SendAsync(Finish(frame, bytes), ct);
    }

    /// <summary>The frame read from its pieces now, inside its lease (null: withdrawn, not read).</summary>
    private byte[]? Gather(ReadOnlyMemory<byte> frame)
    {
        Assert.True(OffloadedFrame.TryGetGathered(frame, out var headers, out var first, out var second, out var lease));
        if (lease is not null && !lease.TryEnter()) { Interlocked.Increment(ref Withdrawn); return null; }
        try { return [.. headers, .. first.Span, .. second.Span]; }
        finally { lease?.Exit(); }
    }

    /// <summary>The slow queue gets to the frames it kept (<see cref="KeepLeased"/>): each is read from its pieces now,
    /// as a device would; returns what was read (withdrawn frames are dropped unread and counted).</summary>
    public List<byte[]> ReadKept()
    {
        List<ReadOnlyMemory<byte>> kept;
        lock (_keptLeased) { kept = [.. _keptLeased]; _keptLeased.Clear(); }
        KeptLeased += kept.Count;
        return kept.Select(Gather).OfType<byte[]>().ToList();
    }

    /// <summary>Frames <see cref="ReadKept"/> went through.</summary>
    public int KeptLeased;

    /// <summary>Ends the read <see cref="HoldReadAt"/> left in progress.</summary>
    public bool FinishHeldRead()
    {
        var held = Interlocked.Exchange(ref _held, null);
        held?.Exit();
        return held is not null;
    }

    /// <summary>The NIC's part of a partial checksum: the sum from csum_start (the field holds the pseudo-header sum).</summary>
    private static byte[] Finish(ReadOnlyMemory<byte> frame, byte[] bytes)
    {
        var request = OffloadedFrame.TryGet(frame);
        Assert.True(request.IsOk, request.ToString());
        var o = request.Value;
        if (o.ChecksumOffset != 0)
            BinaryPrimitives.WriteUInt16BigEndian(bytes.AsSpan(o.ChecksumStart + o.ChecksumOffset), InternetChecksum.Compute(bytes.AsSpan(o.ChecksumStart)));
        return bytes;
    }

    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReceiveAsync(buffer, ct);
    public ValueTask DisposeAsync() => inner.DisposeAsync();
}

/// <summary>TCP payloads handed to a gathering device by reference into the send buffer (issue #11: one copy fewer on
/// the send path): exact streams, a frame replayed after its bytes were acknowledged and overwritten, frames that wait
/// for ARP copied whole, and the frame token's own bounds.</summary>
public sealed class GatheredTransmitTests
{
    private static async Task<(NetworkStack Left, NetworkStack Right, GatheringDevice Nic)> Stacks(NetworkStackOptions options)
    {
        var (a, b) = WireEnd.Pair();
        var nic = new GatheringDevice(a);
        var left = new NetworkStack(TwoStacks.Timers, options);
        var right = new NetworkStack(TwoStacks.Timers, options);
        var leftNic = left.AddInterface(nic, Ipv4Cidr.Parse("10.9.11.1/24").Value).Value;
        right.AddInterface(b, Ipv4Cidr.Parse("10.9.11.2/24").Value).Unwrap();
        Assert.Equal(nic.Offloads, leftNic.Offloads);
        left.Start();
        right.Start();
        await Task.CompletedTask;
        return (left, right, nic);
    }

    private static async Task<byte[]> Transfer(NetworkStack left, NetworkStack right, byte[] data, ushort port)
    {
        await using var listener = right.Tcp.Listen(port).Value;
        var accept = listener.AcceptAsync();
        var client = (await left.Tcp.ConnectAsync(new IpEndpoint(Ipv4Address.Parse("10.9.11.2").Value, port)).WaitAsync(TimeSpan.FromSeconds(30))).Value;
        var server = (await accept.WaitAsync(TimeSpan.FromSeconds(30))).Value;
        var send = Task.Run(async () =>
        {
            Assert.True((await client.SendAsync(data)).IsOk);
            await client.CloseAsync();
        });
        var got = await ReadAll(server).WaitAsync(TimeSpan.FromSeconds(120));
        await send.WaitAsync(TimeSpan.FromSeconds(60));
        return got;
    }

    [Fact]
    public async Task Payloads_go_to_a_gathering_nic_by_reference_and_arrive_exact()
    {
        var options = new NetworkStackOptions { TcpLendLargeSends = false, TcpMinRto = TimeSpan.FromMilliseconds(50) };
        var (left, right, nic) = await Stacks(options);
        await using (left)
        await using (right)
        {
            var data = RandomNumberGenerator.GetBytes(4 << 20);
            var got = await Transfer(left, right, data, 8111);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
            Assert.True(nic.GatheredFrames >= data.Length / 1460, $"{nic.GatheredFrames} gathered frames for {data.Length} bytes");
            Assert.Equal(0, nic.WholeDataFrames); // no payload was copied into a frame
            Assert.True(left[Counter.TcpPayloadBytesByReference] >= data.Length);
            Assert.Equal(0, left[Counter.TcpPayloadBytesCopiedOut]);
            Assert.Equal(0, right.Dropped(DropReason.BadChecksum));
        }
    }

    [Fact]
    public async Task Over_ipv6_payloads_go_by_reference_too_and_arrive_exact()
    {
        var options = new NetworkStackOptions { TcpLendLargeSends = false, TcpMinRto = TimeSpan.FromMilliseconds(50), Ipv6RetransTimer = TimeSpan.FromMilliseconds(50) };
        var (left, right, nic) = await Stacks(options);
        await using (left)
        await using (right)
        {
            var leftIp = Ipv6Address.Parse("fd00:11::1").Value;
            var rightIp = Ipv6Address.Parse("fd00:11::2").Value;
            left.AddIpv6Address(left.Interfaces[0], new Ipv6Cidr(leftIp, 64)).Unwrap();
            right.AddIpv6Address(right.Interfaces[0], new Ipv6Cidr(rightIp, 64)).Unwrap();
            await WaitUntil(() => left.Ipv6Addresses.Concat(right.Ipv6Addresses).All(x => x.Address.State == Ipv6AddressState.Preferred), 30_000);
            await using var listener = right.Tcp.Listen(8114).Value;
            var accept = listener.AcceptAsync();
            var client = (await left.Tcp.ConnectAsync(new IpEndpoint(rightIp, 8114)).WaitAsync(TimeSpan.FromSeconds(30))).Value;
            var server = (await accept.WaitAsync(TimeSpan.FromSeconds(30))).Value;
            var data = RandomNumberGenerator.GetBytes(2 << 20);
            var send = Task.Run(async () =>
            {
                Assert.True((await client.SendAsync(data)).IsOk);
                await client.CloseAsync();
            });
            var got = await ReadAll(server).WaitAsync(TimeSpan.FromSeconds(120));
            await send.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
            Assert.True(left[Counter.TcpPayloadBytesByReference] >= data.Length);
            Assert.Equal(0, left[Counter.TcpPayloadBytesCopiedOut]);
            Assert.Equal(0, right.Dropped(DropReason.BadChecksum));
        }
    }

    [Fact]
    public async Task A_gathered_frame_replayed_after_its_bytes_were_acknowledged_and_overwritten_does_not_corrupt_the_stream()
    {
        // A 64 KiB send buffer is overwritten many times over in 4 MiB: by the 1,000th frame the 10th frame's bytes were
        // acknowledged long ago and hold later data. The peer has those sequence numbers and discards the replay.
        var options = new NetworkStackOptions { TcpLendLargeSends = false, TcpMinRto = TimeSpan.FromMilliseconds(50), TcpSendBuffer = 64 << 10, TcpSendBufferMax = 64 << 10 };
        var (left, right, nic) = await Stacks(options);
        nic.KeepAt = 10;
        nic.ReplayAt = 1000;
        await using (left)
        await using (right)
        {
            var data = RandomNumberGenerator.GetBytes(4 << 20);
            var got = await Transfer(left, right, data, 8112);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
            Assert.NotNull(nic.KeptBytes);
            Assert.NotNull(nic.ReplayedBytes);
            Assert.Equal(nic.KeptBytes!.Length, nic.ReplayedBytes!.Length);
            Assert.False(nic.KeptBytes.AsSpan().SequenceEqual(nic.ReplayedBytes), "the replayed frame's payload was not overwritten: the test proves nothing");
        }
    }

    [Fact]
    public async Task Frames_that_wait_for_arp_are_copied_whole_and_the_stream_stays_exact()
    {
        // Every neighbour entry is stale at once, so data frames keep waiting for ARP: a waiting frame must not hold the
        // send buffer's bytes, and goes out whole (the NIC sees plain frames carrying payload).
        var options = new NetworkStackOptions { TcpLendLargeSends = false, TcpMinRto = TimeSpan.FromMilliseconds(50), ArpEntryLifetime = TimeSpan.FromTicks(1) };
        var (left, right, nic) = await Stacks(options);
        await using (left)
        await using (right)
        {
            var data = RandomNumberGenerator.GetBytes(256 << 10);
            var got = await Transfer(left, right, data, 8113);
            Assert.Equal(SHA256.HashData(data), SHA256.HashData(got));
            Assert.True(nic.WholeDataFrames > 0, "no data frame waited for ARP");
        }
    }

    [Fact]
    public void The_gathered_frame_token_checks_its_bounds_and_reads_whole_when_asked()
    {
        var headers = new byte[] { 1, 2, 3 };
        var ring = new byte[] { 10, 11, 12, 13, 14, 15 };
        var offload = new TxOffload(34, 16);
        var frame = OffloadedFrame.WrapGathered(headers, ring.AsMemory(4, 2), ring.AsMemory(0, 3), offload);
        Assert.Equal(8, frame.Length);
        Assert.Equal(offload, OffloadedFrame.TryGet(frame).Value);
        Assert.True(OffloadedFrame.TryGetGathered(frame, out var h, out var first, out var second, out var lease));
        Assert.Null(lease);
        Assert.Same(headers, h);
        Assert.Equal(new byte[] { 14, 15 }, first.ToArray());
        Assert.Equal(new byte[] { 10, 11, 12 }, second.ToArray());
        // A consumer that cannot gather reads it as one frame, copied together once.
        Assert.Equal(new byte[] { 1, 2, 3, 14, 15, 10, 11, 12 }, frame.ToArray());
        using (frame.Pin()) Assert.Equal(frame.ToArray(), frame.Span.ToArray());
        // A slice is neither gathered nor a valid offload request.
        Assert.False(OffloadedFrame.TryGetGathered(frame[1..], out _, out _, out _, out _));
        Assert.Equal(ErrorCode.InvalidArgument, OffloadedFrame.TryGet(frame[1..]).Code);
        // A plain offloaded frame is not gathered.
        Assert.False(OffloadedFrame.TryGetGathered(OffloadedFrame.Wrap(new byte[60], offload), out _, out _, out _, out _));
        // Larger than any TSO frame: refused.
        Assert.Throws<ArgumentOutOfRangeException>(() => OffloadedFrame.WrapGathered(new byte[100], new byte[ushort.MaxValue], default, offload));
    }

    [Fact]
    public void The_send_buffer_lends_a_wrapped_range_as_two_pieces_and_refuses_ranges_it_does_not_hold()
    {
        var ring = new ByteRing(4096);
        var data = RandomNumberGenerator.GetBytes(3000);
        Assert.Equal(3000, ring.Write(data));
        ring.Discard(2500);
        var more = RandomNumberGenerator.GetBytes(3000);
        Assert.Equal(3000, ring.Write(more)); // wraps in the 4 KiB storage
        var lent = ring.PeekByReference(100, 3300);
        Assert.False(lent.Second.IsEmpty);
        var copied = new byte[3300];
        ring.Peek(100, copied);
        Assert.Equal(copied, (byte[])[.. lent.First.Span, .. lent.Second.Span]);
        Assert.Equal(3300, lent.Length);
        Assert.True(ring.PeekByReference(0, 0).IsEmpty);
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.PeekByReference(0, 3501));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.PeekByReference(-1, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.PeekByReference(3400, int.MaxValue));
    }
}
