using System.Text;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Net;
using Photon.Net.Syscalls;

namespace Photon.Cli.Demo;

using Photon.Kernel.Boot;

/// <summary>
/// Network demo. The kernel brought the network up at boot (a <see cref="NetworkComponent"/>: the NIC driver over a
/// 2-queue TAP device, the stack on kernel timers, port grants under /net); here the host moves the TAP's Linux end into
/// a fresh network namespace, and init and tenant processes use the network only through socket syscalls: tenant-a's
/// web service listens on port 80 through a port grant bound in its namespace and serves Linux's curl; tenant-b has no
/// grant and is refused. Needs root for the TAP device; otherwise the section says why.
/// </summary>
public static class NetworkDemo
{
    private const string Section = "Network";
    private static readonly string PeerNs = $"photon-boot-{Environment.ProcessId}";
    private static readonly string TapName = $"pb{Environment.ProcessId % 100000}";
    private static bool _peerCreated;

    /// <summary>Why the network part cannot run here, or null when it can (root, iproute2 and curl).</summary>
    public static string? SkipReason() =>
        !Environment.IsPrivilegedProcess ? "a TAP device and a network namespace need root"
        : Sh("command -v ip && command -v curl").Code != 0 ? "iproute2 and curl are needed for the Linux peer"
        : null;

    /// <summary>The boot component: Photon at 10.66.0.2/24 on a 2-queue TAP device.</summary>
    public static IKernelComponent Component() => new NetworkComponent(TapName, Ipv4Cidr.Parse($"{PhotonAddress}/24").Value);

    /// <summary>Photon's address on the demo network.</summary>
    public const string PhotonAddress = "10.66.0.2";

    /// <summary>The TAP device's name (one per photon process), which prefixes its rings' names on the monitor.</summary>
    public static string DeviceName => TapName;

