using Photon.Sandbox.Syscalls;
using System.Text;
using Photon.Kernel;
using Photon.Kernel.Capabilities;
using Photon.Sandbox;

namespace Photon.Cli.Demo;

using Photon.Kernel.Boot;

/// <summary>
/// Userspace demo: each tenant runs a native service and Wasm guests; they talk over IPC inside their tenant, the
/// other tenant's attempts to reach across fail (and are audited), and hostile guests are killed without disturbing
/// the good ones.
/// </summary>
public static class TenantsDemo
{
    private const string Section = "Tenants, IPC & Wasm";

    public static async Task RunAsync(PhotonKernel k, DemoReport report)
    {
        var sys = k.Sys;
        var init = k.Init;
        // Every wait of the demo is bounded: a step that goes wrong is reported as a failure, never a hang.
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var tenantA = sys.Namespaces.Open(init, "/tenant-a", Rights.All).Value;
        var tenantB = sys.Namespaces.Open(init, "/tenant-b", Rights.All).Value;
        // The sandbox was brought up at boot and bound at /sandbox: starting a guest is a syscall through that handle,
        // which init hands (Execute only) to the services that start guests of their own.
        var sandbox = sys.Namespaces.Open(init, "/sandbox", Rights.Execute | Rights.Delegate).Value;

        // tenant-a's native key-value service listens at /tenant-a/kv. It may bind in its namespace and create child
        // namespaces there (for the Wasm guests it starts).
        var (kvControl, kv) = sys.Processes.Spawn(init, tenantA, "kv", Rights.Read | Rights.Bind | Rights.Create).Value;
        var listener = sys.Channels.Listen(kv).Value;
        var nsHandle = sys.Namespaces.Open(kv, "", Rights.Read | Rights.Bind | Rights.Create).Value;
        var kvSandbox = sys.Handles.Delegate(init, sandbox, kvControl, Rights.Execute).Value;
        report.ExpectOk(Section, "tenant-a's native kv service listens at /tenant-a/kv", sys.Namespaces.Bind(kv, nsHandle, "kv", listener, Rights.Connect));
        var store = new Dictionary<string, string> { ["greeting"] = "hello, tenant-a" };
        var serving = sys.Processes.StartTask(kv, async ct =>
        {
            var (conn, _) = (await sys.Channels.AcceptAsync(kv, listener, ct)).Value;
            while (true)
            {
                var req = await sys.Channels.ReceiveAsync(kv, conn, ct);
                if (!req.IsOk) return;
                var key = Encoding.UTF8.GetString(req.Value.Data);
                await sys.Channels.ReplyAsync(kv, req.Value, Encoding.UTF8.GetBytes(store.GetValueOrDefault(key, "(none)")));
            }
        }, "serve").Value;

        var (_, client) = sys.Processes.Spawn(init, tenantA, "app").Value;
        var conn = sys.Channels.Connect(client, "/kv");
        report.ExpectOk(Section, "tenant-a's app connects to /kv through its own namespace", conn.AsResult());
        var reply = await sys.Channels.CallAsync(client, conn.Value, "greeting"u8.ToArray(), TimeSpan.FromSeconds(5));
        report.Expect(Section, "app calls kv: get greeting (request/reply, 5 s timeout)", reply.IsOk,
            reply.IsOk ? $"\"{Encoding.UTF8.GetString(reply.Value.Data)}\"" : reply.Error.ToString());

        var (_, web) = sys.Processes.Spawn(init, tenantB, "web").Value;
        report.ExpectError(Section, "tenant-b's web connects to /tenant-a/kv", sys.Channels.Connect(web, "/tenant-a/kv").AsResult(), ErrorCode.NotFound);
        report.ExpectError(Section, "tenant-b's web connects to ../tenant-a/kv", sys.Channels.Connect(web, "../tenant-a/kv").AsResult(), ErrorCode.InvalidName);

        // Wasm guests in tenant-a, started by kv: a counter over a region kv grants and an IPC echo wired to kv's channel.
        var region = sys.Memory.Allocate(kv, 4096).Value;
        var counter = SandboxSyscalls.Instantiate(kv, kvSandbox, nsHandle, "counter", WasmSandbox.Guest("counter"),
            [new HandleGrant("counter", region, Rights.Read | Rights.Write)]);
        report.ExpectOk(Section, "tenant-a's kv starts a Wasm counter guest with one region granted", counter.AsResult(),
            counter.IsOk ? $"{counter.Value.Process.Principal}" : null);
        if (counter.IsOk)
        {
            int last = 0;
            for (int i = 0; i < 3; i++) last = counter.Value.Call("run").Value;
            var bytes = new byte[4];
            sys.Memory.Read(kv, region, 0, bytes).Unwrap();
            report.Expect(Section, "guest increments the shared counter 3 times", last == 3 && BitConverter.ToInt32(bytes) == 3, $"counter = {BitConverter.ToInt32(bytes)}");
        }
        var (mine, theirs) = sys.Channels.CreateChannel(kv).Value;
        var echo = SandboxSyscalls.Instantiate(kv, kvSandbox, nsHandle, "echo", WasmSandbox.Guest("echo"), [new HandleGrant("chan", theirs, Rights.Read | Rights.Write)]);
        if (echo.IsOk)
        {
            sys.Channels.TrySend(kv, mine, "ping from the native kv service"u8).Unwrap();
            var n = echo.Value.Call("run");
            var back = await sys.Channels.ReceiveAsync(kv, mine, bounded.Token);
            report.Expect(Section, "native service ⇄ Wasm echo guest over IPC", n.IsOk && back.IsOk,
                back.IsOk ? $"echoed \"{Encoding.UTF8.GetString(back.Value.Data)}\"" : back.Error.ToString());
        }
        else report.ExpectOk(Section, "start Wasm echo guest", echo.AsResult());

        // tenant-b has its own native service and Wasm guest talking over IPC — entirely inside tenant-b.
        var (bControl, bsvc) = sys.Processes.Spawn(init, tenantB, "feed", Rights.Read | Rights.Enumerate | Rights.Create).Value;
        var bNs = sys.Namespaces.Open(bsvc, "", Rights.Read | Rights.Create).Value;
        var bSandbox = sys.Handles.Delegate(init, sandbox, bControl, Rights.Execute).Value;
        var (bMine, bTheirs) = sys.Channels.CreateChannel(bsvc).Value;
        var bEcho = SandboxSyscalls.Instantiate(bsvc, bSandbox, bNs, "echo", WasmSandbox.Guest("echo"), [new HandleGrant("chan", bTheirs, Rights.Read | Rights.Write)]);
        if (bEcho.IsOk)
        {
            sys.Channels.TrySend(bsvc, bMine, "ping from tenant-b's feed service"u8).Unwrap();
            bEcho.Value.Call("run");
            var back = await sys.Channels.ReceiveAsync(bsvc, bMine, bounded.Token);
            report.Expect(Section, "tenant-b: native feed service ⇄ its own Wasm echo guest over IPC", back.IsOk,
                back.IsOk ? $"echoed \"{Encoding.UTF8.GetString(back.Value.Data)}\"" : back.Error.ToString());
            bEcho.Value.Stop();
        }
        else report.ExpectOk(Section, "tenant-b starts a Wasm echo guest", bEcho.AsResult());
        await sys.Processes.DestroyAsync(init, bControl);

        // tenant-b's guests, started by init: one tries to steal tenant-a's counter, two misbehave.
        var thief = SandboxSyscalls.Instantiate(init, sandbox, tenantB, "thief", WasmSandbox.Guest("steal"), []).Value;
        var stolen = thief.Call("run");
        report.Expect(Section, "tenant-b's Wasm thief tries 4 spellings of tenant-a's counter", stolen.IsOk && stolen.Value == 0, $"{stolen.Value} opens succeeded (all denied and audited)");
        var forger = SandboxSyscalls.Instantiate(init, sandbox, tenantB, "forger", WasmSandbox.Guest("forge"), []).Value;
        report.Expect(Section, "tenant-b's Wasm forger guesses 8192 handle numbers", forger.Call("run") is { IsOk: true, Value: 0 }, "0 worked");
        var spin = SandboxSyscalls.Instantiate(init, sandbox, tenantB, "spin", WasmSandbox.Guest("spin"), [], new SandboxLimits(FuelPerCall: 5_000_000)).Value;
        report.ExpectError(Section, "tenant-b's infinite loop guest runs out of fuel and is killed", spin.Call("run").AsResult(), ErrorCode.QuotaExceeded);
        var bomb = SandboxSyscalls.Instantiate(init, sandbox, tenantB, "bomb", WasmSandbox.Guest("membomb"), [], new SandboxLimits(MaxMemoryBytes: 1024 * 1024)).Value;
        report.ExpectError(Section, "tenant-b's memory bomb hits its 1 MiB limit and is killed", bomb.Call("run").AsResult(), ErrorCode.Faulted);
        if (counter.IsOk)
            report.Expect(Section, "tenant-a's counter guest is unaffected", counter.Value.Call("run") is { IsOk: true, Value: 4 }, "counter = 4");

        foreach (var g in new[] { counter, echo }) if (g.IsOk) g.Value.Stop();
        await sys.Processes.DestroyAsync(init, kvControl);
        try { await serving.WaitAsync(bounded.Token); }
        catch (OperationCanceledException) when (bounded.IsCancellationRequested) { report.Expect(Section, "kv's serving task ends when kv is destroyed", false, "still running after 60 s"); }
        catch (OperationCanceledException) { }
        // Destroying kv revoked its listener, and with it the /kv binding the app connected through.
        report.ExpectError(Section, "after kv is destroyed, the app's connection through /kv is cut",
            (await sys.Channels.CallAsync(client, conn.Value, "greeting"u8.ToArray(), TimeSpan.FromSeconds(1))).AsResult(), ErrorCode.Revoked);
    }
}
