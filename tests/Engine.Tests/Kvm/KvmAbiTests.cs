using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Kvm;

public class KvmAbiTests
{
    [Theory]
    [InlineData("kvm_regs", typeof(GeneralRegisters))]
    [InlineData("kvm_sregs", typeof(SystemRegisters))]
    [InlineData("kvm_segment", typeof(SegmentRegister))]
    [InlineData("kvm_dtable", typeof(DescriptorTableRegister))]
    [InlineData("kvm_fpu", typeof(FpuRegisters))]
    [InlineData("kvm_xsave", typeof(XsaveState))]
    [InlineData("kvm_xcrs", typeof(ExtendedControlRegisters))]
    [InlineData("kvm_xcr", typeof(ExtendedControlRegister))]
    [InlineData("kvm_vcpu_events", typeof(VcpuEventState))]
    [InlineData("kvm_debugregs", typeof(DebugRegisters))]
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
    [InlineData("kvm_regs.rip", typeof(GeneralRegisters), nameof(GeneralRegisters.Rip))]
    [InlineData("kvm_regs.rflags", typeof(GeneralRegisters), nameof(GeneralRegisters.Rflags))]
    [InlineData("kvm_sregs.gdt", typeof(SystemRegisters), nameof(SystemRegisters.Gdt))]
    [InlineData("kvm_sregs.cr0", typeof(SystemRegisters), nameof(SystemRegisters.Cr0))]
    [InlineData("kvm_sregs.efer", typeof(SystemRegisters), nameof(SystemRegisters.Efer))]
    [InlineData("kvm_sregs.interrupt_bitmap", typeof(SystemRegisters), nameof(SystemRegisters.InterruptBitmap))]
    [InlineData("kvm_segment.selector", typeof(SegmentRegister), nameof(SegmentRegister.Selector))]
    [InlineData("kvm_segment.type", typeof(SegmentRegister), nameof(SegmentRegister.Type))]
    [InlineData("kvm_segment.unusable", typeof(SegmentRegister), nameof(SegmentRegister.Unusable))]
    [InlineData("kvm_fpu.xmm", typeof(FpuRegisters), nameof(FpuRegisters.Xmm))]
    [InlineData("kvm_fpu.mxcsr", typeof(FpuRegisters), nameof(FpuRegisters.Mxcsr))]
    [InlineData("kvm_vcpu_events.sipi_vector", typeof(VcpuEventState), nameof(VcpuEventState.SipiVector))]
    [InlineData("kvm_vcpu_events.flags", typeof(VcpuEventState), nameof(VcpuEventState.Flags))]
    [InlineData("kvm_vcpu_events.triple_fault", typeof(VcpuEventState), nameof(VcpuEventState.TripleFaultPending))]
    [InlineData("kvm_vcpu_events.exception_payload", typeof(VcpuEventState), nameof(VcpuEventState.ExceptionPayload))]
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