    public static async Task RunAsync(PhotonKernel k, DemoReport report, string? skipped)
    {
        if (skipped is not null)
        {
            report.Expect(Section, $"skipped: {skipped}", true, "not run");
            return;
        }
        var sys = k.Sys;
        var init = k.Init;
        var outbound = sys.Namespaces.Open(init, "/net/outbound", Rights.Connect);
        report.ExpectOk(Section, "init opens /net/outbound (the network came up at boot: 2-queue TAP, NIC driver on the unified queues, stack as 10.66.0.2/24)",
            outbound.AsResult());
        if (!outbound.IsOk) return;
        var setup = StartLinuxPeer();
        report.Expect(Section, "the host moves the TAP's Linux end into a new netns as 10.66.0.1", setup.IsOk, setup.IsOk ? PeerNs : setup.Error.Message);
        if (!setup.IsOk) return;

        var rtt = await SocketSyscalls.PingAsync(init, outbound.Value, Ipv4Address.Parse("10.66.0.1").Value, TimeSpan.FromSeconds(3));
        report.Expect(Section, "init pings Linux (socket syscall through /net/outbound)", rtt.IsOk, rtt.IsOk ? $"{rtt.Value.TotalMilliseconds:0.00} ms" : rtt.Error.ToString());

        // Port 80 is granted to tenant-a only, as /tenant-a/http: init carves the grant out of /net/tcp into its handle
        // table and binds it into tenant-a's namespace.
        const Rights spawnIn = Rights.Create | Rights.Delegate | Rights.Read | Rights.Enumerate;
        var tenantA = sys.Namespaces.Open(init, "/tenant-a", spawnIn | Rights.Bind).Value;
        var tenantB = sys.Namespaces.Open(init, "/tenant-b", spawnIn).Value;
        var tcp = sys.Namespaces.Open(init, "/net/tcp", Rights.Delegate).Value;
        var grant = SocketSyscalls.GrantPorts(init, tcp, 80, 80).Value;
        sys.Namespaces.Bind(init, tenantA, "http", grant, Rights.Listen).Unwrap();

        var (_, web) = sys.Processes.Spawn(init, tenantA, "httpd").Value;
        var portGrant = sys.Namespaces.Open(web, "http", Rights.Listen);
        var listener = portGrant.IsOk ? SocketSyscalls.Listen(web, portGrant.Value, 80) : portGrant.Error;
        report.ExpectOk(Section, "tenant-a's httpd listens on :80 through its namespace's port grant", listener.AsResult());
        if (!listener.IsOk) return;
        var served = sys.Processes.StartTask(web, async ct =>
        {
            while (!ct.IsCancellationRequested)
            {
                var conn = await SocketSyscalls.AcceptAsync(web, listener.Value, ct);
                if (!conn.IsOk) return;
                var buf = new byte[4096];
                await SocketSyscalls.ReceiveAsync(web, conn.Value, buf, ct);
                var body = "hello from tenant-a on Photon\n";
                await SocketSyscalls.SendAsync(web, conn.Value, Encoding.ASCII.GetBytes(
                    $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"), ct);
                SocketSyscalls.Close(web, conn.Value);
            }
        }, "serve");

        var curl = await Task.Run(() => Sh($"ip netns exec {PeerNs} curl -sS --max-time 10 http://10.66.0.2/"));
        report.Expect(Section, "Linux curl fetches a page from tenant-a's httpd", curl.Code == 0 && curl.Output.Contains("hello from tenant-a"),
            curl.Output.Trim());

        var (_, intruder) = sys.Processes.Spawn(init, tenantB, "squatter").Value;
        report.ExpectError(Section, "tenant-b's process looks up /tenant-a's port grant", sys.Namespaces.Open(intruder, "/tenant-a/http", Rights.Listen).AsResult(), ErrorCode.NotFound);
        report.ExpectError(Section, "tenant-b's process looks up /net/tcp", sys.Namespaces.Open(intruder, "/net/tcp", Rights.Listen).AsResult(), ErrorCode.NotFound);
        report.ExpectError(Section, "tenant-b's process listens with a guessed handle", SocketSyscalls.Listen(intruder, new Photon.Kernel.Processes.Handle(0x10001), 80).AsResult(), ErrorCode.InvalidHandle);

        sys.Handles.Close(init, grant).Unwrap();
        var after = await Task.Run(() => Sh($"ip netns exec {PeerNs} curl -sS --max-time 5 http://10.66.0.2/"));
        report.Expect(Section, "init closes (revokes) its port grant: the listener closes, curl is refused", after.Code != 0,
            after.Code != 0 ? after.Output.Trim() : "still served");
    }

    /// <summary>Linux's address on the TAP link, inside the peer namespace.</summary>
    public const string PeerAddress = "10.66.0.1";

    /// <summary>The peer namespace's name (one per photon process).</summary>
    public static string PeerNamespace => PeerNs;

    /// <summary>
    /// Moves the Linux end of the TAP device (created at boot by <see cref="Component"/>) into a fresh network namespace
    /// as <see cref="PeerAddress"/>/24, so Linux tools there talk to Photon. <see cref="Cleanup"/> deletes it.
    /// </summary>
    public static Result StartLinuxPeer()
    {
        var setup = Sh($"ip netns add {PeerNs} && ip link set {TapName} netns {PeerNs} && ip -n {PeerNs} addr add {PeerAddress}/24 dev {TapName} " +
                       $"&& ip -n {PeerNs} link set {TapName} up && ip -n {PeerNs} link set lo up");
        _peerCreated = true;
        return setup.Code == 0 ? Result.Ok : Result.Fail(ErrorCode.IoError, $"Linux peer setup failed: {setup.Output.Trim()}");
    }

    /// <summary>Deletes the peer namespace (after the kernel, which owns the TAP device, has shut down).</summary>
    public static void Cleanup()
    {
        if (_peerCreated) Sh($"ip netns del {PeerNs}");
        _peerCreated = false;
    }

    private static (int Code, string Output) Sh(string cmd) => HostShell.Run(cmd);
}
