using System.Text;
using Photon.Kernel.Audit;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Ipc;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;

namespace Photon.Kernel.Tests.Ipc;

public sealed class IpcTests : IDisposable
{
    private readonly PhysicalMemory _phys = new(8 * 1024 * 1024);
    private readonly InMemoryAuditSink _audit = new();
    private readonly CapabilityManager _caps;
    private readonly NamespaceManager _ns;
    private readonly MemoryManager _mm;
    private readonly ProcessManager _pm;
    private readonly IpcManager _ipc;

    public IpcTests()
    {
        _caps = new CapabilityManager(_audit);
        _ns = new NamespaceManager(_caps);
        _mm = new MemoryManager(_phys, _caps);
        _pm = new ProcessManager(_caps, _ns, _mm);
        _ipc = new IpcManager(_caps, _ns, new HostTimers(new HostClock()));
    }

    public void Dispose() => _phys.Dispose();

    private Process Spawn(string name, CapabilityToken ns, Rights nsRights = Rights.Read | Rights.Enumerate) => _pm.Spawn(name, ns, nsRights).Value.Process;

    /// <summary>Gives <paramref name="b"/> one end of a channel <paramref name="a"/> created.</summary>
    private (Handle A, Handle B) Connect(Process a, Process b)
    {
        var (x, y) = _ipc.CreateChannel(a).Value;
        var token = a.Handles.Remove(y).Value; // hand the other end over, as a spawner would
        return (x, b.AddHandle(token).Value);
    }

    [Fact]
    public async Task Messages_flow_both_ways_in_order()
    {
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (ha, hb) = Connect(a, b);
        for (int i = 0; i < 10; i++) Assert.True(_ipc.TrySend(a, ha, Encoding.UTF8.GetBytes($"m{i}")).IsOk);
        for (int i = 0; i < 10; i++) Assert.Equal($"m{i}", Encoding.UTF8.GetString((await _ipc.ReceiveAsync(b, hb)).Value.Data));
        var pending = _ipc.ReceiveAsync(a, ha);
        Assert.False(pending.IsCompleted);
        Assert.True((await _ipc.SendAsync(b, hb, "pong"u8.ToArray())).IsOk);
        Assert.Equal("pong", Encoding.UTF8.GetString((await pending).Value.Data));
    }

