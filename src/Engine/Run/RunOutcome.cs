namespace VmReplay.Engine.Run;

/// <summary>How a run ended.</summary>
public enum RunOutcomeKind
{
    /// <summary>The guest wrote to the debug-exit port.</summary>
    DebugExit,
    /// <summary>An orderly power-off (ACPI/system event).</summary>
    PowerOff,
    /// <summary>The guest asked for a reset (i8042 0xFE, system event); vmreplay ends the VM.</summary>
    Reset,
    /// <summary>HLT with interrupts disabled, or enabled with nothing that could ever wake it.</summary>
    Halted,
    /// <summary>A triple fault (KVM_EXIT_SHUTDOWN).</summary>
    TripleFault,
    /// <summary>The VMM could not continue: an exit it cannot handle, an instruction nobody can emulate, a host fault.</summary>
    VmmError,
    /// <summary>Not an end: the run stopped where its owner asked (<see cref="VcpuRunner.PauseRequested"/>); Run continues it.</summary>
    Paused,
    /// <summary>
    /// Stopped from outside the guest (a recording's user pressed Ctrl-C, or the process was
    /// told to terminate) at a service point the recording logged, where a replay stops too
    /// (<see cref="IHostEvents.StopRequest"/>).
    /// </summary>
    Stopped = 7,
}

/// <summary>The end of a run: what happened, the process exit status it maps to, and a one-line description.</summary>
public sealed record RunOutcome(RunOutcomeKind Kind, int ExitStatus, string Message)
{
    /// <summary>QEMU isa-debug-exit semantics: writing v exits with (v &lt;&lt; 1) | 1.</summary>
    public static RunOutcome DebugExit(uint value) =>
        new(RunOutcomeKind.DebugExit, (int)(((value << 1) | 1) & 0xFF), $"guest wrote {value:x} to the debug-exit port");

    public static RunOutcome Error(string message) => new(RunOutcomeKind.VmmError, 3, message);

    /// <summary>A stop from outside by <paramref name="signal"/> (SIGINT, SIGTERM): the shell's status for a process that signal ended, 128 + its number.</summary>
    public static RunOutcome Stopped(string signal, int number, string how) => new(RunOutcomeKind.Stopped, 128 + number, $"stopped by {signal} ({how})");

    public static readonly RunOutcome Paused = new(RunOutcomeKind.Paused, 0, "paused where asked");
}
