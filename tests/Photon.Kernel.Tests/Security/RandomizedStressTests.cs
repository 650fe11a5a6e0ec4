using CsCheck;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Processes;
using Photon.Kernel.Quotas;
using Xunit.Abstractions;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, "done means": random operation sequences — allocate, delegate, map and access, revoke, close, move and
/// lend over IPC, receive, split, free, destroy and respawn a process — run concurrently on three threads against
/// processes in three tenants (one with a memory and a capability quota, one with a capability quota, one unlimited).
/// During the run no access may succeed through a mapping whose capability was already seen dead; after it every
/// mapping made through a dead capability fails, the derivation tree verifies, no frame is both free and reachable
/// through a live mapping, and once every process is destroyed live capabilities, free frames and every tenant's
/// quota usage are back to their values before the first process existed.
///
/// CI runs a bounded number of CsCheck samples; set PHOTON_STRESS_ITERATIONS for a long run
/// (<see cref="Long_stress_run_when_PHOTON_STRESS_ITERATIONS_is_set"/>), and CsCheck_Seed to replay a failure.
/// </summary>
public sealed class RandomizedStressTests(ITestOutputHelper output)
{
    private const int CiIterations = 150;

    private static readonly Gen<int[]> Programs = Gen.Int[0, int.MaxValue].Array[60, 300];

    private static readonly string[] OpNames = ["allocate", "delegate", "map", "access", "revoke-derived", "close", "send", "receive", "split", "free", "link", "knot", "destroy"];

    /// <summary>How often each kind of operation ran and succeeded (so a run shows it did real work).</summary>
    private sealed class OpStats
    {
        public readonly long[] Tried = new long[OpNames.Length], Succeeded = new long[OpNames.Length];
        public long Runs;

        public void Report(Action<string> write) => write($"{Runs} runs; " + string.Join(", ",
            OpNames.Select((n, i) => $"{n} {Interlocked.Read(ref Succeeded[i])}/{Interlocked.Read(ref Tried[i])}")));
    }

    private void Run(long iterations)
    {
        var stats = new OpStats();
        Programs.Sample(ops => { using var run = new StressRun(stats); run.Execute(ops); },
            writeLine: output.WriteLine, iter: iterations, threads: 1, print: ops => $"{ops.Length} ops: [{string.Join(',', ops)}]");
        stats.Report(output.WriteLine);
        // The run must have done each kind of thing, not just bounced off errors.
        for (int i = 0; i < OpNames.Length; i++) Assert.True(stats.Succeeded[i] > 0, $"no {OpNames[i]} ever succeeded");
    }

    [Fact]
    public void Concurrent_delegate_map_revoke_move_split_teardown_across_three_tenants_keep_every_invariant() => Run(CiIterations);

    [Fact]
    public void Long_stress_run_when_PHOTON_STRESS_ITERATIONS_is_set()
    {
        var setting = Environment.GetEnvironmentVariable("PHOTON_STRESS_ITERATIONS");
        if (!long.TryParse(setting, out var iterations) || iterations <= 0)
        {
            output.WriteLine("PHOTON_STRESS_ITERATIONS is not set: the long stress run is skipped.");
            return;
        }
        Run(iterations);
    }

    private sealed record Mapped(RegionMapping Mapping, MemoryRegion Region, CapabilityToken Through);

    private sealed class StressRun : IDisposable
    {
        private const int Threads = 3, PerTenant = 2, Page = PhysicalMemory.PageSize;
        private static readonly string[] TenantNames = ["tenant-a", "tenant-b", "tenant-c"];
        private static readonly Rights[] Grantable = [Rights.Read, Rights.Write, Rights.Map, Rights.Delegate, Rights.Manage, Rights.Transfer];

        private readonly SecurityKernel _k = new(memoryBytes: 16 * 1024 * 1024, audit: false);
        private readonly CapabilityToken[] _tenants;
        private readonly (Process Process, CapabilityToken Control)[] _procs = new (Process, CapabilityToken)[TenantNames.Length * PerTenant];
        private readonly Lock _lock = new(); // guards _procs, _mappings, _dead, _violations
        private readonly List<Mapped> _mappings = new();
        private readonly List<CapabilityToken> _dead = new();
        private readonly List<string> _violations = new();
        private readonly KernelFootprint _baseline;
        private readonly OpStats _stats;

