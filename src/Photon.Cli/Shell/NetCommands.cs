using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Net;
using Photon.Net.Dns;
using Photon.Net.Syscalls;

namespace Photon.Cli.Shell;

/// <summary>
/// ip addr, ip route, ping, netstat, host: socket and resolver system calls through <c>/net/outbound</c> (Connect) as the shell's
/// namespace binds it. A shell whose namespace has no /net (a tenant without a grant, or a kernel booted without the
/// network) gets NotFound.
/// </summary>
public static class NetCommands
{
    /// <summary>Longest wait for one echo reply, and most echoes one ping sends.</summary>
    private static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);
    private const int MaxPingCount = 100;

    public static readonly IReadOnlyList<ShellCommand> All =
    [
        new("ip", "ip addr | ip route", "Show the network interfaces and their addresses, or the routing table.", Ip),
        new("ping", "ping ADDRESS [COUNT]", "Send ICMP echo requests (default 3) and print each round trip.", Ping),
        new("netstat", "netstat", "Show the TCP/UDP sockets, the ARP cache and the stack's counters.", Netstat),
        new("host", "host NAME [a|aaaa]", "Look a name up through the kernel's DNS resolver (/net/dns) and print its addresses and CNAME chain.", Host),
    ];

    private static Result<NetworkTables> Tables(ShellSession s)
    {
        var net = s.Sys.Namespaces.Open(s.Self, "/net/outbound", Rights.Connect);
        if (!net.IsOk) return net.Code == ErrorCode.NotFound ? Errors.Of(ErrorCode.NotFound, "no network in this namespace (/net/outbound is not bound; boot with --net as root)") : net.Error;
        try { return SocketSyscalls.Tables(s.Self, net.Value); }
        finally { s.Sys.Handles.Close(s.Self, net.Value); }
    }

    private static Task<Result> Ip(ShellSession s, string[] args)
    {
        if (args is not (["addr"] or ["route"])) return Task.FromResult(ShellCommands.Usage("ip"));
        var t = Tables(s);
        if (!t.IsOk) return Task.FromResult(Result.Fail(t.Error));
        if (args[0] == "addr") Print(s, NetworkTables.InterfaceColumns, t.Value.Interfaces);
        else Print(s, NetworkTables.RouteColumns, t.Value.Routes);
        return Task.FromResult(Result.Ok);
    }

    private static Task<Result> Netstat(ShellSession s, string[] args)
    {
        if (args.Length != 0) return Task.FromResult(ShellCommands.Usage("netstat"));
        var t = Tables(s);
        if (!t.IsOk) return Task.FromResult(Result.Fail(t.Error));
        Print(s, NetworkTables.SocketColumns, t.Value.Sockets);
        s.Out.WriteLine();
        Print(s, NetworkTables.ArpColumns, t.Value.Arp);
        s.Out.WriteLine();
        foreach (var (name, value) in t.Value.Counters) s.Out.WriteLine($"{name,-32} {value}");
        return Task.FromResult(Result.Ok);
    }

    private static async Task<Result> Ping(ShellSession s, string[] args)
    {
        if (args.Length is < 1 or > 2) return ShellCommands.Usage("ping");
        var target = Ipv4Address.Parse(args[0]);
        if (!target.IsOk) return target.Error;
        int count = 3;
        if (args.Length == 2 && (!int.TryParse(args[1], out count) || count < 1 || count > MaxPingCount))
            return Result.Fail(ErrorCode.InvalidArgument, $"COUNT is 1..{MaxPingCount}");
        var net = s.Sys.Namespaces.Open(s.Self, "/net/outbound", Rights.Connect);
        if (!net.IsOk) return net.Error;
        try
        {
            int answered = 0;
            for (int i = 0; i < count; i++)
            {
                var rtt = await SocketSyscalls.PingAsync(s.Self, net.Value, target.Value, PingTimeout).ConfigureAwait(true);
                if (rtt.IsOk) { answered++; s.Out.WriteLine($"reply from {args[0]}: seq={i} time={rtt.Value.TotalMilliseconds:0.000} ms"); }
                else s.Out.WriteLine($"no reply from {args[0]}: seq={i} ({rtt.Error})");
            }
            s.Out.WriteLine($"{count} sent, {answered} answered");
            return answered > 0 ? Result.Ok : Result.Fail(ErrorCode.TimedOut, $"no reply from {args[0]}");
        }
        finally { s.Sys.Handles.Close(s.Self, net.Value); }
    }

    private static async Task<Result> Host(ShellSession s, string[] args)
    {
        if (args.Length is < 1 or > 2) return ShellCommands.Usage("host");
        var type = args.Length == 1 || args[1] == "a" ? DnsType.A : args[1] == "aaaa" ? DnsType.Aaaa : (DnsType?)null;
        if (type is null) return Result.Fail(ErrorCode.InvalidArgument, "the record type is a or aaaa");
        var dns = s.Sys.Namespaces.Open(s.Self, "/net/dns", Rights.Read);
        if (!dns.IsOk) return dns.Code == ErrorCode.NotFound ? Result.Fail(ErrorCode.NotFound, "no resolver in this namespace (/net/dns is not bound)") : dns.Error;
        try
        {
            var found = await ResolverSyscalls.ResolveAsync(s.Self, dns.Value, args[0], type.Value).ConfigureAwait(true);
            if (!found.IsOk) return found.Error;
            s.Out.WriteLine($"{args[0]}: {Commands.NetCommand.DescribeLookup(found.Value)}");
            return Result.Ok;
        }
        finally { s.Sys.Handles.Close(s.Self, dns.Value); }
    }

    private static void Print(ShellSession s, string[] columns, IReadOnlyList<string[]> rows)
    {
        var widths = columns.Select((c, i) => Math.Max(c.Length, rows.Count == 0 ? 0 : rows.Max(r => i < r.Length ? r[i].Length : 0))).ToArray();
        s.Out.WriteLine(string.Join("  ", columns.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        foreach (var r in rows) s.Out.WriteLine(string.Join("  ", r.Select((c, i) => c.PadRight(i < widths.Length ? widths[i] : 0))).TrimEnd());
    }
}
