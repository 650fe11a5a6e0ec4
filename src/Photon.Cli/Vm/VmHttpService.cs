using System.Text;
using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Net.Services;

namespace Photon.Cli.Vm;

/// <summary>
/// The VM demo's web server: an <c>httpd</c> process in its own namespace holding only a grant for port 80 carved from
/// <c>/net/tcp</c> by init, serving <see cref="Page"/> at <c>/</c> with Photon.Net's <see cref="HttpServer"/> through
/// socket syscalls (the stack runs on Photon's virtio-net driver). The host script fetches <c>/</c> with curl from
/// netns photonvm and then <c>/done</c>, which completes <see cref="HostDone"/>: the guest cannot see the host's
/// checks, so the host says when it has finished. <c>/bulk</c> is a large body for the throughput benchmark.
/// </summary>
public sealed class VmHttpService
{
    public const ushort Port = 80;
    public static readonly byte[] Page = Encoding.UTF8.GetBytes("<h1>Hello from Photon</h1><p>served by Photon's TCP/IP stack on its virtio-net driver over VFIO</p>\n");
    /// <summary>Size of <c>/bulk</c>, the body the virtio-net benchmark (vm/netbench.sh) downloads with curl.</summary>
    public const int BulkBytes = 8 << 20;
    private static readonly Lazy<byte[]> Bulk = new(() => new byte[BulkBytes]);
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private long _pages;

    /// <summary>Completes when the host fetched <c>/done</c>.</summary>
    public Task HostDone => _done.Task;

    /// <summary>How many times <c>/</c> was served.</summary>
    public long PagesServed => Interlocked.Read(ref _pages);

    public Result<Task> Start(PhotonKernel k)
    {
        var tcp = k.Sys.Namespaces.Open(k.Init, "/net/tcp", Rights.Delegate);
        if (!tcp.IsOk) return tcp.Error;
        return HttpdProcess.Start(k, tcp.Value, Port, Respond);
    }

    private HttpResponse Respond(string path)
    {
        switch (path)
        {
            case "/":
                Interlocked.Increment(ref _pages);
                return new HttpResponse(200, "text/html", Page);
            case "/bulk":
                GuestProfile.Record("virtio-net-send", 8); // run.sh --perf: the first download's sending
                // One send of the whole body: it parks once, and the stack takes its bytes into the send buffer as the
                // host's ACKs free room, so the writer is woken once, at the end — not once per refill (issue #17).
                return new HttpResponse(200, "application/octet-stream", Bulk.Value);
            case "/done":
                _done.TrySetResult();
                return HttpResponse.Text(200, "bye\n");
            default:
                return HttpResponse.Text(404, "not found\n");
        }
    }
}
