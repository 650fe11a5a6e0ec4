namespace Photon.Net.Tcp;

/// <summary>
/// A TCP sequence number (RFC 9293 §3.4): arithmetic is modulo 2^32 and comparisons go by the signed distance between
/// two numbers, so they stay right across wraparound as long as the numbers are less than 2^31 apart (windows are at
/// most 2^30). Subtracting two sequence numbers gives that distance; adding a length gives a sequence number.
/// </summary>
public readonly record struct SeqNumber(uint Value)
{
    public static SeqNumber operator +(SeqNumber s, int n) => new(s.Value + (uint)n);
    public static SeqNumber operator +(SeqNumber s, uint n) => new(s.Value + n);
    public static SeqNumber operator -(SeqNumber s, int n) => new(s.Value - (uint)n);
    public static SeqNumber operator -(SeqNumber s, uint n) => new(s.Value - n);
    public static SeqNumber operator ++(SeqNumber s) => new(s.Value + 1);

    /// <summary>The signed distance from <paramref name="b"/> to <paramref name="a"/>.</summary>
    public static int operator -(SeqNumber a, SeqNumber b) => (int)(a.Value - b.Value);

    public static bool operator <(SeqNumber a, SeqNumber b) => (int)(a.Value - b.Value) < 0;
    public static bool operator <=(SeqNumber a, SeqNumber b) => (int)(a.Value - b.Value) <= 0;
    public static bool operator >(SeqNumber a, SeqNumber b) => (int)(a.Value - b.Value) > 0;
    public static bool operator >=(SeqNumber a, SeqNumber b) => (int)(a.Value - b.Value) >= 0;

    public static SeqNumber Max(SeqNumber a, SeqNumber b) => a >= b ? a : b;
    public static SeqNumber Min(SeqNumber a, SeqNumber b) => a <= b ? a : b;

    /// <summary>lo ≤ this &lt; hi.</summary>
    public bool InRange(SeqNumber lo, SeqNumber hi) => lo <= this && this < hi;

    public override string ToString() => Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
