using System.Text.Json;

namespace Photon.Kernel.Tests.Diagnostics;

/// <summary>Checks a Chrome trace event file the way the viewers read it, and returns its events.</summary>
internal static class ChromeTraceJson
{
    public static List<JsonElement> Validate(byte[] json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        Assert.Equal(JsonValueKind.Object, root.ValueKind);
        var events = root.GetProperty("traceEvents").EnumerateArray().Select(e => e.Clone()).ToList();
        var open = new Dictionary<long, Stack<string>>();
        foreach (var e in events)
        {
            var ph = e.GetProperty("ph").GetString()!;
            Assert.Contains(ph, new[] { "M", "B", "E", "X", "i" });
            Assert.False(string.IsNullOrEmpty(e.GetProperty("name").GetString()));
            Assert.Equal(JsonValueKind.Number, e.GetProperty("pid").ValueKind);
            long tid = e.GetProperty("tid").GetInt64();
            Assert.Equal(JsonValueKind.Object, e.GetProperty("args").ValueKind);
            if (ph == "M") continue;
            Assert.True(e.GetProperty("ts").GetDouble() >= 0, "ts is microseconds since the session started");
            Assert.False(string.IsNullOrEmpty(e.GetProperty("cat").GetString()));
            if (ph == "X") Assert.True(e.GetProperty("dur").GetDouble() >= 0);
            if (ph == "i") Assert.Equal("t", e.GetProperty("s").GetString());
            var stack = open.TryGetValue(tid, out var s) ? s : open[tid] = new Stack<string>();
            if (ph == "B") stack.Push(e.GetProperty("name").GetString()!);
            if (ph == "E")
            {
                Assert.True(stack.Count > 0, $"an E without a B on thread {tid}");
                Assert.Equal(stack.Pop(), e.GetProperty("name").GetString());
            }
        }
        Assert.All(open, kv => Assert.True(kv.Value.Count == 0, $"thread {kv.Key} has {kv.Value.Count} unclosed B events"));
        // B/E spans on one thread must not go back in time (the viewers drop them otherwise).
        foreach (var g in events.Where(e => e.GetProperty("ph").GetString() is "B" or "E").GroupBy(e => e.GetProperty("tid").GetInt64()))
        {
            var ts = g.Select(e => e.GetProperty("ts").GetDouble()).ToList();
            Assert.Equal(ts.Order(), ts);
        }
        return events;
    }
}
