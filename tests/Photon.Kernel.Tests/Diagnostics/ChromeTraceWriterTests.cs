using System.Diagnostics;
using Photon.Kernel.Diagnostics.Tracing;

namespace Photon.Kernel.Tests.Diagnostics;

public sealed class ChromeTraceWriterTests
{
    private static byte[] Write(TraceCapture capture)
    {
        var ms = new MemoryStream();
        ChromeTraceWriter.Write(ms, capture);
        return ms.ToArray();
    }

    [Fact]
    public void A_ring_that_lost_a_spans_begin_and_one_still_open_at_stop_still_give_balanced_spans()
    {
        long t0 = Stopwatch.GetTimestamp();
        long us = Stopwatch.Frequency / 1_000_000 + 1;
        var records = new[]
        {
            new TraceRecord(t0 + 1 * us, 0, 7, 0, "lost-begin", TracePoint.TaskRun, TracePhase.End), // its B was overwritten
            new TraceRecord(t0 + 2 * us, 0, 8, 0, "worker \"quoted\"\n", TracePoint.TaskRun, TracePhase.Begin),
            new TraceRecord(t0 + 3 * us, 0, 8, 0, "worker", TracePoint.TaskBlock, TracePhase.Instant),
            new TraceRecord(t0 + 4 * us, 0, 8, 0, "worker", TracePoint.TaskRun, TracePhase.End),
            new TraceRecord(t0 + 5 * us, 2 * us, 4096, 0, "nvme0", TracePoint.BlockRead, TracePhase.Complete),
            new TraceRecord(t0 + 6 * us, 0, 9, 0, "still-running", TracePoint.TaskRun, TracePhase.Begin), // open at stop
        };
        var capture = new TraceCapture([new ThreadTrace(42, "photon-cpu-0", records, Dropped: 3)], t0, t0 + 10 * us);
        var events = ChromeTraceJson.Validate(Write(capture));

        var spans = events.Where(e => e.GetProperty("ph").GetString() is "B" or "E").ToList();
        Assert.Equal(4, spans.Count); // the orphan E is left out, the open B is closed at the stop time
        Assert.Equal(10, spans[^1].GetProperty("ts").GetDouble(), 0);
        var read = Assert.Single(events, e => e.GetProperty("name").GetString() == "block.read");
        Assert.Equal("X", read.GetProperty("ph").GetString());
        Assert.Equal(4096, read.GetProperty("args").GetProperty("bytes").GetInt64());
        Assert.True(read.GetProperty("dur").GetDouble() >= 2);
        Assert.Contains(events, e => e.GetProperty("ph").GetString() == "M" && e.GetProperty("args").GetProperty("name").GetString() == "photon-cpu-0");
        Assert.Equal("worker \"quoted\"\n", events.First(e => e.GetProperty("ph").GetString() == "B").GetProperty("args").GetProperty("task_name").GetString());
    }

    [Fact]
    public void The_file_reports_how_many_events_were_recorded_and_dropped()
    {
        long t0 = Stopwatch.GetTimestamp();
        var capture = new TraceCapture(
            [new ThreadTrace(1, "a", [new TraceRecord(t0, 0, 1, 0, null, TracePoint.TaskSpawn, TracePhase.Instant)], Dropped: 5)], t0, t0);
        using var doc = System.Text.Json.JsonDocument.Parse(Write(capture));
        Assert.Equal(1, doc.RootElement.GetProperty("otherData").GetProperty("recorded").GetInt64());
        Assert.Equal(5, doc.RootElement.GetProperty("otherData").GetProperty("dropped").GetInt64());
    }
}
