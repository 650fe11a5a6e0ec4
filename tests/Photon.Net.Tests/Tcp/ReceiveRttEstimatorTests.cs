using System.Security.Cryptography;
using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>Issue #11 (net12's finding): the receiving end keeps its own round-trip estimate during a transfer
/// (<see cref="ReceiveRttEstimator"/>, Linux's <c>tcp_rcv_rtt_measure</c>) instead of timing receive-buffer autotuning by
/// the handshake's one sample. The estimator with a hand-stepped clock, then on two stacks with timestamps on and off.</summary>
public sealed class ReceiveRttEstimatorTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);
    private static SeqNumber Seq(uint v) => new(v);
    private static readonly TimeSpan MaxRtt = TimeSpan.FromSeconds(60);

    [Fact]
    public void A_window_is_timed_from_advertising_its_edge_to_data_reaching_it_and_the_smallest_sample_is_kept()
    {
        var e = new ReceiveRttEstimator();
        e.OnInOrderData(Seq(1000), advertisedEdge: Seq(11_000), Ms(100)); // starts timing the edge 11 000
        Assert.False(e.HasSample);
        e.OnInOrderData(Seq(6000), Seq(16_000), Ms(103)); // not there yet
        Assert.False(e.HasSample);
        e.OnInOrderData(Seq(11_000), Seq(21_000), Ms(108)); // edge reached 8 ms after it was timed
        Assert.True(e.HasSample);
        Assert.Equal(Ms(8), e.Rtt);
        e.OnInOrderData(Seq(21_000), Seq(31_000), Ms(120)); // a slower window (12 ms: the sender was not window-limited)
        Assert.Equal(Ms(8), e.Rtt);
        e.OnInOrderData(Seq(31_000), Seq(41_000), Ms(125)); // a faster one
        Assert.Equal(Ms(5), e.Rtt);
        Assert.Equal(3, e.Samples);
    }

    [Fact]
    public void A_closed_window_is_not_timed_and_a_zero_interval_is_not_a_zero_estimate()
    {
        var e = new ReceiveRttEstimator();
        e.OnInOrderData(Seq(5000), advertisedEdge: Seq(5000), Ms(10)); // window closed: nothing to time
        e.OnInOrderData(Seq(6000), Seq(9000), Ms(11)); // the gap between two segments is not a round trip
        Assert.False(e.HasSample);
        e.OnInOrderData(Seq(9000), Seq(12_000), Ms(11)); // same clock reading: the smallest positive span, not zero
        Assert.True(e.HasSample);
        Assert.True(e.Rtt > TimeSpan.Zero);
    }

    [Fact]
    public void Timestamp_echoes_are_sampled_once_each_lower_ones_latched_higher_ones_smoothed_and_only_from_full_segments()
    {
        var e = new ReceiveRttEstimator();
        e.OnTimestampEcho(tsEcr: 1000, tsNow: 1016, length: 1448, mss: 1448, MaxRtt);
        Assert.Equal(Ms(16), e.Rtt);
        e.OnTimestampEcho(1000, 1030, 1448, 1448, MaxRtt); // the same echo again (a later segment of the flight): ignored
        Assert.Equal(Ms(16), e.Rtt);
        e.OnTimestampEcho(1010, 1034, 1448, 1448, MaxRtt); // 24 ms, larger: smoothed in, 16 + (24 − 16)/8 = 17
        Assert.Equal(Ms(17), e.Rtt);
        e.OnTimestampEcho(1012, 1052, 1448, 1448, MaxRtt, dataQueued: true); // larger while data waits: our own queue
        Assert.Equal(Ms(17), e.Rtt);
        e.OnTimestampEcho(1015, 1030, 1448, 1448, MaxRtt, dataQueued: true); // lower: taken at once, queue or not
        Assert.Equal(Ms(15), e.Rtt);
        e.OnTimestampEcho(1020, 1200, 100, 1448, MaxRtt); // short segment: an application-limited sender echoes late
        e.OnTimestampEcho(1030, 1030, 1448, 1448, MaxRtt); // 0 ms: "under a millisecond", left to the window samples
        e.OnTimestampEcho(5000, 1300, 1448, 1448, MaxRtt); // an echo from our future: forged or corrupt
        e.OnTimestampEcho(0, 1300, 1448, 1448, MaxRtt); // no echo
        e.OnTimestampEcho(1, 1_000_000, 1448, 1448, MaxRtt); // older than any round trip may be
        Assert.Equal(Ms(15), e.Rtt);
        Assert.Equal(3, e.Samples);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_receiver_measures_its_round_trip_during_a_one_way_transfer(bool timestamps)
    {
        var options = new NetworkStackOptions
        {
            TcpTimestamps = timestamps, TcpMinRto = TimeSpan.FromMilliseconds(50), TcpMsl = TimeSpan.FromMilliseconds(200),
        };
        await using var s = new TwoStacks(options: options);
        var (client, server, listener) = await s.ConnectAsync(7610);
        await using var _ = listener;
        Assert.Equal(0, server.ReceiveRtt.Samples); // the handshake gives the sending side's estimate, not this one
        var data = RandomNumberGenerator.GetBytes(4 << 20);
        var received = StackTests.ReadAll(server);
        Assert.True((await client.SendAsync(data)).IsOk);
        Assert.True((await client.CloseAsync()).IsOk);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(await received.WaitAsync(TimeSpan.FromSeconds(60))));
        // 4 MiB through windows of at most a few hundred KiB: the receiver timed several windows of its own.
        var (rtt, samples) = server.ReceiveRtt;
        Assert.True(samples >= 2, $"{samples} receive-side samples");
        Assert.True(rtt > TimeSpan.Zero);
    }
}
