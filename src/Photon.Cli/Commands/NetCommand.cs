using System.Diagnostics;
using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Boot;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Processes;
using Photon.Cli.Demo;
using Photon.Kernel.Boot.Components;
using Photon.Kernel.FileSystems;
using Photon.Net;
using Photon.Net.Dns;
using Photon.Net.Services;
using Photon.Net.Syscalls;
using Spectre.Console;

namespace Photon.Cli.Commands;

using Photon.Kernel.Boot;

/// <summary>
/// `photon net`: boot a kernel whose config brings a Photon interface up on a Linux TAP device (a
/// <see cref="NetworkComponent"/>), serve and reach real Linux peers through init's socket syscalls, and show the
/// stack's tables (interfaces, routes, ARP cache, connections — a netstat for Photon). The hosted kernel lives inside
/// one invocation, so `up` runs for a while (or until Ctrl-C, the kernel's shutdown interrupt) and prints the tables.
/// </summary>
public static class NetCommand
{
    public const string Usage = "photon net <demo | up <addr/prefix | --dhcp> [--tap NAME] [--ip6 ADDR/PREFIX] [--gateway IP] [--peer-ns NS --peer-addr IP] [--http PORT [--root DIR IMAGE]] [--ping IP]... [--dns IP]... [--resolve NAME]... [--no-offloads] [--seconds N]>";

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
        ushort? HttpPort, List<Ipv4Address> Pings, int Seconds, string? Root = null, string? Image = null)
    {
        public List<Ipv4Address> DnsServers { get; } = new();
        public List<string> Resolve { get; } = new();
        public bool Dhcp { get; set; }
        /// <summary>--ip6: IPv6 on (EUI-64 link-local, SLAAC) with this static address.</summary>
        public Ipv6Cidr? Ipv6 { get; set; }
        /// <summary>--no-offloads: a plain TAP (no virtio_net_hdr): the stack checksums and segments every frame itself.</summary>
        public bool Offloads { get; set; } = true;
    }

    private static Result<UpOptions> Parse(string[] args)
    {
        if (args.Length == 0) return Errors.Of(ErrorCode.InvalidArgument, "up needs an address, e.g. 10.99.0.2/24, or --dhcp");
        bool dhcp = args[0] == "--dhcp";
        // With --dhcp the lease gives the address; the placeholder 0.0.0.0/0 only seeds the MAC.
        var cidr = dhcp ? new Ipv4Cidr(Ipv4Address.Any, 0) : Ipv4Cidr.Parse(args[0]);
        if (!cidr.IsOk) return cidr.Error;
        var o = new UpOptions(cidr.Value, "photon0", null, null, null, null, new List<Ipv4Address>(), 30) { Dhcp = dhcp };
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
                case "--dns": var d = Ipv4Address.Parse(Next()); if (!d.IsOk) return d.Error; o.DnsServers.Add(d.Value); break;
                case "--resolve": o.Resolve.Add(Next()); break;
                case "--no-offloads": o.Offloads = false; break;
                case "--ip6": var v6 = Ipv6Cidr.Parse(Next()); if (!v6.IsOk) return v6.Error; o.Ipv6 = v6.Value; break;
                case "--seconds": if (!int.TryParse(Next(), out var s) || s < 0) return Errors.Of(ErrorCode.InvalidArgument, "bad --seconds"); o = o with { Seconds = s }; break;
                case "--root": o = o with { Root = Next() }; break;
                case var image when !image.StartsWith('-') && o.Image is null: o = o with { Image = image }; break;
                default: return Errors.Of(ErrorCode.InvalidArgument, $"unknown option {args[i]}");
            }
        }
        if (o.DnsServers.Count > ResolverOptions.MaxServers) return Errors.Of(ErrorCode.InvalidArgument, $"at most {ResolverOptions.MaxServers} --dns servers");
        if (o.Resolve.Count > 0 && o.DnsServers.Count == 0 && !o.Dhcp) return Errors.Of(ErrorCode.InvalidArgument, "--resolve needs a --dns server or --dhcp");
        if (o.Dhcp && o.Gateway is not null) return Errors.Of(ErrorCode.InvalidArgument, "--dhcp takes the router from the lease: no --gateway");
        if ((o.PeerNs is null) != (o.PeerAddress is null)) return Errors.Of(ErrorCode.InvalidArgument, "--peer-ns and --peer-addr go together");
        if ((o.Root is null) != (o.Image is null)) return Errors.Of(ErrorCode.InvalidArgument, "--root DIR and an IMAGE (ext4 or FAT) go together");
        if (o.Root is not null && o.HttpPort is null) return Errors.Of(ErrorCode.InvalidArgument, "--root serves files over HTTP: give --http PORT");
        if (o.Image is not null && !File.Exists(o.Image)) return Errors.Of(ErrorCode.NotFound, $"no image file {o.Image}");
        return o;
    }

    /// <summary>A kernel booted with a <see cref="NetworkComponent"/> on the TAP device, the TAP's Linux end optionally
    /// moved into a network namespace, and init's handles to /net/outbound and /net/tcp. Disposing shuts the kernel
    /// down (stopping the network) and deletes a namespace it created.</summary>
    private sealed class NetKernel : IAsyncDisposable
    {
        public required PhotonKernel Kernel { get; init; }
        public required Handle Outbound { get; init; }
        public required Handle Tcp { get; init; }
        public string? CreatedNs { get; init; }

        public async ValueTask DisposeAsync()
        {
            await Kernel.DisposeAsync();
            if (CreatedNs is not null) Sh($"ip netns del {CreatedNs}");
        }
    }

    /// <summary>Errors from the TAP device come back as they are (AccessDenied/NotSupported without root).</summary>
    private static async Task<Result<NetKernel>> BootAsync(UpOptions o)
    {
        var components = new List<IKernelComponent> { new NetworkComponent(o.Tap, o.Address, o.Gateway, dnsServers: o.DnsServers, dhcp: o.Dhcp) { Ipv6 = o.Ipv6 } };
        if (o.Image is not null)
        {
            // The served image, read-only, mounted by the driver that recognises it; init holds it at /mounts/www.
            components.Add(new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Fat")));
            components.Add(new ModuleComponent(DemoSystem.ModulePath("Photon.FileSystems.Ext4")));
            components.Add(new BlockDeviceComponent("www", o.Image, readOnly: true));
            components.Add(new MountComponent("www", "www", [], new MountOptions(ReadOnly: true)));
        }
        var booted = await PhotonKernel.BootAsync(new KernelConfig
        {
            Platform = LinuxPlatform.Create(captureSignals: true, networkOffloads: o.Offloads),
            EchoLog = false,
            Components = components,
            ModulePins = ShippedModules.Pins, BuiltInModules = ShippedModules.BuiltIns,
        });
        if (!booted.IsOk) return booted.Error;
        var k = booted.Value;
        string? createdNs = null;
        if (o.PeerNs is { } ns && o.PeerAddress is { } peer)
        {
            if (Sh($"ip netns list | grep -qw {ns}").Code != 0)
            {
                var add = Sh($"ip netns add {ns}");
                if (add.Code != 0) { await k.DisposeAsync(); return Errors.Of(ErrorCode.NotSupported, $"ip netns add failed: {add.Output}"); }
                createdNs = ns;
            }
            var setup = Sh($"ip link set {o.Tap} netns {ns} && ip -n {ns} addr add {peer} dev {o.Tap} && ip -n {ns} link set {o.Tap} up && ip -n {ns} link set lo up");
            if (setup.Code != 0)
            {
                await k.DisposeAsync();
                if (createdNs is not null) Sh($"ip netns del {createdNs}");
                return Errors.Of(ErrorCode.IoError, $"namespace setup failed: {setup.Output}");
            }
        }
        else Sh($"ip link set {o.Tap} up");
        // From here on the command acts as init, through syscalls and the capabilities the network bound under /net.
        var outbound = k.Sys.Namespaces.Open(k.Init, "/net/outbound", Rights.Connect).Value;
        var tcp = k.Sys.Namespaces.Open(k.Init, "/net/tcp", Rights.Delegate).Value;
        return new NetKernel { Kernel = k, Outbound = outbound, Tcp = tcp, CreatedNs = createdNs };
    }

    /// <summary>An `httpd` process in its own namespace, holding only a grant for <paramref name="port"/> carved from
    /// /net/tcp by init, serving <paramref name="respond"/> (path → status, content type, body) through socket syscalls.</summary>
    private static Result<Task> ServeHttp(NetKernel net, ushort port, Func<string, (int Status, string Type, byte[] Body)> respond) =>
        HttpdProcess.Start(net.Kernel, net.Tcp, port, path =>
        {
            var (status, type, body) = respond(path);
            return new HttpResponse(status, type, body);
        });

    /// <summary>`net up --http`: GET /bulk?bytes=N (generated, for throughput against curl) and, with --root, the
    /// image's files through httpd's read-only binding of the mount; otherwise a greeting.</summary>
    private static Result<Task> ServeHttpWithFiles(NetKernel net, ushort port, string? root)
    {
        var k = net.Kernel;
        Handle? mount = null;
        if (root is not null)
        {
            var m = k.Sys.Namespaces.Open(k.Init, "/mounts/www", HttpdProcess.ServedMountRights | Rights.Delegate);
            if (!m.IsOk) return m.Error;
            mount = m.Value;
        }
        return HttpdProcess.Start(k, net.Tcp, port, httpd =>
        {
            var files = root is null ? null : new StaticFileHandler(httpd, k.Sys.Files!, root);
            return (request, ct) =>
                request.Path == "/bulk" ? ValueTask.FromResult(BulkBody.Respond(request))
                : files is not null ? files.HandleAsync(request, ct)
                : ValueTask.FromResult(HttpResponse.Text(200, $"hello from photon ({request.Target})\n"));
        }, mount, root);
    }

    private static async Task<int> UpAsync(string[] args)
    {
        var parsed = Parse(args);
        if (!parsed.IsOk) return Fail(parsed.Error.Message);
        var o = parsed.Value;
        var up = await BootAsync(o);
        if (!up.IsOk) return Fail($"{up.Error.Message} (creating TAP devices needs root or CAP_NET_ADMIN)");
        await using var net = up.Value;
        var k = net.Kernel;
        if (o.Dhcp)
        {
            // The DHCP client runs in the kernel; wait (bounded) until its lease has given the interface an address.
            for (int i = 0; i < 300 && SocketSyscalls.Tables(k.Init, net.Outbound).Value.Interfaces[0][1] == "0.0.0.0/0"; i++) await Task.Delay(100);
            if (SocketSyscalls.Tables(k.Init, net.Outbound).Value.Interfaces[0][1] == "0.0.0.0/0") return Fail("no DHCP lease within 30 s");
        }
        var tables = SocketSyscalls.Tables(k.Init, net.Outbound).Value;
        AnsiConsole.MarkupLine($"[green]up[/] {Markup.Escape(string.Join(" ", tables.Interfaces[0].Take(3)))} (kernel booted with a network component)" +
                               (o.PeerNs is null ? "" : $"  (Linux end {o.PeerAddress} in netns {o.PeerNs}: ip netns exec {o.PeerNs} ping {tables.Interfaces[0][1].Split('/')[0]})"));
        if (o.HttpPort is { } port)
        {
            var http = ServeHttpWithFiles(net, port, o.Root);
            if (!http.IsOk) return Fail(http.Error.Message);
            // With --dhcp the address is the lease's, not the 0.0.0.0/0 placeholder.
            AnsiConsole.MarkupLine($"serving HTTP on {tables.Interfaces[0][1].Split('/')[0]}:{port}" +
                                   (o.Root is null ? "" : $", files of {Markup.Escape(o.Image!)} at {Markup.Escape(o.Root)} in httpd's namespace") +
                                   ", GET /bulk?bytes=N for throughput");
        }
        foreach (var target in o.Pings)
        {
            var rtt = await SocketSyscalls.PingAsync(k.Init, net.Outbound, target, TimeSpan.FromSeconds(2));
            AnsiConsole.MarkupLine(rtt.IsOk ? $"ping {target}: {rtt.Value.TotalMilliseconds:0.000} ms" : $"[yellow]ping {target}: {Markup.Escape(rtt.Error.Message)}[/]");
        }
        if (o.Resolve.Count > 0)
        {
            // As init would: through the resolver capability the network bound at /net/dns.
            var dns = k.Sys.Namespaces.Open(k.Init, "/net/dns", Rights.Read).Value;
            foreach (var name in o.Resolve)
            {
                var found = await ResolverSyscalls.ResolveAsync(k.Init, dns, name);
                AnsiConsole.MarkupLine(Markup.Escape(found.IsOk ? $"{name}: {DescribeLookup(found.Value)}" : $"{name}: {found.Error}"));
            }
        }
        // Ctrl-C / SIGTERM is the kernel's shutdown interrupt.
        try { await Task.Delay(TimeSpan.FromSeconds(o.Seconds), k.ShutdownRequested); } catch (OperationCanceledException) { }
        PrintTables(SocketSyscalls.Tables(k.Init, net.Outbound).Value);
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
        var up = await BootAsync(o);
        if (!up.IsOk) return Fail($"{up.Error.Message} (the demo creates a TAP device and a network namespace: run it as root)");
        await using var net = up.Value;
        var k = net.Kernel;
        var init = k.Init;
        string InNs(string cmd) => $"ip netns exec {ns} sh -c '{cmd}'";
        AnsiConsole.MarkupLine($"[bold]Photon[/] {Markup.Escape(string.Join(" ", SocketSyscalls.Tables(init, net.Outbound).Value.Interfaces[0].Take(3)))}, " +
                               $"default route via 10.99.0.1; [bold]Linux[/] 10.99.0.1/24 in netns {ns}\n");

        var page = Encoding.UTF8.GetBytes("<h1>Hello from Photon</h1>\n");
        var http = ServeHttp(net, 80, path => path == "/" ? (200, "text/html", page) : (404, "text/plain", "not found\n"u8.ToArray()));
        if (!http.IsOk) return Fail(http.Error.Message);

        var ping = Sh(InNs("ping -c 3 -i 0.2 -W 2 10.99.0.2"));
        Step("Linux ping → Photon", ping.Code == 0, ping.Output.Split('\n').FirstOrDefault(l => l.Contains("packets transmitted")) ?? ping.Output);
        var rtt = await SocketSyscalls.PingAsync(init, net.Outbound, Ipv4Address.Parse("10.99.0.1").Value, TimeSpan.FromSeconds(2));
        Step("Photon ping → Linux", rtt.IsOk, rtt.IsOk ? $"rtt {rtt.Value.TotalMilliseconds:0.000} ms" : rtt.Error.ToString());
        var curl = Sh(InNs("curl -sS --max-time 10 http://10.99.0.2/"));
        Step("Linux curl → Photon HTTP", curl.Code == 0 && curl.Output.Contains("Hello from Photon"), curl.Output.Trim());

        // Photon → Linux nc: 16 MiB, checked by sha256 on the Linux side; the tables are printed while it is open.
        var data = new byte[16 << 20];
        new Random(1).NextBytes(data);
        var expected = Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(data)).ToLowerInvariant();
        var nc = Task.Run(() => Sh(InNs("nc -l -p 9000 < /dev/null | sha256sum")));
        Result<Handle> conn = default;
        for (int i = 0; i < 50 && !(conn = await SocketSyscalls.ConnectAsync(init, net.Outbound, new IpEndpoint(Ipv4Address.Parse("10.99.0.1").Value, 9000))).IsOk; i++)
            await Task.Delay(100);
        if (conn.IsOk)
        {
            var sw = Stopwatch.StartNew();
            var sent = await SocketSyscalls.SendAsync(init, conn.Value, data);
            AnsiConsole.WriteLine();
            PrintTables(SocketSyscalls.Tables(init, net.Outbound).Value);
            SocketSyscalls.Close(init, conn.Value); // graceful: FIN after the queued data
            var got = await nc;
            Step("Photon TCP → Linux nc (16 MiB)", sent.IsOk && got.Output.StartsWith(expected),
                $"sha256 {(got.Output.StartsWith(expected) ? "matches" : "DIFFERS")}, {16 / sw.Elapsed.TotalSeconds:0} MiB/s");
        }
        else Step("Photon TCP → Linux nc", false, conn.Error.ToString());
        return _failures == 0 ? 0 : 1;
    }

    /// <summary>"10.0.0.1, 10.0.0.2 (via www.x → cdn.x) (cached)", as `net up --resolve` and the shell's `host` print it.</summary>
    public static string DescribeLookup(DnsLookup lookup) =>
        string.Join(", ", lookup.Addresses.Select(a => a.Length == 4 ? Ipv4Address.Read(a).ToString() : new System.Net.IPAddress(a).ToString())) +
        (lookup.Chain.Count > 1 ? $" (via {string.Join(" -> ", lookup.Chain)})" : "") + (lookup.FromCache ? " (cached)" : "");

    private static int _failures;

    private static void Step(string what, bool ok, string detail)
    {
        if (!ok) _failures++;
        AnsiConsole.MarkupLine($"{(ok ? "[green]ok[/]  " : "[red]FAIL[/]")} {Markup.Escape(what),-34} {Markup.Escape(detail)}");
    }

    public static void PrintTables(NetworkTables t)
    {
        static Table Make(string title, string[] columns, IEnumerable<string[]> rows, int rightFrom)
        {
            var table = new Table().Title($"[bold]{title}[/]");
            for (int i = 0; i < columns.Length; i++)
                table.AddColumn(i >= rightFrom ? new TableColumn(columns[i]).RightAligned() : new TableColumn(columns[i]));
            foreach (var r in rows) table.AddRow(r.Select(Markup.Escape).ToArray());
            return table;
        }
        AnsiConsole.Write(Make("interfaces", NetworkTables.InterfaceColumns, t.Interfaces, 4));
        AnsiConsole.Write(Make("routes", NetworkTables.RouteColumns, t.Routes, 99));
        AnsiConsole.Write(Make("ARP cache", NetworkTables.ArpColumns, t.Arp, 99));
        AnsiConsole.Write(Make("connections", NetworkTables.SocketColumns, t.Sockets, 4));
        if (t.Counters.Count > 0)
            AnsiConsole.MarkupLine("[bold]counters[/] " + Markup.Escape(string.Join("  ", t.Counters.Select(kv => $"{kv.Key}={kv.Value}"))));
    }

    private static (int Code, string Output) Sh(string cmd) => HostShell.Run(cmd);
}
