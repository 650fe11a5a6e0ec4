using Photon.Kernel;
using Photon.Kernel.Capabilities;

namespace Photon.Cli.Demo;

using Photon.Kernel.Boot;

/// <summary>
/// The core demo: two tenants in sibling namespaces, processes in each, a shared memory region granted, delegated
/// and revoked, tasks on the scheduler, and process teardown — each step checked against what must happen.
/// </summary>
public static class CoreDemo
{
    public static async Task<DemoReport> RunAsync(PhotonKernel k)
    {
        var report = new DemoReport();
        const string ns = "Namespaces & processes";
        const string caps = "Capabilities & memory";
        const string tasks = "Scheduler";

        // The CLI acts only as processes, through system calls: init (pid 1, holding the root namespace) and the
        // processes it spawns. No token, principal or manager method is reachable from here.
        var sys = k.Sys;
        var init = k.Init;
        // The tenants were brought up at boot (KernelConfig.Components); init finds them by name.
        var tenantA = sys.Namespaces.Open(init, "/tenant-a", Rights.All);
        var tenantB = sys.Namespaces.Open(init, "/tenant-b", Rights.All);
        report.Expect(ns, "init opens /tenant-a and /tenant-b (created at boot, with quotas)", tenantA.IsOk && tenantB.IsOk,
            tenantA.IsOk && tenantB.IsOk ? "2 namespaces" : $"{tenantA.AsResult()} {tenantB.AsResult()}");
        if (!tenantA.IsOk || !tenantB.IsOk) return report;
        var svcA = sys.Namespaces.CreateChild(init, tenantA.Value, "svc");
        report.ExpectOk(ns, "init creates /tenant-a/svc", svcA.AsResult());
        if (!svcA.IsOk) return report;

        // web first, so that pid 2 (`photon caps 2`) is a process that outlives the demo.
        var (webControl, web) = sys.Processes.Spawn(init, tenantA.Value, "web").Value;
        var (dbControl, db) = sys.Processes.Spawn(init, tenantA.Value, "db", Rights.Read | Rights.Enumerate | Rights.Bind).Value;
        var (_, intruder) = sys.Processes.Spawn(init, tenantB.Value, "intruder").Value;
        report.Expect(ns, "init spawns web, db in /tenant-a and intruder in /tenant-b", true,
            $"pids {web.Pid}, {db.Pid}, {intruder.Pid}");

        // db allocates a region and publishes a read-only view at /tenant-a/svc/data.
        var data = sys.Memory.Allocate(db, 16 * 1024).Value;
        sys.Memory.Write(db, data, 0, "balance=100"u8).Unwrap();
        report.Expect(caps, "db allocates a 16 KiB region and writes to it", true, $"{k.Memory.LiveRegions} live region(s)");
        var svcHandle = sys.Handles.Delegate(init, svcA.Value, dbControl, Rights.Bind | Rights.Read).Value;
        report.ExpectOk(caps, "init gives db Bind on /tenant-a/svc; db binds a read-only view at svc/data",
            sys.Namespaces.Bind(db, svcHandle, "data", data, Rights.Read | Rights.Map));

        var webView = sys.Namespaces.Open(web, "/svc/data", Rights.Read);
        report.ExpectOk(caps, "web opens /svc/data read-only", webView.AsResult());
        var buf = new byte[11];
        var read = sys.Memory.Read(web, webView.Value, 0, buf);
        report.Expect(caps, "web reads through its handle", read.IsOk && buf.AsSpan().SequenceEqual("balance=100"u8),
            read.IsOk ? $"\"{System.Text.Encoding.ASCII.GetString(buf)}\"" : read.Error.ToString());
        report.ExpectError(caps, "web tries to write through the read-only view", sys.Memory.Write(web, webView.Value, 0, "balance=999"u8), ErrorCode.AccessDenied);
        report.ExpectError(caps, "web asks for write access on open", sys.Namespaces.Open(web, "/svc/data", Rights.Write).AsResult(), ErrorCode.AccessDenied);

        // Tenant isolation: the sibling tenant cannot name tenant-a's objects in any spelling.
        report.ExpectError(ns, "intruder opens /tenant-a/svc/data", sys.Namespaces.Open(intruder, "/tenant-a/svc/data", Rights.Read).AsResult(), ErrorCode.NotFound);
        report.ExpectError(ns, "intruder opens ../tenant-a/svc/data", sys.Namespaces.Open(intruder, "../tenant-a/svc/data", Rights.Read).AsResult(), ErrorCode.InvalidName);
        report.ExpectError(ns, "intruder opens ．．/tenant-a (full-width dots)", sys.Namespaces.Open(intruder, "\uFF0E\uFF0E/tenant-a", Rights.Read).AsResult(), ErrorCode.InvalidName);
        report.ExpectError(ns, "intruder forges a handle number (db's)", sys.Memory.Read(intruder, data, 0, buf), ErrorCode.InvalidHandle);
        // A handle packs a slot index (low 20 bits) and the slot's generation: forge one of the intruder's own slots
        // at another generation. Tokens — what used to be forged here — no longer reach the CLI at all.
        var own = sys.Memory.Allocate(intruder, 4096).Value;
        var forged = new Photon.Kernel.Processes.Handle(own.Value + (1 << 20));
        report.ExpectError(ns, "intruder forges a handle (its own slot, next generation); tokens are unreachable from the CLI",
            sys.Memory.Read(intruder, forged, 0, buf), ErrorCode.InvalidHandle);
        sys.Memory.Free(intruder, own).Unwrap();

        // Delegation with write access, then revocation. init introduces web to db (a handle with Write on web's
        // process, which is what delegating to it takes).
        var webForDb = sys.Handles.Delegate(init, webControl, dbControl, Rights.Write).Value;
        var webWrite = sys.Handles.Delegate(db, data, webForDb, Rights.Read | Rights.Write).Value;
        report.ExpectOk(caps, "db delegates read+write to web; web writes", sys.Memory.Write(web, webWrite, 0, "balance=250"u8));
        var revoked = sys.Handles.RevokeDerived(db, data);
        report.Expect(caps, "db revokes everything derived from its region handle", revoked.IsOk, $"{revoked.Value} capabilities revoked");
        report.ExpectError(caps, "web writes with the revoked handle", sys.Memory.Write(web, webWrite, 0, "balance=0"u8), ErrorCode.Revoked);
        report.ExpectError(caps, "web reads /svc/data binding after revocation", sys.Memory.Read(web, webView.Value, 0, buf), ErrorCode.Revoked);
        sys.Memory.Read(db, data, 0, buf).Unwrap();
        report.Expect(caps, "db still reads its own region", buf.AsSpan().SequenceEqual("balance=250"u8), System.Text.Encoding.ASCII.GetString(buf));

        // Split, map, lend a mapping and revoke it.
        var big = sys.Memory.Allocate(db, 64 * 1024).Value;
        var (lo, hi) = sys.Memory.Split(db, big, 16 * 1024).Value;
        long loLen = sys.Memory.Length(db, lo).Value, hiLen = sys.Memory.Length(db, hi).Value;
        report.Expect(caps, "db splits a 64 KiB region at 16 KiB", loLen == 16384 && hiLen == 49152, $"{loLen} + {hiLen} bytes");
        using (var map = sys.Memory.Map(db, hi).Value)
        {
            var filled = map.Update(0, (int)map.Length, (byte)0x5A, static (span, b) => span.Fill(b));
            byte last = 0;
            map.View(map.Length - 1, 1, 0, (span, _) => last = span[0]).Unwrap();
            report.Expect(caps, "db maps the high half and fills it in place", filled.IsOk && last == 0x5A, $"{map.Length} bytes mapped");
        }
        var lent = sys.Handles.Delegate(db, hi, webForDb, Rights.Read | Rights.Map).Value;
        using (var webMap = sys.Memory.Map(web, lent).Value)
        {
            var peek = new byte[1];
            var seen = webMap.Read(webMap.Length - 1, peek);
            report.Expect(caps, "web maps the read-only view db lent it", seen.IsOk && peek[0] == 0x5A && !webMap.IsWritable,
                seen.IsOk ? $"reads 0x{peek[0]:X2}, read-only" : seen.Error.ToString());
            report.ExpectError(caps, "web writes through its read-only mapping", webMap.Write(0, "x"u8), ErrorCode.AccessDenied);
            sys.Handles.RevokeDerived(db, hi).Unwrap();
            report.ExpectError(caps, "db revokes the loan: web's open mapping fails from then on", webMap.Read(0, peek), ErrorCode.Revoked);
        }
        sys.Memory.Free(db, lo).Unwrap();
        report.ExpectError(caps, "double free of the low half (the first free closed the handle)", sys.Memory.Free(db, lo), ErrorCode.InvalidHandle);
        sys.Memory.Free(db, hi).Unwrap();

        // Tasks on the scheduler: every process runs timer-driven tasks.
        int ticks = 0;
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var running = new List<Task>();
        foreach (var p in new[] { db, web, intruder })
            for (int i = 0; i < 100; i++)
                running.Add(sys.Processes.StartTask(p, async ct =>
                {
                    for (int j = 0; j < 3; j++)
                    {
                        await k.Timers.Delay(TimeSpan.FromMilliseconds(5), ct);
                        Interlocked.Increment(ref ticks);
                    }
                }, $"ticker{i}").Value);
        // Bounded, so that a lost wake-up is reported as a failure rather than hanging the demo.
        try { await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(60)); }
        catch (TimeoutException) { }
        report.Expect(tasks, "300 process tasks sleep on kernel timers 3 times each", ticks == 900, $"{ticks} wake-ups in {sw.ElapsedMilliseconds} ms");

        // Destroying db revokes its capabilities and reclaims its memory.
        long freeBefore = k.Physical.FreeFrames;
        var sleeper = sys.Processes.StartTask(db, ct => k.Timers.Delay(Timeout.InfiniteTimeSpan, ct), "sleeper").Value;
        var destroyed = await sys.Processes.DestroyAsync(init, dbControl);
        report.ExpectOk(ns, "init destroys db (cancels its tasks, revokes its capabilities)", destroyed, $"sleeper task {(sleeper.IsCanceled ? "cancelled" : sleeper.Status.ToString())}");
        report.Expect(caps, "db's memory is reclaimed", k.Physical.FreeFrames == freeBefore + 4, $"{k.Physical.FreeFrames - freeBefore} frames returned");
        report.ExpectError(ns, "web opens /svc/data after db is gone", sys.Namespaces.Open(web, "/svc/data", Rights.Read).AsResult(), ErrorCode.Revoked);
        return report;
    }
}
