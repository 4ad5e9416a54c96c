using System.Buffers.Binary;
using System.Text;

namespace VmReplay.Engine.Tests.SoftCpu.Differential;

/// <summary>
/// Runs instructions on the host CPU (<see cref="HostCpu"/>, natively in 64-bit user mode) and on
/// the software CPU (<see cref="SoftCpuCaseRunner"/>) from the same state, and compares the
/// results: the host CPU is the reference for what an instruction does.
/// </summary>
/// <remarks>
/// How to write differential tests (integer, x87 or SSE):
/// <code>
/// using var runner = new DifferentialRunner();            // or one per test class (IClassFixture)
/// var values = new OperandValues(seed);                     // seeded: a failure names the seed
/// var cases = new List&lt;DifferentialCase&gt;();
/// for (int i = 0; i &lt; 200; i++)
///     cases.Add(DifferentialCase.Of(a =&gt; a.addps(xmm1, __xmmword_ptr[rbx + 16]))
///         .PointAt(Register.RBX, 0)                         // rbx = the data buffer
///         .Poke(16, values.Next(64)).Poke(24, values.Next(64))
///         .SetXmm(1, low, high).SetMxcsr(0x1F80)            // or WithFx(image =&gt; ...) for any FXSAVE byte
///         .Comparing(StateParts.Sse));                      // compare XMM and MXCSR too (X87 for ST0-7, FCW, FSW, FTW)
/// runner.AssertAgree(cases, seed);
/// </code>
/// A case starts from its general registers, flags (arithmetic flags and DF), the data buffer
/// (pseudo-random bytes from <see cref="DifferentialCase.DataSeed"/>, then pokes) and an FXSAVE
/// image (<see cref="DifferentialCase.Fx"/>: FCW/FSW/FTW at 0-4, MXCSR at 24, ST0-7 at 32, XMM0-15
/// at 160; <see cref="DifferentialCase.DefaultFx"/> is FNINIT's state). Which parts are compared is
/// <see cref="DifferentialCase.Compare"/>; flags the SDM leaves undefined for the instruction
/// go in <see cref="DifferentialCase.UndefinedFlags"/>. Memory operands point into the buffer at
/// <see cref="DifferentialLayout.DataAddress"/> (4 KiB, unmapped pages either side, so running off
/// it faults on both). Batches of thousands of cases take well under a second.
/// </remarks>
internal sealed class DifferentialRunner : IDisposable
{
    private readonly HostCpu _host = new();
    private readonly SoftCpuCaseRunner _soft = new();

    /// <summary>How many disagreements a failure message shows.</summary>
    public int ReportLimit { get; set; } = 12;

    /// <summary>Runs every case on both CPUs.</summary>
    public IReadOnlyList<DifferentialResult> Run(IReadOnlyList<DifferentialCase> cases)
    {
        var native = _host.Run(cases);
        var results = new DifferentialResult[cases.Count];
        for (int i = 0; i < cases.Count; i++)
        {
            var soft = _soft.Run(cases[i]);
            results[i] = new DifferentialResult(cases[i], native[i], soft, Difference(cases[i], native[i], soft));
        }
        return results;
    }

    /// <summary>Runs a case on the software CPU only (an encoding the host decodes differently, e.g. one of a feature the model does not offer).</summary>
    public InstructionOutcome RunSoftOnly(DifferentialCase c) => _soft.Run(c);

    /// <summary>
    /// Runs <paramref name="cases"/> and fails, listing the first disagreements (input, both
    /// outcomes, what differs) and <paramref name="seed"/>, if any case's outcomes differ.
    /// </summary>
    public void AssertAgree(IReadOnlyList<DifferentialCase> cases, int seed)
    {
        var results = Run(cases);
        var bad = results.Where(r => r.Difference is not null).ToList();
        if (bad.Count == 0) return;
        var sb = new StringBuilder();
        sb.AppendLine($"{bad.Count} of {results.Count} cases differ between the host CPU and the software CPU (seed {seed}; set {OperandValues.SeedVariable} to try another):");
        foreach (var r in bad.Take(ReportLimit)) sb.AppendLine(r.ToString());
        Assert.Fail(sb.ToString());
    }