    [Fact]
    public async Task Byte_only_and_capability_carrying_messages_arrive_in_send_order_with_their_handles()
    {
        // Byte-only messages are taken without the transit lock, ones that carry capabilities under it: the receiver
        // must still get them in send order, each handle on its own message, and nothing left behind.
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (ha, hb) = Connect(a, b);
        for (byte i = 0; i < 6; i++)
        {
            if (i % 2 == 0) { Assert.True(_ipc.TrySend(a, ha, [i]).IsOk); continue; }
            var mem = a.AllocateMemory(4096).Value;
            a.WriteMemory(mem, 0, [i]).Unwrap();
            Assert.True(_ipc.TrySend(a, ha, [i], [new HandleTransfer(mem, TransferMode.Move)]).IsOk);
        }
        for (byte i = 0; i < 6; i++)
        {
            var msg = (await _ipc.ReceiveAsync(b, hb)).Value;
            Assert.Equal(i, msg.Data[0]);
            if (i % 2 == 0) { Assert.Empty(msg.Handles); continue; }
            var got = Assert.Single(msg.Handles);
            var buf = new byte[1];
            b.ReadMemory(got, 0, buf).Unwrap();
            Assert.Equal(i, buf[0]);
        }
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceive(b, hb).Code);
        Assert.Equal(_ipc.MessagesSent, _ipc.MessagesReceived);
    }

    [Fact]
    public async Task Moved_handle_leaves_the_sender_and_lands_in_the_receiver()
    {
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (ha, hb) = Connect(a, b);
        var mem = a.AllocateMemory(4096).Value;
        a.WriteMemory(mem, 0, "secret"u8).Unwrap();
        var token = a.TokenOf(mem).Value;

        Assert.True(_ipc.TrySend(a, ha, "here"u8, [new HandleTransfer(mem, TransferMode.Move)]).IsOk);
        Assert.Equal(ErrorCode.InvalidHandle, a.ReadMemory(mem, 0, new byte[1]).Code);
        var msg = (await _ipc.ReceiveAsync(b, hb)).Value;
        var got = Assert.Single(msg.Handles);
        // A move re-issues the capability: the receiver's token is new, the sender's old one is dead.
        Assert.NotEqual(token, b.TokenOf(got).Value);
        Assert.Equal(ErrorCode.Revoked, _caps.Check(token, Rights.None).Code);
        var buf = new byte[6];
        b.ReadMemory(got, 0, buf).Unwrap();
        Assert.Equal("secret"u8.ToArray(), buf);
        Assert.Contains(_audit.Snapshot(), e => e.Action == AuditAction.Transfer && e.Parent == token);
    }

    [Fact]
    public async Task Lent_region_is_read_without_copying_and_the_lender_can_revoke_the_loan()
    {
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (ha, hb) = Connect(a, b);
        var big = a.AllocateMemory(1024 * 1024).Value;
        using (var m = a.MapMemory(big).Value) m.Update(0, 1024 * 1024, 7, (span, v) => span.Fill((byte)v)).Unwrap();
        Assert.True(_ipc.TrySend(a, ha, "1 MiB at handle 0"u8, [new HandleTransfer(big, TransferMode.Derive, Rights.Read | Rights.Map)]).IsOk);
        var loan = Assert.Single((await _ipc.ReceiveAsync(b, hb)).Value.Handles);
        var view = b.MapMemory(loan).Value;
        Assert.False(view.IsWritable);
        Assert.Equal(1024 * 1024, view.Length);
        static byte At(RegionMapping v, long i) { byte x = 0; v.View(i, 1, 0, (s, _) => x = s[0]).Unwrap(); return x; }
        Assert.Equal(7, At(view, 12345));
        // Zero copy: the lender's write is visible through the borrower's mapping.
        a.WriteMemory(big, 12345, [9]).Unwrap();
        Assert.Equal(9, At(view, 12345));
        Assert.Equal(ErrorCode.AccessDenied, b.WriteMemory(loan, 0, [1]).Code);
        a.RevokeDerived(big);
        Assert.Equal(ErrorCode.Revoked, b.ReadMemory(loan, 0, new byte[1]).Code);
        // The mapping dies with the loan: no access after revocation, not even through a view opened before it.
        Assert.Equal(ErrorCode.Revoked, view.Read(0, new byte[1]).Code);
    }

    [Fact]
    public void Bad_messages_are_typed_errors_and_change_nothing()
    {
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (ha, hb) = Connect(a, b);
        var mem = a.AllocateMemory(4096).Value;
        var readOnly = a.Duplicate(mem, Rights.Read).Value; // no Transfer, no Delegate

        Assert.Equal(ErrorCode.InvalidArgument, _ipc.TrySend(a, ha, new byte[IpcManager.MaxMessageBytes + 1]).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _ipc.TrySend(a, ha, "x"u8, [new HandleTransfer(new Handle(0x7ffff), TransferMode.Move)]).Code);
        Assert.Equal(ErrorCode.AccessDenied, _ipc.TrySend(a, ha, "x"u8, [new HandleTransfer(readOnly, TransferMode.Move)]).Code);
        Assert.Equal(ErrorCode.AccessDenied, _ipc.TrySend(a, ha, "x"u8, [new HandleTransfer(mem, TransferMode.Derive, Rights.Execute)]).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _ipc.TrySend(a, ha, "x"u8, [new HandleTransfer(mem, TransferMode.Move), new HandleTransfer(mem, TransferMode.Move)]).Code);
        Assert.Equal(ErrorCode.InvalidArgument, _ipc.TrySend(a, ha, "x"u8, [new HandleTransfer(ha, TransferMode.Move)]).Code);
        // A valid move followed by an invalid one: the valid handle stays with the sender.
        Assert.Equal(ErrorCode.AccessDenied, _ipc.TrySend(a, ha, "x"u8, [new HandleTransfer(mem, TransferMode.Move), new HandleTransfer(readOnly, TransferMode.Move)]).Code);
        Assert.True(a.ReadMemory(mem, 0, new byte[1]).IsOk);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TryReceive(b, hb).Code);
        // Receiving on the wrong kind of handle, or with a forged handle.
        Assert.Equal(ErrorCode.WrongObjectType, _ipc.TryReceive(a, mem).Code);
        Assert.Equal(ErrorCode.InvalidHandle, _ipc.TryReceive(b, new Handle(12345)).Code);
        Assert.Contains(_audit.Snapshot(), e => e.Action == AuditAction.Denied && e.Rights.HasFlag(Rights.Transfer));
    }

    [Fact]
    public async Task Full_inbox_is_back_pressure()
    {
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (x, y) = _ipc.CreateChannel(a, depth: 2).Value;
        Assert.True(_ipc.TrySend(a, x, "1"u8).IsOk);
        Assert.True(_ipc.TrySend(a, x, "2"u8).IsOk);
        Assert.Equal(ErrorCode.WouldBlock, _ipc.TrySend(a, x, "3"u8).Code);
        var blocked = _ipc.SendAsync(a, x, "3"u8.ToArray());
        await Task.Delay(30);
        Assert.False(blocked.IsCompleted);
        Assert.True(_ipc.TryReceive(a, y).IsOk);
        Assert.True((await blocked).IsOk);
    }

    [Fact]
    public async Task Closing_one_end_gives_the_peer_Closed_and_revokes_undelivered_capabilities()
    {
        var a = Spawn("a", _ns.RootCapability);
        var b = Spawn("b", _ns.RootCapability);
        var (ha, hb) = Connect(a, b);
        var mem = a.AllocateMemory(4096).Value;
        var lent = a.TokenOf(mem).Value;
        Assert.True(_ipc.TrySend(a, ha, "never read"u8, [new HandleTransfer(mem, TransferMode.Derive, Rights.Read)]).IsOk);
        var waiting = _ipc.ReceiveAsync(a, ha);
        Assert.True(_ipc.Close(b, hb).IsOk);
        Assert.Equal(ErrorCode.Closed, (await waiting).Code);
        Assert.Equal(ErrorCode.Closed, _ipc.TrySend(a, ha, "x"u8).Code);
        Assert.Empty(_caps.Descendants(lent).Value); // the in-flight loan died with the channel
        Assert.Equal(1, _ipc.MessagesDropped);
    }

    [Fact]
    public async Task Call_gets_a_reply_or_times_out()
    {
        var client = Spawn("client", _ns.RootCapability);
        var server = Spawn("server", _ns.RootCapability);
        var (c, s) = Connect(client, server);
        var serving = Task.Run(async () =>
        {
            var req = (await _ipc.ReceiveAsync(server, s)).Value;
            var text = Encoding.UTF8.GetString(req.Data);
            Assert.True((await _ipc.ReplyAsync(server, req, Encoding.UTF8.GetBytes(text.ToUpperInvariant()))).IsOk);
        });
        var reply = await _ipc.CallAsync(client, c, "hello"u8.ToArray(), TimeSpan.FromSeconds(5));
        Assert.Equal("HELLO", Encoding.UTF8.GetString(reply.Value.Data));
        await serving;
        var silent = await _ipc.CallAsync(client, c, "anyone?"u8.ToArray(), TimeSpan.FromMilliseconds(100));
        Assert.Equal(ErrorCode.TimedOut, silent.Code);
    }

    [Fact]
    public async Task Port_wait_returns_the_endpoint_that_became_readable()
    {
        var a = Spawn("a", _ns.RootCapability);
        var chans = Enumerable.Range(0, 5).Select(_ => _ipc.CreateChannel(a).Value).ToList();
        var wait = _ipc.WaitAnyAsync(a, chans.Select(c => c.B).ToList());
        await Task.Delay(20);
        Assert.False(wait.IsCompleted);
        _ipc.TrySend(a, chans[3].A, "!"u8).Unwrap();
        Assert.Equal(3, (await wait).Value);
    }

    [Fact]
    public async Task Sibling_tenants_cannot_connect_unless_a_parent_bridges_them_and_revoking_the_bridge_closes_it()
    {
        var tenantA = _ns.CreateChild(_ns.RootCapability, "tenant-a").Value;
        var tenantB = _ns.CreateChild(_ns.RootCapability, "tenant-b").Value;
        var server = Spawn("echo", tenantA, Rights.Read | Rights.Bind);
        var listener = _ipc.Listen(server).Value;
        var nsHandle = server.AddHandle(_caps.Derive(tenantA, Rights.Bind | Rights.Read, server.Principal).Value).Value;
        server.Bind(nsHandle, "echo", listener, Rights.Connect | Rights.Delegate).Unwrap();

        var neighbour = Spawn("web", tenantA);
        var stranger = Spawn("web", tenantB);
        Assert.True(_ipc.Connect(neighbour, "/echo").IsOk);
        Assert.Equal(ErrorCode.NotFound, _ipc.Connect(stranger, "/echo").Code);
        Assert.Equal(ErrorCode.NotFound, _ipc.Connect(stranger, "/tenant-a/echo").Code);
        Assert.Equal(ErrorCode.InvalidName, _ipc.Connect(stranger, "../tenant-a/echo").Code);

        // The parent (root) bridges: it binds tenant-a's echo into tenant-b.
        var echoInA = _ns.Lookup(tenantA, "/echo", Rights.Connect).Value;
        var bridge = _ns.Bind(tenantB, "echo", echoInA, Rights.Connect);
        Assert.True(bridge.IsOk, bridge.ToString());
        var conn = _ipc.Connect(stranger, "/echo").Value;
        _ = (await _ipc.AcceptAsync(server, listener)).Value; // neighbour's
        var (serverEnd, who) = (await _ipc.AcceptAsync(server, listener)).Value;
        Assert.Equal(stranger.Principal, who);
        Assert.True(_ipc.TrySend(stranger, conn, "hi"u8).IsOk);
        Assert.Equal("hi", Encoding.UTF8.GetString((await _ipc.ReceiveAsync(server, serverEnd)).Value.Data));

        // Taking the bridge down: new connects fail and the open connection is closed.
        _ns.Unbind(tenantB, "echo").Unwrap();
        Assert.Equal(ErrorCode.NotFound, _ipc.Connect(stranger, "/echo").Code);
        Assert.Equal(ErrorCode.Revoked, _ipc.TrySend(stranger, conn, "still there?"u8).Code);
        Assert.Equal(ErrorCode.Revoked, _ipc.TryReceive(server, serverEnd).Code);
    }

    [Fact]
    public async Task Random_transfers_never_duplicate_capabilities_or_leak_across_tenants()
    {
        var tenants = new[] { "t0", "t1", "t2" }.Select(t => _ns.CreateChild(_ns.RootCapability, t).Value).ToArray();
        var procs = tenants.SelectMany((t, i) => new[] { Spawn($"p{i}a", t), Spawn($"p{i}b", t) }).ToArray();
        // Channels only within a tenant (pairs 0-1, 2-3, 4-5).
        var links = new List<(Process From, Handle Out, Process To, Handle In)>();
        for (int i = 0; i < procs.Length; i += 2)
        {
            var (x, y) = Connect(procs[i], procs[i + 1]);
            links.Add((procs[i], x, procs[i + 1], y));
            var (p, q) = Connect(procs[i + 1], procs[i]);
            links.Add((procs[i + 1], p, procs[i], q));
        }
        var owners = new Dictionary<long, int>(); // region object id -> tenant index
        var rng = new Random(11);
        for (int step = 0; step < 3000; step++)
        {
            var link = links[rng.Next(links.Count)];
            int tenant = Array.IndexOf(procs, link.From) / 2;
            switch (rng.Next(4))
            {
                case 0:
                    var m = link.From.AllocateMemory(4096);
                    if (m.IsOk) owners[link.From.Get<MemoryRegion>(m.Value, Rights.None).Value.ObjectId] = tenant;
                    break;
                case 1:
                case 2:
                    var regions = link.From.Handles.Snapshot().Where(h => _caps.Check<MemoryRegion>(h.Token, Rights.None).IsOk).ToList();
                    if (regions.Count == 0) break;
                    var pick = regions[rng.Next(regions.Count)].Handle;
                    var mode = rng.Next(2) == 0 ? TransferMode.Move : TransferMode.Derive;
                    var r = _ipc.TrySend(link.From, link.Out, "x"u8, [new HandleTransfer(pick, mode, Rights.Read | Rights.Delegate | Rights.Transfer)]);
                    if (r.IsOk && mode == TransferMode.Move) Assert.Equal(ErrorCode.InvalidHandle, link.From.TokenOf(pick).Code);
                    break;
                default:
                    _ipc.TryReceive(link.To, link.In);
                    break;
            }
            if (step % 100 == 0)
            {
                // Every live handle a process holds names an object of its own tenant, and no token sits in two tables.
                var seen = new HashSet<CapabilityToken>();
                foreach (var p in procs)
                {
                    int t = Array.IndexOf(procs, p) / 2;
                    foreach (var (_, token) in p.Handles.Snapshot())
                    {
                        Assert.True(seen.Add(token), "a capability appears in two handle tables");
                        var region = _caps.Check<MemoryRegion>(token, Rights.None);
                        if (region.IsOk) Assert.Equal(t, owners[region.Value.ObjectId]);
                    }
                }
                Assert.True(_caps.VerifyInvariants().IsOk);
            }
        }
        await Task.CompletedTask;
    }
}
