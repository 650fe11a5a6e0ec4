using System.Runtime.InteropServices;
using Photon.Kernel.Hal.Host.Uio;
using Photon.Kernel.Hal.Pci;

namespace Photon.Kernel.Tests.Vm;

/// <summary>Issue #17's fallback without an IOMMU: the <c>/proc/self/pagemap</c> translation (DPDK's method) and the
/// choice between VFIO and <c>uio_pci_generic</c>, on the host.</summary>
public sealed class UioFallbackTests : IDisposable
{
    private const ulong Present = 1UL << 63, Swapped = 1UL << 62, SoftDirty = 1UL << 55, Exclusive = 1UL << 56;
    private readonly string _dir = Directory.CreateTempSubdirectory("photon-uio-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void A_pagemap_entry_gives_the_frame_number_plus_the_offset_and_refuses_absent_swapped_or_hidden_pages()
    {
        Assert.Equal(0x12345UL * 4096 + 0x123, Pagemap.PhysicalAddress(Present | 0x12345, 0x7f00_0000_0123).Value);
        // Flag bits above the 55-bit PFN (soft-dirty, exclusive) are not part of the address.
        Assert.Equal(0x1UL * 4096, Pagemap.PhysicalAddress(Present | SoftDirty | Exclusive | 0x1, 0x5000).Value);
        Assert.Equal((1UL << 40) * 4096, Pagemap.PhysicalAddress(Present | (1UL << 40), 0).Value); // a frame above 4 GiB
        Assert.Equal(ErrorCode.InvalidArgument, Pagemap.PhysicalAddress(0x12345, 0).Code);          // not present
        Assert.Equal(ErrorCode.InvalidArgument, Pagemap.PhysicalAddress(Swapped | 0x12345, 0).Code); // swapped out
        Assert.Equal(ErrorCode.AccessDenied, Pagemap.PhysicalAddress(Present, 0).Code);              // PFN hidden (no CAP_SYS_ADMIN)
    }

    private string FakePagemap(params ulong[] entries)
    {
        var path = Path.Combine(_dir, "pagemap");
        File.WriteAllBytes(path, entries.SelectMany(BitConverter.GetBytes).ToArray());
        return path;
    }

    [Fact]
    public void A_range_is_translated_only_when_every_page_follows_the_previous_one_physically()
    {
        var contiguous = FakePagemap(Present | 100, Present | 101, Present | 102, Present | 103);
        Assert.Equal(100UL * 4096, Pagemap.TranslateContiguous(0, 4 * 4096, contiguous).Value);
        Assert.Equal(101UL * 4096, Pagemap.TranslateContiguous(4096, 3 * 4096, contiguous).Value);
        var scattered = FakePagemap(Present | 100, Present | 101, Present | 500, Present | 103);
        Assert.Equal(ErrorCode.NotSupported, Pagemap.TranslateContiguous(0, 4 * 4096, scattered).Code);
        Assert.Equal(100UL * 4096, Pagemap.TranslateContiguous(0, 2 * 4096, scattered).Value);
        var hole = FakePagemap(Present | 100, 0);
        Assert.Equal(ErrorCode.InvalidArgument, Pagemap.TranslateContiguous(0, 2 * 4096, hole).Code);
        Assert.Equal(ErrorCode.InvalidArgument, Pagemap.TranslateContiguous(100, 4096, contiguous).Code); // unaligned
        Assert.Equal(ErrorCode.InvalidArgument, Pagemap.TranslateContiguous(0, 0, contiguous).Code);
        Assert.Equal(ErrorCode.IoError, Pagemap.Translate(64 * 4096, contiguous).Code); // past the end: short read
        Assert.Equal(ErrorCode.IoError, Pagemap.Translate(0, Path.Combine(_dir, "missing")).Code);
    }

    [Fact]
    public void Real_pagemap_translates_a_pinned_buffer_of_this_process_as_root_and_hides_frames_otherwise()
    {
        var buffer = GC.AllocateArray<byte>(3 * 4096, pinned: true);
        Array.Fill(buffer, (byte)1); // populate the pages
        ulong va = (ulong)Marshal.UnsafeAddrOfPinnedArrayElement(buffer, 0);
        ulong a = va + (4096 - va % 4096) + 10; // byte 10 of the first whole page inside the buffer
        var first = Pagemap.Translate(a);
        if (Environment.UserName != "root" && !first.IsOk)
        {
            Assert.Equal(ErrorCode.AccessDenied, first.Code); // frame numbers hidden without CAP_SYS_ADMIN
            return;
        }
        Assert.True(first.IsOk, first.ToString());
        Assert.Equal(10UL, first.Value % 4096);           // the offset inside the page survives
        Assert.NotEqual(0UL, first.Value / 4096);
        Assert.Equal(first.Value + 90, Pagemap.Translate(a + 90).Value); // same page, same frame
    }

    [Fact]
    public void The_backend_is_vfio_with_an_iommu_and_uio_pci_generic_without_one_only_when_allowed_and_says_so()
    {
        var vfio = PciBackend.Choose(iommuGroups: 12, vfioDevice: true, uioDriver: true, allowNoIommu: true);
        Assert.Equal(PciBackendKind.Vfio, vfio.Kind);
        Assert.False(vfio.Refused);
        var uio = PciBackend.Choose(iommuGroups: 0, vfioDevice: true, uioDriver: true, allowNoIommu: true);
        Assert.Equal(PciBackendKind.Uio, uio.Kind);
        Assert.False(uio.Refused);
        Assert.Contains("no IOMMU", uio.Reason);
        Assert.Contains("uio_pci_generic", uio.Reason);
        Assert.Contains("/proc/self/pagemap", uio.Reason);
        Assert.Contains("DMA anywhere", uio.Reason);
        Assert.Equal(PciBackendKind.Uio, PciBackend.Choose(iommuGroups: 3, vfioDevice: false, uioDriver: true, allowNoIommu: true).Kind);
        // Not asked for: the fallback is refused (a device could DMA anywhere), the reason names the flag, and no bus
        // is handed out for it.
        var refused = PciBackend.Choose(iommuGroups: 0, vfioDevice: true, uioDriver: true, allowNoIommu: false);
        Assert.True(refused.Refused);
        Assert.Contains(PciBackend.AllowNoIommuFlag, refused.Reason);
        Assert.Throws<InvalidOperationException>(() => refused.CreateBus(Path.Combine(_dir, "none")));
        // Neither: VFIO, whose open errors then explain; the reason says there is no fallback.
        var none = PciBackend.Choose(iommuGroups: 0, vfioDevice: false, uioDriver: false, allowNoIommu: true);
        Assert.Equal(PciBackendKind.Vfio, none.Kind);
        Assert.Contains("no uio_pci_generic", none.Reason);
    }

    [Fact]
    public void Detection_reads_the_machine_and_the_uio_bus_refuses_functions_it_cannot_take()
    {
        var sys = Path.Combine(_dir, "sys");
        var dev = Path.Combine(_dir, "dev");
        Directory.CreateDirectory(Path.Combine(sys, "kernel", "iommu_groups"));
        Directory.CreateDirectory(Path.Combine(sys, "bus", "pci", "drivers", "uio_pci_generic"));
        Directory.CreateDirectory(Path.Combine(sys, "bus", "pci", "devices"));
        Assert.Equal(PciBackendKind.Uio, PciBackend.Detect(allowNoIommu: true, sys, dev).Kind); // no groups: the fallback
        Assert.True(PciBackend.Detect(allowNoIommu: false, sys, dev).Refused); // not asked for: refused
        Directory.CreateDirectory(Path.Combine(sys, "kernel", "iommu_groups", "0"));
        Directory.CreateDirectory(Path.Combine(dev, "vfio"));
        File.WriteAllText(Path.Combine(dev, "vfio", "vfio"), "");
        Assert.Equal(PciBackendKind.Vfio, PciBackend.Detect(allowNoIommu: true, sys, dev).Kind);

        // A function in the fake sysfs, and a uio bus over it.
        var pci = Path.Combine(sys, "bus", "pci");
        var fn = Path.Combine(pci, "devices", "0000:00:04.0");
        Directory.CreateDirectory(fn);
        File.WriteAllText(Path.Combine(fn, "vendor"), "0x1af4\n");
        File.WriteAllText(Path.Combine(fn, "device"), "0x1041\n");
        File.WriteAllText(Path.Combine(fn, "class"), "0x020000\n");
        var bus = new UioPciBus(pci);
        Assert.Equal([(ushort)0x1041], bus.Enumerate().Select(f => f.DeviceId));
        Assert.Equal(ErrorCode.NotFound, bus.Open(PciAddress.Parse("0000:00:05.0").Value).Code);
        // The driver is "loaded" but binding cannot happen in a fake tree: a typed error, and the function is free again.
        var open = bus.Open(PciAddress.Parse("0000:00:04.0").Value);
        Assert.False(open.IsOk);
        Directory.Delete(Path.Combine(pci, "drivers", "uio_pci_generic"));
        Assert.Equal(ErrorCode.NotSupported, bus.Open(PciAddress.Parse("0000:00:04.0").Value).Code);
    }
}