        public StressRun(OpStats stats)
        {
            _stats = stats;
            Interlocked.Increment(ref stats.Runs);
            _k.Quotas.SetLimits("/tenant-a", new QuotaLimits(MemoryBytes: 512 * 1024, Capabilities: 120)).Unwrap();
            _k.Quotas.SetLimits("/tenant-b", new QuotaLimits(Capabilities: 60)).Unwrap();
            _tenants = TenantNames.Select(_k.Tenant).ToArray();
            _baseline = _k.Footprint();
            for (int i = 0; i < _procs.Length; i++) _procs[i] = _k.SpawnWithControl($"p{i}", _tenants[i / PerTenant]);
            // A ring of channels through every process, across tenants, plus two channels inside each process (moving
            // one's receiving end into the other's inbox and back is how unreachable cycles form).
            for (int i = 0; i < _procs.Length; i++)
            {
                Link(_procs[i].Process, _procs[(i + 1) % _procs.Length].Process);
                Link(_procs[i].Process, _procs[i].Process);
                Link(_procs[i].Process, _procs[i].Process);
            }
        }

        public void Dispose() => _k.Dispose();

        public void Execute(int[] ops)
        {
            using var start = new Barrier(Threads);
            var workers = Enumerable.Range(0, Threads).Select(t => new Thread(() =>
            {
                start.SignalAndWait();
                for (int i = t; i < ops.Length; i += Threads)
                {
                    try
                    {
                        int kind = ops[i] % OpNames.Length;
                        Interlocked.Increment(ref _stats.Tried[kind]);
                        if (Step(ops[i])) Interlocked.Increment(ref _stats.Succeeded[kind]);
                    }
                    catch (Exception e) { Violation($"op {i} ({OpNames[ops[i] % OpNames.Length]}) threw {e}"); }
                }
            }) { IsBackground = true }).ToArray();
            foreach (var w in workers) w.Start();
            foreach (var w in workers) w.Join();
            lock (_lock) Assert.True(_violations.Count == 0, string.Join("\n", _violations));

            CheckQuiescent();

            // Destroy everything: all that the processes held or had in flight must come back.
            foreach (var (_, control) in _procs) _k.DestroyAsync(control).GetAwaiter().GetResult().Unwrap();
            CheckMappings(); // every mapping is dead now
            Assert.Equal(_baseline, _k.Footprint());
            Assert.Equal(0, _k.Ipc.LiveEndpoints);
            Assert.Equal(0, _k.Memory.LiveRegions);
            Assert.True(_k.Caps.VerifyInvariants().IsOk, _k.Caps.VerifyInvariants().ToString());
            Assert.DoesNotContain(false, FrameProbe.FreeMap(_k.Physical));
            foreach (var m in _mappings) m.Mapping.Dispose();
        }

        private void Violation(string what)
        {
            lock (_lock) _violations.Add(what);
        }

        private void Dead(CapabilityToken t)
        {
            lock (_lock) _dead.Add(t);
        }

        private bool Link(Process a, Process b)
        {
            var pair = _k.Sys.Channels.CreateChannel(a, depth: 8);
            if (!pair.IsOk) return false;
            if (ReferenceEquals(a, b)) return true;
            var token = a.Handles.Remove(pair.Value.B);
            if (!token.IsOk) return false;
            var moved = _k.Caps.MoveForKernel(token.Value, b.Principal, b.Principal);
            if (!moved.IsOk) { _k.Caps.Revoke(token.Value); return false; }
            return b.AddHandle(moved.Value).IsOk; // revokes it if b is gone or full
        }

        private Process ProcessAt(int i)
        {
            lock (_lock) return _procs[i].Process;
        }

        /// <summary>A random live handle of <paramref name="p"/> naming a <typeparamref name="T"/> (any kind when T is KernelObject).</summary>
        private Handle Pick<T>(Process p, int r) where T : KernelObject
        {
            var all = p.Handles.Snapshot().Where(h => _k.Caps.Check<T>(h.Token, Rights.None).IsOk).ToList();
            return all.Count == 0 ? Handle.Invalid : all[r % all.Count].Handle;
        }

