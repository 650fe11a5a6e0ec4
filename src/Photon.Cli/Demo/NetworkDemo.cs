using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Net;
using Photon.Net.Sockets;

namespace Photon.Cli.Demo;

// The namespace Photon.Kernel would shadow the type inside Photon.*: name it explicitly.
using Kernel = Photon.Kernel.Boot.Kernel;

/// <summary>
/// Network demo: the NIC driver over a 2-queue TAP device whose Linux end is in a fresh network namespace; Photon's
/// stack on it; tenant-a's web service listens on port 80 through a port grant bound in its namespace and serves
/// Linux's curl; tenant-b has no grant and is refused. Needs root for the TAP device; otherwise the section says why.
/// </summary>
public static class NetworkDemo
{
    private const string Section = "Network";

    public static async Task RunAsync(Kernel k, DemoReport report)
    {
        var ns = $"photon-boot-{Environment.ProcessId}";
        var tapName = $"pb{Environment.ProcessId % 100000}";
        if (Sh("command -v ip && command -v curl").Code != 0)
        {
            report.Expect(Section, "skipped: iproute2 and curl are needed for the Linux peer", true, "not run");
            return;
        }
        var up = await HostedInterface.BringUpAsync(tapName, Ipv4Cidr.Parse("10.66.0.2/24").Value, null, ns, Ipv4Cidr.Parse("10.66.0.1/24").Value,
            k.Capabilities, k.Timers);
        if (!up.IsOk && up.Code is ErrorCode.AccessDenied or ErrorCode.NotSupported)
        {
            report.Expect(Section, "skipped: a TAP device and a network namespace need root", true, up.Error.ToString());
            return;
        }
        report.ExpectOk(Section, "2-queue TAP (Linux end 10.66.0.1 in a new netns), NIC driver on the unified queues, stack as 10.66.0.2/24",
            up.AsResult(), up.IsOk ? ns : null);
        if (!up.IsOk) return;
        await using (var hosted = up.Value)
        {
            var stack = hosted.Stack;
            var sockets = new SocketService(stack, k.Capabilities);

            var rtt = await stack.PingAsync(Ipv4Address.Parse("10.66.0.1").Value, TimeSpan.FromSeconds(3));
            report.Expect(Section, "Photon pings Linux", rtt.IsOk, rtt.IsOk ? $"{rtt.Value.TotalMilliseconds:0.00} ms" : rtt.Error.ToString());

            // Port 80 is granted to tenant-a only, as /tenant-a/http: init creates the grant in its handle table and
            // binds it into tenant-a's namespace.
            var sys = k.Sys;
            var init = k.Init;
            const Rights spawnIn = Rights.Create | Rights.Delegate | Rights.Read | Rights.Enumerate;
            var tenantA = sys.Namespaces.Open(init, "/tenant-a", spawnIn | Rights.Bind).Value;
            var tenantB = sys.Namespaces.Open(init, "/tenant-b", spawnIn).Value;
            var grant = sockets.GrantPorts(init, TransportProtocol.Tcp, 80, 80).Value;
            sys.Namespaces.Bind(init, tenantA, "http", grant, Rights.Listen).Unwrap();

            var (_, web) = sys.Processes.Spawn(init, tenantA, "httpd").Value;
            var portGrant = sys.Namespaces.Open(web, "http", Rights.Listen);
            var listener = portGrant.IsOk ? sockets.Listen(web, portGrant.Value, 80) : portGrant.Error;
            report.ExpectOk(Section, "tenant-a's httpd listens on :80 through its namespace's port grant", listener.AsResult());
            if (!listener.IsOk) return;
            var served = sys.Processes.StartTask(web, async ct =>
            {
                while (!ct.IsCancellationRequested)
                {
                    var conn = await sockets.AcceptAsync(web, listener.Value, ct);
                    if (!conn.IsOk) return;
                    var buf = new byte[4096];
                    await sockets.ReceiveAsync(web, conn.Value, buf, ct);
                    var body = "hello from tenant-a on Photon\n";
                    await sockets.SendAsync(web, conn.Value, Encoding.ASCII.GetBytes(
                        $"HTTP/1.1 200 OK\r\nContent-Length: {body.Length}\r\nConnection: close\r\n\r\n{body}"), ct);
                    sockets.Close(web, conn.Value);
                }
            }, "serve");

            var curl = await Task.Run(() => Sh($"ip netns exec {ns} curl -sS --max-time 10 http://10.66.0.2/"));
            report.Expect(Section, "Linux curl fetches a page from tenant-a's httpd", curl.Code == 0 && curl.Output.Contains("hello from tenant-a"),
                curl.Output.Trim());

            var (_, intruder) = sys.Processes.Spawn(init, tenantB, "squatter").Value;
            report.ExpectError(Section, "tenant-b's process looks up /tenant-a's port grant", sys.Namespaces.Open(intruder, "/tenant-a/http", Rights.Listen).AsResult(), ErrorCode.NotFound);
            report.ExpectError(Section, "tenant-b's process listens with a guessed handle", sockets.Listen(intruder, new Photon.Kernel.Processes.Handle(0x10001), 80).AsResult(), ErrorCode.InvalidHandle);

            sys.Handles.Close(init, grant).Unwrap();
            var after = await Task.Run(() => Sh($"ip netns exec {ns} curl -sS --max-time 5 http://10.66.0.2/"));
            report.Expect(Section, "init closes (revokes) its port grant: the listener closes, curl is refused", after.Code != 0,
                after.Code != 0 ? after.Output.Trim() : "still served");
        }
    }

    private static (int Code, string Output) Sh(string cmd) => HostShell.Run(cmd);
}
