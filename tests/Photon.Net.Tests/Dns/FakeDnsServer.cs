using System.Buffers.Binary;
using System.Collections.Concurrent;
using Photon.Net.Dns;
using Photon.Net.Udp;

namespace Photon.Net.Tests.Dns;

/// <summary>A query as the scripted server received it: where from, its ID, and the raw message.</summary>
public sealed record ReceivedQuery(IpEndpoint From, ushort Id, byte[] Message);

/// <summary>
/// A scripted (and, when the test wants, hostile) DNS server on the right-hand stack of <see cref="TwoStacks"/>: it binds
/// a UDP port and hands every query to <c>answer</c>, which sends whatever the test wants back through the server's
/// socket (or any other). It records every query, so tests can count retries and check IDs and source ports.
/// </summary>
public sealed class FakeDnsServer : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public UdpSocket Socket { get; }
    public ConcurrentQueue<ReceivedQuery> Queries { get; } = new();
    public IpEndpoint Endpoint { get; }

    public FakeDnsServer(NetworkStack stack, ushort port, Func<FakeDnsServer, ReceivedQuery, Task>? answer)
    {
        Socket = stack.Udp.Bind(port).Value;
        Endpoint = new IpEndpoint(stack.Interfaces[0].Address, port);
        _loop = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                var d = await Socket.ReceiveAsync(_stop.Token);
                if (!d.IsOk) return;
                var q = new ReceivedQuery(d.Value.From, BinaryPrimitives.ReadUInt16BigEndian(d.Value.Data), d.Value.Data);
                Queries.Enqueue(q);
                if (answer is not null) await answer(this, q);
            }
        });
    }

    public Task<Result> Send(ReceivedQuery to, byte[] message) => Socket.SendToAsync(to.From, message);

    /// <summary>The response to <paramref name="query"/>: its ID (or <paramref name="id"/>), flags, its question copied,
    /// and <paramref name="records"/> as the answer section.</summary>
    public static byte[] Response(byte[] query, IReadOnlyList<byte[]> records, ushort flags = 0x8180, ushort? id = null)
    {
        var m = new List<byte>(query.Length + 64);
        ushort useId = id ?? BinaryPrimitives.ReadUInt16BigEndian(query);
        m.AddRange([(byte)(useId >> 8), (byte)useId, (byte)(flags >> 8), (byte)flags, 0, 1, (byte)(records.Count >> 8), (byte)records.Count, 0, 0, 0, 0]);
        m.AddRange(query.AsSpan(DnsMessage.HeaderLength).ToArray()); // the question, as asked
        foreach (var r in records) m.AddRange(r);
        return m.ToArray();
    }

    public static byte[] Name(string host)
    {
        var l = new List<byte>();
        Assert.True(DnsName.Write(host, l).IsOk);
        return l.ToArray();
    }

    public static byte[] Record(string name, DnsType type, uint ttl, byte[] data)
    {
        var n = Name(name);
        return [.. n, (byte)((ushort)type >> 8), (byte)type, 0, 1, (byte)(ttl >> 24), (byte)(ttl >> 16), (byte)(ttl >> 8), (byte)ttl, (byte)(data.Length >> 8), (byte)data.Length, .. data];
    }

    public static byte[] A(string name, string address, uint ttl = 300) =>
        Record(name, DnsType.A, ttl, Bytes(address));

    public static byte[] Bytes(string address)
    {
        var b = new byte[4];
        Ipv4Address.Parse(address).Value.Write(b);
        return b;
    }

    public static byte[] Cname(string name, string target, uint ttl = 300) => Record(name, DnsType.Cname, ttl, Name(target));

    /// <summary>The name the query asks about.</summary>
    public static string Question(byte[] query) => DnsName.Read(query, DnsMessage.HeaderLength, out _).Value;

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await Socket.DisposeAsync();
        try { await _loop; } catch (OperationCanceledException) { }
    }
}