        /// <summary>Runs one operation; true if the kernel carried it out (errors are expected and fine).</summary>
        private bool Step(int v)
        {
            int kind = v % OpNames.Length, actor = v / OpNames.Length % _procs.Length, otherIndex = v / OpNames.Length / _procs.Length % _procs.Length,
                r = v / OpNames.Length / _procs.Length / _procs.Length;
            var p = ProcessAt(actor);
            var other = ProcessAt(otherIndex);
            switch (kind)
            {
                case 0: // allocate
                {
                    var h = p.AllocateMemory((1 + r % 4) * Page);
                    return h.IsOk && p.WriteMemory(h.Value, 0, BitConverter.GetBytes(v)).IsOk;
                }
                case 1: // delegate, to any process in any tenant, with random rights
                {
                    var h = Pick<MemoryRegion>(p, r);
                    Rights rights = Rights.None;
                    for (int i = 0; i < Grantable.Length; i++) if ((r >> i & 1) != 0) rights |= Grantable[i];
                    return p.Delegate(h, other, rights).IsOk;
                }
                case 2: // map, and use the mapping once
                {
                    var h = Pick<MemoryRegion>(p, r);
                    var token = p.TokenOf(h);
                    if (!token.IsOk) return false;
                    var region = _k.Caps.Check<MemoryRegion>(token.Value, Rights.None);
                    var m = p.MapMemory(h);
                    if (!m.IsOk) return false;
                    if (!region.IsOk) { Violation("a mapping was made through a dead capability"); return false; }
                    var mapped = new Mapped(m.Value, region.Value, token.Value);
                    lock (_lock) _mappings.Add(mapped);
                    Access(mapped, r);
                    return true;
                }
                case 3: // access through an existing mapping
                {
                    Mapped? mapped;
                    lock (_lock) mapped = _mappings.Count == 0 ? null : _mappings[r % _mappings.Count];
                    return mapped is not null && Access(mapped, r / 7);
                }
                case 4: // revoke what was derived
                    return p.RevokeDerived(Pick<KernelObject>(p, r)) is { IsOk: true, Value: > 0 };
                case 5: // close
                {
                    var h = Pick<KernelObject>(p, r);
                    var token = p.TokenOf(h);
                    if (!token.IsOk || !_k.Sys.Handles.Close(p, h).IsOk) return false;
                    Dead(token.Value);
                    return true;
                }
                case 6: // move or lend a handle over a channel the process holds (an endpoint half the time)
                {
                    var endpoint = Pick<ChannelEndpoint>(p, r);
                    var h = r / 5 % 2 == 0 ? Pick<ChannelEndpoint>(p, r / 10) : Pick<KernelObject>(p, r / 10);
                    var token = p.TokenOf(h);
                    bool move = r % 3 != 0;
                    var t = new HandleTransfer(h, move ? TransferMode.Move : TransferMode.Derive, Rights.Read | Rights.Map);
                    if (!_k.Ipc.TrySend(p, endpoint, BitConverter.GetBytes(v), [t]).IsOk) return false;
                    if (move && token.IsOk) Dead(token.Value);
                    return true;
                }
                case 7: // receive
                    return _k.Ipc.TryReceive(p, Pick<ChannelEndpoint>(p, r)).IsOk;
                case 8: // split
                {
                    var h = Pick<MemoryRegion>(p, r);
                    var token = p.TokenOf(h);
                    if (!token.IsOk || !p.SplitMemory(h, (1 + r % 3) * Page).IsOk) return false;
                    Dead(token.Value);
                    return true;
                }
                case 9: // free
                {
                    var h = Pick<MemoryRegion>(p, r);
                    var token = p.TokenOf(h);
                    if (!token.IsOk || !p.FreeMemory(h).IsOk) return false;
                    Dead(token.Value);
                    return true;
                }
                case 10: // a new channel between two processes, or inside one
                    return Link(p, r % 3 == 0 ? p : other);
                case 11: // tie 2 or 3 new channels into a cycle nobody can receive from (each carrying a region)
                {
                    int n = 2 + r % 2;
                    var chans = new List<(Handle A, Handle B)>();
                    for (int i = 0; i < n; i++)
                        if (_k.Sys.Channels.CreateChannel(p, depth: 2) is { IsOk: true } c) chans.Add(c.Value);
                    bool tied = chans.Count == n;
                    for (int i = 0; i < chans.Count; i++)
                    {
                        var region = p.AllocateMemory(Page);
                        var carried = region.IsOk
                            ? new HandleTransfer[] { new(chans[i].B, TransferMode.Move), new(region.Value, TransferMode.Move) }
                            : [new(chans[i].B, TransferMode.Move)];
                        tied &= _k.Ipc.TrySend(p, chans[(i + 1) % chans.Count].A, "knot"u8, carried).IsOk;
                        if (!tied && region.IsOk) _k.Sys.Handles.Close(p, region.Value);
                    }
                    return tied;
                }
                default: // destroy the process (one time in four) and put a fresh one in its place
                {
                    if (r % 4 != 0) return false;
                    (Process Process, CapabilityToken Control) old;
                    lock (_lock)
                    {
                        old = _procs[actor];
                        var fresh = _k.Processes.Spawn($"p{actor}", _tenants[actor / PerTenant], Rights.Read | Rights.Enumerate);
                        if (!fresh.IsOk) return false; // e.g. the tenant's capability quota: keep the old one
                        _procs[actor] = fresh.Value;
                    }
                    var held = old.Process.Handles.Snapshot().Select(x => x.Token).ToList();
                    var destroyed = _k.DestroyAsync(old.Control).GetAwaiter().GetResult();
                    if (!destroyed.IsOk) Violation($"destroy failed: {destroyed.Error}");
                    foreach (var t in held) Dead(t);
                    Link(ProcessAt(actor), other);
                    return destroyed.IsOk;
                }
            }
        }

