using System.Runtime.InteropServices;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>
/// One trace event as it sits in a ring: fixed size (five words and two bytes), written by the thread that owns the
/// ring. The label is a reference to a string the kernel already holds (a task name, an object type), never one built
/// for the trace, so recording allocates nothing.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct TraceRecord(long Timestamp, long Duration, long A0, long A1, string? Label, TracePoint Point, TracePhase Phase);
