using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Security;

/// <summary>
/// Issue #9, items 7 and 13: messages nobody can ever receive (an endpoint queued in its own inbox, a cycle of
/// endpoints queued in each other's inboxes, connections left in a dead listener's backlog) must not pin memory,
/// capabilities or quota once their process is gone.
/// </summary>
public sealed class IpcTeardownTests : IDisposable
{
    private const int MiB = 1024 * 1024;
    private readonly SecurityKernel _k = new(memoryBytes: 64 * MiB);

    public void Dispose() => _k.Dispose();

    // ---- item 7 ----

    [Fact]
    public void An_endpoint_cannot_be_sent_into_its_own_inbox_and_the_refused_send_changes_nothing()
    {
        var tenant = _k.Tenant("tenant-a");
        var p = _k.Spawn("p", tenant);
        var (a, b) = _k.Sys.Channels.CreateChannel(p).Value;
        var big = p.AllocateMemory(MiB).Value;
        var alias = p.Duplicate(b, IpcManager.EndpointRights).Value; // another handle to the same endpoint
        var before = _k.Footprint();
        var peer = p.Get<ChannelEndpoint>(b, Rights.None).Value;

        HandleTransfer[][] attempts =
        [
            [new(b, TransferMode.Move), new(big, TransferMode.Move)],
            [new(big, TransferMode.Move), new(b, TransferMode.Move)],
            [new(big, TransferMode.Move), new(alias, TransferMode.Move)],
            [new(big, TransferMode.Derive, Rights.Read), new(b, TransferMode.Derive, Rights.Read)],
        ];
        foreach (var handles in attempts)
        {
            var r = _k.Ipc.TrySend(p, a, "into my own inbox"u8, handles);
            Assert.Equal(ErrorCode.InvalidArgument, r.Code);
            // Nothing moved, nothing queued, nothing charged.
            Assert.True(p.TokenOf(b).IsOk);
            Assert.True(p.TokenOf(big).IsOk);
            Assert.True(p.TokenOf(alias).IsOk);
            Assert.Equal(0, peer.Pending);
            Assert.Equal(before, _k.Footprint());
        }
        Assert.True(p.ReadMemory(big, MiB - 1, new byte[1]).IsOk);
    }

    /// <summary>
    /// Channel i's receiving end is moved (with a 1 MiB region) into channel i+1's inbox, and the last one into the
    /// first's: a cycle no process can ever receive from. Destroying the process must give everything back.
    /// </summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(5)]
    public async Task A_cycle_of_endpoints_queued_in_each_other_is_collected_when_the_process_is_destroyed(int length)
    {
        var tenant = _k.Tenant("tenant-a");
        _k.Tenant("tenant-b");
        var before = _k.Footprint();
        int liveEndpoints = _k.Ipc.LiveEndpoints;

        var (p, control) = _k.SpawnWithControl("p", tenant);
        var chans = Enumerable.Range(0, length).Select(_ => _k.Sys.Channels.CreateChannel(p).Value).ToArray();
        for (int i = 0; i < length; i++)
        {
            var region = p.AllocateMemory(MiB).Value;
            p.WriteMemory(region, 0, "pinned?"u8).Unwrap();
            // Send through channel (i+1)'s sending end, into its receiving end's inbox: channel i's receiving end.
            var next = chans[(i + 1) % length];
            _k.Ipc.TrySend(p, next.A, "cycle"u8, [new(chans[i].B, TransferMode.Move), new(region, TransferMode.Move)]).Unwrap();
        }
        Assert.NotEqual(before, _k.Footprint());
        Assert.True(_k.Quotas.Usage("/tenant-a").MemoryBytes >= length * MiB);

        (await _k.DestroyAsync(control)).Unwrap();

        Assert.Equal(before, _k.Footprint());
        Assert.Equal(liveEndpoints, _k.Ipc.LiveEndpoints);
        Assert.Equal(0, _k.Memory.LiveRegions);
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
        Assert.DoesNotContain(false, FrameProbe.FreeMap(_k.Physical));
    }

