using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>
/// Issue #17, vm17: bytes lent to a send buffer (<see cref="ByteRing.Lend"/>) — extents of a sender's memory queued after
/// the ring's own bytes, read in place and dropped as they are acknowledged. Checked against a plain list of bytes: peeks
/// by copy and by reference over the ring/lent boundary and across extents, discards through extents, the position
/// lent sends wait for, the ring refusing writes while lent bytes are held, and a release that drops extents without
/// counting them as acknowledged.
/// </summary>
public sealed class LentSendBufferTests
{
    private static byte[] Bytes(int n, int seed)
    {
        var b = new byte[n];
        new Random(seed).NextBytes(b);
        return b;
    }

    private static byte[] ByReference(ByteRing ring, int offset, int length)
    {
        var p = ring.PeekByReference(offset, length);
        return [.. p.First.Span, .. p.Second.Span];
    }

    [Fact]
    public void Lent_bytes_follow_the_rings_own_and_are_read_in_place_until_discarded()
    {
        var ring = new ByteRing(64 * 1024, ByteRing.LargeStorage);
        Assert.Equal(5, ring.Write("hello"u8));
        var a = Bytes(10_000, 1);
        var b = Bytes(3_000, 2);
        Assert.Equal(10_000, ring.Lend(a));
        Assert.Equal(13_000, ring.Lend(b));
        Assert.Equal(5 + 13_000, ring.Count);
        Assert.Equal(13_000, ring.LentBytes);
        Assert.Equal(0, ring.Free);              // nothing written while lent bytes are queued ahead
        Assert.Equal(0, ring.Write("x"u8));
        Assert.Equal(0, ring.StorageWanted(1 << 20));

        var all = "hello"u8.ToArray().Concat(a).Concat(b).ToArray();
        var peek = new byte[all.Length];
        ring.Peek(0, peek);
        Assert.Equal(all, peek);
        // The ring's end and a lent extent, and two lent extents: two pieces each, by reference.
        Assert.True(ring.CanLendPieces(2, 100));
        Assert.Equal(all[2..102], ByReference(ring, 2, 100));
        Assert.True(ring.CanLendPieces(9_000, 2_000));
        Assert.Equal(all[9_000..11_000], ByReference(ring, 9_000, 2_000));
        Assert.False(ring.CanLendPieces(0, all.Length)); // ring + two extents: three pieces
        Assert.Throws<InvalidOperationException>(() => ring.PeekByReference(0, all.Length));
        Assert.Throws<ArgumentOutOfRangeException>(() => ring.Peek(1, new byte[all.Length]));

        ring.Discard(4_005);                      // the ring's 5 and 4,000 of the first extent
        Assert.Equal(4_000, ring.LentDiscarded);
        ring.Discard(6_000);                      // the first extent's end
        Assert.Equal(10_000, ring.LentDiscarded); // what the first lent send waits for
        Assert.Equal(b, ByReference(ring, 0, 3_000));
        ring.Discard(3_000);
        Assert.Equal((0, 0, 13_000L), (ring.Count, ring.LentBytes, ring.LentDiscarded));
        Assert.Equal(5, ring.Write("again"u8));   // with nothing lent the ring takes writes again
    }

    [Fact]
    public void A_wrapped_ring_before_lent_bytes_is_three_pieces_and_is_copied_instead()
    {
        var ring = new ByteRing(8);
        ring.Write("abcdef"u8);
        ring.Discard(4);
        ring.Write("ghij"u8);                     // "ef" at the end, "ghij" wrapped to the start
        ring.Lend("KLM"u8.ToArray());
        Assert.False(ring.CanLendPieces(0, 9));
        Assert.True(ring.CanLendPieces(0, 6));    // the wrapped ring alone
        Assert.False(ring.CanLendPieces(2, 7));   // "gh" at the end, "ij" at the start, then the extent
        Assert.True(ring.CanLendPieces(4, 5));    // the wrapped part and the extent
        Assert.Equal("ijKLM"u8.ToArray(), ByReference(ring, 4, 5));
        var all = new byte[9];
        ring.Peek(0, all);
        Assert.Equal("efghijKLM"u8.ToArray(), all);
    }

