using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Services;

namespace PhotonService1;

/// <summary>
/// A request/response service: publishes a listener at /svc/photonservice1 in its own namespace and answers each
/// request with "hello, " + the request. It runs as its own process under the Supervisor: everything it does goes
/// through that process's handles (context.Process) and the syscall table (context.Sys), and a crash restarts it in a
/// fresh process with everything the old one held revoked.
/// </summary>
public sealed class PhotonService1Service : IService
{
    public const string Name = "photonservice1";

    /// <summary>Largest request answered; a bigger one gets an empty reply (never an unbounded allocation).</summary>
    public const int MaxRequestBytes = 4096;

    public async Task<Result> RunAsync(ServiceContext context, CancellationToken ct)
    {
        var directory = context.Sys.Namespaces.Open(context.Process, "/svc", Rights.Bind | Rights.Read);
        if (!directory.IsOk) return directory.AsResult();
        var listener = context.Publish(directory.Value);
        if (!listener.IsOk) return listener.AsResult();
        while (!ct.IsCancellationRequested)
        {
            var connection = await context.Sys.Channels.AcceptAsync(context.Process, listener.Value, ct);
            if (!connection.IsOk) return connection.Code == ErrorCode.Cancelled ? Result.Ok : connection.AsResult();
            // One task per client, so a slow client does not hold up the others.
            var client = connection.Value.Endpoint;
            var served = context.Sys.Processes.StartTask(context.Process, lifetime => ServeAsync(context, client, lifetime), "client");
            if (!served.IsOk) context.Sys.Channels.Close(context.Process, client);
        }
        return Result.Ok;
    }

    private static async Task ServeAsync(ServiceContext context, Photon.Kernel.Processes.Handle client, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            var request = await context.Sys.Channels.ReceiveAsync(context.Process, client, ct);
            if (!request.IsOk) break; // closed by the client, revoked, or the service is stopping
            var reply = request.Value.Data.Length > MaxRequestBytes
                ? []
                : Encoding.UTF8.GetBytes("hello, " + Encoding.UTF8.GetString(request.Value.Data));
            if (!(await context.Sys.Channels.ReplyAsync(context.Process, request.Value, reply)).IsOk) break;
        }
        context.Sys.Channels.Close(context.Process, client);
    }
}
