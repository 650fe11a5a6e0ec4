using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;
using Photon.Kernel.Namespaces;
using Photon.Kernel.Processes;
using Photon.Net.Services;
using Photon.Net.Sockets;
using Photon.Net.Syscalls;

namespace Photon.Net.Tests;

/// <summary>An `httpd` process serving <see cref="HttpServer"/> through the socket syscalls of a bare stack, on a port
/// grant bound into its own namespace — what the real-peer tests point curl at, over either family.</summary>
internal sealed class HttpdOnStack : IDisposable
{
    private readonly PhysicalMemory _phys = new(4 * 1024 * 1024);
    private readonly CapabilityManager _caps = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Process _httpd;
    private readonly Handle _listener;

    public HttpdOnStack(NetworkStack stack, ushort port, Func<string, HttpResponse> handler)
    {
        var ns = new NamespaceManager(_caps);
        var pm = new ProcessManager(_caps, ns, new MemoryManager(_phys, _caps));
        var sockets = new SocketService(stack, _caps);
        SocketSyscalls.Register(_caps, sockets).Unwrap();
        var webNs = ns.CreateChild(ns.RootCapability, "web").Value;
        ns.Bind(webNs, "http", sockets.GrantPorts(TransportProtocol.Tcp, port, port, Principal.Kernel).Value, Rights.Listen).Unwrap();
        _httpd = pm.Spawn("httpd", webNs).Value.Process;
        _listener = SocketSyscalls.Listen(_httpd, _httpd.Open("http", Rights.Listen).Value, port).Value;
        _ = new HttpServer(_httpd, _listener, handler).RunAsync(_stop.Token);
    }

    public void Dispose()
    {
        _stop.Cancel();
        SocketSyscalls.Close(_httpd, _listener).Unwrap();
        SocketSyscalls.Unregister(_caps);
        _phys.Dispose();
    }
}
