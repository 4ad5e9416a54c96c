using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>The processor's own data watchpoints: every access to a watched range stops the run after its instruction.</summary>
public class WatchpointTests
{
    private const ulong Data = 0x40000;

    [Fact]
    public void AWriteStopsAfterItsInstructionWithTheOldAndNewValue()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(rbx, Data);
            a.mov(__dword_ptr[rbx + 8], 1);     // next to the watch: no hit
            a.mov(__dword_ptr[rbx], 7);         // hit
            a.mov(eax, __dword_ptr[rbx]);       // a read: not watched for
            a.mov(__dword_ptr[rbx], 7);         // the same value again: still a hit
            a.hlt();
        });
        m.Memory.WriteUInt32(Data, 5);
        m.Cpu.SetWatches([new DataWatch(Data, 4, WatchAccess.Write)]);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(new WatchHit(0, Data, 4, true, 5, 7), m.Cpu.LastWatchHit);
        Assert.Equal(3, m.Cpu.InstructionCount);
        Assert.Equal(7u, m.Memory.ReadUInt32(Data));
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(new WatchHit(0, Data, 4, true, 7, 7), m.Cpu.LastWatchHit);
        Assert.Equal(5, m.Cpu.InstructionCount);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
    }

    [Fact]
    public void AValueChangedAndChangedBackWithinOneRunIsTwoHits()
    {
        // No exit between the two stores: a debugger comparing values at stops would see no
        // change at all. The processor reports both, each with what it replaced.
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(rbx, Data);
            a.mov(__dword_ptr[rbx], 9);
            a.add(ecx, 1);
            a.mov(__dword_ptr[rbx], 5);
            a.hlt();
        });
        m.Memory.WriteUInt32(Data, 5);
        m.Cpu.SetWatches([new DataWatch(Data, 4, WatchAccess.Write)]);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(new WatchHit(0, Data, 4, true, 5, 9), m.Cpu.LastWatchHit);
        Assert.Equal(2, m.Cpu.InstructionCount);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(new WatchHit(0, Data, 4, true, 9, 5), m.Cpu.LastWatchHit);
        Assert.Equal(4, m.Cpu.InstructionCount);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
        Assert.Equal(5u, m.Memory.ReadUInt32(Data));
    }

    [Fact]
    public void ReadAndAccessWatchesSeeReadsOfAnyPartOfTheRange()
    {
        using var m = new SoftCpuMachine(32, a =>
        {
            a.mov(ebx, (uint)Data);
            a.mov(al, __byte_ptr[ebx + 3]);     // the last byte of the range
            a.add(__dword_ptr[ebx], 1);         // a read-modify-write: read and write
            a.hlt();
        });
        m.Cpu.SetWatches([new DataWatch(Data, 4, WatchAccess.Read)]);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal((Data + 3, 1, false), (m.Cpu.LastWatchHit.Linear, m.Cpu.LastWatchHit.Size, m.Cpu.LastWatchHit.IsWrite));
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.False(m.Cpu.LastWatchHit.IsWrite);
        Assert.Equal(3, m.Cpu.InstructionCount);
        Assert.Equal(1u, m.Memory.ReadUInt32(Data)); // the instruction completed
        m.Cpu.SetWatches([]);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
    }

    [Fact]
    public void ARepStoreStopsAtTheIterationThatReachesTheRange()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(rdi, Data);
            a.mov(ecx, 64);
            a.mov(al, 0xAB);
            a.rep.stosb();
            a.hlt();
        });
        m.Cpu.SetWatches([new DataWatch(Data + 40, 2, WatchAccess.Write)]);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(Data + 40, m.Cpu.LastWatchHit.Linear);
        // Three movs, then iterations 0..40 retired: the one that wrote byte 40 is the last.
        Assert.Equal(3 + 41, m.Cpu.InstructionCount);
        var s = m.State();
        Assert.Equal(64UL - 41, s.Regs.Rcx);
        Assert.Equal(Data + 41, s.Regs.Rdi);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(Data + 41, m.Cpu.LastWatchHit.Linear);
        m.Cpu.SetWatches([]);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
        Assert.Equal(3 + 64 + 1, m.Cpu.InstructionCount);
    }
}
