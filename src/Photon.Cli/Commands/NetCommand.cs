using System.Diagnostics;
using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Hal.Host;
using Photon.Net;
using Photon.Net.Services;
using Spectre.Console;

namespace Photon.Cli.Commands;

/// <summary>
/// `photon net`: bring a Photon interface up on a Linux TAP device, serve and reach real Linux peers, and show the
/// stack's tables (interfaces, routes, ARP cache, connections — a netstat for Photon). The hosted kernel lives inside
/// one invocation, so `up` runs for a while (or until Ctrl-C) and prints the tables as it goes.
/// </summary>
public static class NetCommand
{
    public const string Usage = "photon net <demo | up <addr/prefix> [--tap NAME] [--gateway IP] [--peer-ns NS --peer-addr IP] [--http PORT] [--ping IP]... [--seconds N]>";

    public static async Task<int> RunAsync(string[] args)
    {
        if (args.Length == 0)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"usage: {Usage}"));
            return 2;
        }
        return args[0] switch
        {
            "demo" => await DemoAsync(),
            "up" => await UpAsync(args[1..]),
            _ => Fail($"unknown subcommand '{args[0]}'"),
        };
    }

    private static int Fail(string message)
    {
        AnsiConsole.MarkupLine($"[red]error[/] {Markup.Escape(message)}");
        return 2;
    }

    private sealed record UpOptions(Ipv4Cidr Address, string Tap, Ipv4Address? Gateway, string? PeerNs, Ipv4Cidr? PeerAddress,
        ushort? HttpPort, List<Ipv4Address> Pings, int Seconds);

    private static Result<UpOptions> Parse(string[] args)
    {
        if (args.Length == 0) return Errors.Of(ErrorCode.InvalidArgument, "up needs an address, e.g. 10.99.0.2/24");
        var cidr = Ipv4Cidr.Parse(args[0]);
        if (!cidr.IsOk) return cidr.Error;
        var o = new UpOptions(cidr.Value, "photon0", null, null, null, null, new List<Ipv4Address>(), 30);
        for (int i = 1; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new KernelException(ErrorCode.InvalidArgument, $"{args[i]} needs a value");
            switch (args[i])
            {
                case "--tap": o = o with { Tap = Next() }; break;
                case "--gateway": var g = Ipv4Address.Parse(Next()); if (!g.IsOk) return g.Error; o = o with { Gateway = g.Value }; break;
                case "--peer-ns": o = o with { PeerNs = Next() }; break;
                case "--peer-addr": var p = Ipv4Cidr.Parse(Next()); if (!p.IsOk) return p.Error; o = o with { PeerAddress = p.Value }; break;
                case "--http": if (!ushort.TryParse(Next(), out var port) || port == 0) return Errors.Of(ErrorCode.InvalidArgument, "bad --http port"); o = o with { HttpPort = port }; break;
                case "--ping": var t = Ipv4Address.Parse(Next()); if (!t.IsOk) return t.Error; o.Pings.Add(t.Value); break;
                case "--seconds": if (!int.TryParse(Next(), out var s) || s < 0) return Errors.Of(ErrorCode.InvalidArgument, "bad --seconds"); o = o with { Seconds = s }; break;
                default: return Errors.Of(ErrorCode.InvalidArgument, $"unknown option {args[i]}");
            }
        }
        if ((o.PeerNs is null) != (o.PeerAddress is null)) return Errors.Of(ErrorCode.InvalidArgument, "--peer-ns and --peer-addr go together");
        return o;
    }

    private static Task<Result<HostedInterface>> BringUpAsync(UpOptions o) =>
        HostedInterface.BringUpAsync(o.Tap, o.Address, o.Gateway, o.PeerNs, o.PeerAddress, new CapabilityManager(), new HostTimers(new HostClock()));

    private static async Task<int> UpAsync(string[] args)
    {
        var parsed = Parse(args);
        if (!parsed.IsOk) return Fail(parsed.Error.Message);
        var o = parsed.Value;
        var up = await BringUpAsync(o);
        if (!up.IsOk) return Fail($"{up.Error.Message} (creating TAP devices needs root or CAP_NET_ADMIN)");
        await using var hosted = up.Value;
        var stack = hosted.Stack;
        AnsiConsole.MarkupLine($"[green]up[/] {Markup.Escape(hosted.Nic.ToString())}" +
                               (o.PeerNs is null ? "" : $"  (Linux end {o.PeerAddress} in netns {o.PeerNs}: ip netns exec {o.PeerNs} ping {o.Address.Address})"));
        using var stop = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; stop.Cancel(); };
        Task? http = null;
        if (o.HttpPort is { } port)
        {
            var listener = stack.Tcp.Listen(port);
            if (!listener.IsOk) return Fail(listener.Error.Message);
            http = new HttpServer(listener.Value, path => HttpResponse.Text(200, $"hello from photon ({path})\n")).RunAsync(stop.Token);
            AnsiConsole.MarkupLine($"serving HTTP on {o.Address.Address}:{port}");
        }
        foreach (var target in o.Pings)
        {
            var rtt = await stack.PingAsync(target, TimeSpan.FromSeconds(2));
            AnsiConsole.MarkupLine(rtt.IsOk ? $"ping {target}: {rtt.Value.TotalMilliseconds:0.000} ms" : $"[yellow]ping {target}: {Markup.Escape(rtt.Error.Message)}[/]");
        }
        try { await Task.Delay(TimeSpan.FromSeconds(o.Seconds), stop.Token); } catch (OperationCanceledException) { }
        PrintTables(stack);
        return 0;
    }

    /// <summary>Self-contained tour: a namespace with Linux at 10.99.0.1, Photon at 10.99.0.2, real traffic both ways.</summary>
    private static async Task<int> DemoAsync()
    {
        _failures = 0;
        var ns = $"photon-demo-{Environment.ProcessId}";
        var o = new UpOptions(Ipv4Cidr.Parse("10.99.0.2/24").Value, $"ph{Environment.ProcessId % 100000}", Ipv4Address.Parse("10.99.0.1").Value,
            ns, Ipv4Cidr.Parse("10.99.0.1/24").Value, 80, new List<Ipv4Address>(), 0);
        foreach (var tool in new[] { "ip", "ping", "curl", "nc" })
            if (Sh($"command -v {tool}").Code != 0) return Fail($"'{tool}' is missing: apt-get install -y iproute2 iputils-ping curl netcat-openbsd");
        var up = await BringUpAsync(o);
        if (!up.IsOk) return Fail($"{up.Error.Message} (the demo creates a TAP device and a network namespace: run it as root)");
        await using var hosted = up.Value;
        var stack = hosted.Stack;
        string InNs(string cmd) => $"ip netns exec {ns} sh -c '{cmd}'";
        AnsiConsole.MarkupLine($"[bold]Photon[/] {Markup.Escape(hosted.Nic.ToString())}, default route via 10.99.0.1; [bold]Linux[/] 10.99.0.1/24 in netns {ns}\n");

        using var stop = new CancellationTokenSource();
        var listener = stack.Tcp.Listen(80).Value;
        var page = Encoding.UTF8.GetBytes("<h1>Hello from Photon</h1>\n");
        var http = new HttpServer(listener, path => path == "/" ? new HttpResponse(200, "text/html", page) : HttpResponse.Text(404, "not found\n"));
        var serving = http.RunAsync(stop.Token);

        var ping = Sh(InNs("ping -c 3 -i 0.2 -W 2 10.99.0.2"));
        Step("Linux ping → Photon", ping.Code == 0, ping.Output.Split('\n').FirstOrDefault(l => l.Contains("packets transmitted")) ?? ping.Output);
        var rtt = await stack.PingAsync(Ipv4Address.Parse("10.99.0.1").Value, TimeSpan.FromSeconds(2));
        Step("Photon ping → Linux", rtt.IsOk, rtt.IsOk ? $"rtt {rtt.Value.TotalMilliseconds:0.000} ms" : rtt.Error.ToString());
        var curl = Sh(InNs("curl -sS --max-time 10 http://10.99.0.2/"));
        Step("Linux curl → Photon HTTP", curl.Code == 0 && curl.Output.Contains("Hello from Photon"), curl.Output.Trim());

        // Photon → Linux nc: 16 MiB, checked by sha256 on the Linux side; the tables are printed while it is open.
        var data = new byte[16 << 20];
        new Random(1).NextBytes(data);
        var expected = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)).ToLowerInvariant();
        var nc = Task.Run(() => Sh(InNs("nc -l -p 9000 < /dev/null | sha256sum")));
        Photon.Kernel.Result<Photon.Net.Tcp.TcpConnection> conn = default;
        for (int i = 0; i < 50 && !(conn = await stack.Tcp.ConnectAsync(new IpEndpoint(Ipv4Address.Parse("10.99.0.1").Value, 9000))).IsOk; i++)
            await Task.Delay(100);
        if (conn.IsOk)
        {
            var sw = Stopwatch.StartNew();
            await conn.Value.SendAsync(data);
            AnsiConsole.WriteLine();
            PrintTables(stack);
            await conn.Value.CloseAsync();
            var got = await nc;
            Step("Photon TCP → Linux nc (16 MiB)", got.Output.StartsWith(expected), $"sha256 {(got.Output.StartsWith(expected) ? "matches" : "DIFFERS")}, {16 / sw.Elapsed.TotalSeconds:0} MiB/s");
        }
        else Step("Photon TCP → Linux nc", false, conn.Error.ToString());
        stop.Cancel();
        await listener.DisposeAsync();
        return _failures == 0 ? 0 : 1;
    }

    private static int _failures;

    private static void Step(string what, bool ok, string detail)
    {
        if (!ok) _failures++;
        AnsiConsole.MarkupLine($"{(ok ? "[green]ok[/]  " : "[red]FAIL[/]")} {Markup.Escape(what),-34} {Markup.Escape(detail)}");
    }

    public static void PrintTables(NetworkStack stack)
    {
        var ifs = new Table().Title("[bold]interfaces[/]").AddColumn("name").AddColumn("address").AddColumn("mac").AddColumn("mtu")
            .AddColumn(new TableColumn("rx frames").RightAligned()).AddColumn(new TableColumn("tx frames").RightAligned());
        foreach (var i in stack.Interfaces)
            ifs.AddRow(i.Name, i.Cidr.ToString(), i.MacAddress, i.Mtu.ToString(), i.FramesReceived.ToString(), i.FramesSent.ToString());
        AnsiConsole.Write(ifs);

        var routes = new Table().Title("[bold]routes[/]").AddColumn("destination").AddColumn("gateway").AddColumn("dev").AddColumn("metric");
        foreach (var r in stack.Routes.Routes)
            routes.AddRow($"{r.Destination.Network}/{r.Destination.PrefixLength}", r.Gateway?.ToString() ?? "on-link", r.Interface.Name, r.Metric.ToString());
        AnsiConsole.Write(routes);

        var arp = new Table().Title("[bold]ARP cache[/]").AddColumn("address").AddColumn("mac").AddColumn("dev").AddColumn("age");
        foreach (var e in stack.ArpCache) arp.AddRow(e.Address.ToString(), e.Mac, e.Interface, $"{e.Age.TotalSeconds:0.0}s");
        AnsiConsole.Write(arp);

        var conns = new Table().Title("[bold]connections[/]").AddColumn("proto").AddColumn("local").AddColumn("remote").AddColumn("state")
            .AddColumn(new TableColumn("send-q").RightAligned()).AddColumn(new TableColumn("recv-q").RightAligned())
            .AddColumn(new TableColumn("cwnd").RightAligned()).AddColumn(new TableColumn("srtt").RightAligned()).AddColumn(new TableColumn("rto").RightAligned())
            .AddColumn(new TableColumn("retrans").RightAligned());
        foreach (var l in stack.Tcp.Listeners) conns.AddRow("tcp", l.ToString(), "*:*", "LISTEN", "", "", "", "", "", "");
        foreach (var c in stack.Tcp.Connections)
            conns.AddRow("tcp", c.Local.ToString(), c.Remote.ToString(), c.State.ToString(), c.SendQueue.ToString(), c.ReceiveQueue.ToString(),
                c.CongestionWindow.ToString(), $"{c.SmoothedRtt.TotalMilliseconds:0.00}ms", $"{c.RetransmitTimeout.TotalMilliseconds:0}ms", c.Retransmits.ToString());
        foreach (var u in stack.Udp.Sockets) conns.AddRow("udp", $"0.0.0.0:{u.Port}", "*:*", "", "", u.Queued.ToString(), "", "", "", "");
        AnsiConsole.Write(conns);

        var stats = stack.Statistics;
        if (stats.Count > 0)
            AnsiConsole.MarkupLine("[bold]counters[/] " + Markup.Escape(string.Join("  ", stats.Select(kv => $"{kv.Key}={kv.Value}"))));
    }

    private static (int Code, string Output) Sh(string cmd) => HostShell.Run(cmd);
}