    [Fact]
    public void Release_drops_lent_extents_without_counting_them_as_acknowledged()
    {
        var ring = new ByteRing(1024);
        long end = ring.Lend(new byte[500]);
        ring.Discard(100);
        ring.Release();
        Assert.Equal((0, 0), (ring.Count, ring.LentBytes));
        Assert.True(ring.LentDiscarded < end);
        Assert.Equal(-1, ring.Lend(ReadOnlyMemory<byte>.Empty));
    }

    [Fact]
    public void Truncating_drops_only_the_last_lent_bytes_and_keeps_positions()
    {
        var ring = new ByteRing(1024);
        ring.Write("ab"u8);
        var x = Bytes(300, 5);
        var y = Bytes(200, 6);
        ring.Lend(x);
        ring.Lend(y);
        ring.Discard(52);                         // "ab" and 50 of x
        ring.TruncateLent(250);                   // all of y and the last 50 of x
        Assert.Equal((200, 200, 50L), (ring.Count, ring.LentBytes, ring.LentDiscarded));
        var rest = new byte[200];
        ring.Peek(0, rest);
        Assert.Equal(x[50..250], rest);
        long end = ring.Lend(y);                  // a later send continues the stream where the kept bytes end
        Assert.Equal(50 + 200 + 200, end);
        ring.TruncateLent(10_000);                // never more than is lent, never the ring's own
        Assert.Equal((0, 0), (ring.Count, ring.LentBytes));
        Assert.Equal(2, ring.Write("cd"u8));
    }

    /// <summary>Random writes, lends, discards and peeks against a list of the bytes in order.</summary>
    [Fact]
    public void Random_operations_agree_with_a_list_of_the_bytes()
    {
        var rng = new Random(17);
        var ring = new ByteRing(4096);
        var model = new List<byte>();
        long lentDiscarded = 0;
        int lentInModel = 0; // bytes at the model's end that are lent
        int next = 0;
        for (int step = 0; step < 20_000; step++)
        {
            switch (rng.Next(4))
            {
                case 0 when lentInModel == 0:
                {
                    var data = Enumerable.Range(0, rng.Next(1, 700)).Select(_ => (byte)next++).ToArray();
                    int n = ring.Write(data);
                    model.AddRange(data.Take(n));
                    break;
                }
                case 1 when ring.LentBytes < 20_000:
                {
                    var data = Enumerable.Range(0, rng.Next(1, 3000)).Select(_ => (byte)next++).ToArray();
                    ring.Lend(data);
                    model.AddRange(data);
                    lentInModel += data.Length;
                    break;
                }
                case 2:
                {
                    int n = rng.Next(0, Math.Min(model.Count, 2500) + 1);
                    int owned = model.Count - lentInModel;
                    int fromLent = Math.Max(0, n - owned);
                    ring.Discard(n);
                    model.RemoveRange(0, n);
                    lentInModel -= fromLent;
                    lentDiscarded += fromLent;
                    break;
                }
                default:
                {
                    if (model.Count == 0) break;
                    int offset = rng.Next(model.Count), length = rng.Next(0, model.Count - offset + 1);
                    var copy = new byte[length];
                    ring.Peek(offset, copy);
                    Assert.Equal(model.GetRange(offset, length), copy);
                    if (length > 0 && ring.CanLendPieces(offset, length))
                        Assert.Equal(model.GetRange(offset, length), ByReference(ring, offset, length));
                    break;
                }
            }
            Assert.Equal(model.Count, ring.Count);
            Assert.Equal(lentInModel, ring.LentBytes);
            Assert.Equal(lentDiscarded, ring.LentDiscarded);
        }
    }
}
