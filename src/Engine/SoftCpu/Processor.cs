using VmReplay.Engine.Memory;
using VmReplay.Engine.Vm;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// One x86-64 processor in software: it decodes guest code with Iced, caches decoded blocks by
/// address, executes every instruction itself and counts each one it retires. Everything the
/// guest does goes through it, so it stops exactly where it is told (an instruction count, an
/// address) and nothing it computes depends on the host: there is no time in here, only the
/// exits (port and MMIO accesses, timing MSRs and RDTSC, HLT) through which a VMM answers.
/// </summary>
/// <remarks>
/// The class is split by concern into partial files: <c>Processor.State</c> (registers, modes,
/// conversion to and from <see cref="Vm.VcpuState"/>), <c>Processor.Flags</c> (lazy arithmetic
/// flags), <c>Processor.Memory</c> (TLB, linear and physical access, dirty pages, self-modifying
/// code), <c>Processor.Execution</c> (the run loop and exits), <c>Processor.Faults</c>
/// (exception and interrupt delivery). Instruction semantics live in <c>Instructions/</c>, one
/// family per file, registered by Iced <see cref="Iced.Intel.Code"/> in <see cref="Decoding.HandlerTable"/>.
/// </remarks>
public sealed unsafe partial class Processor
{
    private readonly GuestMemory _memory;

    /// <summary>A processor over <paramref name="memory"/> in the state the CPU has after RESET (real mode at F000:FFF0).</summary>
    public Processor(GuestMemory memory, CpuidTable cpuid)
    {
        _memory = memory;
        Cpuid = cpuid;
        _memory.WriteObserver += OnVmmWrite;
        InitMemory();
        Reset();
    }

    /// <summary>The CPUID leaves this processor answers with.</summary>
    public CpuidTable Cpuid { get; }

    /// <summary>Guest RAM.</summary>
    public GuestMemory Memory => _memory;

    /// <summary>Instructions retired since the processor was created (or since the count was restored).</summary>
    public long InstructionCount { get; internal set; }

    /// <summary>
    /// Whether RDTSC asks the VMM (an exit answered from the engine clock, which a recording
    /// logs). Off for a replay of a recording made on KVM, which never saw those exits: RDTSC
    /// then reads <see cref="LocalTsc"/>.
    /// </summary>
    public bool TscExits { get; set; } = true;

    /// <summary>The TSC the processor answers by itself: 10 per retired instruction, the virtual clock's rate.</summary>
    internal ulong LocalTsc => (ulong)InstructionCount * 10;
}
