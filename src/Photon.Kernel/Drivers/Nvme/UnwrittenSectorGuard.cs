using System.Buffers.Binary;

namespace Photon.Kernel.Drivers.Nvme;

/// <summary>
/// A read never hands back a slot buffer's previous bytes (perhaps another tenant's) for a sector the device did not
/// write — without clearing the whole range on the submit path (nvme18's 4 KiB clear per read cost QD32 polled ~20%
/// under TCG). Before submission the first 8 bytes of every 512-byte sector of the read's range get the queue's secret
/// canary; after the completion, a sector that still starts with it was not written and is zeroed, so such a read
/// returns zeros there exactly as if the range had been cleared first.
/// <para>Why this is enough: everything in a slot buffer is readable by the device at any time (the buffer is mapped
/// to it), so a hostile device learns nothing from stale bytes; the case to cover is a device whose DMA did not land —
/// QEMU completes with status 0 when the IOMMU blocked it — and a blocked DMA is lost whole pages at a time, never a
/// sector's first 8 bytes alone. Sectors are 512 bytes (the smallest LBA size), so a read of any LBA size is covered.
/// The canary is random per queue; the device can read it like the rest of the buffer, but it never reaches a caller
/// (a sector still holding it is zeroed), and real data equal to it (2^-64 per sector) reads back as zeros.</para>
/// </summary>
internal static class UnwrittenSectorGuard
{
    public const int Sector = 512;

    /// <summary>Writes the canary at the start of every sector of <paramref name="range"/> (a sector tail shorter than
    /// the canary is cleared instead).</summary>
    public static void Mark(Span<byte> range, ulong canary)
    {
        for (int at = 0; at < range.Length; at += Sector)
        {
            var sector = range[at..Math.Min(range.Length, at + Sector)];
            if (sector.Length < sizeof(ulong)) sector.Clear();
            else BinaryPrimitives.WriteUInt64LittleEndian(sector, canary);
        }
    }

    /// <summary>Zeroes every sector of <paramref name="range"/> that still starts with the canary (the device did not
    /// write it) and returns how many there were.</summary>
    public static int Scrub(Span<byte> range, ulong canary)
    {
        int unwritten = 0;
        for (int at = 0; at + sizeof(ulong) <= range.Length; at += Sector)
        {
            if (BinaryPrimitives.ReadUInt64LittleEndian(range[at..]) != canary) continue;
            range[at..Math.Min(range.Length, at + Sector)].Clear();
            unwritten++;
        }
        return unwritten;
    }
}
