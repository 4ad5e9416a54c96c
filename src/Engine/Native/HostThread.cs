namespace VmReplay.Engine.Native;

/// <summary>Scheduling of the VMM's own helper threads on the host.</summary>
public static class HostThread
{
    /// <summary>
    /// Gives the calling thread a lower scheduling priority (nice <paramref name="nice"/>; Linux
    /// schedules each thread by its own nice value). A thread that only keeps up with the vCPU
    /// (compressing a trace) then yields a shared core to it, and still runs at full speed on an
    /// idle one. Best effort: a host that refuses leaves the thread as it was.
    /// </summary>
    public static void LowerPriority(int nice = 10)
    {
        nint tid = Libc.Syscall(Libc.SYS_gettid);
        if (tid > 0) Libc.SetPriority(Libc.PRIO_PROCESS, (uint)tid, nice);
    }
}
