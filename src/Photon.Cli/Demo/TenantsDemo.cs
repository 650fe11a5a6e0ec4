using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Ipc;
using Photon.Sandbox;

namespace Photon.Cli.Demo;

// The namespace Photon.Kernel would shadow the type inside Photon.*: name it explicitly.
using Kernel = Photon.Kernel.Boot.Kernel;

/// <summary>
/// Userspace demo: each tenant runs a native service and Wasm guests; they talk over IPC inside their tenant, the
/// other tenant's attempts to reach across fail (and are audited), and hostile guests are killed without disturbing
/// the good ones.
/// </summary>
public static class TenantsDemo
{
    private const string Section = "Tenants, IPC & Wasm";

    public static async Task RunAsync(Kernel k, DemoReport report)
    {
        var root = k.Namespaces.RootCapability;
        var tenantA = k.Namespaces.Lookup(root, "/tenant-a").Value;
        var tenantB = k.Namespaces.Lookup(root, "/tenant-b").Value;
        using var sandbox = new WasmSandbox(k.Capabilities, k.Namespaces, k.Processes, k.Memory, k.Ipc, () => k.Clock.Monotonic, k.Log);

        // tenant-a's native key-value service listens at /tenant-a/kv.
        var (kv, kvControl) = k.Processes.Spawn("kv", tenantA, Rights.Read | Rights.Bind).Value;
        var listener = k.Ipc.Listen(kv).Value;
        var nsHandle = kv.AddHandle(k.Capabilities.Derive(tenantA, Rights.Bind | Rights.Read, kv.Principal).Value).Value;
        report.ExpectOk(Section, "tenant-a's native kv service listens at /tenant-a/kv", kv.Bind(nsHandle, "kv", listener, Rights.Connect));
        var store = new Dictionary<string, string> { ["greeting"] = "hello, tenant-a" };
        var serving = kv.Run(async ct =>
        {
            var (conn, _) = (await k.Ipc.AcceptAsync(kv, listener, ct)).Value;
            while (true)
            {
                var req = await k.Ipc.ReceiveAsync(kv, conn, ct);
                if (!req.IsOk) return;
                var key = Encoding.UTF8.GetString(req.Value.Data);
                await k.Ipc.ReplyAsync(kv, req.Value, Encoding.UTF8.GetBytes(store.GetValueOrDefault(key, "(none)")));
            }
        }, "serve").Value;

        var (client, _) = k.Processes.Spawn("app", tenantA).Value;
        var conn = k.Ipc.Connect(client, "/kv");
        report.ExpectOk(Section, "tenant-a's app connects to /kv through its own namespace", conn.AsResult());
        var reply = await k.Ipc.CallAsync(client, conn.Value, "greeting"u8.ToArray(), TimeSpan.FromSeconds(5));
        report.Expect(Section, "app calls kv: get greeting (request/reply, 5 s timeout)", reply.IsOk,
            reply.IsOk ? $"\"{Encoding.UTF8.GetString(reply.Value.Data)}\"" : reply.Error.ToString());

        var (web, _) = k.Processes.Spawn("web", tenantB).Value;
        report.ExpectError(Section, "tenant-b's web connects to /tenant-a/kv", k.Ipc.Connect(web, "/tenant-a/kv").AsResult(), ErrorCode.NotFound);
        report.ExpectError(Section, "tenant-b's web connects to ../tenant-a/kv", k.Ipc.Connect(web, "../tenant-a/kv").AsResult(), ErrorCode.InvalidName);

        // Wasm guests in tenant-a: a counter over a granted region and an IPC echo wired to a native channel.
        var region = kv.AllocateMemory(4096).Value;
        var counter = sandbox.Instantiate(tenantA, "counter", WasmSandbox.Guest("counter"),
            [new SandboxGrant("counter", kv.TokenOf(region).Value, Rights.Read | Rights.Write)]);
        report.ExpectOk(Section, "tenant-a starts a Wasm counter guest with one region granted", counter.AsResult(),
            counter.IsOk ? $"{counter.Value.Process.Principal}" : null);
        if (counter.IsOk)
        {
            int last = 0;
            for (int i = 0; i < 3; i++) last = counter.Value.Call("run").Value;
            var bytes = new byte[4];
            kv.ReadMemory(region, 0, bytes).Unwrap();
            report.Expect(Section, "guest increments the shared counter 3 times", last == 3 && BitConverter.ToInt32(bytes) == 3, $"counter = {BitConverter.ToInt32(bytes)}");
        }
        var (mine, theirs) = k.Ipc.CreateChannel(kv).Value;
        var echo = sandbox.Instantiate(tenantA, "echo", WasmSandbox.Guest("echo"), [new SandboxGrant("chan", kv.TokenOf(theirs).Value, Rights.Read | Rights.Write)]);
        if (echo.IsOk)
        {
            k.Ipc.TrySend(kv, mine, "ping from the native kv service"u8).Unwrap();
            var n = echo.Value.Call("run");
            var back = await k.Ipc.ReceiveAsync(kv, mine);
            report.Expect(Section, "native service ⇄ Wasm echo guest over IPC", n.IsOk && back.IsOk,
                back.IsOk ? $"echoed \"{Encoding.UTF8.GetString(back.Value.Data)}\"" : back.Error.ToString());
        }
        else report.ExpectOk(Section, "start Wasm echo guest", echo.AsResult());

        // tenant-b has its own native service and Wasm guest talking over IPC — entirely inside tenant-b.
        var (bsvc, bControl) = k.Processes.Spawn("feed", tenantB).Value;
        var (bMine, bTheirs) = k.Ipc.CreateChannel(bsvc).Value;
        var bEcho = sandbox.Instantiate(tenantB, "echo", WasmSandbox.Guest("echo"), [new SandboxGrant("chan", bsvc.TokenOf(bTheirs).Value, Rights.Read | Rights.Write)]);
        if (bEcho.IsOk)
        {
            k.Ipc.TrySend(bsvc, bMine, "ping from tenant-b's feed service"u8).Unwrap();
            bEcho.Value.Call("run");
            var back = await k.Ipc.ReceiveAsync(bsvc, bMine);
            report.Expect(Section, "tenant-b: native feed service ⇄ its own Wasm echo guest over IPC", back.IsOk,
                back.IsOk ? $"echoed \"{Encoding.UTF8.GetString(back.Value.Data)}\"" : back.Error.ToString());
            bEcho.Value.Stop();
        }
        else report.ExpectOk(Section, "tenant-b starts a Wasm echo guest", bEcho.AsResult());
        await k.Processes.DestroyAsync(bControl);

        // tenant-b's guests: one tries to steal tenant-a's counter, two misbehave.
        var thief = sandbox.Instantiate(tenantB, "thief", WasmSandbox.Guest("steal"), []).Value;
        var stolen = thief.Call("run");
        report.Expect(Section, "tenant-b's Wasm thief tries 4 spellings of tenant-a's counter", stolen.IsOk && stolen.Value == 0, $"{stolen.Value} opens succeeded (all denied and audited)");
        var forger = sandbox.Instantiate(tenantB, "forger", WasmSandbox.Guest("forge"), []).Value;
        report.Expect(Section, "tenant-b's Wasm forger guesses 8192 handle numbers", forger.Call("run") is { IsOk: true, Value: 0 }, "0 worked");
        var spin = sandbox.Instantiate(tenantB, "spin", WasmSandbox.Guest("spin"), [], new SandboxLimits(FuelPerCall: 5_000_000)).Value;
        report.ExpectError(Section, "tenant-b's infinite loop guest runs out of fuel and is killed", spin.Call("run").AsResult(), ErrorCode.QuotaExceeded);
        var bomb = sandbox.Instantiate(tenantB, "bomb", WasmSandbox.Guest("membomb"), [], new SandboxLimits(MaxMemoryBytes: 1024 * 1024)).Value;
        report.ExpectError(Section, "tenant-b's memory bomb hits its 1 MiB limit and is killed", bomb.Call("run").AsResult(), ErrorCode.Faulted);
        if (counter.IsOk)
            report.Expect(Section, "tenant-a's counter guest is unaffected", counter.Value.Call("run") is { IsOk: true, Value: 4 }, "counter = 4");

        foreach (var g in new[] { counter, echo }) if (g.IsOk) g.Value.Stop();
        await k.Processes.DestroyAsync(kvControl);
        try { await serving; } catch (OperationCanceledException) { }
        // Destroying kv revoked its listener, and with it the /kv binding the app connected through.
        report.ExpectError(Section, "after kv is destroyed, the app's connection through /kv is cut",
            (await k.Ipc.CallAsync(client, conn.Value, "greeting"u8.ToArray(), TimeSpan.FromSeconds(1))).AsResult(), ErrorCode.Revoked);
    }
}