        /// <summary>One random access through a mapping. Revocation is final: if the capability was already dead
        /// (or the region gone) before the access started, the access must fail.</summary>
        private bool Access(Mapped m, int r)
        {
            bool deadBefore = m.Region.IsReclaimed || !_k.Caps.Check(m.Through, Rights.Map).IsOk;
            long at = m.Mapping.Length <= 8 ? 0 : r % (m.Mapping.Length - 8);
            Result result = (r % 4) switch
            {
                0 => m.Mapping.Read(at, new byte[8]),
                1 => m.Mapping.Write(at, BitConverter.GetBytes((long)r)),
                2 => m.Mapping.View(at, 8, 0, (_, _) => { }),
                _ => m.Mapping.Update(at, 8, r, (s, x) => BitConverter.TryWriteBytes(s, x)),
            };
            if (deadBefore && result.IsOk) Violation($"an access through {m.Region} succeeded after its capability died");
            return result.IsOk;
        }

        private void CheckQuiescent()
        {
            var inv = _k.Caps.VerifyInvariants();
            Assert.True(inv.IsOk, inv.ToString());
            CheckMappings();
            foreach (var t in _dead)
                Assert.True(_k.Caps.Check(t, Rights.None).Code is ErrorCode.Revoked or ErrorCode.StaleCapability, $"a dead token came back: {t}");
            // Every handle to a dead capability is useless.
            foreach (var (p, _) in _procs)
                foreach (var (h, t) in p.Handles.Snapshot())
                    if (!_k.Caps.Check(t, Rights.None).IsOk)
                    {
                        Assert.False(p.ReadMemory(h, 0, new byte[1]).IsOk);
                        Assert.False(p.MapMemory(h).IsOk);
                    }
        }

        /// <summary>Dead mappings fail every access and lend nothing; live ones sit on allocated frames only.</summary>
        private void CheckMappings()
        {
            var free = FrameProbe.FreeMap(_k.Physical);
            foreach (var m in _mappings)
            {
                bool dead = m.Region.IsReclaimed || !_k.Caps.Check(m.Through, Rights.Map).IsOk;
                if (dead)
                {
                    var buf = new byte[8];
                    bool lent = false;
                    Assert.Equal(ErrorCode.Revoked, m.Mapping.Read(0, buf).Code);
                    Assert.Equal(ErrorCode.Revoked, m.Mapping.Write(0, buf).Code);
                    Assert.Equal(ErrorCode.Revoked, m.Mapping.View(0, 8, 0, (_, _) => lent = true).Code);
                    Assert.Equal(ErrorCode.Revoked, m.Mapping.Update(0, 8, 0, (_, _) => lent = true).Code);
                    Assert.False(lent);
                    Assert.False(m.Mapping.IsValid);
                }
                else
                {
                    Assert.True(m.Mapping.IsValid);
                    Assert.True(m.Mapping.Read(0, new byte[8]).IsOk);
                    for (long f = m.Region.FirstFrame; f < m.Region.FirstFrame + m.Region.Pages; f++)
                        Assert.False(free[f], $"frame {f} is free but mapped through a live capability ({m.Region})");
                }
            }
        }
    }
}
