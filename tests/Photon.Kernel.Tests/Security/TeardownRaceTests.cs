using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// A process is destroyed while something hands it a capability — its own syscall allocating a region, a delegation
/// into it, a message it is receiving. Whichever wins, nothing may end up in the table of a dead process: every
/// capability is either in a live table or revoked, so after teardown the footprint is back to the baseline.
/// (Related to issue #9, items 7 and the stress test's teardown.)
/// </summary>
public sealed class TeardownRaceTests : IDisposable
{
    private const int Iterations = 1500;
    private readonly SecurityKernel _k = new(audit: false);

    public void Dispose() => _k.Dispose();

    /// <summary>Runs <paramref name="racer"/> on two threads against the destruction of the victim, many times.</summary>
    private void Race(Func<Process, Process, Action> setup)
    {
        var ta = _k.Tenant("tenant-a");
        var tb = _k.Tenant("tenant-b");
        var baseline = _k.Footprint();
        for (int n = 0; n < Iterations; n++)
        {
            var (victim, victimControl) = _k.SpawnWithControl("victim", tb);
            var (giver, giverControl) = _k.SpawnWithControl("giver", ta);
            var racer = setup(victim, giver);
            using var start = new Barrier(3);
            Exception? fault = null;
            var threads = new[]
            {
                new Thread(() => { start.SignalAndWait(); try { racer(); racer(); } catch (Exception e) { fault = e; } }),
                new Thread(() => { start.SignalAndWait(); try { racer(); racer(); } catch (Exception e) { fault = e; } }),
                new Thread(() => { start.SignalAndWait(); _k.DestroyAsync(victimControl).GetAwaiter().GetResult().Unwrap(); }),
            };
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            Assert.Null(fault);
            Assert.Equal(0, victim.HandleCount);
            _k.DestroyAsync(giverControl).GetAwaiter().GetResult().Unwrap();
            Assert.True(_k.Footprint() == baseline, $"iteration {n}: {_k.Footprint()} after teardown, baseline {baseline}");
        }
        Assert.Equal(0, _k.Memory.LiveRegions);
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
    }

    [Fact]
    public void A_process_allocating_while_it_is_destroyed_leaks_nothing() =>
        Race((victim, _) => () => victim.AllocateMemory(4096));

    [Fact]
    public void A_delegation_into_a_process_being_destroyed_leaks_nothing() =>
        Race((victim, giver) =>
        {
            var region = giver.AllocateMemory(4096).Value;
            return () => giver.Delegate(region, victim, Rights.Read);
        });

    [Fact]
    public void A_process_receiving_a_moved_region_while_it_is_destroyed_leaks_nothing() =>
        Race((victim, giver) =>
        {
            var (toVictim, inbox) = _k.Channel(giver, victim);
            for (int i = 0; i < 2; i++)
            {
                var region = giver.AllocateMemory(4096).Value;
                _k.Ipc.TrySend(giver, toVictim, "yours"u8, [new HandleTransfer(region, TransferMode.Move)]).Unwrap();
            }
            return () => _k.Ipc.TryReceive(victim, inbox);
        });

    [Fact]
    public void A_process_creating_channels_while_it_is_destroyed_leaks_nothing() =>
        Race((victim, _) => () => _k.Sys.Channels.CreateChannel(victim));
}
