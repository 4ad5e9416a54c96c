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
    public void APageWatchedForWritesOnlyIsReadAtFullSpeedAndItsWritesAreStillCaught()
    {
        // Reads of a write-watched page keep the read TLB's fast path: the loop's reads of the
        // watched value itself are no hits, and the write after them still is, as are writes and
        // reads of a page that also holds a read watch.
        using var m = new SoftCpuMachine(64, a =>
        {
            var loop = a.CreateLabel();
            a.mov(rbx, Data);
            a.mov(ecx, 100);
            a.Label(ref loop);
            a.mov(eax, __dword_ptr[rbx]);        // a read of the write-watched value
            a.add(edx, __dword_ptr[rbx + 0x1000]); // a read of the other page, outside its read watch
            a.dec(ecx);
            a.jnz(loop);
            a.mov(__dword_ptr[rbx], 3);          // hit: the write watch
            a.mov(eax, __dword_ptr[rbx + 0x1008]); // hit: the read watch on the other page
            a.hlt();
        });
        m.Cpu.SetWatches([new DataWatch(Data, 4, WatchAccess.Write), new DataWatch(Data + 0x1008, 4, WatchAccess.Read)]);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal((0, Data, true, 3UL), (m.Cpu.LastWatchHit.Watch, m.Cpu.LastWatchHit.Linear, m.Cpu.LastWatchHit.IsWrite, m.Cpu.LastWatchHit.NewValue));
        Assert.Equal(2 + 4 * 100 + 1, m.Cpu.InstructionCount);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal((1, Data + 0x1008, false), (m.Cpu.LastWatchHit.Watch, m.Cpu.LastWatchHit.Linear, m.Cpu.LastWatchHit.IsWrite));
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
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

    // Linear 2 MiB (the second 2 MiB page-directory entry of SoftCpuMachine's 64-bit tables) is
    // mapped in 4 KiB pages by a table at PageTable; its first page maps FirstFrame.
    private const ulong Remapped = 0x20_0000, PageTable = 0x5000, FirstFrame = 0x50000, SecondFrame = 0x60000;

    private static SoftCpuMachine RemappingMachine(Action<Assembler> program)
    {
        var m = new SoftCpuMachine(64, program);
        m.Memory.WriteUInt64(SoftCpuMachine.PageTables + 0x2000 + 8, PageTable | 3);
        m.Memory.WriteUInt64(PageTable, FirstFrame | 3);
        m.Memory.WriteUInt32(FirstFrame, 0x1111);
        m.Memory.WriteUInt32(SecondFrame, 0x2222);
        return m;
    }

    [Fact]
    public void AWatchedPageMappedElsewhereIsAccessedThroughItsNewMappingAfterInvlpg()
    {
        // Accesses to a watched page keep translations of their own (the TLB holds none of a
        // watched page): INVLPG drops them as it drops the TLB's.
        using var m = RemappingMachine(a =>
        {
            a.mov(rbx, Remapped);
            a.mov(eax, __dword_ptr[rbx]);                       // hit: 0x1111, through FirstFrame
            a.mov(rdx, PageTable);
            a.mov(rcx, SecondFrame | 3);
            a.mov(__qword_ptr[rdx], rcx);                       // the page now maps SecondFrame
            a.invlpg(__byte_ptr[rbx]);
            a.mov(esi, __dword_ptr[rbx]);                       // hit: 0x2222
            a.mov(__dword_ptr[rbx + 4], 0x3333);                // write hit, into SecondFrame
            a.hlt();
        });
        m.Cpu.SetWatches([new DataWatch(Remapped, 8, WatchAccess.Any)]);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(0x1111UL, m.State().Regs.Rax);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(0x2222UL, m.State().Regs.Rsi);
        Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
        Assert.Equal(new WatchHit(0, Remapped + 4, 4, true, 0, 0x3333), m.Cpu.LastWatchHit);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
        Assert.Equal(0x3333u, m.Memory.ReadUInt32(SecondFrame + 4));
        Assert.Equal(0u, m.Memory.ReadUInt32(FirstFrame + 4));
    }

    [Fact]
    public void EveryAccessToAWatchedPageIsComparedAndItsWritesAreLoggedAfterEachDirtyLogTaken()
    {
        // A loop over a watched page: the accesses after the first go through the watched page's
        // own translation, each still compared with the watch, and a write after the dirty log
        // was taken marks the page again, as a write through the TLB does.
        using var m = RemappingMachine(a =>
        {
            a.mov(rbx, Remapped);
            a.mov(ecx, 3);
            var loop = a.CreateLabel();
            a.Label(ref loop);
            a.mov(edx, __dword_ptr[rbx + 16]);                  // not watched: same page, no hit
            a.mov(__dword_ptr[rbx], ecx);                       // hit: a plain store, no probe before it
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.Cpu.SetWatches([new DataWatch(Remapped, 4, WatchAccess.Write)]);
        Span<ulong> dirty = stackalloc ulong[(int)(m.Memory.Regions[0].Size / 0x1000 / 64) + 1];
        for (uint value = 3; value >= 1; value--)
        {
            dirty.Clear();
            m.Cpu.TakeDirtyPages(0, dirty);
            Assert.Equal(ProcessorExitKind.Watchpoint, m.Cpu.Run());
            Assert.Equal((Remapped, true, (ulong)value), (m.Cpu.LastWatchHit.Linear, m.Cpu.LastWatchHit.IsWrite, m.Cpu.LastWatchHit.NewValue));
            dirty.Clear();
            m.Cpu.TakeDirtyPages(0, dirty);
            Assert.True((dirty[(int)(FirstFrame >> 12) / 64] & (1UL << (int)((FirstFrame >> 12) % 64))) != 0, $"the watched page is dirty after the write of {value}");
        }
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
        Assert.Equal(1u, m.Memory.ReadUInt32(FirstFrame));
    }
}
