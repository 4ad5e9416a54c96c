using VmReplay.Engine.SoftCpu.Decoding;

namespace VmReplay.Engine.SoftCpu;

/// <summary>
/// The software CPU's process-wide tables: the handler of every instruction form
/// (<see cref="HandlerTable"/>, which each instruction family fills from its own file) and
/// Iced's decoder tables. Built on first use, they cost the vCPU thread about 18 ms of CPU before a
/// guest's first instruction, nearly as long as the 200,000 port writes of bench-exits take to run.
/// </summary>
public static class SoftCpuTables
{
    /// <summary>
    /// Starts building the tables on a thread of their own, for a command that is about to run
    /// a guest: the command line is read and the machine built meanwhile on another core, and a
    /// vCPU that needs the tables before they are done waits for them (the class initialisers'
    /// own lock). Nothing else changes; where the guest runs on KVM the tables go unused.
    /// </summary>
    /// <param name="first">
    /// Other work the command needs soon (a replay's JSON reader), done on that thread before the
    /// tables rather than on a third thread competing for the same cores; should it throw, the
    /// tables are left to the vCPU's first use.
    /// </param>
    public static void PrepareInBackground(Action? first = null) =>
        new Thread(() => Prepare(first)) { IsBackground = true, Name = "vmreplay soft CPU tables" }.Start();

    private static void Prepare(Action? first)
    {
        try
        {
            first?.Invoke();
            _ = HandlerTable.Instance;
            foreach (int bitness in (ReadOnlySpan<int>)[16, 32, 64])
                Iced.Intel.Decoder.Create(bitness, new Iced.Intel.ByteArrayCodeReader(new byte[16])).Decode();
        }
        // A table that cannot be built fails again where the vCPU first needs it, and is
        // reported there as the VMM fault it is: not here, on a thread that would end the process
        // (and so does whatever `first` made ready).
        catch (Exception) { }
    }
}
