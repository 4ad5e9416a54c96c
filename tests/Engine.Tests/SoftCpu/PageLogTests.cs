using Iced.Intel;
using VmReplay.Engine.Backend;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Tests.SoftCpu.SystemBehaviour;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// The processor's log of the linear pages it writes and executes from (<see cref="IPageLog"/>): a
/// debugger passes over a stretch of a replay whose log holds no watched page and no
/// breakpoint's page, so the log must hold every page a watch would have seen written, and every
/// page an instruction began on, in that stretch.
/// </summary>
public class PageLogTests
{
    private const ulong Data = 0x40000;

    [Fact]
    public void ACollectionHoldsThePagesTheWriteTlbStillServesThoughItsWritesTakeNoSlowPath()
    {
        using var m = new SoftCpuMachine(64, a =>
        {
            a.mov(rbx, Data);
            a.mov(__dword_ptr[rbx], 1);          // a miss: the page enters the write TLB
            a.mov(__dword_ptr[rbx + 4], 2);      // after the Take below: a hit
            a.mov(__dword_ptr[rbx + 0x1000], 3); // another page, a miss
            a.hlt();
        });
        IPageLog log = m.Cpu;
        Assert.Empty(log.Take().Written);
        log.Enabled = true;
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Cpu.Run(2));
        Assert.Equal([Data], log.Take().Written);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
        Assert.Equal([Data, Data + 0x1000], log.Peek().Written);
        Assert.Equal([Data, Data + 0x1000], log.Take().Written);
        log.Enabled = false;
        Assert.Empty(log.Take().Written);
    }

    [Fact]
    public void ACollectionHoldsThePagesInstructionsBeganOnEvenWhenTheirBlocksRanBefore()
    {
        // A loop on one page calls a routine on the next; the loop's blocks were decoded and ran
        // before the Take, and run on after it from the block cache and its chaining: they
        // note their page again in the new collection.
        const ulong routine = SoftCpuMachine.CodeBase + 0x1000;
        using var m = new SoftCpuMachine(64, a =>
        {
            var loop = a.CreateLabel();
            a.mov(ecx, 4);
            a.mov(rbx, routine);
            a.Label(ref loop);
            a.call(rbx);
            a.dec(ecx);
            a.jnz(loop);
            a.hlt();
        });
        m.Memory.Write(routine, [0x90, 0x90, 0xC3]); // nop; nop; ret
        IPageLog log = m.Cpu;
        log.Enabled = true;
        Assert.Equal(ProcessorExitKind.InstructionLimit, m.Cpu.Run(9));
        var code = SoftCpuMachine.CodeBase;
        Assert.Equal([code, code + 0x1000], log.Take().Executed);
        Assert.Equal(ProcessorExitKind.Halt, m.Cpu.Run());
        Assert.Equal([code, code + 0x1000], log.Take().Executed);
        // Nothing ran since.
        Assert.Empty(log.Take().Executed);
    }

    public static TheoryData<string, bool> Programs => new()
    {
        { "stores and strings", true }, { "calls and pushes", true }, { "interrupt to ring 0", true }, { "page crossing", true },
        { "stores and strings", false }, { "calls and pushes", false }, { "interrupt to ring 0", false }, { "page crossing", false },
    };

    [Theory]
    [MemberData(nameof(Programs))]
    public void EveryPageAWatchSeesAccessedIsInTheCollection(string program, bool writes)
    {
        // The same program twice from the same start: once with every page of RAM watched for
        // writes (or reads), the pages of every hit noted; once with the log on and nothing watched.
        var seen = new SortedSet<ulong>();
        using (var watched = Build(program))
        {
            watched.Cpu.SetWatches([new DataWatch(0, 2 << 20, writes ? WatchAccess.Write : WatchAccess.Read)]);
            ProcessorExitKind kind;
            while ((kind = watched.Cpu.Run(watched.Cpu.InstructionCount + 10_000)) == ProcessorExitKind.Watchpoint)
            {
                var hit = watched.Cpu.LastWatchHit;
                seen.Add(hit.Linear & ~0xFFFUL);
                seen.Add((hit.Linear + (ulong)hit.Size - 1) & ~0xFFFUL);
            }
            Assert.Equal(ProcessorExitKind.Halt, kind);
        }
        using var logged = Build(program);
        IPageLog log = logged.Cpu;
        log.Enabled = true;
        Assert.Equal(ProcessorExitKind.Halt, logged.Cpu.Run(logged.Cpu.InstructionCount + 10_000));
        var taken = log.Take();
        var collected = writes ? taken.Written : taken.Read;
        Assert.True(seen.Count >= 2, $"{program}: only {seen.Count} pages {(writes ? "written" : "read")}");
        Assert.Empty(seen.Except(collected).Select(p => $"{p:x}"));
    }

    // The programs, each on a machine of the kind it needs; all end at HLT.
    private static SystemMachine Build(string program)
    {
        switch (program)
        {
            case "stores and strings":
                return new SystemMachine(StartMode.Long64, a =>
                {
                    a.mov(rbx, Data);
                    a.mov(__qword_ptr[rbx], rax);
                    a.mov(rdi, Data + 0x2ff0);
                    a.mov(ecx, 0x40);
                    a.mov(al, 0x5a);
                    a.rep.stosb();                      // into the next page too
                    a.mov(rsi, Data);
                    a.mov(rdi, Data + 0x5000);
                    a.mov(ecx, 16);
                    a.rep.movsq();
                    a.@lock.xadd(__dword_ptr[rbx + 0x7000], eax);
                    a.hlt();
                });
            case "calls and pushes":
                return new SystemMachine(StartMode.Protected32, a =>
                {
                    var f = a.CreateLabel();
                    a.mov(esp, 0x60008u);               // pushad crosses into the page below
                    a.call(f);
                    a.pushad();
                    a.pushfd();
                    a.popfd();
                    a.popad();                          // reads back across the two pages
                    a.hlt();
                    a.Label(ref f);
                    a.push(0x1234);
                    a.pop(eax);
                    a.ret();
                });
            case "interrupt to ring 0":
                // A software interrupt from ring 3 through a user gate: its frame goes to the
                // ring-0 stack the TSS names, written by the engine's interrupt delivery.
                var m = new SystemMachine(StartMode.Protected32, a => ProtectedModeInterruptTests.ToRing3(a, User));
                m.SetGate32(0x80, Descriptors.Gate(SystemMachine.Code32, SystemMachine.Handler(0x80), 0xE, dpl: 3));
                m.Assemble(User, 32, a =>
                {
                    a.mov(__dword_ptr[(uint)SystemMachine.UserStackTop - 0x2000], 9);
                    a.@int(0x80);
                });
                return m;
            default:
                return new SystemMachine(StartMode.Protected32, a =>
                {
                    a.mov(ebx, (uint)(Data + 0xffe));
                    a.mov(__dword_ptr[ebx], 0x11223344); // half on each page
                    a.mov(__word_ptr[ebx + 0x2fff], 0x5566);
                    a.mov(ecx, __dword_ptr[ebx]);        // and read back
                    a.add(cx, __word_ptr[ebx + 0x2fff]);
                    a.hlt();
                });
        }
    }

    private const uint User = 0x30000;
}
