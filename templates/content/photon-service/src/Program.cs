using PhotonService1;

// Boots a kernel, starts the service in /tenant-a, calls it from a client in the same tenant, and shows that a client
// in another tenant cannot even find it. Exit code 0 when all of that held.
var started = await ServiceHost.StartAsync();
if (!started.IsOk)
{
    Console.Error.WriteLine($"boot failed: {started.Error}");
    return 1;
}
await using var host = started.Value;
if (!await host.WaitReadyAsync(TimeSpan.FromSeconds(120)))
{
    Console.Error.WriteLine($"service did not start: {host.Service.State} {host.Service.LastError}");
    return 1;
}
var reply = await host.Kernel.RunAsync(async () =>
{
    var client = host.SpawnClient(ServiceHost.Tenant).Value;
    return await host.CallAsync(client, "world");
});
Console.WriteLine(reply.IsOk ? $"{PhotonService1Service.Name} replied: {reply.Value}" : $"call failed: {reply.Error}");
var outsider = await host.Kernel.RunAsync(async () => await host.CallAsync(host.SpawnClient("tenant-b").Value, "world"));
Console.WriteLine($"from /tenant-b: {(outsider.IsOk ? outsider.Value : outsider.Error.ToString())}");
return reply.IsOk && !outsider.IsOk ? 0 : 1;
