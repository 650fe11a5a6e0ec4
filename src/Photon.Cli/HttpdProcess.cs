using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Services;
using Photon.Net.Syscalls;

namespace Photon.Cli;

/// <summary>
/// Starts a web server the way a user would on Photon: init carves a grant for one port out of its <c>/net/tcp</c>
/// capability, spawns an <c>httpd</c> process in its own namespace (<c>/srv</c>), hands it only that grant (Listen), and
/// the process serves with Photon.Net's <see cref="HttpServer"/> through socket syscalls. Used by `photon net up --http`
/// and the VM demo.
/// </summary>
public static class HttpdProcess
{
    public static Result<Task> Start(PhotonKernel k, Handle tcp, ushort port, Func<string, HttpResponse> respond)
    {
        var sys = k.Sys;
        var init = k.Init;
        var grant = SocketSyscalls.GrantPorts(init, tcp, port, port);
        if (!grant.IsOk) return grant.Error;
        var srv = sys.Namespaces.CreateChild(init, k.InitRoot, "srv");
        if (!srv.IsOk) return srv.Error;
        var spawned = sys.Processes.Spawn(init, srv.Value, "httpd", Rights.Read);
        if (!spawned.IsOk) return spawned.Error;
        var (control, httpd) = spawned.Value;
        var mine = sys.Handles.Delegate(init, grant.Value, control, Rights.Listen);
        if (!mine.IsOk) return mine.Error;
        var listener = SocketSyscalls.Listen(httpd, mine.Value, port);
        if (!listener.IsOk) return listener.Error;
        // Concurrent connections, header/send deadlines and connection caps (issue #15).
        var server = new HttpServer(httpd, listener.Value, respond);
        return sys.Processes.StartTask(httpd, ct => server.RunAsync(ct), "serve");
    }
}
