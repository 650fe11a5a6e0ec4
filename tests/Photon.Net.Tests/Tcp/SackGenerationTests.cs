using System.Buffers.Binary;
using System.Collections.Concurrent;
using static Photon.Net.Tests.DataSegmentDropper;
using static Photon.Net.Tests.TwoStacks;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #15, the SACK information each end sends and what it counts as a duplicate ACK, with deterministic drops
/// and injected frames on the in-memory wire: as a receiver, the blocks follow RFC 2018 (the triggering island first,
/// then the most recently reported ones; four without timestamps) and data received twice is reported in an RFC 2883
/// D-SACK; as a sender, an ACK that SACKs nothing new (a receiver's window update) is no duplicate (RFC 6675 §2).
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class SackGenerationTests
{
    private sealed record Seg(uint Seq, uint Ack, int Payload, ushort Window, uint TsVal, uint TsEcr, (uint Left, uint Right)[] Sack, ushort SourcePort, ushort DestinationPort);

    private static Seg? Parse(byte[] f)
    {
        if (f.Length < 54 || f[12] != 8 || f[13] != 0 || f[23] != 6) return null;
        int tcp = 14 + (f[14] & 0xF) * 4;
        int header = (f[tcp + 12] >> 4) * 4;
        int payload = (f[16] << 8 | f[17]) - (f[14] & 0xF) * 4 - header;
        uint tsVal = 0, tsEcr = 0;
        var sack = new List<(uint, uint)>();
        for (int o = tcp + 20; o < tcp + header;)
        {
            byte kind = f[o];
            if (kind == 0) break;
            if (kind == 1) { o++; continue; }
            int len = f[o + 1];
            if (kind == 8) { tsVal = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(o + 2)); tsEcr = BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(o + 6)); }
            if (kind == 5)
                for (int b = o + 2; b + 8 <= o + len; b += 8)
                    sack.Add((BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(b)), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(b + 4))));
            o += len;
        }
        return new Seg(BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(tcp + 4)), BinaryPrimitives.ReadUInt32BigEndian(f.AsSpan(tcp + 8)), payload,
            BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(tcp + 14)), tsVal, tsEcr, sack.ToArray(),
            BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(tcp)), BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(tcp + 2)));
    }

    private static async Task WaitFor(Func<bool> condition, string what)
    {
        for (var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30); !condition(); await Task.Delay(5))
            Assert.True(DateTime.UtcNow < deadline, "timed out waiting for " + what);
    }

    /// <summary>Left sends 12 segments and the first transmissions of 1, 3, 5 and 7 are lost; returns the right end's
    /// ACKs (as sent) and the stream's first sequence number, once all data arrived.</summary>
    private static async Task<(List<Seg> Acks, uint First)> Islands(bool timestamps)
    {
        var options = new NetworkStackOptions { TcpMinRto = TimeSpan.FromSeconds(5), TcpMsl = TimeSpan.FromMilliseconds(200), TcpTimestamps = timestamps };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7610);
        await using var listening = listener;
        int mss = timestamps ? Mss : Mss + 12;
        uint? first = null;
        var sent = new ConcurrentDictionary<uint, int>();
        s.A.Drop = f =>
        {
            if (Parse(f) is not { Payload: > 0 } seg) return false;
            first ??= seg.Seq;
            uint offset = seg.Seq - first.Value;
            return sent.AddOrUpdate(offset, 1, (_, n) => n + 1) == 1 && offset % mss == 0 && (offset / mss) is 1 or 3 or 5 or 7;
        };
        var acks = new ConcurrentQueue<byte[]>();
        s.B.Capture = acks;
        var data = new byte[12 * mss];
        new Random(2018).NextBytes(data);
        var send = client.SendAsync(data);
        var got = new byte[data.Length];
        int n = 0;
        while (n < got.Length) n += (await server.ReceiveAsync(got.AsMemory(n)).WaitAsync(TimeSpan.FromSeconds(30))).Value;
        Assert.True((await send).IsOk);
        Assert.Equal(data, got);
        return (acks.Select(Parse).OfType<Seg>().Where(a => a.Payload == 0).ToList(), first!.Value);
    }

    [Fact]
    public async Task Sack_blocks_name_the_triggering_island_first_then_the_most_recent_ones()
    {
        var (acks, first) = await Islands(timestamps: true);
        uint At(int segment) => first + (uint)(segment * Mss);
        // Segment 9's arrival extends the island [8, 10): that island first, then the islands of the arrivals before it
        // (6, then 4) — not the lowest ones (2, 4), which the sender already heard of.
        var ack = acks.FirstOrDefault(a => a.Sack.Length > 0 && a.Sack[0] == (At(8), At(10)));
        Assert.True(ack is not null, "no ACK reported [8, 10) first: " + string.Join(" | ", acks.Select(a => string.Join(" ", a.Sack.Select(b => $"{(b.Left - first) / Mss}-{(b.Right - first) / Mss}")))));
        Assert.Equal([(At(8), At(10)), (At(6), At(7)), (At(4), At(5))], ack!.Sack);
        Assert.All(acks, a => Assert.True(a.Sack.Length <= 3)); // three beside the timestamp option
    }

    [Fact]
    public async Task Without_timestamps_four_sack_blocks_are_sent()
    {
        var (acks, first) = await Islands(timestamps: false);
        const int mss = Mss + 12;
        uint At(int segment) => first + (uint)(segment * mss);
        var ack = acks.FirstOrDefault(a => a.Sack.Length > 0 && a.Sack[0] == (At(8), At(10)));
        Assert.True(ack is not null, "no ACK reported [8, 10) first");
        Assert.Equal([(At(8), At(10)), (At(6), At(7)), (At(4), At(5)), (At(2), At(3))], ack!.Sack);
    }

    [Fact]
    public async Task A_segment_received_twice_is_reported_once_in_a_d_sack_and_the_sender_counts_it()
    {
        await using var s = new TwoStacks();
        var (client, server, listener) = await s.ConnectAsync(7611);
        await using var listening = listener;
        var fromLeft = new ConcurrentQueue<byte[]>();
        s.A.Capture = fromLeft;
        for (int i = 0; i < 3; i++)
        {
            Assert.True((await client.SendAsync(new byte[1000]).WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
            Assert.Equal(1000, (await server.ReceiveAsync(new byte[1000]).WaitAsync(TimeSpan.FromSeconds(30))).Value);
        }
        var replay = fromLeft.Where(f => Parse(f) is { Payload: 1000 }).ElementAt(1); // the second segment, long acknowledged
        var old = Parse(replay)!;
        var fromRight = new ConcurrentQueue<byte[]>();
        s.B.Capture = fromRight;
        long before = s.Left[Counter.TcpDuplicateSacks];
        s.B.Inbox.Writer.TryWrite(replay); // delivered to the right end again
        await WaitFor(() => s.Left[Counter.TcpDuplicateSacks] > before, "the sender to count the D-SACK");
        var dsack = fromRight.Select(Parse).OfType<Seg>().Single(a => a.Sack.Length > 0);
        Assert.Equal((old.Seq, old.Seq + 1000), dsack.Sack[0]);
        Assert.True(dsack.Ack - (old.Seq + 1000) < int.MaxValue, "a D-SACK block lies at or below the cumulative ACK");
        // Reported once: the next ACK carries no block.
        Assert.True((await client.SendAsync(new byte[10]).WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
        Assert.Equal(10, (await server.ReceiveAsync(new byte[10]).WaitAsync(TimeSpan.FromSeconds(30))).Value);
        await WaitFor(() => fromRight.Select(Parse).OfType<Seg>().Any(a => a.Ack == old.Seq + 2000 + 10), "the ACK of the next data");
        Assert.Single(fromRight.Select(Parse).OfType<Seg>(), a => a.Sack.Length > 0);
    }

    /// <summary>The netloss bench's spurious recoveries: a window-limited sender got three window updates repeating the
    /// ACK (the reader draining the receiver's buffer) and resent, with nothing lost. Only ACKs that SACK new data (or,
    /// without blocks, keep the window) count.</summary>
    [Fact]
    public async Task Window_updates_repeating_the_ack_start_no_recovery_but_acks_sacking_new_data_do()
    {
        var options = new NetworkStackOptions { TcpMinRto = TimeSpan.FromSeconds(30), TcpMsl = TimeSpan.FromMilliseconds(200), TcpTailLossProbe = false, TcpRack = false };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7612);
        await using var listening = listener;
        var fromLeft = new ConcurrentQueue<byte[]>();
        var fromRight = new ConcurrentQueue<byte[]>();
        s.A.Capture = fromLeft;
        s.B.Capture = fromRight;
        for (int i = 0; i < 3; i++)
        {
            Assert.True((await client.SendAsync(new byte[100]).WaitAsync(TimeSpan.FromSeconds(30))).IsOk);
            Assert.Equal(100, (await server.ReceiveAsync(new byte[100]).WaitAsync(TimeSpan.FromSeconds(30))).Value);
        }
        var lastData = fromLeft.Select(Parse).OfType<Seg>().Last(f => f.Payload > 0);
        uint sndUna = lastData.Seq + 100;
        await WaitFor(() => fromRight.Select(Parse).OfType<Seg>().Any(f => f.Ack == sndUna), "the ACK of all data so far");
        s.A.Drop = f => Parse(f) is { Payload: > 0 }; // the flight below never arrives
        long sentBefore = Interlocked.Read(ref s.A.Sent);
        _ = client.SendAsync(new byte[5 * Mss]);
        await WaitFor(() => Interlocked.Read(ref s.A.Sent) >= sentBefore + 5, "the flight to leave");
        // The right end's latest ACK (nothing it sent since: the flight was lost), injected again as if from it.
        var a = fromRight.Select(Parse).OfType<Seg>().Last(f => f.Payload == 0);
        Assert.Equal(sndUna, a.Ack);
        long fastBefore = s.Left[Counter.TcpFastRetransmits], inBefore = s.Left[Counter.TcpSegmentsIn];
        for (int i = 1; i <= 3; i++) s.A.Inbox.Writer.TryWrite(Ack(a, (ushort)(a.Window - i), []));
        await WaitFor(() => s.Left[Counter.TcpSegmentsIn] >= inBefore + 3, "the window updates to arrive");
        Assert.Equal(fastBefore, s.Left[Counter.TcpFastRetransmits]);
        // Three that SACK new data each (segments 1, 1–2, 1–3 of the flight) are duplicates: recovery starts.
        for (int i = 1; i <= 3; i++) s.A.Inbox.Writer.TryWrite(Ack(a, a.Window, [(a.Ack + Mss, a.Ack + (uint)((i + 1) * Mss))]));
        await WaitFor(() => s.Left[Counter.TcpFastRetransmits] > fastBefore, "recovery to start on three SACKing duplicates");
        Assert.Equal(fastBefore + 1, s.Left[Counter.TcpFastRetransmits]);
    }

    /// <summary>A pure ACK from the right end to the left, as <paramref name="like"/> with another window and SACK blocks.</summary>
    private static byte[] Ack(Seg like, ushort window, (uint Left, uint Right)[] sack)
    {
        var ts = Frames.TimestampOption(like.TsVal, like.TsEcr);
        var options = ts;
        if (sack.Length > 0)
        {
            var o = new byte[ts.Length + 4 + 8 * sack.Length];
            ts.CopyTo(o, 0);
            o[ts.Length] = 1; o[ts.Length + 1] = 1; o[ts.Length + 2] = 5; o[ts.Length + 3] = (byte)(2 + 8 * sack.Length);
            for (int i = 0; i < sack.Length; i++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(ts.Length + 4 + 8 * i), sack[i].Left);
                BinaryPrimitives.WriteUInt32BigEndian(o.AsSpan(ts.Length + 8 + 8 * i), sack[i].Right);
            }
            options = o;
        }
        var tcp = Frames.Tcp(Ip("10.9.0.2"), Ip("10.9.0.1"), like.SourcePort, like.DestinationPort, like.Seq, like.Ack, 0x10, window, options: options);
        return Frames.Ipv4([2, 0, 0, 0, 0, 1], Ip("10.9.0.2"), Ip("10.9.0.1"), 6, tcp);
    }
}
