using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Processes;
using Photon.Net.Services;
using Photon.Net.Syscalls;

namespace Photon.Cli;

/// <summary>
/// Starts a web server the way a user would on Photon: init carves a grant for one port out of its <c>/net/tcp</c>
/// capability, spawns an <c>httpd</c> process in its own namespace (<c>/srv</c>), hands it only that grant (Listen) and
/// optionally a read-only binding of one mount (Read and Enumerate, at <c>root</c> in its namespace), and the process
/// serves with Photon.Net's <see cref="HttpServer"/> through socket and file syscalls. Used by `photon net up --http`
/// and the VM demo.
/// </summary>
public static class HttpdProcess
{
    /// <summary>The rights httpd gets on a served mount: read files and list directories, nothing that changes them.</summary>
    public const Rights ServedMountRights = Rights.Read | Rights.Enumerate;

    public static Result<Task> Start(PhotonKernel k, Handle tcp, ushort port, Func<string, HttpResponse> respond) =>
        Start(k, tcp, port, _ => (request, _) => ValueTask.FromResult(respond(request.Target)));

    /// <summary>Starts httpd with the handler <paramref name="handlerFor"/> builds for the process; with
    /// <paramref name="mount"/> (init's handle, needing Delegate) the mount is bound at <paramref name="root"/> in httpd's
    /// namespace first.</summary>
    public static Result<Task> Start(PhotonKernel k, Handle tcp, ushort port, Func<Process, HttpServer.Handler> handlerFor,
        Handle? mount = null, string? root = null)
    {
        var sys = k.Sys;
        var init = k.Init;
        var grant = SocketSyscalls.GrantPorts(init, tcp, port, port);
        if (!grant.IsOk) return grant.Error;
        var srv = sys.Namespaces.CreateChild(init, k.InitRoot, "srv");
        if (!srv.IsOk) return srv.Error;
        if (mount is { } m)
        {
            var bound = BindServedMount(k, srv.Value, m, root ?? "/www");
            if (!bound.IsOk) return bound.Error;
        }
        var spawned = sys.Processes.Spawn(init, srv.Value, "httpd", Rights.Read);
        if (!spawned.IsOk) return spawned.Error;
        var (control, httpd) = spawned.Value;
        var mine = sys.Handles.Delegate(init, grant.Value, control, Rights.Listen);
        if (!mine.IsOk) return mine.Error;
        var listener = SocketSyscalls.Listen(httpd, mine.Value, port);
        if (!listener.IsOk) return listener.Error;
        // Concurrent keep-alive connections, header/idle/send deadlines and connection caps (issue #15).
        var server = new HttpServer(httpd, listener.Value, handlerFor(httpd));
        return sys.Processes.StartTask(httpd, ct => server.RunAsync(ct), "serve");
    }

    /// <summary>Creates the namespaces on the way to <paramref name="root"/> under srv and binds the mount there.</summary>
    private static Result BindServedMount(PhotonKernel k, Handle srv, Handle mount, string root)
    {
        var segments = root.Split('/', StringSplitOptions.RemoveEmptyEntries);
        if (segments.Length == 0) return Result.Fail(ErrorCode.InvalidArgument, "--root needs a directory like /mnt/disk");
        var parent = srv;
        foreach (var s in segments[..^1])
        {
            var child = k.Sys.Namespaces.CreateChild(k.Init, parent, s);
            if (!child.IsOk) return child.AsResult();
            parent = child.Value;
        }
        return k.Sys.Files!.BindMount(k.Init, srv, "/" + string.Join('/', segments), mount, ServedMountRights);
    }
}