    /// <summary>The same cycle built across two processes in two tenants, each holding the sending ends it used.</summary>
    [Fact]
    public async Task A_cycle_across_two_tenants_is_collected_once_both_processes_are_destroyed()
    {
        var before = (_k.Tenant("tenant-a"), _k.Tenant("tenant-b"), _k.Footprint()).Item3;
        var (p, pc) = _k.SpawnWithControl("p", _k.Tenant("tenant-a"));
        var (q, qc) = _k.SpawnWithControl("q", _k.Tenant("tenant-b"));
        var (pToQ, qFromP) = _k.Channel(p, q);
        var (qToP, pFromQ) = _k.Channel(q, p);
        var rp = p.AllocateMemory(MiB).Value;
        var rq = q.AllocateMemory(MiB).Value;
        // P moves its inbox (pFromQ) into Q's inbox; Q moves its inbox (qFromP) into P's former inbox.
        _k.Ipc.TrySend(p, pToQ, "mine"u8, [new(pFromQ, TransferMode.Move), new(rp, TransferMode.Move)]).Unwrap();
        _k.Ipc.TrySend(q, qToP, "mine"u8, [new(qFromP, TransferMode.Move), new(rq, TransferMode.Move)]).Unwrap();

        (await _k.DestroyAsync(pc)).Unwrap();
        (await _k.DestroyAsync(qc)).Unwrap();
        Assert.Equal(before, _k.Footprint());
        Assert.Equal(0, _k.Ipc.LiveEndpoints);
    }

