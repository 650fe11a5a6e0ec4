using Photon.Kernel;
using Photon.Kernel.Services;
using Xunit;

namespace PhotonService1.Tests;

public sealed class PhotonService1Tests
{
    [Fact]
    public async Task A_client_in_the_tenant_gets_an_answer()
    {
        await using var host = (await ServiceHost.StartAsync()).Value;
        Assert.True(await host.WaitReadyAsync(TimeSpan.FromSeconds(120)));
        var reply = await host.Kernel.RunAsync(() => host.CallAsync(host.SpawnClient(ServiceHost.Tenant).Value, "world"));
        Assert.True(reply.IsOk, reply.IsOk ? "" : reply.Error.ToString());
        Assert.Equal("hello, world", reply.Value);
    }

    [Fact]
    public async Task A_client_in_another_tenant_cannot_find_the_service()
    {
        await using var host = (await ServiceHost.StartAsync()).Value;
        Assert.True(await host.WaitReadyAsync(TimeSpan.FromSeconds(120)));
        var reply = await host.Kernel.RunAsync(() => host.CallAsync(host.SpawnClient("tenant-b").Value, "world"));
        Assert.Equal(ErrorCode.NotFound, reply.Code);
    }

    [Fact]
    public async Task An_oversized_request_gets_an_empty_reply_and_the_service_keeps_serving()
    {
        await using var host = (await ServiceHost.StartAsync()).Value;
        Assert.True(await host.WaitReadyAsync(TimeSpan.FromSeconds(120)));
        var client = host.SpawnClient(ServiceHost.Tenant).Value;
        var big = await host.Kernel.RunAsync(() => host.CallAsync(client, new string('x', PhotonService1Service.MaxRequestBytes + 1)));
        Assert.True(big.IsOk, big.IsOk ? "" : big.Error.ToString());
        Assert.Equal("", big.Value);
        var small = await host.Kernel.RunAsync(() => host.CallAsync(client, "again"));
        Assert.Equal("hello, again", small.Value);
    }

    [Fact]
    public async Task A_service_that_fails_is_restarted_in_a_fresh_process()
    {
        int incarnations = 0;
        await using var host = (await ServiceHost.StartAsync(() =>
            Interlocked.Increment(ref incarnations) == 1 ? new FailsOnce() : new PhotonService1Service())).Value;
        Assert.True(await host.WaitReadyAsync(TimeSpan.FromSeconds(120)));
        var reply = await host.Kernel.RunAsync(async () =>
        {
            // The restart is asynchronous: retry until the second incarnation has published its listener.
            var client = host.SpawnClient(ServiceHost.Tenant).Value;
            for (int i = 0; ; i++)
            {
                var r = await host.CallAsync(client, "world");
                if (r.IsOk || i == 500) return r;
                await host.Kernel.Timers.Delay(TimeSpan.FromMilliseconds(10));
            }
        });
        Assert.Equal("hello, world", reply.Value);
        Assert.True(host.Service.Restarts >= 1);
    }

    private sealed class FailsOnce : IService
    {
        public Task<Result> RunAsync(ServiceContext context, CancellationToken ct) =>
            Task.FromResult<Result>(Errors.Of(ErrorCode.IoError, "first incarnation fails on purpose"));
    }
}
