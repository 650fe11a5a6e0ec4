using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Syscalls;

namespace Photon.Cli.Vm;

/// <summary>
/// The receive side of the virtio-net benchmark (vm/netbench.sh): a TCP sink on <see cref="Port"/> that reads each
/// connection to its end and closes it, so the host can time "send N bytes, wait for the close" against Photon's stack
/// and against Linux's (busybox <c>nc -l</c> on the second NIC) with the same command. Init listens through a grant
/// for the one port carved from <c>/net/tcp</c>; connections are served one after another (a benchmark, not a server).
/// </summary>
public sealed class VmNetSink
{
    public const ushort Port = 5001;
    private long _bytes, _connections;

    public long Bytes => Interlocked.Read(ref _bytes);
    public long Connections => Interlocked.Read(ref _connections);

    public Result<Task> Start(PhotonKernel k)
    {
        var init = k.Init;
        var tcp = k.Sys.Namespaces.Open(init, "/net/tcp", Rights.Delegate);
        if (!tcp.IsOk) return tcp.Error;
        var grant = SocketSyscalls.GrantPorts(init, tcp.Value, Port, Port);
        if (!grant.IsOk) return grant.Error;
        var listener = SocketSyscalls.Listen(init, grant.Value, Port);
        if (!listener.IsOk) return listener.Error;
        return k.Sys.Processes.StartTask(init, ct => RunAsync(init, listener.Value, ct), "netbench-sink");
    }

    private async Task RunAsync(Process p, Handle listener, CancellationToken ct)
    {
        var buffer = new byte[256 * 1024];
        while (!ct.IsCancellationRequested)
        {
            var accepted = await SocketSyscalls.AcceptAsync(p, listener, ct).ConfigureAwait(false);
            if (!accepted.IsOk) return;
            GuestProfile.Record("virtio-net-receive", 8); // run.sh --perf: the first upload's receive bursts
            while (true)
            {
                var n = await SocketSyscalls.ReceiveAsync(p, accepted.Value, buffer, ct).ConfigureAwait(false);
                if (!n.IsOk || n.Value == 0) break;
                Interlocked.Add(ref _bytes, n.Value);
            }
            Interlocked.Increment(ref _connections);
            SocketSyscalls.Close(p, accepted.Value);
        }
    }
}
