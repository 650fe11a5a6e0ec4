namespace Photon.Net.Tests;

/// <summary>
/// Issue #11, receive copies: in-order data that finds a receive parked on an empty socket buffer is copied from the
/// frame straight into that receive's buffer (<c>TcpConnection.DeliverToParkedReader</c>), skipping the socket buffer —
/// one copy per byte instead of two. Checked by counts and exact streams: the bytes land where the reader asked, what
/// does not fit stays in order for the next read, and a receive cancelled while data arrives loses no byte (the bytes
/// it was given are its result; otherwise they are in the socket buffer for the next receive).
/// </summary>
public sealed class ParkedReaderDeliveryTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static async Task UntilParked(Photon.Net.Tcp.TcpConnection c)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (c.PendingCalls == 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the receive never parked");
            await Task.Delay(1);
        }
    }

    [Fact]
    public async Task Data_for_a_parked_receive_goes_straight_into_its_buffer_and_the_rest_waits_in_order()
    {
        await using var net = new TwoStacks();
        var (client, server, listener) = await net.ConnectAsync(80);
        long direct0 = net.Right[Counter.TcpPayloadBytesToParkedReader], buffered0 = net.Right[Counter.TcpPayloadBytesBuffered];

        var buffer = new byte[4096];
        var receive = server.ReceiveAsync(buffer);
        await UntilParked(server);
        var message = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();
        (await client.SendAsync(message)).Unwrap();
        Assert.Equal(1000, (await receive.WaitAsync(Patience)).Value);
        Assert.Equal(message, buffer[..1000]);
        Assert.Equal(1000, net.Right[Counter.TcpPayloadBytesToParkedReader] - direct0);
        Assert.Equal(0, net.Right[Counter.TcpPayloadBytesBuffered] - buffered0);

        // A buffer smaller than the segment: it is filled, the rest goes to the socket buffer for the next read.
        var small = new byte[10];
        receive = server.ReceiveAsync(small);
        await UntilParked(server);
        (await client.SendAsync(message[..100])).Unwrap();
        Assert.Equal(10, (await receive.WaitAsync(Patience)).Value);
        Assert.Equal(message[..10], small);
        var rest = new byte[200];
        int got = 0;
        while (got < 90) got += (await server.ReceiveAsync(rest.AsMemory(got)).WaitAsync(Patience)).Value;
        Assert.Equal(90, got);
        Assert.Equal(message[10..100], rest[..90]);
        Assert.Equal(1010, net.Right[Counter.TcpPayloadBytesToParkedReader] - direct0);
        Assert.Equal(90, net.Right[Counter.TcpPayloadBytesBuffered] - buffered0);
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_bulk_transfer_is_exact_and_every_byte_is_counted_once_one_way_or_the_other()
    {
        await using var net = new TwoStacks();
        var (client, server, listener) = await net.ConnectAsync(80);
        long direct0 = net.Right[Counter.TcpPayloadBytesToParkedReader], buffered0 = net.Right[Counter.TcpPayloadBytesBuffered];
        const int Total = 8 << 20;
        var data = new byte[Total];
        new Random(11).NextBytes(data);
        var sender = Task.Run(async () =>
        {
            for (int off = 0; off < Total; off += 64 * 1024) (await client.SendAsync(data.AsMemory(off, 64 * 1024))).Unwrap();
        });
        var received = new byte[Total];
        int at = 0;
        while (at < Total)
        {
            int n = (await server.ReceiveAsync(received.AsMemory(at, Math.Min(16 * 1024, Total - at))).WaitAsync(Patience)).Value;
            Assert.True(n > 0);
            at += n;
        }
        await sender.WaitAsync(Patience);
        Assert.True(data.AsSpan().SequenceEqual(received), "the stream arrived changed");
        long direct = net.Right[Counter.TcpPayloadBytesToParkedReader] - direct0, buffered = net.Right[Counter.TcpPayloadBytesBuffered] - buffered0;
        Assert.Equal(Total, direct + buffered); // no loss, no retransmission on this wire: each byte taken once
        await listener.DisposeAsync();
    }

    [Fact]
    public async Task A_receive_cancelled_while_data_arrives_loses_no_byte()
    {
        await using var net = new TwoStacks();
        var (client, server, listener) = await net.ConnectAsync(80);
        const int Rounds = 200;
        var stream = new List<byte>();
        var buffer = new byte[64];
        int cancelledEmpty = 0, delivered = 0;
        for (int i = 0; i < Rounds; i++)
        {
            using var cts = new CancellationTokenSource();
            var receive = server.ReceiveAsync(buffer, cts.Token);
            await UntilParked(server);
            // The cancel and the data race: either the receive gets the byte, or it ends Cancelled and the byte waits.
            var send = Task.Run(async () => (await client.SendAsync(new[] { (byte)i })).Unwrap());
            var cancel = Task.Run(cts.Cancel);
            var r = await receive.WaitAsync(Patience);
            await Task.WhenAll(send, cancel).WaitAsync(Patience);
            if (r.IsOk)
            {
                Assert.Equal(1, r.Value);
                stream.Add(buffer[0]);
                delivered++;
                continue;
            }
            Assert.Equal(ErrorCode.Cancelled, r.Code);
            cancelledEmpty++;
            int n = (await server.ReceiveAsync(buffer).WaitAsync(Patience)).Value;
            Assert.Equal(1, n);
            stream.Add(buffer[0]);
        }
        Assert.Equal(Enumerable.Range(0, Rounds).Select(i => (byte)i), stream);
        Assert.Equal(Rounds, delivered + cancelledEmpty);
        Assert.Equal(0, server.PendingCalls);
        await listener.DisposeAsync();
    }

    /// <summary>net12's leftover (tcp13): a reset racing the copy into a parked receive's buffer — the peer's RST arriving
    /// right behind the data, a local abort, or the last handle released — from another thread. Whatever wins, the bytes a
    /// receive reports are exactly the next bytes of the stream (nothing lost in between, nothing reordered), no receive
    /// returns data after one reported the reset, and the stack never writes into a receive's buffer after that receive
    /// returned (a sentinel written then survives more data arriving).</summary>
    [Theory]
    [InlineData("peer-reset")]
    [InlineData("abort")]
    [InlineData("release")]
    public async Task A_reset_racing_delivery_into_a_parked_receive_loses_no_reported_byte_and_never_writes_after_return(string racer)
    {
        await using var net = new TwoStacks();
        var listener = net.Right.Tcp.Listen(81).Value;
        await using var _ = listener;
        const int Rounds = 60;
        int gotData = 0, gotError = 0;
        for (int round = 0; round < Rounds; round++)
        {
            var accept = listener.AcceptAsync();
            var client = (await net.Left.Tcp.ConnectAsync(new IpEndpoint(TwoStacks.Ip("10.9.0.2"), 81)).WaitAsync(Patience)).Value;
            var server = (await accept.WaitAsync(Patience)).Value;
            var message = Enumerable.Range(0, 3000).Select(i => (byte)(i * 13 + round)).ToArray();
            var buffer = new byte[1024];
            var receive = server.ReceiveAsync(buffer);
            await UntilParked(server);
            var send = Task.Run(async () => await client.SendAsync(message));
            var reset = Task.Run(async () =>
            {
                switch (racer)
                {
                    case "peer-reset": await send; await client.AbortAsync(); break; // the RST right behind the data
                    case "abort": await server.AbortAsync(); break;
                    default: await server.ReleaseAsync(); break;
                }
            });
            // Read until the connection reports its end; every byte reported must be the stream's next.
            var stream = new List<byte>();
            bool ended = false;
            while (!ended)
            {
                var r = await receive.WaitAsync(Patience);
                if (r.IsOk && r.Value > 0)
                {
                    stream.AddRange(buffer[..r.Value]);
                    Array.Fill(buffer, (byte)0xEE);
                    receive = server.ReceiveAsync(buffer);
                    continue;
                }
                Array.Fill(buffer, (byte)0xEE);
                ended = true;
                if (!r.IsOk) Assert.Contains(r.Code, new[] { ErrorCode.ConnectionReset, ErrorCode.Closed });
            }
            Assert.Equal(message[..stream.Count], stream.ToArray());
            if (stream.Count > 0) gotData++; else gotError++;
            await reset.WaitAsync(Patience);
            await send.WaitAsync(Patience);
            // Reported ended: later receives stay ended (no data after the reset was reported)…
            var after = await server.ReceiveAsync(buffer).WaitAsync(Patience);
            Assert.True(!after.IsOk || after.Value == 0, $"{racer}: a receive returned {after} after the end was reported");
            // …and more data sent at it (the client may not know yet) is never written into the returned buffer.
            if (racer != "peer-reset")
            {
                await client.SendAsync(new byte[500]).WaitAsync(Patience);
                await StackTests.WaitUntil(() => client.Info.SendQueue == 0 || client.State == Tcp.TcpState.Closed, 30_000);
            }
            Assert.All(buffer, b => Assert.Equal(0xEE, b));
            await client.AbortAsync();
            await server.AbortAsync();
        }
        Assert.Equal(Rounds, gotData + gotError);
        Assert.Equal(0, net.Right.Dropped(DropReason.InternalError));
    }
}
