namespace Photon.Net.Tests;

/// <summary>Issue #11 (tcp13): what a request/response connection keeps per round trip. RACK forgot delivered ranges
/// only while data stayed outstanding, so a connection whose every reply was acknowledged whole grew its list to
/// <c>RackTlp.MaxTracked</c>, cleared it and grew it again (~40 B of arrays per round trip, and a long list to walk).
/// Counted, with SACK and without.</summary>
public sealed class RequestResponseStateTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Ranges_acknowledged_whole_are_forgotten_on_a_request_response_connection(bool sack)
    {
        await using var net = new TwoStacks(sack: sack);
        var (client, server, listener) = await net.ConnectAsync(82);
        await using var _ = listener;
        var request = new byte[64];
        var reply = new byte[64];
        int maxTracked = 0;
        for (int i = 0; i < 500; i++)
        {
            (await client.SendAsync(request).WaitAsync(Patience)).Unwrap();
            int got = 0;
            while (got < 64) got += (await server.ReceiveAsync(reply.AsMemory(got)).WaitAsync(Patience)).Value;
            (await server.SendAsync(reply).WaitAsync(Patience)).Unwrap();
            got = 0;
            while (got < 64) got += (await client.ReceiveAsync(request.AsMemory(got)).WaitAsync(Patience)).Value;
            maxTracked = Math.Max(maxTracked, Math.Max(server.RackTracked, client.RackTracked));
        }
        // At most the reply and the request in flight, plus one not yet acknowledged when sampled; 500 without the fix.
        Assert.InRange(maxTracked, 0, 4);
    }
}
