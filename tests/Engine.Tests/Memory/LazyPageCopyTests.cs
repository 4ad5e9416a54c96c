using Iced.Intel;
using VmReplay.Engine.Memory;
using VmReplay.Engine.SoftCpu;
using VmReplay.Engine.Tests.SoftCpu;
using static Iced.Intel.AssemblerRegisters;

namespace VmReplay.Engine.Tests.Memory;

/// <summary>
/// A copy of pages taken page by page (a snapshot's, on the software CPU): whoever writes a page
/// after the copy began, and however, the copy holds the page as it was when the copy began.
/// </summary>
public sealed class LazyPageCopyTests
{
    private const ulong Page = GuestMemory.PageSize;

    private static byte[] Pattern(byte seed) => Enumerable.Range(0, (int)Page).Select(i => (byte)(seed + i * 7)).ToArray();

    private static byte[] Expected(params byte[][] pages) => pages.SelectMany(p => p).ToArray();

    [Fact]
    public void WritesThroughGuestMemoryAfterTheCopyBeganDoNotReachTheCopy()
    {
        using var m = GuestMemory.CreatePcLayout(4UL << 20);
        ulong a = 0x20 * Page, b = 0x21 * Page, c = 0x40 * Page, other = 0x30 * Page;
        m.Write(a, Pattern(1));
        m.Write(b, Pattern(2));
        m.Write(c, Pattern(3));
        var copy = m.BeginLazyCopy([a, b, c]);

        m.Write(a + 100, new byte[50]);                 // inside one page
        m.Write(b - 8, Enumerable.Repeat((byte)0xEE, 16).ToArray()); // across a and b
        m.WriteUInt64(other, 42);                       // a page not in the copy
        m.Clear();                                      // all of RAM at once

        Assert.Equal(Expected(Pattern(1), Pattern(2), Pattern(3)), copy.Complete());
        Assert.Equal(0ul, m.ReadUInt64(a));
        // Finished: later writes are not copied again.
        m.Write(c, Pattern(9));
        Assert.Equal(Expected(Pattern(1), Pattern(2), Pattern(3)), copy.Complete());
    }

    [Fact]
    public void RandomWritesToRandomPageSetsLeaveEveryCopiedPageAsItWas()
    {
        // Sets of pages sparse and dense, far apart and side by side, the first page of RAM and
        // its last among them; writes to pages in the set and beside it, some several times, some
        // across two pages: the copy holds each page as it was when the copy began.
        var random = new Random(2041);
        const int pagesOfRam = 1024;
        using var m = GuestMemory.CreatePcLayout(pagesOfRam * Page);
        for (int round = 0; round < 40; round++)
        {
            for (ulong page = 0; page < pagesOfRam; page += 1 + (ulong)random.Next(8))
                m.WriteUInt64(page * Page + (ulong)random.Next(512) * 8, (ulong)random.NextInt64());
            int every = 1 + random.Next(round % 2 == 0 ? 3 : 200);
            var pages = Enumerable.Range(0, pagesOfRam).Where(i => random.Next(every) == 0 || (round % 5 == 0 && i is 0 or pagesOfRam - 1))
                .Select(i => (ulong)i * Page).Distinct().Order().ToArray();
            var expected = pages.SelectMany(page => m.GetSpan(page, (int)Page).ToArray()).ToArray();
            var copy = m.BeginLazyCopy(pages);
            for (int w = 0; w < 300; w++)
            {
                ulong at = (ulong)random.Next(pagesOfRam) * Page + (ulong)random.Next((int)Page);
                var bytes = new byte[Math.Min(1 + random.Next(64), (int)(pagesOfRam * Page - at))];
                random.NextBytes(bytes);
                m.Write(at, bytes);
            }
            Assert.Equal(expected, copy.Complete());
        }
    }

    [Fact]
    public void StoresOfTheSoftwareCpuAfterTheCopyBeganDoNotReachTheCopy()
    {
        ulong p = 0x30000, q = 0x31000;
        using var machine = new SoftCpuMachine(64, a =>
        {
            a.mov(rax, 0x1111_1111_1111_1111);
            a.mov(__qword_ptr[p], rax);          // leaves a write translation for p cached
            a.@out(0x80, al);
            a.mov(rax, 0x2222_2222_2222_2222);
            a.mov(__qword_ptr[p + 8], rax);
            a.mov(__qword_ptr[q + 0xFFC], rax);  // across q and the page after it
            a.hlt();
        });
        machine.Memory.Write(q, Pattern(5));
        machine.Memory.Write(q + Page, Pattern(6));
        Assert.Equal(ProcessorExitKind.PortOut, machine.Cpu.Run(1000));

        var before = machine.Memory.GetSpan(p, (int)Page).ToArray();
        // As SoftMachine.CopyPagesLazily starts one.
        var copy = machine.Memory.BeginLazyCopy([p, q, q + Page]);
        machine.Cpu.FlushWriteTlb();
        Assert.Equal(ProcessorExitKind.Halt, machine.Cpu.Run(machine.Cpu.InstructionCount + 1000));

        Assert.Equal(0x2222_2222_2222_2222ul, machine.Memory.ReadUInt64(p + 8));
        Assert.Equal(Expected(before, Pattern(5), Pattern(6)), copy.Complete());
    }

    [Fact]
    public void ACopyCompletedOnAnotherThreadWhileTheGuestWritesHoldsTheStartingState()
    {
        using var m = GuestMemory.CreatePcLayout(4UL << 20);
        var pages = Enumerable.Range(0x100, 512).Select(i => (ulong)i * Page).ToArray();
        for (int round = 0; round < 20; round++)
        {
            foreach (ulong page in pages) m.WriteUInt64(page + 64, page ^ (ulong)round);
            var expected = pages.SelectMany(page => m.GetSpan(page, (int)Page).ToArray()).ToArray();
            var copy = m.BeginLazyCopy(pages);
            byte[]? copied = null;
            var writer = new Thread(() => copied = copy.Complete());
            writer.Start();
            // This side writes every page, from the end, while the other copies from the start.
            for (int i = pages.Length - 1; i >= 0; i--) m.WriteUInt64(pages[i] + 64, ulong.MaxValue);
            writer.Join();
            Assert.Equal(expected, copied);
        }
    }

    [Fact]
    public void DisposingTheMemoryFinishesACopyFirst()
    {
        var m = GuestMemory.CreatePcLayout(4UL << 20);
        m.Write(0x50000, Pattern(4));
        var copy = m.BeginLazyCopy([0x50000]);
        m.Dispose();
        Assert.Equal(Pattern(4), copy.Complete());
    }

    [Fact]
    public void PagesMustAscend() =>
        Assert.Throws<ArgumentException>(() =>
        {
            using var m = GuestMemory.CreatePcLayout(4UL << 20);
            m.BeginLazyCopy([2 * Page, Page]);
        });
}
