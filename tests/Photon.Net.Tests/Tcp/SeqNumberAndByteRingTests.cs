using Photon.Net.Tcp;

namespace Photon.Net.Tests;

public sealed class SeqNumberTests
{
    private static SeqNumber S(uint v) => new(v);

    [Fact]
    public void Arithmetic_and_comparisons_hold_across_wraparound()
    {
        var near = S(0xFFFF_FFF0);
        var past = near + 0x20;
        Assert.Equal(0x10u, past.Value);
        Assert.True(near < past && past > near && near <= S(0xFFFF_FFF0) && past >= S(0x10));
        Assert.Equal(0x20, past - near);
        Assert.Equal(-0x20, near - past);
        Assert.Equal(near, past - 0x20);
        Assert.True(S(0).InRange(near, past) && !past.InRange(near, past) && near.InRange(near, past));
        Assert.Equal(past, SeqNumber.Max(near, past));
        Assert.Equal(near, SeqNumber.Min(past, near));
        var n = near;
        for (int i = 0; i < 0x20; i++) n++;
        Assert.Equal(past, n);
        // Half the space apart is the limit: beyond it the order flips, which windows of at most 2^30 never reach.
        Assert.True(S(0) < S(0x7FFF_FFFF) && S(0) > S(0x8000_0001));
    }
}

public sealed class ByteRingTests
{
    [Fact]
    public void Writes_reads_and_peeks_wrap_around_the_end()
    {
        var ring = new ByteRing(8);
        Assert.Equal(6, ring.Write("abcdef"u8));
        Assert.Equal(4, ring.Read(new byte[4]));
        Assert.Equal(6, ring.Write("ghijkl"u8));   // wraps: "ef" + "ghijkl"
        Assert.Equal(0, ring.Free);
        Assert.Equal(0, ring.Write("m"u8));        // full: nothing taken
        var peek = new byte[5];
        ring.Peek(1, peek);
        Assert.Equal("fghij"u8.ToArray(), peek);
        ring.Discard(3);
        var rest = new byte[10];
        Assert.Equal(5, ring.Read(rest));
        Assert.Equal("hijkl"u8.ToArray(), rest[..5]);
        Assert.Equal((0, 8), (ring.Count, ring.Free));
    }

    [Fact]
    public void Peeking_outside_the_held_bytes_is_refused_and_memory_comes_with_the_first_write()
    {
        var ring = new ByteRing(4);
        ring.Write("ab"u8);
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.Peek(1, new byte[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.Peek(3, Span<byte>.Empty));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var idle = new ByteRing(1 << 20);
        Assert.Equal(0, idle.Read(new byte[16]));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024, "an unused ring must not hold its capacity");
        idle.Write("x"u8);
        Assert.Equal(1, idle.Count);
    }

    [Fact]
    public void Storage_grows_with_the_data_up_to_the_capacity_and_keeps_wrapped_bytes_in_order()
    {
        var ring = new ByteRing(1 << 20);
        ring.Write(new byte[600]);
        Assert.Equal(ByteRing.InitialStorage, ring.Storage); // a short request costs a few KiB, not the capacity

        // Wrap inside the first array, then grow: the bytes must come out in the order they went in.
        var small = new ByteRing(64 * 1024);
        var data = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7)).ToArray();
        small.Write(data.AsSpan(0, 3000));
        small.Discard(2500);
        small.Write(data.AsSpan(3000, 3000));                  // wraps in the 4 KiB array
        small.Write(data.AsSpan(6000, 20_000));                // grows while wrapped
        Assert.True(small.Storage is > ByteRing.InitialStorage and <= 64 * 1024);
        var got = new byte[small.Count];
        small.Peek(0, got);
        Assert.Equal(data.AsSpan(2500, got.Length).ToArray(), got);
        Assert.Equal(64 * 1024 - got.Length, small.Free);
        small.Write(data.AsSpan(26_000, 100_000));             // fills to the capacity, never past it
        Assert.Equal(64 * 1024, small.Storage);
        Assert.Equal(0, small.Free);
    }
}
