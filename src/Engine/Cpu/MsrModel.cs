using VmReplay.Engine.Determinism;

namespace VmReplay.Engine.Cpu;

/// <summary>
/// The VMM's answer to every MSR access the vCPU does not answer itself (<see cref="ProcessorMsrs"/>,
/// the same set on KVM, through an MSR filter, and on the software CPU): the timing MSRs, a few
/// constants, and #GP for the rest. A read's value comes only from the engine clock or
/// constants, so it can be recorded and replayed.
/// </summary>
public sealed class MsrModel
{
    public const uint Tsc = 0x10;
    public const uint TscAdjust = 0x3B;
    public const uint Mperf = 0xE7;
    public const uint Aperf = 0xE8;
    public const uint TscDeadline = 0x6E0;
    public const uint TscAux = 0xC0000103;
    /// <summary>AMD's OS-visible workaround MSRs: a guest that sees an AMD vendor reads them without a fault handler.</summary>
    public const uint OsvwIdLength = 0xC0010140, OsvwStatus = 0xC0010141;

    /// <summary>The guest's TSC runs at 1 GHz of engine-clock time: one tick per nanosecond.</summary>
    public const long TscHz = 1_000_000_000;

    /// <summary>The MSRs whose values follow the engine clock.</summary>
    public static readonly uint[] ClockDerived = [Tsc, TscAdjust, Mperf, Aperf, TscDeadline, TscAux];

    private readonly IEngineClock _clock;
    private long _tscOffset;

    public MsrModel(IEngineClock clock) => _clock = clock;

    /// <summary>Answers a read; false means the guest gets #GP.</summary>
    public bool TryRead(uint index, out ulong value)
    {
        switch (index)
        {
            case Tsc:
            case Mperf:
            case Aperf:
                value = (ulong)(_clock.ReadNanoseconds() + _tscOffset);
                return true;
            case TscAdjust:
                value = (ulong)_tscOffset;
                return true;
            case OsvwIdLength:
            case OsvwStatus:
                value = 0; // no errata to work around, as KVM answers
                return true;
            default:
                value = 0;
                return false;
        }
    }

    /// <summary>Applies a write; false means the guest gets #GP.</summary>
    public bool TryWrite(uint index, ulong value)
    {
        switch (index)
        {
            case Tsc:
                _tscOffset = (long)value - _clock.ReadNanoseconds();
                return true;
            case TscAdjust:
                _tscOffset = (long)value;
                return true;
            case Mperf:
            case Aperf:
                return true;
            default:
                return false;
        }
    }

    /// <summary>The model's state for snapshots.</summary>
    public long TscOffset { get => _tscOffset; set => _tscOffset = value; }
}
