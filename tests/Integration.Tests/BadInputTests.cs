namespace VmReplay.Integration.Tests;

/// <summary>User mistakes end with one clear line on stderr, exit status 3 and no stack trace.</summary>
public sealed class BadInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("vmreplay-bad-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void AssertOneLineError(Vmreplay.Result r, string expected)
    {
        Assert.Equal(3, r.ExitCode);
        var lines = r.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line, got:\n{r.Stderr}");
        Assert.StartsWith("vmreplay: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("   at ", r.Stderr);
    }

    private string Hello => Vmreplay.Guest("hello", "hello.elf");

    [Fact]
    public void MissingKvmDevice() =>
        AssertOneLineError(Vmreplay.Run(["run", Hello, "--cpu", "kvm", "--kvm", Path.Combine(_dir, "no-kvm")]), "--cpu kvm: " + Path.Combine(_dir, "no-kvm") + " does not exist: this host has no KVM");

    [Fact]
    public void AutoRunsOnTheSoftwareCpuWhereKvmIsMissingAndSaysWhy()
    {
        var r = Vmreplay.Run(["run", Hello, "--serial-in", "/dev/null", "--kvm", Path.Combine(_dir, "no-kvm")], cpu: "auto");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("Hello from vmreplay guest!", r.Stdout);
        Assert.Equal($"soft (the software x86 CPU; KVM is not usable here: {Path.Combine(_dir, "no-kvm")} does not exist: this host has no KVM (load the kvm module, or enable nested virtualisation for this VM))", r.Cpu);
    }

    [Fact]
    public void AnUnknownBackendIsOneLine() =>
        AssertOneLineError(Vmreplay.Run(["run", Hello, "--cpu", "qemu"]), "--cpu qemu: use kvm, soft or auto");

    [Fact]
    public void MaxInstructionsStopsARunawayGuestWithAReport()
    {
        var r = Vmreplay.Run(["run", Vmreplay.Guest("timer", "timer.elf"), "--serial-in", "/dev/null", "--max-instructions", "5000"]);
        Assert.Equal(3, r.ExitCode);
        Assert.StartsWith("soft", r.Cpu);
        Assert.Matches(@"^vmreplay: the guest ran 5,000 instructions, the limit \(--max-instructions\); stopped at RIP [0-9a-f]+\n$", r.Stderr);
    }

    [Fact]
    public void KvmPathThatIsNotKvm()
    {
        string notKvm = Path.Combine(_dir, "not-kvm");
        File.WriteAllText(notKvm, "x");
        AssertOneLineError(Vmreplay.Run(["run", Hello, "--cpu", "kvm", "--kvm", notKvm]), $"{notKvm} is not a KVM device");
    }

    [Fact]
    public void MissingGuestFile() =>
        AssertOneLineError(Vmreplay.Run(["run", Path.Combine(_dir, "nope.elf")]), "no such guest image");

    [Fact]
    public void GuestPathIsADirectory() =>
        AssertOneLineError(Vmreplay.Run(["run", _dir]), "is a directory");

    [Fact]
    public void EmptyGuestFile()
    {
        string empty = Path.Combine(_dir, "empty.bin");
        File.WriteAllBytes(empty, []);
        AssertOneLineError(Vmreplay.Run(["run", empty]), "the file is empty");
    }

    [Fact]
    public void UnknownGuestFormat()
    {
        string junk = Path.Combine(_dir, "junk.bin");
        File.WriteAllBytes(junk, Enumerable.Range(0, 4000).Select(i => (byte)(i * 7)).ToArray());
        AssertOneLineError(Vmreplay.Run(["run", junk]), "unknown guest format");
    }

    [Fact]
    public void Elf32WithoutMultibootHeader()
    {
        string elf = Path.Combine(_dir, "plain32.elf");
        var bytes = new byte[128];
        bytes[0] = 0x7F; bytes[1] = (byte)'E'; bytes[2] = (byte)'L'; bytes[3] = (byte)'F'; bytes[4] = 1; bytes[5] = 1;
        File.WriteAllBytes(elf, bytes);
        AssertOneLineError(Vmreplay.Run(["run", elf]), "without a Multiboot header");
    }

    [Fact]
    public void GuestLargerThanGuestMemory()
    {
        // An ELF64 whose one segment needs 64 MiB at 1 MiB, run with 16 MiB of RAM.
        string elf = Path.Combine(_dir, "big.elf");
        File.WriteAllBytes(elf, Elf64WithSegment(paddr: 0x100000, fileSize: 16, memSize: 64UL << 20));
        AssertOneLineError(Vmreplay.Run(["run", elf, "--mem", "16M"]), "give more with --mem");
    }

    [Fact]
    public void BadMemorySize() =>
        AssertOneLineError(Vmreplay.Run(["run", Hello, "--mem", "lots"]), "--mem lots: not a size");

    [Fact]
    public void MissingSerialInputFile() =>
        AssertOneLineError(Vmreplay.Run(["run", Hello, "--serial-in", Path.Combine(_dir, "in.txt")]), "--serial-in");

    private static byte[] Elf64WithSegment(ulong paddr, ulong fileSize, ulong memSize)
    {
        var b = new byte[64 + 56 + (int)fileSize];
        var s = b.AsSpan();
        s[0] = 0x7F; s[1] = (byte)'E'; s[2] = (byte)'L'; s[3] = (byte)'F'; s[4] = 2; s[5] = 1; s[6] = 1;
        BitConverter.TryWriteBytes(s[16..], (ushort)2);      // ET_EXEC
        BitConverter.TryWriteBytes(s[18..], (ushort)62);     // x86-64
        BitConverter.TryWriteBytes(s[24..], paddr);          // entry
        BitConverter.TryWriteBytes(s[32..], 64UL);           // phoff
        BitConverter.TryWriteBytes(s[54..], (ushort)56);     // phentsize
        BitConverter.TryWriteBytes(s[56..], (ushort)1);      // phnum
        var ph = s[64..];
        BitConverter.TryWriteBytes(ph, 1u);                  // PT_LOAD
        BitConverter.TryWriteBytes(ph[8..], 120UL);          // offset
        BitConverter.TryWriteBytes(ph[16..], paddr);
        BitConverter.TryWriteBytes(ph[24..], paddr);
        BitConverter.TryWriteBytes(ph[32..], fileSize);
        BitConverter.TryWriteBytes(ph[40..], memSize);
        return b;
    }
}
