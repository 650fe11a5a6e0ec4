
namespace Photon.Kernel.Capabilities;

/// <summary>
/// An unforgeable reference to a capability. 128 bits: 32 bits of slot index (so lookup is one array access) and 96
/// bits drawn from the OS CSPRNG when the slot was issued (so a token cannot be guessed), plus the slot's generation
/// (so a token to a recycled slot is detected as stale). Never a pointer; meaningless outside this kernel instance.
/// </summary>
public readonly record struct CapabilityToken(UInt128 Id, uint Generation)
{
    public static readonly CapabilityToken None = default;

    public bool IsNone => Id == UInt128.Zero;

    internal int SlotIndex => (int)(uint)(Id & uint.MaxValue);
    internal UInt128 Secret => Id >> 32;

    internal static CapabilityToken Make(int slot, UInt128 secret, uint generation) =>
        new((secret << 32) | (uint)slot, generation);

    /// <summary>96 bits from the OS CSPRNG, never zero (so Id is never zero for a live token).</summary>
    internal static UInt128 NewSecret(ReadOnlySpan<byte> random12)
    {
        // The 12 bytes read big-endian, as one 32-bit and one 64-bit load.
        UInt128 s = ((UInt128)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(random12) << 64)
            | System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(random12[4..12]);
        return s == 0 ? 1 : s;
    }

    public override string ToString() => IsNone ? "cap:none" : $"cap:{(ulong)(Id >> 64):x16}{(ulong)Id:x16}/g{Generation}";
}
