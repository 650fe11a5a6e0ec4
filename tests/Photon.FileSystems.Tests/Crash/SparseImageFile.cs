using Microsoft.Win32.SafeHandles;

namespace Photon.FileSystems.Tests.Crash;

/// <summary>
/// Writes a disk image as a sparse file: zero pages are left as holes. Crash images are mostly zeros (empty inode
/// tables, free blocks, an unused journal), and thousands are handed to e2fsck and fsck.vfat, so copying only the
/// written pages is most of what makes that cheap. Reading a hole gives zeros, so the tools see the same image.
/// </summary>
public static class SparseImageFile
{
    private const int Page = 4096;

    public static void Write(string path, byte[] image)
    {
        using SafeFileHandle file = File.OpenHandle(path, FileMode.Create, FileAccess.Write);
        RandomAccess.SetLength(file, image.Length);
        int offset = 0;
        while (offset < image.Length)
        {
            // Skip a run of zero pages, then write the run of pages that are not all zero after it.
            while (offset < image.Length && IsZero(image, offset)) offset += Page;
            int end = offset;
            while (end < image.Length && !IsZero(image, end)) end += Page;
            if (end > offset) RandomAccess.Write(file, image.AsSpan(offset, Math.Min(end, image.Length) - offset), offset);
            offset = end;
        }
    }

    private static bool IsZero(byte[] image, int offset) =>
        !image.AsSpan(offset, Math.Min(Page, image.Length - offset)).ContainsAnyExcept((byte)0);
}
