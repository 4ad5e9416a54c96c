using VmReplay.Engine.SoftCpu;

namespace VmReplay.Engine.Tests.SoftCpu;

/// <summary>
/// Code that rewrites itself runs the new bytes: a store into decoded code drops the blocks read
/// from those bytes, also when the page holds data written elsewhere, and when the rewritten
/// bytes are the tail of an instruction that crosses into the next page.
/// </summary>
public class SelfModifyingCodeTests
{
    [Fact]
    public void AStoreIntoDecodedCodeChangesTheNextPassBesideDataWrittenOnTheSamePage()
    {
        using var m = new SoftCpuMachine(32, a => a.db(
        [
            0x31, 0xD2,                                                 // 10000: xor edx, edx
            0x31, 0xDB,                                                 // 10002: xor ebx, ebx
            0xB8, 0x01, 0x00, 0x00, 0x00,                               // 10004: mov eax, 1 (the immediate is rewritten)
            0x01, 0xC3,                                                 // 10009: add ebx, eax
            0xA3, 0x00, 0x08, 0x01, 0x00,                               // 1000b: mov [10800h], eax (data on the code's page)
            0x83, 0x05, 0x05, 0x00, 0x01, 0x00, 0x04,                   // 10010: add dword [10005h], 4
            0x42,                                                       // 10017: inc edx
            0x83, 0xFA, 0x03,                                           // 10018: cmp edx, 3
            0x72, 0xE7,                                                 // 1001b: jb 10004h
            0xF4,                                                       // 1001d: hlt
        ]));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        // The block at 10004h is decoded on the second pass and must be dropped for the third.
        Assert.Equal(1UL + 5 + 9, m.State().Regs.Rbx & 0xFFFF_FFFF);
        Assert.Equal(9u, m.Memory.ReadUInt32(0x10800));
        Assert.Equal(2 + 3 * 7 + 1, m.Cpu.InstructionCount);
    }

    [Fact]
    public void AStoreIntoTheTailOfAnInstructionCrossingAPageChangesTheNextPass()
    {
        // 10000: xor edx, edx; xor ebx, ebx; jmp 10ffdh
        var code = new List<byte> { 0x31, 0xD2, 0x31, 0xDB, 0xE9, 0xF4, 0x0F, 0x00, 0x00 };
        code.AddRange(Enumerable.Repeat((byte)0x90, 0xFFD - code.Count)); // nops, never run
        code.AddRange(
        [
            0xB8, 0x01, 0x00, 0x00, 0x00,                               // 10ffd: mov eax, 1 (bytes 2-3 of the immediate on the next page)
            0x01, 0xC3,                                                 // 11002: add ebx, eax
            0x80, 0x05, 0x00, 0x10, 0x01, 0x00, 0x01,                   // 11004: add byte [11000h], 1 (the immediate's third byte)
            0x42,                                                       // 1100b: inc edx
            0x83, 0xFA, 0x03,                                           // 1100c: cmp edx, 3
            0x0F, 0x82, 0xE8, 0xFF, 0xFF, 0xFF,                         // 1100f: jb 10ffdh
            0xF4,                                                       // 11015: hlt
        ]);
        using var m = new SoftCpuMachine(32, a => a.db(code.ToArray()));
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(1UL + 0x1_0001 + 0x2_0001, m.State().Regs.Rbx & 0xFFFF_FFFF);
        Assert.Equal(3 + 3 * 6 + 1, m.Cpu.InstructionCount);
    }

    [Theory]
    [InlineData(0x0UL, 0x40000)]      // exactly the 64 pages of one word of the code-page bitmap
    [InlineData(0x0UL, 0x100000)]     // 256 pages, the code's among them
    [InlineData(0x3000UL, 0x7D000)]   // starts and ends inside words: pages one by one at the edges
    [InlineData(0x10000UL, 0x1000)]   // the code's page alone
    public void AVmmWriteOverManyPagesDropsTheCodeDecodedFromAnyOfThem(ulong from, int length)
    {
        // The VMM rewrites RAM wholesale (a restore zeroes it, then puts pages back): words of the
        // code-page bitmap without code are passed in one step, the rest page by page.
        using var m = new SoftCpuMachine(32, a => a.db([0xB8, 0x01, 0x00, 0x00, 0x00, 0xF4])); // mov eax, 1; hlt
        var start = m.State();
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(1UL, m.State().Regs.Rax & 0xFFFF_FFFF);
        var bytes = new byte[length];
        m.Memory.Read(from, bytes);
        bytes[(int)(SoftCpuMachine.CodeBase + 1 - from)] = 7; // mov eax, 7
        m.Memory.Write(from, bytes);
        m.Cpu.LoadState(start);
        Assert.Equal(ProcessorExitKind.Halt, m.Run());
        Assert.Equal(7UL, m.State().Regs.Rax & 0xFFFF_FFFF);
    }
}
