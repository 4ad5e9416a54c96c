using VmReplay.Engine.Backend;

namespace VmReplay.Engine.Determinism;

/// <summary>
/// Engine time derived from the retired-instruction count, as QEMU's icount derives it: a
/// fixed number of nanoseconds per instruction, plus the time skipped while the guest halted
/// (a halt jumps to the next timer deadline). Nothing in it comes from the host, so a run is
/// the same every time and a recording needs to store no clock readings.
/// </summary>
public sealed class InstructionClock : IVirtualClock
{
    private IVcpuBackend? _vcpu;

    /// <param name="wallClockBase">The wall-clock time at engine time 0 (the RTC's base).</param>
    /// <param name="nanosecondsPerInstruction">Guest time per retired instruction: 10 makes a 100 MHz processor.</param>
    public InstructionClock(DateTime wallClockBase, long nanosecondsPerInstruction = DefaultNanosecondsPerInstruction)
    {
        if (nanosecondsPerInstruction < 1) throw new ArgumentOutOfRangeException(nameof(nanosecondsPerInstruction));
        WallClockBase = wallClockBase;
        NanosecondsPerInstruction = nanosecondsPerInstruction;
    }

    /// <summary>
    /// 10 ns: a 100 MHz processor, near the software CPU's own speed, so guest time passes about
    /// as fast as wall time. A guest that waits for time by spinning (a timer-driven loop, a PIT
    /// calibration) then retires a tenth of the instructions it would at QEMU's 1 ns
    /// (<c>-icount shift=0</c>); delays calibrated against the TSC are right either way, since
    /// the TSC follows the engine clock.
    /// </summary>
    public const long DefaultNanosecondsPerInstruction = 10;

    public DateTime WallClockBase { get; }

    /// <summary>Where a virtual clock's wall-clock time (the RTC) starts: 2000-01-01 00:00:00 UTC, the same in every run.</summary>
    public static readonly DateTime WallClockEpoch = new(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    public long NanosecondsPerInstruction { get; }

    /// <summary>Guest time skipped while halted (part of the machine's state: a snapshot keeps it).</summary>
    public long IdleNanoseconds { get; set; }

    /// <summary>Binds the clock to the vCPU whose instructions it counts (it must count exactly).</summary>
    public void Attach(IVcpuBackend vcpu)
    {
        if (vcpu.InstructionsRetired is null) throw new InvalidOperationException("a virtual clock needs a backend that counts instructions (the software CPU)");
        _vcpu = vcpu;
    }

    private long Instructions => _vcpu?.InstructionsRetired ?? 0;

    public long ReadNanoseconds() => Instructions * NanosecondsPerInstruction + IdleNanoseconds;

    /// <summary>The retired-instruction count at which the clock reaches <paramref name="nanoseconds"/> (the first count at or after it).</summary>
    public long InstructionAt(long nanoseconds)
    {
        long active = nanoseconds - IdleNanoseconds;
        if (active <= 0) return 0;
        return (active + NanosecondsPerInstruction - 1) / NanosecondsPerInstruction;
    }

    /// <summary>A halt: time moves on to <paramref name="nanoseconds"/> with no instruction retired.</summary>
    public void SkipTo(long nanoseconds)
    {
        long now = ReadNanoseconds();
        if (nanoseconds > now) IdleNanoseconds += nanoseconds - now;
    }
}
