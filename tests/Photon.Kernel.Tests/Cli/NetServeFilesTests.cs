using System.Diagnostics;
using System.Security.Cryptography;
using Photon.Cli;

namespace Photon.Kernel.Tests.Cli;

/// <summary>
/// Issue #15: `photon net up --http 80 --root /mnt/disk IMAGE` serves a real mkfs.ext4 / mkfs.vfat image to Linux's
/// curl in a network namespace — keep-alive reuse, byte-exact large files, ranges, content types, the bulk endpoint,
/// and attempts to leave the mount (.., encoded .., symlinks to / and to host paths) that must all fail.
/// </summary>
public sealed class NetServeFilesTests
{
    private static (int Code, string Output) Sh(string cmd, int timeoutMs = 120_000)
    {
        using var p = Process.Start(new ProcessStartInfo("sh", ["-c", cmd]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeoutMs)) { p.Kill(true); return (-1, $"timed out: {cmd}"); }
        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    private static string Hex(byte[] data) => Convert.ToHexString(SHA256.HashData(data)).ToLowerInvariant();

    private static bool CanRun(out string why)
    {
        why = "";
        foreach (var tool in new[] { "ip", "curl", "mkfs.ext4", "sha256sum" })
            if (Sh($"command -v {tool}").Code != 0) { why = $"{tool} is not installed"; return false; }
        var probe = Photon.Kernel.Hal.Host.Net.TapDevice.Open($"ptprobe{Environment.ProcessId % 10000}", [2, 0, 0, 0, 0, 7]);
        if (!probe.IsOk) { why = $"needs a TAP device: {probe.Error}"; return false; }
        probe.Value.DisposeAsync().AsTask().Wait();
        return true;
    }

    [Fact]
    public async Task Net_up_serves_an_ext4_image_to_curl_with_keep_alive_ranges_and_no_way_out_of_the_mount()
    {
        if (!CanRun(out var why)) { Console.Error.WriteLine($"SKIPPED LOUDLY: photon net up --root: {why}"); return; }
        var dir = Directory.CreateTempSubdirectory("photon-httpd-").FullName;
        var ns = $"phweb{Environment.ProcessId % 100000}";
        try
        {
            var content = Path.Combine(dir, "content");
            Directory.CreateDirectory(Path.Combine(content, "docs"));
            var big = RandomNumberGenerator.GetBytes(24 << 20);
            File.WriteAllBytes(Path.Combine(content, "big.bin"), big);
            File.WriteAllText(Path.Combine(content, "index.html"), "<h1>photon www</h1>\n");
            File.WriteAllText(Path.Combine(content, "docs", "readme.txt"), "read me\n");
            // Links that point out of the image, at the host, and back up: the VFS re-roots them at the mount, so none
            // reaches a host file ("up" is ".." from /docs: the mount's root, whose big.bin is served).
            File.CreateSymbolicLink(Path.Combine(content, "escape"), "/etc/passwd");
            File.CreateSymbolicLink(Path.Combine(content, "etcdir"), "/etc");
            File.CreateSymbolicLink(Path.Combine(content, "docs", "up"), "..");
            var img = Path.Combine(dir, "www.img");
            var mkfs = Sh($"mkfs.ext4 -q -F -d {content} {img} 64M");
            Assert.True(mkfs.Code == 0, mkfs.Output);

            // The server runs for --seconds and then shuts down: long enough for every request below on a loaded CI host
            // (at load ~70 they took more than 40 s, and the last ones found the server gone).
            var up = Task.Run(() => CliApp.RunAsync(["net", "up", "10.98.0.2/24", "--tap", $"pw{Environment.ProcessId % 100000}",
                "--peer-ns", ns, "--peer-addr", "10.98.0.1/24", "--http", "80", "--root", "/mnt/disk", img, "--seconds", "100"]));
            string InNs(string cmd) => $"ip netns exec {ns} sh -c '{cmd}'";
            const string url = "http://10.98.0.2";
            var ready = (Code: -1, Output: "");
            for (int i = 0; i < 100 && ready.Code != 0 && !up.IsCompleted; i++)
            {
                await Task.Delay(200);
                ready = Sh(InNs($"curl -sS --max-time 2 {url}/"));
            }
            Assert.True(ready.Code == 0, $"never answered: {ready.Output}");
            Assert.Equal("<h1>photon www</h1>\n", ready.Output); // a directory serves its index.html

            // Keep-alive: curl's second request travels on the first connection.
            var twice = Sh(InNs($"curl -sS -v -o /dev/null -o /dev/null {url}/index.html {url}/docs/readme.txt 2>&1"));
            Assert.Contains("Re-using existing connection", twice.Output);
            Assert.Contains("Content-Type: text/html; charset=utf-8", twice.Output);
            Assert.Contains("Content-Type: text/plain; charset=utf-8", twice.Output);
            Assert.Contains("Content-Length: 20", twice.Output);

            // 24 MiB byte-exact, then a range in the middle, a suffix range and one past the end.
            var whole = Sh(InNs($"curl -sS --max-time 60 {url}/big.bin | sha256sum"));
            Assert.StartsWith(Hex(big), whole.Output);
            var part = Sh(InNs($"curl -sS --max-time 20 --range 1000000-3999999 {url}/big.bin | sha256sum"));
            Assert.StartsWith(Hex(big[1_000_000..4_000_000]), part.Output);
            var partHead = Sh(InNs($"curl -sS -o /dev/null -D - --range 1000000-3999999 {url}/big.bin"));
            Assert.Contains("HTTP/1.1 206 Partial Content", partHead.Output);
            Assert.Contains($"Content-Range: bytes 1000000-3999999/{big.Length}", partHead.Output);
            Assert.Contains("Content-Length: 3000000", partHead.Output);
            var tail = Sh(InNs($"curl -sS --range -100 {url}/big.bin | sha256sum"));
            Assert.StartsWith(Hex(big[^100..]), tail.Output);
            var past = Sh(InNs($"curl -s -o /dev/null -D - --range {big.Length}- {url}/big.bin"));
            Assert.Contains("HTTP/1.1 416", past.Output);
            Assert.Contains($"Content-Range: bytes */{big.Length}", past.Output);

            // Ways out of the mount: refused as bad paths (400) or not found (404), never a host file's bytes.
            foreach (var (path, code) in new[]
            {
                ("/../../etc/passwd", "400"), ("/%2e%2e/%2e%2e/etc/passwd", "400"), ("/docs/..%2f..%2fetc%2fpasswd", "400"),
                ("//etc/passwd", "400"), ("/docs%5c..%5cbig.bin", "400"), ("/escape", "404"), ("/etcdir/passwd", "404"),
                ("/docs/up/big.bin", "200"), ("/nope", "404"), ("/big.bin%00.txt", "400"),
            })
            {
                var got = Sh(InNs($"curl --path-as-is -s -o /dev/null -w %{{http_code}} {url}{path}"));
                Assert.True(got.Output == code, $"{path}: {got.Output}");
            }
            var absolute = Sh(InNs($"curl -s --request-target http://evil/etc/passwd -o /dev/null -w %{{http_code}} {url}/"));
            Assert.Equal("400", absolute.Output);

            // The bulk endpoint: a generated body with a known hash, with and without a length.
            var bulk = new byte[5_000_000];
            Photon.Net.Services.BulkBody.Fill(bulk);
            Assert.StartsWith(Hex(bulk), Sh(InNs($"curl -sS \"{url}/bulk?bytes=5000000\" | sha256sum")).Output);
            var chunked = Sh(InNs($"curl -sS -D /dev/stderr \"{url}/bulk?bytes=5000000&chunked=1\" 2>/tmp/{ns}.h | sha256sum; cat /tmp/{ns}.h"));
            Assert.StartsWith(Hex(bulk), chunked.Output);
            Assert.Contains("Transfer-Encoding: chunked", chunked.Output);

            Assert.Equal(0, await up.WaitAsync(TimeSpan.FromSeconds(200)));
        }
        finally
        {
            Sh($"ip netns del {ns}; rm -f /tmp/{ns}.h");
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Net_up_serves_a_FAT_image_too()
    {
        if (!CanRun(out var why) || Sh("command -v mkfs.vfat && command -v mcopy").Code != 0)
        { Console.Error.WriteLine($"SKIPPED LOUDLY: photon net up --root on FAT: {why} (or mkfs.vfat/mcopy missing)"); return; }
        var dir = Directory.CreateTempSubdirectory("photon-httpd-fat-").FullName;
        var ns = $"phfat{Environment.ProcessId % 100000}";
        try
        {
            var file = RandomNumberGenerator.GetBytes(3 << 20);
            File.WriteAllBytes(Path.Combine(dir, "data.bin"), file);
            File.WriteAllText(Path.Combine(dir, "index.htm"), "fat page\n");
            var img = Path.Combine(dir, "www.img");
            var mkfs = Sh($"mkfs.vfat -C {img} 16384 >/dev/null && mcopy -i {img} {dir}/data.bin {dir}/index.htm ::/");
            Assert.True(mkfs.Code == 0, mkfs.Output);
            var up = Task.Run(() => CliApp.RunAsync(["net", "up", "10.96.0.2/24", "--tap", $"pf{Environment.ProcessId % 100000}",
                "--peer-ns", ns, "--peer-addr", "10.96.0.1/24", "--http", "8080", "--root", "/www", img, "--seconds", "45"]));
            string InNs(string cmd) => $"ip netns exec {ns} sh -c '{cmd}'";
            const string url = "http://10.96.0.2:8080";
            var ready = (Code: -1, Output: "");
            for (int i = 0; i < 100 && ready.Code != 0 && !up.IsCompleted; i++)
            {
                await Task.Delay(200);
                ready = Sh(InNs($"curl -sS --max-time 2 {url}/index.htm"));
            }
            Assert.True(ready.Code == 0, $"never answered: {ready.Output}");
            Assert.Equal("fat page\n", ready.Output);
            Assert.StartsWith(Hex(file), Sh(InNs($"curl -sS {url}/data.bin | sha256sum")).Output);
            Assert.StartsWith(Hex(file[12345..67890]), Sh(InNs($"curl -sS --range 12345-67889 {url}/data.bin | sha256sum")).Output);
            Assert.Equal("400", Sh(InNs($"curl --path-as-is -s -o /dev/null -w %{{http_code}} {url}/../data.bin")).Output);
            Assert.Equal(0, await up.WaitAsync(TimeSpan.FromSeconds(120)));
        }
        finally
        {
            Sh($"ip netns del {ns}");
            Directory.Delete(dir, recursive: true);
        }
    }
}
