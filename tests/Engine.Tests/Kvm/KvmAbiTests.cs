using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmReplay.Engine.Kvm.Abi;

namespace VmReplay.Engine.Tests.Kvm;

public class KvmAbiTests
{
    [Theory]
    [InlineData("kvm_regs", typeof(KvmRegs))]
    [InlineData("kvm_sregs", typeof(KvmSregs))]
    [InlineData("kvm_segment", typeof(KvmSegment))]
    [InlineData("kvm_dtable", typeof(KvmDtable))]
    [InlineData("kvm_fpu", typeof(KvmFpu))]
    [InlineData("kvm_xsave", typeof(KvmXsave))]
    [InlineData("kvm_xcrs", typeof(KvmXcrs))]
    [InlineData("kvm_xcr", typeof(KvmXcr))]
    [InlineData("kvm_vcpu_events", typeof(KvmVcpuEvents))]
    [InlineData("kvm_debugregs", typeof(KvmDebugRegs))]
    [InlineData("kvm_guest_debug", typeof(KvmGuestDebug))]
    [InlineData("kvm_userspace_memory_region", typeof(KvmUserspaceMemoryRegion))]
    [InlineData("kvm_cpuid_entry2", typeof(KvmCpuidEntry2))]
    [InlineData("kvm_msr_entry", typeof(KvmMsrEntry))]
    [InlineData("kvm_enable_cap", typeof(KvmEnableCap))]
    [InlineData("kvm_msr_filter", typeof(KvmMsrFilter))]
    [InlineData("kvm_msr_filter_range", typeof(KvmMsrFilterRange))]
    [InlineData("kvm_dirty_log", typeof(KvmDirtyLog))]
    public void StructSizeMatchesKernelHeader(string cName, Type type) =>
        Assert.Equal(KernelHeaderProbe.Get(cName), (ulong)Marshal.SizeOf(type));

    [Theory]
    [InlineData("kvm_regs.rip", typeof(KvmRegs), nameof(KvmRegs.Rip))]
    [InlineData("kvm_regs.rflags", typeof(KvmRegs), nameof(KvmRegs.Rflags))]
    [InlineData("kvm_sregs.gdt", typeof(KvmSregs), nameof(KvmSregs.Gdt))]
    [InlineData("kvm_sregs.cr0", typeof(KvmSregs), nameof(KvmSregs.Cr0))]
    [InlineData("kvm_sregs.efer", typeof(KvmSregs), nameof(KvmSregs.Efer))]
    [InlineData("kvm_sregs.interrupt_bitmap", typeof(KvmSregs), nameof(KvmSregs.InterruptBitmap))]
    [InlineData("kvm_segment.selector", typeof(KvmSegment), nameof(KvmSegment.Selector))]
    [InlineData("kvm_segment.type", typeof(KvmSegment), nameof(KvmSegment.Type))]
    [InlineData("kvm_segment.unusable", typeof(KvmSegment), nameof(KvmSegment.Unusable))]
    [InlineData("kvm_fpu.xmm", typeof(KvmFpu), nameof(KvmFpu.Xmm))]
    [InlineData("kvm_fpu.mxcsr", typeof(KvmFpu), nameof(KvmFpu.Mxcsr))]
    [InlineData("kvm_vcpu_events.sipi_vector", typeof(KvmVcpuEvents), nameof(KvmVcpuEvents.SipiVector))]
    [InlineData("kvm_vcpu_events.flags", typeof(KvmVcpuEvents), nameof(KvmVcpuEvents.Flags))]
    [InlineData("kvm_vcpu_events.triple_fault", typeof(KvmVcpuEvents), nameof(KvmVcpuEvents.TripleFaultPending))]
    [InlineData("kvm_vcpu_events.exception_payload", typeof(KvmVcpuEvents), nameof(KvmVcpuEvents.ExceptionPayload))]
    [InlineData("kvm_msr_filter.ranges", typeof(KvmMsrFilter), nameof(KvmMsrFilter.Ranges))]
    [InlineData("kvm_msr_filter_range.bitmap", typeof(KvmMsrFilterRange), nameof(KvmMsrFilterRange.Bitmap))]
    public void FieldOffsetMatchesKernelHeader(string cName, Type type, string field) =>
        Assert.Equal(KernelHeaderProbe.Get(cName), (ulong)Marshal.OffsetOf(type, field));

    public static TheoryData<string, int> RunPageOffsets()
    {
        var data = new TheoryData<string, int>();
        foreach (var (name, value) in KvmRunLayout.All()) data.Add(name, value);
        return data;
    }

    [Theory]
    [MemberData(nameof(RunPageOffsets))]
    public void RunPageOffsetMatchesKernelHeader(string field, int offset) =>
        Assert.Equal(KernelHeaderProbe.Get("kvm_run." + field), (ulong)offset);

    public static TheoryData<string, ulong> IoctlNumbers()
    {
        var data = new TheoryData<string, ulong>();
        foreach (var (name, value) in KvmIoctl.All()) data.Add(name, value);
        return data;
    }

    [Theory]
    [MemberData(nameof(IoctlNumbers))]
    public void IoctlNumberMatchesKernelHeader(string name, ulong value) =>
        Assert.Equal(KernelHeaderProbe.Get(name), value);

    [Fact]
    public void CpuidEntryIsBlittable() => Assert.Equal(40, Unsafe.SizeOf<KvmCpuidEntry2>());
}
