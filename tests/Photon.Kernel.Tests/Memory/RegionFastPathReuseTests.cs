using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;

namespace Photon.Kernel.Tests.Memory;

/// <summary>
/// The region allocate/free fast path recycles what it can: the capability table's lock-free check entries (a dead
/// slot's entry is reused by the next issue), the slot itself once out of quarantine, the frame cache's blocks, and the
/// physical allocator runs under a test-and-set lock. None of that may let an old token reach the new owner's region.
/// </summary>
public sealed class RegionFastPathReuseTests : IDisposable
{
    private static readonly Principal Alice = new("alice", "/");
    private static readonly Principal Bob = new("bob", "/");
    private readonly PhysicalMemory _phys = new(4 * 1024 * 1024);

    public void Dispose() => _phys.Dispose();

    [Fact]
    public void A_freed_regions_token_fails_typed_when_its_frames_entry_and_slot_are_reused_by_the_next_owner()
    {
        // No quarantine: the freed slot, its check entry and its 16 KiB block all go straight to the next allocation.
        var caps = new CapabilityManager { ReuseQuarantine = 0 };
        var mm = new MemoryManager(_phys, caps);
        var secret = new byte[16 * 1024];
        Array.Fill(secret, (byte)0xBB);
        for (int round = 0; round < 200; round++)
        {
            var old = mm.Allocate(16 * 1024, Alice).Value;
            Assert.True(mm.Write(old, 0, new byte[] { 0xAA }, Alice).IsOk);
            Assert.True(mm.Free(old, Alice).IsOk);
            var next = mm.Allocate(16 * 1024, Bob).Value;
            Assert.Equal(old.SlotIndex, next.SlotIndex); // the same slot (and so the same recycled entry) was reused
            Assert.True(mm.Write(next, 0, secret, Bob).IsOk);

            var buffer = new byte[16];
            var read = mm.Read(old, 0, buffer, Alice);
            Assert.Equal(ErrorCode.StaleCapability, read.Code);
            Assert.Equal(ErrorCode.StaleCapability, mm.Write(old, 0, new byte[] { 1 }, Alice).Code);
            Assert.Equal(ErrorCode.StaleCapability, mm.Map(old, Alice).Code);
            Assert.Equal(ErrorCode.StaleCapability, mm.Free(old, Alice).Code);
            Assert.False(caps.TryCheckFast(old, Rights.None, out _));
            Assert.True(buffer.AsSpan().IndexOfAnyExcept((byte)0) < 0); // nothing of Bob's leaked into the refused read

            // Bob's region is intact and still his.
            Assert.True(mm.Read(next, 0, buffer, Bob).IsOk);
            Assert.True(buffer.AsSpan().IndexOfAnyExcept((byte)0xBB) < 0);
            Assert.True(mm.Free(next, Bob).IsOk);
        }
        Assert.True(caps.VerifyInvariants().IsOk);
        Assert.Equal(0, mm.LiveRegions);
        Assert.Equal(0, mm.UsedBytes);
        Assert.True(_phys.VerifyInvariants().IsOk);
    }

    [Fact]
    public void A_freshly_allocated_region_reads_zero_though_its_block_and_entry_are_recycled()
    {
        var mm = new MemoryManager(_phys, new CapabilityManager { ReuseQuarantine = 0 });
        var ones = new byte[16 * 1024];
        Array.Fill(ones, (byte)0xFF);
        for (int round = 0; round < 50; round++)
        {
            var r = mm.Allocate(16 * 1024, Alice).Value;
            var seen = new byte[16 * 1024];
            Assert.True(mm.Read(r, 0, seen, Alice).IsOk);
            Assert.True(seen.AsSpan().IndexOfAnyExcept((byte)0) < 0);
            Assert.True(mm.Write(r, 0, ones, Alice).IsOk);
            Assert.True(mm.Free(r, Alice).IsOk);
        }
    }

