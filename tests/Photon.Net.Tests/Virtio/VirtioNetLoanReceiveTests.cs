using System.Security.Cryptography;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Drivers.Net;
using Photon.Kernel.Hal;
using Photon.Kernel.Hal.Host;
using Photon.Net.Tcp;
using Xunit.Abstractions;

namespace Photon.Net.Tests.Virtio;

/// <summary>Issue #17, step 3: the TCP/IP stack reads received frames in the DMA buffers virtio-net wrote, through
/// capability-checked DMA loans (<see cref="NicLoanBatch"/>), copying only the payload into the socket buffer; the loans
/// go back to the ring after each burst, so neither a flood nor a socket nobody reads can hold the ring; a revoked loan
/// is a typed refusal, never a read of a buffer the device may reuse.</summary>
public sealed class VirtioNetLoanReceiveTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly byte[] MacA = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], MacB = [0x52, 0x54, 0x00, 0x12, 0x34, 0x57];
    private const ushort RingSize = 64;

    private static Task<VirtioNetCable> Cable() =>
        VirtioNetCable.OpenAsync(MacA, MacB, "0000:00:04.0", "0000:00:05.0", RingSize);

    private static Task<(TcpConnection Client, TcpConnection Server, TcpListener Listener)> Connect(VirtioNetCable p) => p.ConnectAsync(7000);

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var until = DateTime.UtcNow + Timeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < until, $"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task The_stack_reads_every_frame_through_a_dma_loan_and_a_transfer_arrives_intact_with_every_loan_returned()
    {
        await using var p = await Cable();
        var (client, server, listener) = await Connect(p);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(1 << 20);
        var receive = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data).WaitAsync(Timeout)).IsOk);
        Assert.True((await client.CloseAsync()).IsOk);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await receive.WaitAsync(Timeout)));
        await server.CloseAsync();
        // Every frame the stack saw was a loan of the device's buffer — read as one snapshot: a late ACK or FIN may still
        // arrive between two separate reads of the counters.
        long stackFrames = 0;
        await WaitUntil(() => (stackFrames = p.Right.Interfaces[0].FramesReceived) == p.NicB.StackLoans, "every frame the stack saw a loan");
        output.WriteLine($"right: {stackFrames} frames, {p.NicB.StackLoans} loans (at most {p.NicB.StackLoansPeak} at once); driver rx queue pairs {p.NicB.Stats.RxFrames}");
        // The driver's copying receive path never ran.
        Assert.True(stackFrames > 700, $"{stackFrames} frames");
        Assert.Equal(0, p.NicB.Stats.RxFrames);
        Assert.InRange(p.NicB.StackLoansPeak, 1, RingSize / 2);
        await WaitUntil(() => p.NicB.OutstandingLoans == 0 && p.DevB.LentBuffers(0) == 0, "every loan back");
    }

    [Fact]
    public async Task A_flood_never_holds_more_than_half_the_ring_and_the_nic_still_answers_afterwards()
    {
        await using var p = await Cable();
        Assert.True((await p.Left.PingAsync(TwoStacks.Ip("10.9.0.2"), Timeout)).IsOk); // ARP resolved, loops running
        var junk = new byte[60];
        MacB.CopyTo(junk, 0);
        MacA.CopyTo(junk, 6);
        junk[12] = 0x88; junk[13] = 0xB5; // an EtherType nobody handles: every frame is read and dropped
        int peakLent = 0;
        for (int i = 0; i < 20 * RingSize; i++)
        {
            p.B.Inject(junk);
            peakLent = Math.Max(peakLent, p.DevB.LentBuffers(0));
        }
        // Loans returned and none outstanding at one instant (the lent-buffer count alone can read 0 between two bursts
        // while the flood is still being read, and the next burst's loans were then seen outstanding).
        await WaitUntil(() => p.Right.Dropped(DropReason.UnsupportedEtherType) >= 20 * RingSize - 4096 && p.DevB.LentBuffers(0) == 0
            && p.NicB.OutstandingLoans == 0, "the flood read and every loan back");
        output.WriteLine($"flood: {p.Right.Dropped(DropReason.UnsupportedEtherType)} dropped, peak lent sampled {peakLent}, peak burst {p.NicB.StackLoansPeak}");
        Assert.InRange(peakLent, 0, RingSize / 2);
        Assert.InRange(p.NicB.StackLoansPeak, 1, RingSize / 2);
        Assert.True((await p.Left.PingAsync(TwoStacks.Ip("10.9.0.2"), Timeout)).IsOk); // the ring was never starved
    }

    [Fact]
    public async Task A_socket_nobody_reads_fills_its_buffer_but_holds_no_receive_buffer_and_ping_still_gets_through()
    {
        await using var p = await Cable();
        var (client, server, listener) = await Connect(p);
        await using var _ = listener;
        var data = RandomNumberGenerator.GetBytes(2 << 20); // four times the 512 KiB receive buffer
        var sending = client.SendAsync(data);
        await WaitUntil(() => server.Info.ReceiveQueue >= 500 * 1024, "the receive buffer to fill");
        await Task.Delay(200); // zero-window probes and their answers keep crossing the ring meanwhile
        Assert.False(sending.IsCompleted);
        Assert.Equal(0, p.DevB.LentBuffers(0));
        Assert.Equal(0, p.NicB.OutstandingLoans);
        Assert.True((await p.Left.PingAsync(TwoStacks.Ip("10.9.0.2"), Timeout)).IsOk);
        var reading = StackTests.ReadAll(server); // now read: everything arrives
        Assert.True((await sending.WaitAsync(Timeout)).IsOk);
        await client.CloseAsync();
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await reading.WaitAsync(TimeSpan.FromSeconds(60))));
    }

    [Fact]
    public async Task A_loan_revoked_under_a_burst_is_refused_typed_and_the_reader_never_sees_the_buffer()
    {
        var model = new VirtioNetModel(MacB);
        var dev = (await VirtioNetDevice.OpenAsync(model.Function, Timers, new VirtioNetOptions(QueueSize: 16)).WaitAsync(Timeout)).Value;
        var (nic, _) = NicDriver.Start(dev, new CapabilityManager()).Value;
        var frames = Enumerable.Range(1, 3).Select(i => { var f = new byte[60 + i]; MacB.CopyTo(f, 0); f[12] = 0x88; f[13] = 0xB5; f[20] = (byte)i; return f; }).ToArray();
        foreach (var f in frames) model.Inject(f);
        INetworkBatches batches = nic;
        var got = await batches.ReceiveAsync(0).AsTask().WaitAsync(Timeout);
        Assert.True(got.IsOk, got.ToString());
        var batch = got.Value;
        Assert.Equal(3, batch.Count);
        Assert.Equal(3, dev.LentBuffers(0));
        var first = new byte[100];
        int firstLength = 0;
        Assert.True(batch.View(0, first, (span, into) => { span.CopyTo(into); firstLength = span.Length; }).IsOk);
        Assert.Equal(frames[0], first[..firstLength]);
        await nic.DisposeAsync(); // stopping the NIC revokes every loan, the stack's included
        bool ran = false;
        var refused = batch.View(1, 0, (_, _) => ran = true);
        Assert.False(refused.IsOk);
        Assert.Equal(ErrorCode.Revoked, refused.Code);
        Assert.False(ran);
        batch.Release(); // nothing left to give back; no throw
        Assert.Equal(0, nic.OutstandingLoans);
        var after = await batches.ReceiveAsync(0).AsTask().WaitAsync(Timeout);
        Assert.Equal(ErrorCode.Closed, after.Code);
    }
}
