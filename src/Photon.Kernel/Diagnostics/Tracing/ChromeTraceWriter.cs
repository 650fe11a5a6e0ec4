using System.Diagnostics;
using System.Text.Json;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>
/// Writes a <see cref="TraceCapture"/> in the Chrome trace event format (JSON object form), which ui.perfetto.dev and
/// chrome://tracing open: one "M" metadata event naming each thread, then "B"/"E" spans for work items on CPU
/// workers, "X" spans for block I/O and NIC transmissions (with their latency as the duration) and "i" instants for
/// everything else; ts and dur in microseconds since the session started, pid 1 (the kernel), tid the host thread.
/// A ring that overflowed lost its oldest records, which may include the "B" of an "E" still held: such an "E" is left
/// out, and a span still open at the end is closed at the stop time, so every thread's spans are balanced.
/// </summary>
public static class ChromeTraceWriter
{
    private const int KernelPid = 1;

    public static void Write(Stream output, TraceCapture capture)
    {
        using var json = new Utf8JsonWriter(output, new JsonWriterOptions { Indented = false });
        json.WriteStartObject();
        json.WriteString("displayTimeUnit", "ms");
        json.WriteStartObject("otherData");
        json.WriteString("producer", "photon trace");
        json.WriteNumber("recorded", capture.Recorded);
        json.WriteNumber("dropped", capture.Dropped);
        json.WriteEndObject();
        json.WriteStartArray("traceEvents");
        Metadata(json, "process_name", 0, "photon kernel");
        foreach (var thread in capture.Threads)
        {
            if (thread.Records.Count == 0) continue;
            Metadata(json, "thread_name", thread.ThreadId, thread.ThreadName);
            WriteThread(json, capture, thread);
        }
        json.WriteEndArray();
        json.WriteEndObject();
    }

    private static void WriteThread(Utf8JsonWriter json, TraceCapture capture, ThreadTrace thread)
    {
        var open = new Stack<TraceRecord>();
        foreach (var r in thread.Records)
        {
            if (r.Phase == TracePhase.End)
            {
                if (open.Count == 0) continue; // its Begin was overwritten
                open.Pop();
            }
            else if (r.Phase == TracePhase.Begin) open.Push(r);
            Event(json, capture, thread.ThreadId, r, r.Timestamp);
        }
        // Spans still open when the session stopped end at the stop time.
        while (open.TryPop(out var begun))
            Event(json, capture, thread.ThreadId, begun with { Phase = TracePhase.End }, Math.Max(begun.Timestamp, capture.StopTimestamp));
    }

    private static void Metadata(Utf8JsonWriter json, string name, int tid, string value)
    {
        json.WriteStartObject();
        json.WriteString("name", name);
        json.WriteString("ph", "M");
        json.WriteNumber("pid", KernelPid);
        json.WriteNumber("tid", tid);
        json.WriteStartObject("args");
        json.WriteString("name", value);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static void Event(Utf8JsonWriter json, TraceCapture capture, int tid, in TraceRecord r, long timestamp)
    {
        json.WriteStartObject();
        // A syscall span is named by its call, so the viewer lists sys.ipc.send, sys.fs.read, … side by side.
        json.WriteString("name", r.Point == TracePoint.SyscallCall && r.Label is not null ? r.Label : TracePoints.NameOf(r.Point));
        json.WriteString("cat", TracePoints.NameOf(TracePoints.CategoryOf(r.Point)));
        json.WriteString("ph", r.Phase switch { TracePhase.Begin => "B", TracePhase.End => "E", TracePhase.Complete => "X", _ => "i" });
        json.WriteNumber("ts", Micros(timestamp - capture.StartTimestamp));
        if (r.Phase == TracePhase.Complete) json.WriteNumber("dur", Micros(r.Duration));
        if (r.Phase == TracePhase.Instant) json.WriteString("s", "t");
        json.WriteNumber("pid", KernelPid);
        json.WriteNumber("tid", tid);
        json.WriteStartObject("args");
        var (a0, a1, label) = ArgNames(r.Point);
        if (a0 is not null) json.WriteNumber(a0, r.A0);
        if (a1 is not null) json.WriteNumber(a1, r.A1);
        if (label is not null && r.Label is not null) json.WriteString(label, r.Label);
        json.WriteEndObject();
        json.WriteEndObject();
    }

    private static double Micros(long stopwatchTicks) => Math.Round(stopwatchTicks * 1_000_000.0 / Stopwatch.Frequency, 3);

    private static (string? A0, string? A1, string? Label) ArgNames(TracePoint p) => p switch
    {
        TracePoint.TaskSteal => ("victim_cpu", "items", null),
        TracePoint.TaskStarved => ("task", "ran_us", "task_name"),
        TracePoint.TaskFinish => ("task", "state", "task_name"),
        TracePoint.TaskSpawn or TracePoint.TaskRun or TracePoint.TaskBlock or TracePoint.TaskWake => ("task", null, "task_name"),
        TracePoint.IpcSend or TracePoint.IpcReceive => ("bytes", "handles", "process"),
        TracePoint.BlockRead or TracePoint.BlockWrite or TracePoint.BlockFlush => ("bytes", "failed", "device"),
        TracePoint.NicTransmit or TracePoint.NicReceive => ("frames", "bytes", "nic"),
        TracePoint.CapCreate or TracePoint.CapDerive or TracePoint.CapTransfer or TracePoint.CapRevoke or TracePoint.CapDeny
            => ("object_kind", "rights", "detail"),
        TracePoint.SyscallHandle => ("pid", "handle", "object"),
        _ => ("pid", null, "call"),
    };
}