    [Fact]
    public void A_check_racing_entry_reuse_never_returns_another_capabilitys_object_nor_succeeds_after_revoke_returned()
    {
        // A checker hammers tokens of objects being revoked while the main thread issues new capabilities (to other
        // objects) into the recycled slots and entries. A success must name the token's own object, and only before
        // its revocation returned.
        var caps = new CapabilityManager { ReuseQuarantine = 0 };
        const int Rounds = 20_000;
        var objects = new GenericObject[Rounds + 1];
        var tokens = new CapabilityToken[Rounds + 1];
        int issued = 0, revokedThrough = 0;
        bool stop = false;
        var violations = new List<string>();
        long checks = 0;

        void Checker(int seed)
        {
            var rng = new Random(seed);
            while (!Volatile.Read(ref stop))
            {
                int top = Volatile.Read(ref issued);
                if (top == 0) continue;
                int n = Math.Max(1, top - rng.Next(4)); // the newest few: those whose slots are being recycled
                int revokedBefore = Volatile.Read(ref revokedThrough);
                var r = caps.Check(tokens[n], Rights.Read);
                Interlocked.Increment(ref checks);
                if (!r.IsOk)
                {
                    if (r.Code is not (ErrorCode.Revoked or ErrorCode.StaleCapability))
                        lock (violations) violations.Add($"token {n}: unexpected {r.Code}");
                    continue;
                }
                if (!ReferenceEquals(r.Value, objects[n])) lock (violations) violations.Add($"token {n} reached another object");
                if (revokedBefore >= n) lock (violations) violations.Add($"token {n} succeeded after its revoke returned");
            }
        }

        var checkers = Enumerable.Range(0, 2).Select(i => new Thread(() => Checker(i)) { IsBackground = true }).ToArray();
        foreach (var t in checkers) t.Start();
        for (int n = 1; n <= Rounds; n++)
        {
            objects[n] = new GenericObject($"o{n}");
            tokens[n] = caps.Create(objects[n], Rights.Read, Principal.Kernel).Value;
            Volatile.Write(ref issued, n);
            Assert.Equal(1, caps.Revoke(tokens[n]).Value);
            Volatile.Write(ref revokedThrough, n);
        }
        Volatile.Write(ref stop, true);
        foreach (var t in checkers) Assert.True(t.Join(TimeSpan.FromSeconds(60)));
        Assert.Empty(violations);
        Assert.True(Interlocked.Read(ref checks) > 0);
        Assert.True(caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public void Allocations_and_frees_from_four_threads_never_share_a_frame_and_keep_the_allocator_invariants()
    {
        const int PerThread = 5_000;
        var violations = new List<string>();
        void Worker(int id)
        {
            var rng = new Random(id);
            for (int i = 0; i < PerThread; i++)
            {
                int pages = 1 << rng.Next(4); // 1..8 pages: the frame cache's sizes
                var start = _phys.Allocate(pages);
                if (!start.IsOk) { lock (violations) violations.Add($"thread {id}: {start.Error}"); return; }
                var span = _phys.WritableFrames(start.Value, pages, 0, pages * PhysicalMemory.PageSize);
                if (span.IndexOfAnyExcept((byte)0) >= 0) lock (violations) violations.Add($"thread {id}: frames {start.Value}+{pages} not zeroed");
                span.Fill((byte)(id + 1));
                Thread.Yield(); // let the others run while we own these frames
                if (_phys.Frames(start.Value, pages, 0, pages * PhysicalMemory.PageSize).IndexOfAnyExcept((byte)(id + 1)) >= 0)
                    lock (violations) violations.Add($"thread {id}: frames {start.Value}+{pages} were written by someone else");
                if (!_phys.Free(start.Value, pages).IsOk) lock (violations) violations.Add($"thread {id}: free failed");
            }
        }
        var threads = Enumerable.Range(0, 4).Select(i => new Thread(() => Worker(i)) { IsBackground = true }).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(120)));
        Assert.Empty(violations);
        Assert.True(_phys.VerifyInvariants().IsOk);
        Assert.Equal(_phys.TotalFrames, _phys.FreeFrames);
    }

    [Fact]
    public void Object_ids_drawn_when_first_read_are_unique_across_threads_and_stable()
    {
        var objects = Enumerable.Range(0, 2_000).Select(i => new GenericObject($"g{i}")).ToArray();
        var ids = new long[2][];
        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() => ids[t] = objects.Select(o => o.ObjectId).ToArray())).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.True(t.Join(TimeSpan.FromSeconds(60)));
        Assert.Equal(ids[0], ids[1]); // both threads saw the same id for each object
        Assert.Equal(objects.Length, ids[0].Distinct().Count());
        Assert.DoesNotContain(0L, ids[0]);
    }
}
