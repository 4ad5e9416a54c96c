using System.Runtime.InteropServices;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Native;

namespace VmReplay.Engine.Kvm;

/// <summary>A KVM virtual machine file descriptor: memory slots, vCPU creation, VM-wide capabilities.</summary>
public sealed unsafe class KvmVm : IDisposable
{
    private int _fd;

    internal KvmVm(KvmSystem system, int fd)
    {
        System = system;
        _fd = fd;
    }

    public KvmSystem System { get; }

    internal int Fd => _fd;

    /// <summary>KVM_CHECK_EXTENSION on the VM (some capabilities are per VM).</summary>
    public int CheckExtension(KvmCap cap)
    {
        int r = Libc.Ioctl(_fd, KvmIoctl.CheckExtension, (nuint)cap);
        return r < 0 ? 0 : r;
    }

    /// <summary>KVM_SET_USER_MEMORY_REGION: maps host memory at <paramref name="hostAddress"/> into the guest.</summary>
    public void SetUserMemoryRegion(uint slot, ulong guestPhysAddr, ulong size, nint hostAddress, uint flags)
    {
        var region = new KvmUserspaceMemoryRegion
        {
            Slot = slot, Flags = flags, GuestPhysAddr = guestPhysAddr, MemorySize = size, UserspaceAddr = (ulong)hostAddress,
        };
        if (Libc.Ioctl(_fd, KvmIoctl.SetUserMemoryRegion, &region) < 0)
            throw KvmException.FromErrno($"KVM_SET_USER_MEMORY_REGION slot {slot} at {guestPhysAddr:x}+{size:x}");
    }

    /// <summary>KVM_SET_TSS_ADDR: three pages KVM needs for real-mode emulation on Intel; must not overlap RAM.</summary>
    public void SetTssAddress(uint address)
    {
        if (Libc.Ioctl(_fd, KvmIoctl.SetTssAddr, address) < 0) throw KvmException.FromErrno("KVM_SET_TSS_ADDR");
    }

    /// <summary>KVM_SET_IDENTITY_MAP_ADDR: one page for the EPT identity map used for real mode on Intel.</summary>
    public void SetIdentityMapAddress(ulong address)
    {
        if (Libc.Ioctl(_fd, KvmIoctl.SetIdentityMapAddr, &address) < 0) throw KvmException.FromErrno("KVM_SET_IDENTITY_MAP_ADDR");
    }

    /// <summary>KVM_ENABLE_CAP on the VM.</summary>
    public void EnableCap(KvmCap cap, ulong arg0 = 0)
    {
        var ec = new KvmEnableCap { Cap = (uint)cap };
        ec.Args[0] = arg0;
        if (Libc.Ioctl(_fd, KvmIoctl.EnableCap, &ec) < 0) throw KvmException.FromErrno($"KVM_ENABLE_CAP {cap}");
    }

    /// <summary>
    /// KVM_X86_SET_MSR_FILTER: by default KVM answers MSR reads and writes itself
    /// (<paramref name="defaultAllow"/>) or is denied them, and the MSRs in
    /// <paramref name="exceptions"/> ((first index, count) ranges, at most 16, 64 MSRs each) get
    /// the other. With KVM_MSR_EXIT_REASON_FILTER enabled, a denied access exits to userspace.
    /// </summary>
    public void SetMsrFilter(bool defaultAllow, ReadOnlySpan<(uint First, uint Count)> exceptions)
    {
        if (exceptions.Length > KvmMsrFilter.MaxRanges) throw new ArgumentException($"at most {KvmMsrFilter.MaxRanges} MSR ranges");
        var filter = new KvmMsrFilter { Flags = defaultAllow ? KvmMsrFilter.DefaultAllow : KvmMsrFilter.DefaultDeny };
        // A set bitmap bit allows the MSR; one 64-bit bitmap per range.
        ulong* bitmaps = stackalloc ulong[KvmMsrFilter.MaxRanges];
        for (int i = 0; i < exceptions.Length; i++)
        {
            var (first, count) = exceptions[i];
            if (count is 0 or > 64) throw new ArgumentException($"MSR range at {first:x} must hold 1 to 64 MSRs");
            bitmaps[i] = defaultAllow ? 0 : count == 64 ? ulong.MaxValue : (1UL << (int)count) - 1;
            filter.SetRange(i, new KvmMsrFilterRange
            {
                Flags = KvmMsrFilterRange.FlagRead | KvmMsrFilterRange.FlagWrite, NMsrs = count, Base = first, Bitmap = (ulong)(bitmaps + i),
            });
        }
        if (Libc.Ioctl(_fd, KvmIoctl.X86SetMsrFilter, &filter) < 0) throw KvmException.FromErrno("KVM_X86_SET_MSR_FILTER");
    }

    /// <summary>KVM_GET_DIRTY_LOG: fills (and clears in KVM) the dirty bitmap of <paramref name="slot"/>, one bit per 4 KiB page.</summary>
    public void GetDirtyLog(uint slot, Span<ulong> bitmap)
    {
        fixed (ulong* p = bitmap)
        {
            var log = new KvmDirtyLog { Slot = slot, DirtyBitmap = (ulong)p };
            if (Libc.Ioctl(_fd, KvmIoctl.GetDirtyLog, &log) < 0) throw KvmException.FromErrno($"KVM_GET_DIRTY_LOG slot {slot}");
        }
    }

    /// <summary>KVM_CREATE_VCPU with id <paramref name="id"/>; maps its kvm_run page.</summary>
    public KvmVcpu CreateVcpu(int id)
    {
        int fd = Libc.Ioctl(_fd, KvmIoctl.CreateVcpu, (nuint)id);
        if (fd < 0) throw KvmException.FromErrno($"KVM_CREATE_VCPU {id}");
        void* run = Libc.Mmap(null, (nuint)System.VcpuMmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, fd, 0);
        if (run == (void*)-1)
        {
            var ex = KvmException.FromErrno($"mmap of kvm_run for vCPU {id}");
            Libc.Close(fd);
            throw ex;
        }
        return new KvmVcpu(id, fd, (byte*)run, System.VcpuMmapSize);
    }

    public void Dispose()
    {
        if (_fd >= 0) Libc.Close(_fd);
        _fd = -1;
    }
}