    /// <summary>What differs between <paramref name="native"/> and <paramref name="soft"/> in what the case compares, or null.</summary>
    public static string? Difference(DifferentialCase c, InstructionOutcome native, InstructionOutcome soft)
    {
        if (native.Failure is not null) return "host: " + native.Failure;
        if (soft.Failure is not null) return "soft: " + soft.Failure;
        var diffs = new List<string>();
        var parts = c.Compare;
        if (parts.HasFlag(StateParts.Exception))
        {
            if (native.Exception != soft.Exception) diffs.Add($"exception {Show(native.Exception)} vs {Show(soft.Exception)}");
            // The kernel reports a #PF's error code with user-mode bits; the cases run at CPL 0 on the software CPU.
            else if (native.Exception == 14 && native.FaultAddress != soft.FaultAddress)
                diffs.Add($"#PF address {native.FaultAddress:x} vs {soft.FaultAddress:x}");
            else if (native.Exception is { } v and not 14 && native.ErrorCode != soft.ErrorCode)
                diffs.Add($"error code of {v}: {native.ErrorCode:x} vs {soft.ErrorCode:x}");
        }
        if (parts.HasFlag(StateParts.Registers))
        {
            for (int i = 0; i < 16; i++)
                if (native.Gpr[i] != soft.Gpr[i]) diffs.Add($"{InstructionOutcome.RegisterName(i)} {native.Gpr[i]:x} vs {soft.Gpr[i]:x}");
            if (native.Rip != soft.Rip) diffs.Add($"rip {native.Rip:x} vs {soft.Rip:x}");
        }
        if (parts.HasFlag(StateParts.Flags))
        {
            ulong mask = 0xCD5 & ~c.UndefinedFlags;
            if (((native.Flags ^ soft.Flags) & mask) != 0) diffs.Add($"flags {FlagNames(native.Flags & mask)} vs {FlagNames(soft.Flags & mask)}");
        }
        if (parts.HasFlag(StateParts.Memory))
        {
            int first = native.Data.AsSpan().CommonPrefixLength(soft.Data);
            if (first < native.Data.Length)
                diffs.Add($"memory from +{first:x}: {Hex(native.Data, first)} vs {Hex(soft.Data, first)}");
        }
        if ((parts & (StateParts.Xmm | StateParts.Mxcsr | StateParts.X87 | StateParts.X87Pointers)) != 0)
            CompareFx(parts, native.Fx ?? DifferentialCase.DefaultFx(), soft.Fx ?? DifferentialCase.DefaultFx(), diffs);
        return diffs.Count == 0 ? null : string.Join("; ", diffs);
    }

    private static void CompareFx(StateParts parts, byte[] native, byte[] soft, List<string> diffs)
    {
        void Range(string name, int offset, int length)
        {
            if (!native.AsSpan(offset, length).SequenceEqual(soft.AsSpan(offset, length)))
                diffs.Add($"{name} {Convert.ToHexString(native, offset, length)} vs {Convert.ToHexString(soft, offset, length)}");
        }
        if (parts.HasFlag(StateParts.Mxcsr)) Range("mxcsr", 24, 4);
        if (parts.HasFlag(StateParts.Xmm))
            for (int i = 0; i < 16; i++) Range($"xmm{i}", 160 + 16 * i, 16);
        if (parts.HasFlag(StateParts.X87))
        {
            Range("fcw", 0, 2);
            Range("fsw", 2, 2);
            Range("ftw", 4, 1);
            for (int i = 0; i < 8; i++) Range($"st{i}", 32 + 16 * i, 10);
        }
        if (parts.HasFlag(StateParts.X87Pointers))
        {
            Range("fop", 6, 2);
            Range("fip", 8, 8);
            Range("fdp", 16, 8);
        }
    }

    private static string Show(int? exception) => exception is { } v ? v.ToString() : "none";

    private static string Hex(byte[] data, int from) => Convert.ToHexString(data, from, Math.Min(16, data.Length - from)).ToLowerInvariant();

    /// <summary>The set flags among CF PF AF ZF SF DF OF, by name.</summary>
    public static string FlagNames(ulong flags)
    {
        var names = new List<string>();
        foreach (var (bit, name) in new[] { (0x1UL, "CF"), (0x4UL, "PF"), (0x10UL, "AF"), (0x40UL, "ZF"), (0x80UL, "SF"), (0x400UL, "DF"), (0x800UL, "OF") })
            if ((flags & bit) != 0) names.Add(name);
        return names.Count == 0 ? "{}" : "{" + string.Join(",", names) + "}";
    }

    public void Dispose()
    {
        _host.Dispose();
        _soft.Dispose();
    }
}

/// <summary>One case's outcomes on both CPUs, and what differs (null when they agree).</summary>
internal sealed record DifferentialResult(DifferentialCase Case, InstructionOutcome Native, InstructionOutcome Soft, string? Difference)
{
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"  {Case.Text}: {Difference}");
        sb.Append("    in:  ");
        for (int i = 0; i < 16; i++)
            if (Case.Gpr[i] != 0) sb.Append($"{InstructionOutcome.RegisterName(i)}={Case.Gpr[i]:x} ");
        sb.Append($"flags={DifferentialRunner.FlagNames(Case.Flags)} mem={Case.DataSeed:x}");
        foreach (var (offset, bytes) in Case.Pokes) sb.Append($" poke {offset:x}:{Convert.ToHexString(bytes).ToLowerInvariant()}");
        if (Case.UndefinedFlags != 0) sb.Append($" (undefined {DifferentialRunner.FlagNames(Case.UndefinedFlags)})");
        sb.AppendLine();
        sb.AppendLine($"    host: {Native}");
        sb.Append($"    soft: {Soft}");
        return sb.ToString();
    }
}