    /// <summary>
    /// The collector runs while processes use IPC (after any teardown). An endpoint that is being delivered — moved
    /// through a reachable inbox and received — is reachable all along, so the messages waiting in it must never be
    /// collected, however the collection interleaves with the send and the receive.
    /// </summary>
    [Fact]
    public void Collection_running_concurrently_never_drops_messages_of_an_endpoint_being_delivered()
    {
        const int Iterations = 5_000;
        var p = _k.Spawn("p", _k.Tenant("tenant-a"));
        var q = _k.Spawn("q", _k.Tenant("tenant-b"));
        var (toQ, inbox) = _k.Channel(p, q, depth: 4);
        using var stop = new CancellationTokenSource();
        long collections = 0;
        var collector = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                _k.Ipc.CollectUnreachable();
                collections++;
            }
        }) { IsBackground = true };
        collector.Start();
        try
        {
            for (int i = 0; i < Iterations; i++)
            {
                var (x, e) = _k.Sys.Channels.CreateChannel(p, depth: 2).Value;
                _k.Ipc.TrySend(p, x, "waiting inside the endpoint"u8).Unwrap();
                _k.Ipc.TrySend(p, toQ, "here is an endpoint"u8, [new(e, TransferMode.Move)]).Unwrap();
                var got = Assert.Single(_k.Ipc.TryReceive(q, inbox).Value.Handles);
                Assert.True(got != Handle.Invalid, $"iteration {i}: the endpoint itself was lost");
                var waiting = _k.Ipc.TryReceive(q, got);
                Assert.True(waiting.IsOk, $"iteration {i} (after {collections} collections): the message queued in a delivered endpoint was collected ({waiting.Code})");
                _k.Ipc.Close(q, got).Unwrap();
                _k.Ipc.Close(p, x).Unwrap();
            }
        }
        finally
        {
            stop.Cancel();
            collector.Join();
        }
        Assert.Equal(0, _k.Ipc.MessagesDropped);
    }

    // ---- item 13 ----

    /// <summary>A server in <paramref name="serverTenant"/> listening on "/svc", which the kernel bridges into
    /// <paramref name="clientTenant"/> (bound there from the server's own binding).</summary>
    private (Process Server, CapabilityToken Control, Handle Listener) PublishedListener(CapabilityToken serverTenant, CapabilityToken clientTenant)
    {
        var (server, control) = _k.SpawnWithControl("server", serverTenant);
        var listener = _k.Sys.Channels.Listen(server).Value;
        var ns = server.AddHandle(_k.Caps.Derive(serverTenant, Rights.Read | Rights.Bind, server.Principal).Value).Value;
        _k.Sys.Namespaces.Bind(server, ns, "svc", listener, Rights.Connect | Rights.Delegate).Unwrap();
        var published = _k.Namespaces.Lookup(serverTenant, "/svc", Rights.Connect).Value;
        _k.Namespaces.Bind(clientTenant, "svc", published, Rights.Connect).Unwrap();
        return (server, control, listener);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Closing_a_listener_with_a_backlog_closes_the_clients_connections_and_refunds_them(bool destroyServer)
    {
        var serverTenant = _k.Tenant("tenant-a");
        var clientTenant = _k.Tenant("tenant-b");
        var clients = Enumerable.Range(0, 3).Select(i => _k.Spawn($"client{i}", clientTenant)).ToArray();
        var clientUsage = _k.Quotas.Usage("/tenant-b");
        var (server, control, listener) = PublishedListener(serverTenant, clientTenant);
        var l = server.Get<IpcListener>(listener, Rights.None).Value;

        var conns = clients.SelectMany(c => new[] { (c, _k.Ipc.Connect(c, "/svc").Value), (c, _k.Ipc.Connect(c, "/svc").Value) }).ToArray();
        Assert.Equal(6, l.Backlog);
        var blocked = _k.Ipc.ReceiveAsync(conns[0].Item1, conns[0].Item2);
        Assert.False(blocked.IsCompleted);
        // Both ends of every connection are charged to its client (and the bridge binding to the clients' tenant).
        Assert.Equal(clientUsage.Capabilities + 12 + 1, _k.Quotas.Usage("/tenant-b").Capabilities);

        if (destroyServer) (await _k.DestroyAsync(control)).Unwrap();
        else _k.Sys.Handles.Close(server, listener).Unwrap();

        Assert.True(l.IsClosed);
        Assert.Equal(0, l.Backlog);
        Assert.Equal(ErrorCode.Closed, (await blocked).Code);
        foreach (var (c, h) in conns)
        {
            Assert.Equal(ErrorCode.Closed, _k.Ipc.TryReceive(c, h).Code);
            Assert.Equal(ErrorCode.Closed, _k.Ipc.TrySend(c, h, "anyone?"u8).Code);
            Assert.Equal(ErrorCode.Closed, (await _k.Ipc.ReceiveAsync(c, h)).Code);
            Assert.Equal(ErrorCode.Closed, (await _k.Ipc.SendAsync(c, h, "anyone?"u8.ToArray())).Code);
        }
        Assert.Equal(ErrorCode.Revoked, _k.Ipc.Connect(clients[0], "/svc").Code); // the bridge died with the listener
        // The server ends (and the bridge) are gone: the clients pay only for the handles they still hold.
        Assert.Equal(clientUsage.Capabilities + 6, _k.Quotas.Usage("/tenant-b").Capabilities);
        foreach (var (c, h) in conns) _k.Ipc.Close(c, h).Unwrap();
        Assert.Equal(clientUsage, _k.Quotas.Usage("/tenant-b"));
        Assert.Equal(0, _k.Ipc.LiveEndpoints);
        Assert.True(_k.Caps.VerifyInvariants().IsOk);
    }

    /// <summary>The contrast: a connection the server had accepted is cut when the listener (and so the binding it
    /// was made through) goes, and says Revoked; the ones still in the backlog were never accepted and say Closed.</summary>
    [Fact]
    public async Task Accepted_connections_are_cut_as_revoked_while_backlog_ones_are_closed()
    {
        var clientTenant = _k.Tenant("tenant-b");
        var client = _k.Spawn("client", clientTenant);
        var (server, _, listener) = PublishedListener(_k.Tenant("tenant-a"), clientTenant);
        var accepted = _k.Ipc.Connect(client, "/svc").Value;
        var waiting = _k.Ipc.Connect(client, "/svc").Value;
        var (serverEnd, _) = (await _k.Ipc.AcceptAsync(server, listener)).Value;
        _k.Ipc.TrySend(client, accepted, "hello"u8).Unwrap();
        Assert.True(_k.Ipc.TryReceive(server, serverEnd).IsOk);

        _k.Sys.Handles.Close(server, listener).Unwrap();

        Assert.Equal(ErrorCode.Closed, _k.Ipc.TrySend(client, waiting, "x"u8).Code);
        Assert.Equal(ErrorCode.Revoked, _k.Ipc.TrySend(client, accepted, "x"u8).Code);
        Assert.Equal(ErrorCode.Revoked, _k.Ipc.TryReceive(server, serverEnd).Code);
    }
}
