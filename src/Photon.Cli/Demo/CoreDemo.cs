using Photon.Kernel;
using Photon.Kernel.Boot;
using Photon.Kernel.Capabilities;
using Photon.Kernel.Memory;

namespace Photon.Cli.Demo;

// The namespace Photon.Kernel would shadow the type inside Photon.*: name it explicitly.
using Kernel = Photon.Kernel.Boot.Kernel;

/// <summary>
/// The core demo: two tenants in sibling namespaces, processes in each, a shared memory region granted, delegated
/// and revoked, tasks on the scheduler, and process teardown — each step checked against what must happen.
/// </summary>
public static class CoreDemo
{
    public static async Task<DemoReport> RunAsync(Kernel k)
    {
        var report = new DemoReport();
        const string ns = "Namespaces & processes";
        const string caps = "Capabilities & memory";
        const string tasks = "Scheduler";

        var root = k.Namespaces.RootCapability;
        var tenantA = k.Namespaces.CreateChild(root, "tenant-a").Value;
        var tenantB = k.Namespaces.CreateChild(root, "tenant-b").Value;
        var svcA = k.Namespaces.CreateChild(tenantA, "svc").Value;
        report.Expect(ns, "create /tenant-a, /tenant-a/svc, /tenant-b", true, "3 namespaces");

        var (db, dbControl) = k.Processes.Spawn("db", tenantA, Rights.Read | Rights.Enumerate | Rights.Bind).Value;
        var (web, _) = k.Processes.Spawn("web", tenantA).Value;
        var (intruder, _) = k.Processes.Spawn("intruder", tenantB).Value;
        report.Expect(ns, "spawn db, web in /tenant-a and intruder in /tenant-b", true,
            $"pids {db.Pid}, {web.Pid}, {intruder.Pid}");

        // db allocates a region and publishes a read-only view at /tenant-a/svc/data.
        var data = db.AllocateMemory(16 * 1024).Value;
        db.WriteMemory(data, 0, "balance=100"u8).Unwrap();
        report.Expect(caps, "db allocates a 16 KiB region and writes to it", true, $"{k.Memory.LiveRegions} live region(s)");
        var svcHandle = db.AddHandle(k.Capabilities.Derive(svcA, Rights.Bind | Rights.Read, db.Principal).Value).Value;
        report.ExpectOk(caps, "db binds a read-only view at /tenant-a/svc/data", db.Bind(svcHandle, "data", data, Rights.Read | Rights.Map));

        var webView = web.Open("/svc/data", Rights.Read);
        report.ExpectOk(caps, "web opens /svc/data read-only", webView.AsResult());
        var buf = new byte[11];
        var read = web.ReadMemory(webView.Value, 0, buf);
        report.Expect(caps, "web reads through its capability", read.IsOk && buf.AsSpan().SequenceEqual("balance=100"u8),
            read.IsOk ? $"\"{System.Text.Encoding.ASCII.GetString(buf)}\"" : read.Error.ToString());
        report.ExpectError(caps, "web tries to write through the read-only view", web.WriteMemory(webView.Value, 0, "balance=999"u8), ErrorCode.AccessDenied);
        report.ExpectError(caps, "web asks for write access on open", web.Open("/svc/data", Rights.Write).AsResult(), ErrorCode.AccessDenied);

        // Tenant isolation: the sibling tenant cannot name tenant-a's objects in any spelling.
        report.ExpectError(ns, "intruder opens /tenant-a/svc/data", intruder.Open("/tenant-a/svc/data", Rights.Read).AsResult(), ErrorCode.NotFound);
        report.ExpectError(ns, "intruder opens ../tenant-a/svc/data", intruder.Open("../tenant-a/svc/data", Rights.Read).AsResult(), ErrorCode.InvalidName);
        report.ExpectError(ns, "intruder opens ．．/tenant-a (full-width dots)", intruder.Open("\uFF0E\uFF0E/tenant-a", Rights.Read).AsResult(), ErrorCode.InvalidName);
        report.ExpectError(ns, "intruder forges a handle number", intruder.ReadMemory(new Photon.Kernel.Processes.Handle(data.Value), 0, buf), ErrorCode.InvalidHandle);
        var stolenToken = db.TokenOf(data).Value;
        var forged = stolenToken with { Id = stolenToken.Id ^ ((UInt128)0xdead << 64) };
        report.ExpectError(ns, "intruder presents a forged 128-bit token", k.Memory.Read(forged, 0, buf, intruder.Principal), ErrorCode.UnknownCapability);

        // Delegation with write access, then revocation.
        var webWrite = db.Delegate(data, web, Rights.Read | Rights.Write).Value;
        report.ExpectOk(caps, "db delegates read+write to web; web writes", web.WriteMemory(webWrite, 0, "balance=250"u8));
        var revoked = db.RevokeDerived(data);
        report.Expect(caps, "db revokes everything derived from its region capability", revoked.IsOk, $"{revoked.Value} capabilities revoked");
        report.ExpectError(caps, "web writes with the revoked capability", web.WriteMemory(webWrite, 0, "balance=0"u8), ErrorCode.Revoked);
        report.ExpectError(caps, "web reads /svc/data binding after revocation", web.ReadMemory(webView.Value, 0, buf), ErrorCode.Revoked);
        db.ReadMemory(data, 0, buf).Unwrap();
        report.Expect(caps, "db still reads its own region", buf.AsSpan().SequenceEqual("balance=250"u8), System.Text.Encoding.ASCII.GetString(buf));

        // Split and share.
        var big = db.AllocateMemory(64 * 1024).Value;
        var (lo, hi) = k.Memory.Split(db.TokenOf(big).Value, 16 * 1024, db.Principal).Value;
        db.Handles.Remove(big);
        report.Expect(caps, "db splits a 64 KiB region at 16 KiB", k.Memory.LengthOf(lo).Value == 16384 && k.Memory.LengthOf(hi).Value == 49152,
            $"{k.Memory.LengthOf(lo).Value} + {k.Memory.LengthOf(hi).Value} bytes");
        using (var map = k.Memory.Map(hi, db.Principal).Value)
        {
            map.Span.Fill(0x5A);
            report.Expect(caps, "db maps the high half and fills it directly", map.Span[^1] == 0x5A, $"{map.Length} bytes mapped");
        }
        report.ExpectError(caps, "double free of the low half", Free2(k, lo, db.Principal), ErrorCode.DoubleFree);
        k.Memory.Free(hi, db.Principal).Unwrap();

        // Tasks on the scheduler: every process runs timer-driven tasks.
        int ticks = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var running = new List<Task>();
        foreach (var p in new[] { db, web, intruder })
            for (int i = 0; i < 100; i++)
                running.Add(p.Run(async ct =>
                {
                    for (int j = 0; j < 3; j++)
                    {
                        await k.Timers.Delay(TimeSpan.FromMilliseconds(5), ct);
                        Interlocked.Increment(ref ticks);
                    }
                }, $"ticker{i}").Value);
        await Task.WhenAll(running);
        report.Expect(tasks, "300 process tasks sleep on kernel timers 3 times each", ticks == 900, $"{ticks} wake-ups in {sw.ElapsedMilliseconds} ms");

        // Destroying db revokes its capabilities and reclaims its memory.
        long freeBefore = k.Physical.FreeFrames;
        var sleeper = db.Run(ct => k.Timers.Delay(Timeout.InfiniteTimeSpan, ct), "sleeper").Value;
        var destroyed = await k.Processes.DestroyAsync(dbControl);
        report.ExpectOk(ns, "destroy db (cancels its tasks, revokes its capabilities)", destroyed, $"sleeper task {(sleeper.IsCanceled ? "cancelled" : sleeper.Status.ToString())}");
        report.Expect(caps, "db's memory is reclaimed", k.Physical.FreeFrames == freeBefore + 4, $"{k.Physical.FreeFrames - freeBefore} frames returned");
        report.ExpectError(ns, "web opens /svc/data after db is gone", web.Open("/svc/data", Rights.Read).AsResult(), ErrorCode.Revoked);
        return report;
    }

    private static Result Free2(Kernel k, CapabilityToken region, Principal p)
    {
        var first = k.Memory.Free(region, p);
        return first.IsOk ? k.Memory.Free(region, p) : first;
    }
}
