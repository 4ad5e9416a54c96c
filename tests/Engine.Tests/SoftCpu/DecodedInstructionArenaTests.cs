using Iced.Intel;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.SoftCpu.Decoding;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// Decoded instructions live in a fixed-size arena; when it is full the processor forgets all its
/// code and decodes again, and the guest cannot tell.
/// </summary>
public class DecodedInstructionArenaTests
{
    [Fact]
    public unsafe void SlicesAreHandedOutInOrderUntilFullThenFromTheStartAfterReset()
    {
        var arena = new DecodedInstructionArena(chunkLength: 64, maxChunks: 2);
        var ops = new DecodedInstruction[40];
        for (int i = 0; i < ops.Length; i++) ops[i].Immediate = (ulong)i;
        var a = arena.TryStore(ops);
        var b = arena.TryStore(ops.AsSpan(0, 24));
        Assert.True(b == a + 40);
        // 40 more do not fit the first block's 64: the second begins.
        var c = arena.TryStore(ops);
        Assert.True(c != null && (c < a || c >= a + 64));
        Assert.Equal(39UL, c[39].Immediate);
        Assert.Equal(23UL, b[23].Immediate);
        Assert.True(arena.TryStore(ops) == null);
        arena.Reset();
        var d = arena.TryStore(ops.AsSpan(1));
        Assert.True(d == a);
        Assert.Equal(1UL, d[0].Immediate);
        Assert.Equal(1, arena.Resets);
    }

    [Fact]
    public void AGuestRunsTheSameWhenTheArenaKeepsFillingUp()
    {
        // 200 blocks of four instructions each, called in a loop five times: far more code than
        // a 2 x 64-instruction arena holds, so it is flushed again and again mid-loop.
        static void Program(Assembler a)
        {
            var blocks = Enumerable.Range(0, 200).Select(_ => a.CreateLabel()).ToArray();
            var loop = a.CreateLabel();
            var done = a.CreateLabel();
            a.xor(eax, eax);
            a.xor(ebx, ebx);
            a.mov(ecx, 5);
            a.Label(ref loop);
            for (int i = 0; i < blocks.Length; i++) a.call(blocks[i]);
            a.dec(ecx);
            a.jnz(loop);
            a.jmp(done);
            for (int i = 0; i < blocks.Length; i++)
            {
                a.Label(ref blocks[i]);
                a.add(eax, i * 7 + 1);
                a.xor(ebx, eax);
                a.rol(ebx, 3);
                a.ret();
            }
            a.Label(ref done);
            a.hlt();
        }

        using var plain = new SoftCpuMachine(32, Program);
        using var small = new SoftCpuMachine(32, Program);
        var arena = new DecodedInstructionArena(chunkLength: 64, maxChunks: 2);
        small.Cpu.DecodedInstructions = arena;
        Assert.Equal(ProcessorExitKind.Halt, plain.Run());
        Assert.Equal(ProcessorExitKind.Halt, small.Run());
        Assert.True(arena.Resets > 20, $"the arena was reset {arena.Resets} times");
        Assert.Equal(plain.Cpu.InstructionCount, small.Cpu.InstructionCount);
        var (p, s) = (plain.State().Regs, small.State().Regs);
        Assert.Equal((p.Rax, p.Rbx, p.Rcx, p.Rip), (s.Rax, s.Rbx, s.Rcx, s.Rip));
    }
}
