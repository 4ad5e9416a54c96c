using VmReplay.Engine.Backend;
using VmReplay.Engine.Memory;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// A machine whose vCPUs are software processors: guest RAM, one <see cref="Processor"/> per
/// vCPU (vCPU 0 boots; the others wait, as application processors do without a local APIC to
/// start them) and the dirty-page log kept by the processors themselves.
/// </summary>
public sealed class SoftMachine : IMachineBackend
{
    private readonly SoftVcpu[] _vcpus;
    private readonly CpuidTable _cpuid;

    private SoftMachine(GuestMemory memory, CpuidTable cpuid, SoftVcpu[] vcpus, bool dirtyLogging)
    {
        Memory = memory;
        _cpuid = cpuid;
        _vcpus = vcpus;
        if (dirtyLogging)
            DirtyLog = new DirtyLog((region, bits) =>
            {
                foreach (var v in _vcpus) v.Cpu.TakeDirtyPages(region, bits);
            }, memory, seesEveryWrite: true);
    }

    public static SoftMachine Create(MachineBackendOptions options)
    {
        if (options.VcpuCount < 1 || options.VcpuCount > 64)
            throw new ArgumentException($"--vcpus must be between 1 and 64 (got {options.VcpuCount})");
        var memory = GuestMemory.CreatePcLayout(options.MemorySize);
        var cpuid = options.CpuModel is { } model ? CpuidTable.From(Overlay(model, options.CpuidSeen)) : SoftCpuModel.Build();
        var vcpus = new SoftVcpu[options.VcpuCount];
        for (int i = 0; i < vcpus.Length; i++) vcpus[i] = new SoftVcpu(i, new Processor(memory, cpuid) { TscExits = !options.TscUnrecorded, RefusedMsrsFault = !options.RefusedMsrsDoNotFault });
        return new SoftMachine(memory, cpuid, vcpus, options.DirtyLogging);
    }

    // The recorded model with each leaf the recorded guest read otherwise replaced by what it read.
    // Indexed loops: a copy or a foreach of the lists (arrays, from a trace's header) went through
    // the runtime's array adapters, generic code that every replay JIT-compiled (four methods).
    private static CpuidEntry[] Overlay(IReadOnlyList<CpuidEntry> model, IReadOnlyList<CpuidEntry>? seen)
    {
        var entries = new List<CpuidEntry>(model.Count + (seen?.Count ?? 0));
        for (int i = 0; i < model.Count; i++) entries.Add(model[i]);
        for (int i = 0; seen is not null && i < seen.Count; i++)
        {
            var s = seen[i];
            int at = entries.FindIndex(e => e.Function == s.Function && e.Index == s.Index);
            if (at >= 0) entries[at] = s;
            else entries.Add(s);
        }
        return entries.ToArray();
    }

    public CpuBackendKind Kind => CpuBackendKind.Soft;

    public GuestMemory Memory { get; }

    public DirtyLog? DirtyLog { get; }

    public IReadOnlyList<IVcpuBackend> Vcpus => _vcpus;

    /// <summary>The vCPUs as software processors.</summary>
    public IReadOnlyList<SoftVcpu> SoftVcpus => _vcpus;

    public IReadOnlyList<CpuidEntry> CpuModel => _cpuid.Entries;

    /// <summary>The software CPU answers CPUID from its own table: what the model says is what the guest sees.</summary>
    public string? CheckCpuModel() => null;

    public object? HostFacts => null;

    /// <summary>
    /// The processors see every write they make: the first to a page after their write
    /// translations are dropped goes through the page's dirty mark, which copies it first.
    /// </summary>
    public LazyPageCopy CopyPagesLazily(ulong[] pages)
    {
        var copy = Memory.BeginLazyCopy(pages);
        foreach (var v in _vcpus) v.Cpu.FlushWriteTlb();
        return copy;
    }

    public void Dispose() => Memory.Dispose();
}
