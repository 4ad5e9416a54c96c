using VmReplay.Engine.KvmBackend;
using VmReplay.Engine.Backend;
using VmReplay.Engine.Emulation;
using VmReplay.Engine.Kvm.Abi;
using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.Tests.Emulation;

public sealed class InstructionMemoryAccessesTests : IDisposable
{
    private const ulong Code = 0x10000;
    private readonly GuestMemory _m = GuestMemory.CreatePcLayout(16UL << 20);

    public void Dispose() => _m.Dispose();

    private VcpuState Flat32(params byte[] code)
    {
        var s = new VcpuState();
        var seg = new SegmentRegister { Selector = 0x10, Base = 0, Limit = 0xFFFF_FFFF, Type = 3, Present = 1, S = 1, Db = 1, G = 1 };
        s.Sregs.Cr0 = 0x11;
        s.Sregs.Cs = seg with { Selector = 0x08, Type = 0xB };
        s.Sregs.Ss = s.Sregs.Ds = s.Sregs.Es = s.Sregs.Fs = s.Sregs.Gs = seg;
        s.Regs.Rip = Code;
        s.Regs.Rsp = 0x8000;
        s.Regs.Rbx = 0x5000;
        s.Regs.Rsi = 0x6000;
        s.Regs.Rdi = 0x7000;
        _m.Write(Code, code);
        return s;
    }

    [Fact]
    public void AStoreWritesItsOperand() =>
        Assert.Equal([new MemoryAccess(0x5000, 4, Reads: false, Writes: true)],
            InstructionMemoryAccesses.Of(Flat32(0x89, 0x0B), _m)); // mov %ecx,(%ebx)

    [Fact]
    public void ALoadAndAReadModifyWrite()
    {
        Assert.Equal([new MemoryAccess(0x6000, 1, Reads: true, Writes: false)], InstructionMemoryAccesses.Of(Flat32(0x8A, 0x06), _m)); // mov (%esi),%al
        Assert.Equal([new MemoryAccess(0x5008, 4, Reads: true, Writes: true)], InstructionMemoryAccesses.Of(Flat32(0xFF, 0x43, 0x08), _m)); // incl 8(%ebx)
    }

    [Fact]
    public void ImplicitStackAndStringOperandsCount()
    {
        Assert.Contains(new MemoryAccess(0x7FFC, 4, Reads: false, Writes: true), InstructionMemoryAccesses.Of(Flat32(0x50), _m)); // push %eax
        var movs = InstructionMemoryAccesses.Of(Flat32(0xA4), _m); // movsb
        Assert.Contains(new MemoryAccess(0x6000, 1, Reads: true, Writes: false), movs);
        Assert.Contains(new MemoryAccess(0x7000, 1, Reads: false, Writes: true), movs);
    }

    [Fact]
    public void NoMemoryNoAccesses()
    {
        Assert.Empty(InstructionMemoryAccesses.Of(Flat32(0x8D, 0x43, 0x08), _m)); // lea 8(%ebx),%eax
        Assert.Empty(InstructionMemoryAccesses.Of(Flat32(0x01, 0xC8), _m)); // add %ecx,%eax
    }

    [Fact]
    public void OverlapIsByteExact()
    {
        var a = new MemoryAccess(0x5000, 4, true, false);
        Assert.True(a.Overlaps(0x5003, 1));
        Assert.True(a.Overlaps(0x4FFF, 2));
        Assert.False(a.Overlaps(0x5004, 4));
        Assert.False(a.Overlaps(0x4FFC, 4));
    }
}
